// SPDX-License-Identifier: Apache-2.0
/* Agent configuration: defaults (docs/PROTOCOL.md §5.1-5.2), then /proc/cmdline `agent.*`
 * parameters, then environment overrides, then command-line flags.  A bad value never stops the
 * agent: it is reported and the default is kept. */
#pragma once

#include <stdbool.h>

#define DEFAULT_SERVER_ADDR "vsock://-1:1024"

struct agent_config {
	char server_addr[160];
	int log_level;
	unsigned log_vport;
	bool debug_console;
	unsigned debug_console_vport;
	unsigned hotplug_timeout_s;
	unsigned container_pipe_size;
	unsigned passfd_listener_port;
	bool trace;
	bool devmode;
	/* agent.allow_local_vsock: serve vsock peers other than the host (CID 2), e.g. a guest
	 * process on the loopback transport.  For in-guest tests only: any guest process,
	 * containers included, could then drive the agent. */
	bool allow_local_vsock;
	/* agent.test_crash: fault on purpose once serving, so a VM test can see that a crash of
	 * PID 1 powers off cleanly (tests/vm/faults.sh).  Tests only. */
	bool test_crash;
	bool cgroup_v2; /* systemd.unified_cgroup_hierarchy=1 or cgroup_no_v1=all */
};

void config_defaults(struct agent_config *c);
/* Parse a kernel command line.  Each problem is passed to report() (may be NULL) as a
 * sentence; returns the number of problems. */
int config_parse_cmdline(struct agent_config *c, const char *cmdline,
                         void (*report)(const char *msg, void *data), void *data);
/* KATA_AGENT_SERVER_ADDR, KATA_AGENT_LOG_LEVEL.  Same reporting. */
int config_parse_env(struct agent_config *c, void (*report)(const char *msg, void *data),
                     void *data);

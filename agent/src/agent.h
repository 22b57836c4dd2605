// SPDX-License-Identifier: Apache-2.0
/* Process-wide agent state.  One instance; the loop is single-threaded, so no locking. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "loop.h"
#include "ttrpc.h"

struct agent {
	struct loop *loop;
	struct ttrpc_server *srv;
	struct agent_config cfg;
	bool init_mode;              /* running as PID 1 */
	unsigned long long start_ns; /* monotonic time at main() entry */
};

extern struct agent agent;

/* Version strings reported by Health.Version and GetGuestDetails. */
#define AGENT_GRPC_VERSION "0.0.1"
extern const char agent_version[];

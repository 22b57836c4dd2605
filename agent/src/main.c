// SPDX-License-Identifier: Apache-2.0
/* kata-agent: entry point.  Reads the configuration, becomes init when PID 1, and serves the
 * Kata agent API on one event loop until DestroySandbox (or a signal, when not PID 1). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "agent.h"
#include "debug_console.h"
#include "init.h"
#include "log.h"
#include "logport.h"
#include "passfd.h"
#include "rpc.h"
#include "rpc_network.h"
#include "sandbox.h"
#include "uevent.h"
#include <sys/prctl.h>

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: kata-agent [OPTIONS]\n"
	    "  --server-addr URI    listen address (vsock://CID:PORT, unix://PATH, @ = abstract)\n"
	    "  --log-level LEVEL    critical|error|warn|info|debug|trace\n"
	    "  --cmdline-file FILE  read agent.* parameters from FILE instead of /proc/cmdline\n"
	    "  --list-rpcs          print every RPC of the API and whether it is provided\n"
	    "  --version            print the version\n"
	    "Environment: KATA_AGENT_SERVER_ADDR, KATA_AGENT_LOG_LEVEL; for host testing\n"
	    "  KATA_AGENT_LOG_ADDR and KATA_AGENT_DEBUG_CONSOLE_ADDR (an address as above)\n"
	    "  replace the vsock ports of agent.log_vport and agent.debug_console_vport;\n"
	    "  KATA_AGENT_FALLBACK_ADDR replaces the default address the agent falls back to\n"
	    "  when it cannot listen on the configured one.\n");
}

static void report_config(const char *msg, void *data)
{
	log_warn("config", "%s", msg);
}

static void list_rpcs(void)
{
	for (size_t i = 0; i < rpc_table_len; i++)
		printf("%s/%s %s\n", rpc_table[i].service, rpc_table[i].method,
		       rpc_table[i].fn ? "implemented" : "unimplemented");
}

enum { OPT_SERVER_ADDR = 256, OPT_LOG_LEVEL, OPT_CMDLINE, OPT_LIST, OPT_VERSION, OPT_HELP };

static int parse_args(int argc, char **argv, const char **ret_cmdline_file)
{
	static const struct option opts[] = {
	    {"server-addr", required_argument, NULL, OPT_SERVER_ADDR},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"cmdline-file", required_argument, NULL, OPT_CMDLINE},
	    {"list-rpcs", no_argument, NULL, OPT_LIST},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, OPT_HELP},
	    {0},
	};
	const char *server = NULL, *level = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER_ADDR:
			server = optarg;
			break;
		case OPT_LOG_LEVEL:
			level = optarg;
			break;
		case OPT_CMDLINE:
			*ret_cmdline_file = optarg;
			break;
		case OPT_LIST:
			list_rpcs();
			exit(0);
		case OPT_VERSION:
			printf("kata-agent %s (kata-agent-c, API %s)\n", agent_version,
			       AGENT_GRPC_VERSION);
			exit(0);
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			/* PID 1 never exits over a bad argument; anyone else gets told. */
			if (agent.init_mode)
				break;
			usage(stderr);
			exit(2);
		}
	}
	/* Stash CLI overrides; they are applied after cmdline and environment. */
	if (server) {
		if (strlen(server) >= sizeof(agent.cfg.server_addr)) {
			fprintf(stderr, "kata-agent: --server-addr too long\n");
			if (!agent.init_mode)
				exit(2);
		} else {
			setenv("KATA_AGENT_SERVER_ADDR", server, 1);
		}
	}
	if (level)
		setenv("KATA_AGENT_LOG_LEVEL", level, 1);
	return 0;
}

static void load_config(const char *cmdline_file)
{
	config_defaults(&agent.cfg);
	_cleanup_free_ char *cmdline = NULL;
	const char *path = cmdline_file ? cmdline_file : "/proc/cmdline";
	int r = read_file(path, 64 << 10, &cmdline);
	if (r < 0)
		log_warn("config", "reading %s: %s; using defaults", path, strerror(-r));
	else
		config_parse_cmdline(&agent.cfg, cmdline, report_config, NULL);
	config_parse_env(&agent.cfg, report_config, NULL);
	log_set_level(agent.cfg.log_level);
}

static void on_signal(struct loop *l, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			init_reap_children();
			break;
		case SIGTERM:
		case SIGINT:
			if (agent.init_mode) {
				log_info("signals", "ignoring signal %u as PID 1", si.ssi_signo);
				break;
			}
			log_info("signals", "signal %u: exiting", si.ssi_signo);
			loop_quit(l, 0);
			break;
		default:
			break;
		}
	}
}

static int setup_signals(int *ret_fd)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

/* For host tests, where vsock may be missing: the address the agent falls back to when it cannot
 * listen on the configured one (default DEFAULT_SERVER_ADDR). */
#define FALLBACK_ADDR_ENV "KATA_AGENT_FALLBACK_ADDR"

static int listen_on(const char *uri, char *text, size_t text_size, int *ret_fd)
{
	struct addr a;
	const char *err = NULL;
	if (addr_parse(uri, &a, &err) < 0) {
		snprintf(text, text_size, "%s", uri);
		log_error("config", "server address '%s': %s", uri, err);
		return -EINVAL;
	}
	addr_format(&a, text, text_size);
	int r = addr_listen(&a, 128, ret_fd);
	if (r < 0)
		log_error("ttrpc", "listen on %s: %s", text, strerror(-r));
	return r;
}

/* A server address the agent cannot use (bad syntax, a directory that does not exist, a port in
 * use) must not take the guest down: log it and serve on the default address instead. */
static int start_server(void)
{
	char text[200];
	int fd, r = listen_on(agent.cfg.server_addr, text, sizeof(text), &fd);
	if (r < 0) {
		const char *fallback = getenv(FALLBACK_ADDR_ENV);
		if (!fallback || !*fallback)
			fallback = DEFAULT_SERVER_ADDR;
		log_warn("config", "cannot serve on '%s' (%s); falling back to %s",
		         agent.cfg.server_addr, strerror(-r), fallback);
		r = listen_on(fallback, text, sizeof(text), &fd);
		if (r < 0)
			return r;
	}
	r = ttrpc_server_add_listener(agent.srv, fd);
	if (r < 0)
		return r;
	log_info("ttrpc", "listening on %s", text);
	log_debug("ttrpc", "listening %.3f ms after start",
	          (double)(now_ns() - agent.start_ns) / 1e6);
	return 0;
}

/* agent.test_crash: a real fault (a store to an unmapped page), which the kernel delivers even
 * to PID 1; an address from a volatile, so the compiler cannot see it. */
static void raise_fault(void)
{
	static volatile uintptr_t bad = 16;
	*(volatile int *)bad = 1;
}

/* Lives until exit; kept here so that LeakSanitizer (kata-agent-san) sees it referenced. */
static struct loop_watch *signal_watch;

/* Start-up phases, CLOCK_MONOTONIC ns, for the boot breakdown of tests/bench/vm/vm-bench.sh. */
enum { PH_MOUNTS, PH_CONFIG, PH_LOOP, PH_LISTEN, PH_UEVENT, PH_N };

static double ms_since_start(unsigned long long t)
{
	return (double)(t - agent.start_ns) / 1e6;
}

/* One line, so a debug log costs the boot one console write: where /init started on the guest's
 * clock (the kernel's share: unpacking the initramfs, drivers) and each phase since then. */
static void log_startup(const unsigned long long ph[PH_N])
{
	log_debug("agent",
	          "startup: /init at %.3f ms of guest uptime; after start: mounts %.3f, "
	          "config %.3f, loop %.3f, listening %.3f, uevent scan %.3f, serving %.3f ms",
	          (double)agent.start_ns / 1e6, ms_since_start(ph[PH_MOUNTS]),
	          ms_since_start(ph[PH_CONFIG]), ms_since_start(ph[PH_LOOP]),
	          ms_since_start(ph[PH_LISTEN]), ms_since_start(ph[PH_UEVENT]),
	          ms_since_start(now_ns()));
}

/*
 * PID 1's slow start-up work (init_late: the cgroup mounts, about a dozen, then hostname and lo;
 * then the uevent listener and its /sys scan) is not needed to answer grpc.Health, the runtime's
 * "is the agent up" probe, so it runs after the loop starts, at the first of: before any call
 * outside grpc.Health is handled (nothing else is ever served without it), right after the first
 * grpc.Health answer went out, or LATE_SETUP_DELAY_MS after serving began when no call came.
 */
#define LATE_SETUP_DELAY_MS 1000ull

static struct {
	bool pending;
	struct loop_defer defer;
	struct loop_timer timer;
} late;

/* The uevent listener and its scan of /sys (what device waits need): PID 1 starts them with the
 * late set-up, which every call outside grpc.Health waits for; a host agent at once. */
static void start_uevents(void)
{
	int r = uevent_start(agent.loop);
	if (r < 0)
		log_warn("uevent", "no uevent listener (%s): device waits will time out",
		         strerror(-r));
}

static void late_setup(const char *when)
{
	if (!late.pending)
		return;
	late.pending = false;
	loop_defer_cancel(&late.defer);
	loop_timer_cancel(&late.timer);
	unsigned long long t0 = now_ns();
	init_late(&agent.cfg);
	start_uevents();
	unsigned long long t1 = now_ns();
	log_debug("agent",
	          "late set-up (cgroups, hostname, lo) and uevents %s: done %.3f ms after start, "
	          "took %.3f ms",
	          when, ms_since_start(t1), (double)(t1 - t0) / 1e6);
}

static void late_before_call(void)
{
	late_setup("before the first call outside grpc.Health");
}

static void late_on_defer(struct loop *l, struct loop_defer *d)
{
	late_setup("after the first grpc.Health answer");
}

/* Deferred after the call's reply: the loop sends queued replies first (ttrpc's flush is
 * deferred too, and was queued earlier). */
static void late_after_health(void)
{
	if (late.pending)
		loop_defer(agent.loop, &late.defer);
}

static void late_on_timer(struct loop *l, struct loop_timer *t)
{
	late_setup("with no call yet");
}

static const struct rpc_hooks late_hooks = {
    .before_call = late_before_call,
    .after_health = late_after_health,
};

static void late_arm(void)
{
	late.pending = true;
	late.defer = (struct loop_defer){.cb = late_on_defer};
	late.timer = (struct loop_timer){.cb = late_on_timer};
	loop_timer_arm(agent.loop, &late.timer, now_ns() + LATE_SETUP_DELAY_MS * 1000000ull);
}

int main(int argc, char **argv)
{
	agent.start_ns = now_ns();
	agent.init_mode = getpid() == 1;
	const char *cmdline_file = NULL;
	unsigned long long ph[PH_N];

	parse_args(argc, argv, &cmdline_file);
	if (agent.init_mode) {
		init_fatal_signals();
		init_early();
	}
	ph[PH_MOUNTS] = now_ns();
	load_config(cmdline_file);
	logport_capture(&agent.cfg);
	ph[PH_CONFIG] = now_ns();

	int r, sigfd = -1;
	struct ttrpc_limits lim = ttrpc_default_limits;
	lim.allow_local_vsock = agent.cfg.allow_local_vsock;
	if ((r = loop_new(&agent.loop)) < 0 ||
	    (r = ttrpc_server_new(agent.loop, &lim, rpc_dispatch, (void *)&late_hooks,
	                          &agent.srv)) < 0 ||
	    (r = setup_signals(&sigfd)) < 0 ||
	    (r = loop_add(agent.loop, sigfd, EPOLLIN, on_signal, NULL, &signal_watch)) < 0) {
		log_error("agent", "setting up the event loop: %s", strerror(-r));
		init_fatal("event loop setup failed");
		return 1;
	}
	/* Orphans of containers come to us, not to a PID 1 we do not control. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Reaped children go to the iptables helpers, the debug console, then process records. */
	init_on_child_exit(net_child_exited);
	init_on_child_exit(debug_console_child_exited);
	init_on_child_exit(rpc_container_child_exited);
	ph[PH_LOOP] = now_ns();
	/* Listen as early as possible: the runtime's "agent is up" is "port 1024 accepts"
	 * (docs/PROTOCOL.md §3.1).  Connections wait in the backlog until the loop runs, after the
	 * rest of the set-up below; none outside grpc.Health is served before the late set-up
	 * (cgroups, hostname, lo, and as PID 1 the uevent listener; late_setup above).
	 */
	if (start_server() < 0) {
		init_fatal("cannot listen");
		return 1;
	}
	ph[PH_LISTEN] = now_ns();
	logport_start(&agent.cfg);
	debug_console_start(&agent.cfg);
	passfd_start(&agent.cfg);
	log_info("agent", "kata-agent-c %s started (pid %d%s)", agent_version, (int)getpid(),
	         agent.init_mode ? ", init" : "");
	if (agent.cfg.test_crash) {
		log_warn("agent", "agent.test_crash: faulting on purpose");
		raise_fault();
	}
	if (agent.init_mode)
		late_arm();
	else
		start_uevents();
	ph[PH_UEVENT] = now_ns();
	log_startup(ph);
	r = loop_run(agent.loop);
	if (r < 0)
		log_error("agent", "event loop: %s", strerror(-r));
	ttrpc_server_free(agent.srv);
	if (agent.init_mode)
		init_poweroff();
	return r < 0 ? 1 : 0;
}

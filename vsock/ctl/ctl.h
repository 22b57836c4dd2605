/* kata-agent-ctl: helpers shared by its commands. */
#pragma once

#include <stdbool.h>

enum exit_code {
	EXIT_OK = 0,
	EXIT_RPC_ERROR = 1, /* the agent answered with a non-OK status (replay: a status differs) */
	EXIT_USAGE = 2,
	EXIT_TRANSPORT = 3, /* could not connect, timeout, broken stream */
};

/* "5s", "250ms", "2m", "1500us", plain number = seconds.  Returns nanoseconds or -1. */
long long ctl_parse_duration(const char *s);
/* Connect to an agent address (retrying for connect_timeout_ns); returns an exit code. */
int ctl_connect(const char *addr_s, long long connect_timeout_ns, int *ret_fd);

int cmd_proxy(int argc, char **argv);
int cmd_replay(int argc, char **argv, const char *addr);
int cmd_exec(int argc, char **argv, const char *addr, long long connect_timeout_ns);
int cmd_logs(int argc, char **argv, const char *addr, long long connect_timeout_ns);
int cmd_console(int argc, char **argv, const char *addr, long long connect_timeout_ns);

// SPDX-License-Identifier: Apache-2.0
/* The debug console (docs/PROTOCOL.md §5.1-5.2): with agent.debug_console and
 * agent.debug_console_vport=N the agent listens on vsock port N and gives every connection a
 * shell of its own (/bin/sh, else /bin/busybox sh) in a new session on a new pty.  Bytes are
 * shuttled between the connection and the pty master on the event loop through bounded
 * buffers.  The session ends when the shell exits (its last output is still delivered) or when
 * the peer goes (the shell is hung up).  A peer that only shuts down its sending side makes the
 * pty see an end-of-file character, so `printf 'cmd\n' | client` ends by itself.  Without a
 * shell binary the connection gets one line saying so and is closed.
 *
 * For host testing KATA_AGENT_DEBUG_CONSOLE_ADDR=ADDRESS (e.g. unix:///tmp/dbg.sock) replaces
 * the vsock port; agent.debug_console is still required. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "loop.h"

#define DEBUG_CONSOLE_ADDR_ENV     "KATA_AGENT_DEBUG_CONSOLE_ADDR"
#define DEBUG_CONSOLE_MAX_SESSIONS 8
#define DEBUG_CONSOLE_NO_SHELL_MSG "kata-agent-c: no shell in this guest (/bin/sh missing)\n"

/* Serve the debug console on addr_text from loop l. */
int debug_console_listen(struct loop *l, const char *addr_text);
/* Agent glue: listens on agent.loop when the configuration asks for it. */
void debug_console_start(const struct agent_config *cfg);
/* From the SIGCHLD reaper: true when pid was a debug console shell (now accounted for). */
bool debug_console_child_exited(pid_t pid, int wstatus);

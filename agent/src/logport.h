// SPDX-License-Identifier: Apache-2.0
/* The log port (docs/PROTOCOL.md §5.1, §6.4): with agent.log_vport=N the agent
 * listens on vsock port N and copies every log line to the first connection.  Lines logged
 * before anyone connects are kept (the newest LOGPORT_QUEUE_MAX bytes) and sent on connect;
 * writes never block the loop: a peer that reads too slowly loses the oldest queued lines, and
 * in their place it gets one JSON line saying "N lines dropped".  When the connection goes, the
 * next one takes its place.  Logs keep going to the console as well.
 *
 * For host testing the environment variable KATA_AGENT_LOG_ADDR=ADDRESS (any address
 * addr_parse() accepts, e.g. unix:///tmp/log.sock) overrides the vsock port and enables the
 * log port on its own. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "loop.h"

#define LOGPORT_ADDR_ENV  "KATA_AGENT_LOG_ADDR"
#define LOGPORT_QUEUE_MAX (64u << 10)

struct logport;

/* A queue of at most max_bytes of lines, not yet listening. */
int logport_new(size_t max_bytes, struct logport **ret);
/* Listen on addr_text and serve connections from loop l. */
int logport_listen(struct logport *lp, struct loop *l, const char *addr_text);
/* Queue one complete line (ending in '\n') and send what the connection takes now.  Never
 * logs (it runs as the log sink) and never blocks. */
void logport_push(struct logport *lp, const char *line, size_t len);
void logport_free(struct logport *lp);

/* For tests: queued bytes, lines dropped so far, whether a peer is connected. */
size_t logport_queued(const struct logport *lp);
unsigned long long logport_dropped(const struct logport *lp);
bool logport_connected(const struct logport *lp);

/* Agent glue.  logport_capture() installs the log sink as early as possible (right after the
 * configuration is read) when a log port is configured, so the first lines are kept;
 * logport_start() starts listening on agent.loop. */
void logport_capture(const struct agent_config *cfg);
void logport_start(const struct agent_config *cfg);
/* Stop copying logs and close the port (tests). */
void logport_stop(void);

// SPDX-License-Identifier: Apache-2.0
/* JSON-lines logging (docs/PROTOCOL.md §6.4): one object per line with msg,
 * level, ts, name, source, pid, subsystem. */
#pragma once

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LV_CRIT = 0,
	LV_ERROR,
	LV_WARN,
	LV_INFO,
	LV_DEBUG,
	LV_TRACE,
};

/* Parse a level name as the Rust agent accepts them (critical, fatal, panic, error, warn,
 * warning, info, debug, trace).  Returns the level or -EINVAL. */
int log_level_parse(const char *s);
const char *log_level_name(int level);

void log_set_level(int level);
int log_get_level(void);
/* Where lines go (default 2).  The fd is not owned. */
void log_set_fd(int fd);
/* Optional second sink, e.g. the log vsock port; called with one complete line. */
void log_set_sink(void (*sink)(const char *line, size_t len, void *data), void *data);

void log_msg(int level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(int level, const char *subsystem, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Format one record into buf (always NUL-terminated, truncated if needed; ends with '\n').
 * Exposed for tests.  Returns the line length. */
size_t log_format(char *buf, size_t size, int level, const char *subsystem, long long ts_ns,
                  int pid, const char *msg);

#define log_error(sub, ...) log_msg(LV_ERROR, sub, __VA_ARGS__)
#define log_warn(sub, ...)  log_msg(LV_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...)  log_msg(LV_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...) log_msg(LV_DEBUG, sub, __VA_ARGS__)

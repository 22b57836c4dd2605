// SPDX-License-Identifier: Apache-2.0
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int cur_level = LV_INFO;
static int log_fd = 2;
static void (*log_sink)(const char *, size_t, void *);
static void *log_sink_data;

static const struct {
	const char *name;
	int level;
} level_names[] = {
    {"critical", LV_CRIT}, {"fatal", LV_CRIT},  {"panic", LV_CRIT},
    {"error", LV_ERROR},   {"warn", LV_WARN},   {"warning", LV_WARN},
    {"info", LV_INFO},     {"debug", LV_DEBUG}, {"trace", LV_TRACE},
};

static const char *const level_out[] = {"critical", "error", "warning", "info", "debug", "trace"};

int log_level_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
		if (strcasecmp(s, level_names[i].name) == 0)
			return level_names[i].level;
	return -EINVAL;
}

const char *log_level_name(int level)
{
	if (level < 0 || level > LV_TRACE)
		return "unknown";
	return level_out[level];
}

void log_set_level(int level)
{
	cur_level = level;
}

int log_get_level(void)
{
	return cur_level;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

void log_set_sink(void (*sink)(const char *, size_t, void *), void *data)
{
	log_sink = sink;
	log_sink_data = data;
}

/* Append s JSON-escaped; stops silently when the buffer is full. */
static size_t put_escaped(char *buf, size_t pos, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	for (; *s && pos + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[pos++] = '\\';
			buf[pos++] = (char)c;
		} else if (c == '\n') {
			buf[pos++] = '\\';
			buf[pos++] = 'n';
		} else if (c == '\t') {
			buf[pos++] = '\\';
			buf[pos++] = 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(buf + pos, "\\u00", 4);
			buf[pos + 4] = hex[c >> 4];
			buf[pos + 5] = hex[c & 15];
			pos += 6;
		} else {
			buf[pos++] = (char)c;
		}
	}
	return pos;
}

static size_t put_raw(char *buf, size_t pos, size_t size, const char *s)
{
	size_t n = strlen(s);
	if (pos + n + 3 > size)
		n = size > pos + 3 ? size - pos - 3 : 0;
	memcpy(buf + pos, s, n);
	return pos + n;
}

size_t log_format(char *buf, size_t size, int level, const char *subsystem, long long ts_ns,
                  int pid, const char *msg)
{
	char ts[64], head[96];
	time_t secs = (time_t)(ts_ns / 1000000000ll);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + tl, sizeof(ts) - tl, ".%06lldZ", (ts_ns % 1000000000ll) / 1000);

	size_t pos = 0;
	pos = put_raw(buf, pos, size, "{\"msg\":\"");
	pos = put_escaped(buf, pos, size, msg);
	snprintf(head, sizeof(head), "\",\"level\":\"%s\",\"ts\":\"%s\",\"pid\":%d,",
	         log_level_name(level), ts, pid);
	pos = put_raw(buf, pos, size, head);
	pos = put_raw(buf, pos, size,
	              "\"name\":\"kata-agent\",\"source\":\"agent\",\"subsystem\":\"");
	pos = put_escaped(buf, pos, size, subsystem ? subsystem : "agent");
	pos = put_raw(buf, pos, size, "\"}");
	buf[pos++] = '\n';
	buf[pos] = '\0';
	return pos;
}

void log_vmsg(int level, const char *subsystem, const char *fmt, va_list ap)
{
	if (level > cur_level)
		return;
	int saved = errno;
	char msg[2048], line[4096];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	size_t n =
	    log_format(line, sizeof(line), level, subsystem,
	               (long long)now.tv_sec * 1000000000ll + now.tv_nsec, (int)getpid(), msg);
	/* Best effort: a console that went away must not take the agent with it. */
	if (write(log_fd, line, n) < 0) {
	}
	if (log_sink)
		log_sink(line, n, log_sink_data);
	errno = saved;
}

void log_msg(int level, const char *subsystem, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, subsystem, fmt, ap);
	va_end(ap);
}

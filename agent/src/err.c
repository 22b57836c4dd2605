// SPDX-License-Identifier: Apache-2.0
/* The agent's error object (err.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "util.h"

static const struct {
	int err;
	const char *name;
} errno_names[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {ESRCH, "ESRCH"},
    {EINTR, "EINTR"},
    {EIO, "EIO"},
    {ENXIO, "ENXIO"},
    {E2BIG, "E2BIG"},
    {ENOEXEC, "ENOEXEC"},
    {EBADF, "EBADF"},
    {ECHILD, "ECHILD"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},
    {EXDEV, "EXDEV"},
    {ENODEV, "ENODEV"},
    {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},
    {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},
    {ENOTTY, "ENOTTY"},
    {ETXTBSY, "ETXTBSY"},
    {EFBIG, "EFBIG"},
    {ENOSPC, "ENOSPC"},
    {EROFS, "EROFS"},
    {EMLINK, "EMLINK"},
    {EPIPE, "EPIPE"},
    {ERANGE, "ERANGE"},
    {ELOOP, "ELOOP"},
    {ENOSYS, "ENOSYS"},
    {ENOTSUP, "ENOTSUP"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ENAMETOOLONG, "ENAMETOOLONG"},
    {EOVERFLOW, "EOVERFLOW"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {ELIBBAD, "ELIBBAD"},
};

const char *err_errno_name(int err)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].err == err)
			return errno_names[i].name;
	return NULL;
}

static int record(struct agent_err *e, int code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

/* Append ": <strerror>" (named: ": ENAME (<strerror>)") when it fits whole. */
static void append_reason(struct agent_err *e, bool named)
{
	size_t n = strlen(e->msg);
	const char *name = named ? err_errno_name(-e->code) : NULL;
	if (named)
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s (%s)", name ? name : "error",
		         strerror(-e->code));
	else
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(-e->code));
}

int err_msg(struct agent_err *reterr, int code, const char *fmt, ...)
{
	if (!reterr)
		return code;
	va_list ap;
	va_start(ap, fmt);
	record(reterr, code, fmt, ap);
	va_end(ap);
	return code;
}

int err_sys(struct agent_err *reterr, int code, const char *fmt, ...)
{
	if (!reterr)
		return code;
	va_list ap;
	va_start(ap, fmt);
	record(reterr, code, fmt, ap);
	va_end(ap);
	append_reason(reterr, false);
	return code;
}

int err_set(struct agent_err *reterr, int code, const char *fmt, ...)
{
	if (!reterr)
		return code;
	va_list ap;
	va_start(ap, fmt);
	record(reterr, code, fmt, ap);
	va_end(ap);
	if (code != -EINVAL)
		append_reason(reterr, true);
	return code;
}

int err_wrap(struct agent_err *reterr, int code, const char *fmt, ...)
{
	if (!reterr)
		return code;
	if (code)
		reterr->code = code;
	char prev[sizeof(reterr->msg)];
	snprintf(prev, sizeof(prev), "%s", err_str(reterr));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reterr->msg, sizeof(reterr->msg), fmt, ap);
	va_end(ap);
	size_t n = strlen(reterr->msg);
	snprintf(reterr->msg + n, sizeof(reterr->msg) - n, ": %s", prev);
	return reterr->code;
}

int err_cat(char *buf, unsigned long size, const char *s)
{
	size_t len = strlen(buf), n = strlen(s);
	if (len + n + 1 > size) {
		size_t room = size - len - 1;
		memcpy(buf + len, s, room);
		buf[size - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(buf + len, s, n + 1);
	return 0;
}

int err_set_raw(struct agent_err *reterr, int code, const char *a, const char *b, const char *c)
{
	if (!reterr)
		return code;
	reterr->code = code;
	reterr->msg[0] = '\0';
	const char *parts[] = {a, b, c};
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++) {
		if (!parts[i])
			continue;
		if (reterr->msg[0])
			err_cat(reterr->msg, sizeof(reterr->msg), " ");
		err_cat(reterr->msg, sizeof(reterr->msg), parts[i]);
	}
	return code;
}

void err_clear(struct agent_err *reterr)
{
	if (reterr) {
		reterr->code = 0;
		reterr->msg[0] = '\0';
	}
}

const char *err_str(const struct agent_err *e)
{
	if (e->msg[0])
		return e->msg;
	return e->code ? strerror(-e->code) : "unknown error";
}

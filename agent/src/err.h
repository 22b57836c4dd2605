// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's one error object.  Functions that can fail return 0 (or a count) on success and a
 * negative errno on failure; when the caller needs to know why, the function also takes a
 * struct agent_err *reterr as its last parameter and fills it.  The object is fixed-size so a
 * forked child can fill it without allocating (err_set_raw) and send it over a pipe as it is.
 * A NULL reterr is allowed everywhere: the setters then only return the code.
 *
 * Callers add context with err_wrap() ("create container abc: " + the previous message); only
 * the RPC edge turns the object into a ttrpc status (rpc_fail_err in rpc.c).
 */
#pragma once

#define AGENT_ERR_MAX 512

struct agent_err {
	int code;                /* negative errno; 0 = no error recorded */
	char msg[AGENT_ERR_MAX]; /* one line, NUL-terminated; "" = none */
};

/* The message is fmt as given: the caller's sentence already says why. */
int err_msg(struct agent_err *reterr, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* fmt followed by ": " and strerror(-code): "open /x: No such file or directory". */
int err_sys(struct agent_err *reterr, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Validation failures (-EINVAL) keep fmt as given; any other code gets its name and text:
 * "read /x/etc/passwd: EACCES (Permission denied)". */
int err_set(struct agent_err *reterr, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix context to the recorded message: "ctx: " + previous message (or strerror(-code) when
 * nothing was recorded).  code replaces the recorded one when it is non-zero.  Returns the
 * object's code (code when reterr is NULL). */
int err_wrap(struct agent_err *reterr, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Async-signal-safe, for the child between fork and exec: the message is a, b and c joined by
 * spaces (NULL parts skipped), without printf or malloc.  code is a negative errno. */
int err_set_raw(struct agent_err *reterr, int code, const char *a, const char *b, const char *c);
/* Forget a recorded error. */
void err_clear(struct agent_err *reterr);
/* The message, or strerror(-code) when none was recorded. */
const char *err_str(const struct agent_err *e);
/* "ENOENT" for ENOENT (positive), NULL if the table does not know it. */
const char *err_errno_name(int err);
/* Append s to the NUL-terminated buf of size bytes without printf; -ENAMETOOLONG (buf holds a
 * truncated copy) when it does not fit. */
int err_cat(char *buf, unsigned long size, const char *s);

/* SPDX-License-Identifier: Apache-2.0 */
/* Small shared helpers for vhost-user-vsock: cleanup attributes, intrusive lists, logging,
 * little-endian accessors and the event-source type the epoll loop dispatches on. */
#ifndef VUV_UTIL_H
#define VUV_UTIL_H

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Cleanup attributes, TAKE_*, container_of, ARRAY_SIZE and the intrusive list are the
 * agent's (one definition for the project). */
#include "../../agent/src/util.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Logging goes to stderr; the level is global so tests can silence expected complaints. */
extern int vuv_log_level; /* 0 errors, 1 warnings, 2 info, 3 debug */
#define vuv_log(lvl, ...)                                                                          \
	do {                                                                                       \
		if ((lvl) <= vuv_log_level) {                                                      \
			fprintf(stderr, "vhost-user-vsock: " __VA_ARGS__);                         \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)
#define log_err(...)   vuv_log(0, __VA_ARGS__)
#define log_warn(...)  vuv_log(1, __VA_ARGS__)
#define log_info(...)  vuv_log(2, __VA_ARGS__)
#define log_debug(...) vuv_log(3, __VA_ARGS__)

/* Something registered with the epoll loop: epoll data.ptr points at one of these. */
struct ev_src {
	void (*fn)(struct ev_src *src, uint32_t events);
};

#endif

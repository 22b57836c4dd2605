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

#define ARRAY_SIZE(a)                   (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)                       ((a) < (b) ? (a) : (b))
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_  __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

static inline int take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
#define TAKE_FD(fd) take_fd(&(fd))
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

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

/* Intrusive doubly-linked list (circular, head is a sentinel). */
struct list {
	struct list *next, *prev;
};
static inline void list_init(struct list *l)
{
	l->next = l->prev = l;
}
static inline int list_empty(const struct list *l)
{
	return l->next == l;
}
static inline void list_add_tail(struct list *head, struct list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}
static inline void list_del_init(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}
#define list_for_each_safe(pos, tmp, head)                                                         \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                           \
	     (pos) = (tmp), (tmp) = (pos)->next)

/* Something registered with the epoll loop: epoll data.ptr points at one of these. */
struct ev_src {
	void (*fn)(struct ev_src *src, uint32_t events);
};

#endif

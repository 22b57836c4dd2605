// SPDX-License-Identifier: Apache-2.0
/* Small shared helpers: scope-based cleanup, ownership transfer, intrusive lists. */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* A NULL-accepting funcp() for cleanup attributes, from a destructor func(type *). */
#define DEFINE_CLEANUP_FUNC(type, func)                                                            \
	static inline void func##p(type **p)                                                       \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a scope guarded by a cleanup attribute. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _taken = (p);                                                        \
		(p) = NULL;                                                                        \
		_taken;                                                                            \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _taken = (fd);                                                                 \
		(fd) = -1;                                                                         \
		_taken;                                                                            \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Intrusive circular doubly linked list. */
struct list {
	struct list *prev, *next;
};

static inline void list_init(struct list *l)
{
	l->prev = l->next = l;
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

static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#define list_for_each(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
#define list_for_each_safe(pos, tmp, head)                                                         \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                           \
	     (pos) = (tmp), (tmp) = (pos)->next)

/* A malloc'ed growable byte buffer: [off, len) holds unconsumed data. */
struct buf {
	unsigned char *data;
	size_t off, len, cap;
};

int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *p, size_t n);
void buf_consume(struct buf *b, size_t n);
void buf_free(struct buf *b);

static inline size_t buf_used(const struct buf *b)
{
	return b->len - b->off;
}

/* Write all of p to fd (blocking fds only).  Returns 0 or -errno. */
int write_all(int fd, const void *p, size_t n);
/* Read a whole small file (at most max bytes) into a NUL-terminated string. */
int read_file(const char *path, size_t max, char **ret);
/* Write a string to a file (O_WRONLY|O_CLOEXEC, no create). */
int write_file(const char *path, const char *s);
/* mkdir -p: every missing component with mode.  Returns 0, -ENOTDIR when path exists as
 * something else, or -errno. */
int mkdir_all(const char *path, unsigned mode);
/* Monotonic time in nanoseconds. */
unsigned long long now_ns(void);
/* Milliseconds as nanoseconds (timer deadlines are in ns, limits are written in ms). */
static inline unsigned long long ms_to_ns(unsigned long long ms)
{
	return ms * 1000000ull;
}

/* Value of a hex digit, -1 if c is none. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* String vectors: NULL-terminated arrays of malloc'ed strings.  strv_free accepts NULL. */
void strv_free(char **v);
/* A copy of n strings (NULL entries become ""), with room for `extra` more; NULL on ENOMEM. */
char **strv_copy(char *const *src, size_t n, size_t extra);
/* Append a copy of s to the *n strings of *v, keeping the vector NULL-terminated. */
int strv_push(char ***v, size_t *n, const char *s);

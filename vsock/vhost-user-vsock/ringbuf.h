/* SPDX-License-Identifier: Apache-2.0 */
/* A fixed-capacity byte ring used to buffer one direction of a connection. */
#ifndef VUV_RINGBUF_H
#define VUV_RINGBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ringbuf {
	uint8_t *buf;
	size_t cap, head, len; /* data occupies [head, head+len) modulo cap */
};

int rb_init(struct ringbuf *rb, size_t cap);
void rb_free(struct ringbuf *rb);
static inline size_t rb_space(const struct ringbuf *rb)
{
	return rb->cap - rb->len;
}
/* Up to two iovecs describing the data (for writev) or the free space (for readv). */
unsigned rb_data_iov(const struct ringbuf *rb, struct iovec iov[2]);
unsigned rb_space_iov(const struct ringbuf *rb, struct iovec iov[2]);
void rb_produced(struct ringbuf *rb, size_t n);
void rb_consumed(struct ringbuf *rb, size_t n);
/* Copies from a flat buffer / iovecs into the ring; returns bytes taken (limited by space). */
size_t rb_put_iov(struct ringbuf *rb, const struct iovec *iov, unsigned n, size_t off, size_t len);
/* Copies out up to len bytes without consuming them. */
size_t rb_peek(const struct ringbuf *rb, void *dst, size_t len);

#endif

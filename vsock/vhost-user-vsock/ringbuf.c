// SPDX-License-Identifier: Apache-2.0
#include "ringbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "virtq.h"

int rb_init(struct ringbuf *rb, size_t cap)
{
	rb->buf = malloc(cap);
	if (!rb->buf)
		return -ENOMEM;
	rb->cap = cap;
	rb->head = rb->len = 0;
	return 0;
}

void rb_free(struct ringbuf *rb)
{
	free(rb->buf);
	memset(rb, 0, sizeof(*rb));
}

unsigned rb_data_iov(const struct ringbuf *rb, struct iovec iov[2])
{
	if (rb->len == 0)
		return 0;
	size_t first = MIN(rb->len, rb->cap - rb->head);
	iov[0] = (struct iovec){rb->buf + rb->head, first};
	if (first == rb->len)
		return 1;
	iov[1] = (struct iovec){rb->buf, rb->len - first};
	return 2;
}

unsigned rb_space_iov(const struct ringbuf *rb, struct iovec iov[2])
{
	size_t space = rb_space(rb);
	if (space == 0)
		return 0;
	size_t tail = (rb->head + rb->len) % rb->cap;
	size_t first = MIN(space, rb->cap - tail);
	iov[0] = (struct iovec){rb->buf + tail, first};
	if (first == space)
		return 1;
	iov[1] = (struct iovec){rb->buf, space - first};
	return 2;
}

void rb_produced(struct ringbuf *rb, size_t n)
{
	rb->len += n;
}

void rb_consumed(struct ringbuf *rb, size_t n)
{
	rb->head = (rb->head + n) % rb->cap;
	rb->len -= n;
	if (rb->len == 0)
		rb->head = 0;
}

size_t rb_put_iov(struct ringbuf *rb, const struct iovec *iov, unsigned n, size_t off, size_t len)
{
	struct iovec sp[2];
	unsigned ns = rb_space_iov(rb, sp);
	size_t done = 0;
	for (unsigned i = 0; i < ns && done < len; i++) {
		size_t c = MIN(sp[i].iov_len, len - done);
		c = iov_to_buf(iov, n, off + done, sp[i].iov_base, c);
		done += c;
	}
	rb_produced(rb, done);
	return done;
}

size_t rb_peek(const struct ringbuf *rb, void *dst, size_t len)
{
	struct iovec d[2];
	unsigned nd = rb_data_iov(rb, d);
	return iov_to_buf(d, nd, 0, dst, len);
}

#include "frame_relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ttrpc_frame.h"

#define RELAY_CHUNK (64u * 1024)
/* Less room than this left: grow by RELAY_CHUNK first.  Growing for every append of a few
 * bytes (a slow consumer, small reads) reallocated and copied the whole buffer each time. */
#define RELAY_MIN_ROOM (4u * 1024)

void relay_half_free(struct relay_half *h)
{
	free(h->buf);
	memset(h, 0, sizeof(*h));
}

/* Drop what the consumer took, so the buffer only holds unsent bytes. */
static void compact(struct relay_half *h)
{
	if (h->sent == 0)
		return;
	memmove(h->buf, h->buf + h->sent, h->len - h->sent);
	h->len -= h->sent;
	h->ready -= h->sent;
	h->sent = 0;
}

int relay_reserve(struct relay_half *h, uint8_t **ret_p, size_t *ret_n)
{
	/* need: the least capacity worth a read; want: what to grow to when that is missing, up
	 * to the current frame's end but at most twice what is held, so that memory follows the
	 * bytes that arrived rather than a length a header announces */
	size_t need = h->len + RELAY_MIN_ROOM, want = h->len + RELAY_CHUNK;
	if (!h->passthrough && h->len - h->ready >= TTRPC_HDR_LEN) {
		struct ttrpc_hdr hd;
		ttrpc_hdr_decode(h->buf + h->ready, &hd);
		/* commit() switched to passthrough for longer ones */
		size_t end = h->ready + TTRPC_HDR_LEN + hd.length, grown = 2 * h->len;
		if (end > want && grown > want)
			want = end < grown ? end : grown;
	}
	if (h->sent > 0 && h->len == h->sent) {
		h->len = h->ready = h->sent = 0;
		need = RELAY_MIN_ROOM;
		want = RELAY_CHUNK;
	} else if (h->sent >= h->cap / 2 || need > h->cap) {
		need -= h->sent;
		want -= h->sent;
		compact(h);
	}
	if (need > h->cap) {
		uint8_t *p = realloc(h->buf, want);
		if (!p)
			return -ENOMEM;
		h->buf = p;
		h->cap = want;
	}
	*ret_p = h->buf + h->len;
	*ret_n = h->cap - h->len;
	return 0;
}

void relay_commit(struct relay_half *h, size_t n, relay_cb cb, void *data)
{
	size_t start = h->len;
	h->len += n;
	if (h->passthrough) {
		if (n > 0)
			cb(data, RELAY_OVERSIZE, h->buf + start, n);
		h->ready = h->len;
		return;
	}
	while (h->len - h->ready >= TTRPC_HDR_LEN) {
		struct ttrpc_hdr hd;
		ttrpc_hdr_decode(h->buf + h->ready, &hd);
		if (hd.length > TTRPC_MAX_MSG) {
			h->passthrough = true;
			cb(data, RELAY_OVERSIZE, h->buf + h->ready, h->len - h->ready);
			h->ready = h->len;
			return;
		}
		size_t flen = TTRPC_HDR_LEN + (size_t)hd.length;
		if (h->len - h->ready < flen)
			return;
		cb(data, RELAY_FRAME, h->buf + h->ready, flen);
		h->ready += flen;
	}
}

int relay_append(struct relay_half *h, const uint8_t *p, size_t n, relay_cb cb, void *data)
{
	while (n > 0) {
		uint8_t *dst;
		size_t room;
		int r = relay_reserve(h, &dst, &room);
		if (r < 0)
			return r;
		size_t k = n < room ? n : room;
		memcpy(dst, p, k);
		relay_commit(h, k, cb, data);
		p += k;
		n -= k;
	}
	return 0;
}

void relay_finish(struct relay_half *h, relay_cb cb, void *data)
{
	if (h->len > h->ready) {
		cb(data, RELAY_INCOMPLETE, h->buf + h->ready, h->len - h->ready);
		h->ready = h->len;
	}
}

size_t relay_pending(const struct relay_half *h, const uint8_t **ret_p)
{
	*ret_p = h->buf ? h->buf + h->sent : NULL;
	return h->ready - h->sent;
}

void relay_consume(struct relay_half *h, size_t n)
{
	h->sent += n;
	if (h->sent == h->len)
		h->len = h->ready = h->sent = 0;
}

/* One direction of a byte stream that carries ttrpc frames, relayed frame by frame: bytes are
 * appended as they arrive, every complete frame is handed to a callback (for tracing) and then
 * becomes sendable, unchanged.  Used by the kata-agent-ctl proxy (which forwards the sendable
 * bytes) and by vhost-user-vsock --trace (which only observes them).
 *
 * Never alters traffic: the concatenation of everything made sendable is exactly what was
 * appended.  A header announcing more than TTRPC_MAX_MSG bytes cannot be a frame the agent
 * accepts; from then on the direction is a plain pipe (the callback sees each later chunk as
 * undecodable), so a hostile length never makes the relay buffer 4 GiB. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum relay_piece {
	RELAY_FRAME,      /* a complete frame: 10-byte header + body */
	RELAY_OVERSIZE,   /* bytes after a header with a length over TTRPC_MAX_MSG */
	RELAY_INCOMPLETE, /* a partial frame at end of stream */
};

typedef void (*relay_cb)(void *data, enum relay_piece kind, const uint8_t *p, size_t n);

struct relay_half {
	uint8_t *buf;
	size_t cap;
	size_t len;   /* bytes held */
	size_t ready; /* buf[0..ready) is made of complete frames (or passthrough bytes) */
	size_t sent;  /* buf[0..sent) was taken by the consumer */
	bool passthrough;
};

void relay_half_free(struct relay_half *h);
/* Room to append at least one byte (growing, as its bytes arrive, to hold the current frame:
 * at most TTRPC_HDR_LEN + TTRPC_MAX_MSG beyond what is sendable).  Returns 0 or -ENOMEM. */
int relay_reserve(struct relay_half *h, uint8_t **ret_p, size_t *ret_n);
/* n bytes were written at the reserved place: hand complete frames to cb. */
void relay_commit(struct relay_half *h, size_t n, relay_cb cb, void *data);
/* Append a copy of p (relay_reserve + relay_commit in a loop).  Returns 0 or -ENOMEM. */
int relay_append(struct relay_half *h, const uint8_t *p, size_t n, relay_cb cb, void *data);
/* End of stream: a partial frame still held becomes sendable (cb sees it as
 * RELAY_INCOMPLETE). */
void relay_finish(struct relay_half *h, relay_cb cb, void *data);
/* Sendable bytes not yet taken. */
size_t relay_pending(const struct relay_half *h, const uint8_t **ret_p);
void relay_consume(struct relay_half *h, size_t n);

// SPDX-License-Identifier: Apache-2.0
#include "vsock_trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_relay.h"
#include "ttrpc_trace.h"

struct vconn {
	unsigned id;
	uint32_t port;
	bool decode;
	struct relay_half half[2]; /* [0] to the guest (requests), [1] from the guest */
	unsigned long long bytes[2];
};

struct vtrace {
	FILE *out;
	struct tracer *tr;
	struct vconn **conns;
	size_t n, cap;
};

struct piece_ctx {
	struct vtrace *t;
	struct vconn *k;
	enum trace_dir dir;
};

static struct vconn *find(struct vtrace *t, unsigned id, size_t *ret_i)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->conns[i]->id == id) {
			if (ret_i)
				*ret_i = i;
			return t->conns[i];
		}
	return NULL;
}

static const char *port_name(uint32_t port)
{
	switch (port) {
	case VTRACE_AGENT_PORT:
		return "agent";
	case VTRACE_LOG_PORT:
		return "log";
	case VTRACE_CONSOLE_PORT:
		return "console";
	default:
		return "other";
	}
}

static void on_open(void *opaque, unsigned conn, uint32_t guest_port, bool host_initiated)
{
	struct vtrace *t = opaque;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct vconn **p = realloc(t->conns, cap * sizeof(*p));
		if (!p)
			return;
		t->conns = p;
		t->cap = cap;
	}
	struct vconn *k = calloc(1, sizeof(*k));
	if (!k)
		return;
	k->id = conn;
	k->port = guest_port;
	k->decode = host_initiated && guest_port == VTRACE_AGENT_PORT;
	/* Not ttrpc: observe bytes as they come, never wait for a "frame" to complete. */
	k->half[0].passthrough = k->half[1].passthrough = !k->decode;
	t->conns[t->n++] = k;
	char extra[96];
	snprintf(extra, sizeof(extra), "\"port\":%u,\"stream\":\"%s\",\"from\":\"%s\"", guest_port,
	         port_name(guest_port), host_initiated ? "host" : "guest");
	trace_event(t->tr, conn, "open", extra);
}

static void piece_cb(void *data, enum relay_piece kind, const uint8_t *p, size_t n)
{
	struct piece_ctx *c = data;
	if (c->k->decode)
		trace_piece(c->t->tr, c->k->id, c->dir, kind, p, n);
}

static void on_data(void *opaque, unsigned conn, bool to_guest, const struct iovec *iov, unsigned n,
                    size_t skip, size_t len)
{
	struct vtrace *t = opaque;
	struct vconn *k = find(t, conn, NULL);
	if (!k)
		return;
	int d = to_guest ? 0 : 1;
	k->bytes[d] += len;
	if (!k->decode) {
		char extra[96];
		snprintf(extra, sizeof(extra),
		         "\"port\":%u,\"stream\":\"%s\",\"dir\":\"%s\",\"len\":%zu", k->port,
		         port_name(k->port), to_guest ? "c2s" : "s2c", len);
		trace_event(t->tr, conn, "data", extra);
		return;
	}
	struct piece_ctx ctx = {t, k, to_guest ? TRACE_TO_AGENT : TRACE_FROM_AGENT};
	for (unsigned i = 0; i < n && len > 0; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t c = iov[i].iov_len - skip < len ? iov[i].iov_len - skip : len;
		if (relay_append(&k->half[d], (const uint8_t *)iov[i].iov_base + skip, c, piece_cb,
		                 &ctx) < 0)
			return;
		len -= c;
		skip = 0;
		/* only observing: nothing is forwarded from here */
		const uint8_t *p;
		relay_consume(&k->half[d], relay_pending(&k->half[d], &p));
	}
}

static void on_close(void *opaque, unsigned conn)
{
	struct vtrace *t = opaque;
	size_t i;
	struct vconn *k = find(t, conn, &i);
	if (!k)
		return;
	for (int d = 0; d < 2; d++) {
		struct piece_ctx ctx = {t, k, d == 0 ? TRACE_TO_AGENT : TRACE_FROM_AGENT};
		relay_finish(&k->half[d], piece_cb, &ctx);
		relay_half_free(&k->half[d]);
	}
	char extra[96];
	snprintf(extra, sizeof(extra), "\"port\":%u,\"c2s_bytes\":%llu,\"s2c_bytes\":%llu", k->port,
	         k->bytes[0], k->bytes[1]);
	trace_event(t->tr, conn, "close", extra);
	trace_conn_closed(t->tr, conn);
	free(k);
	t->conns[i] = t->conns[--t->n];
}

int vtrace_open(const char *path, struct vtrace **ret, struct vsc_observer *ret_obs)
{
	struct vtrace *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->out = fopen(path, "we");
	if (!t->out) {
		int r = -errno;
		free(t);
		return r;
	}
	/* A line at a time: tests read the trace while the back-end runs, and a back-end killed
	 * with SIGKILL (tests/vm/backend-restart.sh) leaves every event up to its last. */
	setvbuf(t->out, NULL, _IOLBF, 0);
	/* bytes fields in full: the trace of a test run is meant to be replayable */
	struct trace_opts o = {.out = t->out, .bytes_limit = 0};
	int r = tracer_new(&o, &t->tr);
	if (r < 0) {
		fclose(t->out);
		free(t);
		return r;
	}
	*ret_obs =
	    (struct vsc_observer){.open = on_open, .data = on_data, .close = on_close, .opaque = t};
	*ret = t;
	return 0;
}

void vtrace_close(struct vtrace *t, FILE *f)
{
	if (!t)
		return;
	while (t->n > 0)
		on_close(t, t->conns[0]->id);
	tracer_summary(t->tr, f);
	tracer_free(t->tr);
	free(t->conns);
	fclose(t->out);
	free(t);
}

// SPDX-License-Identifier: Apache-2.0
#include "ttrpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "addr.h"
#include "log.h"
#include "ttrpc.pb-c.h"

const struct ttrpc_limits ttrpc_default_limits = {
    .max_conns = 256,
    .max_calls_per_conn = 1024,
    .max_parked = 8192,
    .max_out_pending = 16u << 20,
};

struct listener {
	struct ttrpc_server *srv;
	int fd;
	struct loop_listen ll;
	struct list link;
};

/* Output room every request gets before its handler runs (see handle_request). */
#define TTRPC_REPLY_RESERVE 4096

struct ttrpc_conn {
	struct ttrpc_server *srv;
	int fd;
	struct loop_watch *w;
	uint32_t events;
	struct buf in, out;
	uint32_t discard; /* body bytes of an oversized frame still to skip */
	unsigned ncalls;
	struct list calls; /* struct ttrpc_call.link */
	struct list link;  /* on srv->conns */
	bool closed;
	bool hang_up;            /* out of memory for a reply: closed after this batch of events */
	bool in_event;           /* inside conn_event(): freeing is deferred to its end */
	struct loop_defer flush; /* replies queued this loop iteration go out in one send */
};

struct ttrpc_server {
	struct loop *loop;
	struct ttrpc_limits lim;
	ttrpc_dispatch_fn dispatch;
	void *data;
	struct list listeners, conns;
	unsigned nconns, nparked;
	/* shutdown */
	bool shutting_down;
	void (*done)(struct ttrpc_server *, void *);
	void *done_data;
	struct loop_timer shutdown_timer;
};

static void conn_close(struct ttrpc_conn *c);
static void conn_destroy(struct ttrpc_conn *c);
static void conn_update_events(struct ttrpc_conn *c);
static void check_shutdown_done(struct ttrpc_server *s);

/* ---- output ---- */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Returns -EPIPE when a send error closed the connection (outside conn_event, c is freed). */
static int conn_flush(struct ttrpc_conn *c)
{
	while (buf_used(&c->out) > 0) {
		ssize_t n = send(c->fd, c->out.data + c->out.off, buf_used(&c->out), MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_debug("ttrpc", "send on fd %d: %s", c->fd, strerror(errno));
			conn_close(c);
			return -EPIPE;
		}
		buf_consume(&c->out, (size_t)n);
	}
	/* Give memory back once a large burst (e.g. stdout chunks) has drained. */
	if (buf_used(&c->out) == 0 && c->out.cap > (256u << 10))
		buf_free(&c->out);
	conn_update_events(c);
	if (c->srv->shutting_down)
		check_shutdown_done(c->srv);
	return 0;
}

/*
 * Append one Response frame.  The envelope is assembled here rather than by protobuf-c so the
 * payload is packed once, straight into the output buffer: Response{1: Status, 2: payload}.
 * Status{code:0, message:""} encodes as "0a 00", as both upstream servers send.
 */
static int send_response(struct ttrpc_conn *c, uint32_t stream, int code, const char *msg,
                         const ProtobufCMessage *payload)
{
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	st.code = code;
	st.message = (char *)(msg ? msg : "");
	size_t st_len = ttrpc__status__get_packed_size(&st);
	size_t pl_len = payload ? protobuf_c_message_get_packed_size(payload) : 0;
	size_t total = 1 + varint_len(st_len) + st_len;
	if (pl_len > 0)
		total += 1 + varint_len(pl_len) + pl_len;
	if (total > TTRPC_MAX_MSG) {
		/* Same as ttrpc-rust: an oversized reply becomes an error reply. */
		log_warn("ttrpc", "response of %zu bytes on stream %u exceeds the limit", total,
		         stream);
		return send_response(c, stream, TTRPC_INVALID_ARGUMENT,
		                     "response exceeds the maximum message size of 4194304", NULL);
	}
	int r = buf_reserve(&c->out, TTRPC_HDR_LEN + total);
	if (r < 0)
		return r;
	uint8_t *p = c->out.data + c->out.len;
	struct ttrpc_hdr h = {
	    .length = (uint32_t)total, .stream_id = stream, .type = TTRPC_RESPONSE};
	ttrpc_hdr_encode(p, &h);
	p += TTRPC_HDR_LEN;
	*p++ = 0x0a;
	p += put_varint(p, st_len);
	p += ttrpc__status__pack(&st, p);
	if (pl_len > 0) {
		*p++ = 0x12;
		p += put_varint(p, pl_len);
		p += protobuf_c_message_pack(payload, p);
	}
	c->out.len += TTRPC_HDR_LEN + total;
	return 0;
}

static void deferred_flush(struct loop *l, struct loop_defer *d)
{
	struct ttrpc_conn *c = container_of(d, struct ttrpc_conn, flush);
	if (conn_flush(c) < 0)
		return;
	if (c->hang_up)
		conn_close(c); /* after what fitted went out */
}

/* Queue a response.  It is written after the current batch of events, together with every
 * other response that became ready meanwhile: one send(2) per connection and iteration. */
static void send_and_flush(struct ttrpc_conn *c, uint32_t stream, int code, const char *msg,
                           const ProtobufCMessage *payload)
{
	if (c->closed || c->hang_up)
		return;
	if (send_response(c, stream, code, msg, payload) < 0 &&
	    send_response(c, stream, TTRPC_RESOURCE_EXHAUSTED, "out of memory for the response",
	                  NULL) < 0) {
		/* Not even room for a short error: the peer would wait for ever, so hang up, but
		 * after this batch: a handler may be completing other calls of this connection
		 * before its own (RemoveContainer answers the reads it ends), and closing now would
		 * free the call it still holds. */
		log_error("ttrpc", "out of memory queueing a response; closing the connection");
		c->hang_up = true;
	}
	c->flush.cb = deferred_flush;
	loop_defer(c->srv->loop, &c->flush);
}

/* ---- decoding ---- */

/* protobuf-c returns NULL for malformed input and for a failed allocation alike; this allocator
 * tells them apart, so an out-of-memory request is not blamed on the peer.  It is malloc/free:
 * messages it unpacked are freed with the default allocator as usual. */
static void *pb_alloc(void *data, size_t n)
{
	void *p = malloc(n);
	if (!p)
		*(bool *)data = true;
	return p;
}

static void pb_free(void *data, void *p)
{
	free(p);
}

ProtobufCMessage *ttrpc_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
                               const uint8_t *data, bool *ret_oom)
{
	*ret_oom = false;
	ProtobufCAllocator a = {.alloc = pb_alloc, .free = pb_free, .allocator_data = ret_oom};
	return protobuf_c_message_unpack(desc, &a, len, data);
}

/* ---- calls ---- */

static void call_free(struct ttrpc_call *call)
{
	loop_timer_cancel(&call->timer);
	if (call->parked)
		call->srv->nparked--;
	if (call->conn) {
		list_del(&call->link);
		call->conn->ncalls--;
	}
	if (call->req)
		protobuf_c_message_free_unpacked(call->req, NULL);
	free(call);
}

static void call_complete(struct ttrpc_call *call, int code, const char *msg,
                          const ProtobufCMessage *resp)
{
	struct ttrpc_conn *c = call->conn;
	/* Pack the reply before the request is freed: replies may point into it. */
	if (c) {
		list_del(&call->link);
		c->ncalls--;
		call->conn = NULL;
		send_and_flush(c, call->stream_id, code, msg, resp);
	}
	call_free(call);
}

int ttrpc_reserve_reply(struct ttrpc_call *call, size_t payload_len)
{
	if (!call->conn)
		return 0;
	/* Header, Response{1: Status{}, 2: payload}: two tags, two varints, an empty status. */
	return buf_reserve(&call->conn->out, TTRPC_HDR_LEN + 2 + 2 * 10 + 2 + payload_len);
}

void ttrpc_reply(struct ttrpc_call *call, const ProtobufCMessage *resp)
{
	call_complete(call, TTRPC_OK, NULL, resp);
}

void ttrpc_fail(struct ttrpc_call *call, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("rpc", "%s failed: %s: %s", call->method ? call->method : "request",
	          ttrpc_code_name(code), msg);
	call_complete(call, code, msg, NULL);
}

static void call_deadline(struct loop *l, struct loop_timer *t)
{
	struct ttrpc_call *call = container_of(t, struct ttrpc_call, timer);
	if (call->cancel)
		call->cancel(call, call->cancel_data);
	ttrpc_fail(call, TTRPC_DEADLINE_EXCEEDED, "timeout");
}

int ttrpc_park(struct ttrpc_call *call, void (*cancel)(struct ttrpc_call *, void *), void *data)
{
	struct ttrpc_server *s = call->srv;
	if (s->nparked >= s->lim.max_parked) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "too many blocked requests (limit %u)",
		           s->lim.max_parked);
		return -EBUSY;
	}
	call->parked = true;
	call->cancel = cancel;
	call->cancel_data = data;
	s->nparked++;
	if (call->timeout_ns > 0) {
		call->timer.cb = call_deadline;
		loop_timer_arm(s->loop, &call->timer,
		               now_ns() + (unsigned long long)call->timeout_ns);
	}
	return 0;
}

static struct ttrpc_call *find_call(struct ttrpc_conn *c, uint32_t stream)
{
	struct list *p;
	list_for_each (p, &c->calls) {
		struct ttrpc_call *call = container_of(p, struct ttrpc_call, link);
		if (call->stream_id == stream)
			return call;
	}
	return NULL;
}

/* ---- input ---- */

static void handle_request(struct ttrpc_conn *c, const struct ttrpc_hdr *h, const uint8_t *body)
{
	uint32_t stream = h->stream_id;
	if (c->hang_up)
		return; /* no reply could be sent: do not act on it either */
	if (stream % 2 == 0) {
		send_and_flush(c, stream, TTRPC_INVALID_ARGUMENT,
		               "stream id must be odd for client initiated streams", NULL);
		return;
	}
	if (find_call(c, stream)) {
		send_and_flush(c, stream, TTRPC_INVALID_ARGUMENT, "stream id is already in use",
		               NULL);
		return;
	}
	if (h->flags & TTRPC_FLAG_REMOTE_OPEN) {
		/* No Kata RPC streams (docs/PROTOCOL.md §1.9). */
		send_and_flush(c, stream, TTRPC_INVALID_ARGUMENT,
		               "client streaming is not supported by any method", NULL);
		return;
	}
	bool oom;
	Ttrpc__Request *req =
	    (Ttrpc__Request *)ttrpc_unpack(&ttrpc__request__descriptor, h->length, body, &oom);
	if (!req && oom) {
		send_and_flush(c, stream, TTRPC_RESOURCE_EXHAUSTED,
		               "out of memory decoding the ttrpc.Request", NULL);
		return;
	}
	if (!req) {
		send_and_flush(c, stream, TTRPC_INVALID_ARGUMENT,
		               "unmarshal request error: malformed ttrpc.Request", NULL);
		return;
	}
	if (c->ncalls >= c->srv->lim.max_calls_per_conn) {
		ttrpc__request__free_unpacked(req, NULL);
		send_and_flush(c, stream, TTRPC_RESOURCE_EXHAUSTED,
		               "too many requests in flight on this connection", NULL);
		return;
	}
	/* Room for a usual reply before the handler acts: a call that took effect (a sandbox
	 * created, an exit status handed over) must not lose its answer to an allocation failure
	 * afterwards.  Larger replies (ReadStdout) reserve their own room. */
	struct ttrpc_call *call = NULL;
	if (buf_reserve(&c->out, TTRPC_REPLY_RESERVE) < 0 || !(call = calloc(1, sizeof(*call)))) {
		ttrpc__request__free_unpacked(req, NULL);
		send_and_flush(c, stream, TTRPC_RESOURCE_EXHAUSTED, "out of memory", NULL);
		return;
	}
	call->conn = c;
	call->srv = c->srv;
	call->stream_id = stream;
	call->timeout_ns = req->timeout_nano > 0 ? req->timeout_nano : 0;
	list_add_tail(&c->calls, &call->link);
	c->ncalls++;
	c->srv->dispatch(call, req->service, req->method, req->payload.data, req->payload.len,
	                 c->srv->data);
	/* The dispatcher copied what it needs (method names are static strings). */
	ttrpc__request__free_unpacked(req, NULL);
}

static void handle_frame(struct ttrpc_conn *c, const struct ttrpc_hdr *h, const uint8_t *body)
{
	switch (h->type) {
	case TTRPC_REQUEST:
		handle_request(c, h, body);
		break;
	case TTRPC_DATA:
		if (find_call(c, h->stream_id)) {
			log_debug("ttrpc", "data frame for unary stream %u dropped", h->stream_id);
			break;
		}
		send_and_flush(c, h->stream_id, TTRPC_INVALID_ARGUMENT,
		               "stream is no longer active", NULL);
		break;
	default:
		log_debug("ttrpc", "frame of type %u on stream %u ignored", h->type, h->stream_id);
		break;
	}
}

static void process_input(struct ttrpc_conn *c)
{
	while (!c->closed) {
		size_t used = buf_used(&c->in);
		if (c->discard > 0) {
			size_t n = used < c->discard ? used : c->discard;
			buf_consume(&c->in, n);
			c->discard -= (uint32_t)n;
			if (c->discard > 0)
				return;
			continue;
		}
		if (used < TTRPC_HDR_LEN)
			return;
		struct ttrpc_hdr h;
		ttrpc_hdr_decode(c->in.data + c->in.off, &h);
		if (h.length > TTRPC_MAX_MSG) {
			/* Never allocate for it: skip the body, answer on its stream. */
			char msg[128];
			snprintf(msg, sizeof(msg),
			         "message length %u exceed maximum message size of %u", h.length,
			         TTRPC_MAX_MSG);
			buf_consume(&c->in, TTRPC_HDR_LEN);
			c->discard = h.length;
			send_and_flush(c, h.stream_id, TTRPC_INVALID_ARGUMENT, msg, NULL);
			continue;
		}
		if (used < TTRPC_HDR_LEN + (size_t)h.length)
			return;
		handle_frame(c, &h, c->in.data + c->in.off + TTRPC_HDR_LEN);
		if (c->closed)
			return;
		buf_consume(&c->in, TTRPC_HDR_LEN + (size_t)h.length);
	}
}

/* Room for the next recv: up to a 64 KiB buffer, or to the pending frame's end when its header
 * is in, but growing at most to twice what has arrived.  Memory follows the bytes the peer
 * really sends, not a length it announces (up to 4 MiB), and a few buffered bytes do not
 * double a 64 KiB buffer. */
static size_t read_room(const struct ttrpc_conn *c)
{
	size_t used = buf_used(&c->in), target = 64u << 10;
	if (c->discard == 0 && used >= TTRPC_HDR_LEN) {
		struct ttrpc_hdr h;
		ttrpc_hdr_decode(c->in.data + c->in.off, &h);
		size_t frame = TTRPC_HDR_LEN + (size_t)h.length, grown = 2 * used;
		if (h.length <= TTRPC_MAX_MSG && frame > target && grown > target)
			target = frame < grown ? frame : grown;
	}
	return target > used ? target - used : 4096;
}

static void conn_read(struct ttrpc_conn *c)
{
	size_t want = read_room(c);
	if (buf_reserve(&c->in, want) < 0) {
		log_error("ttrpc", "out of memory reading from fd %d", c->fd);
		conn_close(c);
		return;
	}
	ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_debug("ttrpc", "recv on fd %d: %s", c->fd, strerror(errno));
		conn_close(c);
		return;
	}
	if (n == 0) {
		conn_close(c);
		return;
	}
	c->in.len += (size_t)n;
	process_input(c);
	if (!c->closed && buf_used(&c->in) == 0 && c->in.cap > (256u << 10))
		buf_free(&c->in);
}

static void conn_destroy(struct ttrpc_conn *c)
{
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void conn_event(struct loop *l, int fd, uint32_t events, void *data)
{
	struct ttrpc_conn *c = data;
	c->in_event = true;
	if (events & EPOLLOUT)
		conn_flush(c);
	if (!c->closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_read(c);
	c->in_event = false;
	if (c->closed)
		conn_destroy(c);
}

static void conn_update_events(struct ttrpc_conn *c)
{
	if (c->closed)
		return;
	uint32_t ev = 0;
	/* Backpressure: a peer that does not read its replies is not read from either. */
	if (buf_used(&c->out) < c->srv->lim.max_out_pending)
		ev |= EPOLLIN;
	if (buf_used(&c->out) > 0)
		ev |= EPOLLOUT;
	if (ev != c->events && loop_mod(c->srv->loop, c->w, ev) == 0)
		c->events = ev;
}

static void conn_close(struct ttrpc_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	struct ttrpc_server *s = c->srv;
	/* Abandon every request of this connection: parked ones are told to forget it. */
	struct list *p, *t;
	list_for_each_safe (p, t, &c->calls) {
		struct ttrpc_call *call = container_of(p, struct ttrpc_call, link);
		list_del(&call->link);
		call->conn = NULL;
		if (call->parked && call->cancel)
			call->cancel(call, call->cancel_data);
		call_free(call);
	}
	c->ncalls = 0;
	loop_defer_cancel(&c->flush);
	loop_del(s->loop, c->w);
	close(c->fd);
	list_del(&c->link);
	s->nconns--;
	if (!c->in_event)
		conn_destroy(c);
	log_debug("ttrpc", "connection closed (%u left, %u calls parked)", s->nconns, s->nparked);
	if (s->shutting_down)
		check_shutdown_done(s);
}

int ttrpc_server_add_conn(struct ttrpc_server *s, int fd)
{
	struct ttrpc_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->srv = s;
	c->fd = fd;
	c->events = EPOLLIN;
	list_init(&c->calls);
	int r = loop_add(s->loop, fd, c->events, conn_event, c, &c->w);
	if (r < 0) {
		free(c);
		return r;
	}
	list_add_tail(&s->conns, &c->link);
	s->nconns++;
	return 0;
}

static void listener_event(struct loop *l, int fd, uint32_t events, void *data)
{
	struct listener *ls = data;
	struct ttrpc_server *s = ls->srv;
	for (int i = 0; i < 16; i++) {
		unsigned cid;
		int cfd =
		    addr_accept(fd, SOCK_NONBLOCK | SOCK_CLOEXEC, s->lim.allow_local_vsock, &cid);
		if (cfd == -ECONNREFUSED) {
			log_warn("ttrpc",
			         "connection from vsock CID %u refused: only the host may connect",
			         cid);
			continue;
		}
		if (loop_listen_rest(l, &ls->ll, cfd))
			return;
		if (cfd < 0) {
			if (cfd != -EAGAIN && cfd != -EINTR)
				log_warn("ttrpc", "accept: %s", strerror(-cfd));
			return;
		}
		if (s->shutting_down || s->nconns >= s->lim.max_conns) {
			log_warn("ttrpc", "connection refused: %s",
			         s->shutting_down ? "shutting down" : "connection limit reached");
			close(cfd);
			continue;
		}
		int r = ttrpc_server_add_conn(s, cfd);
		if (r < 0) {
			log_error("ttrpc", "serving a new connection: %s", strerror(-r));
			close(cfd);
			continue;
		}
		log_debug("ttrpc", "new connection (%u open)", s->nconns);
	}
}

int ttrpc_server_add_listener(struct ttrpc_server *s, int listen_fd)
{
	struct listener *ls = calloc(1, sizeof(*ls));
	if (!ls) {
		close(listen_fd);
		return -ENOMEM;
	}
	ls->srv = s;
	ls->fd = listen_fd;
	int r = loop_listen_add(s->loop, &ls->ll, listen_fd, listener_event, ls, "ttrpc");
	if (r < 0) {
		close(listen_fd);
		free(ls);
		return r;
	}
	list_add_tail(&s->listeners, &ls->link);
	return 0;
}

int ttrpc_server_new(struct loop *l, const struct ttrpc_limits *lim, ttrpc_dispatch_fn fn,
                     void *data, struct ttrpc_server **ret)
{
	struct ttrpc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = l;
	s->lim = lim ? *lim : ttrpc_default_limits;
	s->dispatch = fn;
	s->data = data;
	list_init(&s->listeners);
	list_init(&s->conns);
	*ret = s;
	return 0;
}

static void close_listeners(struct ttrpc_server *s)
{
	struct list *p, *t;
	list_for_each_safe (p, t, &s->listeners) {
		struct listener *ls = container_of(p, struct listener, link);
		loop_listen_del(s->loop, &ls->ll);
		close(ls->fd);
		list_del(&ls->link);
		free(ls);
	}
}

static void finish_shutdown(struct ttrpc_server *s)
{
	if (!s->done)
		return;
	loop_timer_cancel(&s->shutdown_timer);
	void (*done)(struct ttrpc_server *, void *) = s->done;
	s->done = NULL;
	done(s, s->done_data);
}

static void check_shutdown_done(struct ttrpc_server *s)
{
	struct list *p;
	list_for_each (p, &s->conns) {
		if (buf_used(&container_of(p, struct ttrpc_conn, link)->out) > 0)
			return;
	}
	finish_shutdown(s);
}

static void shutdown_timeout(struct loop *l, struct loop_timer *t)
{
	struct ttrpc_server *s = container_of(t, struct ttrpc_server, shutdown_timer);
	log_warn("ttrpc", "shutdown: output still pending after the grace period");
	finish_shutdown(s);
}

void ttrpc_server_shutdown(struct ttrpc_server *s, int timeout_ms,
                           void (*done)(struct ttrpc_server *, void *), void *data)
{
	s->shutting_down = true;
	s->done = done;
	s->done_data = data;
	close_listeners(s);
	s->shutdown_timer.cb = shutdown_timeout;
	loop_timer_arm(s->loop, &s->shutdown_timer, now_ns() + ms_to_ns(timeout_ms));
	check_shutdown_done(s);
}

void ttrpc_server_free(struct ttrpc_server *s)
{
	if (!s)
		return;
	s->shutting_down = false;
	s->done = NULL;
	loop_timer_cancel(&s->shutdown_timer);
	close_listeners(s);
	while (!list_empty(&s->conns))
		conn_close(container_of(s->conns.next, struct ttrpc_conn, link));
	free(s);
}

int ttrpc_server_feed(struct ttrpc_server *s, int fd, const uint8_t *p, size_t n)
{
	struct list *pos, *tmp;
	list_for_each_safe (pos, tmp, &s->conns) {
		struct ttrpc_conn *c = container_of(pos, struct ttrpc_conn, link);
		if (c->fd != fd)
			continue;
		if (buf_reserve(&c->in, n) < 0)
			return -ENOMEM;
		if (n)
			memcpy(c->in.data + c->in.len, p, n);
		c->in.len += n;
		/* As in conn_event: a close inside is finished here, not under our feet. */
		c->in_event = true;
		process_input(c);
		c->in_event = false;
		if (c->closed)
			conn_destroy(c);
		return 0;
	}
	return -ENOENT;
}

unsigned ttrpc_server_nconns(const struct ttrpc_server *s)
{
	return s->nconns;
}

unsigned ttrpc_server_nparked(const struct ttrpc_server *s)
{
	return s->nparked;
}

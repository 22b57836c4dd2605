// SPDX-License-Identifier: Apache-2.0
/* The ttrpc server: many connections, many requests in flight per connection, replies in any
 * order, parked (deferred) replies, whole-frame output buffering with backpressure.
 * All of it runs on the agent's single loop. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "ttrpc_frame.h"

struct ttrpc_server;
struct ttrpc_conn;

struct ttrpc_limits {
	unsigned max_conns; /* accepted connections beyond this are closed at once */
	unsigned
	    max_calls_per_conn; /* requests in flight per connection; more: RESOURCE_EXHAUSTED */
	unsigned max_parked;    /* parked requests in the whole server */
	size_t max_out_pending; /* stop reading a connection whose unsent output exceeds this */
	bool allow_local_vsock; /* serve vsock peers other than the host (addr_accept) */
};

extern const struct ttrpc_limits ttrpc_default_limits;

/* One request.  Handlers complete it exactly once with ttrpc_reply()/ttrpc_fail(), or park it
 * with ttrpc_park() and complete it later.  The call's memory is freed on completion. */
struct ttrpc_call {
	struct ttrpc_conn *conn; /* NULL once the peer disconnected */
	uint32_t stream_id;
	const char *method;    /* bare method name, for logs */
	ProtobufCMessage *req; /* decoded request (owned, freed with the call) */
	long long timeout_ns;  /* 0: none */
	void (*cancel)(struct ttrpc_call *c, void *data); /* parked: called if abandoned */
	void *cancel_data;
	bool parked;
	struct list link; /* on the connection's call list */
	struct loop_timer timer;
	struct ttrpc_server *srv;
	void *user; /* free for the handler's use while parked */
};

/* Called for every well-formed request; must complete or park the call. */
typedef void (*ttrpc_dispatch_fn)(struct ttrpc_call *call, const char *service, const char *method,
                                  const uint8_t *payload, size_t len, void *data);

int ttrpc_server_new(struct loop *l, const struct ttrpc_limits *lim, ttrpc_dispatch_fn fn,
                     void *data, struct ttrpc_server **ret);
/* Serve connections accepted on listen_fd (ownership passes to the server). */
int ttrpc_server_add_listener(struct ttrpc_server *s, int listen_fd);
/* Serve an already connected socket (used by tests and the debug paths). */
int ttrpc_server_add_conn(struct ttrpc_server *s, int fd);
/* Stop accepting; when every connection's output has been written (or after timeout_ms), call
 * done().  Used by DestroySandbox: reply first, then power off. */
void ttrpc_server_shutdown(struct ttrpc_server *s, int timeout_ms,
                           void (*done)(struct ttrpc_server *s, void *data), void *data);
void ttrpc_server_free(struct ttrpc_server *s);

/* Fuzzing hook: handle n bytes as if they had just been read from the connection on fd (added
 * with ttrpc_server_add_conn), without a syscall.  -ENOENT when no such connection is open. */
int ttrpc_server_feed(struct ttrpc_server *s, int fd, const uint8_t *p, size_t n);

unsigned ttrpc_server_nconns(const struct ttrpc_server *s);
unsigned ttrpc_server_nparked(const struct ttrpc_server *s);

/* protobuf_c_message_unpack with the default allocation, telling an allocation failure
 * (*ret_oom true) from malformed input. */
ProtobufCMessage *ttrpc_unpack(const ProtobufCMessageDescriptor *desc, size_t len,
                               const uint8_t *data, bool *ret_oom);

/* Make room in the connection's output for a reply carrying up to payload_len bytes (e.g.
 * before consuming data the reply will carry, so it cannot be lost to an allocation failure).
 * 0, or -ENOMEM. */
int ttrpc_reserve_reply(struct ttrpc_call *c, size_t payload_len);
/* Complete a call with a response message (NULL means google.protobuf.Empty). */
void ttrpc_reply(struct ttrpc_call *c, const ProtobufCMessage *resp);
/* Complete a call with an error status. */
void ttrpc_fail(struct ttrpc_call *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Defer completion.  cancel() runs if the peer disconnects or the request's deadline passes
 * first; it must forget the call (not complete it): the server frees it afterwards. */
int ttrpc_park(struct ttrpc_call *c, void (*cancel)(struct ttrpc_call *c, void *data), void *data);

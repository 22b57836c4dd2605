/* ttrpc traffic as JSON lines (docs/DEBUGGING.md has the format), plus per-method statistics.
 * Shared by the kata-agent-ctl proxy and vhost-user-vsock --trace.  Requests and responses are
 * decoded through the protobuf-c descriptors of the agent API (pbjson); anything that does not
 * decode is written as hex.  One tracer follows many connections; a connection is a number the
 * caller picks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

#include "frame_relay.h"

enum trace_dir {
	TRACE_TO_AGENT,   /* "c2s": runtime/client -> agent */
	TRACE_FROM_AGENT, /* "s2c": agent -> client */
};

struct trace_opts {
	FILE *out;                  /* NULL: statistics only */
	size_t bytes_limit;         /* bytes fields and hex dumps cut past this (0: no limit) */
	const char *const *methods; /* only these methods (full, Service.Method or bare) */
	size_t n_methods;
};

struct tracer;

int tracer_new(const struct trace_opts *o, struct tracer **ret);
void tracer_free(struct tracer *t);
/* {"event":"open"|"close"|..., "conn":N, ...extra JSON members, e.g. "\"port\":1024"}. */
void trace_event(struct tracer *t, unsigned conn, const char *event, const char *extra_json);
/* One piece handed out by a relay_half (frame_relay.h) of connection conn. */
void trace_piece(struct tracer *t, unsigned conn, enum trace_dir dir, enum relay_piece kind,
                 const uint8_t *p, size_t n);
/* Calls of conn still waiting for a response are dropped (not counted as errors). */
void trace_conn_closed(struct tracer *t, unsigned conn);
/* The per-method table: calls, errors (non-OK status), p50/p99 latency, request and
 * response bytes (whole frames). */
void tracer_summary(struct tracer *t, FILE *f);

/* Resolve "grpc.AgentService.X", "AgentService.X" or "X" to the agent API (used by the
 * ctl commands too).  Returns 0 or -ENOENT. */
int trace_find_method(const char *spec, const ProtobufCServiceDescriptor **ret_sd,
                      const ProtobufCMethodDescriptor **ret_md);

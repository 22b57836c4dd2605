/* RPC dispatch: a sorted table {service, method, handler}; request/response types come from the
 * protobuf-c service descriptors, so the table only says who handles what.  Methods of the API
 * without a handler answer UNIMPLEMENTED (reference §2.5: the runtime special-cases it). */
#pragma once

#include <stddef.h>

#include "ttrpc.h"

typedef void (*rpc_handler_fn)(struct ttrpc_call *call, const void *req);

struct rpc_entry {
	const char *service;
	const char *method;
	rpc_handler_fn fn; /* NULL: not provided by this agent */
};

extern const struct rpc_entry rpc_table[];
extern const size_t rpc_table_len;

/* ttrpc_dispatch_fn for the server. */
void rpc_dispatch(struct ttrpc_call *call, const char *service, const char *method,
		  const uint8_t *payload, size_t len, void *data);

/* Consistency check of the table against the descriptors: sorted, complete, no extras.
 * Returns 0 or -EINVAL with a description in buf. */
int rpc_table_check(char *buf, size_t size);

/* Handlers, grouped by file. */
void rpc_health_check(struct ttrpc_call *call, const void *req);
void rpc_health_version(struct ttrpc_call *call, const void *req);
void rpc_get_oom_event(struct ttrpc_call *call, const void *req);

/* OOM events (rpc_oom.c): queue a container id for GetOOMEvent; fail every waiter (sandbox
 * teardown). */
int oom_event_post(const char *container_id);
void oom_events_close(void);

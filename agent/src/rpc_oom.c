// SPDX-License-Identifier: Apache-2.0
/* GetOOMEvent: the shim calls it back to back for the sandbox's whole life, so it parks until a
 * container's cgroup reports an OOM kill (docs/PROTOCOL.md §2.4 #37).  Events that arrive with
 * nobody waiting are queued (bounded) so none is lost between two calls. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "log.h"
#include "rpc.h"

#define OOM_QUEUE_MAX 256

struct oom_item {
	struct list link;
	char *cid;
};

static struct list waiters = {&waiters, &waiters}; /* struct ttrpc_call.user = list node */
static struct list queue = {&queue, &queue};
static unsigned queued;
static bool closed;

struct waiter {
	struct list link;
	struct ttrpc_call *call;
};

static void reply_event(struct ttrpc_call *call, const char *cid)
{
	Grpc__OOMEvent ev = GRPC__OOMEVENT__INIT;
	ev.container_id = (char *)cid;
	ttrpc_reply(call, &ev.base);
}

static void waiter_cancel(struct ttrpc_call *call, void *data)
{
	struct waiter *w = data;
	list_del(&w->link);
	free(w);
}

void rpc_get_oom_event(struct ttrpc_call *call, const void *req)
{
	if (closed) {
		/* Matches the Rust agent after DestroySandbox: the OOM channel is gone. */
		ttrpc_fail(call, TTRPC_INTERNAL, "sandbox destroyed: no more OOM events");
		return;
	}
	if (!list_empty(&queue)) {
		struct oom_item *it = container_of(queue.next, struct oom_item, link);
		list_del(&it->link);
		queued--;
		reply_event(call, it->cid);
		free(it->cid);
		free(it);
		return;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->call = call;
	if (ttrpc_park(call, waiter_cancel, w) < 0) {
		free(w);
		return;
	}
	list_add_tail(&waiters, &w->link);
}

int oom_event_post(const char *cid)
{
	log_info("oom", "container %s hit an OOM kill", cid);
	if (!list_empty(&waiters)) {
		struct waiter *w = container_of(waiters.next, struct waiter, link);
		list_del(&w->link);
		struct ttrpc_call *call = w->call;
		free(w);
		reply_event(call, cid);
		return 0;
	}
	if (queued >= OOM_QUEUE_MAX) {
		log_warn("oom", "OOM event queue full; dropping the event for %s", cid);
		return -ENOSPC;
	}
	struct oom_item *it = calloc(1, sizeof(*it));
	char *dup = strdup(cid);
	if (!it || !dup) {
		free(it);
		free(dup);
		return -ENOMEM;
	}
	it->cid = dup;
	list_add_tail(&queue, &it->link);
	queued++;
	return 0;
}

void oom_events_close(void)
{
	closed = true;
	while (!list_empty(&waiters)) {
		struct waiter *w = container_of(waiters.next, struct waiter, link);
		list_del(&w->link);
		struct ttrpc_call *call = w->call;
		free(w);
		ttrpc_fail(call, TTRPC_INTERNAL, "sandbox destroyed: no more OOM events");
	}
}

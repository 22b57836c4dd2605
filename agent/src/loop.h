// SPDX-License-Identifier: Apache-2.0
/* The agent's single event loop: epoll over every fd, plus one-shot timers kept in a sorted
 * list (there are few: per-request deadlines and drain bounds), so nothing ever sleeps. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct loop;
struct loop_watch;

typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *data);

struct loop_timer {
	struct list link;
	unsigned long long deadline_ns; /* CLOCK_MONOTONIC */
	void (*cb)(struct loop *l, struct loop_timer *t);
	bool armed;
};

int loop_new(struct loop **ret);
void loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN/EPOLLOUT...).  The fd stays owned by the caller. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data,
             struct loop_watch **ret);
int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events);
/* Stop watching.  Safe from inside a callback, including for a watch whose event is pending in
 * the same batch: the memory is released after the batch. */
void loop_del(struct loop *l, struct loop_watch *w);

/* Work to run once after the current batch of events (e.g. flushing output gathered while
 * handling several requests).  Deferring an already deferred item does nothing. */
struct loop_defer {
	struct list link;
	void (*cb)(struct loop *l, struct loop_defer *d);
	bool queued;
};
void loop_defer(struct loop *l, struct loop_defer *d);
void loop_defer_cancel(struct loop_defer *d);

void loop_timer_arm(struct loop *l, struct loop_timer *t, unsigned long long deadline_ns);
void loop_timer_cancel(struct loop_timer *t);

/* Run until loop_quit(); returns the code given to it. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int code);
/* Handle one batch of events, waiting at most timeout_ms (-1: until something happens). */
int loop_run_once(struct loop *l, int timeout_ms);

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

/* A listening socket's watch, shared by every listener of the agent.  When accept() fails for
 * want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM) the connection stays queued and the
 * level-triggered fd stays readable: watching it would spin.  The listener rests instead, its
 * watch off for LOOP_LISTEN_REST_NS, serving the open connections meanwhile, then tries again. */
struct loop_listen {
	struct loop_watch *w;
	struct loop_timer rest;
	bool off;              /* the owner turned the watch off (loop_listen_enable) */
	const char *subsystem; /* names the listener in the log */
};
#define LOOP_LISTEN_REST_NS (100ull * 1000 * 1000)

/* Watch listen_fd for EPOLLIN; the fd stays the caller's.  subsystem must outlive ls. */
int loop_listen_add(struct loop *l, struct loop_listen *ls, int listen_fd, loop_fd_cb cb,
                    void *data, const char *subsystem);
/* After accept() returned accept_err (-errno): true, with the watch paused and one warning
 * logged per pause, when it is a resource error (the callback should return then); false for
 * any other value, which leaves the watch alone. */
bool loop_listen_rest(struct loop *l, struct loop_listen *ls, int accept_err);
/* The owner's own switch (the log port takes one connection at a time).  While resting only
 * recorded: the rest ends with the watch as last set here. */
int loop_listen_enable(struct loop *l, struct loop_listen *ls, bool on);
/* Stop watching and cancel a rest.  Does nothing for a listener never added. */
void loop_listen_del(struct loop *l, struct loop_listen *ls);

/* Run until loop_quit(); returns the code given to it. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int code);
/* Handle one batch of events, waiting at most timeout_ms (-1: until something happens). */
int loop_run_once(struct loop *l, int timeout_ms);

// SPDX-License-Identifier: Apache-2.0
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"

struct loop_watch {
	int fd;
	loop_fd_cb cb; /* NULL once deleted */
	void *data;
	struct list link; /* on loop->dead after deletion */
};

struct loop {
	int epfd;
	bool quit;
	int code;
	struct list timers; /* sorted by deadline */
	struct list dead;   /* watches to free after the current batch */
	struct list deferred;
};

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	list_init(&l->timers);
	list_init(&l->dead);
	list_init(&l->deferred);
	*ret = l;
	return 0;
}

static void reap_dead(struct loop *l)
{
	struct list *p, *t;
	list_for_each_safe (p, t, &l->dead) {
		list_del(p);
		free(container_of(p, struct loop_watch, link));
	}
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	reap_dead(l);
	close(l->epfd);
	free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *data,
             struct loop_watch **ret)
{
	struct loop_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->data = data;
	list_init(&w->link);
	struct epoll_event ev = {.events = events, .data.ptr = w};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	if (ret)
		*ret = w;
	return 0;
}

int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, struct loop_watch *w)
{
	if (!w || !w->cb)
		return;
	/* The fd may already be closed by the owner: EBADF/ENOENT are fine then. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->cb = NULL;
	list_add_tail(&l->dead, &w->link);
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, unsigned long long deadline_ns)
{
	loop_timer_cancel(t);
	t->deadline_ns = deadline_ns;
	struct list *p;
	list_for_each (p, &l->timers) {
		if (container_of(p, struct loop_timer, link)->deadline_ns > deadline_ns)
			break;
	}
	/* insert before p */
	t->link.next = p;
	t->link.prev = p->prev;
	p->prev->next = &t->link;
	p->prev = &t->link;
	t->armed = true;
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (t->armed) {
		list_del(&t->link);
		t->armed = false;
	}
}

static void listen_wake(struct loop *l, struct loop_timer *t)
{
	struct loop_listen *ls = container_of(t, struct loop_listen, rest);
	if (!ls->off)
		loop_mod(l, ls->w, EPOLLIN);
}

int loop_listen_add(struct loop *l, struct loop_listen *ls, int listen_fd, loop_fd_cb cb,
                    void *data, const char *subsystem)
{
	*ls = (struct loop_listen){.rest.cb = listen_wake, .subsystem = subsystem};
	return loop_add(l, listen_fd, EPOLLIN, cb, data, &ls->w);
}

static bool out_of_resources(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

bool loop_listen_rest(struct loop *l, struct loop_listen *ls, int accept_err)
{
	if (!out_of_resources(accept_err))
		return false;
	if (ls->rest.armed)
		return true;
	log_warn(ls->subsystem, "accept: %s; pausing new connections for %llu ms",
	         strerror(-accept_err), LOOP_LISTEN_REST_NS / 1000000);
	loop_mod(l, ls->w, 0);
	loop_timer_arm(l, &ls->rest, now_ns() + LOOP_LISTEN_REST_NS);
	return true;
}

int loop_listen_enable(struct loop *l, struct loop_listen *ls, bool on)
{
	ls->off = !on;
	if (ls->rest.armed)
		return 0;
	return loop_mod(l, ls->w, on ? EPOLLIN : 0);
}

void loop_listen_del(struct loop *l, struct loop_listen *ls)
{
	loop_timer_cancel(&ls->rest);
	loop_del(l, ls->w);
	ls->w = NULL;
}

void loop_defer(struct loop *l, struct loop_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	list_add_tail(&l->deferred, &d->link);
}

void loop_defer_cancel(struct loop_defer *d)
{
	if (d->queued) {
		list_del(&d->link);
		d->queued = false;
	}
}

static void run_deferred(struct loop *l)
{
	while (!list_empty(&l->deferred)) {
		struct loop_defer *d = container_of(l->deferred.next, struct loop_defer, link);
		loop_defer_cancel(d);
		d->cb(l, d);
	}
}

void loop_quit(struct loop *l, int code)
{
	l->quit = true;
	l->code = code;
}

static int next_timeout_ms(struct loop *l, int cap_ms)
{
	if (list_empty(&l->timers))
		return cap_ms;
	unsigned long long d = container_of(l->timers.next, struct loop_timer, link)->deadline_ns;
	unsigned long long now = now_ns();
	if (d <= now)
		return 0;
	unsigned long long ms = (d - now + 999999) / 1000000; /* round up: never wake early */
	if (ms > INT_MAX)
		ms = INT_MAX;
	if (cap_ms >= 0 && (int)ms > cap_ms)
		return cap_ms;
	return (int)ms;
}

static void run_timers(struct loop *l)
{
	unsigned long long now = now_ns();
	while (!list_empty(&l->timers)) {
		struct loop_timer *t = container_of(l->timers.next, struct loop_timer, link);
		if (t->deadline_ns > now)
			break;
		loop_timer_cancel(t);
		t->cb(l, t);
	}
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[64];
	int wait_ms = list_empty(&l->deferred) ? next_timeout_ms(l, timeout_ms) : 0;
	int n = epoll_wait(l->epfd, evs, (int)ARRAY_SIZE(evs), wait_ms);
	if (n < 0) {
		if (errno == EINTR)
			return 0;
		return -errno;
	}
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = evs[i].data.ptr;
		if (w->cb)
			w->cb(l, w->fd, evs[i].events, w->data);
	}
	run_timers(l);
	run_deferred(l);
	reap_dead(l);
	return n;
}

int loop_run(struct loop *l)
{
	while (!l->quit) {
		int r = loop_run_once(l, -1);
		if (r < 0)
			return r;
	}
	return l->code;
}

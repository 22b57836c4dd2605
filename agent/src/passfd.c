// SPDX-License-Identifier: Apache-2.0
#include "passfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
/* after sys/socket.h: it needs struct sockaddr */
#include <linux/vm_sockets.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "agent.h"
#include "log.h"
#include "util.h"

/* An accepted connection waiting to be claimed. */
struct pending {
	struct list link;
	uint32_t port;
	int fd;
};

struct passfd_claim {
	struct list link;
	uint32_t ports[PASSFD_NSTREAMS];
	int fds[PASSFD_NSTREAMS];
	struct loop_timer timer;
	passfd_done_fn done;
	void *data;
};

static struct {
	struct loop *loop;
	int lfd;
	struct loop_listen ll;
	struct list conns;  /* struct pending, oldest first */
	struct list claims; /* struct passfd_claim waiting for a connection */
	unsigned nconns;
	char addr_text[160];
} pf = {.lfd = -1, .conns = {&pf.conns, &pf.conns}, .claims = {&pf.claims, &pf.claims}};

bool passfd_enabled(void)
{
	return pf.lfd >= 0;
}

unsigned passfd_pending(void)
{
	return pf.nconns;
}

void passfd_close_fds(int fds[PASSFD_NSTREAMS])
{
	for (int i = 0; i < PASSFD_NSTREAMS; i++)
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
}

/* The connection of port, removed from the table; -1 when it has not arrived. */
static int take(uint32_t port)
{
	struct list *l;
	list_for_each (l, &pf.conns) {
		struct pending *c = container_of(l, struct pending, link);
		if (c->port != port)
			continue;
		int fd = c->fd;
		list_del(&c->link);
		free(c);
		pf.nconns--;
		return fd;
	}
	return -1;
}

/* Take what has arrived; true when every named stream has its connection. */
static bool claim_fill(struct passfd_claim *c)
{
	bool all = true;
	for (int i = 0; i < PASSFD_NSTREAMS; i++) {
		if (c->ports[i] == 0 || c->fds[i] >= 0)
			continue;
		c->fds[i] = take(c->ports[i]);
		all &= c->fds[i] >= 0;
	}
	return all;
}

static void claim_complete(struct passfd_claim *c)
{
	list_del(&c->link);
	loop_timer_cancel(&c->timer);
	int fds[PASSFD_NSTREAMS];
	memcpy(fds, c->fds, sizeof(fds));
	passfd_done_fn done = c->done;
	void *data = c->data;
	free(c);
	done(data, 0, NULL, fds);
}

static void claims_retry(void)
{
	struct list *l, *tmp;
	list_for_each_safe (l, tmp, &pf.claims) {
		struct passfd_claim *c = container_of(l, struct passfd_claim, link);
		if (claim_fill(c))
			claim_complete(c);
	}
}

void passfd_put(uint32_t port, int fd)
{
	/* A port reused by the host replaces its unclaimed predecessor. */
	int old = take(port);
	if (old >= 0) {
		log_warn("passfd",
		         "host port %u connected again; the unclaimed connection is closed", port);
		close(old);
	}
	if (pf.nconns >= PASSFD_MAX_PENDING) {
		struct pending *o = container_of(pf.conns.next, struct pending, link);
		log_warn("passfd", "%u unclaimed connections: closing the oldest (host port %u)",
		         pf.nconns, o->port);
		close(take(o->port));
	}
	struct pending *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->port = port;
	c->fd = fd;
	list_add_tail(&pf.conns, &c->link);
	pf.nconns++;
	claims_retry();
}

/* The key of a connection: the vsock peer's port (the host side, what the runtime passes); for
 * a unix peer (host tests), the number after the last ':' of the name it bound. */
static int peer_port(int fd, uint32_t *ret)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_VSOCK && len >= sizeof(struct sockaddr_vm)) {
		*ret = ((struct sockaddr_vm *)&ss)->svm_port;
		return 0;
	}
	if (ss.ss_family != AF_UNIX)
		return -EAFNOSUPPORT;
	if (len <= offsetof(struct sockaddr_un, sun_path) + 1)
		return -EINVAL; /* an unbound unix peer: no name, no port */
	struct sockaddr_un *su = (struct sockaddr_un *)&ss;
	size_t n = len - offsetof(struct sockaddr_un, sun_path);
	char name[sizeof(su->sun_path) + 1];
	/* An abstract name starts with NUL and is not terminated. */
	const char *p = su->sun_path[0] ? su->sun_path : su->sun_path + 1;
	size_t plen = su->sun_path[0] ? strnlen(su->sun_path, n) : n - 1;
	memcpy(name, p, plen);
	name[plen] = '\0';
	const char *colon = strrchr(name, ':');
	unsigned long v;
	char *end;
	if (!colon || !colon[1])
		return -EINVAL;
	errno = 0;
	v = strtoul(colon + 1, &end, 10);
	if (*end || errno || v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static void on_listen(struct loop *l, int fd, uint32_t events, void *data)
{
	for (int i = 0; i < 16; i++) {
		unsigned cid;
		int c = addr_accept(fd, SOCK_NONBLOCK | SOCK_CLOEXEC, agent.cfg.allow_local_vsock,
		                    &cid);
		if (c == -ECONNREFUSED) {
			log_warn("passfd",
			         "connection from vsock CID %u refused: only the host may "
			         "connect",
			         cid);
			continue;
		}
		if (c < 0) {
			/* Out of fds or memory: rest.  Else EAGAIN or the peer already gone. */
			loop_listen_rest(l, &pf.ll, c);
			return;
		}
		uint32_t port;
		int r = peer_port(c, &port);
		if (r < 0) {
			log_warn("passfd", "connection refused: %s",
			         r == -EINVAL ? "the peer's address names no port" : strerror(-r));
			close(c);
			continue;
		}
		log_debug("passfd", "connection from host port %u", port);
		passfd_put(port, c);
	}
}

int passfd_listen(struct loop *l, const char *addr_text)
{
	struct addr a;
	const char *err = NULL;
	if (addr_parse(addr_text, &a, &err) < 0)
		return -EINVAL;
	addr_format(&a, pf.addr_text, sizeof(pf.addr_text));
	int fd, r = addr_listen(&a, 32, &fd);
	if (r < 0)
		return r;
	r = loop_listen_add(l, &pf.ll, fd, on_listen, NULL, "passfd");
	if (r < 0) {
		close(fd);
		return r;
	}
	pf.loop = l;
	pf.lfd = fd;
	return 0;
}

void passfd_start(const struct agent_config *cfg)
{
	char a[200];
	const char *env = getenv(PASSFD_ADDR_ENV);
	if (env && *env)
		snprintf(a, sizeof(a), "%s", env);
	else if (cfg->passfd_listener_port > 0)
		snprintf(a, sizeof(a), "vsock://-1:%u", cfg->passfd_listener_port);
	else
		return;
	int r = passfd_listen(agent.loop, a);
	if (r < 0) {
		log_warn("passfd", "passfd port %s: %s; passfd I/O is off", a,
		         r == -EINVAL ? "bad address" : strerror(-r));
		return;
	}
	log_info("passfd", "passfd I/O listening on %s", pf.addr_text);
}

void passfd_stop(void)
{
	while (!list_empty(&pf.claims))
		passfd_claim_cancel(container_of(pf.claims.next, struct passfd_claim, link));
	while (!list_empty(&pf.conns))
		close(take(container_of(pf.conns.next, struct pending, link)->port));
	loop_listen_del(pf.loop, &pf.ll);
	if (pf.lfd >= 0)
		close(pf.lfd);
	pf.lfd = -1;
}

static void claim_expired(struct loop *l, struct loop_timer *t)
{
	struct passfd_claim *c = container_of(t, struct passfd_claim, timer);
	char msg[300];
	uint32_t missing = 0;
	for (int i = 0; i < PASSFD_NSTREAMS && !missing; i++)
		if (c->ports[i] && c->fds[i] < 0)
			missing = c->ports[i];
	snprintf(msg, sizeof(msg), "passfd: no connection from host port %u on %s within %d ms",
	         missing, pf.addr_text, PASSFD_WAIT_MS);
	list_del(&c->link);
	passfd_close_fds(c->fds);
	passfd_done_fn done = c->done;
	void *data = c->data;
	free(c);
	int none[PASSFD_NSTREAMS] = {-1, -1, -1};
	done(data, -ETIMEDOUT, msg, none);
}

int passfd_claim(const uint32_t ports[PASSFD_NSTREAMS], passfd_done_fn done, void *data,
                 struct passfd_claim **ret)
{
	*ret = NULL;
	int none[PASSFD_NSTREAMS] = {-1, -1, -1};
	bool any = false;
	for (int i = 0; i < PASSFD_NSTREAMS; i++) {
		any |= ports[i] != 0;
		for (int j = 0; j < i; j++)
			if (ports[i] && ports[i] == ports[j]) {
				char msg[120];
				snprintf(msg, sizeof(msg),
				         "passfd: host port %u named for two streams", ports[i]);
				done(data, -EINVAL, msg, none);
				return 0;
			}
	}
	if (!any || !passfd_enabled()) {
		if (any)
			log_debug("passfd", "passfd ports in a request, but passfd I/O is off: "
			                    "pipes as usual");
		done(data, 0, NULL, none);
		return 0;
	}
	struct passfd_claim *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c->ports, ports, sizeof(c->ports));
	memcpy(c->fds, none, sizeof(c->fds));
	c->done = done;
	c->data = data;
	list_add_tail(&pf.claims, &c->link);
	if (claim_fill(c)) {
		claim_complete(c);
		return 0;
	}
	c->timer.cb = claim_expired;
	loop_timer_arm(pf.loop, &c->timer, now_ns() + ms_to_ns(PASSFD_WAIT_MS));
	*ret = c;
	return 0;
}

void passfd_claim_cancel(struct passfd_claim *c)
{
	if (!c)
		return;
	list_del(&c->link);
	loop_timer_cancel(&c->timer);
	passfd_close_fds(c->fds);
	free(c);
}

/* ---- pumps ---- */

#define PUMP_BUF (64u << 10)
/* Chunks copied per event before the loop serves others (epoll is level-triggered). */
#define PUMP_BURST 16
/* A spliced pipe is grown to this, and one splice moves up to this much. */
#define SPLICE_MAX (256u << 10)

struct passfd_pump {
	struct loop *l;
	int src, dst;
	struct loop_watch *sw, *dw;
	uint8_t *buf;
	size_t len, off;
	bool drain, done;
	bool splice; /* src is a pipe: move its pages with splice(2), no copy through buf */
	unsigned long long bytes;
	struct loop_defer notify;
	passfd_pump_done_fn cb;
	void *data;
};

static void pump_event(struct loop *l, int fd, uint32_t events, void *data);

/* Watch fd for ev, or not at all (ev 0).  Not watching means removing: epoll reports EPOLLHUP and
 * EPOLLERR whatever the mask, so a closed pipe left in the set while we wait for the other side
 * would wake the loop for ever. */
static int set_watch(struct passfd_pump *pp, int fd, struct loop_watch **w, uint32_t ev)
{
	if (!ev) {
		if (*w)
			loop_del(pp->l, *w);
		*w = NULL;
		return 0;
	}
	if (*w)
		return loop_mod(pp->l, *w, ev);
	return loop_add(pp->l, fd, ev, pump_event, pp, w);
}

static void finish(struct passfd_pump *pp);

static void watch(struct passfd_pump *pp, bool want_src)
{
	int r = set_watch(pp, pp->src, &pp->sw, want_src ? EPOLLIN : 0);
	if (r == 0)
		r = set_watch(pp, pp->dst, &pp->dw, want_src ? 0 : EPOLLOUT);
	if (r < 0) {
		log_warn("passfd", "watching a stream: %s; closing it", strerror(-r));
		finish(pp);
	}
}

static void pump_notify(struct loop *l, struct loop_defer *d)
{
	struct passfd_pump *pp = container_of(d, struct passfd_pump, notify);
	if (pp->cb)
		pp->cb(pp, pp->data);
}

static void finish(struct passfd_pump *pp)
{
	if (pp->done)
		return;
	pp->done = true;
	if (pp->sw)
		loop_del(pp->l, pp->sw);
	if (pp->dw)
		loop_del(pp->l, pp->dw);
	pp->sw = pp->dw = NULL;
	/* The host's reader sees EOF; on a pipe (stdin) closing is the EOF. */
	shutdown(pp->dst, SHUT_WR);
	close(pp->src);
	close(pp->dst);
	pp->src = pp->dst = -1;
	free(pp->buf);
	pp->buf = NULL;
	loop_defer(pp->l, &pp->notify);
}

/* One splice(2) from the pipe src into dst: the pipe's pages go to the socket without a copy
 * through buf (on the host's unix sockets, none at all).  splice has no MSG_NOSIGNAL: a reader
 * that went away is EPIPE because the agent ignores SIGPIPE (main.c).  Returns true when the
 * burst may go on, false when it must stop: the watches are set, or the pump has finished. */
static bool splice_step(struct passfd_pump *pp)
{
	ssize_t n =
	    splice(pp->src, NULL, pp->dst, NULL, SPLICE_MAX, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n > 0) {
		pp->bytes += (unsigned long long)n;
		return true;
	}
	if (n < 0 && errno == EINTR)
		return true;
	if (n < 0 && errno == EINVAL) {
		/* dst takes no spliced data: copy through buf from now on. */
		pp->splice = false;
		return true;
	}
	if (n < 0 && errno == EAGAIN) {
		/* Either side may be the one that is not ready; the pipe's FIONREAD tells which. */
		int queued = 0;
		if (ioctl(pp->src, FIONREAD, &queued) == 0 && queued > 0) {
			watch(pp, false);
			return false;
		}
		if (!pp->drain) {
			watch(pp, true);
			return false;
		}
	}
	/* EOF (every writer closed), the reader gone (EPIPE, ECONNRESET), another error, or
	 * nothing left after the drain bound. */
	finish(pp);
	return false;
}

static void step(struct passfd_pump *pp)
{
	for (int i = 0; i < PUMP_BURST && !pp->done; i++) {
		if (pp->splice && pp->off >= pp->len) {
			if (!splice_step(pp))
				return;
			continue;
		}
		if (pp->off < pp->len) {
			ssize_t n = send(pp->dst, pp->buf + pp->off, pp->len - pp->off,
			                 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno == ENOTSOCK)
				n = write(pp->dst, pp->buf + pp->off, pp->len - pp->off);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				watch(pp, false);
				return;
			}
			if (n < 0) {
				/* The reader went away (the host closed, the process closed stdin).
				 */
				finish(pp);
				return;
			}
			pp->off += (size_t)n;
			pp->bytes += (unsigned long long)n;
			continue;
		}
		ssize_t n = read(pp->src, pp->buf, PUMP_BUF);
		if (n > 0) {
			pp->len = (size_t)n;
			pp->off = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && !pp->drain) {
			watch(pp, true);
			return;
		}
		/* EOF, a pty master's EIO (every slave closed), an error, or nothing left after
		 * the drain bound. */
		finish(pp);
		return;
	}
	if (!pp->done)
		watch(pp, pp->off >= pp->len);
}

static void pump_event(struct loop *l, int fd, uint32_t events, void *data)
{
	step(data);
}

int passfd_pump_new(struct loop *l, int src, int dst, passfd_pump_done_fn done, void *data,
                    struct passfd_pump **ret)
{
	struct passfd_pump *pp = calloc(1, sizeof(*pp));
	if (!pp || !(pp->buf = malloc(PUMP_BUF))) {
		free(pp);
		return -ENOMEM;
	}
	pp->l = l;
	pp->src = src;
	pp->dst = dst;
	pp->cb = done;
	pp->data = data;
	pp->notify.cb = pump_notify;
	fcntl(src, F_SETFL, fcntl(src, F_GETFL) | O_NONBLOCK);
	fcntl(dst, F_SETFL, fcntl(dst, F_GETFL) | O_NONBLOCK);
	/* A container's stdout or stderr is a pipe (splice); a terminal's pty master or the host's
	 * stdin connection is copied through buf.  The pipe grows from 64 to 256 KiB: in the
	 * bench (tests/bench/ctr_bench.c) splice alone gained nothing, splice with the larger pipe
	 * about a quarter.  A stream whose reader stalls holds at most that much more; if the
	 * kernel refuses the size, the pipe keeps its own. */
	struct stat st;
	pp->splice = fstat(src, &st) == 0 && S_ISFIFO(st.st_mode);
	if (pp->splice)
		(void)fcntl(src, F_SETPIPE_SZ, (int)SPLICE_MAX);
	int r = loop_add(l, src, EPOLLIN, pump_event, pp, &pp->sw);
	if (r < 0) {
		free(pp->buf);
		free(pp);
		return r;
	}
	*ret = pp;
	return 0;
}

void passfd_pump_drain(struct passfd_pump *pp)
{
	if (!pp || pp->done)
		return;
	pp->drain = true;
	step(pp);
}

bool passfd_pump_done(const struct passfd_pump *pp)
{
	return !pp || pp->done;
}

unsigned long long passfd_pump_bytes(const struct passfd_pump *pp)
{
	return pp ? pp->bytes : 0;
}

void passfd_pump_free(struct passfd_pump *pp)
{
	if (!pp)
		return;
	pp->cb = NULL;
	finish(pp);
	loop_defer_cancel(&pp->notify);
	free(pp);
}

// SPDX-License-Identifier: Apache-2.0
#include "logport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "agent.h"
#include "log.h"
#include "util.h"

/* One queued line; sent > 0 only for the head, while the connection has part of it. */
struct entry {
	struct list link;
	size_t len, sent;
	unsigned long long marks; /* a "N lines dropped" line: N; else 0 */
	char data[];
};

struct logport {
	struct loop *loop;
	int lfd, cfd;
	struct loop_listen ll;
	struct loop_watch *cw;
	bool peer_eof; /* the peer shut down its side: stop reading, keep writing */
	bool broken;   /* a write failed: drop the connection after this batch */
	struct loop_defer drop;
	struct list q;
	size_t bytes, max;
	unsigned long long pending_drops, total_drops;
	char addr_text[200];
};

static struct entry *entry_new(const char *p, size_t n)
{
	struct entry *e = malloc(sizeof(*e) + n);
	if (!e)
		return NULL;
	e->len = n;
	e->sent = 0;
	e->marks = 0;
	memcpy(e->data, p, n);
	return e;
}

static void entry_free(struct logport *lp, struct entry *e)
{
	list_del(&e->link);
	lp->bytes -= e->len;
	free(e);
}

static struct entry *head(struct logport *lp)
{
	return list_empty(&lp->q) ? NULL : container_of(lp->q.next, struct entry, link);
}

static void drop_connection(struct loop *l, struct loop_defer *d);

int logport_new(size_t max_bytes, struct logport **ret)
{
	struct logport *lp = calloc(1, sizeof(*lp));
	if (!lp)
		return -ENOMEM;
	lp->lfd = lp->cfd = -1;
	lp->max = max_bytes;
	lp->drop.cb = drop_connection;
	list_init(&lp->q);
	*ret = lp;
	return 0;
}

/* Drop the oldest line that is not on its way out.  Returns false when there is none. */
static bool drop_oldest(struct logport *lp)
{
	struct list *p = lp->q.next;
	if (p != &lp->q && container_of(p, struct entry, link)->sent > 0)
		p = p->next;
	if (p == &lp->q)
		return false;
	struct entry *e = container_of(p, struct entry, link);
	if (e->marks) {
		/* An unsent marker folds back into the count for the next one. */
		lp->pending_drops += e->marks;
	} else {
		lp->pending_drops++;
		lp->total_drops++;
	}
	entry_free(lp, e);
	return true;
}

/* The gap left by dropped lines is marked where it is, by a log line of its own. */
static int insert_marker(struct logport *lp)
{
	char msg[64], line[512];
	snprintf(msg, sizeof(msg), "%llu lines dropped (log port queue full)", lp->pending_drops);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	size_t n =
	    log_format(line, sizeof(line), LV_WARN, "logport",
	               (long long)now.tv_sec * 1000000000ll + now.tv_nsec, (int)getpid(), msg);
	struct entry *e = entry_new(line, n);
	if (!e)
		return -ENOMEM;
	e->marks = lp->pending_drops;
	/* At the head: the dropped lines were the oldest not yet started. */
	e->link.next = lp->q.next;
	e->link.prev = &lp->q;
	lp->q.next->prev = &e->link;
	lp->q.next = &e->link;
	lp->bytes += n;
	lp->pending_drops = 0;
	return 0;
}

static void update_watch(struct logport *lp)
{
	if (!lp->cw)
		return;
	uint32_t ev = lp->peer_eof ? 0 : EPOLLIN | EPOLLRDHUP;
	if (!list_empty(&lp->q) && !lp->broken)
		ev |= EPOLLOUT;
	loop_mod(lp->loop, lp->cw, ev);
}

/* Send as much as the socket takes now. */
static void flush(struct logport *lp)
{
	while (lp->cfd >= 0 && !lp->broken && !list_empty(&lp->q)) {
		struct entry *e = head(lp);
		if (e->sent == 0 && lp->pending_drops > 0 && insert_marker(lp) < 0)
			break;
		e = head(lp);
		struct iovec iov[16];
		int n = 0;
		struct list *p;
		list_for_each (p, &lp->q) {
			struct entry *x = container_of(p, struct entry, link);
			iov[n].iov_base = x->data + x->sent;
			iov[n].iov_len = x->len - x->sent;
			/* A marker must follow a partly sent head: send the head alone. */
			if (++n == (int)ARRAY_SIZE(iov) || lp->pending_drops > 0)
				break;
		}
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(lp->cfd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				lp->broken = true;
				if (lp->loop)
					loop_defer(lp->loop, &lp->drop);
			}
			break;
		}
		size_t left = (size_t)w;
		while (left > 0) {
			e = head(lp);
			size_t rest = e->len - e->sent;
			if (left < rest) {
				e->sent += left;
				break;
			}
			left -= rest;
			entry_free(lp, e);
		}
	}
	update_watch(lp);
}

void logport_push(struct logport *lp, const char *line, size_t len)
{
	if (!lp || len == 0)
		return;
	while (lp->bytes + len > lp->max && drop_oldest(lp)) {
	}
	struct entry *e = entry_new(line, len);
	if (!e) {
		lp->pending_drops++;
		lp->total_drops++;
		return;
	}
	list_add_tail(&lp->q, &e->link);
	lp->bytes += len;
	flush(lp);
}

static void disconnect(struct logport *lp)
{
	if (lp->cfd < 0)
		return;
	loop_del(lp->loop, lp->cw);
	lp->cw = NULL;
	close(lp->cfd);
	lp->cfd = -1;
	lp->peer_eof = lp->broken = false;
	loop_defer_cancel(&lp->drop);
	/* The rest of a half-sent line would start the next connection mid-line. */
	struct entry *e = head(lp);
	if (e && e->sent > 0)
		entry_free(lp, e);
	if (lp->ll.w)
		loop_listen_enable(lp->loop, &lp->ll, true);
}

static void drop_connection(struct loop *l, struct loop_defer *d)
{
	struct logport *lp = container_of(d, struct logport, drop);
	disconnect(lp);
	log_info("logport", "log connection on %s closed; waiting for the next", lp->addr_text);
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	struct logport *lp = data;
	if (events & EPOLLIN) {
		/* Nothing is expected from the peer: read and discard, noticing EOF. */
		char junk[512];
		ssize_t n;
		while ((n = read(fd, junk, sizeof(junk))) > 0) {
		}
		if (n == 0)
			lp->peer_eof = true;
		else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			events |= EPOLLERR;
	}
	if (events & EPOLLRDHUP)
		lp->peer_eof = true;
	if (events & (EPOLLHUP | EPOLLERR)) {
		lp->broken = true;
		loop_defer(l, &lp->drop);
		update_watch(lp);
		return;
	}
	flush(lp);
}

static void on_listen(struct loop *l, int fd, uint32_t events, void *data)
{
	struct logport *lp = data;
	if (lp->cfd >= 0)
		return;
	unsigned cid;
	int c = addr_accept(fd, SOCK_NONBLOCK | SOCK_CLOEXEC, agent.cfg.allow_local_vsock, &cid);
	if (c == -ECONNREFUSED)
		log_warn("logport",
		         "connection from vsock CID %u refused: only the host may connect", cid);
	if (c < 0) {
		/* Out of fds or memory: rest.  Else EAGAIN, the peer already gone, or refused. */
		loop_listen_rest(l, &lp->ll, c);
		return;
	}
	int r = loop_add(l, c, EPOLLIN | EPOLLRDHUP, on_conn, lp, &lp->cw);
	if (r < 0) {
		close(c);
		return;
	}
	lp->cfd = c;
	/* Later connections wait in the backlog until this one goes. */
	loop_listen_enable(l, &lp->ll, false);
	log_info("logport", "log connection on %s: streaming", lp->addr_text);
	flush(lp);
}

int logport_listen(struct logport *lp, struct loop *l, const char *addr_text)
{
	struct addr a;
	const char *err = NULL;
	if (addr_parse(addr_text, &a, &err) < 0)
		return -EINVAL;
	addr_format(&a, lp->addr_text, sizeof(lp->addr_text));
	int fd, r = addr_listen(&a, 8, &fd);
	if (r < 0)
		return r;
	lp->loop = l;
	r = loop_listen_add(l, &lp->ll, fd, on_listen, lp, "logport");
	if (r < 0) {
		close(fd);
		return r;
	}
	lp->lfd = fd;
	return 0;
}

void logport_free(struct logport *lp)
{
	if (!lp)
		return;
	disconnect(lp);
	loop_listen_del(lp->loop, &lp->ll);
	if (lp->lfd >= 0)
		close(lp->lfd);
	while (!list_empty(&lp->q))
		entry_free(lp, head(lp));
	free(lp);
}

size_t logport_queued(const struct logport *lp)
{
	return lp->bytes;
}

unsigned long long logport_dropped(const struct logport *lp)
{
	return lp->total_drops;
}

bool logport_connected(const struct logport *lp)
{
	return lp->cfd >= 0;
}

/* ---- agent glue ---- */

static struct logport *agent_logport;

static void sink(const char *line, size_t len, void *data)
{
	logport_push(data, line, len);
}

/* The address to serve, or false when no log port is configured. */
static bool configured_addr(const struct agent_config *cfg, char *buf, size_t size)
{
	const char *env = getenv(LOGPORT_ADDR_ENV);
	if (env && *env)
		snprintf(buf, size, "%s", env);
	else if (cfg->log_vport > 0)
		snprintf(buf, size, "vsock://-1:%u", cfg->log_vport);
	else
		return false;
	return true;
}

void logport_capture(const struct agent_config *cfg)
{
	char a[200];
	if (agent_logport || !configured_addr(cfg, a, sizeof(a)))
		return;
	if (logport_new(LOGPORT_QUEUE_MAX, &agent_logport) == 0)
		log_set_sink(sink, agent_logport);
}

void logport_start(const struct agent_config *cfg)
{
	char a[200];
	if (!configured_addr(cfg, a, sizeof(a)))
		return;
	logport_capture(cfg);
	if (!agent_logport)
		return;
	int r = logport_listen(agent_logport, agent.loop, a);
	if (r < 0) {
		log_set_sink(NULL, NULL);
		logport_free(agent_logport);
		agent_logport = NULL;
		log_warn("logport", "log port %s: %s; logging to the console only", a,
		         r == -EINVAL ? "bad address" : strerror(-r));
		return;
	}
	log_info("logport", "log port listening on %s", agent_logport->addr_text);
}

void logport_stop(void)
{
	if (!agent_logport)
		return;
	log_set_sink(NULL, NULL);
	logport_free(agent_logport);
	agent_logport = NULL;
}

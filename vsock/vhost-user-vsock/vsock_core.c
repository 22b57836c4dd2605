// SPDX-License-Identifier: Apache-2.0
/*
 * Connection state machine.  Invariants, per connection:
 *   rx_cnt - fwd_cnt == to_host.len <= buf_alloc   (the guest must respect our credit)
 *   tx_cnt - peer_fwd_cnt <= peer_buf_alloc         (we respect the guest's)
 * A connection the guest knows about is in the hash table; closing it with rst=true queues an
 * RST for the guest.  Closed connections wait in the graveyard until the end of the epoll batch
 * so that events already fetched for them are ignored rather than used after free.
 */
#include "vsock_core.h"

#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>

#include "ringbuf.h"

enum conn_state { CS_LINE, CS_CONNECTING, CS_ESTABLISHED };

struct conn {
	struct ev_src src;
	struct vsock_core *core;
	int fd;
	enum conn_state state;
	bool dead, in_table, in_pending;
	uint32_t local_port, peer_port;
	struct list link_hash, link_all, link_pending;
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	uint32_t rx_cnt, fwd_cnt, last_fwd_sent;
	struct ringbuf to_host, to_guest;
	bool pend_request, pend_response, pend_credit;
	bool host_eof, shut_sent, guest_shut_send, guest_shut_rcv, wr_shut_done;
	uint32_t ep_events;
	uint64_t deadline_ms;
	unsigned serial; /* for the observer; 0 until it saw the connection open */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned bucket_of(uint32_t local, uint32_t peer)
{
	return (local * 2654435761u ^ peer) % VSC_CONN_BUCKETS;
}

static struct conn *lookup(struct vsock_core *c, uint32_t local, uint32_t peer)
{
	struct list *pos, *tmp;
	list_for_each_safe (pos, tmp, &c->buckets[bucket_of(local, peer)]) {
		struct conn *k = container_of(pos, struct conn, link_hash);
		if (k->local_port == local && k->peer_port == peer)
			return k;
	}
	return NULL;
}

static void table_insert(struct conn *k)
{
	list_add_tail(&k->core->buckets[bucket_of(k->local_port, k->peer_port)], &k->link_hash);
	k->in_table = true;
}

static uint32_t peer_credit(const struct conn *k)
{
	uint32_t inflight = k->tx_cnt - k->peer_fwd_cnt;
	return inflight >= k->peer_buf_alloc ? 0 : k->peer_buf_alloc - inflight;
}

static bool has_output(const struct conn *k)
{
	if (k->dead || k->state == CS_LINE)
		return false;
	if (k->pend_request || k->pend_response || k->pend_credit)
		return true;
	if (k->state != CS_ESTABLISHED)
		return false;
	if (k->to_guest.len > 0 && peer_credit(k) > 0)
		return true;
	return k->host_eof && k->to_guest.len == 0 && !k->shut_sent;
}

static void mark_pending(struct conn *k)
{
	if (!k->in_pending && has_output(k)) {
		list_add_tail(&k->core->pending, &k->link_pending);
		k->in_pending = true;
	}
}

/* Interest set from state; a connection that wants nothing is taken out of epoll entirely so
 * that a hung-up peer cannot make epoll_wait spin on EPOLLHUP. */
static void update_events(struct conn *k)
{
	uint32_t want = 0;
	if (k->dead)
		return;
	if (k->state == CS_LINE)
		want = EPOLLIN;
	else if (k->state == CS_ESTABLISHED) {
		if (!k->host_eof && !k->guest_shut_rcv && rb_space(&k->to_guest) > 0)
			want |= EPOLLIN;
		if (k->to_host.len > 0)
			want |= EPOLLOUT;
	}
	if (want == k->ep_events)
		return;
	struct epoll_event ev = {.events = want, .data.ptr = &k->src};
	int op = !k->ep_events ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
	if (epoll_ctl(k->core->epfd, op, k->fd, &ev) < 0)
		log_err("epoll_ctl(conn %u:%u): %m", k->local_port, k->peer_port);
	k->ep_events = want;
}

static void fill_hdr(struct vsock_hdr *h, const struct vsock_core *c, uint32_t local, uint32_t peer,
                     uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(c->guest_cid);
	h->src_port = htole32(local);
	h->dst_port = htole32(peer);
	h->type = htole16(VSOCK_TYPE_STREAM);
	h->op = htole16(op);
}

static void queue_rst(struct vsock_core *c, uint32_t local, uint32_t peer)
{
	if (c->rst_len == VSC_RST_QUEUE) {
		log_warn("RST queue full, dropping RST for %u:%u", local, peer);
		return;
	}
	fill_hdr(&c->rst_q[(c->rst_head + c->rst_len) % VSC_RST_QUEUE], c, local, peer,
	         VSOCK_OP_RST);
	c->rst_len++;
}

static void conn_close(struct conn *k, bool rst)
{
	if (k->dead)
		return;
	log_debug("close %u:%u%s", k->local_port, k->peer_port, rst ? " (RST)" : "");
	if (k->serial && k->core->obs)
		k->core->obs->close(k->core->obs->opaque, k->serial);
	if (k->in_table) {
		list_del(&k->link_hash);
		if (rst)
			queue_rst(k->core, k->local_port, k->peer_port);
	}
	if (k->in_pending)
		list_del(&k->link_pending);
	if (k->ep_events)
		epoll_ctl(k->core->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	closep(&k->fd);
	k->fd = -1;
	rb_free(&k->to_host);
	rb_free(&k->to_guest);
	k->dead = true;
	list_del(&k->link_all);
	list_add_tail(&k->core->graveyard, &k->link_all);
	k->core->nconns--;
}

static void conn_event(struct ev_src *src, uint32_t events);

static struct conn *conn_new(struct vsock_core *c, int fd, enum conn_state state)
{
	if (c->nconns >= VSC_MAX_CONNS)
		return NULL;
	struct conn *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	if (rb_init(&k->to_host, c->buf_alloc) < 0 || rb_init(&k->to_guest, VSC_TO_GUEST_BUF) < 0) {
		rb_free(&k->to_host);
		free(k);
		return NULL;
	}
	k->src.fn = conn_event;
	k->core = c;
	k->fd = fd;
	k->state = state;
	list_init(&k->link_hash);
	list_init(&k->link_pending);
	list_add_tail(&c->all, &k->link_all);
	c->nconns++;
	k->deadline_ms = now_ms() + VSC_CONNECT_TIMEOUT_MS;
	update_events(k);
	return k;
}

/* Ask for a credit update once a quarter of our buffer was forwarded unannounced: the guest
 * stalls only at zero credit, and by then fwd_cnt has moved by the whole buffer. */
static void maybe_credit_update(struct conn *k)
{
	if (k->fwd_cnt - k->last_fwd_sent >= k->core->buf_alloc / 4)
		k->pend_credit = true;
}

/* The guest will send nothing more and everything it sent reached the socket. */
static void after_drain(struct conn *k)
{
	if (k->to_host.len > 0 || !k->guest_shut_send)
		return;
	if (k->guest_shut_rcv) {
		/* Both directions shut by the guest: it waits for our RST to finish the close. */
		conn_close(k, true);
		return;
	}
	if (!k->wr_shut_done) {
		shutdown(k->fd, SHUT_WR);
		k->wr_shut_done = true;
	}
}

static int send_iov(int fd, struct iovec *iov, unsigned n)
{
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
	ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	return (int)r;
}

static void flush_to_host(struct conn *k)
{
	struct iovec iov[2];
	unsigned n = rb_data_iov(&k->to_host, iov);
	if (n == 0)
		return;
	int r = send_iov(k->fd, iov, n);
	if (r < 0) {
		log_debug("conn %u:%u: write: %s", k->local_port, k->peer_port, strerror(-r));
		conn_close(k, true);
		return;
	}
	rb_consumed(&k->to_host, (size_t)r);
	k->fwd_cnt += (uint32_t)r;
	maybe_credit_update(k);
	after_drain(k);
}

static void read_from_host(struct conn *k)
{
	struct iovec iov[2];
	unsigned n = rb_space_iov(&k->to_guest, iov);
	if (n == 0)
		return;
	ssize_t r = readv(k->fd, iov, (int)n);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_debug("conn %u:%u: read: %m", k->local_port, k->peer_port);
		conn_close(k, true);
		return;
	}
	if (r == 0) {
		k->host_eof = true;
		return;
	}
	if (k->serial && k->core->obs)
		k->core->obs->data(k->core->obs->opaque, k->serial, true, iov, n, 0, (size_t)r);
	rb_produced(&k->to_guest, (size_t)r);
}

/* Allocates a host port no live connection uses. */
static uint32_t alloc_port(struct vsock_core *c)
{
	for (;;) {
		uint32_t p = c->next_port++;
		if (c->next_port == UINT32_MAX)
			c->next_port = VSC_FIRST_HOST_PORT;
		bool used = false;
		struct list *pos, *tmp;
		list_for_each_safe (pos, tmp, &c->all) {
			if (container_of(pos, struct conn, link_all)->local_port == p) {
				used = true;
				break;
			}
		}
		if (!used)
			return p;
	}
}

int vsc_parse_connect(const char *line, size_t len, uint32_t *ret_port)
{
	static const char prefix[] = "CONNECT ";
	size_t pl = sizeof(prefix) - 1;
	if (len < pl + 2 || memcmp(line, prefix, pl) != 0 || line[len - 1] != '\n')
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = pl; i < len - 1; i++) {
		if (line[i] < '0' || line[i] > '9' || i - pl >= 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(line[i] - '0');
	}
	if (v > UINT32_MAX)
		return -EINVAL;
	*ret_port = (uint32_t)v;
	return 0;
}

/* Reads the CONNECT line without consuming anything after it: bytes the client sends early
 * belong to the stream. */
static void handle_line(struct conn *k)
{
	char buf[32];
	ssize_t n = recv(k->fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(k, false);
		return;
	}
	char *nl = memchr(buf, '\n', (size_t)n);
	if (!nl) {
		if ((size_t)n == sizeof(buf))
			conn_close(k, false);
		return;
	}
	size_t len = (size_t)(nl - buf) + 1;
	uint32_t port;
	if (recv(k->fd, buf, len, MSG_DONTWAIT) != (ssize_t)len ||
	    vsc_parse_connect(buf, len, &port) < 0) {
		log_info("hybrid socket: malformed CONNECT line, closing");
		conn_close(k, false);
		return;
	}
	k->local_port = alloc_port(k->core);
	k->peer_port = port;
	k->state = CS_CONNECTING;
	k->pend_request = true;
	k->deadline_ms = now_ms() + VSC_CONNECT_TIMEOUT_MS;
	table_insert(k);
	update_events(k);
	mark_pending(k);
	log_debug("CONNECT %u from host port %u", port, k->local_port);
}

static void conn_event(struct ev_src *src, uint32_t events)
{
	struct conn *k = container_of(src, struct conn, src);
	if (k->dead)
		return;
	if (k->state == CS_LINE) {
		handle_line(k);
		vsc_process_rx(k->core);
		return;
	}
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		flush_to_host(k);
	if (!k->dead && (k->ep_events & EPOLLIN) && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		read_from_host(k);
	if (k->dead)
		return;
	update_events(k);
	mark_pending(k);
	vsc_process_rx(k->core);
}

static void observe_open(struct conn *k, bool host_initiated)
{
	struct vsock_core *c = k->core;
	if (!c->obs)
		return;
	k->serial = ++c->next_conn_serial;
	c->obs->open(c->obs->opaque, k->serial, host_initiated ? k->peer_port : k->local_port,
	             host_initiated);
}

static void establish(struct conn *k)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "OK %u\n", k->local_port);
	if (send(k->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
		conn_close(k, true);
		return;
	}
	k->state = CS_ESTABLISHED;
	observe_open(k, true);
}

static void guest_connect(struct vsock_core *c, uint32_t local, uint32_t peer,
                          const struct vsock_hdr *h)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", c->uds_path, local);
	_cleanup_close_ int fd = -1;
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		goto refuse;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_debug("guest connect to port %u: %s: %m", local, sa.sun_path);
		goto refuse;
	}
	struct conn *k = conn_new(c, fd, CS_ESTABLISHED);
	if (!k)
		goto refuse;
	TAKE_FD(fd);
	k->local_port = local;
	k->peer_port = peer;
	k->peer_buf_alloc = le32toh(h->buf_alloc);
	k->peer_fwd_cnt = le32toh(h->fwd_cnt);
	k->pend_response = true;
	observe_open(k, false);
	table_insert(k);
	update_events(k);
	mark_pending(k);
	return;
refuse:
	queue_rst(c, local, peer);
}

static void rx_data(struct conn *k, const struct vq_chain *ch, uint32_t len)
{
	uint32_t buffered = k->rx_cnt - k->fwd_cnt;
	if (k->guest_shut_send || len > k->core->buf_alloc - buffered) {
		log_warn("conn %u:%u: guest overran credit (%u bytes, %u buffered)", k->local_port,
		         k->peer_port, len, buffered);
		conn_close(k, true);
		return;
	}
	k->rx_cnt += len;
	size_t off = sizeof(struct vsock_hdr);
	if (k->serial && k->core->obs && len > 0)
		k->core->obs->data(k->core->obs->opaque, k->serial, false, ch->out, ch->n_out, off,
		                   len);
	if (k->to_host.len == 0 && len > 0) {
		/* Fast path: straight from guest memory to the socket. */
		struct iovec iov[VQ_MAX_IOV];
		unsigned n = 0;
		size_t skip = off, left = len;
		for (unsigned i = 0; i < ch->n_out && left > 0; i++) {
			if (skip >= ch->out[i].iov_len) {
				skip -= ch->out[i].iov_len;
				continue;
			}
			size_t c = MIN(ch->out[i].iov_len - skip, left);
			iov[n++] = (struct iovec){(uint8_t *)ch->out[i].iov_base + skip, c};
			left -= c;
			skip = 0;
		}
		int r = send_iov(k->fd, iov, n);
		if (r < 0) {
			conn_close(k, true);
			return;
		}
		k->fwd_cnt += (uint32_t)r;
		off += (size_t)r;
		len -= (uint32_t)r;
	}
	rb_put_iov(&k->to_host, ch->out, ch->n_out, off, len);
	maybe_credit_update(k);
}

static void handle_pkt(struct vsock_core *c, const struct vq_chain *ch)
{
	struct vsock_hdr h;
	if (iov_to_buf(ch->out, ch->n_out, 0, &h, sizeof(h)) != sizeof(h)) {
		log_warn("tx: packet shorter than a header, dropped");
		return;
	}
	uint32_t local = le32toh(h.dst_port), peer = le32toh(h.src_port);
	uint32_t len = le32toh(h.len);
	uint16_t op = le16toh(h.op);
	if (le64toh(h.dst_cid) != VSOCK_HOST_CID || le64toh(h.src_cid) != c->guest_cid) {
		log_warn("tx: packet from cid %llu to cid %llu dropped",
		         (unsigned long long)le64toh(h.src_cid),
		         (unsigned long long)le64toh(h.dst_cid));
		return;
	}
	struct conn *k = lookup(c, local, peer);
	bool bad = le16toh(h.type) != VSOCK_TYPE_STREAM || len > VSOCK_MAX_PKT_PAYLOAD ||
	           len > ch->out_len - sizeof(h);
	if (bad || !k) {
		if (bad)
			log_warn("tx: bad packet op %u type %u len %u (chain %zu)", op,
			         le16toh(h.type), len, ch->out_len);
		if (k)
			conn_close(k, true);
		else if (!bad && op == VSOCK_OP_REQUEST)
			guest_connect(c, local, peer, &h);
		else if (op != VSOCK_OP_RST)
			queue_rst(c, local, peer);
		return;
	}
	k->peer_buf_alloc = le32toh(h.buf_alloc);
	k->peer_fwd_cnt = le32toh(h.fwd_cnt);
	switch (op) {
	case VSOCK_OP_RST:
		conn_close(k, false);
		return;
	case VSOCK_OP_RESPONSE:
		if (k->state != CS_CONNECTING) {
			conn_close(k, true);
			return;
		}
		establish(k);
		break;
	case VSOCK_OP_RW:
		if (k->state != CS_ESTABLISHED) {
			conn_close(k, true);
			return;
		}
		rx_data(k, ch, len);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		k->pend_credit = true;
		break;
	case VSOCK_OP_SHUTDOWN: {
		uint32_t fl = le32toh(h.flags);
		if (fl & VSOCK_SHUTDOWN_SEND)
			k->guest_shut_send = true;
		if (fl & VSOCK_SHUTDOWN_RCV) {
			k->guest_shut_rcv = true;
			rb_consumed(&k->to_guest, k->to_guest.len); /* nobody will read it */
		}
		after_drain(k);
		break;
	}
	default: /* REQUEST on a live connection, INVALID, unknown */
		conn_close(k, true);
		return;
	}
	if (k->dead)
		return;
	update_events(k);
	mark_pending(k);
}

void vsc_process_tx(struct vsock_core *c)
{
	struct vq_chain ch;
	/* One ring's worth per call (virtq.h); a later kick resumes. */
	unsigned pass = c->txq->num;
	while (vq_pop(c->txq, c->mem, &pass, &ch) > 0) {
		c->pkts_from_guest++;
		handle_pkt(c, &ch);
		vq_push(c->txq, ch.head, 0);
	}
	vq_notify(c->txq);
	vsc_process_rx(c);
}

/* Writes the next packet for k into ch; returns its length. */
static size_t emit(struct conn *k, const struct vq_chain *ch)
{
	struct vsock_hdr h;
	size_t room = ch->in_len - sizeof(h), n = 0;
	uint16_t op;
	if (k->pend_request) {
		op = VSOCK_OP_REQUEST;
		k->pend_request = false;
	} else if (k->pend_response) {
		op = VSOCK_OP_RESPONSE;
		k->pend_response = false;
		k->state = CS_ESTABLISHED;
	} else if (k->state == CS_ESTABLISHED && k->to_guest.len > 0 && peer_credit(k) > 0 &&
	           room > 0) {
		op = VSOCK_OP_RW;
		n = MIN(MIN(k->to_guest.len, (size_t)peer_credit(k)),
		        MIN(room, VSOCK_MAX_PKT_PAYLOAD));
		struct iovec d[2];
		unsigned nd = rb_data_iov(&k->to_guest, d);
		size_t done = 0;
		for (unsigned i = 0; i < nd && done < n; i++) {
			size_t cnt = MIN(d[i].iov_len, n - done);
			buf_to_iov(ch->in, ch->n_in, sizeof(h) + done, d[i].iov_base, cnt);
			done += cnt;
		}
		rb_consumed(&k->to_guest, n);
		k->tx_cnt += (uint32_t)n;
	} else if (k->state == CS_ESTABLISHED && k->host_eof && k->to_guest.len == 0 &&
	           !k->shut_sent) {
		op = VSOCK_OP_SHUTDOWN;
		k->shut_sent = true;
	} else {
		op = VSOCK_OP_CREDIT_UPDATE;
	}
	fill_hdr(&h, k->core, k->local_port, k->peer_port, op);
	if (op == VSOCK_OP_SHUTDOWN)
		h.flags = htole32(VSOCK_SHUTDOWN_SEND);
	h.len = htole32((uint32_t)n);
	h.buf_alloc = htole32(k->core->buf_alloc);
	h.fwd_cnt = htole32(k->fwd_cnt);
	k->last_fwd_sent = k->fwd_cnt;
	k->pend_credit = false;
	buf_to_iov(ch->in, ch->n_in, 0, &h, sizeof(h));
	return sizeof(h) + n;
}

void vsc_process_rx(struct vsock_core *c)
{
	struct vq_chain ch;
	/* One ring's worth per call too; the next event or the 1 s timer resumes. */
	unsigned pass = c->rxq->num;
	while (vq_has_avail(c->rxq) && (c->rst_len > 0 || !list_empty(&c->pending))) {
		if (vq_pop(c->rxq, c->mem, &pass, &ch) <= 0)
			break;
		if (ch.in_len < sizeof(struct vsock_hdr)) {
			log_warn("rx: buffer of %zu bytes cannot hold a header", ch.in_len);
			vq_push(c->rxq, ch.head, 0);
			continue;
		}
		size_t len;
		if (c->rst_len > 0) {
			len = buf_to_iov(ch.in, ch.n_in, 0, &c->rst_q[c->rst_head],
			                 sizeof(struct vsock_hdr));
			c->rst_head = (c->rst_head + 1) % VSC_RST_QUEUE;
			c->rst_len--;
			c->rsts_sent++;
		} else {
			struct conn *k = container_of(c->pending.next, struct conn, link_pending);
			list_del(&k->link_pending);
			k->in_pending = false;
			len = emit(k, &ch);
			update_events(k);
			mark_pending(k); /* to the back: round robin */
		}
		vq_push(c->rxq, ch.head, (uint32_t)len);
		c->pkts_to_guest++;
	}
	/* Drop connections that turned out to have nothing to say. */
	struct list *pos, *tmp;
	list_for_each_safe (pos, tmp, &c->pending) {
		struct conn *k = container_of(pos, struct conn, link_pending);
		if (!has_output(k)) {
			list_del(&k->link_pending);
			k->in_pending = false;
		}
	}
	vq_notify(c->rxq);
}

static void listen_event(struct ev_src *src, uint32_t events)
{
	struct vsock_core *c = container_of(src, struct vsock_core, listen_src);
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!conn_new(c, fd, CS_LINE)) {
		log_warn("hybrid socket: too many connections, refusing");
		close(fd);
	}
}

static void timer_event(struct ev_src *src, uint32_t events)
{
	struct vsock_core *c = container_of(src, struct vsock_core, timer_src);
	uint64_t ticks;
	if (read(c->timer_fd, &ticks, sizeof(ticks)) < 0)
		return;
	uint64_t now = now_ms();
	struct list *pos, *tmp;
	list_for_each_safe (pos, tmp, &c->all) {
		struct conn *k = container_of(pos, struct conn, link_all);
		if (k->state != CS_ESTABLISHED && now >= k->deadline_ms) {
			log_info("connection to guest port %u timed out", k->peer_port);
			conn_close(k, true);
		}
	}
	vsc_process_rx(c);
}

int vsc_init(struct vsock_core *c, uint64_t guest_cid, const char *uds_path, int epfd,
             const struct guest_mem *mem, struct virtq *rxq, struct virtq *txq)
{
	memset(c, 0, sizeof(*c));
	c->listen_fd = c->timer_fd = -1;
	c->guest_cid = guest_cid;
	c->epfd = epfd;
	c->mem = mem;
	c->rxq = rxq;
	c->txq = txq;
	c->buf_alloc = VSC_BUF_ALLOC;
	c->next_port = VSC_FIRST_HOST_PORT;
	for (unsigned i = 0; i < VSC_CONN_BUCKETS; i++)
		list_init(&c->buckets[i]);
	list_init(&c->all);
	list_init(&c->pending);
	list_init(&c->graveyard);

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	/* Room for "_<port>" on the guest-initiated paths. */
	if (strlen(uds_path) + 11 >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(c->uds_path, uds_path);
	strcpy(sa.sun_path, uds_path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0)
		return -errno;
	unlink(uds_path);
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->listen_fd, 64) < 0)
		return -errno;
	c->listen_src.fn = listen_event;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->listen_src};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0)
		return -errno;

	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (c->timer_fd < 0)
		return -errno;
	struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
	timerfd_settime(c->timer_fd, 0, &its, NULL);
	c->timer_src.fn = timer_event;
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &c->timer_src};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->timer_fd, &ev) < 0)
		return -errno;
	return 0;
}

int vsc_check(const struct vsock_core *c)
{
	unsigned live = 0;
	struct list *pos, *tmp;
	list_for_each_safe (pos, tmp, (struct list *)&c->all) {
		const struct conn *k = container_of(pos, struct conn, link_all);
		live++;
		if (k->dead || k->fd < 0)
			return -EPROTO;
		/* The credit granted to the guest, buf_alloc - (rx_cnt - fwd_cnt), is never
		 * negative and matches what waits in to_host. */
		if (k->rx_cnt - k->fwd_cnt != k->to_host.len || k->to_host.len > c->buf_alloc)
			return -EPROTO;
		if (k->to_host.len > k->to_host.cap || k->to_guest.len > k->to_guest.cap)
			return -EPROTO;
		if (k->in_table && lookup((struct vsock_core *)c, k->local_port, k->peer_port) != k)
			return -EPROTO;
	}
	if (live != c->nconns || c->nconns > VSC_MAX_CONNS || c->rst_len > VSC_RST_QUEUE)
		return -EPROTO;
	return 0;
}

void vsc_reset_all(struct vsock_core *c)
{
	struct list *pos, *tmp;
	list_for_each_safe (pos, tmp, &c->all) {
		conn_close(container_of(pos, struct conn, link_all), false);
	}
	c->rst_len = 0;
}

void vsc_reap(struct vsock_core *c)
{
	struct list *pos, *tmp;
	list_for_each_safe (pos, tmp, &c->graveyard) {
		list_del(pos);
		free(container_of(pos, struct conn, link_all));
	}
}

void vsc_fini(struct vsock_core *c)
{
	vsc_reset_all(c);
	vsc_reap(c);
	if (c->listen_fd >= 0 && c->uds_path[0])
		unlink(c->uds_path);
	closep(&c->listen_fd);
	closep(&c->timer_fd);
	c->listen_fd = c->timer_fd = -1;
}

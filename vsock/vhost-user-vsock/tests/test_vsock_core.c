// SPDX-License-Identifier: Apache-2.0
/* The vsock packet state machine and hybrid socket, driven by a fake guest on in-memory rings and
 * real unix sockets on the host side. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "evloop.h"
#include "fake_guest.h"
#include "agent.pb-c.h"
#include "ttrpc.pb-c.h"
#include "ttrpc_frame.h"
#include "vsock_core.h"
#include "vsock_trace.h"

int vuv_log_level = -1;

struct fx {
	struct fake_guest fg;
	struct guest_mem gm;
	struct virtq rxq, txq;
	struct vsock_core core;
	int epfd;
	char dir[64], uds[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	fg_init(&f->fg);
	fg_guest_mem(&f->fg, &f->gm);
	fg_setup_vq(&f->fg, VSOCK_VQ_RX, &f->rxq, &f->gm);
	fg_setup_vq(&f->fg, VSOCK_VQ_TX, &f->txq, &f->gm);
	f->epfd = epoll_create1(0);
	strcpy(f->dir, "/tmp/vuv-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	assert_int_equal(
	    vsc_init(&f->core, FG_GUEST_CID, f->uds, f->epfd, &f->gm, &f->rxq, &f->txq), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	vsc_fini(&f->core);
	close(f->epfd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	fg_fini(&f->fg);
	free(f);
	return 0;
}

/* Runs the event loop until it is idle for a short while. */
static void pump(struct fx *f)
{
	for (int i = 0; i < 200 && ev_run_once(f->epfd, 20) > 0; i++)
		vsc_reap(&f->core);
	vsc_reap(&f->core);
}

static void guest_send(struct fx *f, uint32_t src, uint32_t dst, uint16_t op, uint32_t flags,
                       const void *p, uint32_t len)
{
	fg_send(&f->fg, src, dst, op, flags, p, len);
	vsc_process_tx(&f->core);
	vsc_reap(&f->core);
}

static int expect_pkt(struct fx *f, uint16_t op, void *payload, uint32_t cap, struct vsock_hdr *h)
{
	struct vsock_hdr tmp;
	if (!h)
		h = &tmp;
	pump(f);
	assert_int_equal(fg_recv(&f->fg, h, payload, cap), 1);
	assert_int_equal(le16toh(h->op), op);
	assert_int_equal(le64toh(h->src_cid), VSOCK_HOST_CID);
	assert_int_equal(le64toh(h->dst_cid), FG_GUEST_CID);
	return (int)le32toh(h->len);
}

static void expect_no_pkt(struct fx *f)
{
	struct vsock_hdr h;
	uint8_t buf[4096];
	pump(f);
	assert_int_equal(fg_recv(&f->fg, &h, buf, sizeof(buf)), 0);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* Host client connects to guest port 1024 and the guest accepts; returns the client fd and the
 * host port. */
static int host_connect_to(struct fx *f, uint32_t guest_port, uint32_t *ret_port)
{
	int fd = unix_connect(f->uds);
	char cline[32];
	int n = snprintf(cline, sizeof(cline), "CONNECT %u\n", guest_port);
	assert_int_equal(write(fd, cline, (size_t)n), n);
	fg_post_rx(&f->fg, 32);
	struct vsock_hdr h;
	expect_pkt(f, VSOCK_OP_REQUEST, NULL, 0, &h);
	assert_int_equal(le32toh(h.dst_port), guest_port);
	uint32_t port = le32toh(h.src_port);
	assert_true(port >= VSC_FIRST_HOST_PORT);
	guest_send(f, guest_port, port, VSOCK_OP_RESPONSE, 0, NULL, 0);
	pump(f);
	char line[32] = {0}, want[32];
	snprintf(want, sizeof(want), "OK %u\n", port);
	assert_int_equal(read(fd, line, strlen(want)), (ssize_t)strlen(want));
	assert_string_equal(line, want);
	*ret_port = port;
	return fd;
}

static int host_connect(struct fx *f, uint32_t *ret_port)
{
	return host_connect_to(f, 1024, ret_port);
}

static void host_connect_round_trip(void **state)
{
	struct fx *f = *state;
	uint32_t port;
	int fd = host_connect(f, &port);
	assert_int_equal(write(fd, "hello", 5), 5);
	char buf[4096];
	assert_int_equal(expect_pkt(f, VSOCK_OP_RW, buf, sizeof(buf), NULL), 5);
	assert_memory_equal(buf, "hello", 5);
	guest_send(f, 1024, port, VSOCK_OP_RW, 0, "world!", 6);
	pump(f);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "world!", 6);
	/* Client closes: the guest hears SHUTDOWN(SEND), and data it still sends gets an RST. */
	close(fd);
	struct vsock_hdr h;
	expect_pkt(f, VSOCK_OP_SHUTDOWN, NULL, 0, &h);
	assert_int_equal(le32toh(h.flags), VSOCK_SHUTDOWN_SEND);
	guest_send(f, 1024, port, VSOCK_OP_RW, 0, "late", 4);
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, NULL);
	assert_int_equal(f->core.nconns, 0);
}

static void host_to_guest_respects_guest_credit(void **state)
{
	struct fx *f = *state;
	f->fg.buf_alloc = 4096;
	uint32_t port;
	int fd = host_connect(f, &port);
	static uint8_t data[20000], got[20000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
	size_t total = 0;
	while (total < sizeof(data)) {
		size_t window = 0;
		struct vsock_hdr h;
		pump(f);
		while (fg_recv(&f->fg, &h, got + total + window, 4096)) {
			assert_int_equal(le16toh(h.op), VSOCK_OP_RW);
			window += le32toh(h.len);
		}
		/* Never more than the guest's free space. */
		assert_true(window > 0);
		assert_true(window <= 4096);
		total += window;
		fg_post_rx(&f->fg, 8);
		guest_send(f, 1024, port, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	}
	assert_memory_equal(got, data, sizeof(data));
	close(fd);
}

static void guest_to_host_credit_updates(void **state)
{
	struct fx *f = *state;
	uint32_t port;
	int fd = host_connect(f, &port);
	static uint8_t chunk[4000];
	uint32_t sent = 0;
	/* A quarter of our buffer forwarded earns the guest a CREDIT_UPDATE. */
	while (sent < VSC_BUF_ALLOC / 4) {
		guest_send(f, 1024, port, VSOCK_OP_RW, 0, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		uint8_t sink[sizeof(chunk)];
		assert_int_equal(recv(fd, sink, sizeof(sink), MSG_WAITALL), sizeof(sink));
	}
	struct vsock_hdr h;
	expect_pkt(f, VSOCK_OP_CREDIT_UPDATE, NULL, 0, &h);
	assert_int_equal(le32toh(h.fwd_cnt), sent);
	assert_int_equal(le32toh(h.buf_alloc), VSC_BUF_ALLOC);
	/* CREDIT_REQUEST is answered. */
	guest_send(f, 1024, port, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	expect_pkt(f, VSOCK_OP_CREDIT_UPDATE, NULL, 0, NULL);
	close(fd);
}

static void guest_overrunning_credit_gets_rst(void **state)
{
	struct fx *f = *state;
	f->core.buf_alloc = 1024;
	uint32_t port;
	int fd = host_connect(f, &port);
	static uint8_t big[2000];
	guest_send(f, 1024, port, VSOCK_OP_RW, 0, big, sizeof(big));
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, NULL);
	char c;
	assert_int_equal(read(fd, &c, 1), 0); /* client sees the stream end */
	close(fd);
}

static void guest_initiated_connection(void **state)
{
	struct fx *f = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s_1025", f->uds);
	int lfd = unix_listen(path);
	fg_post_rx(&f->fg, 16);
	guest_send(f, 5000, 1025, VSOCK_OP_REQUEST, 0, NULL, 0);
	struct vsock_hdr h;
	expect_pkt(f, VSOCK_OP_RESPONSE, NULL, 0, &h);
	assert_int_equal(le32toh(h.src_port), 1025);
	assert_int_equal(le32toh(h.dst_port), 5000);
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	guest_send(f, 5000, 1025, VSOCK_OP_RW, 0, "log line\n", 9);
	char buf[64];
	assert_int_equal(read(afd, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "log line\n", 9);
	assert_int_equal(write(afd, "ack", 3), 3);
	assert_int_equal(expect_pkt(f, VSOCK_OP_RW, buf, sizeof(buf), NULL), 3);
	/* Guest closes both directions: it waits for our RST; the host side sees EOF. */
	guest_send(f, 5000, 1025, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND, NULL,
	           0);
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, NULL);
	assert_int_equal(read(afd, buf, sizeof(buf)), 0);
	close(afd);
	close(lfd);
}

static void guest_connect_without_listener_gets_rst(void **state)
{
	struct fx *f = *state;
	fg_post_rx(&f->fg, 4);
	guest_send(f, 5001, 1026, VSOCK_OP_REQUEST, 0, NULL, 0);
	struct vsock_hdr h;
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, &h);
	assert_int_equal(le32toh(h.src_port), 1026);
	assert_int_equal(le32toh(h.dst_port), 5001);
}

static void unknown_connection_gets_rst_but_rst_does_not(void **state)
{
	struct fx *f = *state;
	fg_post_rx(&f->fg, 4);
	guest_send(f, 7, 8, VSOCK_OP_RW, 0, "x", 1);
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, NULL);
	guest_send(f, 7, 8, VSOCK_OP_RST, 0, NULL, 0);
	expect_no_pkt(f);
}

static void hostile_headers(void **state)
{
	struct fx *f = *state;
	fg_post_rx(&f->fg, 8);
	uint32_t port;
	int fd = host_connect(f, &port);
	/* Length field larger than the descriptor: RST, and nothing reaches the socket. */
	fg_send(&f->fg, 1024, port, VSOCK_OP_RW, 0, "abc", 3);
	uint16_t id = (uint16_t)((f->fg.ring[VSOCK_VQ_TX].avail_idx - 1) % FG_QSIZE);
	struct vsock_hdr *h = fg_ptr(&f->fg, fg_slot(&f->fg, VSOCK_VQ_TX, id));
	h->len = htole32(60000);
	vsc_process_tx(&f->core);
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, NULL);
	char c;
	assert_int_equal(read(fd, &c, 1), 0);
	close(fd);
	/* A chain shorter than a header, a spoofed source CID: dropped silently. */
	fg_set_desc(&f->fg, VSOCK_VQ_TX, 3, fg_slot(&f->fg, VSOCK_VQ_TX, 3), 10, 0, 0);
	fg_publish(&f->fg, VSOCK_VQ_TX, 3);
	vsc_process_tx(&f->core);
	fg_send(&f->fg, 1, 2, VSOCK_OP_REQUEST, 0, NULL, 0);
	id = (uint16_t)((f->fg.ring[VSOCK_VQ_TX].avail_idx - 1) % FG_QSIZE);
	h = fg_ptr(&f->fg, fg_slot(&f->fg, VSOCK_VQ_TX, id));
	h->src_cid = htole64(99);
	vsc_process_tx(&f->core);
	expect_no_pkt(f);
	/* SEQPACKET is not offered: RST. */
	fg_send(&f->fg, 1, 2, VSOCK_OP_REQUEST, 0, NULL, 0);
	id = (uint16_t)((f->fg.ring[VSOCK_VQ_TX].avail_idx - 1) % FG_QSIZE);
	h = fg_ptr(&f->fg, fg_slot(&f->fg, VSOCK_VQ_TX, id));
	h->type = htole16(VSOCK_TYPE_SEQPACKET);
	vsc_process_tx(&f->core);
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, NULL);
}

static void tiny_rx_buffer_is_returned_empty(void **state)
{
	struct fx *f = *state;
	struct fake_guest *g = &f->fg;
	fg_set_desc(g, VSOCK_VQ_RX, 0, fg_slot(g, VSOCK_VQ_RX, 0), 8, VIRTQ_DESC_F_WRITE, 0);
	fg_publish(g, VSOCK_VQ_RX, 0);
	guest_send(f, 9, 9, VSOCK_OP_RW, 0, NULL, 0); /* unknown connection: an RST is due */
	pump(f);
	uint32_t id, len;
	assert_true(fg_get_used(g, VSOCK_VQ_RX, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 0);
	g->ring[VSOCK_VQ_RX].avail_idx = 1; /* keep fg_post_rx's slots in step */
	fg_post_rx(g, 1);
	guest_send(f, 10, 10, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	/* the first RST still went out in a proper buffer, then the second */
	expect_pkt(f, VSOCK_OP_RST, NULL, 0, NULL);
}

static void bad_connect_lines_are_closed(void **state)
{
	struct fx *f = *state;
	static const char *const lines[] = {
	    "CONNECT\n",   "CONNECT 12x\n",       "CONNECT 99999999999\n",
	    "connect 5\n", "CONNECT 1024 1025\n", "CONNECT 0000000000000000000000000000000001\n"};
	fg_post_rx(&f->fg, 8);
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		int fd = unix_connect(f->uds);
		assert_int_equal(write(fd, lines[i], strlen(lines[i])), (ssize_t)strlen(lines[i]));
		pump(f);
		char c;
		/* EOF, or ECONNRESET when unread bytes were discarded with the socket. */
		ssize_t r = read(fd, &c, 1);
		if (r > 0 || (r < 0 && errno != ECONNRESET))
			fail_msg("line %zu was not refused (%zd)", i, r);
		close(fd);
	}
	expect_no_pkt(f);
	assert_int_equal(f->core.nconns, 0);
}

static void guest_refuses_host_connect(void **state)
{
	struct fx *f = *state;
	int fd = unix_connect(f->uds);
	assert_int_equal(write(fd, "CONNECT 77\n", 11), 11);
	fg_post_rx(&f->fg, 4);
	struct vsock_hdr h;
	expect_pkt(f, VSOCK_OP_REQUEST, NULL, 0, &h);
	guest_send(f, 77, le32toh(h.src_port), VSOCK_OP_RST, 0, NULL, 0);
	pump(f);
	char c;
	assert_int_equal(read(fd, &c, 1), 0); /* closed without "OK" */
	close(fd);
}

static void reset_all_closes_clients(void **state)
{
	struct fx *f = *state;
	uint32_t port;
	int fd = host_connect(f, &port);
	vsc_reset_all(&f->core);
	vsc_reap(&f->core);
	char c;
	assert_int_equal(read(fd, &c, 1), 0);
	assert_int_equal(f->core.nconns, 0);
	expect_no_pkt(f); /* the rings are gone: no RST */
	close(fd);
}

/* What an observer (vhost-user-vsock --trace) was told. */
struct seen {
	unsigned opens, closes, conn;
	uint32_t port;
	bool host_initiated;
	char to_guest[64], from_guest[64];
	size_t nto, nfrom;
};

static void seen_open(void *opaque, unsigned conn, uint32_t guest_port, bool host_initiated)
{
	struct seen *s = opaque;
	s->opens++;
	s->conn = conn;
	s->port = guest_port;
	s->host_initiated = host_initiated;
}

static void seen_data(void *opaque, unsigned conn, bool to_guest, const struct iovec *iov,
                      unsigned n, size_t skip, size_t len)
{
	struct seen *s = opaque;
	char *dst = to_guest ? s->to_guest : s->from_guest;
	size_t *k = to_guest ? &s->nto : &s->nfrom;
	assert_int_equal(conn, s->conn);
	for (unsigned i = 0; i < n && len > 0; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t c = iov[i].iov_len - skip < len ? iov[i].iov_len - skip : len;
		assert_true(*k + c < sizeof(s->to_guest));
		memcpy(dst + *k, (const char *)iov[i].iov_base + skip, c);
		*k += c;
		len -= c;
		skip = 0;
	}
	assert_int_equal(len, 0);
}

static void seen_close(void *opaque, unsigned conn)
{
	struct seen *s = opaque;
	assert_int_equal(conn, s->conn);
	s->closes++;
}

static void observer_sees_open_data_close(void **state)
{
	struct fx *f = *state;
	struct seen s = {0};
	struct vsc_observer obs = {seen_open, seen_data, seen_close, &s};
	f->core.obs = &obs;
	uint32_t port;
	int fd = host_connect(f, &port);
	assert_int_equal(s.opens, 1);
	assert_int_equal(s.port, 1024);
	assert_true(s.host_initiated);
	assert_int_equal(write(fd, "hello", 5), 5);
	char buf[64];
	assert_int_equal(expect_pkt(f, VSOCK_OP_RW, buf, sizeof(buf), NULL), 5);
	guest_send(f, 1024, port, VSOCK_OP_RW, 0, "world!", 6);
	pump(f);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	assert_int_equal(s.nto, 5);
	assert_memory_equal(s.to_guest, "hello", 5);
	assert_int_equal(s.nfrom, 6);
	assert_memory_equal(s.from_guest, "world!", 6);
	close(fd);
	expect_pkt(f, VSOCK_OP_SHUTDOWN, NULL, 0, NULL);
	guest_send(f, 1024, port, VSOCK_OP_RST, 0, NULL, 0);
	pump(f);
	assert_int_equal(s.closes, 1);
	assert_int_equal(f->core.nconns, 0);
	f->core.obs = NULL;
}

/* A ttrpc frame: header + a packed ttrpc.Request or ttrpc.Response. */
static size_t frame(uint8_t *out, uint32_t stream, uint8_t type, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	struct ttrpc_hdr h = {.length = (uint32_t)n, .stream_id = stream, .type = type};
	ttrpc_hdr_encode(out, &h);
	protobuf_c_message_pack(m, out + TTRPC_HDR_LEN);
	return TTRPC_HDR_LEN + n;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	static char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* --trace: a request cut in two pieces and its response decoded; the console marked. */
static void trace_decodes_agent_port_and_marks_console(void **state)
{
	struct fx *f = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/trace.jsonl", f->dir);
	struct vtrace *vt;
	struct vsc_observer obs;
	assert_int_equal(vtrace_open(path, &vt, &obs), 0);
	f->core.obs = &obs;

	uint32_t port;
	int fd = host_connect(f, &port);
	Grpc__WaitProcessRequest wp = GRPC__WAIT_PROCESS_REQUEST__INIT;
	wp.container_id = "ctr1";
	uint8_t inner[64], buf[512];
	Ttrpc__Request rq = TTRPC__REQUEST__INIT;
	rq.service = "grpc.AgentService";
	rq.method = "WaitProcess";
	rq.payload.data = inner;
	rq.payload.len = grpc__wait_process_request__pack(&wp, inner);
	size_t n = frame(buf, 1, TTRPC_REQUEST, &rq.base);
	assert_int_equal(write(fd, buf, 7), 7);
	assert_int_equal(expect_pkt(f, VSOCK_OP_RW, inner, sizeof(inner), NULL), 7);
	assert_int_equal(write(fd, buf + 7, n - 7), (ssize_t)(n - 7));
	assert_int_equal(expect_pkt(f, VSOCK_OP_RW, buf, sizeof(buf), NULL), (int)(n - 7));
	Ttrpc__Status st = TTRPC__STATUS__INIT;
	st.code = 5;
	st.message = "gone";
	Ttrpc__Response rs = TTRPC__RESPONSE__INIT;
	rs.status = &st;
	n = frame(buf, 1, TTRPC_RESPONSE, &rs.base);
	guest_send(f, 1024, port, VSOCK_OP_RW, 0, buf, (uint32_t)n);
	pump(f);
	assert_int_equal(read(fd, inner, sizeof(inner)), (ssize_t)n);
	close(fd);
	expect_pkt(f, VSOCK_OP_SHUTDOWN, NULL, 0, NULL);
	guest_send(f, 1024, port, VSOCK_OP_RST, 0, NULL, 0);

	uint32_t cport;
	int cfd = host_connect_to(f, 1026, &cport);
	guest_send(f, 1026, cport, VSOCK_OP_RW, 0, "# ", 2);
	pump(f);
	close(cfd);
	pump(f);
	vtrace_close(vt, stderr);
	f->core.obs = NULL;

	const char *t = slurp(path);
	assert_non_null(
	    strstr(t, "\"type\":\"request\",\"method\":\"grpc.AgentService.WaitProcess\""));
	assert_non_null(strstr(t, "\"payload\":{\"container_id\":\"ctr1\"}"));
	assert_non_null(strstr(t, "\"code\":5,\"status\":\"NOT_FOUND\",\"message\":\"gone\""));
	assert_non_null(strstr(t, "\"event\":\"open\",\"port\":1026,\"stream\":\"console\""));
	assert_non_null(strstr(
	    t,
	    "\"event\":\"data\",\"port\":1026,\"stream\":\"console\",\"dir\":\"s2c\",\"len\":2"));
}

/* Regression (found by fuzz_virtq): a guest that places its used ring on top of its avail ring
 * turns every used entry the device writes into a new avail entry; processing one kick must
 * still end, after at most one pass over the ring. */
static void aliased_used_ring_cannot_loop(void **state)
{
	struct fx *f = *state;
	struct fg_ring *r = &f->fg.ring[VSOCK_VQ_TX];
	f->txq.used_uva = f->txq.avail_uva;
	assert_int_equal(vq_translate(&f->txq, &f->gm), 0);
	fg_send(&f->fg, 1234, 9999, VSOCK_OP_RW, 0, NULL, 0); /* unknown connection: RST */
	f->txq.used_idx = vq_used_idx_in_ring(&f->txq);
	alarm(10); /* a hang fails the test instead of the suite's timeout */
	vsc_process_tx(&f->core);
	alarm(0);
	assert_true(f->core.pkts_from_guest >= 1 && f->core.pkts_from_guest <= r->num);
}

/* A chain the device drops (malformed) also counts towards the pass: an aliased ring full of
 * bad chains cannot keep vq_pop busy either. */
static void aliased_used_ring_with_bad_chains_ends(void **state)
{
	struct fx *f = *state;
	f->txq.used_uva = f->txq.avail_uva;
	assert_int_equal(vq_translate(&f->txq, &f->gm), 0);
	fg_set_desc(&f->fg, VSOCK_VQ_TX, 0, 0xdead0000, 64, 0, 0); /* not guest memory */
	fg_publish(&f->fg, VSOCK_VQ_TX, 0);
	f->txq.used_idx = vq_used_idx_in_ring(&f->txq);
	struct vq_chain ch;
	unsigned pass = f->txq.num;
	uint16_t before = f->txq.last_avail;
	alarm(10);
	assert_int_equal(vq_pop(&f->txq, &f->gm, &pass, &ch), 0);
	alarm(0);
	assert_int_equal(pass, 0);
	assert_int_equal((uint16_t)(f->txq.last_avail - before), f->txq.num);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(host_connect_round_trip),
	    T(host_to_guest_respects_guest_credit),
	    T(guest_to_host_credit_updates),
	    T(guest_overrunning_credit_gets_rst),
	    T(guest_initiated_connection),
	    T(guest_connect_without_listener_gets_rst),
	    T(unknown_connection_gets_rst_but_rst_does_not),
	    T(hostile_headers),
	    T(tiny_rx_buffer_is_returned_empty),
	    T(bad_connect_lines_are_closed),
	    T(guest_refuses_host_connect),
	    T(reset_all_closes_clients),
	    T(observer_sees_open_data_close),
	    T(trace_decodes_agent_port_and_marks_console),
	    T(aliased_used_ring_cannot_loop),
	    T(aliased_used_ring_with_bad_chains_ends),
	};
	return cmocka_run_group_tests_name("vhost-user-vsock core", tests, NULL, NULL);
}

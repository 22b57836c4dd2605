// SPDX-License-Identifier: Apache-2.0
/* The vhost-user protocol as QEMU speaks it, over a socketpair, with the fake guest's memfd as
 * guest RAM: negotiation, config space, memory table, vring setup, kicks, and malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "evloop.h"
#include "fake_guest.h"
#include "vhost_user.h"
#include "vsock_core.h"

int vuv_log_level = -1;

struct fx {
	struct fake_guest fg;
	struct vu_dev dev;
	struct vsock_core core;
	int epfd, fe; /* fe: the front-end's end of the socketpair */
	int kick[3], call[3];
	char dir[64], uds[96];
};

static void on_kick(struct vu_dev *dev, unsigned idx)
{
	struct fx *f = dev->opaque;
	if (idx == VSOCK_VQ_TX)
		vsc_process_tx(&f->core);
	else if (idx == VSOCK_VQ_RX)
		vsc_process_rx(&f->core);
}

static void on_stop(struct vu_dev *dev)
{
	struct fx *f = dev->opaque;
	vsc_reset_all(&f->core);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	fg_init(&f->fg);
	f->epfd = epoll_create1(0);
	vu_init(&f->dev, f->epfd, FG_GUEST_CID);
	f->dev.on_kick = on_kick;
	f->dev.on_stop = on_stop;
	f->dev.opaque = f;
	strcpy(f->dir, "/tmp/vuv-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uds, sizeof(f->uds), "%s/v.sock", f->dir);
	assert_int_equal(vsc_init(&f->core, FG_GUEST_CID, f->uds, f->epfd, &f->dev.mem,
	                          &f->dev.vq[0], &f->dev.vq[1]),
	                 0);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	f->fe = sp[0];
	assert_int_equal(vu_attach(&f->dev, sp[1]), 0);
	for (int i = 0; i < 3; i++) {
		f->kick[i] = eventfd(0, EFD_NONBLOCK);
		f->call[i] = eventfd(0, EFD_NONBLOCK);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	vu_fini(&f->dev);
	vsc_fini(&f->core);
	close(f->fe);
	close(f->epfd);
	for (int i = 0; i < 3; i++) {
		close(f->kick[i]);
		close(f->call[i]);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	fg_fini(&f->fg);
	free(f);
	return 0;
}

/* Sends one message (with optional fds) and lets the device handle it; returns its verdict. */
static int send_msg(struct fx *f, uint32_t req, uint32_t flags, const void *p, uint32_t size,
                    const int *fds, unsigned nfds)
{
	struct vu_msg_hdr h = {.request = req, .flags = VHOST_USER_VERSION | flags, .size = size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)p, size}};
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};
	if (nfds) {
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(f->fe, &mh, 0), (ssize_t)(sizeof(h) + size));
	return vu_handle_one(&f->dev);
}

static uint32_t read_reply(struct fx *f, uint32_t req, void *p, uint32_t cap)
{
	struct vu_msg_hdr h;
	assert_int_equal(recv(f->fe, &h, sizeof(h), MSG_WAITALL), sizeof(h));
	assert_int_equal(h.request, req);
	assert_int_equal(h.flags, VHOST_USER_VERSION | VHOST_USER_REPLY_MASK);
	assert_true(h.size <= cap);
	if (h.size)
		assert_int_equal(recv(f->fe, p, h.size, MSG_WAITALL), h.size);
	return h.size;
}

static uint64_t get_u64(struct fx *f, uint32_t req)
{
	uint64_t v = 0;
	assert_int_equal(send_msg(f, req, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(read_reply(f, req, &v, sizeof(v)), 8);
	return v;
}

/* Sends a no-reply message with NEED_REPLY and returns the ack value (0 ok). */
static uint64_t acked(struct fx *f, uint32_t req, const void *p, uint32_t size, const int *fds,
                      unsigned nfds)
{
	assert_int_equal(send_msg(f, req, VHOST_USER_NEED_REPLY_MASK, p, size, fds, nfds), 0);
	uint64_t v = 99;
	assert_int_equal(read_reply(f, req, &v, sizeof(v)), 8);
	return v;
}

static void negotiate(struct fx *f)
{
	uint64_t feat = get_u64(f, VHOST_USER_GET_FEATURES);
	assert_true(feat & (1ull << VIRTIO_F_VERSION_1));
	assert_true(feat & (1ull << VHOST_USER_F_PROTOCOL_FEATURES));
	uint64_t pf = get_u64(f, VHOST_USER_GET_PROTOCOL_FEATURES);
	assert_true(pf & (1ull << VHOST_USER_PROTOCOL_F_CONFIG));
	assert_true(pf & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	assert_int_equal(send_msg(f, VHOST_USER_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_FEATURES, &feat, 8, NULL, 0), 0);
}

static void set_mem(struct fx *f)
{
	struct vu_memory m = {.nregions = 1};
	m.regions[0] = (struct vu_mem_region){FG_GPA_BASE, FG_MEM_SIZE, FG_UVA_BASE, 0};
	assert_int_equal(
	    acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8 + sizeof(m.regions[0]), &f->fg.memfd, 1), 0);
}

static void start_vring(struct fx *f, unsigned i)
{
	struct fg_ring *r = &f->fg.ring[i];
	struct vu_vring_state st = {i, r->num};
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	st.num = 0;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_BASE, &st, sizeof(st), NULL, 0), 0);
	struct vu_vring_addr a = {.index = i,
	                          .desc_user_addr = fg_uva(r->desc_gpa),
	                          .used_user_addr = fg_uva(r->used_gpa),
	                          .avail_user_addr = fg_uva(r->avail_gpa)};
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 0);
	uint64_t idx = i;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_CALL, &idx, 8, &f->call[i], 1), 0);
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_KICK, &idx, 8, &f->kick[i], 1), 0);
	st.num = 1;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0), 0);
}

static void config_space_holds_guest_cid(void **state)
{
	struct fx *f = *state;
	negotiate(f);
	struct {
		struct vu_config c;
		uint8_t data[8];
	} req = {{.offset = 0, .size = 8}, {0}}, rep;
	assert_int_equal(send_msg(f, VHOST_USER_GET_CONFIG, 0, &req, sizeof(req), NULL, 0), 0);
	assert_int_equal(read_reply(f, VHOST_USER_GET_CONFIG, &rep, sizeof(rep)), sizeof(rep));
	uint64_t cid;
	memcpy(&cid, rep.data, 8);
	assert_int_equal(le64toh(cid), FG_GUEST_CID);
	/* Out of range: the reply carries no data, which QEMU reports as an error. */
	req.c.offset = 4;
	assert_int_equal(send_msg(f, VHOST_USER_GET_CONFIG, 0, &req, sizeof(req), NULL, 0), 0);
	assert_int_equal(read_reply(f, VHOST_USER_GET_CONFIG, &rep, sizeof(rep)),
	                 offsetof(struct vu_config, region));
	assert_int_equal(get_u64(f, VHOST_USER_GET_QUEUE_NUM), 3);
}

static void full_bring_up_moves_packets(void **state)
{
	struct fx *f = *state;
	negotiate(f);
	set_mem(f);
	for (unsigned i = 0; i < 3; i++)
		start_vring(f, i);
	/* The guest posts rx buffers, sends a REQUEST to a port nobody serves, and kicks. */
	fg_post_rx(&f->fg, 4);
	fg_send(&f->fg, 4000, 4321, VSOCK_OP_REQUEST, 0, NULL, 0);
	uint64_t one = 1;
	assert_int_equal(write(f->kick[VSOCK_VQ_TX], &one, 8), 8);
	assert_true(ev_run_once(f->epfd, 1000) > 0);
	struct vsock_hdr h;
	assert_int_equal(fg_recv(&f->fg, &h, NULL, 0), 1);
	assert_int_equal(le16toh(h.op), VSOCK_OP_RST);
	assert_int_equal(le32toh(h.dst_port), 4000);
	uint64_t v;
	assert_int_equal(read(f->call[VSOCK_VQ_RX], &v, 8), 8);
	assert_int_equal(read(f->call[VSOCK_VQ_TX], &v, 8), 8);
	/* Stopping the ring reports where the device got to. */
	struct vu_vring_state st = {VSOCK_VQ_TX, 0};
	assert_int_equal(send_msg(f, VHOST_USER_GET_VRING_BASE, 0, &st, sizeof(st), NULL, 0), 0);
	assert_int_equal(read_reply(f, VHOST_USER_GET_VRING_BASE, &st, sizeof(st)), sizeof(st));
	assert_int_equal(st.index, VSOCK_VQ_TX);
	assert_int_equal(st.num, 1);
	assert_false(f->dev.vq[VSOCK_VQ_TX].started);
}

static void malformed_requests_are_refused(void **state)
{
	struct fx *f = *state;
	negotiate(f);
	uint64_t bogus = 1ull << 5;
	assert_int_equal(acked(f, VHOST_USER_SET_FEATURES, &bogus, 8, NULL, 0), 1);
	struct vu_memory m = {.nregions = 9};
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8, NULL, 0), 1);
	m.nregions = 1;
	m.regions[0] = (struct vu_mem_region){FG_GPA_BASE, FG_MEM_SIZE, FG_UVA_BASE, 0};
	/* region without its fd */
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, NULL, 0), 1);
	/* size wrapping the address space */
	m.regions[0].memory_size = ~0ull;
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, &f->fg.memfd, 1), 1);
	m.regions[0].memory_size = 0;
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, &f->fg.memfd, 1), 1);
	struct vu_vring_state st = {7, 128};
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 1);
	st = (struct vu_vring_state){0, 1000};
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 1);
	st = (struct vu_vring_state){0, 128};
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_NUM, &st, sizeof(st), NULL, 0), 0);
	/* ring addresses outside the (empty) memory table */
	struct vu_vring_addr a = {.index = 0, .desc_user_addr = 0x1000};
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0), 1);
	uint64_t idx = 0; /* fd promised but not passed */
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_KICK, &idx, 8, NULL, 0), 1);
	idx = 9 | VHOST_USER_VRING_NOFD;
	assert_int_equal(acked(f, VHOST_USER_SET_VRING_CALL, &idx, 8, NULL, 0), 1);
	assert_int_equal(acked(f, 77, NULL, 0, NULL, 0), 1);
	assert_int_equal(acked(f, VHOST_USER_SET_CONFIG, &idx, 8, NULL, 0), 1);
	/* Connection-level violations end the session. */
	assert_true(send_msg(f, VHOST_USER_GET_FEATURES, 0, NULL, 0, NULL, 0) == 0);
	read_reply(f, VHOST_USER_GET_FEATURES, &idx, 8);
	struct vu_msg_hdr h = {.request = 1, .flags = 2, .size = 0}; /* wrong version */
	assert_int_equal(write(f->fe, &h, sizeof(h)), sizeof(h));
	assert_int_equal(vu_handle_one(&f->dev), -EPROTO);
	h = (struct vu_msg_hdr){.request = 5, .flags = 1, .size = 1u << 20};
	assert_int_equal(write(f->fe, &h, sizeof(h)), sizeof(h));
	assert_int_equal(vu_handle_one(&f->dev), -EMSGSIZE);
}

/* Regression (found by fuzz_vhost_user): a region the file behind it does not fully back was
 * mapped, and the first ring access past the end of the file killed the daemon with SIGBUS. */
static void region_beyond_its_file_is_refused(void **state)
{
	struct fx *f = *state;
	negotiate(f);
	struct vu_memory m = {.nregions = 1};
	m.regions[0] = (struct vu_mem_region){FG_GPA_BASE, FG_MEM_SIZE + 4096, FG_UVA_BASE, 0};
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, &f->fg.memfd, 1), 1);
	m.regions[0] = (struct vu_mem_region){FG_GPA_BASE, FG_MEM_SIZE, FG_UVA_BASE, 1};
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, &f->fg.memfd, 1), 1);
	assert_int_equal(f->dev.mem.n, 0);
	/* The exact size, and a tail of the file from an offset, are fine. */
	m.regions[0] = (struct vu_mem_region){FG_GPA_BASE, FG_MEM_SIZE - 4096, FG_UVA_BASE, 4096};
	assert_int_equal(acked(f, VHOST_USER_SET_MEM_TABLE, &m, 8 + 32, &f->fg.memfd, 1), 0);
	set_mem(f);
	assert_int_equal(f->dev.mem.n, 1);
}

static void reconnect_after_front_end_leaves(void **state)
{
	struct fx *f = *state;
	negotiate(f);
	set_mem(f);
	start_vring(f, 0);
	close(f->fe);
	assert_int_equal(vu_handle_one(&f->dev), -ECONNRESET);
	vu_disconnect(&f->dev);
	assert_int_equal(f->dev.mem.n, 0);
	assert_false(f->dev.vq[0].started);
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	f->fe = sp[0];
	assert_int_equal(vu_attach(&f->dev, sp[1]), 0);
	negotiate(f);
	set_mem(f);
	for (unsigned i = 0; i < 3; i++)
		start_vring(f, i);
	assert_true(vq_ready(&f->dev.vq[VSOCK_VQ_TX]));
	assert_int_equal(f->dev.sessions, 2);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(config_space_holds_guest_cid),     T(full_bring_up_moves_packets),
	    T(malformed_requests_are_refused),   T(region_beyond_its_file_is_refused),
	    T(reconnect_after_front_end_leaves),
	};
	return cmocka_run_group_tests_name("vhost-user-vsock protocol", tests, NULL, NULL);
}

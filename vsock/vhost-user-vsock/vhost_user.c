// SPDX-License-Identifier: Apache-2.0
#include "vhost_user.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MAX_FDS GM_MAX_REGIONS

struct vu_msg {
	struct vu_msg_hdr hdr;
	union {
		uint64_t u64;
		struct vu_vring_state state;
		struct vu_vring_addr addr;
		struct vu_memory mem;
		struct vu_config cfg;
		uint8_t raw[VU_MAX_PAYLOAD];
	} p;
	int fds[MAX_FDS];
	unsigned nfds;
};

uint64_t vu_offered_features(void)
{
	return (1ull << VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES);
}

uint64_t vu_offered_protocol_features(void)
{
	return (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK) | (1ull << VHOST_USER_PROTOCOL_F_CONFIG);
}

static void kick_event(struct ev_src *src, uint32_t events);
static void sock_event(struct ev_src *src, uint32_t events);
static void listen_event(struct ev_src *src, uint32_t events);

void vu_init(struct vu_dev *dev, int epfd, uint64_t guest_cid)
{
	memset(dev, 0, sizeof(*dev));
	dev->epfd = epfd;
	dev->listen_fd = dev->sock_fd = -1;
	dev->guest_cid = guest_cid;
	dev->listen_src.fn = listen_event;
	dev->sock_src.fn = sock_event;
	gm_init(&dev->mem);
	for (unsigned i = 0; i < VU_NUM_VQS; i++) {
		vq_init(&dev->vq[i]);
		dev->kick[i] = (struct vu_kick){.src.fn = kick_event, .dev = dev, .idx = i};
	}
}

static int ep_add(struct vu_dev *dev, int fd, struct ev_src *src)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};
	return epoll_ctl(dev->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void stop_vring(struct vu_dev *dev, unsigned i)
{
	struct virtq *vq = &dev->vq[i];
	if (vq->kick_fd >= 0) {
		epoll_ctl(dev->epfd, EPOLL_CTL_DEL, vq->kick_fd, NULL);
		closep(&vq->kick_fd);
		vq->kick_fd = -1;
	}
	vq->started = false;
}

static void reset_vrings(struct vu_dev *dev)
{
	for (unsigned i = 0; i < VU_NUM_VQS; i++) {
		stop_vring(dev, i);
		vq_reset(&dev->vq[i]);
	}
}

int vu_attach(struct vu_dev *dev, int fd)
{
	if (dev->sock_fd >= 0)
		return -EBUSY;
	/* QEMU sends header and payload together; a front-end that stalls mid-message is
	 * dropped instead of hanging the daemon. */
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int r = ep_add(dev, fd, &dev->sock_src);
	if (r < 0)
		return r;
	dev->sock_fd = fd;
	dev->sessions++;
	log_info("front-end connected (session %u)", dev->sessions);
	return 0;
}

void vu_disconnect(struct vu_dev *dev)
{
	if (dev->sock_fd >= 0) {
		epoll_ctl(dev->epfd, EPOLL_CTL_DEL, dev->sock_fd, NULL);
		closep(&dev->sock_fd);
		dev->sock_fd = -1;
		log_info("front-end disconnected");
	}
	reset_vrings(dev);
	gm_clear(&dev->mem);
	dev->features = dev->proto_features = 0;
	if (dev->on_stop)
		dev->on_stop(dev);
	if (dev->listen_fd >= 0)
		ep_add(dev, dev->listen_fd, &dev->listen_src);
}

static void listen_event(struct ev_src *src, uint32_t events)
{
	struct vu_dev *dev = container_of(src, struct vu_dev, listen_src);
	int fd = accept4(dev->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (vu_attach(dev, fd) < 0) {
		close(fd);
		return;
	}
	/* One front-end at a time; the next waits in the backlog until this one leaves. */
	epoll_ctl(dev->epfd, EPOLL_CTL_DEL, dev->listen_fd, NULL);
}

int vu_listen(struct vu_dev *dev, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	dev->listen_fd = fd;
	return ep_add(dev, fd, &dev->listen_src);
}

void vu_fini(struct vu_dev *dev)
{
	vu_disconnect(dev);
	closep(&dev->listen_fd);
	dev->listen_fd = -1;
}

static void kick_event(struct ev_src *src, uint32_t events)
{
	struct vu_kick *k = container_of(src, struct vu_kick, src);
	struct virtq *vq = &k->dev->vq[k->idx];
	uint64_t v;
	if (vq->kick_fd < 0 || read(vq->kick_fd, &v, sizeof(v)) < 0)
		return;
	if (k->dev->on_kick)
		k->dev->on_kick(k->dev, k->idx);
}

static void sock_event(struct ev_src *src, uint32_t events)
{
	struct vu_dev *dev = container_of(src, struct vu_dev, sock_src);
	int r = vu_handle_one(dev);
	if (r < 0) {
		if (r != -ECONNRESET)
			log_warn("front-end: %s, dropping it", strerror(-r));
		vu_disconnect(dev);
	}
}

/* Reads one message: header (with any fds) then exactly hdr.size payload bytes. */
static int read_msg(int fd, struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	struct iovec iov = {&m->hdr, sizeof(m->hdr)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = cbuf.buf,
	                    .msg_controllen = sizeof(cbuf.buf)};
	m->nfds = 0;
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (m->nfds < MAX_FDS)
				m->fds[m->nfds++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		return -EMSGSIZE;
	if ((size_t)n != sizeof(m->hdr))
		return -EPROTO;
	if ((m->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION)
		return -EPROTO;
	if (m->hdr.size > VU_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (m->hdr.size > 0) {
		n = recv(fd, m->p.raw, m->hdr.size, MSG_WAITALL);
		if (n < 0)
			return -errno;
		if ((size_t)n != m->hdr.size)
			return -EPROTO;
	}
	return 0;
}

static int send_reply(struct vu_dev *dev, struct vu_msg *m, const void *payload, uint32_t size)
{
	struct vu_msg_hdr h = {.request = m->hdr.request,
	                       .flags = VHOST_USER_VERSION | VHOST_USER_REPLY_MASK,
	                       .size = size};
	struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)payload, size}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = size ? 2 : 1};
	ssize_t n = sendmsg(dev->sock_fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + size ? 0 : -EPROTO;
}

static int reply_u64(struct vu_dev *dev, struct vu_msg *m, uint64_t v)
{
	return send_reply(dev, m, &v, sizeof(v));
}

/* Takes the single fd of a KICK/CALL/ERR message, or -1 when the NOFD bit says none comes. */
static int vring_fd(struct vu_msg *m, unsigned *ret_idx, int *ret_fd)
{
	if (m->hdr.size != sizeof(uint64_t))
		return -EINVAL;
	unsigned idx = m->p.u64 & VHOST_USER_VRING_IDX_MASK;
	bool nofd = m->p.u64 & VHOST_USER_VRING_NOFD;
	if (idx >= VU_NUM_VQS || m->nfds != (nofd ? 0u : 1u))
		return -EINVAL;
	*ret_idx = idx;
	*ret_fd = nofd ? -1 : m->fds[0];
	m->nfds = 0;
	return 0;
}

static int set_mem_table(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_memory *vm = &m->p.mem;
	if (m->hdr.size < 8)
		return -EINVAL;
	uint32_t n = vm->nregions;
	if (n == 0 || n > GM_MAX_REGIONS || m->hdr.size != 8 + n * sizeof(struct vu_mem_region) ||
	    m->nfds != n)
		return -EINVAL;
	struct guest_mem gm;
	gm_init(&gm);
	for (uint32_t i = 0; i < n; i++) {
		const struct vu_mem_region *r = &vm->regions[i];
		int e = gm_add_fd_region(&gm, r->guest_phys_addr, r->memory_size, r->userspace_addr,
		                         r->mmap_offset, m->fds[i]);
		if (e < 0) {
			gm_clear(&gm);
			return e;
		}
		log_debug("region %u: gpa 0x%llx size 0x%llx uva 0x%llx off 0x%llx", i,
		          (unsigned long long)r->guest_phys_addr,
		          (unsigned long long)r->memory_size, (unsigned long long)r->userspace_addr,
		          (unsigned long long)r->mmap_offset);
	}
	gm_clear(&dev->mem);
	dev->mem = gm;
	for (unsigned i = 0; i < VU_NUM_VQS; i++)
		if (dev->vq[i].addr_set)
			vq_translate(&dev->vq[i], &dev->mem);
	return 0;
}

static int get_config(struct vu_dev *dev, struct vu_msg *m)
{
	const uint32_t hdr = offsetof(struct vu_config, region);
	if (m->hdr.size < hdr)
		return -EINVAL;
	uint32_t off = m->p.cfg.offset, size = m->p.cfg.size;
	uint64_t cid = htole64(dev->guest_cid);
	/* struct virtio_vsock_config is one le64 guest_cid. */
	if (off > sizeof(cid) || size > sizeof(cid) - off || m->hdr.size != hdr + size)
		return send_reply(dev, m, &m->p.cfg, hdr); /* size mismatch: QEMU reports it */
	memcpy(m->p.cfg.region, (uint8_t *)&cid + off, size);
	return send_reply(dev, m, &m->p.cfg, hdr + size);
}

static struct virtq *state_vq(struct vu_dev *dev, struct vu_msg *m)
{
	if (m->hdr.size != sizeof(struct vu_vring_state) || m->p.state.index >= VU_NUM_VQS)
		return NULL;
	return &dev->vq[m->p.state.index];
}

/* GET_VRING_BASE stops the ring and answers where the back-end got to in it; a malformed
 * request gets no reply of its own (*replied stays false). */
static int get_vring_base(struct vu_dev *dev, struct vu_msg *m, bool *replied)
{
	struct virtq *vq = state_vq(dev, m);
	if (!vq)
		return -EINVAL;
	unsigned idx = m->p.state.index;
	stop_vring(dev, idx);
	if (dev->on_stop)
		dev->on_stop(dev);
	struct vu_vring_state st = {.index = idx, .num = vq->last_avail};
	*replied = true;
	return send_reply(dev, m, &st, sizeof(st));
}

static int set_vring_addr(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_vring_addr *a = &m->p.addr;
	if (m->hdr.size != sizeof(*a) || a->index >= VU_NUM_VQS)
		return -EINVAL;
	struct virtq *vq = &dev->vq[a->index];
	vq->desc_uva = a->desc_user_addr;
	vq->avail_uva = a->avail_user_addr;
	vq->used_uva = a->used_user_addr;
	vq->addr_set = true;
	int r = vq_translate(vq, &dev->mem);
	if (r < 0)
		return r;
	/* Resume where the ring is, as after a reconnect (libvhost-user does too). */
	vq->used_idx = vq->signalled_used = vq_used_idx_in_ring(vq);
	vq->broken = false;
	return 0;
}

/* SET_VRING_KICK starts the ring: its kick fd goes into the event loop. */
static int set_vring_kick(struct vu_dev *dev, struct vu_msg *m)
{
	unsigned idx;
	int fd;
	int r = vring_fd(m, &idx, &fd);
	if (r < 0)
		return r;
	stop_vring(dev, idx);
	struct virtq *vq = &dev->vq[idx];
	vq->kick_fd = fd;
	if (fd >= 0 && (r = ep_add(dev, fd, &dev->kick[idx].src)) < 0)
		return r;
	/* Without VHOST_USER_F_PROTOCOL_FEATURES rings start enabled. */
	if (!(dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		vq->enabled = true;
	vq->started = true;
	if (dev->on_kick)
		dev->on_kick(dev, idx);
	return 0;
}

/* SET_VRING_CALL and SET_VRING_ERR: the eventfd replaces the ring's previous one. */
static int set_vring_call_or_err(struct vu_dev *dev, struct vu_msg *m)
{
	unsigned idx;
	int fd;
	int r = vring_fd(m, &idx, &fd);
	if (r < 0)
		return r;
	int *slot = m->hdr.request == VHOST_USER_SET_VRING_CALL ? &dev->vq[idx].call_fd
	                                                        : &dev->vq[idx].err_fd;
	closep(slot);
	*slot = fd;
	return 0;
}

/* Handles m; *replied is set when the message produced its own reply. */
static int dispatch(struct vu_dev *dev, struct vu_msg *m, bool *replied)
{
	struct virtq *vq;

	*replied = false;
	switch (m->hdr.request) {
	case VHOST_USER_GET_FEATURES:
		*replied = true;
		return reply_u64(dev, m, vu_offered_features());
	case VHOST_USER_SET_FEATURES:
		if (m->hdr.size != 8 || (m->p.u64 & ~vu_offered_features()))
			return -EINVAL;
		dev->features = m->p.u64;
		return 0;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		*replied = true;
		return reply_u64(dev, m, vu_offered_protocol_features());
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (m->hdr.size != 8)
			return -EINVAL;
		dev->proto_features = m->p.u64 & vu_offered_protocol_features();
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		*replied = true;
		return reply_u64(dev, m, VU_NUM_VQS);
	case VHOST_USER_SET_OWNER:
		return 0;
	case VHOST_USER_RESET_OWNER:
	case VHOST_USER_RESET_DEVICE:
		reset_vrings(dev);
		if (dev->on_stop)
			dev->on_stop(dev);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(dev, m);
	case VHOST_USER_SET_VRING_NUM:
		if (!(vq = state_vq(dev, m)))
			return -EINVAL;
		return vq_set_num(vq, m->p.state.num);
	case VHOST_USER_SET_VRING_BASE:
		if (!(vq = state_vq(dev, m)) || m->p.state.num > 0xffff)
			return -EINVAL;
		vq->last_avail = (uint16_t)m->p.state.num;
		return 0;
	case VHOST_USER_GET_VRING_BASE:
		return get_vring_base(dev, m, replied);
	case VHOST_USER_SET_VRING_ADDR:
		return set_vring_addr(dev, m);
	case VHOST_USER_SET_VRING_KICK:
		return set_vring_kick(dev, m);
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		return set_vring_call_or_err(dev, m);
	case VHOST_USER_SET_VRING_ENABLE:
		if (!(vq = state_vq(dev, m)))
			return -EINVAL;
		vq->enabled = m->p.state.num != 0;
		if (vq->enabled && dev->on_kick)
			dev->on_kick(dev, m->p.state.index);
		return 0;
	case VHOST_USER_GET_CONFIG:
		*replied = true;
		return get_config(dev, m);
	default:
		log_info("front-end: unsupported request %u", m->hdr.request);
		return -EOPNOTSUPP;
	}
}

int vu_handle_one(struct vu_dev *dev)
{
	struct vu_msg m;
	int r = read_msg(dev->sock_fd, &m);
	if (r < 0) {
		for (unsigned i = 0; i < m.nfds; i++)
			close(m.fds[i]);
		return r;
	}
	bool replied;
	r = dispatch(dev, &m, &replied);
	for (unsigned i = 0; i < m.nfds; i++)
		close(m.fds[i]);
	if (replied)
		return r; /* a failed reply means the connection is gone */
	if (r < 0)
		log_warn("front-end: request %u failed: %s", m.hdr.request, strerror(-r));
	if ((m.hdr.flags & VHOST_USER_NEED_REPLY_MASK) &&
	    (dev->proto_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK)))
		return reply_u64(dev, &m, r < 0 ? 1 : 0);
	return 0;
}

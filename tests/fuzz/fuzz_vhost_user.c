/* vhost-user-vsock's vhost-user message handler: the messages QEMU sends (features, memory
 * tables, vring numbers/addresses/bases, kick/call/err fds, config reads), with or without the
 * file descriptors they should carry.
 *
 * Input:
 *   u16 length and bytes: the first bytes of the guest memory file (a 64 KiB memfd, zero
 *     beyond them), which every SET_MEM_TABLE fd maps
 *   then messages until the input ends:
 *     u8 request, u8 flags, u16 payload size (big-endian), u8 fds: bits 0-3 how many fds are
 *     attached (0-9; more than 8 is a truncated control message), bits 4-7 which of the first
 *     four are eventfds (the others are the memory file), then the payload (zero-padded to
 *     the size; a size above the limit is sent without payload, as a broken front-end would)
 * Each input is one front-end session on a fresh socketpair, ended by vu_disconnect.  When a
 * kick (or enable) reaches the device, the harness pops every chain of that ring and touches
 * each byte of it, as the vsock device would.
 *
 * Properties: no crash, no sanitizer report, no fd leak (every fd passed is closed or owned by
 * a ring, and all are gone after the disconnect); every reply has the reply flag and the
 * request's id; a message that is refused leaves the session usable or ends it cleanly; ring
 * buffers only ever point into mapped memory that is backed by the file (no SIGBUS). */
#define FUZZ_NO_AGENT_LOG
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "vhost_user.h"

int vuv_log_level = -1;

#define MEM_SIZE (64u * 1024)

static int epfd = -1, memfd = -1, peer = -1;
static struct vu_dev dev;

static unsigned count_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	FUZZ_ASSERT(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void touch_chain(const struct vq_chain *ch)
{
	volatile uint8_t sink = 0;
	for (unsigned i = 0; i < ch->n_out; i++)
		for (size_t j = 0; j < ch->out[i].iov_len; j++)
			sink ^= ((const uint8_t *)ch->out[i].iov_base)[j];
	for (unsigned i = 0; i < ch->n_in; i++)
		memset(ch->in[i].iov_base, sink, ch->in[i].iov_len);
}

static void on_kick(struct vu_dev *d, unsigned idx)
{
	struct virtq *vq = &d->vq[idx];
	struct vq_chain ch;
	unsigned pass = vq->num; /* one ring's worth per kick, as the device takes */
	while (vq_pop(vq, &d->mem, &pass, &ch) > 0) {
		touch_chain(&ch);
		vq_push(vq, ch.head, (uint32_t)ch.in_len);
	}
	vq_notify(vq);
}

static void start_session(void)
{
	int sv[2];
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	FUZZ_ASSERT(vu_attach(&dev, sv[0]) == 0);
	peer = sv[1];
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (getenv("FUZZ_VERBOSE")) /* the daemon's debug log, to follow one input */
		vuv_log_level = 3;
	epfd = epoll_create1(EPOLL_CLOEXEC);
	memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	FUZZ_ASSERT(epfd >= 0 && memfd >= 0);
	FUZZ_ASSERT(ftruncate(memfd, MEM_SIZE) == 0);
	vu_init(&dev, epfd, 3);
	dev.on_kick = on_kick;
	return 0;
}

/* Sends one message; false when the device cannot have read all of it. */
static bool send_msg(const struct vu_msg_hdr *h, const uint8_t *payload, uint8_t fdspec)
{
	unsigned nfds = (fdspec & 15) % 10;
	int fds[9];
	for (unsigned i = 0; i < nfds; i++) {
		fds[i] = i < 4 && (fdspec >> (4 + i) & 1) ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)
		                                          : fcntl(memfd, F_DUPFD_CLOEXEC, 0);
		FUZZ_ASSERT(fds[i] >= 0);
	}
	union {
		char buf[CMSG_SPACE(sizeof(fds))];
		struct cmsghdr align;
	} cbuf;
	size_t plen = h->size <= VU_MAX_PAYLOAD ? h->size : 0;
	struct iovec iov[2] = {{(void *)h, sizeof(*h)}, {(void *)payload, plen}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = plen ? 2 : 1};
	if (nfds) {
		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ssize_t n = sendmsg(peer, &mh, MSG_NOSIGNAL);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	FUZZ_ASSERT(n == (ssize_t)(sizeof(*h) + plen));
	return h->size <= VU_MAX_PAYLOAD;
}

/* Reads every reply the device sent, checking their headers. */
static void drain_replies(uint32_t request)
{
	uint8_t buf[sizeof(struct vu_msg_hdr) + VU_MAX_PAYLOAD];
	ssize_t n;
	while ((n = recv(peer, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		struct vu_msg_hdr h;
		FUZZ_ASSERT((size_t)n >= sizeof(h));
		memcpy(&h, buf, sizeof(h));
		FUZZ_ASSERT(h.request == request);
		FUZZ_ASSERT(h.flags == (VHOST_USER_VERSION | VHOST_USER_REPLY_MASK));
		FUZZ_ASSERT(h.size == (size_t)n - sizeof(h));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	size_t fill = fuzz_u16(&in);
	const uint8_t *p = fuzz_bytes(&in, &fill);
	FUZZ_ASSERT(ftruncate(memfd, 0) == 0 && ftruncate(memfd, MEM_SIZE) == 0);
	FUZZ_ASSERT(pwrite(memfd, p, MIN(fill, MEM_SIZE), 0) == (ssize_t)MIN(fill, MEM_SIZE));
	unsigned fds_before = count_fds();

	start_session();
	while (in.n > 0) {
		struct vu_msg_hdr h = {.request = fuzz_u8(&in), .flags = fuzz_u8(&in)};
		h.size = fuzz_u16(&in);
		uint8_t fdspec = fuzz_u8(&in);
		uint8_t payload[VU_MAX_PAYLOAD] = {0};
		size_t n = MIN(h.size, VU_MAX_PAYLOAD);
		const uint8_t *b = fuzz_bytes(&in, &n);
		memcpy(payload, b, n);
		bool whole = send_msg(&h, payload, fdspec);
		int r = vu_handle_one(&dev);
		drain_replies(h.request);
		if (r < 0 || !whole) {
			/* The daemon drops the front-end; the next one starts from scratch. */
			FUZZ_ASSERT(r < 0);
			break;
		}
	}
	vu_disconnect(&dev);
	closep(&peer);
	FUZZ_ASSERT(dev.mem.n == 0);
	FUZZ_ASSERT(count_fds() == fds_before);
	return 0;
}

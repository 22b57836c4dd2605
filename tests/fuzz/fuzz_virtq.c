/* vhost-user-vsock's device side over a hostile guest: the virtqueue walker, the packet parser
 * and the connection state machine, on a fuzzed guest memory image.
 *
 * Guest memory is up to three regions, each its own heap block of the fuzzed size, so ASan's
 * redzones poison everything around them: any read or write outside a region the device was
 * given is a heap-buffer-overflow.  Region addresses (guest physical and front-end virtual)
 * are fuzzed and may be adjacent, overlapping (refused) or anywhere.
 *
 * Input:
 *   u8 ctl: bits 0-3 log2 of the queue size (capped at 64: a pass may read size^2
 *     descriptors), bits 4-5 number of regions - 1,
 *     bits 6-7 the receive buffer the device grants each connection (512 << n bytes, small so
 *     that credit limits are reached; the daemon's is VSC_BUF_ALLOC)
 *   per region: u16 size, u32 gpa (<< 4), u32 uva (<< 4), u16 fill length, fill bytes
 *   per queue (rx, tx): three ring addresses, each u8 region (>= number of regions: a raw
 *     u64 uva follows) and u16 offset into it
 *   then operations until the input ends, each an op byte:
 *     0 guest kicks tx        1 guest kicks rx       2 guest writes memory (u8 region,
 *     u16 offset, u8 length, bytes)                  3 host writes to its socket u8 j (u8
 *     length, bytes)          4 host reads its socket j    5 host closes socket j
 *     6 host connects to the hybrid socket and sends a line (up to a NUL)
 *     7 one round of the event loop   8 walk tx directly with vq_pop, checking every chain
 *     9 device reset (vsc_reset_all, as when the front-end stops the rings)
 *   (ops 0, 1, 7 and 8 walk rings: after MAX_WALKS of them, the rest are skipped)
 * A guest REQUEST to port 1024 reaches a host listener the harness accepts on (when the
 * device's observer reports the connection); other ports are refused.
 *
 * Properties: no access outside the regions (ASan); every call returns (libFuzzer -timeout:
 * descriptor loops end, and so do rings aliased so that the device's own writes publish new
 * entries); popped chains have a head inside the ring and every segment inside one region,
 * at most VQ_MAX_IOV segments and lengths that add up; a ring error marks the queue broken;
 * the connection accounting invariants (vsc_check: the credit granted to the guest is never
 * negative and matches the buffered bytes) hold after every operation; what the device's
 * observer sees of the data lies within the iovecs it was given, guest ones inside the
 * regions. */
#define FUZZ_NO_AGENT_LOG
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "evloop.h"
#include "fuzz_common.h"
#include "virtq.h"
#include "vsock_core.h"

int vuv_log_level = -1;

#define NREG       3
#define NHOST      8
#define GUEST_CID  3
#define HOST_PORT  1024
#define MAX_REGION 16384

static char dir[] = "/tmp/fuzz-virtq-XXXXXX";
static char uds[64], port_path[80];
static int epfd = -1, port_listen = -1;
static struct vsock_core core;

static struct {
	uint8_t *mem[NREG];
	size_t size[NREG];
	struct guest_mem gm;
	struct virtq rxq, txq;
	int host[NHOST];
	unsigned nhost;
} g;

static const struct vsc_observer observer; /* below */

static void cleanup(void)
{
	vsc_fini(&core);
	unlink(port_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (getenv("FUZZ_VERBOSE")) /* the daemon's debug log, to follow one input */
		vuv_log_level = 3;
	FUZZ_ASSERT(mkdtemp(dir));
	snprintf(uds, sizeof(uds), "%s/h", dir);
	snprintf(port_path, sizeof(port_path), "%s/h_%u", dir, HOST_PORT);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	FUZZ_ASSERT(epfd >= 0);
	FUZZ_ASSERT(vsc_init(&core, GUEST_CID, uds, epfd, &g.gm, &g.rxq, &g.txq) == 0);
	core.obs = &observer;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, port_path);
	port_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FUZZ_ASSERT(port_listen >= 0);
	FUZZ_ASSERT(bind(port_listen, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	FUZZ_ASSERT(listen(port_listen, 64) == 0);
	atexit(cleanup);
	return 0;
}

static uint64_t ring_uva(struct fuzz_in *in)
{
	uint8_t r = fuzz_u8(in);
	if (r >= g.gm.n)
		return fuzz_u64(in);
	return g.gm.r[r].uva + fuzz_u16(in);
}

static void setup_vq(struct fuzz_in *in, struct virtq *vq, uint16_t num)
{
	vq_init(vq);
	FUZZ_ASSERT(vq_set_num(vq, num) == 0);
	vq->desc_uva = ring_uva(in);
	vq->avail_uva = ring_uva(in);
	vq->used_uva = ring_uva(in);
	vq->addr_set = true;
	if (vq_translate(vq, &g.gm) < 0)
		return;
	vq->used_idx = vq->signalled_used = vq_used_idx_in_ring(vq);
	vq->started = vq->enabled = true;
}

static bool in_region(const void *p, size_t len)
{
	for (unsigned i = 0; i < g.gm.n; i++) {
		const uint8_t *b = g.gm.r[i].hva;
		if ((const uint8_t *)p >= b && len <= g.gm.r[i].size &&
		    (size_t)((const uint8_t *)p - b) <= g.gm.r[i].size - len)
			return true;
	}
	return false;
}

static void check_iov(const struct iovec *iov, unsigned n, size_t total)
{
	size_t sum = 0;
	FUZZ_ASSERT(n <= VQ_MAX_IOV);
	for (unsigned i = 0; i < n; i++) {
		FUZZ_ASSERT(iov[i].iov_len > 0 && in_region(iov[i].iov_base, iov[i].iov_len));
		sum += iov[i].iov_len;
	}
	FUZZ_ASSERT(sum == total);
}

/* Pops tx chains directly, one ring's worth as the device does per kick. */
static void walk_tx(void)
{
	struct vq_chain ch;
	int r = 0;
	unsigned pass = g.txq.num;
	while ((r = vq_pop(&g.txq, &g.gm, &pass, &ch)) > 0) {
		FUZZ_ASSERT(ch.head < g.txq.num);
		check_iov(ch.out, ch.n_out, ch.out_len);
		check_iov(ch.in, ch.n_in, ch.in_len);
		vq_push(&g.txq, ch.head, 0);
	}
	FUZZ_ASSERT(r >= 0 || (r == -EIO && g.txq.broken));
}

/* A connection waits on the listener.  Asked first because an accept() that finds none
 * allocates (and frees) a socket in the kernel. */
static bool pending(int listen_fd)
{
	struct pollfd p = {.fd = listen_fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

/* The device's observer (as vhost-user-vsock --trace has) says when a guest REQUEST connected
 * to our port, so the harness only looks at its listener then: a poll or an accept after every
 * kick was a third of the run time.  Traced data must lie within what the device passed. */
static bool guest_connected;

static void obs_open(void *opaque, unsigned conn, uint32_t guest_port, bool host_initiated)
{
	if (!host_initiated)
		guest_connected = true;
}

static void obs_data(void *opaque, unsigned conn, bool to_guest, const struct iovec *iov,
                     unsigned n, size_t skip, size_t len)
{
	size_t total = 0;
	for (unsigned i = 0; i < n; i++) {
		FUZZ_ASSERT(to_guest || in_region(iov[i].iov_base, iov[i].iov_len));
		total += iov[i].iov_len;
	}
	FUZZ_ASSERT(len > 0 && skip <= total && len <= total - skip);
}

static void obs_close(void *opaque, unsigned conn)
{
}

static const struct vsc_observer observer = {obs_open, obs_data, obs_close, NULL};

static void accept_host(void)
{
	int fd;
	if (!guest_connected)
		return;
	guest_connected = false;
	while ((fd = accept4(port_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (g.nhost < NHOST)
			g.host[g.nhost++] = fd;
		else
			close(fd);
	}
}

static void host_write(struct fuzz_in *in)
{
	uint8_t j = fuzz_u8(in);
	size_t n = fuzz_u8(in);
	const uint8_t *p = fuzz_bytes(in, &n);
	if (j < g.nhost && g.host[j] >= 0 && n > 0)
		(void)!send(g.host[j], p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void host_read(struct fuzz_in *in)
{
	uint8_t j = fuzz_u8(in);
	char buf[4096];
	if (j < g.nhost && g.host[j] >= 0)
		while (recv(g.host[j], buf, sizeof(buf), MSG_DONTWAIT) > 0) {
		}
}

static void host_close(struct fuzz_in *in)
{
	uint8_t j = fuzz_u8(in);
	if (j < g.nhost)
		closep(&g.host[j]);
}

static void hybrid_connect(struct fuzz_in *in)
{
	_cleanup_free_ char *line = fuzz_str(in);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, uds);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	FUZZ_ASSERT(fd >= 0);
	if (g.nhost >= NHOST || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return;
	}
	(void)!send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
	g.host[g.nhost++] = fd;
}

static void guest_write(struct fuzz_in *in)
{
	uint8_t r = fuzz_u8(in);
	uint16_t off = fuzz_u16(in);
	size_t n = fuzz_u8(in);
	const uint8_t *p = fuzz_bytes(in, &n);
	if (r < NREG && g.mem[r] && off < g.size[r])
		memcpy(g.mem[r] + off, p, MIN(n, g.size[r] - off));
}

/* Kicks, event-loop rounds and direct walks an input may make; the rest are skipped.  Each may
 * read up to size^2 descriptors, and without a cap the corpus drifts to inputs thousands of
 * kicks long, while every state of a connection is reached in a few dozen. */
#define MAX_WALKS 128
static unsigned walks;

static void one_op(struct fuzz_in *in)
{
	uint8_t op = fuzz_u8(in) % 10;
	if ((op == 0 || op == 1 || op == 7 || op == 8) && ++walks > MAX_WALKS)
		return;
	switch (op) {
	case 0:
		vsc_process_tx(&core);
		accept_host(); /* guest REQUESTs connect to our listener */
		break;
	case 1:
		vsc_process_rx(&core);
		break;
	case 2:
		guest_write(in);
		break;
	case 3:
		host_write(in);
		break;
	case 4:
		host_read(in);
		break;
	case 5:
		host_close(in);
		break;
	case 6:
		hybrid_connect(in);
		break;
	case 7:
		ev_run_once(epfd, 0);
		vsc_reap(&core);
		break;
	case 8:
		walk_tx();
		break;
	case 9:
		vsc_reset_all(&core);
		vsc_reap(&core);
		break;
	}
	FUZZ_ASSERT(vsc_check(&core) == 0);
}

static void reset(void)
{
	vsc_reset_all(&core);
	vsc_reap(&core);
	/* Hybrid clients the device has not accepted yet, and guest connections to our port. */
	int fd;
	while (pending(core.listen_fd) &&
	       (fd = accept4(core.listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
	accept_host();
	for (unsigned i = 0; i < g.nhost; i++)
		closep(&g.host[i]);
	g.nhost = 0;
	for (unsigned i = 0; i < NREG; i++) {
		free(g.mem[i]);
		g.mem[i] = NULL;
		g.size[i] = 0;
	}
	gm_init(&g.gm);
	vq_init(&g.rxq);
	vq_init(&g.txq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t ctl = fuzz_u8(&in);
	uint16_t num = (uint16_t)(1u << MIN(ctl & 15, 6));
	unsigned nreg = 1 + (ctl >> 4 & 3) % NREG;
	core.buf_alloc = 512u << (ctl >> 6);

	for (unsigned i = 0; i < nreg; i++) {
		size_t sz = 1 + fuzz_u16(&in) % MAX_REGION;
		uint64_t gpa = (uint64_t)fuzz_u32(&in) << 4, uva = (uint64_t)fuzz_u32(&in) << 4;
		size_t fill = fuzz_u16(&in);
		const uint8_t *p = fuzz_bytes(&in, &fill);
		uint8_t *m = calloc(1, sz);
		FUZZ_ASSERT(m);
		memcpy(m, p, MIN(fill, sz));
		if (gm_add_host_region(&g.gm, gpa, sz, uva, m) < 0) {
			free(m);
			continue;
		}
		g.mem[g.gm.n - 1] = m;
		g.size[g.gm.n - 1] = sz;
	}
	setup_vq(&in, &g.rxq, num);
	setup_vq(&in, &g.txq, num);
	walks = 0;
	while (in.n > 0)
		one_op(&in);
	reset();
	return 0;
}

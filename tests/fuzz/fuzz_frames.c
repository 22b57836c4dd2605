/* The ttrpc server's input side: arbitrary bytes from a client, in arbitrary pieces.
 *
 * Each input gets a fresh loop and server with one connection on a socketpair (as in
 * tests/unit/test_ttrpc.c).  The test dispatcher answers "Echo" at once, parks "Park" (with the
 * request's deadline), completes every parked call on "Release", echoes the request payload
 * back as a string on "Payload", and fails everything else UNIMPLEMENTED.  Small limits (8
 * calls per connection, 4 parked) make the RESOURCE_EXHAUSTED paths reachable.
 *
 * Input: one control byte, then the byte stream the client sends.
 *   bits 0-3: how the stream is cut into writes (0: one write; else a fixed piece size)
 *   bit 4:    the client half-closes (shutdown SHUT_WR) after the last byte
 *   bit 5:    the client closes its end before the server is freed (parked calls abandoned)
 *   bits 6-7: both set: each piece goes through the socket and the server's loop runs until
 *             idle between writes (read path, backpressure), with pieces enlarged so that
 *             there are at most MAX_WRITES of them; otherwise the pieces are handed
 *             to the connection directly (ttrpc_server_feed: same parser, no syscall per
 *             piece) and the loop runs once they are all in, which is several times faster.
 *
 * Properties checked: everything the server writes back parses as ttrpc Response frames
 * (header type 2, length within the limit, a decodable ttrpc.Response with a Status); the
 * server never holds more parked calls than its limit; freeing the server cancels every parked
 * call; nothing leaks (LeakSanitizer, per input). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "health.pb-c.h"
#include "loop.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

#define MAX_PARKED 4
#define MAX_WRITES 16

static struct ttrpc_call *parked[MAX_PARKED + 1];
static int nparked;

static void cancel_cb(struct ttrpc_call *c, void *data)
{
	for (int i = 0; i < nparked; i++)
		if (parked[i] == c) {
			parked[i] = parked[--nparked];
			return;
		}
	FUZZ_ASSERT(!"cancel for a call that is not parked");
}

static void dispatch(struct ttrpc_call *call, const char *service, const char *method,
                     const uint8_t *payload, size_t len, void *data)
{
	FUZZ_ASSERT(service && method);
	FUZZ_ASSERT(len == 0 || payload);
	if (strcmp(method, "Echo") == 0) {
		Grpc__HealthCheckResponse r = GRPC__HEALTH_CHECK_RESPONSE__INIT;
		r.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
		ttrpc_reply(call, &r.base);
	} else if (strcmp(method, "Park") == 0) {
		if (ttrpc_park(call, cancel_cb, NULL) == 0) {
			FUZZ_ASSERT(nparked < MAX_PARKED);
			parked[nparked++] = call;
		}
	} else if (strcmp(method, "Release") == 0) {
		while (nparked > 0)
			ttrpc_fail(parked[--nparked], TTRPC_ABORTED, "released");
		ttrpc_reply(call, NULL);
	} else if (strcmp(method, "Payload") == 0) {
		Grpc__VersionCheckResponse r = GRPC__VERSION_CHECK_RESPONSE__INIT;
		/* An empty payload may come as NULL. */
		char *s = len ? strndup((const char *)payload, len) : strdup("");
		FUZZ_ASSERT(s);
		r.agent_version = s;
		ttrpc_reply(call, &r.base);
		free(s);
	} else {
		ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "%s/%s", service, method);
	}
}

/* The client's view: read whatever the server sent and check it frame by frame. */
struct client {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

static void client_check(struct client *cl)
{
	size_t off = 0;
	while (cl->len - off >= TTRPC_HDR_LEN) {
		struct ttrpc_hdr h;
		ttrpc_hdr_decode(cl->buf + off, &h);
		FUZZ_ASSERT(h.type == TTRPC_RESPONSE);
		FUZZ_ASSERT(h.flags == 0);
		FUZZ_ASSERT(h.length <= TTRPC_MAX_MSG);
		if (cl->len - off - TTRPC_HDR_LEN < h.length)
			break;
		Ttrpc__Response *r =
		    ttrpc__response__unpack(NULL, h.length, cl->buf + off + TTRPC_HDR_LEN);
		FUZZ_ASSERT(r);
		FUZZ_ASSERT(r->status);
		FUZZ_ASSERT(r->status->code >= 0 && r->status->code <= TTRPC_UNAUTHENTICATED);
		ttrpc__response__free_unpacked(r, NULL);
		off += TTRPC_HDR_LEN + h.length;
	}
	memmove(cl->buf, cl->buf + off, cl->len - off);
	cl->len -= off;
}

static void client_drain(struct client *cl)
{
	if (cl->fd < 0)
		return;
	for (;;) {
		if (cl->cap - cl->len < 65536) {
			cl->cap = cl->cap * 2 + 65536;
			cl->buf = realloc(cl->buf, cl->cap);
			FUZZ_ASSERT(cl->buf);
		}
		ssize_t n = recv(cl->fd, cl->buf + cl->len, cl->cap - cl->len, MSG_DONTWAIT);
		if (n <= 0)
			break;
		cl->len += (size_t)n;
	}
	client_check(cl);
}

/* Run the server until it has nothing left to do, reading its replies meanwhile. */
static void settle(struct loop *l, struct client *cl)
{
	for (int i = 0; i < 64; i++) {
		int n = loop_run_once(l, 0);
		FUZZ_ASSERT(n >= 0);
		client_drain(cl);
		if (n == 0)
			break;
	}
}

static void send_all(struct loop *l, struct client *cl, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(cl->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			/* The server may have given up on the connection. */
			if (errno == EPIPE || errno == ECONNRESET)
				return;
			FUZZ_ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
			w = 0;
		}
		p += w;
		n -= (size_t)w;
		settle(l, cl);
	}
}

static const size_t piece_sizes[16] = {0, 1, 2, 3, 5, 7, 9, 10, 11, 13, 17, 32, 64, 100, 256, 4096};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t ctl = fuzz_u8(&in);
	size_t piece = piece_sizes[ctl & 15];

	int sv[2];
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
	struct loop *l;
	FUZZ_ASSERT(loop_new(&l) == 0);
	struct ttrpc_limits lim = ttrpc_default_limits;
	lim.max_calls_per_conn = 8;
	lim.max_parked = MAX_PARKED;
	struct ttrpc_server *srv;
	FUZZ_ASSERT(ttrpc_server_new(l, &lim, dispatch, NULL, &srv) == 0);
	FUZZ_ASSERT(ttrpc_server_add_conn(srv, sv[0]) == 0);
	/* The client's buffer stays between inputs: reallocating it each time cost more than
	 * the parsing. */
	static struct client cl;
	cl.fd = sv[1];
	cl.len = 0;
	nparked = 0;
	bool via_socket = (ctl & 0xc0) == 0xc0;

	size_t step = piece ? piece : in.n;
	/* Through the socket, at most MAX_WRITES writes per input, each followed by a settle of
	 * the loop (a dozen syscalls): the corpus drifts towards 16 KB streams in 1-byte pieces,
	 * 16,000 round trips per input.  Frames split across reads are reached as well with a few
	 * large pieces. */
	if (via_socket && in.n > step * MAX_WRITES)
		step = (in.n + MAX_WRITES - 1) / MAX_WRITES;
	while (in.n > 0) {
		size_t n = step;
		const uint8_t *p = fuzz_bytes(&in, &n);
		if (via_socket)
			send_all(l, &cl, p, n);
		else if (ttrpc_server_feed(srv, sv[0], p, n) < 0)
			FUZZ_ASSERT(ttrpc_server_nconns(srv) == 0); /* the server closed it */
		FUZZ_ASSERT(ttrpc_server_nparked(srv) == (unsigned)nparked);
		FUZZ_ASSERT(ttrpc_server_nconns(srv) <= 1);
	}
	if (!via_socket)
		settle(l, &cl);
	if (ctl & 0x10) {
		shutdown(cl.fd, SHUT_WR);
		settle(l, &cl);
		/* EOF closes the connection and abandons its parked calls. */
		FUZZ_ASSERT(ttrpc_server_nconns(srv) == 0);
		FUZZ_ASSERT(nparked == 0);
	}
	if (ctl & 0x20) {
		close(cl.fd);
		cl.fd = -1;
		settle(l, &cl);
	}
	ttrpc_server_free(srv);
	FUZZ_ASSERT(nparked == 0);
	loop_free(l);
	if (cl.fd >= 0) {
		client_drain(&cl);
		close(cl.fd);
	}
	return 0;
}

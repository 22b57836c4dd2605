/* rpc-load: the load client of the RPC benchmark (tests/bench).  It drives any ttrpc server
 * that serves grpc.Health/Check on a unix socket — our agent and containerd's Go ttrpc server
 * alike, with the same settings — and prints one line of key=value results.
 *
 * Shape of the load: --connections connections (default 4), one client thread each, every
 * connection keeping --depth requests in flight (default 16: enough to keep a server busy
 * through scheduling gaps on a small machine, small enough that p99 latency still means
 * something).  After --warmup-ms the measured window of --duration-ms opens; calls answered in
 * the window are counted, their latency (CLOCK_MONOTONIC from the send to the read that
 * returned the response) recorded, and the server's CPU time over the window is read from its
 * process CPU clock (clock_getcpuclockid: all threads, ns resolution).
 *
 * The client is kept cheap on purpose, since it shares the machine's cores with the server:
 * the request frame is encoded once and only its stream id patched, responses are read in
 * bulk and requests written in batches.  Every response is still decoded and checked: ttrpc
 * status OK and HealthCheckResponse.status == SERVING; anything else counts as an error and
 * makes the exit status 1. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "health.pb-c.h"
#include "ttrpc.pb-c.h"
#include "ttrpc_frame.h"
#include "util.h"

#define MAX_CONNECTIONS 64
#define MAX_DEPTH       1024
/* Send times are kept in a ring indexed by sequence number; a response whose slot has been
 * reused (the server sat on one call while SEQ_RING others completed) counts as an error. */
#define SEQ_RING       (1u << 16)
#define RX_BUF         (64u << 10)
#define RECV_TIMEOUT_S 5
#define CONNECT_TRIES  500 /* 10 ms apart */

struct opts {
	const char *socket;
	pid_t pid;
	unsigned connections, depth;
	unsigned warmup_ms, duration_ms;
};

enum phase { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };
static _Atomic int phase = PHASE_WARMUP;

struct conn {
	pthread_t thread;
	int fd;
	const struct opts *o;
	const uint8_t *frame; /* one encoded Request frame, stream id patched per send */
	size_t frame_len;
	uint64_t sent_ns[SEQ_RING];
	uint32_t sent_seq[SEQ_RING];
	uint64_t *lat; /* latencies of calls answered in the measured window, ns */
	size_t nlat, cap;
	unsigned long calls, errors;
	int err; /* -errno of a transport failure */
	char what[128];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int record(struct conn *c, uint64_t ns)
{
	if (c->nlat == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
		uint64_t *p = realloc(c->lat, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->lat = p;
		c->cap = cap;
	}
	c->lat[c->nlat++] = ns;
	return 0;
}

/* Decode one Response payload; true when it says OK and SERVING. */
static bool response_ok(const uint8_t *p, size_t n)
{
	Ttrpc__Response *r = ttrpc__response__unpack(NULL, n, p);
	if (!r)
		return false;
	bool ok = false;
	if (!r->status || r->status->code == TTRPC_OK) {
		Grpc__HealthCheckResponse *h =
		    grpc__health_check_response__unpack(NULL, r->payload.len, r->payload.data);
		ok = h && h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
		if (h)
			grpc__health_check_response__free_unpacked(h, NULL);
	}
	ttrpc__response__free_unpacked(r, NULL);
	return ok;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Consume the complete frames at the start of buf; returns how many bytes were used and
 * decrements *inflight per response. */
static size_t take_frames(struct conn *c, const uint8_t *buf, size_t len, uint64_t t,
                          unsigned *inflight)
{
	size_t off = 0;
	bool measuring = atomic_load_explicit(&phase, memory_order_relaxed) == PHASE_MEASURE;
	while (len - off >= TTRPC_HDR_LEN) {
		struct ttrpc_hdr h;
		ttrpc_hdr_decode(buf + off, &h);
		if (h.length > len - off - TTRPC_HDR_LEN)
			break;
		const uint8_t *body = buf + off + TTRPC_HDR_LEN;
		off += TTRPC_HDR_LEN + h.length;
		if (h.type != TTRPC_RESPONSE)
			continue;
		uint32_t seq = (h.stream_id - 1) / 2;
		uint32_t slot = seq % SEQ_RING;
		if (!(h.stream_id & 1) || c->sent_seq[slot] != seq || !c->sent_ns[slot]) {
			c->errors++;
			snprintf(c->what, sizeof(c->what), "response to unknown stream %u",
			         h.stream_id);
			continue;
		}
		uint64_t sent = c->sent_ns[slot];
		c->sent_ns[slot] = 0;
		(*inflight)--;
		if (!response_ok(body, h.length)) {
			c->errors++;
			snprintf(c->what, sizeof(c->what), "stream %u: not OK/SERVING",
			         h.stream_id);
			continue;
		}
		if (measuring) {
			c->calls++;
			if (record(c, t - sent) < 0)
				c->err = -ENOMEM;
		}
	}
	return off;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	_cleanup_free_ uint8_t *rx = malloc(RX_BUF);
	_cleanup_free_ uint8_t *tx = malloc((size_t)c->o->depth * c->frame_len);
	if (!rx || !tx) {
		c->err = -ENOMEM;
		return NULL;
	}
	uint32_t seq = 0;
	unsigned inflight = 0;
	size_t have = 0;
	for (;;) {
		bool stopping = atomic_load_explicit(&phase, memory_order_relaxed) == PHASE_STOP;
		if (stopping && inflight == 0)
			return NULL;
		size_t n = 0;
		uint64_t t = mono_ns();
		while (!stopping && inflight < c->o->depth) {
			uint32_t slot = seq % SEQ_RING;
			memcpy(tx + n, c->frame, c->frame_len);
			struct ttrpc_hdr h = {.length = (uint32_t)(c->frame_len - TTRPC_HDR_LEN),
			                      .stream_id = 2 * seq + 1,
			                      .type = TTRPC_REQUEST};
			ttrpc_hdr_encode(tx + n, &h);
			c->sent_seq[slot] = seq;
			c->sent_ns[slot] = t;
			n += c->frame_len;
			inflight++;
			/* Stream ids are odd and below 2^31: wrap long before that. */
			seq = (seq + 1) & 0x3fffffff;
		}
		int r = send_all(c->fd, tx, n);
		if (r < 0) {
			c->err = r;
			snprintf(c->what, sizeof(c->what), "send: %s", strerror(-r));
			return NULL;
		}
		ssize_t got = read(c->fd, rx + have, RX_BUF - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			c->err = got == 0 ? -ECONNRESET : -errno;
			snprintf(c->what, sizeof(c->what), "recv with %u in flight: %s", inflight,
			         strerror(-c->err));
			return NULL;
		}
		have += (size_t)got;
		size_t used = take_frames(c, rx, have, mono_ns(), &inflight);
		if (c->err)
			return NULL;
		memmove(rx, rx + used, have - used);
		have -= used;
		if (have == RX_BUF) {
			c->err = -EPROTO;
			snprintf(c->what, sizeof(c->what), "frame larger than %u bytes", RX_BUF);
			return NULL;
		}
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The server was just started: give it a moment to bind and listen. */
	for (int tries = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0; tries++) {
		if ((errno != ENOENT && errno != ECONNREFUSED) || tries == CONNECT_TRIES)
			return -errno;
		sleep_ms(10);
	}
	/* A server that stops answering must fail the run, not hang it. */
	struct timeval tv = {.tv_sec = RECV_TIMEOUT_S};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* The Check request frame: Request{service, method, payload = CheckRequest{}}. */
static int encode_frame(uint8_t **ret, size_t *ret_len)
{
	Grpc__CheckRequest chk = GRPC__CHECK_REQUEST__INIT;
	uint8_t payload[16];
	size_t plen = grpc__check_request__pack(&chk, payload);
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	req.service = (char *)"grpc.Health";
	req.method = (char *)"Check";
	req.payload.data = payload;
	req.payload.len = plen;
	size_t n = ttrpc__request__get_packed_size(&req);
	uint8_t *f = malloc(TTRPC_HDR_LEN + n);
	if (!f)
		return -ENOMEM;
	ttrpc__request__pack(&req, f + TTRPC_HDR_LEN);
	*ret = f;
	*ret_len = TTRPC_HDR_LEN + n;
	return 0;
}

static int cpu_ns(clockid_t clk, uint64_t *ret)
{
	struct timespec ts;
	if (clock_gettime(clk, &ts) < 0)
		return -errno;
	*ret = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: rpc-load --socket PATH [OPTIONS]\n"
	           "Drive grpc.Health/Check on a ttrpc unix socket; print key=value results.\n"
	           "  --socket PATH       the server's unix socket\n"
	           "  --pid PID           the server process, to measure its CPU time per call\n"
	           "  --connections N     connections, one thread each (default 4)\n"
	           "  --depth N           requests in flight per connection (default 16)\n"
	           "  --warmup-ms MS      load before the measured window (default 300)\n"
	           "  --duration-ms MS    the measured window (default 2000)\n"
	           "Exit status: 0 all calls answered SERVING, 1 errors, 2 usage.\n");
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SOCKET = 256, O_PID, O_CONNS, O_DEPTH, O_WARMUP, O_DURATION, O_HELP };
	static const struct option lo[] = {
	    {"socket", required_argument, NULL, O_SOCKET},
	    {"pid", required_argument, NULL, O_PID},
	    {"connections", required_argument, NULL, O_CONNS},
	    {"depth", required_argument, NULL, O_DEPTH},
	    {"warmup-ms", required_argument, NULL, O_WARMUP},
	    {"duration-ms", required_argument, NULL, O_DURATION},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	*o = (struct opts){.connections = 4, .depth = 16, .warmup_ms = 300, .duration_ms = 2000};
	int c, r = 0;
	unsigned pid;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_SOCKET:
			o->socket = optarg;
			break;
		case O_PID:
			r = parse_uint(optarg, 1, 1u << 22, &pid);
			o->pid = (pid_t)pid;
			break;
		case O_CONNS:
			r = parse_uint(optarg, 1, MAX_CONNECTIONS, &o->connections);
			break;
		case O_DEPTH:
			r = parse_uint(optarg, 1, MAX_DEPTH, &o->depth);
			break;
		case O_WARMUP:
			r = parse_uint(optarg, 0, 60000, &o->warmup_ms);
			break;
		case O_DURATION:
			r = parse_uint(optarg, 10, 600000, &o->duration_ms);
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "rpc-load: bad value for --%s: %s\n", lo[c - O_SOCKET].name,
			        optarg);
			return r;
		}
	}
	if (!o->socket || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	clockid_t clk = 0;
	if (o.pid) {
		int r = clock_getcpuclockid(o.pid, &clk);
		if (r) {
			fprintf(stderr, "rpc-load: CPU clock of pid %d: %s\n", (int)o.pid,
			        strerror(r));
			return 1;
		}
	}
	_cleanup_free_ uint8_t *frame = NULL;
	size_t frame_len;
	if (encode_frame(&frame, &frame_len) < 0)
		return 1;
	_cleanup_free_ struct conn *conns = calloc(o.connections, sizeof(*conns));
	if (!conns)
		return 1;
	unsigned started = 0;
	int ret = 0;
	for (; started < o.connections; started++) {
		struct conn *c = &conns[started];
		*c = (struct conn){.o = &o, .frame = frame, .frame_len = frame_len};
		c->fd = connect_unix(o.socket);
		if (c->fd < 0) {
			fprintf(stderr, "rpc-load: connect %s: %s\n", o.socket, strerror(-c->fd));
			ret = 1;
			break;
		}
		int r = pthread_create(&c->thread, NULL, conn_main, c);
		if (r) {
			fprintf(stderr, "rpc-load: pthread_create: %s\n", strerror(r));
			close(c->fd);
			ret = 1;
			break;
		}
	}
	uint64_t cpu0 = 0, cpu1 = 0, t0 = 0, t1 = 0;
	if (!ret) {
		sleep_ms(o.warmup_ms);
		if (o.pid && cpu_ns(clk, &cpu0) < 0)
			ret = 1;
		t0 = mono_ns();
		atomic_store(&phase, PHASE_MEASURE);
		sleep_ms(o.duration_ms);
		if (o.pid && cpu_ns(clk, &cpu1) < 0)
			ret = 1;
		t1 = mono_ns();
	}
	atomic_store(&phase, PHASE_STOP);

	unsigned long calls = 0, errors = 0;
	size_t nlat = 0;
	for (unsigned i = 0; i < started; i++) {
		struct conn *c = &conns[i];
		pthread_join(c->thread, NULL);
		close(c->fd);
		calls += c->calls;
		errors += c->errors;
		nlat += c->nlat;
		if (c->err || c->errors) {
			fprintf(stderr, "rpc-load: connection %u: %s\n", i, c->what);
			ret = 1;
		}
	}
	_cleanup_free_ uint64_t *lat = malloc((nlat ? nlat : 1) * sizeof(*lat));
	if (!lat)
		return 1;
	nlat = 0;
	for (unsigned i = 0; i < started; i++) {
		memcpy(lat + nlat, conns[i].lat, conns[i].nlat * sizeof(*lat));
		nlat += conns[i].nlat;
		free(conns[i].lat);
	}
	if (calls == 0 && ret == 0) {
		fprintf(stderr, "rpc-load: no call answered in the measured window\n");
		ret = 1;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	double secs = (double)(t1 - t0) / 1e9;
	printf("calls=%lu errors=%lu seconds=%.3f calls_per_s=%.0f p50_us=%.1f p99_us=%.1f", calls,
	       errors, secs, secs > 0 ? (double)calls / secs : 0.0,
	       nlat ? (double)lat[nlat / 2] / 1e3 : 0.0,
	       nlat ? (double)lat[nlat * 99 / 100] / 1e3 : 0.0);
	if (o.pid)
		printf(" cpu_ns_per_call=%.0f",
		       calls ? (double)(cpu1 - cpu0) / (double)calls : 0.0);
	printf("\n");
	return ret;
}

// SPDX-License-Identifier: Apache-2.0
// hvsock-wait: retry a hybrid-vsock CONNECT (Firecracker / Cloud Hypervisor style, as our
// vhost-user-vsock back-end serves it) until the guest accepts, then print the wall-clock time
// of that moment (CLOCK_REALTIME, ns since the epoch, like `date +%s%N`).  The VM benchmark uses
// it to time its boot floor without spawning a process per attempt.  With --check it then sends
// one grpc.Health/Check over that same connection, the way the Kata runtime's first call follows
// its dial, and prints the time its SERVING answer came back as a second number.
//
//   hvsock-wait --uds PATH [--port N] [--timeout-ms N] [--interval-ms N] [--check]
// Exit: 0 accepted (and, with --check, answered SERVING), 1 timed out or failed, 2 usage.
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(closep)))

static long long now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

// One attempt: the connection's fd if the back-end answered OK, -errno otherwise.
static int try_connect(const char *uds, unsigned port)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char req[32], line[64];
	size_t n = 0;

	if (fd < 0)
		return -errno;
	if (strlen(uds) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, uds, strlen(uds));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	int len = snprintf(req, sizeof(req), "CONNECT %u\n", port);
	if (write(fd, req, (size_t)len) != len)
		return -EIO;
	// The back-end answers "OK <port>\n" or closes; it gives up on the guest after 5 s itself.
	while (n < sizeof(line) - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, 10000);
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		ssize_t k = read(fd, line + n, 1);
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	if (strncmp(line, "OK", 2) != 0)
		return -ECONNREFUSED;
	int ok = fd;
	fd = -1;
	return ok;
}

// Reads exactly n bytes within timeout_ms: 0, or -errno (-ECONNRESET on EOF).
static int read_full(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	for (size_t got = 0; got < n;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, timeout_ms);
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		ssize_t k = read(fd, buf + got, n - got);
		if (k <= 0)
			return k < 0 ? -errno : -ECONNRESET;
		got += (size_t)k;
	}
	return 0;
}

// Protobuf varint at *p (< end): the value, or -1 when it runs past end.
static long long varint(const uint8_t **p, const uint8_t *end)
{
	unsigned long long v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (unsigned long long)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return (long long)(v & 0x7fffffffffffffffull);
	}
	return -1;
}

// The value of varint field `field` in the message [p, end), or -1 (absent or malformed);
// *ret_sub gets the bytes of length-delimited field `sub` when asked for.
static long long pb_field(const uint8_t *p, const uint8_t *end, unsigned field, unsigned sub,
                          const uint8_t **ret_sub, size_t *ret_sub_len)
{
	long long found = -1;
	while (p < end) {
		long long tag = varint(&p, end);
		if (tag < 0)
			return -1;
		long long v = 0;
		switch (tag & 7) {
		case 0:
			v = varint(&p, end);
			if (v < 0)
				return -1;
			if ((unsigned long long)tag >> 3 == field)
				found = v;
			break;
		case 2:
			v = varint(&p, end);
			if (v < 0 || v > end - p)
				return -1;
			if (ret_sub && (unsigned long long)tag >> 3 == sub) {
				*ret_sub = p;
				*ret_sub_len = (size_t)v;
			}
			p += v;
			break;
		default:
			return -1;
		}
	}
	return found;
}

// One grpc.Health/Check on fd: 0 when the answer is SERVING, -errno otherwise.  ttrpc framing:
// a 10-byte header (length and stream id big-endian, type 1 request / 2 response, flags), then a
// Request {service = 1, method = 2, payload = 3} or a Response {status = 1, payload = 2}.
static int health_check(int fd, int timeout_ms)
{
	static const uint8_t req[] = {
	    0,    0,  0,   22,  0,   0,   0,   1,   1,   0, /* header: 22 bytes, stream 1, request
	                                                     */
	    0x0a, 11, 'g', 'r', 'p', 'c', '.', 'H', 'e', 'a', 'l', 't', 'h', /* service */
	    0x12, 5,  'C', 'h', 'e', 'c', 'k',                               /* method */
	    0x1a, 0, /* payload: an empty HealthCheckRequest */
	};
	uint8_t hdr[10], body[4096];
	if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req))
		return -EIO;
	int r = read_full(fd, hdr, sizeof(hdr), timeout_ms);
	if (r < 0)
		return r;
	size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	if (hdr[8] != 2 || hdr[7] != 1 || len > sizeof(body))
		return -EPROTO;
	if ((r = read_full(fd, body, len, timeout_ms)) < 0)
		return r;
	const uint8_t *status = NULL, *payload = NULL;
	size_t status_len = 0, payload_len = 0;
	pb_field(body, body + len, 0, 1, &status, &status_len);
	pb_field(body, body + len, 0, 2, &payload, &payload_len);
	// A status with a non-zero code is an error; SERVING is 1 in HealthCheckResponse.status.
	if (status && pb_field(status, status + status_len, 1, 0, NULL, NULL) > 0)
		return -EREMOTEIO;
	if (!payload || pb_field(payload, payload + payload_len, 1, 0, NULL, NULL) != 1)
		return -EPROTO;
	return 0;
}

static void usage(FILE *f)
{
	fputs(
	    "Usage: hvsock-wait --uds PATH [--port N] [--timeout-ms N] [--interval-ms N] "
	    "[--check]\n"
	    "  --uds PATH         the back-end's hybrid-vsock socket\n"
	    "  --port N           guest port (default 1024)\n"
	    "  --timeout-ms N     give up after N ms (default 600000)\n"
	    "  --interval-ms N    pause between attempts (default 5)\n"
	    "  --check            then one grpc.Health/Check on the connection\n"
	    "Prints CLOCK_REALTIME in ns when the guest accepted (with --check, a second number:\n"
	    "when the SERVING answer came).  Exit 0, 1 timeout or failure, 2 usage.\n",
	    f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"uds", required_argument, NULL, 'u'},
	    {"port", required_argument, NULL, 'p'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"interval-ms", required_argument, NULL, 'i'},
	    {"check", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *uds = NULL;
	unsigned long port = 1024, timeout_ms = 600000, interval_ms = 5;
	bool check = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			uds = optarg;
			break;
		case 'p':
			port = strtoul(optarg, NULL, 10);
			break;
		case 't':
			timeout_ms = strtoul(optarg, NULL, 10);
			break;
		case 'i':
			interval_ms = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!uds || optind != argc || port == 0 || port > 0xffffffffUL) {
		usage(stderr);
		return 2;
	}
	long long deadline = now_ns(CLOCK_MONOTONIC) + (long long)timeout_ms * 1000000ll;
	int fd;
	while ((fd = try_connect(uds, (unsigned)port)) < 0) {
		if (now_ns(CLOCK_MONOTONIC) >= deadline) {
			fprintf(stderr, "hvsock-wait: port %lu not accepted within %lu ms (%s)\n",
			        port, timeout_ms, strerror(-fd));
			return 1;
		}
		struct timespec ts = {.tv_sec = (time_t)(interval_ms / 1000),
		                      .tv_nsec = (long)(interval_ms % 1000) * 1000000l};
		nanosleep(&ts, NULL);
	}
	_cleanup_close_ int conn = fd;
	long long accepted = now_ns(CLOCK_REALTIME);
	if (!check) {
		printf("%lld\n", accepted);
		return 0;
	}
	long long left_ms = (deadline - now_ns(CLOCK_MONOTONIC)) / 1000000ll;
	int r =
	    health_check(conn, left_ms > 1000 ? (int)(left_ms > 600000 ? 600000 : left_ms) : 1000);
	if (r < 0) {
		fprintf(stderr, "hvsock-wait: Health.Check on port %lu: %s\n", port, strerror(-r));
		return 1;
	}
	printf("%lld %lld\n", accepted, now_ns(CLOCK_REALTIME));
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
// hvsock-wait: retry a hybrid-vsock CONNECT (Firecracker / Cloud Hypervisor style, as our
// vhost-user-vsock back-end serves it) until the guest accepts, then print the wall-clock time
// of that moment (CLOCK_REALTIME, ns since the epoch, like `date +%s%N`).  The VM benchmark uses
// it to time its boot floor without spawning a process per attempt.
//
//   hvsock-wait --uds PATH [--port N] [--timeout-ms N] [--interval-ms N]
// Exit: 0 accepted, 1 timed out, 2 usage.
#include <errno.h>
#include <getopt.h>
#include <poll.h>
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

// One attempt: 0 if the back-end answered OK, -errno otherwise.
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
	return strncmp(line, "OK", 2) == 0 ? 0 : -ECONNREFUSED;
}

static void usage(FILE *f)
{
	fputs("Usage: hvsock-wait --uds PATH [--port N] [--timeout-ms N] [--interval-ms N]\n"
	      "  --uds PATH         the back-end's hybrid-vsock socket\n"
	      "  --port N           guest port (default 1024)\n"
	      "  --timeout-ms N     give up after N ms (default 600000)\n"
	      "  --interval-ms N    pause between attempts (default 5)\n"
	      "Prints CLOCK_REALTIME in ns when the guest accepted.  Exit 0, 1 timeout, 2 usage.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"uds", required_argument, NULL, 'u'},
	    {"port", required_argument, NULL, 'p'},
	    {"timeout-ms", required_argument, NULL, 't'},
	    {"interval-ms", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *uds = NULL;
	unsigned long port = 1024, timeout_ms = 600000, interval_ms = 5;
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
	int r;
	while ((r = try_connect(uds, (unsigned)port)) < 0) {
		if (now_ns(CLOCK_MONOTONIC) >= deadline) {
			fprintf(stderr, "hvsock-wait: port %lu not accepted within %lu ms (%s)\n",
			        port, timeout_ms, strerror(-r));
			return 1;
		}
		struct timespec ts = {.tv_sec = (time_t)(interval_ms / 1000),
		                      .tv_nsec = (long)(interval_ms % 1000) * 1000000l};
		nanosleep(&ts, NULL);
	}
	printf("%lld\n", now_ns(CLOCK_REALTIME));
	return 0;
}

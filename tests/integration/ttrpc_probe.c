/* ttrpc_probe: protocol-level integration checks against a running agent (ours or any other),
 * for what kata-agent-ctl cannot express: several requests in flight on one connection, many
 * connections, crafted bad frames.  Also a tiny hybrid-vsock endpoint for testing hvsock://.
 *
 *   ttrpc_probe --addr ADDR [--pid PID] SCENARIO...
 *   ttrpc_probe hvsock-endpoint --listen PATH --target ADDR --port N
 *
 * Prints one line per check and "N passed, N failed"; exits 1 on any failure. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "ttrpc.pb-c.h"
#include "ttrpc_client.h"
#include "ttrpc_frame.h"

#define WAIT_MS 10000

static const char *agent_addr;
static int agent_pid;
static int passed, failed;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s: ", ok ? "ok  " : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (ok)
		passed++;
	else
		failed++;
	fflush(stdout);
}

static int dial(struct ttrpc_client *c)
{
	struct addr a;
	const char *err;
	int fd;
	if (addr_parse(agent_addr, &a, &err) < 0 || addr_connect(&a, 5000, &fd, &err) < 0)
		return -1;
	ttrpc_client_init(c, fd);
	return 0;
}

static long send_check(struct ttrpc_client *c)
{
	return ttrpc_client_send(c, "grpc.Health", "Check", NULL, 0, 30000000000ll);
}

static bool serving(const struct ttrpc_result *r)
{
	if (r->code != 0)
		return false;
	Grpc__HealthCheckResponse *h =
	    grpc__health_check_response__unpack(NULL, r->len, r->payload);
	bool ok = h && h->status == GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	if (h)
		grpc__health_check_response__free_unpacked(h, NULL);
	return ok;
}

/* One Check round trip on c; true when SERVING comes back on that stream. */
static bool check_ok(struct ttrpc_client *c)
{
	struct ttrpc_result r;
	if (ttrpc_client_call(c, "grpc.Health", "Check", NULL, 0, 0, WAIT_MS, &r) < 0)
		return false;
	bool ok = serving(&r);
	ttrpc_result_free(&r);
	return ok;
}

static void send_hdr(struct ttrpc_client *c, uint32_t len, uint32_t stream, uint8_t type,
                     uint8_t flags)
{
	uint8_t h[TTRPC_HDR_LEN];
	struct ttrpc_hdr hd = {len, stream, type, flags};
	ttrpc_hdr_encode(h, &hd);
	ttrpc_client_send_raw(c, h, sizeof(h));
}

/* Expect the next response to be on `stream` with `code` (and the message containing sub). */
static bool expect(struct ttrpc_client *c, uint32_t stream, int code, const char *sub)
{
	struct ttrpc_result r;
	int rc = ttrpc_client_recv(c, WAIT_MS, &r);
	if (rc < 0) {
		printf("      (no response: %s)\n", strerror(-rc));
		return false;
	}
	bool ok = r.stream_id == stream && r.code == code && (!sub || strstr(r.message, sub));
	if (!ok)
		printf("      (got stream %u code %s message '%s')\n", r.stream_id,
		       ttrpc_code_name(r.code), r.message);
	ttrpc_result_free(&r);
	return ok;
}

static int count_fds(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", agent_pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 2;
}

static void scenario_health(void)
{
	struct ttrpc_client c;
	if (dial(&c) < 0) {
		check(false, "health: connect to %s", agent_addr);
		return;
	}
	check(check_ok(&c), "Health.Check answers SERVING");
	struct ttrpc_result r;
	bool ok = ttrpc_client_call(&c, "grpc.Health", "Version", NULL, 0, 0, WAIT_MS, &r) == 0 &&
	          r.code == 0;
	Grpc__VersionCheckResponse *v =
	    ok ? grpc__version_check_response__unpack(NULL, r.len, r.payload) : NULL;
	check(v && strcmp(v->grpc_version, "0.0.1") == 0 && v->agent_version[0],
	      "Health.Version: grpc_version 0.0.1, agent_version '%s'", v ? v->agent_version : "?");
	if (v)
		grpc__version_check_response__free_unpacked(v, NULL);
	ttrpc_result_free(&r);
	close(c.fd);
}

/* A parked request (GetOOMEvent blocks until an OOM) must not delay anything else. */
static void scenario_parked(void)
{
	struct ttrpc_client c, c2;
	if (dial(&c) < 0 || dial(&c2) < 0) {
		check(false, "parked: connect");
		return;
	}
	long oom = ttrpc_client_send(&c, "grpc.AgentService", "GetOOMEvent", NULL, 0, 0);
	bool all = true;
	for (int i = 0; i < 20 && all; i++) {
		long s = send_check(&c);
		struct ttrpc_result r;
		all = ttrpc_client_recv(&c, WAIT_MS, &r) == 0 && r.stream_id == (uint32_t)s &&
		      serving(&r);
		ttrpc_result_free(&r);
	}
	check(all,
	      "20 Checks answered on the same connection while GetOOMEvent (stream %ld) is parked",
	      oom);
	check(check_ok(&c2), "a second connection is served while a request is parked");
	struct pollfd p = {.fd = c.fd, .events = POLLIN};
	check(poll(&p, 1, 200) == 0, "GetOOMEvent is still parked (no OOM happened)");
	close(c.fd);
	close(c2.fd);
}

static void scenario_many(void)
{
	enum { NCONN = 64, NCALLS = 100 };
	static struct ttrpc_client cs[NCONN];
	int up = 0;
	for (int i = 0; i < NCONN; i++)
		if (dial(&cs[i]) == 0)
			up++;
	check(up == NCONN, "%d/%d connections open at once", up, NCONN);
	if (up != NCONN)
		return;
	int good = 0, bad = 0;
	/* Pipeline: every connection has 10 requests in flight at a time. */
	for (int round = 0; round < NCALLS / 10; round++) {
		for (int i = 0; i < NCONN; i++)
			for (int k = 0; k < 10; k++)
				send_check(&cs[i]);
		for (int i = 0; i < NCONN; i++)
			for (int k = 0; k < 10; k++) {
				struct ttrpc_result r;
				if (ttrpc_client_recv(&cs[i], WAIT_MS, &r) == 0 && serving(&r))
					good++;
				else
					bad++;
				ttrpc_result_free(&r);
			}
	}
	check(good == NCONN * NCALLS && bad == 0, "%d connections x %d calls: %d SERVING, %d bad",
	      NCONN, NCALLS, good, bad);
	for (int i = 0; i < NCONN; i++)
		close(cs[i].fd);
}

static void scenario_bad_input(void)
{
	struct ttrpc_client c;
	if (dial(&c) < 0) {
		check(false, "bad-input: connect");
		return;
	}
	/* 1. frame over 4 MiB: body discarded, error on its stream, connection keeps working */
	size_t big = TTRPC_MAX_MSG + 1024;
	char *junk = calloc(1, big);
	send_hdr(&c, (uint32_t)big, 1, TTRPC_REQUEST, 0);
	ttrpc_client_send_raw(&c, junk, big);
	free(junk);
	check(expect(&c, 1, TTRPC_INVALID_ARGUMENT, "exceed maximum message size"),
	      "frame of 4 MiB + 1 KiB: INVALID_ARGUMENT on its stream");
	c.next_stream = 3;
	check(check_ok(&c), "connection still serves after the oversized frame");

	/* 2. envelope that does not decode */
	const uint8_t garbage[] = {0x0a, 0x7f, 'x'};
	send_hdr(&c, sizeof(garbage), 101, TTRPC_REQUEST, 0);
	ttrpc_client_send_raw(&c, garbage, sizeof(garbage));
	check(expect(&c, 101, TTRPC_INVALID_ARGUMENT, NULL),
	      "undecodable envelope: INVALID_ARGUMENT");

	/* 3. unknown service, unknown method */
	long s = ttrpc_client_send(&c, "grpc.NoSuchService", "Check", NULL, 0, 0);
	check(expect(&c, (uint32_t)s, TTRPC_UNIMPLEMENTED, "NoSuchService"),
	      "unknown service: UNIMPLEMENTED");
	s = ttrpc_client_send(&c, "grpc.AgentService", "FlyToTheMoon", NULL, 0, 0);
	check(expect(&c, (uint32_t)s, TTRPC_UNIMPLEMENTED, "FlyToTheMoon"),
	      "unknown method: UNIMPLEMENTED");

	/* 4. payload that does not decode into the request type */
	const uint8_t badpl[] = {0x0a, 0x50, 'a'}; /* field 1, length 80, 1 byte present */
	s = ttrpc_client_send(&c, "grpc.Health", "Check", badpl, sizeof(badpl), 0);
	check(expect(&c, (uint32_t)s, TTRPC_INVALID_ARGUMENT, "decode"),
	      "undecodable payload: INVALID_ARGUMENT");

	/* 5. even stream id */
	send_hdr(&c, 0, 200, TTRPC_REQUEST, 0);
	check(expect(&c, 200, TTRPC_INVALID_ARGUMENT, "odd"), "even stream id: INVALID_ARGUMENT");

	/* 6. data frame on an unknown stream; unknown frame type; a response frame from the client
	 */
	send_hdr(&c, 4, 301, TTRPC_DATA, 0);
	ttrpc_client_send_raw(&c, "data", 4);
	check(expect(&c, 301, TTRPC_INVALID_ARGUMENT, "no longer active"),
	      "data frame on an idle stream: INVALID_ARGUMENT");
	send_hdr(&c, 3, 303, 0x42, 0);
	ttrpc_client_send_raw(&c, "???", 3);
	send_hdr(&c, 0, 305, TTRPC_RESPONSE, 0);
	check(check_ok(&c),
	      "unknown frame type and client-sent response are dropped; still serving");

	/* 7. truncated frame then disconnect: the agent must simply drop it */
	close(c.fd);
	if (dial(&c) == 0) {
		send_hdr(&c, 100, 1, TTRPC_REQUEST, 0);
		ttrpc_client_send_raw(&c, "abc", 3);
		close(c.fd);
	}
	struct ttrpc_client d;
	check(dial(&d) == 0 && check_ok(&d), "agent serves after a peer vanished mid-frame");
	close(d.fd);
}

/* Requests parked on a connection that disconnects are freed: fd count returns to baseline. */
static void scenario_disconnect(void)
{
	struct ttrpc_client c;
	/* Let the agent finish closing connections of earlier scenarios before the baseline. */
	usleep(300000);
	int before = agent_pid ? count_fds() : -1;
	for (int round = 0; round < 20; round++) {
		if (dial(&c) < 0) {
			check(false, "disconnect: connect");
			return;
		}
		for (int i = 0; i < 10; i++)
			ttrpc_client_send(&c, "grpc.AgentService", "GetOOMEvent", NULL, 0, 0);
		check_ok(&c);
		close(c.fd);
	}
	struct ttrpc_client d;
	check(dial(&d) == 0 && check_ok(&d),
	      "20 connections closed with 10 parked requests each; still serving");
	close(d.fd);
	if (agent_pid) {
		usleep(300000);
		int after = count_fds();
		check(after == before, "agent fd count back to baseline (%d before, %d after)",
		      before, after);
	}
}

/* ---- hybrid vsock endpoint: CONNECT <port>\n -> OK <n>\n, then splice to --target ---- */

static int splice_fds(int a, int b)
{
	char buf[65536];
	struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
	for (;;) {
		if (poll(p, 2, -1) < 0)
			return -errno;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				return 0;
			if (write(p[1 - i].fd, buf, (size_t)n) != n)
				return -EIO;
		}
	}
}

static int hvsock_endpoint(const char *listen_path, const char *target, unsigned port)
{
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", listen_path);
	unlink(listen_path);
	if (bind(ls, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(ls, 16) < 0) {
		perror("hvsock-endpoint: listen");
		return 1;
	}
	for (;;) {
		int c = accept(ls, NULL, NULL);
		if (c < 0)
			continue;
		if (fork() == 0) {
			char line[64];
			size_t n = 0;
			while (n + 1 < sizeof(line) && read(c, &line[n], 1) == 1 && line[n] != '\n')
				n++;
			line[n] = '\0';
			unsigned want;
			struct addr a;
			const char *err;
			int t;
			if (sscanf(line, "CONNECT %u", &want) != 1 || want != port ||
			    addr_parse(target, &a, &err) < 0 ||
			    addr_connect(&a, 1000, &t, &err) < 0)
				_exit(0); /* like a VMM: close on a bad port */
			dprintf(c, "OK %u\n", 40000 + (unsigned)getpid() % 1000);
			splice_fds(c, t);
			_exit(0);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "hvsock-endpoint") == 0) {
		const char *lp = NULL, *tg = NULL;
		unsigned port = 1024;
		for (int i = 2; i + 1 < argc; i += 2) {
			if (strcmp(argv[i], "--listen") == 0)
				lp = argv[i + 1];
			else if (strcmp(argv[i], "--target") == 0)
				tg = argv[i + 1];
			else if (strcmp(argv[i], "--port") == 0)
				port = (unsigned)atoi(argv[i + 1]);
		}
		if (!lp || !tg) {
			fprintf(stderr, "usage: ttrpc_probe hvsock-endpoint --listen PATH --target "
			                "ADDR [--port N]\n");
			return 2;
		}
		return hvsock_endpoint(lp, tg, port);
	}
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--addr") == 0)
			agent_addr = argv[i + 1];
		else if (strcmp(argv[i], "--pid") == 0)
			agent_pid = atoi(argv[i + 1]);
	}
	if (!agent_addr || i >= argc) {
		fprintf(stderr, "usage: ttrpc_probe --addr ADDR [--pid PID] "
		                "health|parked|many|bad-input|disconnect...\n");
		return 2;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "health") == 0)
			scenario_health();
		else if (strcmp(argv[i], "parked") == 0)
			scenario_parked();
		else if (strcmp(argv[i], "many") == 0)
			scenario_many();
		else if (strcmp(argv[i], "bad-input") == 0)
			scenario_bad_input();
		else if (strcmp(argv[i], "disconnect") == 0)
			scenario_disconnect();
		else {
			fprintf(stderr, "unknown scenario %s\n", argv[i]);
			return 2;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

// SPDX-License-Identifier: Apache-2.0
/* passfd I/O's connection table and pumps (agent/src/passfd.c), on the host: the listener on a
 * unix:// address, where a client's "port" is the number after the last ':' of the name it bound
 * (the guest's vsock peer port in production); claims that find their connections at once, late
 * or never; a port named twice; passfd off; the unclaimed-connection cap; pumps to EOF, with
 * backpressure, and ended by the drain bound. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "loop.h"
#include "passfd.h"
#include "util.h"

struct fix {
	char addr[108];
	/* the last claim's outcome */
	int calls, r;
	char msg[300];
	int fds[PASSFD_NSTREAMS];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->addr, sizeof(f->addr), "unix://@kac-passfd-test-%d", (int)getpid());
	assert_int_equal(loop_new(&agent.loop), 0);
	for (int i = 0; i < PASSFD_NSTREAMS; i++)
		f->fds[i] = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	passfd_close_fds(f->fds);
	passfd_stop();
	loop_run_once(agent.loop, 0);
	loop_free(agent.loop);
	agent.loop = NULL;
	free(f);
	return 0;
}

static void run(int rounds)
{
	for (int i = 0; i < rounds; i++)
		loop_run_once(agent.loop, 5);
}

/* A client connected from port: bound to "@kac-passfd-client-PID:PORT", as the table expects. */
static int connect_from(struct fix *f, unsigned port)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (port) {
		struct sockaddr_un me = {.sun_family = AF_UNIX};
		static unsigned seq;
		int n = snprintf(me.sun_path + 1, sizeof(me.sun_path) - 1,
		                 "kac-passfd-client-%d-%u:%u", (int)getpid(), seq++, port);
		assert_int_equal(bind(fd, (struct sockaddr *)&me,
		                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)),
		                 0);
	}
	struct sockaddr_un to = {.sun_family = AF_UNIX};
	const char *name = f->addr + strlen("unix://@");
	memcpy(to.sun_path + 1, name, strlen(name));
	assert_int_equal(
	    connect(fd, (struct sockaddr *)&to,
	            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))),
	    0);
	return fd;
}

static void on_claim(void *data, int r, const char *msg, int fds[PASSFD_NSTREAMS])
{
	struct fix *f = data;
	f->calls++;
	f->r = r;
	snprintf(f->msg, sizeof(f->msg), "%s", msg ? msg : "");
	memcpy(f->fds, fds, sizeof(f->fds));
}

/* The connection the agent holds for the client: what one side writes, the other reads. */
static void expect_linked(int agent_fd, int client_fd)
{
	assert_true(agent_fd >= 0);
	assert_int_equal(write(client_fd, "ping", 4), 4);
	char buf[8] = {0};
	assert_int_equal(read(agent_fd, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "ping");
}

static void test_claim_present(void **state)
{
	struct fix *f = *state;
	assert_int_equal(passfd_listen(agent.loop, f->addr), 0);
	assert_true(passfd_enabled());
	int out = connect_from(f, 4101), err = connect_from(f, 4102);
	run(5);
	assert_int_equal(passfd_pending(), 2);
	struct passfd_claim *c = (void *)1;
	const uint32_t ports[PASSFD_NSTREAMS] = {0, 4101, 4102};
	assert_int_equal(passfd_claim(ports, on_claim, f, &c), 0);
	assert_null(c); /* answered at once */
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->r, 0);
	assert_int_equal(f->fds[PASSFD_STDIN], -1);
	expect_linked(f->fds[PASSFD_STDOUT], out);
	expect_linked(f->fds[PASSFD_STDERR], err);
	assert_int_equal(passfd_pending(), 0);
	close(out);
	close(err);
}

static void test_claim_late(void **state)
{
	struct fix *f = *state;
	assert_int_equal(passfd_listen(agent.loop, f->addr), 0);
	struct passfd_claim *c = NULL;
	const uint32_t ports[PASSFD_NSTREAMS] = {4201, 0, 0};
	assert_int_equal(passfd_claim(ports, on_claim, f, &c), 0);
	assert_non_null(c);
	run(3);
	assert_int_equal(f->calls, 0);
	int in = connect_from(f, 4201);
	run(5);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->r, 0);
	expect_linked(f->fds[PASSFD_STDIN], in);
	close(in);
}

/* Never arriving: -ETIMEDOUT after PASSFD_WAIT_MS, naming the port; what the claim had already
 * taken is closed (the host's end sees EOF). */
static void test_claim_timeout(void **state)
{
	struct fix *f = *state;
	assert_int_equal(passfd_listen(agent.loop, f->addr), 0);
	int out = connect_from(f, 4301);
	run(5);
	struct passfd_claim *c = NULL;
	const uint32_t ports[PASSFD_NSTREAMS] = {0, 4301, 4302};
	unsigned long long t0 = now_ns();
	assert_int_equal(passfd_claim(ports, on_claim, f, &c), 0);
	assert_non_null(c);
	while (f->calls == 0 && now_ns() - t0 < ms_to_ns(5000))
		run(1);
	assert_int_equal(f->calls, 1);
	assert_true(now_ns() - t0 >= ms_to_ns(PASSFD_WAIT_MS));
	assert_int_equal(f->r, -ETIMEDOUT);
	assert_non_null(strstr(f->msg, "no connection from host port 4302"));
	for (int i = 0; i < PASSFD_NSTREAMS; i++)
		assert_int_equal(f->fds[i], -1);
	char b;
	assert_int_equal(read(out, &b, 1), 0);
	close(out);
}

static void test_claim_cancel(void **state)
{
	struct fix *f = *state;
	assert_int_equal(passfd_listen(agent.loop, f->addr), 0);
	int out = connect_from(f, 4401);
	run(5);
	struct passfd_claim *c = NULL;
	const uint32_t ports[PASSFD_NSTREAMS] = {0, 4401, 4402};
	assert_int_equal(passfd_claim(ports, on_claim, f, &c), 0);
	assert_non_null(c);
	passfd_claim_cancel(c);
	run(3);
	assert_int_equal(f->calls, 0);
	char b;
	assert_int_equal(read(out, &b, 1), 0); /* the taken connection was closed */
	close(out);
}

static void test_claim_twice_and_off(void **state)
{
	struct fix *f = *state;
	struct passfd_claim *c = NULL;
	/* Off: the ports are ignored, the process gets pipes. */
	assert_false(passfd_enabled());
	const uint32_t ports[PASSFD_NSTREAMS] = {0, 4501, 0};
	assert_int_equal(passfd_claim(ports, on_claim, f, &c), 0);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->r, 0);
	assert_int_equal(f->fds[PASSFD_STDOUT], -1);
	assert_int_equal(passfd_listen(agent.loop, f->addr), 0);
	const uint32_t dup[PASSFD_NSTREAMS] = {0, 4502, 4502};
	assert_int_equal(passfd_claim(dup, on_claim, f, &c), 0);
	assert_int_equal(f->calls, 2);
	assert_int_equal(f->r, -EINVAL);
	assert_non_null(strstr(f->msg, "4502"));
}

/* A peer without a port is refused; the table never holds more than PASSFD_MAX_PENDING; a port
 * connecting again replaces its unclaimed predecessor. */
static void test_table_limits(void **state)
{
	struct fix *f = *state;
	assert_int_equal(passfd_listen(agent.loop, f->addr), 0);
	int anon = connect_from(f, 0);
	run(5);
	assert_int_equal(passfd_pending(), 0);
	char b;
	assert_int_equal(read(anon, &b, 1), 0);
	close(anon);
	int first = connect_from(f, 4601);
	run(5);
	int again = connect_from(f, 4601);
	run(5);
	assert_int_equal(passfd_pending(), 1);
	assert_int_equal(read(first, &b, 1), 0);
	for (unsigned i = 0; i < PASSFD_MAX_PENDING + 5; i++) {
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		passfd_put(5000 + i, sv[0]);
		close(sv[1]);
	}
	assert_int_equal(passfd_pending(), PASSFD_MAX_PENDING);
	close(first);
	close(again);
}

struct pump_fix {
	int done;
};

static void pump_done(struct passfd_pump *pp, void *data)
{
	((struct pump_fix *)data)->done++;
}

/* The pump's source: a pipe, as a container's stdout is (spliced), or a socket, standing for
 * the sources it copies through its buffer (a terminal's pty master, the host's stdin
 * connection). */
static void make_source(int fds[2], bool pipe_src)
{
	if (pipe_src)
		assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	else
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
}

/* A pump from a fresh source (make_source) into a socketpair: p[1] is the process's writing
 * end, sv[1] the host's reading end; sndbuf > 0 shrinks the socket's send buffer first. */
static struct passfd_pump *pump_fixture(bool pipe_src, int p[2], int sv[2], struct pump_fix *pf,
                                        int sndbuf)
{
	make_source(p, pipe_src);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	if (sndbuf > 0)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	*pf = (struct pump_fix){0};
	struct passfd_pump *pp;
	assert_int_equal(passfd_pump_new(agent.loop, p[0], sv[0], pump_done, pf, &pp), 0);
	return pp;
}

/* Source -> socket: every byte in order, then EOF on the socket; a slow reader (a full socket
 * buffer) only delays it. */
static void pump_to_eof(bool pipe_src)
{
	int p[2], sv[2];
	struct pump_fix pf;
	struct passfd_pump *pp = pump_fixture(pipe_src, p, sv, &pf, 0);
	enum { TOTAL = 3 << 20 };
	static unsigned char src[TOTAL], dst[TOTAL + 1];
	for (size_t i = 0; i < TOTAL; i++)
		src[i] = (unsigned char)(i * 7 + i / 4093);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	size_t w = 0, r = 0;
	int eof = 0;
	for (int rounds = 0; !eof && rounds < 100000; rounds++) {
		if (w < TOTAL) {
			ssize_t n = write(p[1], src + w, TOTAL - w);
			if (n > 0)
				w += (size_t)n;
			if (w == TOTAL)
				close(p[1]);
		}
		loop_run_once(agent.loop, 1);
		/* read only every 8th round: the socket buffer fills and the pump waits */
		if (rounds % 8 == 0) {
			ssize_t n = read(sv[1], dst + r, TOTAL - r < 65536 ? TOTAL - r + 1 : 65536);
			if (n > 0)
				r += (size_t)n;
			else if (n == 0)
				eof = 1;
		}
	}
	assert_true(eof);
	assert_int_equal(r, TOTAL);
	assert_memory_equal(src, dst, TOTAL);
	loop_run_once(agent.loop, 0);
	assert_int_equal(pf.done, 1);
	assert_true(passfd_pump_done(pp));
	assert_int_equal(passfd_pump_bytes(pp), TOTAL);
	passfd_pump_free(pp);
	close(sv[1]);
}

static void test_pump_to_eof(void **state)
{
	pump_to_eof(true);
}

static void test_pump_to_eof_copied(void **state)
{
	pump_to_eof(false);
}

/* The writer never closes (a grandchild): the pump ends once drained, not before. */
static void test_pump_drain(void **state)
{
	int p[2], sv[2];
	struct pump_fix pf;
	struct passfd_pump *pp = pump_fixture(true, p, sv, &pf, 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	run(5);
	assert_false(passfd_pump_done(pp));
	assert_int_equal(write(p[1], "def", 3), 3);
	passfd_pump_drain(pp);
	run(2);
	assert_true(passfd_pump_done(pp));
	assert_int_equal(pf.done, 1);
	char buf[16] = {0};
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 6);
	assert_string_equal(buf, "abcdef");
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	passfd_pump_free(pp);
	close(p[1]);
	close(sv[1]);
}

/* While the pump waits for a slow reader, the source's hang-up (the process exited) must not
 * wake the loop over and over: epoll reports EPOLLHUP whatever the mask. */
static void pump_no_spin(bool pipe_src)
{
	int p[2], sv[2];
	struct pump_fix pf;
	struct passfd_pump *pp = pump_fixture(pipe_src, p, sv, &pf, 4096);
	/* More than one pump step moves (a splice takes up to 256 KiB, and a unix socket takes one
	 * splice's pages whatever its send buffer), so that the pump has to wait.  The pipe is
	 * grown after the pump has set its own size. */
	int big = 1 << 20;
	if (pipe_src)
		assert_true(fcntl(p[1], F_SETPIPE_SZ, big) >= big);
	else
		assert_int_equal(setsockopt(p[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)),
		                 0);
	static char chunk[600000];
	memset(chunk, 'z', sizeof(chunk));
	assert_int_equal(write(p[1], chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
	close(p[1]); /* hang-up on the source, data still to deliver */
	run(5);
	assert_false(passfd_pump_done(pp));
	int busy = 0;
	for (int i = 0; i < 5; i++)
		busy += loop_run_once(agent.loop, 20) > 0;
	assert_int_equal(busy, 0);
	/* the reader comes back: everything arrives, then EOF */
	size_t got = 0;
	char buf[8192];
	for (int i = 0; i < 4000; i++) {
		loop_run_once(agent.loop, 1);
		ssize_t n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	assert_int_equal(got, sizeof(chunk));
	assert_true(passfd_pump_done(pp));
	passfd_pump_free(pp);
	close(sv[1]);
}

static void test_pump_no_spin(void **state)
{
	pump_no_spin(true);
}

static void test_pump_no_spin_copied(void **state)
{
	pump_no_spin(false);
}

/* The host's reader goes away mid-stream: the pump ends (EPIPE, as the agent ignores SIGPIPE
 * the way main.c does), its done callback runs once, and nothing is left watched. */
static void pump_reader_gone(bool pipe_src)
{
	int p[2], sv[2];
	struct pump_fix pf;
	struct passfd_pump *pp = pump_fixture(pipe_src, p, sv, &pf, 0);
	assert_int_equal(write(p[1], "first", 5), 5);
	run(5);
	char buf[8];
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 5);
	close(sv[1]);
	assert_int_equal(write(p[1], "second", 6), 6);
	run(5);
	assert_true(passfd_pump_done(pp));
	assert_int_equal(pf.done, 1);
	assert_int_equal(passfd_pump_bytes(pp), 5);
	int busy = 0;
	for (int i = 0; i < 3; i++)
		busy += loop_run_once(agent.loop, 10) > 0;
	assert_int_equal(busy, 0);
	passfd_pump_free(pp);
	close(p[1]);
}

static void test_pump_reader_gone(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	pump_reader_gone(true);
}

static void test_pump_reader_gone_copied(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	pump_reader_gone(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_claim_present, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_late, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_cancel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_twice_and_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_table_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pump_to_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pump_to_eof_copied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pump_drain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pump_no_spin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pump_no_spin_copied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pump_reader_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pump_reader_gone_copied, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

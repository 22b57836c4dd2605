/* The log port (agent/src/logport.c) over unix:// addresses: lines kept until the first
 * connection, streaming, the "N lines dropped" marker, a half-closing peer, reconnection, a
 * connection that comes while the agent is out of fds, and the agent glue behind
 * KATA_AGENT_LOG_ADDR. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "listen_rest_test.h"

#include "agent.h"
#include "log.h"
#include "logport.h"
#include "loop.h"

struct fix {
	char dir[64];
	char path[96];
	char addr[160];
	struct loop *l;
	struct logport *lp;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-logport-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/log.sock", f->dir);
	snprintf(f->addr, sizeof(f->addr), "unix://%s", f->path);
	assert_int_equal(loop_new(&f->l), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	logport_free(f->lp);
	loop_run_once(f->l, 0); /* release deleted watches */
	loop_free(f->l);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void open_port(struct fix *f, size_t max)
{
	assert_int_equal(logport_new(max, &f->lp), 0);
	assert_int_equal(logport_listen(f->lp, f->l, f->addr), 0);
}

static int client(const struct fix *f)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void pump(struct fix *f, int rounds)
{
	for (int i = 0; i < rounds; i++)
		assert_true(loop_run_once(f->l, 10) >= 0);
}

/* Everything the client can read within ~100 ms of silence, pumping the loop meanwhile so the
 * port keeps flushing.  Returns a malloc'ed NUL-terminated string. */
static char *drain(struct fix *f, int fd, size_t *ret_len)
{
	size_t cap = 1 << 16, len = 0;
	char *out = malloc(cap + 1);
	int idle = 0;
	while (idle < 10) {
		pump(f, 1);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10) <= 0) {
			idle++;
			continue;
		}
		if (cap - len < 4096) {
			cap *= 2;
			out = realloc(out, cap + 1);
		}
		ssize_t n = read(fd, out + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		idle = 0;
	}
	out[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return out;
}

static void push_str(struct fix *f, const char *s)
{
	logport_push(f->lp, s, strlen(s));
}

static void push_numbered(struct fix *f, unsigned i)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "{\"msg\":\"line %06u\",\"pad\":\"%040u\"}\n", i, i);
	logport_push(f->lp, line, (size_t)n);
}

static void test_buffered_until_connect(void **state)
{
	struct fix *f = *state;
	open_port(f, LOGPORT_QUEUE_MAX);
	push_str(f, "one\n");
	push_str(f, "two\n");
	pump(f, 2);
	assert_false(logport_connected(f->lp));
	assert_int_equal(logport_queued(f->lp), 8);
	int c = client(f);
	push_str(f, "three\n"); /* queued behind the others: not accepted yet */
	_cleanup_free_ char *got = drain(f, c, NULL);
	assert_string_equal(got, "one\ntwo\nthree\n");
	assert_true(logport_connected(f->lp));
	assert_int_equal(logport_queued(f->lp), 0);
	/* Streaming: a new line goes out at once, without a loop round. */
	push_str(f, "four\n");
	char buf[16] = {0};
	assert_int_equal(read(c, buf, sizeof(buf) - 1), 5);
	assert_string_equal(buf, "four\n");
	assert_int_equal(logport_dropped(f->lp), 0);
	close(c);
}

/* Checks a stream of numbered lines and markers: every line whole, numbers increasing, and
 * received + dropped == pushed, with dropped as the port counted it.  Returns the number of
 * markers. */
static unsigned check_stream(char *s, unsigned pushed, unsigned long long counted,
                             unsigned *ret_last)
{
	unsigned next = 0, dropped = 0, markers = 0, got = 0;
	for (char *save = NULL, *line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned n;
		const char *m = strstr(line, "\"msg\":\"");
		assert_non_null(m);
		if (sscanf(m, "\"msg\":\"line %u\"", &n) == 1) {
			assert_true(n >= next);
			/* A gap is always announced right before it. */
			next = n + 1;
			got++;
			if (ret_last)
				*ret_last = n;
		} else {
			assert_int_equal(sscanf(m, "\"msg\":\"%u lines dropped", &n), 1);
			assert_non_null(strstr(line, "\"level\":\"warning\""));
			assert_non_null(strstr(line, "\"subsystem\":\"logport\""));
			dropped += n;
			markers++;
		}
	}
	assert_int_equal(got + dropped, pushed);
	assert_int_equal(dropped, counted);
	return markers;
}

static void test_overflow_before_connect(void **state)
{
	struct fix *f = *state;
	open_port(f, 1024);
	for (unsigned i = 0; i < 100; i++)
		push_numbered(f, i);
	assert_true(logport_queued(f->lp) <= 1024);
	unsigned long long dropped = logport_dropped(f->lp);
	assert_true(dropped > 80);
	int c = client(f);
	_cleanup_free_ char *got = drain(f, c, NULL);
	char want[64];
	snprintf(want, sizeof(want), "{\"msg\":\"%llu lines dropped", dropped);
	assert_memory_equal(got, want, strlen(want));
	unsigned last = 0;
	assert_int_equal(check_stream(got, 100, dropped, &last), 1);
	assert_int_equal(last, 99);
	close(c);
}

static void test_overflow_slow_reader(void **state)
{
	struct fix *f = *state;
	open_port(f, 4096);
	int c = client(f);
	pump(f, 2);
	assert_true(logport_connected(f->lp));
	/* The client reads nothing: once the socket buffer is full the queue overflows, and the
	 * pushes still return at once. */
	unsigned pushed = 0;
	while (logport_dropped(f->lp) < 1000 && pushed < 1000000)
		push_numbered(f, pushed++);
	assert_true(logport_dropped(f->lp) >= 1000);
	assert_true(logport_queued(f->lp) <= 4096 + 512);
	for (unsigned i = 0; i < 10; i++)
		push_numbered(f, pushed++);
	_cleanup_free_ char *got = drain(f, c, NULL);
	unsigned last = 0;
	assert_true(check_stream(got, pushed, logport_dropped(f->lp), &last) >= 1);
	assert_int_equal(last, pushed - 1);
	assert_int_equal(logport_queued(f->lp), 0);
	close(c);
}

static void test_half_close_keeps_streaming(void **state)
{
	struct fix *f = *state;
	open_port(f, LOGPORT_QUEUE_MAX);
	int c = client(f);
	pump(f, 2);
	assert_int_equal(shutdown(c, SHUT_WR), 0);
	pump(f, 3);
	assert_true(logport_connected(f->lp));
	push_str(f, "after shutdown\n");
	_cleanup_free_ char *got = drain(f, c, NULL);
	assert_string_equal(got, "after shutdown\n");
	close(c);
}

static void test_reconnect(void **state)
{
	struct fix *f = *state;
	open_port(f, LOGPORT_QUEUE_MAX);
	int c1 = client(f);
	push_str(f, "a\n");
	_cleanup_free_ char *g1 = drain(f, c1, NULL);
	assert_string_equal(g1, "a\n");
	close(c1);
	pump(f, 3);
	assert_false(logport_connected(f->lp));
	push_str(f, "b\n"); /* kept for the next connection */
	int c2 = client(f);
	_cleanup_free_ char *g2 = drain(f, c2, NULL);
	assert_string_equal(g2, "b\n");
	/* Only the first connection gets the stream; the next waits for it to go. */
	int c3 = client(f);
	push_str(f, "c\n");
	_cleanup_free_ char *g3 = drain(f, c3, NULL);
	assert_string_equal(g3, "");
	_cleanup_free_ char *g2b = drain(f, c2, NULL);
	assert_string_equal(g2b, "c\n");
	close(c2);
	pump(f, 3);
	push_str(f, "d\n");
	_cleanup_free_ char *g3b = drain(f, c3, NULL);
	assert_string_equal(g3b, "d\n");
	close(c3);
}

/* Out of fds, accept() fails and the connection stays queued: the port rests (a pause every
 * 100 ms at most, each logged) instead of spinning, serves the connection once fds are back,
 * and then, as always, keeps the next one waiting until it goes. */
static void test_out_of_fds(void **state)
{
	struct fix *f = *state;
	open_port(f, LOGPORT_QUEUE_MAX);
	push_str(f, "early\n");
	int logp[2];
	assert_int_equal(pipe2(logp, O_NONBLOCK | O_CLOEXEC), 0);
	log_set_fd(logp[1]);
	int c1 = client(f);
	struct rlimit saved, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)lowest_free_fd();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	unsigned long long end = now_ns() + ms_to_ns(250);
	while (now_ns() < end)
		pump(f, 1);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	int pauses = count_pauses(logp[0]);
	assert_in_range(pauses, 1, 3);
	assert_false(logport_connected(f->lp));
	end = now_ns() + ms_to_ns(2000);
	while (!logport_connected(f->lp) && now_ns() < end)
		pump(f, 1);
	assert_true(logport_connected(f->lp));
	_cleanup_free_ char *g1 = drain(f, c1, NULL);
	assert_string_equal(g1, "early\n");
	int c2 = client(f);
	push_str(f, "x\n");
	_cleanup_free_ char *g2 = drain(f, c2, NULL);
	assert_string_equal(g2, "");
	_cleanup_free_ char *g1b = drain(f, c1, NULL);
	assert_string_equal(g1b, "x\n");
	close(c1);
	pump(f, 3);
	push_str(f, "y\n");
	_cleanup_free_ char *g2b = drain(f, c2, NULL);
	assert_string_equal(g2b, "y\n");
	close(c2);
	log_set_fd(2);
	close(logp[0]), close(logp[1]);
}

/* The agent glue: KATA_AGENT_LOG_ADDR enables the port; lines logged before it listens are
 * kept, and every later log line is copied. */
static void test_agent_glue(void **state)
{
	struct fix *f = *state;
	struct agent_config cfg;
	config_defaults(&cfg);
	setenv(LOGPORT_ADDR_ENV, f->addr, 1);
	agent.loop = f->l;
	logport_capture(&cfg);
	log_info("test", "before listening");
	logport_start(&cfg);
	int c = client(f);
	pump(f, 2);
	log_info("test", "after connecting");
	_cleanup_free_ char *got = drain(f, c, NULL);
	const char *a = strstr(got, "\"msg\":\"before listening\"");
	const char *b = strstr(got, "log port listening on unix://");
	const char *d = strstr(got, "\"msg\":\"after connecting\"");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(d);
	assert_true(a < b && b < d);
	assert_non_null(strstr(got, "\"name\":\"kata-agent\""));
	close(c);
	logport_stop();
	unsetenv(LOGPORT_ADDR_ENV);
}

int main(void)
{
	log_set_level(LV_INFO);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_buffered_until_connect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overflow_before_connect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overflow_slow_reader, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_half_close_keeps_streaming, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_fds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_glue, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

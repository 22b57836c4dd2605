/* Small core modules: logging format, addresses, the RPC table and its dispatch hooks, the event
 * loop's timers and resting listeners, the init mount table and hostname logic. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "listen_rest_test.h"
#include <linux/vm_sockets.h>

#include "addr.h"
#include "init.h"
#include "log.h"
#include "loop.h"
#include "rpc.h"
#include "ttrpc.h"
#include "ttrpc_client.h"
#include "util.h"

static void test_log_format(void **state)
{
	char buf[512];
	size_t n = log_format(buf, sizeof(buf), LV_WARN, "rpc", 1700000000123456789ll, 42,
	                      "quote \" back \\ nl\n tab\t ctl\x01");
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "{\"msg\":\"quote \\\" back \\\\ nl\\n tab\\t ctl\\u0001\","
	                         "\"level\":\"warning\",\"ts\":\"2023-11-14T22:13:20.123456Z\","
	                         "\"pid\":42,\"name\":\"kata-agent\",\"source\":\"agent\","
	                         "\"subsystem\":\"rpc\"}\n");
	/* Truncation still yields one well-terminated line. */
	char small[64];
	n = log_format(small, sizeof(small), LV_INFO, "x", 0, 1, "a very long message indeed");
	assert_true(n < sizeof(small));
	assert_int_equal(small[n - 1], '\n');
}

static void test_log_levels(void **state)
{
	assert_int_equal(log_level_parse("debug"), LV_DEBUG);
	assert_int_equal(log_level_parse("WARNING"), LV_WARN);
	assert_int_equal(log_level_parse("fatal"), LV_CRIT);
	assert_int_equal(log_level_parse("verbose"), -EINVAL);
}

static void test_addr(void **state)
{
	struct addr a;
	const char *err;
	char txt[200];
	assert_int_equal(addr_parse("vsock://-1:1024", &a, &err), 0);
	assert_int_equal(a.kind, ADDR_VSOCK);
	assert_int_equal(a.cid, 0xffffffffu);
	assert_int_equal(a.port, 1024);
	addr_format(&a, txt, sizeof(txt));
	assert_string_equal(txt, "vsock://-1:1024");
	assert_int_equal(addr_parse("vsock://3:1024", &a, &err), 0);
	assert_int_equal(a.cid, 3);
	assert_int_equal(addr_parse("unix://@abs", &a, &err), 0);
	assert_true(a.abstract);
	assert_string_equal(a.path, "abs");
	assert_int_equal(addr_parse("hvsock:///run/vm/kata.hvsock:1024", &a, &err), 0);
	assert_int_equal(a.kind, ADDR_HVSOCK);
	assert_string_equal(a.path, "/run/vm/kata.hvsock");
	assert_int_equal(a.port, 1024);

	assert_int_equal(addr_parse("tcp://1.2.3.4:5", &a, &err), -EINVAL);
	assert_non_null(strstr(err, "unknown scheme"));
	assert_int_equal(addr_parse("vsock://x:1", &a, &err), -EINVAL);
	assert_int_equal(addr_parse("vsock://1:99999999999", &a, &err), -EINVAL);
	assert_int_equal(addr_parse("vsock://1", &a, &err), -EINVAL);
	assert_int_equal(addr_parse("unix://", &a, &err), -EINVAL);
	char longp[300] = "unix:///";
	memset(longp + 8, 'p', 200);
	assert_int_equal(addr_parse(longp, &a, &err), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(addr_parse("hvsock:///x", &a, &err), -EINVAL);
}

/* A fake VMM on a unix socket answers one CONNECT with reply; returns the client's result. */
static int hvsock_reply(const char *reply, int *ret_fd, unsigned *ret_port)
{
	char path[80], txt[120];
	snprintf(path, sizeof(path), "/tmp/test-hvsock-%d", (int)getpid());
	snprintf(txt, sizeof(txt), "hvsock://%s:1027", path);
	struct addr a, u;
	const char *err;
	assert_int_equal(addr_parse(txt, &a, &err), 0);
	snprintf(txt, sizeof(txt), "unix://%s", path);
	assert_int_equal(addr_parse(txt, &u, &err), 0);
	int lfd;
	assert_int_equal(addr_listen(&u, 1, &lfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		poll(&p, 1, 5000);
		int c = accept(lfd, NULL, NULL);
		char line[64] = {0};
		for (size_t i = 0; i + 1 < sizeof(line) && read(c, line + i, 1) == 1; i++)
			if (line[i] == '\n')
				break;
		/* the agent's side of the CONNECT line must be exact */
		if (strcmp(line, "CONNECT 1027\n") != 0)
			_exit(3);
		if (write(c, reply, strlen(reply)) < 0)
			_exit(4);
		char b;
		(void)!read(c, &b, 1); /* until the client closes */
		_exit(0);
	}
	close(lfd);
	int r = addr_connect_port(&a, 5000, ret_fd, ret_port, &err);
	if (r < 0) {
		int st;
		waitpid(pid, &st, 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	unlink(path);
	return r == 0 ? (int)pid : r;
}

/* The VMM's "OK <port>" names the host side of the connection (passfd's stdin_port etc.); "OK"
 * alone still connects (port 0); anything else is a refusal.  Bytes after the line stay. */
static void test_addr_hvsock_port(void **state)
{
	int fd, st;
	unsigned port = 1;
	int pid = hvsock_reply("OK 1073741829\nX", &fd, &port);
	assert_true(pid > 0);
	assert_int_equal(port, 1073741829u);
	char b = 0;
	assert_int_equal(read(fd, &b, 1), 1);
	assert_int_equal(b, 'X');
	close(fd);
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pid = hvsock_reply("OK\n", &fd, &port);
	assert_true(pid > 0);
	assert_int_equal(port, 0);
	close(fd);
	waitpid(pid, &st, 0);
	assert_int_equal(hvsock_reply("FAILED\n", &fd, &port), -ECONNREFUSED);
}

/* Only the host may talk to the agent over vsock (addr_peer_allowed / addr_accept). */
static void test_addr_peer(void **state)
{
	struct sockaddr_vm vm = {.svm_family = AF_VSOCK, .svm_port = 5000};
	const struct sockaddr *sa = (const struct sockaddr *)&vm;
	vm.svm_cid = VMADDR_CID_HOST;
	assert_true(addr_peer_allowed(sa, sizeof(vm), false));
	unsigned refused[] = {VMADDR_CID_HYPERVISOR, VMADDR_CID_LOCAL, 3, 1000, VMADDR_CID_ANY};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		vm.svm_cid = refused[i];
		assert_false(addr_peer_allowed(sa, sizeof(vm), false));
		assert_true(addr_peer_allowed(sa, sizeof(vm), true)); /* agent.allow_local_vsock */
	}
	vm.svm_cid = VMADDR_CID_HOST;
	assert_false(addr_peer_allowed(sa, sizeof(vm) - 4, false)); /* truncated: unknown */
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	assert_true(addr_peer_allowed((struct sockaddr *)&un, sizeof(sa_family_t), false));

	/* addr_accept on a unix listener: served, and -EAGAIN when nobody waits. */
	struct addr a;
	const char *err;
	char path[64];
	snprintf(path, sizeof(path), "unix:///tmp/test-addr-accept-%d", (int)getpid());
	assert_int_equal(addr_parse(path, &a, &err), 0);
	int lfd;
	assert_int_equal(addr_listen(&a, 4, &lfd), 0);
	unsigned cid = 77;
	assert_int_equal(addr_accept(lfd, SOCK_CLOEXEC, false, &cid), -EAGAIN);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un to = {.sun_family = AF_UNIX};
	strcpy(to.sun_path, a.path);
	assert_int_equal(connect(c, (struct sockaddr *)&to, sizeof(to)), 0);
	int fd = addr_accept(lfd, SOCK_CLOEXEC, false, &cid);
	assert_true(fd >= 0);
	assert_int_equal(cid, 77); /* only set for refused peers */
	close(fd);
	close(c);
	close(lfd);
	unlink(a.path);
}

static void test_rpc_table(void **state)
{
	char err[256] = "";
	assert_int_equal(rpc_table_check(err, sizeof(err)), 0);
	/* 42 AgentService methods + 2 Health methods. */
	assert_int_equal(rpc_table_len, 44);
}

/* The hooks main.c defers PID 1's late set-up with: before_call runs before any call outside
 * grpc.Health, never for it; after_health runs after a Health call, and work it defers on the
 * loop runs once the reply is already on the wire. */
static struct {
	struct loop *loop;
	int client_fd;
	int before, after, deferred, reply_was_sent;
	struct loop_defer defer;
} hk;

static void hook_before(void)
{
	hk.before++;
}

static void hook_deferred(struct loop *l, struct loop_defer *d)
{
	char b;
	hk.deferred++;
	hk.reply_was_sent = recv(hk.client_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static void hook_after(void)
{
	hk.after++;
	loop_defer(hk.loop, &hk.defer);
}

static int call_with_hooks(struct ttrpc_client *cl, const char *service, const char *method,
                           const uint8_t *payload, size_t len)
{
	struct ttrpc_result r;
	long id = ttrpc_client_send(cl, service, method, payload, len, 0);
	assert_true(id > 0);
	for (int i = 0; i < 200; i++) {
		loop_run_once(hk.loop, 5);
		int rc = ttrpc_client_recv(cl, 0, &r);
		if (rc == -ETIMEDOUT)
			continue;
		assert_int_equal(rc, 0);
		int code = r.code;
		ttrpc_result_free(&r);
		return code;
	}
	fail_msg("no answer to %s/%s", service, method);
	return -1;
}

static void test_rpc_hooks(void **state)
{
	static const struct rpc_hooks hooks = {.before_call = hook_before,
	                                       .after_health = hook_after};
	struct ttrpc_server *srv;
	struct ttrpc_client cl;
	int sv[2];
	/* An AgentService payload that cannot decode: the hook runs, the handler never does. */
	static const uint8_t junk[] = {0xff, 0xff, 0xff};

	memset(&hk, 0, sizeof(hk));
	hk.defer.cb = hook_deferred;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	assert_int_equal(loop_new(&hk.loop), 0);
	assert_int_equal(
	    ttrpc_server_new(hk.loop, &ttrpc_default_limits, rpc_dispatch, (void *)&hooks, &srv),
	    0);
	assert_int_equal(ttrpc_server_add_conn(srv, sv[0]), 0);
	hk.client_fd = sv[1];
	ttrpc_client_init(&cl, sv[1]);

	assert_int_equal(call_with_hooks(&cl, "grpc.Health", "Check", NULL, 0), TTRPC_OK);
	assert_int_equal(hk.before, 0);
	assert_int_equal(hk.after, 1);
	assert_int_equal(hk.deferred, 1);
	assert_true(hk.reply_was_sent);

	assert_int_equal(
	    call_with_hooks(&cl, "grpc.AgentService", "GetGuestDetails", junk, sizeof(junk)),
	    TTRPC_INVALID_ARGUMENT);
	assert_int_equal(hk.before, 1);
	assert_int_equal(hk.after, 1);

	assert_int_equal(call_with_hooks(&cl, "grpc.Health", "Version", NULL, 0), TTRPC_OK);
	assert_int_equal(hk.before, 1);
	assert_int_equal(hk.after, 2);

	ttrpc_server_free(srv);
	loop_free(hk.loop);
	close(sv[1]);
}

static int order[8], norder;
static struct loop_timer timers[3];

static void timer_cb(struct loop *l, struct loop_timer *t)
{
	order[norder++] = (int)(t - timers);
}

static void test_loop_timers(void **state)
{
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	unsigned long long now = now_ns();
	for (int i = 0; i < 3; i++)
		timers[i].cb = timer_cb;
	loop_timer_arm(l, &timers[0], now + 30000000ull);
	loop_timer_arm(l, &timers[1], now + 10000000ull);
	loop_timer_arm(l, &timers[2], now + 20000000ull);
	loop_timer_cancel(&timers[2]);
	norder = 0;
	unsigned long long t0 = now_ns();
	while (norder < 2 && now_ns() - t0 < 2000000000ull)
		loop_run_once(l, 100);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 0);
	/* never early */
	assert_true(now_ns() >= now + 30000000ull);
	loop_free(l);
}

static int hits;
static struct loop_watch *w2;
static void fd_cb(struct loop *l, int fd, uint32_t ev, void *data)
{
	hits++;
	/* Deleting another watch whose event is pending in the same batch must be safe. */
	loop_del(l, w2);
	char c;
	if (read(fd, &c, 1) < 0) {
	}
}

static void test_loop_delete_in_batch(void **state)
{
	struct loop *l;
	int p1[2], p2[2];
	assert_int_equal(loop_new(&l), 0);
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	struct loop_watch *w1;
	assert_int_equal(loop_add(l, p1[0], EPOLLIN, fd_cb, NULL, &w1), 0);
	assert_int_equal(loop_add(l, p2[0], EPOLLIN, fd_cb, NULL, &w2), 0);
	assert_int_equal(write(p1[1], "a", 1), 1);
	assert_int_equal(write(p2[1], "b", 1), 1);
	hits = 0;
	loop_run_once(l, 100);
	assert_int_equal(hits, 1); /* the second watch was deleted before its turn */
	loop_del(l, w1);
	loop_free(l);
	close(p1[0]), close(p1[1]), close(p2[0]), close(p2[1]);
}

/* A listener out of fds: accept() fails with EMFILE while the connection stays queued. */
static struct {
	struct loop_listen ll;
	int calls, accepted;
} lr;

static void rest_cb(struct loop *l, int fd, uint32_t ev, void *data)
{
	lr.calls++;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0) {
		loop_listen_rest(l, &lr.ll, -errno);
		return;
	}
	lr.accepted++;
	close(c);
}

/* Run the loop for ms milliseconds of wall time. */
static void run_for(struct loop *l, unsigned ms)
{
	unsigned long long end = now_ns() + ms_to_ns(ms);
	while (now_ns() < end)
		loop_run_once(l, 10);
}

static void run_until_accepted(struct loop *l, int n)
{
	unsigned long long end = now_ns() + ms_to_ns(2000);
	while (lr.accepted < n && now_ns() < end)
		loop_run_once(l, 10);
}

static void test_loop_listen_rest(void **state)
{
	struct loop *l;
	assert_int_equal(loop_new(&l), 0);
	int logp[2];
	assert_int_equal(pipe2(logp, O_NONBLOCK | O_CLOEXEC), 0);
	log_set_fd(logp[1]);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "kac-listen-rest-%d", (int)getpid());
	socklen_t slen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sun.sun_path + 1));
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, slen), 0);
	assert_int_equal(listen(lfd, 8), 0);
	lr = (typeof(lr)){0};
	assert_int_equal(loop_listen_add(l, &lr.ll, lfd, rest_cb, NULL, "test"), 0);

	/* Other errors leave the watch alone. */
	assert_false(loop_listen_rest(l, &lr.ll, -EAGAIN));
	assert_false(loop_listen_rest(l, &lr.ll, -ECONNABORTED));
	assert_false(lr.ll.rest.armed);

	int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c1 >= 0 && c2 >= 0);
	assert_int_equal(connect(c1, (struct sockaddr *)&sun, slen), 0);
	struct rlimit saved, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)lowest_free_fd();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);

	/* 250 ms out of fds: one try per rest (at most 3), not a spin; one warning per pause. */
	run_for(l, 250);
	int calls = lr.calls;
	assert_int_equal(lr.accepted, 0);
	assert_in_range(calls, 1, 3);
	assert_int_equal(count_pauses(logp[0]), calls);

	/* Fds back: the rest ends and the queued connection is served. */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	run_until_accepted(l, 1);
	assert_int_equal(lr.accepted, 1);

	/* The owner turns the watch off during a rest: the rest's end leaves it off. */
	assert_int_equal(connect(c2, (struct sockaddr *)&sun, slen), 0);
	low.rlim_cur = (rlim_t)lowest_free_fd();
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	calls = lr.calls;
	loop_run_once(l, 100);
	assert_int_equal(lr.calls, calls + 1);
	assert_true(lr.ll.rest.armed);
	assert_int_equal(loop_listen_enable(l, &lr.ll, false), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	run_for(l, 250);
	assert_false(lr.ll.rest.armed);
	assert_int_equal(lr.calls, calls + 1);
	assert_int_equal(lr.accepted, 1);
	/* ... until it turns it on again. */
	assert_int_equal(loop_listen_enable(l, &lr.ll, true), 0);
	run_until_accepted(l, 2);
	assert_int_equal(lr.accepted, 2);

	loop_listen_del(l, &lr.ll);
	assert_false(lr.ll.rest.armed);
	log_set_fd(2);
	loop_free(l);
	close(c1), close(c2), close(lfd), close(logp[0]), close(logp[1]);
}

struct fake {
	char log[1024];
	const char *fail_target;
	int fail_err;
};

static int fake_mount(const struct init_mount *m, void *ud)
{
	struct fake *f = ud;
	strcat(f->log, m->fstype);
	strcat(f->log, ":");
	strcat(f->log, m->target);
	strcat(f->log, " ");
	if (f->fail_target && strcmp(m->target, f->fail_target) == 0)
		return f->fail_err;
	return 0;
}

static int fake_mkdir(const char *path, void *ud)
{
	return -EEXIST;
}

static void test_init_mounts(void **state)
{
	struct fake f = {0};
	const struct init_mount *failed = NULL;
	assert_int_equal(
	    init_mount_table(init_mounts, init_mounts_len, fake_mount, fake_mkdir, &f, &failed), 0);
	assert_string_equal(f.log, "proc:/proc sysfs:/sys devtmpfs:/dev tmpfs:/dev/shm "
	                           "devpts:/dev/pts tmpfs:/run ");
	/* proc flags as the reference says: nosuid,nodev,noexec */
	assert_int_equal(init_mounts[0].flags, MS_NOSUID | MS_NODEV | MS_NOEXEC);

	/* devtmpfs is optional: boot goes on */
	struct fake g = {.fail_target = "/dev", .fail_err = -ENODEV};
	assert_int_equal(
	    init_mount_table(init_mounts, init_mounts_len, fake_mount, fake_mkdir, &g, &failed), 0);
	/* already mounted counts as success */
	struct fake h = {.fail_target = "/proc", .fail_err = -EBUSY};
	assert_int_equal(
	    init_mount_table(init_mounts, init_mounts_len, fake_mount, fake_mkdir, &h, &failed), 0);
	/* a required one stops the table and is named */
	struct fake k = {.fail_target = "/sys", .fail_err = -EPERM};
	failed = NULL;
	assert_int_equal(
	    init_mount_table(init_mounts, init_mounts_len, fake_mount, fake_mkdir, &k, &failed),
	    -EPERM);
	assert_non_null(failed);
	assert_string_equal(failed->target, "/sys");
	assert_null(strstr(k.log, "/dev/shm"));
}

static void test_hostname(void **state)
{
	char b[65];
	init_hostname_from("  pod-1 extra\n", b, sizeof(b));
	assert_string_equal(b, "pod-1");
	init_hostname_from(NULL, b, sizeof(b));
	assert_string_equal(b, "localhost");
	init_hostname_from("\n\n", b, sizeof(b));
	assert_string_equal(b, "localhost");
	char longname[200];
	memset(longname, 'h', 199);
	longname[199] = '\0';
	init_hostname_from(longname, b, sizeof(b));
	assert_string_equal(b, "localhost");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_format),
	    cmocka_unit_test(test_log_levels),
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_addr_peer),
	    cmocka_unit_test(test_addr_hvsock_port),
	    cmocka_unit_test(test_rpc_table),
	    cmocka_unit_test(test_rpc_hooks),
	    cmocka_unit_test(test_loop_timers),
	    cmocka_unit_test(test_loop_delete_in_batch),
	    cmocka_unit_test(test_loop_listen_rest),
	    cmocka_unit_test(test_init_mounts),
	    cmocka_unit_test(test_hostname),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}

// SPDX-License-Identifier: Apache-2.0
/* Process records (process.c): parked reads, drain after exit, the EOF sequence every runtime
 * stops on, parked and late waits, removal.  A ttrpc server runs in-process on a socketpair with
 * a dispatcher that hands each call to the record; the test plays both the client and the
 * process (it holds the child's ends of the stdio pipes and reports the exit itself). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "loop.h"
#include "process.h"
#include "sandbox.h"
#include "ttrpc.h"
#include "ttrpc_client.h"

/* A pid no process of this test has: proc_child_exited only looks records up by it. */
#define FAKE_PID 0x3ffffff0

struct env {
	struct ttrpc_server *srv;
	struct ttrpc_client cl;
	int cfd;
	struct sandbox_ctr ctr;
	struct proc *p;
	int out_w, err_w, in_r; /* the "process's" ends */
};

static struct env *cur;

/* "Out"/"Err" read 64 bytes, "Wait" waits, "Gone" answers whether the record was freed. */
static void dispatch(struct ttrpc_call *call, const char *service, const char *method,
                     const uint8_t *payload, size_t len, void *data)
{
	if (strcmp(method, "Out") == 0 || strcmp(method, "Err") == 0)
		proc_read(cur->p, method[0] == 'E', 64, call);
	else if (strcmp(method, "Wait") == 0)
		proc_wait(cur->p, call);
	else if (strcmp(method, "In") == 0)
		proc_write_stdin(cur->p, (const uint8_t *)"x", 1, call);
	else
		ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "method %s", method);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	assert_int_equal(loop_new(&agent.loop), 0);
	assert_int_equal(
	    ttrpc_server_new(agent.loop, &ttrpc_default_limits, dispatch, NULL, &e->srv), 0);
	assert_int_equal(ttrpc_server_add_conn(e->srv, sv[0]), 0);
	e->cfd = sv[1];
	ttrpc_client_init(&e->cl, sv[1]);

	struct proc_io io;
	struct agent_err err = {0};
	assert_int_equal(proc_io_open(false, 0, &io, &err), 0);
	list_init(&e->ctr.procs);
	assert_int_equal(proc_new(&e->ctr, "e1", FAKE_PID, false, false, &io, &e->p), 0);
	sandbox_ctr_add_proc(&e->ctr, e->p);
	e->out_w = TAKE_FD(io.child.out);
	e->err_w = TAKE_FD(io.child.err);
	e->in_r = TAKE_FD(io.child.in);
	cur = e;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	if (e->p)
		proc_free(e->p);
	ttrpc_server_free(e->srv);
	loop_free(agent.loop);
	agent.loop = NULL;
	close(e->cfd);
	for (int *fd = &e->out_w; fd <= &e->in_r; fd++)
		if (*fd >= 0)
			close(*fd);
	free(e);
	return 0;
}

static void pump(int rounds)
{
	for (int i = 0; i < rounds; i++)
		loop_run_once(agent.loop, 1);
}

/* Nothing answered yet (a parked call stays silent). */
static void expect_silence(struct env *e)
{
	struct ttrpc_result r;
	pump(5);
	assert_int_equal(ttrpc_client_recv(&e->cl, 0, &r), -ETIMEDOUT);
}

static void recv_one(struct env *e, struct ttrpc_result *r)
{
	for (int i = 0; i < 400; i++) {
		loop_run_once(agent.loop, 5);
		int rc = ttrpc_client_recv(&e->cl, 0, r);
		if (rc != -ETIMEDOUT) {
			assert_int_equal(rc, 0);
			return;
		}
	}
	fail_msg("no response");
}

/* The next answer is data: want (NULL = empty data, the first answer at EOF). */
static void expect_data(struct env *e, const char *want)
{
	struct ttrpc_result r;
	recv_one(e, &r);
	assert_int_equal(r.code, TTRPC_OK);
	Grpc__ReadStreamResponse *m = grpc__read_stream_response__unpack(NULL, r.len, r.payload);
	assert_non_null(m);
	size_t n = want ? strlen(want) : 0;
	assert_int_equal(m->data.len, n);
	if (n)
		assert_memory_equal(m->data.data, want, n);
	grpc__read_stream_response__free_unpacked(m, NULL);
	ttrpc_result_free(&r);
}

static void expect_fail(struct env *e, int code, const char *substr)
{
	struct ttrpc_result r;
	recv_one(e, &r);
	assert_int_equal(r.code, code);
	assert_non_null(strstr(r.message, substr));
	ttrpc_result_free(&r);
}

static void expect_status(struct env *e, int status)
{
	struct ttrpc_result r;
	recv_one(e, &r);
	assert_int_equal(r.code, TTRPC_OK);
	Grpc__WaitProcessResponse *m = grpc__wait_process_response__unpack(NULL, r.len, r.payload);
	assert_non_null(m);
	assert_int_equal(m->status, status);
	grpc__wait_process_response__free_unpacked(m, NULL);
	ttrpc_result_free(&r);
}

static void call(struct env *e, const char *method)
{
	assert_true(ttrpc_client_send(&e->cl, "t", method, NULL, 0, 0) > 0);
}

/* A read with nothing in the pipe parks; data wakes it; parked readers are served in order. */
static void test_parked_reads(void **state)
{
	struct env *e = *state;
	call(e, "Out");
	expect_silence(e);
	assert_int_equal(write(e->out_w, "hello", 5), 5);
	expect_data(e, "hello");
	call(e, "Out");
	call(e, "Err");
	expect_silence(e);
	assert_int_equal(write(e->err_w, "oops", 4), 4);
	expect_data(e, "oops"); /* stderr's reader does not wait behind stdout's */
	assert_int_equal(write(e->out_w, "x", 1), 1);
	expect_data(e, "x");
	assert_int_equal(proc_count(), 1);
}

/* After exit, what is left in the pipe is still read, then the EOF sequence: empty data once,
 * then INTERNAL "read meet eof" for every later read until the record is freed. */
static void test_drain_then_eof(void **state)
{
	struct env *e = *state;
	assert_int_equal(write(e->out_w, "tail", 4), 4);
	close(e->out_w);
	e->out_w = -1;
	assert_true(proc_child_exited(FAKE_PID, 3 << 8));
	assert_true(e->p->exited);
	call(e, "Out");
	expect_data(e, "tail");
	call(e, "Out");
	expect_data(e, NULL);
	for (int i = 0; i < 3; i++) {
		call(e, "Out");
		expect_fail(e, TTRPC_INTERNAL, "read meet eof");
	}
	/* The record is still there for WaitProcess; a stranger's exit is not ours. */
	assert_false(proc_child_exited(FAKE_PID + 1, 0));
	assert_ptr_equal(e->p->ctr, &e->ctr);
}

/* A grandchild holding the write end: a parked read ends at the drain bound, not never. */
static void test_drain_bound(void **state)
{
	struct env *e = *state;
	call(e, "Out");
	expect_silence(e);
	assert_true(proc_child_exited(FAKE_PID, 0));
	expect_silence(e); /* the write end is still open: the drain timer is running */
	expect_data(e, NULL);
	assert_true(e->p->drain_expired);
}

/* WaitProcess parks until the exit, answers 128+signal, and the waited record goes. */
static void test_wait_parked(void **state)
{
	struct env *e = *state;
	call(e, "Wait");
	call(e, "Wait");
	expect_silence(e);
	assert_true(proc_child_exited(FAKE_PID, SIGKILL));
	expect_status(e, 128 + SIGKILL);
	expect_status(e, 128 + SIGKILL); /* every concurrent waiter */
	e->p = NULL;
	assert_int_equal(proc_count(), 0);
	assert_int_equal(e->ctr.nprocs, 0);
	assert_true(list_empty(&e->ctr.procs));
}

/* A wait after the exit answers at once and frees the record too. */
static void test_wait_late(void **state)
{
	struct env *e = *state;
	assert_true(proc_child_exited(FAKE_PID, 7 << 8));
	assert_null(proc_find_pid(FAKE_PID)); /* exited records are not found by pid */
	call(e, "Wait");
	expect_status(e, 7);
	e->p = NULL;
	assert_int_equal(proc_count(), 0);
}

/* Removal while calls are parked: readers get empty data, a waiter NOT_FOUND. */
static void test_remove(void **state)
{
	struct env *e = *state;
	call(e, "Out");
	call(e, "Wait");
	expect_silence(e);
	proc_free(e->p);
	e->p = NULL;
	expect_data(e, NULL);
	expect_fail(e, TTRPC_NOT_FOUND, "process e1 was removed");
	assert_int_equal(proc_count(), 0);
	assert_true(list_empty(&e->ctr.procs));
}

/* The host's end of a passfd connection must deliver exactly want, then (eof) EOF. */
static void expect_host(int fd, const char *want, bool eof)
{
	char buf[64] = {0};
	size_t n = strlen(want), got = 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 400 && got < n; i++) {
		loop_run_once(agent.loop, 5);
		ssize_t r = read(fd, buf + got, n - got);
		if (r > 0)
			got += (size_t)r;
	}
	assert_int_equal(got, n);
	assert_memory_equal(buf, want, n);
	if (!eof)
		return;
	ssize_t r = -1;
	for (int i = 0; i < 400 && r != 0; i++) {
		loop_run_once(agent.loop, 5);
		r = read(fd, buf, 1);
		assert_true(r <= 0);
	}
	assert_int_equal(r, 0);
}

/* passfd stdout: the pipe goes to the host's connection, ReadStdout is refused, and WaitProcess
 * answers only once every byte is out (here: after the write end closes, exit or not). */
static void test_passfd_stdout(void **state)
{
	struct env *e = *state;
	int hs[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hs), 0);
	const uint32_t ports[3] = {0, 4242, 0};
	int fds[3] = {-1, hs[0], -1};
	assert_int_equal(proc_attach_passfd(e->p, ports, fds), 0);
	assert_int_equal(fds[1], -1); /* taken */
	assert_int_equal(write(e->out_w, "abc", 3), 3);
	expect_host(hs[1], "abc", false);
	call(e, "Out");
	expect_fail(e, TTRPC_FAILED_PRECONDITION, "host port 4242 (passfd)");
	call(e, "Err"); /* stderr is still a pipe, read as usual */
	assert_int_equal(write(e->err_w, "e", 1), 1);
	expect_data(e, "e");
	call(e, "Wait");
	assert_true(proc_child_exited(FAKE_PID, 0));
	expect_silence(e); /* exited, but stdout is still open (a grandchild) */
	assert_int_equal(write(e->out_w, "tail", 4), 4);
	close(e->out_w);
	e->out_w = -1;
	expect_host(hs[1], "tail", true);
	expect_status(e, 0);
	e->p = NULL;
	assert_int_equal(proc_count(), 0);
	close(hs[1]);
}

/* passfd stdin: what the host sends reaches the process, the host's EOF closes its stdin;
 * WriteStdin is refused. */
static void test_passfd_stdin(void **state)
{
	struct env *e = *state;
	int hs[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, hs), 0);
	const uint32_t ports[3] = {4243, 0, 0};
	int fds[3] = {hs[0], -1, -1};
	assert_int_equal(proc_attach_passfd(e->p, ports, fds), 0);
	call(e, "In");
	expect_fail(e, TTRPC_FAILED_PRECONDITION, "host port 4243 (passfd)");
	assert_int_equal(write(hs[1], "in-data", 7), 7);
	shutdown(hs[1], SHUT_WR);
	expect_host(e->in_r, "in-data", true);
	close(hs[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_parked_reads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drain_then_eof, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drain_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_parked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_late, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_passfd_stdout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_passfd_stdin, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: Apache-2.0
/* The sandbox layer's container records (sandbox.c): lookups by id and exec id, the process
 * records it links in and out, destroy and teardown freeing everything they own.  No process
 * is spawned: records carry pids no process has and pipes the test holds. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "loop.h"
#include "process.h"
#include "sandbox.h"

/* Above any pid_max: kill() of it can only fail with ESRCH. */
#define FAKE_PID 0x3ffffff0

static struct sandbox_ctr *new_ctr(const char *id)
{
	struct sandbox_ctr *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->id = strdup(id);
	c->oom_fd = -1;
	c->init.start_fd = -1;
	c->ns = CTR_NSFDS_NONE;
	list_init(&c->procs);
	list_add_tail(&sandbox.ctrs, &c->link);
	sandbox.nctrs++;
	return c;
}

/* A record with a real pipe as its stdout (the test keeps the write end in *ret_w). */
static struct proc *new_proc(struct sandbox_ctr *c, const char *eid, bool init, int *ret_w)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	struct proc_io io = {.child = {-1, -1, -1, false, NULL},
	                     .stdin_w = -1,
	                     .stdout_r = p[0],
	                     .stderr_r = -1,
	                     .pty_master = -1};
	struct proc *pr = NULL;
	assert_int_equal(proc_new(c, eid, FAKE_PID, init, false, &io, &pr), 0);
	sandbox_ctr_add_proc(c, pr);
	*ret_w = p[1];
	return pr;
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(loop_new(&agent.loop), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sandbox_teardown();
	loop_free(agent.loop);
	agent.loop = NULL;
	return 0;
}

static void test_lookups(void **state)
{
	(void)state;
	struct sandbox_ctr *a = new_ctr("a"), *b = new_ctr("b");
	int w1, w2, w3;
	struct proc *init = new_proc(a, "a", true, &w1);
	struct proc *ex = new_proc(a, "e1", false, &w2);
	struct proc *binit = new_proc(b, "b", true, &w3);
	assert_ptr_equal(sandbox_ctr_find("a"), a);
	assert_ptr_equal(sandbox_ctr_find("b"), b);
	assert_null(sandbox_ctr_find("c"));
	assert_null(sandbox_ctr_find(NULL));
	/* the init answers to "", NULL and the container id; an exec to its own id only */
	assert_ptr_equal(sandbox_ctr_find_proc(a, ""), init);
	assert_ptr_equal(sandbox_ctr_find_proc(a, NULL), init);
	assert_ptr_equal(sandbox_ctr_find_proc(a, "a"), init);
	assert_ptr_equal(sandbox_ctr_find_proc(a, "e1"), ex);
	assert_null(sandbox_ctr_find_proc(a, "e2"));
	assert_null(sandbox_ctr_find_proc(b, "e1"));
	assert_ptr_equal(sandbox_ctr_find_proc(b, ""), binit);
	assert_int_equal(a->nprocs, 2);
	assert_int_equal(proc_count(), 3);
	close(w1), close(w2), close(w3);
}

/* A record freed on its own (WaitProcess) leaves its container through the sandbox layer. */
static void test_proc_free_unlinks(void **state)
{
	(void)state;
	struct sandbox_ctr *a = new_ctr("a");
	int w1, w2;
	new_proc(a, "a", true, &w1);
	struct proc *ex = new_proc(a, "e1", false, &w2);
	assert_int_equal(a->nprocs, 2);
	proc_free(ex);
	assert_int_equal(a->nprocs, 1);
	assert_null(sandbox_ctr_find_proc(a, "e1"));
	assert_int_equal(proc_count(), 1);
	close(w1), close(w2);
}

/* Destroying a container frees its records and unlinks it; the others stay. */
static void test_destroy(void **state)
{
	(void)state;
	struct sandbox_ctr *a = new_ctr("a"), *b = new_ctr("b");
	int w1, w2, w3;
	new_proc(a, "a", true, &w1);
	new_proc(a, "e1", false, &w2);
	new_proc(b, "b", true, &w3);
	unsigned before = sandbox.nctrs;
	sandbox_ctr_destroy(a);
	assert_int_equal(sandbox.nctrs, before - 1);
	assert_null(sandbox_ctr_find("a"));
	assert_ptr_equal(sandbox_ctr_find("b"), b);
	assert_int_equal(proc_count(), 1);
	/* the agent's read ends went with the records: the writers see a broken pipe */
	assert_int_equal(write(w1, "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	close(w1), close(w2), close(w3);
}

/* Teardown (DestroySandbox) leaves nothing: no container, no process record. */
static void test_teardown(void **state)
{
	(void)state;
	int w1, w2;
	new_proc(new_ctr("a"), "a", true, &w1);
	new_proc(new_ctr("b"), "b", true, &w2);
	sandbox.created = true;
	sandbox_teardown();
	assert_true(list_empty(&sandbox.ctrs));
	assert_int_equal(sandbox.nctrs, 0);
	assert_int_equal(proc_count(), 0);
	assert_false(sandbox.created);
	assert_true(sandbox.destroyed);
	close(w1), close(w2);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lookups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proc_free_unlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_teardown, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

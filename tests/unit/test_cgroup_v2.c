// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the cgroup v2 backend against a fake cgroup2 tree: resource mapping (files read
 * back byte for byte), weights, missing controllers, stats, freeze/pids/kill, OOM, destroy. */
#include "cgroup_fake.h"

/* ---- v2 ---- */

static const char v2_files[] =
    "cgroup.procs cgroup.freeze cgroup.kill memory.max memory.low memory.swap.max cpu.weight "
    "cpu.max cpuset.cpus cpuset.mems pids.max hugetlb.2MB.max io.weight";

static struct cg *make_v2(struct cg_manager **mp, const char *leaf_controllers)
{
	char rel[PATH_MAX];
	struct cg *c = NULL;

	put("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	put("cgroup.subtree_control", "cpu\n");
	/* the kernel would create these files on mkdir */
	snprintf(rel, sizeof(rel), "default/cid/cgroup.controllers");
	put(rel, leaf_controllers);
	touch_all("default/cid", v2_files);
	*mp = open_mgr(CG_V2);
	assert_int_equal(cg_create(*mp, "/default/cid", &c, &cgerr), 0);
	return c;
}

static void test_v2_apply(void **state)
{
	static const struct cg_hugetlb_limit huge[] = {{"2MB", 2097152}};
	struct cg_resources r = {
	    .memory = {.has_limit = true,
	               .limit = 268435456,
	               .has_reservation = true,
	               .reservation = 1048576,
	               .has_swap = true,
	               .swap = 536870912,
	               .has_swappiness = true,
	               .swappiness = 10,
	               .has_disable_oom_killer = true,
	               .disable_oom_killer = true},
	    .cpu = {.has_shares = true,
	            .shares = 1024,
	            .has_quota = true,
	            .quota = 50000,
	            .has_period = true,
	            .period = 100000,
	            .cpus = "1",
	            .mems = "0"},
	    .pids = {.has_limit = true, .limit = 64},
	    .blkio = {.has_weight = true, .weight = 500},
	    .hugetlb = huge,
	    .n_hugetlb = 1,
	};
	struct cg_manager *m;
	struct cg *c = make_v2(&m, "cpuset cpu io memory hugetlb pids\n");

	/* the root enables what it offers and what is not on yet, in one write */
	assert_string_equal(get("cgroup.subtree_control"),
	                    "+cpuset +io +memory +hugetlb +pids +rdma +misc");
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("default/cid/memory.max"), "268435456");
	assert_string_equal(get("default/cid/memory.low"), "1048576");
	assert_string_equal(get("default/cid/memory.swap.max"), "268435456");
	assert_string_equal(get("default/cid/cpu.weight"), "39");
	assert_string_equal(get("default/cid/cpu.max"), "50000 100000");
	assert_string_equal(get("default/cid/cpuset.cpus"), "1");
	assert_string_equal(get("default/cid/cpuset.mems"), "0");
	assert_string_equal(get("default/cid/pids.max"), "64");
	assert_string_equal(get("default/cid/hugetlb.2MB.max"), "2097152");
	assert_string_equal(get("default/cid/io.weight"), "4950");
	/* no swappiness / oom switch in v2: nothing written anywhere */
	assert_false(exists("default/cid/memory.swappiness"));

	/* period only: the quota already in cpu.max is kept */
	r = (struct cg_resources){.cpu = {.has_period = true, .period = 200000}};
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("default/cid/cpu.max"), "50000 200000");
	r = (struct cg_resources){.cpu = {.has_quota = true, .quota = -1}};
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("default/cid/cpu.max"), "max 200000");

	/* unlimited memory and swap; swap limit read against memory.max when only swap set */
	r = (struct cg_resources){
	    .memory = {.has_limit = true, .limit = -1, .has_swap = true, .swap = -1},
	    .pids = {.has_limit = true, .limit = 0}};
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("default/cid/memory.max"), "max");
	assert_string_equal(get("default/cid/memory.swap.max"), "max");
	assert_string_equal(get("default/cid/pids.max"), "max");
	put("default/cid/memory.max", "1000\n");
	r = (struct cg_resources){.memory = {.has_swap = true, .swap = 3000}};
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("default/cid/memory.swap.max"), "2000");

	/* v2 conversion errors and unsupported knobs */
	r = (struct cg_resources){
	    .memory = {.has_limit = true, .limit = 4096, .has_swap = true, .swap = 1024}};
	assert_int_equal(cg_apply(c, &r, &cgerr), -EINVAL);
	assert_non_null(strstr(cgerr.msg, "memory.swap.max"));
	put("default/cid/memory.max", "max\n");
	r = (struct cg_resources){.memory = {.has_swap = true, .swap = 1024}};
	assert_int_equal(cg_apply(c, &r, &cgerr), -EINVAL);
	r = (struct cg_resources){.cpu = {.has_realtime_runtime = true, .realtime_runtime = 1}};
	assert_int_equal(cg_apply(c, &r, &cgerr), -ENOTSUP);
	assert_non_null(strstr(cgerr.msg, "realtime"));

	assert_int_equal(cg_add_pid(c, 777, &cgerr), 0);
	assert_string_equal(get("default/cid/cgroup.procs"), "777");
	cg_free(c);
	cg_manager_free(m);
}

static void test_v2_weights(void **state)
{
	assert_int_equal(cg_v2_cpu_weight(2), 1);
	assert_int_equal(cg_v2_cpu_weight(0), 1);
	assert_int_equal(cg_v2_cpu_weight(1024), 39);
	assert_int_equal(cg_v2_cpu_weight(262144), 10000);
	assert_int_equal(cg_v2_cpu_weight(1u << 30), 10000);
}

static void test_v2_missing_controller(void **state)
{
	struct cg_manager *m;
	struct cg *c = make_v2(&m, "cpu memory\n");
	struct cg_resources r = {.pids = {.has_limit = true, .limit = 5}};
	int fd;

	assert_int_equal(cg_apply(c, &r, &cgerr), -ENOTSUP);
	assert_non_null(strstr(cgerr.msg, "pids"));
	r = (struct cg_resources){.blkio = {.has_weight = true, .weight = 100}};
	assert_int_equal(cg_apply(c, &r, &cgerr), -ENOTSUP);
	assert_non_null(strstr(cgerr.msg, "io"));
	r = (struct cg_resources){.hugetlb = (const struct cg_hugetlb_limit[]){{"2MB", 1}},
	                          .n_hugetlb = 1};
	assert_int_equal(cg_apply(c, &r, &cgerr), -ENOTSUP);
	/* no memory.events file and memory not listed: -ENOTSUP */
	cg_free(c);
	cg_manager_free(m);
	c = make_v2(&m, "cpu\n");
	assert_int_equal(cg_oom_watch(c, &fd, &cgerr), -ENOTSUP);
	r = (struct cg_resources){.memory = {.has_limit = true, .limit = 5}};
	assert_int_equal(cg_apply(c, &r, &cgerr), -ENOTSUP);
	assert_non_null(strstr(cgerr.msg, "memory"));
	cg_free(c);
	cg_manager_free(m);
}

static void test_v2_stats(void **state)
{
	struct cg_manager *m;
	struct cg *c = make_v2(&m, "cpu io memory hugetlb pids\n");
	struct cg_stats s;

	put("default/cid/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"
	                            "nr_periods 20\nnr_throttled 4\nthrottled_usec 30\n");
	put("default/cid/memory.current", "10000\n");
	put("default/cid/memory.peak", "20000\n");
	put("default/cid/memory.max", "max\n");
	put("default/cid/memory.events", "low 0\nhigh 0\nmax 6\noom 1\noom_kill 1\n");
	put("default/cid/memory.swap.current", "300\n");
	put("default/cid/memory.swap.max", "max\n");
	put("default/cid/memory.stat", "anon 4096\nfile 8192\nkernel 123\n");
	put("default/cid/pids.current", "3\n");
	put("default/cid/pids.max", "50\n");
	put("default/cid/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
	                           "253:1 rbytes=5 wbytes=6 rios=7 wios=8\n");
	put("default/cid/hugetlb.2MB.current", "2097152\n");
	put("default/cid/hugetlb.2MB.events", "max 3\n");
	put("default/cid/hugetlb.1GB.max", "max\n");

	assert_int_equal(cg_stats(c, &s, &cgerr), 0);
	assert_int_equal(s.cpu.total, 1500000);
	assert_int_equal(s.cpu.user, 1000000);
	assert_int_equal(s.cpu.kernel, 500000);
	assert_int_equal(s.cpu.periods, 20);
	assert_int_equal(s.cpu.throttled_periods, 4);
	assert_int_equal(s.cpu.throttled_time, 30000);
	assert_int_equal(s.cpu.n_percpu, 0);
	assert_int_equal(s.memory.usage.usage, 10000);
	assert_int_equal(s.memory.usage.max_usage, 20000);
	assert_true(s.memory.usage.limit == CG_UNLIMITED);
	assert_int_equal(s.memory.usage.failcnt, 6);
	assert_int_equal(s.memory.swap.usage, 10300);
	assert_true(s.memory.swap.limit == CG_UNLIMITED);
	assert_int_equal(s.memory.cache, 8192);
	assert_int_equal(s.memory.kernel.usage, 123);
	assert_int_equal(s.memory.n_stats, 3);
	assert_true(s.memory.use_hierarchy);
	assert_int_equal(s.pids.current, 3);
	assert_int_equal(s.pids.limit, 50);
	assert_int_equal(s.blkio.n_service_bytes, 5);
	assert_string_equal(s.blkio.service_bytes[1].op, "Write");
	assert_int_equal(s.blkio.service_bytes[1].value, 200);
	assert_int_equal(s.blkio.service_bytes[3].major, 253);
	assert_int_equal(s.blkio.service_bytes[3].minor, 1);
	assert_int_equal(s.blkio.service_bytes[3].value, 5);
	assert_int_equal(s.blkio.n_serviced, 5);
	assert_int_equal(s.blkio.serviced[4].value, 8);
	assert_int_equal(s.n_hugetlb, 2);
	for (size_t i = 0; i < s.n_hugetlb; i++) {
		if (strcmp(s.hugetlb[i].pagesize, "2MB") == 0) {
			assert_int_equal(s.hugetlb[i].usage, 2097152);
			assert_int_equal(s.hugetlb[i].failcnt, 3);
		} else {
			assert_string_equal(s.hugetlb[i].pagesize, "1GB");
			assert_int_equal(s.hugetlb[i].usage, 0);
		}
	}
	cg_stats_clear(&s);
	cg_free(c);
	cg_manager_free(m);
}

static void test_v2_freeze_pids_kill(void **state)
{
	struct cg_manager *m;
	struct cg *c = make_v2(&m, "cpu memory pids\n");
	pid_t *pids = NULL, child;
	size_t n = 0;
	char buf[64];
	int status;

	/* the fake never reports frozen: bounded wait, then thawed again */
	put("default/cid/cgroup.events", "populated 1\nfrozen 0\n");
	assert_int_equal(cg_freeze(c, true, &cgerr), -EBUSY);
	assert_string_equal(get("default/cid/cgroup.freeze"), "0");
	put("default/cid/cgroup.events", "populated 1\nfrozen 1\n");
	assert_int_equal(cg_freeze(c, true, &cgerr), 0);
	assert_string_equal(get("default/cid/cgroup.freeze"), "1");
	assert_int_equal(cg_freeze(c, false, &cgerr), 0);
	assert_string_equal(get("default/cid/cgroup.freeze"), "0");

	/* recursive pid listing */
	put("default/cid/cgroup.procs", "10\n11\n");
	put("default/cid/sub/cgroup.procs", "12\n");
	put("default/cid/sub/deeper/cgroup.procs", "");
	assert_int_equal(cg_pids(c, &pids, &n, &cgerr), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pids[0] + pids[1] + pids[2], 33);
	free(pids);

	/* SIGKILL with cgroup.kill: one write, nobody signalled by us */
	assert_int_equal(cg_kill_all(c, SIGKILL, &cgerr), 0);
	assert_string_equal(get("default/cid/cgroup.kill"), "1");

	/* another signal: freeze, signal each listed pid, thaw.  Use a real child. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	snprintf(buf, sizeof(buf), "%d\n", (int)child);
	put("default/cid/cgroup.procs", buf);
	put("default/cid/sub/cgroup.procs", "");
	put("default/cid/cgroup.freeze", "");
	assert_int_equal(cg_kill_all(c, SIGTERM, &cgerr), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_string_equal(get("default/cid/cgroup.freeze"), "0");
	/* the pid is gone now: ESRCH is not an error */
	assert_int_equal(cg_kill_all(c, SIGTERM, &cgerr), 0);
	cg_free(c);
	cg_manager_free(m);
}

static void test_v2_oom(void **state)
{
	struct cg_manager *m;
	struct cg *c = make_v2(&m, "memory\n");
	struct pollfd p;
	int fd = -1;

	put("default/cid/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 3\n");
	assert_int_equal(cg_oom_watch(c, &fd, &cgerr), 0);
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(cg_oom_check(c, &cgerr), 0);
	/* the kernel rewrites the file on an event; kills before the watch do not count */
	put("default/cid/memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 4\n");
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_int_equal(cg_oom_check(c, &cgerr), 1);
	assert_int_equal(poll(&p, 1, 0), 0);
	assert_int_equal(cg_oom_check(c, &cgerr), 0);
	/* an event that is not a kill (e.g. "max" rising) */
	put("default/cid/memory.events", "low 0\nhigh 0\nmax 9\noom 1\noom_kill 4\n");
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_int_equal(cg_oom_check(c, &cgerr), 0);
	/* removal */
	assert_int_equal(
	    unlink(strcat(strcpy((char[PATH_MAX]){0}, root), "/default/cid/memory.events")), 0);
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_int_equal(cg_oom_check(c, &cgerr), -ENODEV);
	cg_free(c);
	cg_manager_free(m);
}

static void test_v2_destroy(void **state)
{
	struct cg_manager *m;
	struct cg *c = make_v2(&m, "memory\n");
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/default/cid", root);
	rm_rf(p);
	strcat(p, "/a/b");
	mkdirs(p);
	assert_int_equal(cg_destroy(c, &cgerr), 0);
	assert_false(exists("default/cid"));
	assert_true(exists("default"));
	assert_int_equal(cg_destroy(c, &cgerr), 0);
	cg_free(c);
	cg_free(NULL);
	cg_manager_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_weights),
	    cmocka_unit_test_setup_teardown(test_v2_apply, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v2_missing_controller, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v2_stats, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v2_freeze_pids_kill, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v2_oom, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v2_destroy, setup_root, teardown_root),
	};
	return cmocka_run_group_tests_name("cgroup_v2", tests, NULL, NULL);
}

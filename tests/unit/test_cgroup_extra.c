// SPDX-License-Identifier: Apache-2.0
/* Unit tests of cgroup_extra.c against fake v1/v2 trees: per-device block I/O rules, leaf
 * weight, memory.kernelTCP, net_cls/net_prio, and the notes for what a hierarchy cannot take. */
#include "cgroup_extra.h"
/* this file uses only some of the shared fake-tree helpers */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cgroup_fake.h"

static const struct cg_weight_device wd[] = {{8, 0, 300, 200}};
static const struct cg_throttle_device rbps[] = {{8, 0, 1048576}};
static const struct cg_throttle_device wbps[] = {{8, 16, 2097152}};
static const struct cg_throttle_device riops[] = {{253, 1, 100}};
static const struct cg_throttle_device wiops[] = {{253, 1, 0}};
static const struct cg_net_prio prio[] = {{"eth0", 5}};

static struct cg_resources_extra all_knobs(void)
{
	return (struct cg_resources_extra){
	    .has_leaf_weight = true,
	    .leaf_weight = 400,
	    .weight_device = wd,
	    .n_weight_device = 1,
	    .throttle = {rbps, wbps, riops, wiops},
	    .n_throttle = {1, 1, 1, 1},
	    .has_kernel_tcp = true,
	    .kernel_tcp = 16777216,
	    .has_classid = true,
	    .classid = 0x100001,
	    .prio = prio,
	    .n_prio = 1,
	};
}

static struct cg *make_v1(struct cg_manager **mp, bool cfq, bool net)
{
	struct cg *c = NULL;

	put("blkio/k/c/blkio.throttle.read_bps_device", "");
	touch_all("blkio/k/c", "blkio.throttle.write_bps_device blkio.throttle.read_iops_device "
	                       "blkio.throttle.write_iops_device blkio.bfq.weight_device");
	if (cfq)
		touch_all("blkio/k/c", "blkio.leaf_weight blkio.weight_device "
		                       "blkio.leaf_weight_device");
	put("memory/k/c/memory.kmem.tcp.limit_in_bytes", "");
	if (net) {
		put("net_cls/k/c/net_cls.classid", "");
		put("net_prio/k/c/net_prio.ifpriomap", "");
	}
	*mp = open_mgr(CG_V1);
	assert_int_equal(cg_create(*mp, "/k/c", &c, NULL), 0);
	return c;
}

static void test_v1_all(void **state)
{
	struct cg_resources_extra r = all_knobs();
	struct cg_manager *m;
	struct cg *c = make_v1(&m, true, true);
	char notes[512];

	assert_int_equal(cg_apply_extra(c, &r, notes, sizeof(notes), NULL), 0);
	assert_string_equal(notes, "");
	assert_string_equal(get("blkio/k/c/blkio.leaf_weight"), "400");
	assert_string_equal(get("blkio/k/c/blkio.weight_device"), "8:0 300");
	assert_string_equal(get("blkio/k/c/blkio.leaf_weight_device"), "8:0 200");
	assert_string_equal(get("blkio/k/c/blkio.bfq.weight_device"), "");
	assert_string_equal(get("blkio/k/c/blkio.throttle.read_bps_device"), "8:0 1048576");
	assert_string_equal(get("blkio/k/c/blkio.throttle.write_bps_device"), "8:16 2097152");
	assert_string_equal(get("blkio/k/c/blkio.throttle.read_iops_device"), "253:1 100");
	assert_string_equal(get("blkio/k/c/blkio.throttle.write_iops_device"), "253:1 0");
	assert_string_equal(get("memory/k/c/memory.kmem.tcp.limit_in_bytes"), "16777216");
	assert_string_equal(get("net_cls/k/c/net_cls.classid"), "1048577");
	assert_string_equal(get("net_prio/k/c/net_prio.ifpriomap"), "eth0 5");
	cg_free(c);
	cg_manager_free(m);
}

static void test_v1_bfq_no_net(void **state)
{
	struct cg_resources_extra r = all_knobs();
	struct cg_manager *m;
	struct cg *c = make_v1(&m, false, false);
	char notes[512];

	assert_int_equal(cg_apply_extra(c, &r, notes, sizeof(notes), NULL), 0);
	/* BFQ: the per-device weight goes to its file, the leaf weights are noted */
	assert_string_equal(get("blkio/k/c/blkio.bfq.weight_device"), "8:0 300");
	assert_non_null(strstr(notes, "blkio leaf weight ignored: no blkio.leaf_weight"));
	assert_non_null(strstr(notes, "leaf weight of 8:0 ignored"));
	assert_non_null(strstr(notes, "network classID ignored: no net_cls controller"));
	assert_non_null(strstr(notes, "network priorities ignored: no net_prio controller"));
	assert_string_equal(get("memory/k/c/memory.kmem.tcp.limit_in_bytes"), "16777216");
	cg_free(c);
	cg_manager_free(m);
}

static void test_v1_missing(void **state)
{
	struct cg_resources_extra r = {.n_throttle = {1}, .throttle = {rbps}};
	struct cg_resources_extra tcp = {.has_kernel_tcp = true, .kernel_tcp = -1};
	struct cg_manager *m;
	struct cg *c = NULL;
	char notes[512];

	put("memory/k/c/memory.limit_in_bytes", ""); /* no kmem.tcp file: kernel without it */
	m = open_mgr(CG_V1);
	assert_int_equal(cg_create(m, "/k/c", &c, NULL), 0);
	struct agent_err err = {0};
	assert_int_equal(cg_apply_extra(c, &r, notes, sizeof(notes), &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "blkio controller is not mounted"));
	assert_int_equal(cg_apply_extra(c, &tcp, notes, sizeof(notes), NULL), 0);
	assert_non_null(strstr(notes, "memory.kernelTCP ignored"));
	cg_free(c);
	cg_manager_free(m);
}

static void test_v2(void **state)
{
	struct cg_resources_extra r = all_knobs();
	struct cg_manager *m;
	struct cg *c = NULL;
	char notes[1024], p[PATH_MAX], target[64];
	int io_max[2];
	ssize_t n;

	put("cgroup.controllers", "cpu io memory pids\n");
	put("cgroup.subtree_control", "cpu io memory pids\n");
	put("k/cgroup.controllers", "cpu io memory pids\n");
	put("k/cgroup.subtree_control", "cpu io memory pids\n");
	put("k/c/cgroup.controllers", "cpu io memory pids\n");
	put("k/c/io.weight", "");
	/* io.max takes one line per write: a pipe keeps them all */
	assert_int_equal(pipe2(io_max, O_NONBLOCK), 0);
	snprintf(p, sizeof(p), "%s/k/c/io.max", root);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", io_max[1]);
	assert_int_equal(symlink(target, p), 0);
	m = open_mgr(CG_V2);
	assert_int_equal(cg_create(m, "/k/c", &c, NULL), 0);
	assert_int_equal(cg_apply_extra(c, &r, notes, sizeof(notes), NULL), 0);
	assert_string_equal(get("k/c/io.weight"), "8:0 2930"); /* 1 + 290 * 9999 / 990 */
	n = read(io_max[0], p, sizeof(p) - 1);
	assert_true(n > 0);
	p[n] = '\0';
	assert_string_equal(p, "8:0 rbps=1048576"
	                       "8:16 wbps=2097152"
	                       "253:1 riops=100"
	                       "253:1 wiops=max");
	assert_non_null(
	    strstr(notes, "memory.kernelTCP ignored: cgroup v2 has no TCP buffer limit"));
	assert_non_null(strstr(notes, "network classID ignored: cgroup v2 has no net_cls"));
	assert_non_null(strstr(notes, "network priorities ignored: cgroup v2 has no net_prio"));
	assert_non_null(strstr(notes, "blkio leaf weight ignored: cgroup v2 has none"));
	close(io_max[0]);
	close(io_max[1]);
	cg_free(c);
	cg_manager_free(m);
}

static void test_invalid(void **state)
{
	static const struct cg_net_prio bad_if[] = {{"eth 0", 1}};
	static const struct cg_throttle_device bad_dev[] = {{-1, 0, 1}};
	struct cg_resources_extra r1 = {.prio = bad_if, .n_prio = 1};
	struct cg_resources_extra r2 = {.throttle = {bad_dev}, .n_throttle = {1}};
	struct cg_manager *m;
	struct cg *c = make_v1(&m, true, true);

	struct agent_err err = {0};
	assert_int_equal(cg_apply_extra(c, &r1, NULL, 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "interface name"));
	err_clear(&err);
	assert_int_equal(cg_apply_extra(c, &r2, NULL, 0, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "-1:0"));
	cg_free(c);
	cg_manager_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_v1_all, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v1_bfq_no_net, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v1_missing, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v2, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_invalid, setup_root, teardown_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

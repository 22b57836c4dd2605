// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of agent/src/cgroup*.c against fake cgroup trees: path rules, v1/v2 detection,
 * the v1 backend (resource files read back byte for byte, stats, freezer, OOM) and the PID-1
 * mount table.  The v2 backend is in test_cgroup_v2.c.
 */
#include "cgroup_fake.h"

/* ---- path rules ---- */

static void test_parse_path(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL = -EINVAL */
	} cases[] = {
	    {"/default/cid", "/default/cid"},
	    {"default//cid/", "/default/cid"},
	    {"/a/./b", "/a/b"},
	    {"/a..b/c..", "/a..b/c.."},
	    {"../x", NULL},
	    {"/a/../b", NULL},
	    {"/a/..", NULL},
	    {"/", NULL},
	    {"", NULL},
	    {"./.", NULL},
	    {"/a\nb", NULL},
	    {"/a\tb", NULL},
	    {"system.slice:docker:abc", "/system.slice/docker-abc.scope"},
	    {":cri:abc", "/system.slice/cri-abc.scope"},
	    {"kubepods-besteffort-pod1.slice:cri-containerd:abc",
	     "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/"
	     "cri-containerd-abc.scope"},
	    {"-:p:n", "/p-n.scope"},
	    {"a.slice::n", "/a.slice/n.scope"},
	    {"a.slice:p:x.slice", "/a.slice/x.slice"},
	    {"a.slice:p:..", "/a.slice/p-...scope"},
	    {"a--b.slice:p:n", NULL},
	    {"-a.slice:p:n", NULL},
	    {"a-.slice:p:n", NULL},
	    {".slice:p:n", NULL},
	    {"nodot:p:n", NULL},
	    {"a/b.slice:p:n", NULL},
	    {"a.slice:p/q:n", NULL},
	    {"a.slice:p:../../x", NULL},
	    {"a.slice:p:", NULL},
	    {"a:b", NULL},
	    {"a:b:c:d", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		int r = cg_parse_path(cases[i].in, &out, &cgerr);

		if (cases[i].out) {
			if (r != 0)
				fail_msg("'%s': %d (%s)", cases[i].in, r, cgerr.msg);
			assert_string_equal(out, cases[i].out);
		} else {
			if (r != -EINVAL)
				fail_msg("'%s' accepted as '%s'", cases[i].in, out ? out : "");
			assert_true(strlen(cgerr.msg) > 0);
		}
		free(out);
	}

	/* longer than PATH_MAX */
	char *big = malloc(PATH_MAX + 10), *out = NULL;

	assert_non_null(big);
	memset(big, 'a', PATH_MAX + 9);
	big[0] = '/';
	big[PATH_MAX + 9] = '\0';
	assert_int_equal(cg_parse_path(big, &out, &cgerr), -EINVAL);
	/* each component too long */
	memset(big, 'a', NAME_MAX + 2);
	big[0] = '/';
	big[NAME_MAX + 2] = '\0';
	assert_int_equal(cg_parse_path(big, &out, &cgerr), -EINVAL);
	free(big);
}

/* ---- detection ---- */

static void test_detect(void **state)
{
	struct cg_manager *m = NULL;

	assert_int_equal(cg_manager_open(root, &m, &cgerr), -ENOENT);
	mkdirs(strcat(strcpy((char[PATH_MAX]){0}, root), "/memory"));
	put("cpu/tasks", "");
	put("freezer/tasks", "");
	m = open_mgr(CG_V1);
	assert_true(cg_manager_has(m, "memory"));
	assert_true(cg_manager_has(m, "freezer"));
	assert_false(cg_manager_has(m, "pids"));
	assert_false(cg_manager_has(m, "nonsense"));
	cg_manager_free(m);

	put("cgroup.controllers", "cpuset cpu io memory pids\n");
	m = open_mgr(CG_V2);
	assert_true(cg_manager_has(m, "io"));
	assert_true(cg_manager_has(m, "blkio"));
	assert_true(cg_manager_has(m, "pids"));
	assert_false(cg_manager_has(m, "hugetlb"));
	cg_manager_free(m);
	cg_manager_free(NULL);
}

/* ---- v1 ---- */

static const char *const v1_ctrls[] = {"cpu",     "cpuacct", "cpuset",  "memory",
                                       "freezer", "blkio",   "hugetlb", "pids"};

static void make_v1(const char *path, const char *const *ctrls, size_t n)
{
	char rel[PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "%s/tasks", ctrls[i]);
		put(rel, "");
	}
	(void)path;
}

static void v1_knobs(const char *path)
{
	char d[PATH_MAX];

#define K(ctrl, files)                                                                             \
	snprintf(d, sizeof(d), "%s%s", ctrl, path);                                                \
	touch_all(d, files)
	K("memory", "memory.limit_in_bytes memory.memsw.limit_in_bytes memory.soft_limit_in_bytes "
	            "memory.swappiness memory.oom_control cgroup.procs");
	K("cpu", "cpu.shares cpu.cfs_period_us cpu.cfs_quota_us cpu.rt_period_us "
	         "cpu.rt_runtime_us cgroup.procs");
	K("cpuset", "cpuset.cpus cpuset.mems cgroup.procs");
	K("pids", "pids.max cgroup.procs");
	K("hugetlb", "hugetlb.2MB.limit_in_bytes hugetlb.1GB.limit_in_bytes cgroup.procs");
	K("blkio", "blkio.bfq.weight cgroup.procs");
	K("freezer", "freezer.state cgroup.procs");
	K("cpuacct", "cgroup.procs");
#undef K
}

static void test_v1_apply(void **state)
{
	static const struct cg_hugetlb_limit huge[] = {{"2MB", 4194304}, {"1GB", 0}};
	struct cg_resources r = {
	    .memory = {.has_limit = true,
	               .limit = 268435456,
	               .has_reservation = true,
	               .reservation = 134217728,
	               .has_swap = true,
	               .swap = 536870912,
	               .has_swappiness = true,
	               .swappiness = 60,
	               .has_disable_oom_killer = true,
	               .disable_oom_killer = true},
	    .cpu = {.has_shares = true,
	            .shares = 512,
	            .has_quota = true,
	            .quota = 50000,
	            .has_period = true,
	            .period = 100000,
	            .has_realtime_runtime = true,
	            .realtime_runtime = 950,
	            .has_realtime_period = true,
	            .realtime_period = 1000,
	            .cpus = "0-1",
	            .mems = "0"},
	    .pids = {.has_limit = true, .limit = 100},
	    .blkio = {.has_weight = true, .weight = 300},
	    .hugetlb = huge,
	    .n_hugetlb = 2,
	};
	struct cg_manager *m;
	struct cg *c = NULL;

	make_v1("/default/cid", v1_ctrls, 8);
	m = open_mgr(CG_V1);
	assert_int_equal(cg_create(m, "default/cid", &c, &cgerr), 0);
	assert_string_equal(cg_path(c), "/default/cid");
	for (size_t i = 0; i < 8; i++) {
		char rel[PATH_MAX];
		struct stat st;

		snprintf(rel, sizeof(rel), "%s/%s/default/cid", root, v1_ctrls[i]);
		assert_int_equal(stat(rel, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
	v1_knobs("/default/cid");
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("memory/default/cid/memory.limit_in_bytes"), "268435456");
	assert_string_equal(get("memory/default/cid/memory.memsw.limit_in_bytes"), "536870912");
	assert_string_equal(get("memory/default/cid/memory.soft_limit_in_bytes"), "134217728");
	assert_string_equal(get("memory/default/cid/memory.swappiness"), "60");
	assert_string_equal(get("memory/default/cid/memory.oom_control"), "1");
	assert_string_equal(get("cpu/default/cid/cpu.shares"), "512");
	assert_string_equal(get("cpu/default/cid/cpu.cfs_period_us"), "100000");
	assert_string_equal(get("cpu/default/cid/cpu.cfs_quota_us"), "50000");
	assert_string_equal(get("cpu/default/cid/cpu.rt_period_us"), "1000");
	assert_string_equal(get("cpu/default/cid/cpu.rt_runtime_us"), "950");
	assert_string_equal(get("cpuset/default/cid/cpuset.cpus"), "0-1");
	assert_string_equal(get("cpuset/default/cid/cpuset.mems"), "0");
	assert_string_equal(get("pids/default/cid/pids.max"), "100");
	assert_string_equal(get("hugetlb/default/cid/hugetlb.2MB.limit_in_bytes"), "4194304");
	assert_string_equal(get("hugetlb/default/cid/hugetlb.1GB.limit_in_bytes"), "0");
	/* no blkio.weight file: the BFQ knob takes it */
	assert_string_equal(get("blkio/default/cid/blkio.bfq.weight"), "300");

	/* unlimited values */
	r = (struct cg_resources){.memory = {.has_limit = true, .limit = -1},
	                          .cpu = {.has_quota = true, .quota = -1},
	                          .pids = {.has_limit = true, .limit = -1}};
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("memory/default/cid/memory.limit_in_bytes"), "-1");
	assert_string_equal(get("cpu/default/cid/cpu.cfs_quota_us"), "-1");
	assert_string_equal(get("pids/default/cid/pids.max"), "max");
	/* untouched knobs keep their values */
	assert_string_equal(get("cpu/default/cid/cpu.shares"), "512");

	/* hostile page size */
	r = (struct cg_resources){.hugetlb = (const struct cg_hugetlb_limit[]){{"../x", 1}},
	                          .n_hugetlb = 1};
	assert_int_equal(cg_apply(c, &r, &cgerr), -EINVAL);
	r = (struct cg_resources){.memory = {.has_swappiness = true, .swappiness = 101}};
	assert_int_equal(cg_apply(c, &r, &cgerr), -EINVAL);

	/* add_pid writes every hierarchy */
	assert_int_equal(cg_add_pid(c, 4242, &cgerr), 0);
	for (size_t i = 0; i < 8; i++) {
		char rel[PATH_MAX];

		snprintf(rel, sizeof(rel), "%s/default/cid/cgroup.procs", v1_ctrls[i]);
		assert_string_equal(get(rel), "4242");
	}
	assert_int_equal(cg_add_pid(c, 0, &cgerr), -EINVAL);
	cg_free(c);
	cg_manager_free(m);
}

static void test_v1_missing_controller(void **state)
{
	static const char *const few[] = {"memory", "cpu"};
	struct cg_resources r = {.pids = {.has_limit = true, .limit = 5}};
	struct cg_manager *m;
	struct cg *c = NULL;
	bool frozen = true;

	make_v1("/x", few, 2);
	m = open_mgr(CG_V1);
	assert_int_equal(cg_create(m, "/x", &c, &cgerr), 0);
	assert_int_equal(cg_apply(c, &r, &cgerr), -ENOTSUP);
	assert_non_null(strstr(cgerr.msg, "pids"));
	r = (struct cg_resources){.cpu = {.cpus = "0"}};
	assert_int_equal(cg_apply(c, &r, &cgerr), -ENOTSUP);
	assert_non_null(strstr(cgerr.msg, "cpuset"));
	assert_int_equal(cg_freeze(c, frozen, &cgerr), -ENOTSUP);
	assert_non_null(strstr(cgerr.msg, "freezer"));
	/* swap without memsw file (no swap accounting) is dropped, the limit still applies */
	put("memory/x/memory.limit_in_bytes", "");
	r = (struct cg_resources){
	    .memory = {.has_limit = true, .limit = 1048576, .has_swap = true, .swap = 2097152}};
	assert_int_equal(cg_apply(c, &r, &cgerr), 0);
	assert_string_equal(get("memory/x/memory.limit_in_bytes"), "1048576");
	assert_false(exists("memory/x/memory.memsw.limit_in_bytes"));
	cg_free(c);
	cg_manager_free(m);
}

static void test_v1_stats(void **state)
{
	struct cg_manager *m;
	struct cg *c = NULL;
	struct cg_stats s;

	make_v1("/s", v1_ctrls, 8);
	m = open_mgr(CG_V1);
	assert_int_equal(cg_create(m, "/s", &c, &cgerr), 0);
	put("cpuacct/s/cpuacct.usage", "123456789\n");
	put("cpuacct/s/cpuacct.usage_percpu", "100 200 300 \n");
	put("cpuacct/s/cpuacct.stat", "user 5\nsystem 7\n");
	put("cpu/s/cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 999\n");
	put("memory/s/memory.usage_in_bytes", "4096\n");
	put("memory/s/memory.max_usage_in_bytes", "8192\n");
	put("memory/s/memory.failcnt", "2\n");
	put("memory/s/memory.limit_in_bytes", "9223372036854771712\n");
	put("memory/s/memory.memsw.usage_in_bytes", "5000\n");
	put("memory/s/memory.memsw.limit_in_bytes", "1048576\n");
	put("memory/s/memory.kmem.usage_in_bytes", "77\n");
	put("memory/s/memory.use_hierarchy", "1\n");
	put("memory/s/memory.stat", "cache 1024\nrss 2048\nbogus line here\nmapped_file 3\n");
	put("pids/s/pids.current", "4\n");
	put("pids/s/pids.max", "max\n");
	put("blkio/s/blkio.throttle.io_service_bytes_recursive",
	    "8:0 Read 4096\n8:0 Write 512\n8:16 Read 1\nTotal 4609\n");
	put("blkio/s/blkio.throttle.io_serviced_recursive", "8:0 Read 3\n8:0 Write 1\nTotal 4\n");
	put("blkio/s/blkio.bfq.io_service_bytes_recursive", "Total 0\n");
	put("hugetlb/s/hugetlb.2MB.limit_in_bytes", "0\n");
	put("hugetlb/s/hugetlb.2MB.usage_in_bytes", "2097152\n");
	put("hugetlb/s/hugetlb.2MB.max_usage_in_bytes", "4194304\n");
	put("hugetlb/s/hugetlb.2MB.failcnt", "1\n");

	assert_int_equal(cg_stats(c, &s, &cgerr), 0);
	assert_int_equal(s.cpu.total, 123456789);
	assert_int_equal(s.cpu.n_percpu, 3);
	assert_int_equal(s.cpu.percpu[2], 300);
	assert_int_equal(s.cpu.user, 5 * 10000000ull);
	assert_int_equal(s.cpu.kernel, 7 * 10000000ull);
	assert_int_equal(s.cpu.periods, 10);
	assert_int_equal(s.cpu.throttled_periods, 3);
	assert_int_equal(s.cpu.throttled_time, 999);
	assert_int_equal(s.memory.usage.usage, 4096);
	assert_int_equal(s.memory.usage.max_usage, 8192);
	assert_int_equal(s.memory.usage.failcnt, 2);
	assert_true(s.memory.usage.limit == CG_UNLIMITED);
	assert_int_equal(s.memory.swap.usage, 5000);
	assert_int_equal(s.memory.swap.limit, 1048576);
	assert_int_equal(s.memory.kernel.usage, 77);
	assert_true(s.memory.use_hierarchy);
	assert_int_equal(s.memory.cache, 1024);
	assert_int_equal(s.memory.n_stats, 3);
	assert_string_equal(s.memory.stats[1].key, "rss");
	assert_int_equal(s.memory.stats[1].value, 2048);
	assert_string_equal(s.memory.stats[2].key, "mapped_file");
	assert_int_equal(s.pids.current, 4);
	assert_true(s.pids.limit == CG_UNLIMITED);
	/* the BFQ file exists but counts nothing: the throttle layer's numbers are used */
	assert_int_equal(s.blkio.n_service_bytes, 3);
	assert_int_equal(s.blkio.service_bytes[0].major, 8);
	assert_int_equal(s.blkio.service_bytes[0].minor, 0);
	assert_string_equal(s.blkio.service_bytes[0].op, "Read");
	assert_int_equal(s.blkio.service_bytes[0].value, 4096);
	assert_int_equal(s.blkio.service_bytes[2].minor, 16);
	assert_int_equal(s.blkio.n_serviced, 2);
	assert_int_equal(s.blkio.serviced[1].value, 1);
	assert_int_equal(s.n_hugetlb, 1);
	assert_string_equal(s.hugetlb[0].pagesize, "2MB");
	assert_int_equal(s.hugetlb[0].usage, 2097152);
	assert_int_equal(s.hugetlb[0].max_usage, 4194304);
	assert_int_equal(s.hugetlb[0].failcnt, 1);
	cg_stats_clear(&s);
	assert_null(s.cpu.percpu);
	cg_stats_clear(NULL);

	/* newer kernels: ns counters instead of ticks */
	put("cpuacct/s/cpuacct.usage_user", "111\n");
	put("cpuacct/s/cpuacct.usage_sys", "222\n");
	assert_int_equal(cg_stats(c, &s, &cgerr), 0);
	assert_int_equal(s.cpu.user, 111);
	assert_int_equal(s.cpu.kernel, 222);
	cg_stats_clear(&s);
	cg_free(c);
	cg_manager_free(m);
}

static void test_v1_freeze_oom_destroy(void **state)
{
	struct cg_manager *m;
	struct cg *c = NULL;
	uint64_t one = 1;
	int fd = -1, efd_in_file = -1, cfd_in_file = -1;

	make_v1("/f", v1_ctrls, 8);
	m = open_mgr(CG_V1);
	assert_int_equal(cg_create(m, "/f", &c, &cgerr), 0);
	put("freezer/f/freezer.state", "THAWED\n");
	assert_int_equal(cg_freeze(c, true, &cgerr), 0);
	assert_string_equal(get("freezer/f/freezer.state"), "FROZEN");
	assert_int_equal(cg_freeze(c, false, &cgerr), 0);
	assert_string_equal(get("freezer/f/freezer.state"), "THAWED");

	/* OOM: eventfd registered as "<efd> <fd of memory.oom_control>" */
	put("memory/f/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
	put("memory/f/cgroup.event_control", "");
	assert_int_equal(cg_oom_check(c, &cgerr), -EBADF);
	assert_int_equal(cg_oom_watch(c, &fd, &cgerr), 0);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(
	    sscanf(get("memory/f/cgroup.event_control"), "%d %d", &efd_in_file, &cfd_in_file), 2);
	assert_int_equal(efd_in_file, fd);
	assert_true(cfd_in_file != fd);
	assert_int_equal(cg_oom_check(c, &cgerr), 0);
	/* the kernel signals the eventfd: stand in for it */
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(cg_oom_check(c, &cgerr), 1);
	assert_int_equal(cg_oom_check(c, &cgerr), 0);
	/* watching twice gives the same fd */
	int fd2 = -1;
	assert_int_equal(cg_oom_watch(c, &fd2, &cgerr), 0);
	assert_int_equal(fd2, fd);

	/* destroy: the fake leaves hold files; empty them, add a child cgroup */
	for (size_t i = 0; i < 8; i++) {
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/%s/f", root, v1_ctrls[i]);
		rm_rf(p);
		strcat(p, "/child");
		mkdirs(p);
	}
	/* removal wakes the eventfd too; check tells it apart */
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	assert_int_equal(cg_destroy(c, &cgerr), 0);
	assert_false(exists("memory/f"));
	assert_false(exists("freezer/f/child"));
	assert_true(exists("memory"));
	assert_int_equal(cg_oom_check(c, &cgerr), -ENODEV);
	assert_int_equal(cg_destroy(c, &cgerr), 0); /* already gone */
	cg_free(c);
	cg_manager_free(m);
}

/* ---- mount table ---- */

struct rec {
	char calls[24][160];
	int n;
	const char *fail_on; /* data value whose mount fails with -EPERM */
};

static int fake_mount(const char *source, const char *target, const char *fstype,
                      unsigned long flags, const char *data, void *userdata)
{
	struct rec *rec = userdata;
	const char *rel = target + strlen(root);

	assert_true(rec->n < 24);
	snprintf(rec->calls[rec->n++], sizeof(rec->calls[0]), "%s %s %s:%s %#lx %s", fstype, source,
	         "ROOT", rel, flags, data ? data : "-");
	if (rec->fail_on && data && strcmp(data, rec->fail_on) == 0)
		return -EPERM;
	/* play the kernel: a fresh memory hierarchy has memory.use_hierarchy */
	if (strcmp(fstype, "cgroup") == 0 && strcmp(data, "memory") == 0) {
		char f[PATH_MAX];

		snprintf(f, sizeof(f), "memory/memory.use_hierarchy");
		put(f, "0\n");
	}
	return 0;
}

static void test_mount_v2(void **state)
{
	struct rec rec = {0};
	struct cg_mount_env env = {.root = root, .mount = fake_mount, .userdata = &rec};
	char want[160];

	assert_int_equal(cg_mount_all(CG_V2, &env, &cgerr), 0);
	assert_int_equal(rec.n, 1);
	snprintf(want, sizeof(want), "cgroup2 cgroup2 ROOT: %#lx nsdelegate",
	         (unsigned long)(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME));
	assert_string_equal(rec.calls[0], want);
	assert_int_equal(cg_mount_all((enum cg_version)7, &env, &cgerr), -EINVAL);
	assert_int_equal(cg_mount_all(CG_V2, NULL, &cgerr), -EINVAL);
}

static void test_mount_v1(void **state)
{
	static const char proc_cgroups[] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
	                                   "cpuset\t3\t1\t1\n"
	                                   "cpu\t1\t1\t1\n"
	                                   "cpuacct\t2\t1\t1\n"
	                                   "blkio\t7\t1\t1\n"
	                                   "memory\t4\t48\t1\n"
	                                   "devices\t5\t1\t1\n"
	                                   "freezer\t6\t1\t1\n"
	                                   "net_cls\t0\t1\t0\n"
	                                   "perf_event\t0\t1\t1\n"
	                                   "hugetlb\t0\t1\t1\n"
	                                   "pids\t8\t1\t1\n"
	                                   "misc\t0\t1\t1\n";
	const unsigned long cgf = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
	static const char *const want_ctrls[] = {"cpuset",  "cpu",     "cpuacct", "blkio",
	                                         "memory",  "devices", "freezer", "perf_event",
	                                         "hugetlb", "pids"};
	char pc[PATH_MAX], want[160], target[PATH_MAX];
	struct rec rec = {0};
	struct cg_mount_env env = {
	    .root = NULL, .proc_cgroups = pc, .mount = fake_mount, .userdata = &rec};
	char mroot[PATH_MAX];
	size_t nw = sizeof(want_ctrls) / sizeof(want_ctrls[0]);

	/* mount root = the temp root itself (the fake mounts nothing) */
	snprintf(mroot, sizeof(mroot), "%s", root);
	env.root = mroot;
	put("proc_cgroups", proc_cgroups);
	snprintf(pc, sizeof(pc), "%s/proc_cgroups", root);

	assert_int_equal(cg_mount_all(CG_V1, &env, &cgerr), 0);
	assert_int_equal(rec.n, (int)nw + 2);
	snprintf(want, sizeof(want), "tmpfs tmpfs ROOT: %#lx mode=755",
	         (unsigned long)(MS_NOSUID | MS_NODEV | MS_NOEXEC));
	assert_string_equal(rec.calls[0], want);
	for (size_t i = 0; i < nw; i++) {
		snprintf(want, sizeof(want), "cgroup cgroup ROOT:/%s %#lx %s", want_ctrls[i], cgf,
		         want_ctrls[i]);
		assert_string_equal(rec.calls[1 + i], want);
		snprintf(target, sizeof(target), "%s", want_ctrls[i]);
		assert_true(exists(target)); /* mount point made */
	}
	snprintf(want, sizeof(want), "tmpfs tmpfs ROOT: %#lx mode=755",
	         (unsigned long)(MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC));
	assert_string_equal(rec.calls[nw + 1], want);
	assert_string_equal(get("memory/memory.use_hierarchy"), "1");
	assert_false(exists("net_cls"));
	assert_false(exists("misc"));

	/* a failing mount stops the table and names the controller */
	rec = (struct rec){.fail_on = "memory"};
	assert_int_equal(cg_mount_all(CG_V1, &env, &cgerr), -EPERM);
	assert_int_equal(rec.n, 6); /* tmpfs, cpuset, cpu, cpuacct, blkio, memory */
	assert_non_null(strstr(cgerr.msg, "memory"));

	/* no devices controller: nothing mounted at all */
	put("proc_cgroups", "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
	                    "cpu\t1\t1\t1\nmemory\t4\t1\t1\ndevices\t5\t1\t0\n");
	rec = (struct rec){0};
	assert_int_equal(cg_mount_all(CG_V1, &env, &cgerr), CG_MOUNT_SKIPPED);
	assert_int_equal(rec.n, 0);
	assert_non_null(strstr(cgerr.msg, "devices"));

	/* unreadable /proc/cgroups */
	snprintf(pc, sizeof(pc), "%s/nonexistent", root);
	assert_int_equal(cg_mount_all(CG_V1, &env, &cgerr), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_path),
	    cmocka_unit_test_setup_teardown(test_detect, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v1_apply, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v1_missing_controller, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v1_stats, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v1_freeze_oom_destroy, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_mount_v2, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_mount_v1, setup_root, teardown_root),
	};

	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}

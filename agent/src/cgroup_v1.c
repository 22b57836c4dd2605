// SPDX-License-Identifier: Apache-2.0
/* cgroup v1 backend: one hierarchy per controller at root/<controller>/<path>. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>

#include "cgroup_internal.h"

/* Kernel counts cpuacct.stat in USER_HZ ticks; the fallback below converts them to ns. */
#define USER_HZ 100

static const char *dir_of(const struct cg *c, enum cg_ctrl i)
{
	return c->dirs[i];
}

static int need(const struct cg *c, enum cg_ctrl i, const char *knob, struct agent_err *reterr)
{
	if (c->dirs[i])
		return 0;
	return err_sys(reterr, -ENOTSUP, "%s: the %s controller is not mounted", knob,
	               cg_ctrl_names[i]);
}

/* ---- create / add / destroy ---- */

/* A new cpuset cgroup starts with empty cpus and mems and refuses tasks (ENOSPC); copy the
 * parent's into every level we create.  Files missing (a fake tree) are left alone. */
static int cpuset_inherit(const char *dir, void *arg, struct agent_err *reterr)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	_cleanup_free_ char *parent = strdup(dir);
	char *slash;

	if (!parent)
		return -ENOMEM;
	slash = strrchr(parent, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		_cleanup_free_ char *cur = NULL, *up = NULL;
		int r;

		if (!cg_exists(dir, files[i]))
			continue;
		r = cg_read(dir, files[i], &cur, reterr);
		if (r < 0)
			return r;
		cg_chomp(cur);
		if (*cur)
			continue;
		r = cg_read(parent, files[i], &up, reterr);
		if (r < 0)
			return r;
		cg_chomp(up);
		r = cg_write(dir, files[i], up, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_create(struct cg *c, struct agent_err *reterr)
{
	for (int i = 0; i < CGC_COUNT; i++) {
		_cleanup_free_ char *hier = NULL;
		int r;

		if (!(c->m->controllers & (1u << i)))
			continue;
		if (asprintf(&hier, "%s/%s", c->m->root, cg_ctrl_names[i]) < 0) {
			hier = NULL;
			return -ENOMEM;
		}
		if (asprintf(&c->dirs[i], "%s%s", hier, c->path) < 0) {
			c->dirs[i] = NULL;
			return -ENOMEM;
		}
		r = cg_mkdir_p(hier, c->path, i == CGC_CPUSET ? cpuset_inherit : NULL, NULL,
		               reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_add_pid(struct cg *c, pid_t pid, struct agent_err *reterr)
{
	for (int i = 0; i < CGC_COUNT; i++) {
		int r;

		if (!c->dirs[i])
			continue;
		r = cg_writef(c->dirs[i], "cgroup.procs", reterr, "%d", (int)pid);
		if (r < 0)
			return r;
	}
	return 0;
}

static int v1_destroy(struct cg *c, struct agent_err *reterr)
{
	int ret = 0;

	for (int i = 0; i < CGC_COUNT; i++) {
		int r;

		if (!c->dirs[i])
			continue;
		r = cg_rmdir_tree(c->dirs[i], reterr);
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

/* ---- apply ---- */

static int apply_memory(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	const char *d = dir_of(c, CGC_MEMORY);
	bool memsw;
	int e;

	if (!r->memory.has_limit && !r->memory.has_reservation && !r->memory.has_swap &&
	    !r->memory.has_swappiness && !r->memory.has_disable_oom_killer)
		return 0;
	e = need(c, CGC_MEMORY, "memory", reterr);
	if (e < 0)
		return e;
	/* Without swap accounting (no memsw files) there is nothing to limit swap with; the
	 * guest normally has no swap at all, so a swap value is dropped rather than failed. */
	memsw = r->memory.has_swap && cg_exists(d, "memory.memsw.limit_in_bytes");
	if (r->memory.has_limit) {
		/* The kernel keeps limit <= memsw.limit: raising both must raise memsw
		 * first, lowering both must lower the limit first.  Try the limit; on
		 * EINVAL move memsw out of the way and retry. */
		e = cg_writef(d, "memory.limit_in_bytes", reterr, "%" PRId64, r->memory.limit);
		if (e == -EINVAL && memsw) {
			e = cg_writef(d, "memory.memsw.limit_in_bytes", reterr, "%" PRId64,
			              r->memory.swap);
			if (e < 0)
				return e;
			e = cg_writef(d, "memory.limit_in_bytes", reterr, "%" PRId64,
			              r->memory.limit);
		}
		if (e < 0)
			return e;
	}
	if (memsw) {
		e = cg_writef(d, "memory.memsw.limit_in_bytes", reterr, "%" PRId64, r->memory.swap);
		if (e < 0)
			return e;
	}
	if (r->memory.has_reservation) {
		e = cg_writef(d, "memory.soft_limit_in_bytes", reterr, "%" PRId64,
		              r->memory.reservation);
		if (e < 0)
			return e;
	}
	if (r->memory.has_swappiness) {
		if (r->memory.swappiness > 100)
			return err_sys(reterr, -EINVAL, "memory swappiness %" PRIu64 " > 100",
			               r->memory.swappiness);
		e = cg_writef(d, "memory.swappiness", reterr, "%" PRIu64, r->memory.swappiness);
		if (e < 0)
			return e;
	}
	if (r->memory.has_disable_oom_killer) {
		e = cg_write(d, "memory.oom_control", r->memory.disable_oom_killer ? "1" : "0",
		             reterr);
		if (e < 0)
			return e;
	}
	return 0;
}

static int apply_cpu(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	const char *d = dir_of(c, CGC_CPU);
	int e;

	if (r->cpu.has_shares || r->cpu.has_period || r->cpu.has_quota ||
	    r->cpu.has_realtime_period || r->cpu.has_realtime_runtime) {
		e = need(c, CGC_CPU, "cpu", reterr);
		if (e < 0)
			return e;
	}
	if (r->cpu.has_shares &&
	    (e = cg_writef(d, "cpu.shares", reterr, "%" PRIu64, r->cpu.shares)) < 0)
		return e;
	if (r->cpu.has_period &&
	    (e = cg_writef(d, "cpu.cfs_period_us", reterr, "%" PRIu64, r->cpu.period)) < 0)
		return e;
	if (r->cpu.has_quota && (e = cg_writef(d, "cpu.cfs_quota_us", reterr, "%" PRId64,
	                                       r->cpu.quota > 0 ? r->cpu.quota : -1)) < 0)
		return e;
	/* rt_runtime must stay <= rt_period: the period goes first, as runc does */
	if (r->cpu.has_realtime_period &&
	    (e = cg_writef(d, "cpu.rt_period_us", reterr, "%" PRIu64, r->cpu.realtime_period)) < 0)
		return e;
	if (r->cpu.has_realtime_runtime && (e = cg_writef(d, "cpu.rt_runtime_us", reterr,
	                                                  "%" PRId64, r->cpu.realtime_runtime)) < 0)
		return e;
	if (r->cpu.cpus || r->cpu.mems) {
		e = need(c, CGC_CPUSET, "cpuset", reterr);
		if (e < 0)
			return e;
	}
	if (r->cpu.cpus &&
	    (e = cg_write(dir_of(c, CGC_CPUSET), "cpuset.cpus", r->cpu.cpus, reterr)) < 0)
		return e;
	if (r->cpu.mems &&
	    (e = cg_write(dir_of(c, CGC_CPUSET), "cpuset.mems", r->cpu.mems, reterr)) < 0)
		return e;
	return 0;
}

static bool pagesize_ok(const char *s)
{
	size_t n = strnlen(s, 16);

	if (n == 0 || n >= 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return false;
	return true;
}

static int apply_other(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	int e;

	if (r->pids.has_limit) {
		e = need(c, CGC_PIDS, "pids.max", reterr);
		if (e < 0)
			return e;
		e = r->pids.limit > 0 ? cg_writef(dir_of(c, CGC_PIDS), "pids.max", reterr,
		                                  "%" PRId64, r->pids.limit)
		                      : cg_write(dir_of(c, CGC_PIDS), "pids.max", "max", reterr);
		if (e < 0)
			return e;
	}
	for (size_t i = 0; i < r->n_hugetlb; i++) {
		char knob[64];

		if (!pagesize_ok(r->hugetlb[i].pagesize))
			return err_sys(reterr, -EINVAL, "hugetlb page size '%.16s'",
			               r->hugetlb[i].pagesize);
		snprintf(knob, sizeof(knob), "hugetlb.%s.limit_in_bytes", r->hugetlb[i].pagesize);
		e = need(c, CGC_HUGETLB, knob, reterr);
		if (e < 0)
			return e;
		e = cg_writef(dir_of(c, CGC_HUGETLB), knob, reterr, "%" PRIu64,
		              r->hugetlb[i].limit);
		if (e < 0)
			return e;
	}
	if (r->blkio.has_weight) {
		const char *d = dir_of(c, CGC_BLKIO);

		e = need(c, CGC_BLKIO, "blkio.weight", reterr);
		if (e < 0)
			return e;
		/* CFQ had blkio.weight; with BFQ the knob is blkio.bfq.weight (same scale) */
		e = cg_writef(d, cg_exists(d, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight",
		              reterr, "%u", (unsigned)r->blkio.weight);
		if (e < 0)
			return e;
	}
	return 0;
}

static int v1_apply(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	int e = apply_memory(c, r, reterr);

	if (e >= 0)
		e = apply_cpu(c, r, reterr);
	if (e >= 0)
		e = apply_other(c, r, reterr);
	return e;
}

/* ---- freezer ---- */

static int v1_frozen(void *arg, struct agent_err *reterr)
{
	const char *d = arg;
	_cleanup_free_ char *state = NULL;
	int r = cg_read(d, "freezer.state", &state, reterr);

	if (r < 0)
		return r;
	cg_chomp(state);
	if (strcmp(state, "FROZEN") == 0)
		return 1;
	/* Writing FROZEN again retries tasks that were busy when the freeze started. */
	r = cg_write(d, "freezer.state", "FROZEN", reterr);
	return r < 0 ? r : 0;
}

static int v1_freeze(struct cg *c, bool frozen, struct agent_err *reterr)
{
	const char *d = dir_of(c, CGC_FREEZER);
	int r = need(c, CGC_FREEZER, "freezer.state", reterr);

	if (r < 0)
		return r;
	if (!frozen)
		return cg_write(d, "freezer.state", "THAWED", reterr);
	r = cg_write(d, "freezer.state", "FROZEN", reterr);
	if (r < 0)
		return r;
	r = cg_wait_state(v1_frozen, (void *)d, reterr);
	if (r == -EBUSY) {
		cg_write(d, "freezer.state", "THAWED", reterr);
		return err_sys(reterr, -EBUSY, "%s/freezer.state did not reach FROZEN in %d ms", d,
		               CG_FREEZE_WAIT_MS);
	}
	return r;
}

static const char *v1_procs_dir(struct cg *c)
{
	static const enum cg_ctrl pref[] = {CGC_FREEZER, CGC_PIDS, CGC_MEMORY, CGC_CPU};

	for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		if (c->dirs[pref[i]])
			return c->dirs[pref[i]];
	for (int i = 0; i < CGC_COUNT; i++)
		if (c->dirs[i])
			return c->dirs[i];
	return NULL;
}

static int v1_kill_fast(struct cg *c, int sig, struct agent_err *reterr)
{
	return 0; /* v1 has no cgroup.kill */
}

/* ---- stats ---- */

static void opt_u64(const char *d, const char *name, uint64_t *v, struct agent_err *reterr)
{
	if (d && cg_exists(d, name) && cg_read_u64(d, name, v, reterr) < 0)
		*v = 0;
}

/* The kernel reports "unlimited" as the largest page-aligned value (PAGE_COUNTER_MAX * page
 * size); anything that high is shown as CG_UNLIMITED. */
static uint64_t v1_limit(uint64_t v)
{
	return v >= (UINT64_C(1) << 62) ? CG_UNLIMITED : v;
}

static int stats_cpu(struct cg *c, struct cg_stats *s, struct agent_err *reterr)
{
	const char *d = dir_of(c, CGC_CPUACCT);
	int r;

	if (d) {
		_cleanup_free_ char *percpu = NULL;

		opt_u64(d, "cpuacct.usage", &s->cpu.total, reterr);
		if (cg_exists(d, "cpuacct.usage_user")) {
			opt_u64(d, "cpuacct.usage_user", &s->cpu.user, reterr);
			opt_u64(d, "cpuacct.usage_sys", &s->cpu.kernel, reterr);
		} else if (cg_exists(d, "cpuacct.stat")) {
			uint64_t t = 0;

			if (cg_read_key(d, "cpuacct.stat", "user", &t, reterr) == 0)
				s->cpu.user = t * (1000000000 / USER_HZ);
			if (cg_read_key(d, "cpuacct.stat", "system", &t, reterr) == 0)
				s->cpu.kernel = t * (1000000000 / USER_HZ);
		}
		if (cg_exists(d, "cpuacct.usage_percpu") &&
		    cg_read(d, "cpuacct.usage_percpu", &percpu, reterr) == 0) {
			for (char *save = NULL, *t = strtok_r(percpu, " \n", &save); t;
			     t = strtok_r(NULL, " \n", &save)) {
				uint64_t *nv =
				    realloc(s->cpu.percpu, (s->cpu.n_percpu + 1) * sizeof(*nv));

				if (!nv)
					return -ENOMEM;
				s->cpu.percpu = nv;
				nv[s->cpu.n_percpu++] = strtoull(t, NULL, 10);
			}
		}
	}
	d = dir_of(c, CGC_CPU);
	if (d && cg_exists(d, "cpu.stat")) {
		_cleanup_free_ struct cg_kv *kv = NULL;
		_cleanup_free_ char *text = NULL;
		size_t n = 0;

		r = cg_read(d, "cpu.stat", &text, reterr);
		if (r < 0)
			return r;
		r = cg_parse_kv(text, &kv, &n);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(kv[i].key, "nr_periods") == 0)
				s->cpu.periods = kv[i].value;
			else if (strcmp(kv[i].key, "nr_throttled") == 0)
				s->cpu.throttled_periods = kv[i].value;
			else if (strcmp(kv[i].key, "throttled_time") == 0)
				s->cpu.throttled_time = kv[i].value;
			free(kv[i].key);
		}
	}
	return 0;
}

static void mem_data(const char *d, const char *prefix, struct cg_mem_data *m,
                     struct agent_err *reterr)
{
	char name[64];

	snprintf(name, sizeof(name), "%susage_in_bytes", prefix);
	opt_u64(d, name, &m->usage, reterr);
	snprintf(name, sizeof(name), "%smax_usage_in_bytes", prefix);
	opt_u64(d, name, &m->max_usage, reterr);
	snprintf(name, sizeof(name), "%sfailcnt", prefix);
	opt_u64(d, name, &m->failcnt, reterr);
	snprintf(name, sizeof(name), "%slimit_in_bytes", prefix);
	opt_u64(d, name, &m->limit, reterr);
	m->limit = v1_limit(m->limit);
}

static int stats_memory(struct cg *c, struct cg_stats *s, struct agent_err *reterr)
{
	const char *d = dir_of(c, CGC_MEMORY);
	_cleanup_free_ char *text = NULL;
	uint64_t h = 0;
	int r;

	if (!d)
		return 0;
	mem_data(d, "memory.", &s->memory.usage, reterr);
	mem_data(d, "memory.memsw.", &s->memory.swap, reterr);
	mem_data(d, "memory.kmem.", &s->memory.kernel, reterr);
	opt_u64(d, "memory.use_hierarchy", &h, reterr);
	s->memory.use_hierarchy = h == 1;
	r = cg_read(d, "memory.stat", &text, reterr);
	if (r < 0)
		return r;
	r = cg_parse_kv(text, &s->memory.stats, &s->memory.n_stats);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->memory.n_stats; i++)
		if (strcmp(s->memory.stats[i].key, "cache") == 0)
			s->memory.cache = s->memory.stats[i].value;
	return 0;
}

/* "8:0 Read 4096" lines; "Total N" lines carry no device and are skipped. */
static int parse_blkio(const char *text, struct cg_blkio_entry **v, size_t *n)
{
	for (const char *line = text; *line;) {
		unsigned long long maj, min, val;
		char op[16];
		const char *nl = strchr(line, '\n');
		int r;

		if (sscanf(line, "%llu:%llu %15s %llu", &maj, &min, op, &val) == 4) {
			r = cg_blkio_push(v, n, maj, min, op, val);
			if (r < 0)
				return r;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

static int blkio_file(const char *d, const char *what, struct cg_blkio_entry **v, size_t *n,
                      struct agent_err *reterr)
{
	/* CFQ's own counters, then BFQ's, then the throttling layer's (always present) */
	static const char *const layers[] = {"blkio.", "blkio.bfq.", "blkio.throttle."};

	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
		_cleanup_free_ char *text = NULL;
		char name[96];
		int r;

		snprintf(name, sizeof(name), "%s%s", layers[i], what);
		if (!cg_exists(d, name))
			continue;
		r = cg_read(d, name, &text, reterr);
		if (r < 0)
			return r;
		r = parse_blkio(text, v, n);
		if (r < 0 || *n > 0)
			return r;
	}
	return 0;
}

struct huge_ctx {
	const char *dir;
	struct cg_stats *s;
};

static int huge_one(const char *size, void *arg, struct agent_err *reterr)
{
	struct huge_ctx *h = arg;
	struct cg_hugetlb_stat *e;
	char name[64];
	int r = cg_hugetlb_push(&h->s->hugetlb, &h->s->n_hugetlb, size, &e);

	if (r < 0)
		return r;
	snprintf(name, sizeof(name), "hugetlb.%s.usage_in_bytes", size);
	opt_u64(h->dir, name, &e->usage, reterr);
	snprintf(name, sizeof(name), "hugetlb.%s.max_usage_in_bytes", size);
	opt_u64(h->dir, name, &e->max_usage, reterr);
	snprintf(name, sizeof(name), "hugetlb.%s.failcnt", size);
	opt_u64(h->dir, name, &e->failcnt, reterr);
	return 0;
}

static int v1_stats(struct cg *c, struct cg_stats *s, struct agent_err *reterr)
{
	const char *d;
	int r;

	r = stats_cpu(c, s, reterr);
	if (r >= 0)
		r = stats_memory(c, s, reterr);
	if (r < 0)
		return r;
	d = dir_of(c, CGC_PIDS);
	if (d) {
		opt_u64(d, "pids.current", &s->pids.current, reterr);
		opt_u64(d, "pids.max", &s->pids.limit, reterr);
	}
	d = dir_of(c, CGC_BLKIO);
	if (d) {
		r = blkio_file(d, "io_service_bytes_recursive", &s->blkio.service_bytes,
		               &s->blkio.n_service_bytes, reterr);
		if (r >= 0)
			r = blkio_file(d, "io_serviced_recursive", &s->blkio.serviced,
			               &s->blkio.n_serviced, reterr);
		if (r < 0)
			return r;
	}
	d = dir_of(c, CGC_HUGETLB);
	if (d) {
		struct huge_ctx h = {.dir = d, .s = s};

		r = cg_hugetlb_sizes(d, "limit_in_bytes", huge_one, &h, reterr);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- OOM ---- */

static int v1_oom_watch(struct cg *c, struct agent_err *reterr)
{
	const char *d = dir_of(c, CGC_MEMORY);
	_cleanup_free_ char *ctl = NULL;
	_cleanup_close_ int efd = -1, cfd = -1;
	int r = need(c, CGC_MEMORY, "memory.oom_control", reterr);

	if (r < 0)
		return r;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return err_sys(reterr, -errno, "eventfd");
	if (asprintf(&ctl, "%s/memory.oom_control", d) < 0) {
		ctl = NULL;
		return -ENOMEM;
	}
	cfd = open(ctl, O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		return err_sys(reterr, -errno, "open %s", ctl);
	/* "<event_fd> <fd of memory.oom_control>" (cgroup-v1/memory.rst, "Memory thresholds"
	 * and "OOM Control").  The kernel takes its own references during the write, so
	 * the control file can be closed afterwards; the registration lives until the
	 * eventfd is closed or the cgroup is removed (which also signals the eventfd). */
	r = cg_writef(d, "cgroup.event_control", reterr, "%d %d", efd, cfd);
	if (r < 0)
		return r;
	c->oom_fd = efd;
	efd = -1;
	return 0;
}

static int v1_oom_check(struct cg *c, struct agent_err *reterr)
{
	const char *d = dir_of(c, CGC_MEMORY);
	uint64_t count;
	ssize_t n = read(c->oom_fd, &count, sizeof(count));

	if (n < 0)
		return errno == EAGAIN ? 0 : err_sys(reterr, -errno, "read OOM eventfd of %s", d);
	if (n != sizeof(count))
		return err_sys(reterr, -EIO, "short read on OOM eventfd of %s", d);
	/* rmdir signals the eventfd too: tell that apart from an OOM */
	if (access(d, F_OK) < 0)
		return err_sys(reterr, -ENODEV, "memory cgroup %s removed", d);
	return count > 0 ? 1 : 0;
}

const struct cg_ops cg_v1_ops = {
    .create = v1_create,
    .add_pid = v1_add_pid,
    .apply = v1_apply,
    .freeze = v1_freeze,
    .procs_dir = v1_procs_dir,
    .kill_fast = v1_kill_fast,
    .stats = v1_stats,
    .oom_watch = v1_oom_watch,
    .oom_check = v1_oom_check,
    .destroy = v1_destroy,
};

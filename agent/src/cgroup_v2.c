// SPDX-License-Identifier: Apache-2.0
/* cgroup v2 backend: one unified hierarchy, the container's cgroup at root/<path>. */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "cgroup_internal.h"

/* ---- create / add / destroy ---- */

static int enable_in(const char *dir, struct agent_err *reterr)
{
	_cleanup_free_ char *avail = NULL, *enabled = NULL, *want = NULL;
	unsigned have, on;
	size_t len = 0;
	int r;

	/* A directory without the files is not a cgroup we may configure (a fake tree's
	 * fresh mkdir): nothing to enable. */
	if (!cg_exists(dir, "cgroup.controllers") || !cg_exists(dir, "cgroup.subtree_control"))
		return 0;
	r = cg_read(dir, "cgroup.controllers", &avail, reterr);
	if (r >= 0)
		r = cg_read(dir, "cgroup.subtree_control", &enabled, reterr);
	if (r < 0)
		return r;
	have = cg_parse_controllers(avail);
	on = cg_parse_controllers(enabled);
	want = calloc(1, 16 * CGC_COUNT);
	if (!want)
		return -ENOMEM;
	for (int i = 0; i < CGC_COUNT; i++) {
		if (!(have & (1u << i)) || (on & (1u << i)))
			continue;
		len += (size_t)sprintf(want + len, "%s+%s", len ? " " : "",
		                       i == CGC_BLKIO ? "io" : cg_ctrl_names[i]);
	}
	if (len == 0)
		return 0;
	/* One write enables them all or none; if one controller is refused (e.g. cpu with
	 * realtime tasks in the root), enable the others one by one and leave it off: the
	 * knobs that need it then fail with -ENOTSUP in cg_apply. */
	if (cg_write(dir, "cgroup.subtree_control", want, reterr) == 0)
		return 0;
	for (char *save = NULL, *t = strtok_r(want, " ", &save); t; t = strtok_r(NULL, " ", &save))
		cg_write(dir, "cgroup.subtree_control", t, reterr);
	return 0;
}

static int v2_create(struct cg *c, struct agent_err *reterr)
{
	_cleanup_free_ char *walk = NULL, *avail = NULL;
	int r;

	if (asprintf(&c->dir, "%s%s", c->m->root, c->path) < 0) {
		c->dir = NULL;
		return -ENOMEM;
	}
	/* Enable controllers top-down: root, then each ancestor as it is created. */
	walk = strdup(c->dir);
	if (!walk)
		return -ENOMEM;
	r = enable_in(c->m->root, reterr);
	for (char *s = walk + strlen(c->m->root) + 1; r >= 0 && *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(walk, 0755) < 0 && errno != EEXIST)
			r = err_sys(reterr, -errno, "mkdir %s", walk);
		else
			r = enable_in(walk, reterr);
		*s = '/';
	}
	if (r < 0)
		return r;
	if (mkdir(c->dir, 0755) < 0 && errno != EEXIST)
		return err_sys(reterr, -errno, "mkdir %s", c->dir);
	if (cg_exists(c->dir, "cgroup.controllers")) {
		r = cg_read(c->dir, "cgroup.controllers", &avail, reterr);
		if (r < 0)
			return r;
		c->avail = cg_parse_controllers(avail);
	}
	return 0;
}

static int v2_add_pid(struct cg *c, pid_t pid, struct agent_err *reterr)
{
	return cg_writef(c->dir, "cgroup.procs", reterr, "%d", (int)pid);
}

static int v2_destroy(struct cg *c, struct agent_err *reterr)
{
	return cg_rmdir_tree(c->dir, reterr);
}

/* ---- apply ---- */

static int need(const struct cg *c, enum cg_ctrl i, const char *knob, struct agent_err *reterr)
{
	if (c->avail & (1u << i))
		return 0;
	return err_sys(reterr, -ENOTSUP, "%s: the %s controller is not available in %s", knob,
	               i == CGC_BLKIO ? "io" : cg_ctrl_names[i], c->dir);
}

static int write_max(const char *d, const char *name, int64_t v, struct agent_err *reterr)
{
	return v < 0 ? cg_write(d, name, "max", reterr) : cg_writef(d, name, reterr, "%" PRId64, v);
}

static int apply_memory(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	int e;

	/* v2 has no swappiness and no oom-killer switch: like runc, those two are ignored. */
	if (!r->memory.has_limit && !r->memory.has_reservation && !r->memory.has_swap)
		return 0;
	e = need(c, CGC_MEMORY, "memory", reterr);
	if (e < 0)
		return e;
	if (r->memory.has_swap) {
		/* OCI swap is memory+swap (v1 memsw); memory.swap.max counts swap alone. */
		int64_t limit = r->memory.has_limit ? r->memory.limit : -1;
		uint64_t cur;

		if (!r->memory.has_limit && cg_read_u64(c->dir, "memory.max", &cur, reterr) == 0 &&
		    cur != CG_UNLIMITED)
			limit = (int64_t)cur;
		if (r->memory.swap >= 0 && limit < 0)
			return err_sys(reterr, -EINVAL,
			               "memory.swap.max: a swap limit (%" PRId64
			               ") needs a memory limit",
			               r->memory.swap);
		if (r->memory.swap >= 0 && r->memory.swap < limit)
			return err_sys(reterr, -EINVAL,
			               "memory.swap.max: memory+swap %" PRId64
			               " is below the memory limit %" PRId64,
			               r->memory.swap, limit);
		if (cg_exists(c->dir, "memory.swap.max")) {
			e = write_max(c->dir, "memory.swap.max",
			              r->memory.swap < 0 ? -1 : r->memory.swap - limit, reterr);
			if (e < 0)
				return e;
		}
	}
	if (r->memory.has_limit &&
	    (e = write_max(c->dir, "memory.max", r->memory.limit, reterr)) < 0)
		return e;
	if (r->memory.has_reservation &&
	    (e = write_max(c->dir, "memory.low", r->memory.reservation, reterr)) < 0)
		return e;
	return 0;
}

uint64_t cg_v2_cpu_weight(uint64_t shares)
{
	/* runc's mapping of v1 shares [2, 262144] onto v2 weight [1, 10000] */
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int apply_cpu(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	int e;

	if (r->cpu.has_realtime_period || r->cpu.has_realtime_runtime)
		return err_sys(reterr, -ENOTSUP,
		               "cpu realtime runtime/period: not available in "
		               "cgroup v2");
	if (r->cpu.has_shares || r->cpu.has_quota || r->cpu.has_period) {
		e = need(c, CGC_CPU, "cpu", reterr);
		if (e < 0)
			return e;
	}
	if (r->cpu.has_shares && (e = cg_writef(c->dir, "cpu.weight", reterr, "%" PRIu64,
	                                        cg_v2_cpu_weight(r->cpu.shares))) < 0)
		return e;
	if (r->cpu.has_quota || r->cpu.has_period) {
		/* cpu.max holds both: keep the half that is not being changed */
		char quota[24] = "max";
		uint64_t period = 100000;
		_cleanup_free_ char *cur = NULL;

		if (cg_read(c->dir, "cpu.max", &cur, reterr) == 0) {
			unsigned long long p;

			if (sscanf(cur, "%23s %llu", quota, &p) == 2)
				period = p;
		}
		if (r->cpu.has_quota) {
			if (r->cpu.quota > 0)
				snprintf(quota, sizeof(quota), "%" PRId64, r->cpu.quota);
			else
				strcpy(quota, "max");
		}
		if (r->cpu.has_period && r->cpu.period > 0)
			period = r->cpu.period;
		e = cg_writef(c->dir, "cpu.max", reterr, "%s %" PRIu64, quota, period);
		if (e < 0)
			return e;
	}
	if (r->cpu.cpus || r->cpu.mems) {
		e = need(c, CGC_CPUSET, "cpuset", reterr);
		if (e < 0)
			return e;
	}
	if (r->cpu.cpus && (e = cg_write(c->dir, "cpuset.cpus", r->cpu.cpus, reterr)) < 0)
		return e;
	if (r->cpu.mems && (e = cg_write(c->dir, "cpuset.mems", r->cpu.mems, reterr)) < 0)
		return e;
	return 0;
}

static int apply_other(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	int e;

	if (r->pids.has_limit) {
		e = need(c, CGC_PIDS, "pids.max", reterr);
		if (e >= 0)
			e = write_max(c->dir, "pids.max", r->pids.limit > 0 ? r->pids.limit : -1,
			              reterr);
		if (e < 0)
			return e;
	}
	for (size_t i = 0; i < r->n_hugetlb; i++) {
		const char *ps = r->hugetlb[i].pagesize;
		char knob[64];
		size_t n = strnlen(ps, sizeof(r->hugetlb[i].pagesize));

		if (n == 0 || n >= sizeof(r->hugetlb[i].pagesize) ||
		    strspn(ps, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
		        n)
			return err_sys(reterr, -EINVAL, "hugetlb page size '%.16s'", ps);
		snprintf(knob, sizeof(knob), "hugetlb.%s.max", ps);
		e = need(c, CGC_HUGETLB, knob, reterr);
		if (e >= 0)
			e = cg_writef(c->dir, knob, reterr, "%" PRIu64, r->hugetlb[i].limit);
		if (e < 0)
			return e;
	}
	if (r->blkio.has_weight) {
		e = need(c, CGC_BLKIO, "io.weight", reterr);
		if (e < 0)
			return e;
		/* BFQ takes the v1 scale as is; io.weight is [1, 10000] (runc's mapping) */
		if (cg_exists(c->dir, "io.bfq.weight"))
			e = cg_writef(c->dir, "io.bfq.weight", reterr, "%u",
			              (unsigned)r->blkio.weight);
		else
			e = cg_writef(c->dir, "io.weight", reterr, "%u",
			              r->blkio.weight < 10
			                  ? 1u
			                  : 1u + ((unsigned)r->blkio.weight - 10) * 9999 / 990);
		if (e < 0)
			return e;
	}
	return 0;
}

static int v2_apply(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	int e = apply_memory(c, r, reterr);

	if (e >= 0)
		e = apply_cpu(c, r, reterr);
	if (e >= 0)
		e = apply_other(c, r, reterr);
	return e;
}

/* ---- freezer, kill ---- */

static int v2_frozen(void *arg, struct agent_err *reterr)
{
	uint64_t v = 0;
	int r = cg_read_key(arg, "cgroup.events", "frozen", &v, reterr);

	return r < 0 ? r : v == 1;
}

static int v2_freeze(struct cg *c, bool frozen, struct agent_err *reterr)
{
	int r;

	if (!cg_exists(c->dir, "cgroup.freeze"))
		return err_sys(reterr, -ENOTSUP, "%s/cgroup.freeze: no v2 freezer (kernel < 5.2)",
		               c->dir);
	r = cg_write(c->dir, "cgroup.freeze", frozen ? "1" : "0", reterr);
	if (r < 0 || !frozen)
		return r;
	r = cg_wait_state(v2_frozen, c->dir, reterr);
	if (r == -EBUSY) {
		cg_write(c->dir, "cgroup.freeze", "0", reterr);
		return err_sys(reterr, -EBUSY, "%s/cgroup.events did not report frozen in %d ms",
		               c->dir, CG_FREEZE_WAIT_MS);
	}
	return r;
}

static const char *v2_procs_dir(struct cg *c)
{
	return c->dir;
}

static int v2_kill_fast(struct cg *c, int sig, struct agent_err *reterr)
{
	int r;

	/* cgroup.kill (5.14+) SIGKILLs the whole subtree atomically, forks included */
	if (sig != SIGKILL || !cg_exists(c->dir, "cgroup.kill"))
		return 0;
	r = cg_write(c->dir, "cgroup.kill", "1", reterr);
	return r < 0 ? r : 1;
}

/* ---- stats ---- */

static void opt_u64(const char *d, const char *name, uint64_t *v, struct agent_err *reterr)
{
	if (cg_exists(d, name) && cg_read_u64(d, name, v, reterr) < 0)
		*v = 0;
}

static void opt_key(const char *d, const char *name, const char *key, uint64_t *v,
                    struct agent_err *reterr)
{
	if (cg_exists(d, name) && cg_read_key(d, name, key, v, reterr) < 0)
		*v = 0;
}

static int stats_cpu(struct cg *c, struct cg_stats *s, struct agent_err *reterr)
{
	_cleanup_free_ struct cg_kv *kv = NULL;
	_cleanup_free_ char *text = NULL;
	size_t n = 0;
	int r;

	/* cpu.stat exists without the cpu controller too (usage only) */
	if (!cg_exists(c->dir, "cpu.stat"))
		return 0;
	r = cg_read(c->dir, "cpu.stat", &text, reterr);
	if (r >= 0)
		r = cg_parse_kv(text, &kv, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		static const struct {
			const char *key;
			size_t off;
			uint64_t mul;
		} map[] = {
		    {"usage_usec", offsetof(struct cg_stats, cpu.total), 1000},
		    {"user_usec", offsetof(struct cg_stats, cpu.user), 1000},
		    {"system_usec", offsetof(struct cg_stats, cpu.kernel), 1000},
		    {"nr_periods", offsetof(struct cg_stats, cpu.periods), 1},
		    {"nr_throttled", offsetof(struct cg_stats, cpu.throttled_periods), 1},
		    {"throttled_usec", offsetof(struct cg_stats, cpu.throttled_time), 1000},
		};
		for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++)
			if (strcmp(kv[i].key, map[j].key) == 0)
				*(uint64_t *)((char *)s + map[j].off) = kv[i].value * map[j].mul;
		free(kv[i].key);
	}
	return 0;
}

static int stats_memory(struct cg *c, struct cg_stats *s, struct agent_err *reterr)
{
	const char *d = c->dir;
	_cleanup_free_ char *text = NULL;
	uint64_t swap = 0, swap_max = 0;
	int r;

	if (!cg_exists(d, "memory.current"))
		return 0;
	s->memory.use_hierarchy = true; /* always, in v2 */
	opt_u64(d, "memory.current", &s->memory.usage.usage, reterr);
	opt_u64(d, "memory.peak", &s->memory.usage.max_usage, reterr);
	opt_u64(d, "memory.max", &s->memory.usage.limit, reterr);
	opt_key(d, "memory.events", "max", &s->memory.usage.failcnt, reterr);
	if (cg_exists(d, "memory.swap.current")) {
		opt_u64(d, "memory.swap.current", &swap, reterr);
		opt_u64(d, "memory.swap.max", &swap_max, reterr);
		opt_key(d, "memory.swap.events", "max", &s->memory.swap.failcnt, reterr);
		/* report memory+swap, as v1's memsw */
		s->memory.swap.usage = swap + s->memory.usage.usage;
		s->memory.swap.limit =
		    swap_max == CG_UNLIMITED || s->memory.usage.limit == CG_UNLIMITED
		        ? CG_UNLIMITED
		        : swap_max + s->memory.usage.limit;
	}
	r = cg_read(d, "memory.stat", &text, reterr);
	if (r >= 0)
		r = cg_parse_kv(text, &s->memory.stats, &s->memory.n_stats);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->memory.n_stats; i++) {
		const struct cg_kv *kv = &s->memory.stats[i];

		if (strcmp(kv->key, "file") == 0)
			s->memory.cache = kv->value;
		else if (strcmp(kv->key, "kernel") == 0)
			s->memory.kernel.usage = kv->value;
	}
	return 0;
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6" per device */
static int stats_io(struct cg *c, struct cg_stats *s, struct agent_err *reterr)
{
	static const struct {
		const char *key, *op;
		bool bytes;
	} map[] = {
	    {"rbytes", "Read", true}, {"wbytes", "Write", true}, {"dbytes", "Discard", true},
	    {"rios", "Read", false},  {"wios", "Write", false},  {"dios", "Discard", false},
	};
	_cleanup_free_ char *text = NULL;
	int r;

	if (!cg_exists(c->dir, "io.stat"))
		return 0;
	r = cg_read(c->dir, "io.stat", &text, reterr);
	if (r < 0)
		return r;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long maj, min;
		int off = 0;

		if (sscanf(line, "%llu:%llu%n", &maj, &min, &off) != 2)
			continue;
		for (char *s2 = NULL, *t = strtok_r(line + off, " ", &s2); t;
		     t = strtok_r(NULL, " ", &s2)) {
			char *eq = strchr(t, '=');

			if (!eq)
				continue;
			*eq = '\0';
			for (size_t j = 0; j < sizeof(map) / sizeof(map[0]); j++) {
				if (strcmp(t, map[j].key) != 0)
					continue;
				r = map[j].bytes
				        ? cg_blkio_push(&s->blkio.service_bytes,
				                        &s->blkio.n_service_bytes, maj, min,
				                        map[j].op, strtoull(eq + 1, NULL, 10))
				        : cg_blkio_push(&s->blkio.serviced, &s->blkio.n_serviced,
				                        maj, min, map[j].op,
				                        strtoull(eq + 1, NULL, 10));
				if (r < 0)
					return r;
			}
		}
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
	snprintf(name, sizeof(name), "hugetlb.%s.current", size);
	opt_u64(h->dir, name, &e->usage, reterr);
	/* v2 keeps no high-water mark for hugetlb: max_usage stays 0 */
	snprintf(name, sizeof(name), "hugetlb.%s.events", size);
	opt_key(h->dir, name, "max", &e->failcnt, reterr);
	return 0;
}

static int v2_stats(struct cg *c, struct cg_stats *s, struct agent_err *reterr)
{
	int r = stats_cpu(c, s, reterr);

	if (r >= 0)
		r = stats_memory(c, s, reterr);
	if (r >= 0)
		r = stats_io(c, s, reterr);
	if (r < 0)
		return r;
	if (cg_exists(c->dir, "pids.current")) {
		opt_u64(c->dir, "pids.current", &s->pids.current, reterr);
		opt_u64(c->dir, "pids.max", &s->pids.limit, reterr);
	}
	if (c->avail & (1u << CGC_HUGETLB)) {
		struct huge_ctx h = {.dir = c->dir, .s = s};

		r = cg_hugetlb_sizes(c->dir, "max", huge_one, &h, reterr);
	}
	return r < 0 ? r : 0;
}

/* ---- OOM ---- */

static int v2_oom_watch(struct cg *c, struct agent_err *reterr)
{
	_cleanup_free_ char *events = NULL;
	_cleanup_close_ int fd = -1;
	uint64_t kills = 0;
	int r;

	if (!cg_exists(c->dir, "memory.events"))
		return need(c, CGC_MEMORY, "memory.events", reterr) < 0
		           ? -ENOTSUP
		           : err_sys(reterr, -ENOENT, "%s/memory.events missing", c->dir);
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return err_sys(reterr, -errno, "inotify_init1");
	if (asprintf(&events, "%s/memory.events", c->dir) < 0) {
		events = NULL;
		return -ENOMEM;
	}
	/* cgroup-v2.rst: "a value change in this file generates a file modified event" */
	if (inotify_add_watch(fd, events, IN_MODIFY) < 0)
		return err_sys(reterr, -errno, "inotify_add_watch %s", events);
	/* Count from now: earlier kills were reported (or not) before this watch. */
	r = cg_read_key(c->dir, "memory.events", "oom_kill", &kills, reterr);
	if (r < 0 && r != -ENOENT)
		return r;
	c->oom_kills = kills;
	c->oom_fd = fd;
	fd = -1;
	return 0;
}

static int v2_oom_check(struct cg *c, struct agent_err *reterr)
{
	/* Room for a few events; IN_MODIFY events carry no name. */
	char buf[16 * sizeof(struct inotify_event)]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	bool gone = false;
	uint64_t kills = 0;
	int r;

	for (;;) {
		ssize_t n = read(c->oom_fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			return err_sys(reterr, -errno, "read inotify for %s", c->dir);
		}
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF))
				gone = true;
			off += (ssize_t)(sizeof(*ev) + ev->len);
		}
	}
	r = cg_read_key(c->dir, "memory.events", "oom_kill", &kills, reterr);
	if (r < 0)
		return gone || r == -ENOENT
		           ? err_sys(reterr, -ENODEV, "memory cgroup %s removed", c->dir)
		           : r;
	if (kills > c->oom_kills) {
		c->oom_kills = kills;
		return 1;
	}
	return 0;
}

const struct cg_ops cg_v2_ops = {
    .create = v2_create,
    .add_pid = v2_add_pid,
    .apply = v2_apply,
    .freeze = v2_freeze,
    .procs_dir = v2_procs_dir,
    .kill_fast = v2_kill_fast,
    .stats = v2_stats,
    .oom_watch = v2_oom_watch,
    .oom_check = v2_oom_check,
    .destroy = v2_destroy,
};

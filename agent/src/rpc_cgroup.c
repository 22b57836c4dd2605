// SPDX-License-Identifier: Apache-2.0
/* Resource RPCs on a container's cgroup: UpdateContainer, StatsContainer, Pause/Resume
 * (docs/PROTOCOL.md §2.4 #7, #9-11), and the OCI LinuxResources -> cg_resources mapping used at
 * create. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "rpc.h"
#include "sandbox.h"

#define MAX_HUGETLB 8

int rpc_apply_resources(struct cg *cg, const Grpc__LinuxResources *lr, struct agent_err *reterr)
{
	struct cg_resources r = {0};
	struct cg_hugetlb_limit hl[MAX_HUGETLB];
	/* proto3 cannot tell zero from unset: zero means "not given" for every knob. */
	if (lr->memory) {
		const Grpc__LinuxMemory *m = lr->memory;
		r.memory.has_limit = m->limit != 0;
		r.memory.limit = m->limit;
		r.memory.has_reservation = m->reservation != 0;
		r.memory.reservation = m->reservation;
		r.memory.has_swap = m->swap != 0;
		r.memory.swap = m->swap;
		r.memory.has_swappiness = m->swappiness != 0 && m->swappiness <= 100;
		r.memory.swappiness = m->swappiness;
		r.memory.has_disable_oom_killer = m->disableoomkiller;
		r.memory.disable_oom_killer = m->disableoomkiller;
	}
	if (lr->cpu) {
		const Grpc__LinuxCPU *c = lr->cpu;
		r.cpu.has_shares = c->shares != 0;
		r.cpu.shares = c->shares;
		r.cpu.has_quota = c->quota != 0;
		r.cpu.quota = c->quota;
		r.cpu.has_period = c->period != 0;
		r.cpu.period = c->period;
		r.cpu.has_realtime_runtime = c->realtimeruntime != 0;
		r.cpu.realtime_runtime = c->realtimeruntime;
		r.cpu.has_realtime_period = c->realtimeperiod != 0;
		r.cpu.realtime_period = c->realtimeperiod;
		r.cpu.cpus = c->cpus && *c->cpus ? c->cpus : NULL;
		r.cpu.mems = c->mems && *c->mems ? c->mems : NULL;
	}
	if (lr->pids && lr->pids->limit != 0) {
		r.pids.has_limit = true;
		r.pids.limit = lr->pids->limit;
	}
	if (lr->blockio && lr->blockio->weight != 0) {
		r.blkio.has_weight = true;
		r.blkio.weight = (uint16_t)lr->blockio->weight;
	}
	size_t n = 0;
	for (size_t i = 0; i < lr->n_hugepagelimits && n < MAX_HUGETLB; i++) {
		const Grpc__LinuxHugepageLimit *h = lr->hugepagelimits[i];
		if (!h->pagesize || strlen(h->pagesize) >= sizeof(hl[n].pagesize))
			return err_msg(reterr, -EINVAL, "hugepage limit with an invalid page size");
		snprintf(hl[n].pagesize, sizeof(hl[n].pagesize), "%s", h->pagesize);
		hl[n].limit = h->limit;
		n++;
	}
	r.hugetlb = hl;
	r.n_hugetlb = n;
	int rc = cg_apply(cg, &r, reterr);
	return rc < 0 ? err_wrap(reterr, rc, "applying resources") : rc;
}

static struct ctr_rec *lookup(struct ttrpc_call *call, const char *id)
{
	struct ctr_rec *c = ctr_find(id);
	if (!c)
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "invalid container id %s", id);
	else if (!c->cg) {
		ttrpc_fail(call, TTRPC_FAILED_PRECONDITION,
		           "container %s has no cgroup (no cgroups in this guest)", id);
		c = NULL;
	}
	return c;
}

void rpc_update_container(struct ttrpc_call *call, const void *msg)
{
	const Grpc__UpdateContainerRequest *req = msg;
	struct ctr_rec *c = lookup(call, req->container_id);
	if (!c)
		return;
	if (!req->resources) {
		ttrpc_reply(call, NULL);
		return;
	}
	struct agent_err err = {0};
	int r = rpc_apply_resources(c->cg, req->resources, &err);
	if (r < 0)
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
	else
		ttrpc_reply(call, NULL);
}

static void pause_resume(struct ttrpc_call *call, const char *id, bool freeze)
{
	struct ctr_rec *c = lookup(call, id);
	if (!c)
		return;
	struct agent_err err = {0};
	int r = cg_freeze(c->cg, freeze, &err);
	if (r < 0) {
		err_wrap(&err, r, "%s %s", freeze ? "pausing" : "resuming", id);
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
	} else
		ttrpc_reply(call, NULL);
}

void rpc_pause_container(struct ttrpc_call *call, const void *msg)
{
	pause_resume(call, ((const Grpc__PauseContainerRequest *)msg)->container_id, true);
}

void rpc_resume_container(struct ttrpc_call *call, const void *msg)
{
	pause_resume(call, ((const Grpc__ResumeContainerRequest *)msg)->container_id, false);
}

static void mem_data(Grpc__MemoryData *d, const struct cg_mem_data *s)
{
	d->usage = s->usage;
	d->max_usage = s->max_usage;
	d->failcnt = s->failcnt;
	d->limit = s->limit;
}

static Grpc__BlkioStatsEntry **blkio(const struct cg_blkio_entry *e, size_t n,
                                     Grpc__BlkioStatsEntry *store)
{
	Grpc__BlkioStatsEntry **v = calloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++) {
		grpc__blkio_stats_entry__init(&store[i]);
		store[i].major = e[i].major;
		store[i].minor = e[i].minor;
		store[i].op = (char *)e[i].op;
		store[i].value = e[i].value;
		v[i] = &store[i];
	}
	return v;
}

void rpc_stats_container(struct ttrpc_call *call, const void *msg)
{
	const Grpc__StatsContainerRequest *req = msg;
	struct ctr_rec *c = lookup(call, req->container_id);
	if (!c)
		return;
	struct cg_stats s;
	struct agent_err err = {0};
	int r = cg_stats(c->cg, &s, &err);
	if (r < 0) {
		err_wrap(&err, r, "stats of %s", c->id);
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
		return;
	}
	Grpc__CpuUsage cu = GRPC__CPU_USAGE__INIT;
	cu.total_usage = s.cpu.total;
	cu.usage_in_usermode = s.cpu.user;
	cu.usage_in_kernelmode = s.cpu.kernel;
	cu.percpu_usage = s.cpu.percpu;
	cu.n_percpu_usage = s.cpu.n_percpu;
	Grpc__ThrottlingData td = GRPC__THROTTLING_DATA__INIT;
	td.periods = s.cpu.periods;
	td.throttled_periods = s.cpu.throttled_periods;
	td.throttled_time = s.cpu.throttled_time;
	Grpc__CpuStats cs = GRPC__CPU_STATS__INIT;
	cs.cpu_usage = &cu;
	cs.throttling_data = &td;

	Grpc__MemoryData mu = GRPC__MEMORY_DATA__INIT, ms = GRPC__MEMORY_DATA__INIT,
	                 mk = GRPC__MEMORY_DATA__INIT;
	mem_data(&mu, &s.memory.usage);
	mem_data(&ms, &s.memory.swap);
	mem_data(&mk, &s.memory.kernel);
	Grpc__MemoryStats mstat = GRPC__MEMORY_STATS__INIT;
	mstat.cache = s.memory.cache;
	mstat.usage = &mu;
	mstat.swap_usage = &ms;
	mstat.kernel_usage = &mk;
	mstat.use_hierarchy = s.memory.use_hierarchy;
	Grpc__MemoryStats__StatsEntry *kv = calloc(s.memory.n_stats + 1, sizeof(*kv));
	Grpc__MemoryStats__StatsEntry **kvp = calloc(s.memory.n_stats + 1, sizeof(*kvp));
	for (size_t i = 0; kv && kvp && i < s.memory.n_stats; i++) {
		grpc__memory_stats__stats_entry__init(&kv[i]);
		kv[i].key = s.memory.stats[i].key;
		kv[i].value = s.memory.stats[i].value;
		kvp[i] = &kv[i];
	}
	mstat.stats = kvp;
	mstat.n_stats = kv && kvp ? s.memory.n_stats : 0;

	Grpc__PidsStats ps = GRPC__PIDS_STATS__INIT;
	ps.current = s.pids.current;
	ps.limit = s.pids.limit;

	Grpc__BlkioStatsEntry *b1 = calloc(s.blkio.n_service_bytes + 1, sizeof(*b1));
	Grpc__BlkioStatsEntry *b2 = calloc(s.blkio.n_serviced + 1, sizeof(*b2));
	Grpc__BlkioStats bs = GRPC__BLKIO_STATS__INIT;
	if (b1 && b2) {
		bs.io_service_bytes_recursive =
		    blkio(s.blkio.service_bytes, s.blkio.n_service_bytes, b1);
		bs.n_io_service_bytes_recursive =
		    bs.io_service_bytes_recursive ? s.blkio.n_service_bytes : 0;
		bs.io_serviced_recursive = blkio(s.blkio.serviced, s.blkio.n_serviced, b2);
		bs.n_io_serviced_recursive = bs.io_serviced_recursive ? s.blkio.n_serviced : 0;
	}

	Grpc__HugetlbStats *hs = calloc(s.n_hugetlb + 1, sizeof(*hs));
	Grpc__CgroupStats__HugetlbStatsEntry *he = calloc(s.n_hugetlb + 1, sizeof(*he));
	Grpc__CgroupStats__HugetlbStatsEntry **hep = calloc(s.n_hugetlb + 1, sizeof(*hep));
	Grpc__CgroupStats cg = GRPC__CGROUP_STATS__INIT;
	for (size_t i = 0; hs && he && hep && i < s.n_hugetlb; i++) {
		grpc__hugetlb_stats__init(&hs[i]);
		hs[i].usage = s.hugetlb[i].usage;
		hs[i].max_usage = s.hugetlb[i].max_usage;
		hs[i].failcnt = s.hugetlb[i].failcnt;
		grpc__cgroup_stats__hugetlb_stats_entry__init(&he[i]);
		he[i].key = s.hugetlb[i].pagesize;
		he[i].value = &hs[i];
		hep[i] = &he[i];
		cg.n_hugetlb_stats = i + 1;
	}
	cg.hugetlb_stats = hep;
	cg.cpu_stats = &cs;
	cg.memory_stats = &mstat;
	cg.pids_stats = &ps;
	cg.blkio_stats = &bs;
	Grpc__StatsContainerResponse resp = GRPC__STATS_CONTAINER_RESPONSE__INIT;
	resp.cgroup_stats = &cg;
	ttrpc_reply(call, &resp.base);

	free(kv), free(kvp), free(b1), free(b2), free(hs), free(he), free(hep);
	free(bs.io_service_bytes_recursive);
	free(bs.io_serviced_recursive);
	cg_stats_clear(&s);
}

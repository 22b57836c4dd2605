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
	if (rc < 0)
		return err_wrap(reterr, rc, "applying resources");
	return rpc_apply_extra(cg, lr, reterr);
}

static struct sandbox_ctr *lookup(struct ttrpc_call *call, const char *id)
{
	struct sandbox_ctr *c = sandbox_ctr_find(id);
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
	struct sandbox_ctr *c = lookup(call, req->container_id);
	if (!c)
		return;
	if (!req->resources) {
		ttrpc_reply(call, NULL);
		return;
	}
	struct agent_err err = {0};
	int r = rpc_apply_resources(c->cg, req->resources, &err);
	if (r >= 0)
		r = rpc_devices_update(c->cg, req->resources, &err);
	if (r < 0)
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
	else
		ttrpc_reply(call, NULL);
}

static void pause_resume(struct ttrpc_call *call, const char *id, bool freeze)
{
	struct sandbox_ctr *c = lookup(call, id);
	if (!c)
		return;
	struct agent_err err = {0};
	int r = cg_freeze(c->cg, freeze, &err);
	if (r < 0) {
		err_wrap(&err, r, "%s %s", freeze ? "pausing" : "resuming", id);
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
		return;
	}
	c->paused = freeze;
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

/* A StatsContainerResponse and the storage its pointers refer to, built in place. */
struct stats_msg {
	Grpc__CpuUsage cu;
	Grpc__ThrottlingData td;
	Grpc__CpuStats cs;
	Grpc__MemoryData mu, ms, mk;
	Grpc__MemoryStats mstat;
	Grpc__MemoryStats__StatsEntry *kv, **kvp;
	Grpc__PidsStats ps;
	Grpc__BlkioStatsEntry *b1, *b2;
	Grpc__BlkioStats bs;
	Grpc__HugetlbStats *hs;
	Grpc__CgroupStats__HugetlbStatsEntry *he, **hep;
	Grpc__CgroupStats cg;
	Grpc__StatsContainerResponse resp;
};

static void stats_cpu(struct stats_msg *m, const struct cg_stats *s)
{
	grpc__cpu_usage__init(&m->cu);
	m->cu.total_usage = s->cpu.total;
	m->cu.usage_in_usermode = s->cpu.user;
	m->cu.usage_in_kernelmode = s->cpu.kernel;
	m->cu.percpu_usage = s->cpu.percpu;
	m->cu.n_percpu_usage = s->cpu.n_percpu;
	grpc__throttling_data__init(&m->td);
	m->td.periods = s->cpu.periods;
	m->td.throttled_periods = s->cpu.throttled_periods;
	m->td.throttled_time = s->cpu.throttled_time;
	grpc__cpu_stats__init(&m->cs);
	m->cs.cpu_usage = &m->cu;
	m->cs.throttling_data = &m->td;
}

/* memory.stat's entries are left out (not failed) when their arrays cannot be allocated. */
static void stats_memory(struct stats_msg *m, const struct cg_stats *s)
{
	grpc__memory_data__init(&m->mu);
	grpc__memory_data__init(&m->ms);
	grpc__memory_data__init(&m->mk);
	mem_data(&m->mu, &s->memory.usage);
	mem_data(&m->ms, &s->memory.swap);
	mem_data(&m->mk, &s->memory.kernel);
	Grpc__MemoryStats *ms = &m->mstat;
	grpc__memory_stats__init(ms);
	ms->cache = s->memory.cache;
	ms->usage = &m->mu;
	ms->swap_usage = &m->ms;
	ms->kernel_usage = &m->mk;
	ms->use_hierarchy = s->memory.use_hierarchy;
	m->kv = calloc(s->memory.n_stats + 1, sizeof(*m->kv));
	m->kvp = calloc(s->memory.n_stats + 1, sizeof(*m->kvp));
	for (size_t i = 0; m->kv && m->kvp && i < s->memory.n_stats; i++) {
		grpc__memory_stats__stats_entry__init(&m->kv[i]);
		m->kv[i].key = s->memory.stats[i].key;
		m->kv[i].value = s->memory.stats[i].value;
		m->kvp[i] = &m->kv[i];
	}
	ms->stats = m->kvp;
	ms->n_stats = m->kv && m->kvp ? s->memory.n_stats : 0;
}

static void stats_blkio(struct stats_msg *m, const struct cg_stats *s)
{
	Grpc__BlkioStats *bs = &m->bs;
	grpc__blkio_stats__init(bs);
	m->b1 = calloc(s->blkio.n_service_bytes + 1, sizeof(*m->b1));
	m->b2 = calloc(s->blkio.n_serviced + 1, sizeof(*m->b2));
	if (!m->b1 || !m->b2)
		return;
	bs->io_service_bytes_recursive =
	    blkio(s->blkio.service_bytes, s->blkio.n_service_bytes, m->b1);
	bs->n_io_service_bytes_recursive =
	    bs->io_service_bytes_recursive ? s->blkio.n_service_bytes : 0;
	bs->io_serviced_recursive = blkio(s->blkio.serviced, s->blkio.n_serviced, m->b2);
	bs->n_io_serviced_recursive = bs->io_serviced_recursive ? s->blkio.n_serviced : 0;
}

static void stats_hugetlb(struct stats_msg *m, const struct cg_stats *s)
{
	m->hs = calloc(s->n_hugetlb + 1, sizeof(*m->hs));
	m->he = calloc(s->n_hugetlb + 1, sizeof(*m->he));
	m->hep = calloc(s->n_hugetlb + 1, sizeof(*m->hep));
	for (size_t i = 0; m->hs && m->he && m->hep && i < s->n_hugetlb; i++) {
		grpc__hugetlb_stats__init(&m->hs[i]);
		m->hs[i].usage = s->hugetlb[i].usage;
		m->hs[i].max_usage = s->hugetlb[i].max_usage;
		m->hs[i].failcnt = s->hugetlb[i].failcnt;
		grpc__cgroup_stats__hugetlb_stats_entry__init(&m->he[i]);
		m->he[i].key = s->hugetlb[i].pagesize;
		m->he[i].value = &m->hs[i];
		m->hep[i] = &m->he[i];
		m->cg.n_hugetlb_stats = i + 1;
	}
	m->cg.hugetlb_stats = m->hep;
}

/* The response for s; its strings and arrays still point into s. */
static void stats_build(struct stats_msg *m, const struct cg_stats *s)
{
	grpc__cgroup_stats__init(&m->cg);
	stats_cpu(m, s);
	stats_memory(m, s);
	grpc__pids_stats__init(&m->ps);
	m->ps.current = s->pids.current;
	m->ps.limit = s->pids.limit;
	stats_blkio(m, s);
	stats_hugetlb(m, s);
	m->cg.cpu_stats = &m->cs;
	m->cg.memory_stats = &m->mstat;
	m->cg.pids_stats = &m->ps;
	m->cg.blkio_stats = &m->bs;
	grpc__stats_container_response__init(&m->resp);
	m->resp.cgroup_stats = &m->cg;
}

static void stats_free(struct stats_msg *m)
{
	free(m->kv), free(m->kvp), free(m->b1), free(m->b2), free(m->hs), free(m->he), free(m->hep);
	free(m->bs.io_service_bytes_recursive);
	free(m->bs.io_serviced_recursive);
}

void rpc_stats_container(struct ttrpc_call *call, const void *msg)
{
	const Grpc__StatsContainerRequest *req = msg;
	struct sandbox_ctr *c = lookup(call, req->container_id);
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
	struct stats_msg m = {0};
	stats_build(&m, &s);
	ttrpc_reply(call, &m.resp.base);
	stats_free(&m);
	cg_stats_clear(&s);
}

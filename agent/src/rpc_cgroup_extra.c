// SPDX-License-Identifier: Apache-2.0
/* OCI LinuxResources beyond cg_resources (blockIO device rules and leaf weight, kernelTCP,
 * Network) onto a container's cgroup, at CreateContainer and UpdateContainer
 * (cgroup_extra.h has the mapping). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "cgroup_extra.h"
#include "log.h"
#include "rpc.h"

/* Per list: more rules than any guest has block devices or interfaces. */
#define MAX_RULES 256

struct extra_bufs {
	struct cg_weight_device *wd;
	struct cg_throttle_device *td[CG_THR_N];
	struct cg_net_prio *prio;
};

static void bufs_free(struct extra_bufs *b)
{
	free(b->wd);
	for (int i = 0; i < CG_THR_N; i++)
		free(b->td[i]);
	free(b->prio);
}

static int throttle(Grpc__LinuxThrottleDevice *const *v, size_t n, struct cg_throttle_device **ret)
{
	struct cg_throttle_device *out;

	if (n == 0)
		return 0;
	out = calloc(n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		out[i] = (struct cg_throttle_device){v[i]->major, v[i]->minor, v[i]->rate};
	*ret = out;
	return 0;
}

static int blockio(const Grpc__LinuxBlockIO *b, struct cg_resources_extra *x,
                   struct extra_bufs *bufs)
{
	Grpc__LinuxThrottleDevice *const *lists[CG_THR_N] = {
	    b->throttlereadbpsdevice, b->throttlewritebpsdevice, b->throttlereadiopsdevice,
	    b->throttlewriteiopsdevice};
	const size_t counts[CG_THR_N] = {b->n_throttlereadbpsdevice, b->n_throttlewritebpsdevice,
	                                 b->n_throttlereadiopsdevice, b->n_throttlewriteiopsdevice};
	int r;

	x->has_leaf_weight = b->leafweight != 0;
	x->leaf_weight = (uint16_t)(b->leafweight > 1000 ? 1000 : b->leafweight);
	if (b->n_weightdevice > MAX_RULES)
		return -E2BIG;
	if (b->n_weightdevice) {
		bufs->wd = calloc(b->n_weightdevice, sizeof(*bufs->wd));
		if (!bufs->wd)
			return -ENOMEM;
		for (size_t i = 0; i < b->n_weightdevice; i++) {
			const Grpc__LinuxWeightDevice *w = b->weightdevice[i];

			/* the kernel refuses values outside [10, 1000]: let it say so */
			bufs->wd[i] = (struct cg_weight_device){
			    w->major, w->minor, (uint16_t)(w->weight > 0xffff ? 0xffff : w->weight),
			    (uint16_t)(w->leafweight > 0xffff ? 0xffff : w->leafweight)};
		}
		x->weight_device = bufs->wd;
		x->n_weight_device = b->n_weightdevice;
	}
	for (int t = 0; t < CG_THR_N; t++) {
		if (counts[t] > MAX_RULES)
			return -E2BIG;
		r = throttle(lists[t], counts[t], &bufs->td[t]);
		if (r < 0)
			return r;
		x->throttle[t] = bufs->td[t];
		x->n_throttle[t] = counts[t];
	}
	return 0;
}

static int network(const Grpc__LinuxNetwork *nw, struct cg_resources_extra *x,
                   struct extra_bufs *bufs, struct agent_err *reterr)
{
	x->has_classid = nw->classid != 0;
	x->classid = nw->classid;
	if (nw->n_priorities > MAX_RULES)
		return -E2BIG;
	if (nw->n_priorities == 0)
		return 0;
	bufs->prio = calloc(nw->n_priorities, sizeof(*bufs->prio));
	if (!bufs->prio)
		return -ENOMEM;
	for (size_t i = 0; i < nw->n_priorities; i++) {
		const Grpc__LinuxInterfacePriority *p = nw->priorities[i];

		if (!p->name || strlen(p->name) >= sizeof(bufs->prio[i].ifname)) {
			return err_msg(reterr, -EINVAL,
			               "network priority: interface name too long or missing");
		}
		snprintf(bufs->prio[i].ifname, sizeof(bufs->prio[i].ifname), "%s", p->name);
		bufs->prio[i].priority = p->priority;
	}
	x->prio = bufs->prio;
	x->n_prio = nw->n_priorities;
	return 0;
}

int rpc_apply_extra(struct cg *cg, const Grpc__LinuxResources *lr, struct agent_err *reterr)
{
	struct cg_resources_extra x = {0};
	struct extra_bufs bufs = {0};
	char notes[1024];
	int r = 0;

	if (lr->memory && lr->memory->kerneltcp != 0) {
		x.has_kernel_tcp = true;
		x.kernel_tcp = lr->memory->kerneltcp;
	}
	if (lr->blockio)
		r = blockio(lr->blockio, &x, &bufs);
	if (r >= 0 && lr->network)
		r = network(lr->network, &x, &bufs, reterr);
	if (r >= 0)
		r = cg_apply_extra(cg, &x, notes, sizeof(notes), reterr);
	bufs_free(&bufs);
	if (r == -E2BIG)
		return err_msg(reterr, r,
		               "applying resources: more than 256 block I/O or network rules");
	if (r < 0)
		return err_wrap(reterr, r, "applying resources");
	if (notes[0])
		log_warn("cgroup", "%s: %s", cg_path(cg), notes);
	return 0;
}

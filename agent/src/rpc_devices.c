// SPDX-License-Identifier: Apache-2.0
/* OCI device rules (linux.devices, linux.resources.devices) onto a container's device cgroup,
 * at CreateContainer and UpdateContainer (cgroup_devices.h has the semantics). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.pb-c.h"
#include "cgroup_devices.h"
#include "err.h"
#include "log.h"
#include "rpc.h"

static int parse_all(Grpc__LinuxDeviceCgroup *const *v, size_t n, struct cg_dev_rule **ret,
                     struct agent_err *reterr)
{
	struct cg_dev_rule *out;

	if (n > CG_DEV_MAX_RULES)
		return err_sys(reterr, -E2BIG, "more than %d rules", CG_DEV_MAX_RULES);
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = cg_dev_rule_parse(v[i]->allow, v[i]->type, v[i]->major, v[i]->minor,
		                          v[i]->access, &out[i], reterr);

		if (r < 0) {
			free(out);
			return r;
		}
	}
	*ret = out;
	return 0;
}

int rpc_devices_create(struct cg *cg, const Grpc__Linux *lx, struct agent_err *reterr)
{
	struct cg_dev_rules l;
	struct cg_dev_rule *spec = NULL;
	size_t n_spec = lx->resources ? lx->resources->n_devices : 0;
	int r;

	r = parse_all(lx->resources ? lx->resources->devices : NULL, n_spec, &spec, reterr);
	if (r < 0)
		return err_wrap(reterr, r, "device cgroup: linux.resources.devices");
	r = cg_dev_rules_init(&l, reterr);
	for (size_t i = 0; r >= 0 && i < lx->n_devices; i++) {
		const Grpc__LinuxDevice *d = lx->devices[i];
		struct cg_dev_rule dr;
		bool none;

		r = cg_dev_rule_for_device(d->type, d->major, d->minor, &dr, &none, reterr);
		if (r >= 0 && !none)
			r = cg_dev_rules_add(&l, &dr, reterr);
	}
	cg_dev_rules_mark_base(&l);
	for (size_t i = 0; r >= 0 && i < n_spec; i++)
		r = cg_dev_rules_add(&l, &spec[i], reterr);
	free(spec);
	if (r >= 0)
		r = cg_devices_set(cg, &l, reterr);
	cg_dev_rules_clear(&l);
	if (r == -ENOTSUP || r == -ENOSYS) {
		/* A guest kernel without the devices controller (v1) or cgroup BPF (v2) cannot
		 * enforce device rules at all; refusing every container would make it unusable, so
		 * say so once and go on, as the agent did before it had device rules. */
		static bool warned;
		if (!warned)
			log_warn(
			    "cgroup",
			    "device cgroup unavailable (%s): containers run without device rules; "
			    "the guest kernel needs CONFIG_CGROUP_DEVICE (v1) or CONFIG_CGROUP_BPF "
			    "(v2)",
			    reterr ? reterr->msg : strerror(-r));
		warned = true;
		return 0;
	}
	if (r < 0)
		return err_wrap(reterr, r, "device cgroup: applying the rules");
	log_debug("cgroup", "device rules of %s applied", cg_path(cg));
	return 0;
}

int rpc_devices_update(struct cg *cg, const Grpc__LinuxResources *lr, struct agent_err *reterr)
{
	struct cg_dev_rule *add = NULL;
	int r;

	if (lr->n_devices == 0)
		return 0;
	r = parse_all(lr->devices, lr->n_devices, &add, reterr);
	if (r < 0)
		return err_wrap(reterr, r, "device cgroup: resources.devices");
	r = cg_devices_update(cg, add, lr->n_devices, reterr);
	free(add);
	return r < 0 ? err_wrap(reterr, r, "device cgroup: applying the rules") : 0;
}

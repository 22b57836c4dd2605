// SPDX-License-Identifier: Apache-2.0
/* Per-device block I/O rules, leaf weight, kernelTCP and net_cls/net_prio (cgroup_extra.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup_extra.h"
#include "cgroup_internal.h"

struct notes {
	char *buf;
	size_t len;
};

static void note(struct notes *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct notes *n, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!n->buf || n->len == 0)
		return;
	used = strlen(n->buf);
	if (used && used + 2 < n->len) {
		memcpy(n->buf + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(n->buf + used, n->len - used, fmt, ap);
	va_end(ap);
}

static int check_dev(int64_t major, int64_t minor, struct agent_err *reterr)
{
	if (major < 0 || major > 0xfff || minor < 0 || minor > 0xfffff)
		return err_sys(reterr, -EINVAL, "block I/O rule for device %" PRId64 ":%" PRId64,
		               major, minor);
	return 0;
}

/* v1 and v2 share the scale of BFQ; io.weight is [1, 10000] (runc's mapping). */
static unsigned v2_io_weight(unsigned w)
{
	return w < 10 ? 1u : 1u + (w - 10) * 9999 / 990;
}

static bool has_blkio(const struct cg_resources_extra *r)
{
	size_t n = r->n_weight_device;

	for (int i = 0; i < CG_THR_N; i++)
		n += r->n_throttle[i];
	return n > 0;
}

/* ---- v1 ---- */

static const char *const v1_throttle_files[CG_THR_N] = {
    "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
    "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};

static int v1_weight_devices(const char *d, const struct cg_resources_extra *r, struct notes *n,
                             struct agent_err *reterr)
{
	/* CFQ has blkio.weight_device; BFQ calls it blkio.bfq.weight_device and has no leaf */
	bool cfq = cg_exists(d, "blkio.weight_device");
	int e;

	for (size_t i = 0; i < r->n_weight_device; i++) {
		const struct cg_weight_device *w = &r->weight_device[i];

		if ((e = check_dev(w->major, w->minor, reterr)) < 0)
			return e;
		if (w->weight &&
		    (e = cg_writef(d, cfq ? "blkio.weight_device" : "blkio.bfq.weight_device",
		                   reterr, "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
		                   (unsigned)w->weight)) < 0)
			return e;
		if (w->leaf_weight && !cg_exists(d, "blkio.leaf_weight_device"))
			note(n,
			     "blkio leaf weight of %" PRId64 ":%" PRId64 " ignored: no "
			     "blkio.leaf_weight_device (only CFQ has it)",
			     w->major, w->minor);
		else if (w->leaf_weight && (e = cg_writef(d, "blkio.leaf_weight_device", reterr,
		                                          "%" PRId64 ":%" PRId64 " %u", w->major,
		                                          w->minor, (unsigned)w->leaf_weight)) < 0)
			return e;
	}
	return 0;
}

static int v1_blkio(struct cg *c, const struct cg_resources_extra *r, struct notes *n,
                    struct agent_err *reterr)
{
	const char *d = c->dirs[CGC_BLKIO];
	int e;

	if (!has_blkio(r) && !r->has_leaf_weight)
		return 0;
	if (!d)
		return err_sys(reterr, -ENOTSUP,
		               "block I/O rules: the blkio controller is not mounted");
	if (r->has_leaf_weight) {
		if (!cg_exists(d, "blkio.leaf_weight"))
			note(n,
			     "blkio leaf weight ignored: no blkio.leaf_weight (only CFQ has it)");
		else if ((e = cg_writef(d, "blkio.leaf_weight", reterr, "%u",
		                        (unsigned)r->leaf_weight)) < 0)
			return e;
	}
	if ((e = v1_weight_devices(d, r, n, reterr)) < 0)
		return e;
	for (int t = 0; t < CG_THR_N; t++) {
		for (size_t i = 0; i < r->n_throttle[t]; i++) {
			const struct cg_throttle_device *td = &r->throttle[t][i];

			if ((e = check_dev(td->major, td->minor, reterr)) < 0 ||
			    (e = cg_writef(d, v1_throttle_files[t], reterr,
			                   "%" PRId64 ":%" PRId64 " %" PRIu64, td->major, td->minor,
			                   td->rate)) < 0)
				return e;
		}
	}
	return 0;
}

static int v1_other(struct cg *c, const struct cg_resources_extra *r, struct notes *n,
                    struct agent_err *reterr)
{
	const char *mem = c->dirs[CGC_MEMORY], *cls = c->dirs[CGC_NET_CLS];
	const char *prio = c->dirs[CGC_NET_PRIO];
	int e;

	if (r->has_kernel_tcp) {
		if (!mem || !cg_exists(mem, "memory.kmem.tcp.limit_in_bytes"))
			note(n, "memory.kernelTCP ignored: no memory.kmem.tcp.limit_in_bytes%s",
			     mem ? "" : " (no memory controller)");
		else if ((e = cg_writef(mem, "memory.kmem.tcp.limit_in_bytes", reterr, "%" PRId64,
		                        r->kernel_tcp)) < 0)
			return e;
	}
	if (r->has_classid) {
		if (!cls)
			note(n, "network classID ignored: no net_cls controller in this guest");
		else if ((e = cg_writef(cls, "net_cls.classid", reterr, "%" PRIu32, r->classid)) <
		         0)
			return e;
	}
	if (r->n_prio && !prio)
		note(n, "network priorities ignored: no net_prio controller in this guest");
	for (size_t i = 0; prio && i < r->n_prio; i++)
		if ((e = cg_writef(prio, "net_prio.ifpriomap", reterr, "%s %" PRIu32,
		                   r->prio[i].ifname, r->prio[i].priority)) < 0)
			return e;
	return 0;
}

/* ---- v2 ---- */

static const char *const v2_throttle_keys[CG_THR_N] = {"rbps", "wbps", "riops", "wiops"};

static int v2_blkio(struct cg *c, const struct cg_resources_extra *r, struct notes *n,
                    struct agent_err *reterr)
{
	bool bfq;
	int e;

	if (r->has_leaf_weight)
		note(n, "blkio leaf weight ignored: cgroup v2 has none");
	if (!has_blkio(r))
		return 0;
	if (!(c->avail & (1u << CGC_BLKIO)))
		return err_sys(reterr, -ENOTSUP,
		               "block I/O rules: the io controller is not available in %s", c->dir);
	bfq = cg_exists(c->dir, "io.bfq.weight");
	for (size_t i = 0; i < r->n_weight_device; i++) {
		const struct cg_weight_device *w = &r->weight_device[i];

		if ((e = check_dev(w->major, w->minor, reterr)) < 0)
			return e;
		if (w->leaf_weight)
			note(n,
			     "blkio leaf weight of %" PRId64 ":%" PRId64 " ignored: cgroup v2 "
			     "has none",
			     w->major, w->minor);
		if (w->weight &&
		    (e = cg_writef(c->dir, bfq ? "io.bfq.weight" : "io.weight", reterr,
		                   "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
		                   bfq ? (unsigned)w->weight : v2_io_weight(w->weight))) < 0)
			return e;
	}
	for (int t = 0; t < CG_THR_N; t++) {
		for (size_t i = 0; i < r->n_throttle[t]; i++) {
			const struct cg_throttle_device *td = &r->throttle[t][i];
			char rate[24] = "max";

			if (td->rate)
				snprintf(rate, sizeof(rate), "%" PRIu64, td->rate);
			if ((e = check_dev(td->major, td->minor, reterr)) < 0 ||
			    (e = cg_writef(c->dir, "io.max", reterr,
			                   "%" PRId64 ":%" PRId64 " %s=%s", td->major, td->minor,
			                   v2_throttle_keys[t], rate)) < 0)
				return e;
		}
	}
	return 0;
}

static void v2_other(const struct cg_resources_extra *r, struct notes *n)
{
	if (r->has_kernel_tcp)
		note(n, "memory.kernelTCP ignored: cgroup v2 has no TCP buffer limit (its socket "
		        "memory counts in memory.max)");
	if (r->has_classid)
		note(n, "network classID ignored: cgroup v2 has no net_cls");
	if (r->n_prio)
		note(n, "network priorities ignored: cgroup v2 has no net_prio");
}

/* ---- entry ---- */

static bool ifname_ok(const char *s)
{
	size_t len = strnlen(s, sizeof(((struct cg_net_prio *)0)->ifname));

	if (len == 0 || len >= sizeof(((struct cg_net_prio *)0)->ifname))
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '/' || s[i] == ':' || s[i] == 0x7f)
			return false;
	return true;
}

int cg_apply_extra(struct cg *c, const struct cg_resources_extra *r, char *notes, size_t notes_len,
                   struct agent_err *reterr)
{
	struct notes n = {notes, notes_len};
	int e;

	if (notes && notes_len)
		notes[0] = '\0';
	for (size_t i = 0; i < r->n_prio; i++)
		if (!ifname_ok(r->prio[i].ifname))
			return err_sys(reterr, -EINVAL,
			               "network priority: interface name \"%.16s\"",
			               r->prio[i].ifname);
	if (c->m->version == CG_V1) {
		e = v1_blkio(c, r, &n, reterr);
		return e < 0 ? e : v1_other(c, r, &n, reterr);
	}
	e = v2_blkio(c, r, &n, reterr);
	if (e >= 0)
		v2_other(r, &n);
	return e;
}

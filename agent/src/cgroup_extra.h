// SPDX-License-Identifier: Apache-2.0
/*
 * The OCI resources beyond cg_resources: per-device block I/O rules, blkio leaf weight,
 * memory.kernelTCP and the network classifier/priorities.
 *
 *   knob                    v1                                  v2
 *   LeafWeight              blkio.leaf_weight (CFQ)             none: ignored, noted
 *   WeightDevice            blkio.weight_device,                io.bfq.weight or io.weight
 *                           blkio.leaf_weight_device (CFQ);     "M:m w" (io.weight on the v2
 *                           blkio.bfq.weight_device (BFQ)       scale, as the plain weight)
 *   Throttle{Read,Write}    blkio.throttle.{read,write}_        io.max "M:m rbps=|wbps=|
 *     {Bps,IOPS}Device      {bps,iops}_device "M:m rate"        riops=|wiops=" (0 = max)
 *   memory.kernelTCP        memory.kmem.tcp.limit_in_bytes      none: ignored, noted
 *   Network.ClassID         net_cls.classid                     none: ignored, noted
 *   Network.Priorities      net_prio.ifpriomap "if prio"        none: ignored, noted
 *
 * Block I/O follows cg_apply: a rule whose controller is not there is an error (-ENOTSUP).
 * kernelTCP and the network knobs are hints to the guest's network stack that a guest kernel
 * often cannot honour (cgroup v2 has no such files; net_cls/net_prio need
 * CONFIG_CGROUP_NET_CLASSID/PRIO): they are skipped, and each skip is described in *notes
 * for the caller to log, so the container still starts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"

struct cg_weight_device {
	int64_t major, minor;
	uint16_t weight, leaf_weight; /* 0 = not given */
};

struct cg_throttle_device {
	int64_t major, minor;
	uint64_t rate; /* bytes or operations per second; 0 = no limit */
};

enum cg_throttle {
	CG_THR_READ_BPS,
	CG_THR_WRITE_BPS,
	CG_THR_READ_IOPS,
	CG_THR_WRITE_IOPS,
	CG_THR_N
};

struct cg_net_prio {
	char ifname[16]; /* IFNAMSIZ */
	uint32_t priority;
};

struct cg_resources_extra {
	bool has_leaf_weight;
	uint16_t leaf_weight;
	const struct cg_weight_device *weight_device;
	size_t n_weight_device;
	const struct cg_throttle_device *throttle[CG_THR_N];
	size_t n_throttle[CG_THR_N];
	bool has_kernel_tcp;
	int64_t kernel_tcp; /* bytes; -1 = unlimited */
	bool has_classid;
	uint32_t classid;
	const struct cg_net_prio *prio;
	size_t n_prio;
};

/* Apply what is set.  notes (may be NULL) receives "; "-separated descriptions of the knobs
 * skipped because this hierarchy has no place for them (empty if none).  -errno on failure,
 * *reterr naming the file. */
int cg_apply_extra(struct cg *c, const struct cg_resources_extra *r, char *notes, size_t notes_len,
                   struct agent_err *reterr);

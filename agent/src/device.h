// SPDX-License-Identifier: Apache-2.0
/* Devices of CreateContainerRequest (docs/PROTOCOL.md §4.4): wait for each device's uevent and
 * report the guest major/minor per container_path, so the caller can rewrite the OCI spec's
 * Linux.Devices and Resources.Devices entries.
 *
 * Types: blk (id = PCI path, or vm_path /dev/vdX), mmioblk (vm_path), scsi (id = "id:lun"),
 * nvdimm (vm_path /dev/pmemN).  VFIO types are not handled: -EOPNOTSUPP.  Unknown type:
 * -EINVAL "Failed to find the device handler X".  Validation as upstream: type non-empty, id or
 * vm_path set, container_path non-empty ("invalid container path for device").  All devices
 * are waited for at the same time; the timeout is storage_timeout_ns(). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent.pb-c.h"
#include "err.h"

struct device_result {
	char *container_path; /* as in the request */
	char *vm_path;        /* guest node, "/dev/vda" */
	unsigned major, minor;
};

/* res[0..nres) is in request order and only valid during the call (NULL, 0 on error).  e is
 * NULL on success, else the failure (e->code a -errno), e.g. "device 0 (type blk, id 02/01):
 * Timeout after 3s waiting for uevent for the block device at PCI path 02/01". */
typedef void (*device_done_fn)(void *data, const struct agent_err *e, struct device_result *res,
                               size_t nres);

struct device_req;

/* Same conventions as storage_mount_all: done() runs exactly once, possibly before this
 * returns; the request is copied; *ret is set while pending.  Returns 0 or -ENOMEM. */
int device_wait_all(Grpc__Device *const *d, size_t n, device_done_fn done, void *data,
                    struct device_req **ret);
/* Stop waiting; done() is not called.  NULL is fine. */
void device_req_cancel(struct device_req *r);

/* AddSwap: wait for the virtio-blk device at the PCI path given as slot numbers (the
 * request's repeated PCIPath), then report it through done() (nres = 1, container_path "").
 * The caller runs swapon on res->vm_path. */
int device_wait_pci_block(const uint32_t *slots, size_t n, device_done_fn done, void *data,
                          struct device_req **ret);

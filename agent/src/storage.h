// SPDX-License-Identifier: Apache-2.0
/* Storages of CreateSandbox / CreateContainer (docs/PROTOCOL.md §4.3): per-driver mount handlers
 * and reference counting by mount_point.
 *
 * Drivers: local (mkdir -p, mode=, fsgid=), ephemeral (tmpfs with its options; hugetlbfs with a
 * page reservation; fsgid=), bind and watchable-bind (a plain bind mount: the watchable copy
 * with 2 s polling upstream does for small configmaps is not done), virtio-fs (skipped when
 * something is already mounted at mount_point), 9p (mount -t 9p with the given options), blk
 * (PCI path "02/01" or /dev/vdX), mmioblk (/dev/vdX), scsi ("id:lun"), nvdimm and pmem
 * (/dev/pmemN).  The block drivers wait for the device's uevent on the loop (up to
 * agent.hotplug_timeout seconds) and then mount /dev/NAME with fstype and options.
 * fs_group (fields 2 and 3) then changes the group recursively and sets the setgid bit on
 * directories (OnRootMismatch: only if the root's group differs).
 * Unknown driver: -EINVAL "Failed to find the storage handler X" (the upstream words).
 *
 * Single-threaded: everything runs on the agent's loop. */
#pragma once

#include <stddef.h>

#include "agent.pb-c.h"
#include "err.h"

/* Completion: e NULL on success, else the failure (e->code a -errno) with a message such as
 * "storage 2 (driver blk, source 02/01): timeout after 3s waiting for the block device"
 * (storages are numbered from 0 in request order).  e is only valid during the call. */
typedef void (*storage_done_fn)(void *data, const struct agent_err *e);

struct storage_req; /* an in-flight storage_mount_all; cancelable until done() ran */

/* Mount storages s[0..n) in order.  The request is copied: s may be freed once this returns.
 * done() is called exactly once, either before storage_mount_all returns (every storage was
 * handled synchronously, or one failed) or later from the loop (a block driver waits for its
 * uevent).  On failure the storages acquired by this call are released again (and unmounted
 * when this call mounted them) before done() runs.  *ret (may be NULL) is set to the request
 * while it is pending, NULL once done() ran.  Returns 0 if done() will be/was called, -errno if
 * nothing was started (-ENOMEM). */
int storage_mount_all(Grpc__Storage *const *s, size_t n, storage_done_fn done, void *data,
                      struct storage_req **ret);
/* Refuse, before anything is mounted, the storage options this agent cannot honour: the
 * driver option `create_filesystem` (format a fresh block-backed volume first; upstream runs
 * mkfs, and our guests carry no mkfs).  Returns 0, or -EOPNOTSUPP with *reterr naming the
 * storage and the option; the RPCs answer UNIMPLEMENTED then. */
int storage_check_options(Grpc__Storage *const *s, size_t n, struct agent_err *reterr);
/* The RPC was abandoned: stop waiting, release what this request acquired; done() is not
 * called.  NULL is fine; a request whose done() already ran must not be passed. */
void storage_req_cancel(struct storage_req *r);

/* Drop one reference to mount_point (the refcount key).  At zero the storage is unmounted
 * (lazily, MNT_DETACH) and forgotten, unless it is `shared`: those stay until
 * storage_release_all.  Returns the remaining count (>= 0), -ENOENT if unknown, or the umount
 * error (the entry is forgotten anyway). */
int storage_release(const char *mount_point);
/* Sandbox teardown: requests still waiting for a device fail first (their done() gets
 * -ECANCELED), then everything is unmounted, shared storages included, newest first. */
void storage_release_all(void);
/* Current reference count of mount_point (0 if unknown); for tests and diagnostics. */
unsigned storage_refcount(const char *mount_point);

/* UpdateEphemeralMounts: each storage must be `ephemeral`; mkdir -p and remount (or mount if
 * nothing is mounted there) with its options, fsgid= excluded.  Synchronous.  On error *reterr
 * names the storage and the failure.  Returns 0 or -errno. */
int storage_update_ephemeral(Grpc__Storage *const *s, size_t n, struct agent_err *reterr);
/* RemoveStaleVirtiofsShareMounts: stat() every mount point under
 * /run/kata-containers/shared/containers/ so virtiofsd drops stale inodes.  A stat that fails
 * (the stale mount) is logged; only an unreadable mount table is an error. */
int storage_stat_shared_mounts(struct agent_err *reterr);
/* The same for any directory (tests). */
int storage_stat_mounts_under(const char *dir, struct agent_err *reterr);

/* Test hook: the system calls the drivers make.  NULL restores the real ones. */
struct storage_sys {
	int (*mount)(const char *src, const char *target, const char *fstype, unsigned long flags,
	             const char *data); /* 0 or -errno */
	int (*umount)(const char *target, int flags);
	int (*is_mounted)(const char *path); /* 1, 0 or -errno */
};
void storage_set_sys(const struct storage_sys *sys);
/* Where block device nodes are looked for (and made with mknod if devtmpfs has not): "/dev". */
extern const char *storage_dev_dir;

/* Timeout of device waits: agent.cfg.hotplug_timeout_s seconds (3 if 0), unless this is set
 * (nanoseconds; tests). */
extern unsigned long long storage_timeout_ns_override;
unsigned long long storage_timeout_ns(void);

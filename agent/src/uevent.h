// SPDX-License-Identifier: Apache-2.0
/* Kernel uevents (docs/PROTOCOL.md §5.3): a NETLINK_KOBJECT_UEVENT socket bound to group 1 on the
 * agent's loop.  `add` events are kept in a devpath -> event map (seeded at start from
 * /sys/block, so devices that appeared before the listener are known), `remove` events drop
 * them.  Waiters give a matcher; a waiter first checks the map, then waits on the loop with a
 * timer.  Hot-added memory blocks are onlined as soon as their event arrives.
 *
 * There is no udev: device nodes come from devtmpfs.  Nothing here blocks the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "util.h"

/* One parsed event.  The strings point into the message (or into the stored copy). */
struct uevent {
	const char *action;    /* "add", "remove", "change", "bind", ... */
	const char *devpath;   /* "/devices/pci0000:00/0000:00:02.0/virtio2/block/vda" */
	const char *subsystem; /* "block", "memory", "net", ... ("" when absent) */
	const char *devname;   /* "vda" (relative to /dev; "" when absent) */
	const char *interface; /* net devices ("" when absent) */
	unsigned long long seqnum;
	int major, minor; /* -1 when absent */
};

/* Parse a kernel uevent message (header "action@devpath", then NUL-separated KEY=VALUE).  buf
 * must have room for one more byte at buf[len] (it is set to NUL).  Messages from udev
 * ("libudev" header), without ACTION/DEVPATH, or with malformed numbers are rejected with
 * -EINVAL.  Unknown keys are ignored. */
int uevent_parse(char *buf, size_t len, struct uevent *ret);

/* Matchers.  Each returns true for an `add` event it accepts. */
/* Virtio-blk behind a PCI path "SS[/SS...]" (hex slot per bus, optional ".F" function, optional
 * leading root bus "DDDD:BB/"): DEVPATH .../pciDDDD:BB/DDDD:BB:SS.F/.../virtioN/block/NAME. */
struct uevent_pci_path {
	unsigned domain, root_bus;
	size_t n;
	unsigned char slot[16], func[16];
};
int uevent_pci_path_parse(const char *s, struct uevent_pci_path *ret);
bool uevent_match_pci_block(const struct uevent *ev, const struct uevent_pci_path *p);
/* A network interface behind PCI path arg (const struct uevent_pci_path *): DEVPATH
 * .../DDDD:BB:SS.F/virtioN/net/NAME or .../DDDD:BB:SS.F/net/NAME (uevent_waiter matcher). */
bool uevent_match_pci_net(const struct uevent *ev, const void *arg);
/* SCSI disk "id:lun": DEVPATH .../0:0:ID:LUN/block/NAME. */
struct uevent_scsi_addr {
	unsigned id, lun;
};
int uevent_scsi_addr_parse(const char *s, struct uevent_scsi_addr *ret);
bool uevent_match_scsi_block(const struct uevent *ev, const struct uevent_scsi_addr *a);
/* Any whole block device called NAME (vda, pmem0, loop3): DEVPATH .../block/NAME. */
bool uevent_match_block_name(const struct uevent *ev, const char *name);

/* A block device as Storage.source / Device.id give it: a PCI path (blk), "id:lun" (scsi), or
 * a name "/dev/NAME" or "NAME" (mmioblk, nvdimm, a /dev/vdX blk source). */
enum uevent_blk_kind { UEVENT_BLK_PCI, UEVENT_BLK_SCSI, UEVENT_BLK_NAME };
struct uevent_blk {
	enum uevent_blk_kind kind;
	struct uevent_pci_path pci;
	struct uevent_scsi_addr scsi;
	char name[64];
	char what[96]; /* "the block device at PCI path 02/01", for messages */
};
int uevent_blk_parse(enum uevent_blk_kind kind, const char *s, struct uevent_blk *ret);
/* Matcher for uevent_waiter (arg: const struct uevent_blk *). */
bool uevent_match_blk(const struct uevent *ev, const void *blk);
/* The name under /dev of a matched block event (DEVNAME, else the last DEVPATH component). */
const char *uevent_blk_devname(const struct uevent *ev);

/* A wait.  The owner fills match/arg/cb (and rescan_ns for a PCI rescan if nothing came in that
 * time) and keeps the struct alive until cb ran or uevent_wait_cancel().  cb gets 0 and the
 * matching event, or -ETIMEDOUT and NULL. */
struct uevent_waiter {
	bool (*match)(const struct uevent *ev, const void *arg);
	const void *arg;
	void (*cb)(struct uevent_waiter *w, int err, const struct uevent *ev);
	unsigned long long rescan_ns; /* 0: no PCI rescan */
	/* private */
	struct list link;
	struct loop_timer timer, rescan;
	bool active;
};
/* Returns 1 when the map already holds a match (copied to *ret_found, valid until the loop
 * runs again; cb is not called), 0 when waiting, -errno on error (no loop: uevent_init not
 * called). */
int uevent_wait(struct uevent_waiter *w, unsigned long long timeout_ns, struct uevent *ret_found);
void uevent_wait_cancel(struct uevent_waiter *w);
/* uevent_wait for a block device, with w->match/arg set here: a PCI device gets a PCI rescan if
 * nothing came after a second; a SCSI device not seen yet makes every SCSI host scan for it. */
int uevent_wait_blk(struct uevent_waiter *w, const struct uevent_blk *b,
                    unsigned long long timeout_ns, struct uevent *ret_found);

/* Set up the map and waiters on the loop without a socket (tests), scanning sysfs. */
int uevent_init(struct loop *l);
/* uevent_init plus the netlink socket (NETLINK_KOBJECT_UEVENT group 1) on the loop; called
 * once at boot.  Returns 0 or -errno (e.g. -EPERM outside the initial network namespace's
 * privileges); the agent keeps running without it, device waits then time out. */
int uevent_start(struct loop *l);
void uevent_stop(void);

/* Handle one raw netlink message as if received from the socket: sender_pid != 0 (userspace,
 * e.g. udev) is ignored.  Returns 1 if handled, 0 if ignored, -errno if malformed. */
int uevent_feed(const void *msg, size_t len, uint32_t sender_pid);
/* Handle a parsed event (store/remove, online memory, wake waiters). */
void uevent_dispatch(const struct uevent *ev);
/* Look a device up in the map; returns 1 and fills *ret (valid until the map changes) or 0. */
int uevent_find(bool (*match)(const struct uevent *ev, const void *arg), const void *arg,
                struct uevent *ret);

/* Where sysfs lives ("/sys"; tests point it at a fake tree).  Used for the /sys/block scan,
 * memory onlining, /sys/bus/pci/rescan and the SCSI host scan. */
extern const char *uevent_sysfs;
/* Ask every SCSI host to scan target id, lun ("0 id lun" > host*\/scan).  Returns 0 if at
 * least one host accepted it, else -errno. */
int uevent_scsi_scan(const struct uevent_scsi_addr *a);

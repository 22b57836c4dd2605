// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup: one container's control group, on cgroup v2 or v1, behind one interface.
 *
 * The module never hard-codes /sys/fs/cgroup: a manager is opened on a root directory, so the
 * unit tests run against a fake tree in a temporary directory.  Every function that can fail
 * returns -errno; *reterr (err.h) then holds a one-line message naming the file and the reason
 * (valid until the next failing call; the agent is single-threaded).
 *
 * Nothing here blocks for long.  The only waits are the freezer's: cgroup v1 goes
 * THAWED -> FREEZING -> FROZEN and v2 reports "frozen 1" in cgroup.events a moment after
 * cgroup.freeze is written; both are polled with nanosleep(1 ms) for at most CG_FREEZE_WAIT_MS
 * in total, never with sleep().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum cg_version { CG_V1 = 1, CG_V2 = 2 };

/* Upper bound, in milliseconds, of the freezer's state polling (see the comment above). */
#define CG_FREEZE_WAIT_MS 100

/* "No limit": what stats report for a v2 "max" or a v1 limit at the kernel's ceiling. */
#define CG_UNLIMITED UINT64_MAX

struct cg_manager; /* root directory, version, which v1 controllers are mounted */
struct cg;         /* one container's cgroup; keeps a pointer to its manager */

/* ---- resources (OCI LinuxResources, the subset the agent applies) ---- */

struct cg_hugetlb_limit {
	char pagesize[16]; /* "2MB", "1GB", "64KB": the kernel's hugetlb.<size>.* spelling */
	uint64_t limit;    /* bytes */
};

/* Each knob is applied only when its has_ flag is set (cpus/mems: when non-NULL). */
struct cg_resources {
	struct {
		bool has_limit;
		int64_t limit; /* bytes; -1 = unlimited */
		bool has_reservation;
		int64_t reservation; /* soft limit (v1) / memory.low (v2); -1 = none */
		bool has_swap;
		int64_t swap; /* OCI: memory + swap in bytes; -1 = unlimited */
		bool has_swappiness;
		uint64_t swappiness; /* 0..100; v1 only, ignored on v2 (no such knob) */
		bool has_disable_oom_killer;
		bool disable_oom_killer; /* v1 only, ignored on v2 (no such knob) */
	} memory;
	struct {
		bool has_shares;
		uint64_t shares; /* v1 cpu.shares; v2 cpu.weight by runc's formula */
		bool has_quota;
		int64_t quota; /* µs per period; <= 0 = unlimited */
		bool has_period;
		uint64_t period; /* µs */
		bool has_realtime_runtime;
		int64_t realtime_runtime; /* v1 only: -ENOTSUP on v2 */
		bool has_realtime_period;
		uint64_t realtime_period; /* v1 only: -ENOTSUP on v2 */
		const char *cpus;         /* cpuset list, e.g. "0-1"; NULL = unchanged */
		const char *mems;
	} cpu;
	struct {
		bool has_limit;
		int64_t limit; /* <= 0 = unlimited ("max") */
	} pids;
	struct {
		bool has_weight;
		uint16_t weight; /* 10..1000 (v1 scale); v2 io.weight is converted */
	} blkio;
	const struct cg_hugetlb_limit *hugetlb;
	size_t n_hugetlb;
};

/* ---- stats ---- */

struct cg_kv {
	char *key;
	uint64_t value;
};

struct cg_blkio_entry {
	uint64_t major, minor;
	char op[16]; /* "Read", "Write", "Sync", "Async", "Discard", "Total" */
	uint64_t value;
};

struct cg_mem_data {
	uint64_t usage, max_usage, failcnt, limit;
};

struct cg_hugetlb_stat {
	char pagesize[16];
	uint64_t usage, max_usage, failcnt;
};

/*
 * All times in nanoseconds.  Fields whose source file is absent stay 0.  Memory limits of
 * "max" (v2) read as CG_UNLIMITED.  swap follows v1 semantics on both versions: memory+swap
 * (v1 memory.memsw.*; v2 memory.swap.current + memory.current, memory.swap.max + memory.max),
 * which is what the Kata/runc stats consumers expect.
 */
struct cg_stats {
	struct {
		uint64_t total, user, kernel;
		uint64_t *percpu; /* v1 cpuacct.usage_percpu; v2 has none */
		size_t n_percpu;
		uint64_t periods, throttled_periods, throttled_time;
	} cpu;
	struct {
		uint64_t cache; /* v1 stat "cache", v2 stat "file" */
		struct cg_mem_data usage, swap, kernel;
		bool use_hierarchy;
		struct cg_kv *stats; /* every "key value" line of memory.stat, in file order */
		size_t n_stats;
	} memory;
	struct {
		uint64_t current, limit; /* limit CG_UNLIMITED for "max" */
	} pids;
	struct {
		struct cg_blkio_entry *service_bytes; /* v1 io_service_bytes_recursive; v2
		                                         io.stat rbytes/wbytes */
		size_t n_service_bytes;
		struct cg_blkio_entry *serviced; /* v1 io_serviced_recursive; v2 rios/wios */
		size_t n_serviced;
	} blkio;
	struct cg_hugetlb_stat *hugetlb;
	size_t n_hugetlb;
};

/* ---- manager ---- */

/*
 * Open the cgroup hierarchy mounted at root (normally "/sys/fs/cgroup").  v2 when
 * root/cgroup.controllers exists; otherwise v1, with the controllers that have a directory
 * root/<name> (a combined "cpu,cpuacct" mount is found through its usual cpu and cpuacct
 * symlinks).  -ENOENT if neither: nothing is mounted there.
 */
int cg_manager_open(const char *root, struct cg_manager **ret, struct agent_err *reterr);
void cg_manager_free(struct cg_manager *m);
enum cg_version cg_manager_version(const struct cg_manager *m);
/* v1: true if the named controller ("memory", "freezer", ...) is mounted.  v2: true if it is
 * listed in root/cgroup.controllers. */
bool cg_manager_has(const struct cg_manager *m, const char *controller);

/* ---- paths ---- */

/*
 * Turn an OCI Linux.CgroupsPath into a normalised cgroupfs path relative to the root: always
 * starts with '/', no trailing '/', no empty or "." components.  Hostile input is refused with
 * -EINVAL: any ".." component, an empty result ("/" would be the root cgroup itself), control
 * characters, and anything longer than PATH_MAX.  A relative plain path is taken relative to
 * the root, as runc's cgroupfs driver does.
 *
 * Systemd form "slice:prefix:name" (exactly two ':'): the agent has no systemd, so it is mapped
 * to the cgroupfs path that systemd (and runc's systemd driver) would give the unit:
 *   slice   "" -> "system.slice"; "-" -> the root slice; "a-b-c.slice" expands to
 *           "/a.slice/a-b.slice/a-b-c.slice" (each dash opens a sub-slice); it must end in
 *           ".slice" and may not contain "/", "--", or a leading/trailing dash;
 *   unit    "name" itself when it ends in ".slice", else "<prefix>-<name>.scope", or
 *           "<name>.scope" when prefix is empty.
 * e.g. "kubepods-besteffort-pod1.slice:cri-containerd:abc" ->
 *   "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/
 *    cri-containerd-abc.scope".
 */
int cg_parse_path(const char *cgroups_path, char **ret, struct agent_err *reterr);

/* ---- one container's cgroup ---- */

/*
 * Create (mkdir -p, EEXIST accepted) the cgroup for cgroups_path; on failure the leaves already
 * made are removed again (ancestors are left: they may be shared).  v1: in every mounted
 * controller's hierarchy, copying cpuset.cpus/mems down from the parent into each new level
 * (a new cpuset is empty and refuses tasks).  v2: enables, in every ancestor's
 * cgroup.subtree_control, the controllers listed in its cgroup.controllers that are not enabled
 * yet, so the leaf gets them.
 */
int cg_create(struct cg_manager *m, const char *cgroups_path, struct cg **ret,
              struct agent_err *reterr);
/* The normalised path (cg_parse_path) of the cgroup. */
const char *cg_path(const struct cg *c);
/* Move a process (init or exec'd) into the cgroup: every v1 hierarchy, or the v2 leaf. */
int cg_add_pid(struct cg *c, pid_t pid, struct agent_err *reterr);
/* An exec'd process: like cg_add_pid, but into the "init" child when a v2 container nests
 * cgroups (docker-in-docker layout). */
int cg_add_exec_pid(struct cg *c, pid_t pid, struct agent_err *reterr);
/* The cgroup.procs files an exec'd process joins (every v1 hierarchy of the container, or the
 * v2 directory cg_add_exec_pid picks), opened O_WRONLY | O_CLOEXEC into fds (room for
 * CG_EXEC_FDS_MAX), so the process can write "0" to them itself before its execve.  *ret_n is
 * the count; on failure none stays open. */
#define CG_EXEC_FDS_MAX 16
int cg_open_exec_procs(struct cg *c, int *fds, size_t *ret_n, struct agent_err *reterr);

/*
 * Write the resources that are set.  v1 files: memory.{limit_in_bytes,soft_limit_in_bytes,
 * memsw.limit_in_bytes,swappiness,oom_control}, cpu.{shares,cfs_period_us,cfs_quota_us,
 * rt_period_us,rt_runtime_us}, cpuset.{cpus,mems}, pids.max, hugetlb.<size>.limit_in_bytes,
 * blkio.weight (blkio.bfq.weight under BFQ).  v2: memory.{max,low,swap.max}, cpu.weight,
 * cpu.max, cpuset.{cpus,mems}, pids.max, hugetlb.<size>.max, io.bfq.weight or io.weight.
 * v2 conversions: cpu.weight = 1 + (shares - 2) * 9999 / 262142 (runc); cpu.max = "<quota|max>
 * <period>" with an unchanged half read back; memory.swap.max = swap - limit (v2 counts swap
 * alone; -EINVAL if swap < limit or no memory limit is known); io.weight = 1 + (weight - 10) *
 * 9999 / 990.
 * A knob whose controller is not available -> -ENOTSUP, and *reterr names it.  Knobs
 * are written in a fixed order and the first failure stops the update.
 * v1 swap: without swap accounting (no memory.memsw.* files) the swap value is dropped, not
 * failed: the guest normally has no swap.  v2 swappiness and disable_oom_killer have no knob
 * and are ignored, as runc does.
 */
int cg_apply(struct cg *c, const struct cg_resources *r, struct agent_err *reterr);

/* Freeze (true) or thaw (false).  Freezing waits, bounded, until the kernel reports the group
 * frozen; -EBUSY (and the group thawed again) if it does not settle in CG_FREEZE_WAIT_MS.
 * -ENOTSUP on v1 without the freezer controller. */
int cg_freeze(struct cg *c, bool frozen, struct agent_err *reterr);

/* Every pid in the cgroup and its descendants (v1: the freezer hierarchy, else the first
 * mounted one).  *ret_pids is malloc'd (NULL when *ret_n == 0). */
int cg_pids(struct cg *c, pid_t **ret_pids, size_t *ret_n, struct agent_err *reterr);

/* Signal every process in the cgroup.  v2 with SIGKILL and cgroup.kill present: one write to
 * cgroup.kill.  Otherwise freeze (when a freezer exists, so nothing forks in between), kill
 * each pid (ESRCH ignored), thaw.  The freeze is best effort: a group that cannot be frozen is
 * still signalled.  Returns the number of pids signalled (0 for cgroup.kill). */
int cg_kill_all(struct cg *c, int sig, struct agent_err *reterr);

/* Read the statistics; on success *ret owns allocations freed by cg_stats_clear(). */
int cg_stats(struct cg *c, struct cg_stats *ret, struct agent_err *reterr);
void cg_stats_clear(struct cg_stats *s);

/*
 * OOM notification for the epoll loop.  cg_oom_watch returns an O_NONBLOCK|O_CLOEXEC fd owned
 * by the cgroup (closed by cg_free; add it to epoll for EPOLLIN):
 *   v2: an inotify fd watching memory.events (the kernel signals modifications to it);
 *   v1: an eventfd registered through cgroup.event_control on memory.oom_control.
 * When the fd is readable call cg_oom_check: 1 = new OOM kill(s) since the last check (v2:
 * memory.events oom_kill increased; v1: the eventfd counted an OOM), 0 = nothing new,
 * -ENODEV = the cgroup is gone (the kernel signals removal too: stop watching), <0 errors.
 * -ENOTSUP without the memory controller.
 */
int cg_oom_watch(struct cg *c, int *ret_fd, struct agent_err *reterr);
int cg_oom_check(struct cg *c, struct agent_err *reterr);

/* Remove the cgroup directory (all v1 hierarchies / the v2 leaf), child cgroups first.
 * ENOENT is not an error.  -EBUSY while processes remain: the caller kills (cg_kill_all) and
 * reaps first, and may retry. */
int cg_destroy(struct cg *c, struct agent_err *reterr);
void cg_free(struct cg *c);

/* ---- PID-1 mounting (cgroup_mount.c) ---- */

typedef int (*cg_mount_fn)(const char *source, const char *target, const char *fstype,
                           unsigned long flags, const char *data, void *userdata);

struct cg_mount_env {
	const char *root;         /* "/sys/fs/cgroup" */
	const char *proc_cgroups; /* "/proc/cgroups" (v1 only) */
	cg_mount_fn mount;        /* NULL = mount(2); returns 0 or -errno */
	void *userdata;
};

#define CG_MOUNT_SKIPPED 1

/*
 * The boot-time cgroup mounts (docs/PROTOCOL.md §5.3).
 * v2: cgroup2 on root with nosuid,nodev,noexec,relatime and "nsdelegate".
 * v1: tmpfs (mode=755) on root; one "cgroup" mount per controller that proc_cgroups lists as
 * enabled, at root/<name>; the tmpfs remounted read-only; "1" written to
 * root/memory/memory.use_hierarchy.  If the devices controller is not enabled nothing is
 * mounted and CG_MOUNT_SKIPPED is returned (*reterr says why; the caller warns).
 * Mount points are created with mkdir; returns 0, CG_MOUNT_SKIPPED or -errno.
 */
int cg_mount_all(enum cg_version v, const struct cg_mount_env *env, struct agent_err *reterr);

// SPDX-License-Identifier: Apache-2.0
/* Shared between cgroup.c, cgroup_v1.c, cgroup_v2.c and cgroup_mount.c only. */
#pragma once

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

/* v1 controllers, in the order they are listed and mounted.  Index = bit in the mask. */
enum cg_ctrl {
	CGC_CPUSET,
	CGC_CPU,
	CGC_CPUACCT,
	CGC_BLKIO,
	CGC_MEMORY,
	CGC_DEVICES,
	CGC_FREEZER,
	CGC_NET_CLS,
	CGC_PERF_EVENT,
	CGC_NET_PRIO,
	CGC_HUGETLB,
	CGC_PIDS,
	CGC_RDMA,
	CGC_MISC,
	CGC_COUNT,
};

extern const char *const cg_ctrl_names[CGC_COUNT];
int cg_ctrl_from_name(const char *name); /* index or -1; v2's "io" maps to CGC_BLKIO */
/* Bit mask of a space-separated controller list (cgroup.controllers, subtree_control). */
unsigned cg_parse_controllers(const char *list);

struct cg_ops {
	int (*create)(struct cg *c, struct agent_err *reterr);
	int (*add_pid)(struct cg *c, pid_t pid, struct agent_err *reterr);
	int (*apply)(struct cg *c, const struct cg_resources *r, struct agent_err *reterr);
	int (*freeze)(struct cg *c, bool frozen, struct agent_err *reterr);
	/* directory whose subtree lists the pids, NULL if none */
	const char *(*procs_dir)(struct cg *c);
	/* 1 = done by the kernel (v2 cgroup.kill), 0 = caller must signal each pid */
	int (*kill_fast)(struct cg *c, int sig, struct agent_err *reterr);
	int (*stats)(struct cg *c, struct cg_stats *ret, struct agent_err *reterr);
	int (*oom_watch)(struct cg *c, struct agent_err *reterr);
	int (*oom_check)(struct cg *c, struct agent_err *reterr);
	int (*destroy)(struct cg *c, struct agent_err *reterr);
};

/* v2 cpu.weight for v1 cpu.shares (exposed for the unit tests). */
uint64_t cg_v2_cpu_weight(uint64_t shares);

extern const struct cg_ops cg_v1_ops;
extern const struct cg_ops cg_v2_ops;

struct cg_manager {
	char *root;
	enum cg_version version;
	unsigned controllers; /* v1: bit per enum cg_ctrl mounted; v2: listed at the root */
	const struct cg_ops *ops;
};

struct cg {
	struct cg_manager *m;
	char *path;            /* normalised, starts with '/' */
	char *dirs[CGC_COUNT]; /* v1: root/<ctrl>/path per mounted controller */
	char *dir;             /* v2: root/path */
	unsigned avail;        /* v2: controllers listed in the leaf's cgroup.controllers */
	int oom_fd;
	uint64_t oom_kills;        /* v2: last seen memory.events oom_kill */
	struct cg_dev_state *devs; /* device rules (cgroup_devices.c), NULL until set */
};

/* Small file helpers on dir/name.  Writes do not create files (cgroupfs files exist). */
int cg_write(const char *dir, const char *name, const char *val, struct agent_err *reterr);
/* reterr comes before the format: the arguments are variadic. */
int cg_writef(const char *dir, const char *name, struct agent_err *reterr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cg_read(const char *dir, const char *name, char **ret,
            struct agent_err *reterr); /* whole file, NUL-terminated */
int cg_read_u64(const char *dir, const char *name, uint64_t *ret,
                struct agent_err *reterr); /* "max" = CG_UNLIMITED */
/* Value of "key N" in a flat keyed file (cpu.stat, memory.events, memory.stat...). */
int cg_read_key(const char *dir, const char *name, const char *key, uint64_t *ret,
                struct agent_err *reterr);
bool cg_exists(const char *dir, const char *name);
/* Trim trailing whitespace in place. */
void cg_chomp(char *s);

/* mkdir -p of root + rel; calls made(dir, arg) for each directory it creates. */
int cg_mkdir_p(const char *root, const char *rel,
               int (*made)(const char *dir, void *arg, struct agent_err *reterr), void *arg,
               struct agent_err *reterr);
/* rmdir dir after its child directories, depth first.  ENOENT = 0. */
int cg_rmdir_tree(const char *dir, struct agent_err *reterr);

/* Parsers shared with stats. */
int cg_parse_kv(const char *text, struct cg_kv **ret, size_t *ret_n);
int cg_blkio_push(struct cg_blkio_entry **v, size_t *n, uint64_t major, uint64_t minor,
                  const char *op, uint64_t value);
int cg_hugetlb_push(struct cg_hugetlb_stat **v, size_t *n, const char *size,
                    struct cg_hugetlb_stat **ret);
/* List "hugetlb.<size>.<suffix>" entries of dir; calls fn(size, arg) for each. */
int cg_hugetlb_sizes(const char *dir, const char *suffix,
                     int (*fn)(const char *size, void *arg, struct agent_err *reterr), void *arg,
                     struct agent_err *reterr);

/* Bounded freezer wait: polls done(arg) (1 = done, 0 = not yet, <0 error) every 1 ms,
 * at most CG_FREEZE_WAIT_MS times.  Returns 0, -EBUSY, or done's error. */
int cg_wait_state(int (*done)(void *arg, struct agent_err *reterr), void *arg,
                  struct agent_err *reterr);

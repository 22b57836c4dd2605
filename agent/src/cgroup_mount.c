// SPDX-License-Identifier: Apache-2.0
/* The cgroup mounts PID 1 makes at boot (docs/PROTOCOL.md §5.3), as a table. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "cgroup_internal.h"
#include "log.h"

#define CG_MNT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME)

/* v1 controllers the upstream agent mounts, each on its own hierarchy, in this order. */
static const char *const v1_table[] = {
    "cpuset",  "cpu",        "cpuacct",  "blkio",   "memory", "devices", "freezer",
    "net_cls", "perf_event", "net_prio", "hugetlb", "pids",   "rdma",
};
#define V1_N (sizeof(v1_table) / sizeof(v1_table[0]))

static unsigned bit_of(const char *name)
{
	for (size_t i = 0; i < V1_N; i++)
		if (strcmp(v1_table[i], name) == 0)
			return 1u << i;
	return 0;
}

static int sys_mount(const char *source, const char *target, const char *fstype,
                     unsigned long flags, const char *data, void *userdata)
{
	return mount(source, target, fstype, flags, data) < 0 ? -errno : 0;
}

static int do_mount(const struct cg_mount_env *env, const char *source, const char *target,
                    const char *fstype, unsigned long flags, const char *data,
                    struct agent_err *reterr)
{
	cg_mount_fn fn = env->mount ? env->mount : sys_mount;
	int r;

	if (!(flags & MS_REMOUNT) && mkdir(target, 0755) < 0 && errno != EEXIST)
		return err_sys(reterr, -errno, "mkdir %s", target);
	r = fn(source, target, fstype, flags, data, env->userdata);
	if (r < 0)
		return err_sys(reterr, r, "mount %s on %s (%s)", fstype, target, data ? data : "");
	return 0;
}

/* Bit i set when v1_table[i] is listed with enabled=1 in /proc/cgroups
 * ("#subsys_name hierarchy num_cgroups enabled"). */
static int enabled_controllers(const char *path, unsigned *ret, struct agent_err *reterr)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	unsigned mask = 0;

	if (!f)
		return err_sys(reterr, -errno, "open %s", path);
	while (getline(&line, &cap, f) > 0) {
		char name[64];
		unsigned hier, num, en;

		if (line[0] == '#' || sscanf(line, "%63s %u %u %u", name, &hier, &num, &en) != 4)
			continue;
		for (size_t i = 0; i < V1_N; i++)
			if (en == 1 && strcmp(name, v1_table[i]) == 0)
				mask |= 1u << i;
	}
	*ret = mask;
	return 0;
}

static int mount_v1(const struct cg_mount_env *env, struct agent_err *reterr)
{
	unsigned mask = 0;
	int r;

	r = enabled_controllers(env->proc_cgroups ? env->proc_cgroups : "/proc/cgroups", &mask,
	                        reterr);
	if (r < 0)
		return r;
	/* Upstream skips every cgroup mount without the devices controller, because the
	 * container device rules could not be enforced. */
	if (!(mask & bit_of("devices"))) {
		err_sys(reterr, -ENODEV,
		        "cgroup v1: devices controller not enabled, no cgroups mounted");
		return CG_MOUNT_SKIPPED;
	}
	r = do_mount(env, "tmpfs", env->root, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755",
	             reterr);
	if (r < 0)
		return r;
	for (size_t i = 0; i < V1_N; i++) {
		_cleanup_free_ char *target = NULL;

		if (!(mask & (1u << i)))
			continue;
		if (asprintf(&target, "%s/%s", env->root, v1_table[i]) < 0) {
			target = NULL;
			return -ENOMEM;
		}
		r = do_mount(env, "cgroup", target, "cgroup", CG_MNT_FLAGS, v1_table[i], reterr);
		if (r == -EINVAL) {
			/* Listed in /proc/cgroups but without a v1 interface: since 6.11 cpuset and
			 * memory need CPUSETS_V1 / MEMCG_V1 for that.  Leave no empty directory
			 * that would look like a mounted hierarchy; mount the others. */
			log_warn("cgroup",
			         "cgroup v1: %s has no v1 interface in this kernel; not mounted",
			         v1_table[i]);
			(void)rmdir(target);
			continue;
		}
		if (r < 0)
			return r;
	}
	r = do_mount(env, "tmpfs", env->root, "tmpfs",
	             MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755", reterr);
	if (r < 0)
		return r;
	/* Hierarchical accounting (the only mode since Linux 5.16; older kernels default to
	 * flat).  Best effort: a kernel that refuses it still has working limits. */
	if (mask & bit_of("memory")) {
		_cleanup_free_ char *mem = NULL;

		if (asprintf(&mem, "%s/memory", env->root) < 0) {
			mem = NULL;
			return -ENOMEM;
		}
		(void)cg_write(mem, "memory.use_hierarchy", "1", NULL);
	}
	return 0;
}

int cg_mount_all(enum cg_version v, const struct cg_mount_env *env, struct agent_err *reterr)
{
	if (!env || !env->root)
		return -EINVAL;
	switch (v) {
	case CG_V2:
		/* nsdelegate: cgroup namespaces become delegation boundaries (cgroup-v2.rst) */
		return do_mount(env, "cgroup2", env->root, "cgroup2", CG_MNT_FLAGS, "nsdelegate",
		                reterr);
	case CG_V1:
		return mount_v1(env, reterr);
	}
	return -EINVAL;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * Capabilities and rlimits: OCI name tables (parent side) and the credential switch (child
 * side).  No libcap: capset(2) and prctl(2) do the job.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr_internal.h"
#include "util.h"

/* Index = capability number (include/uapi/linux/capability.h). */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int ctr_cap_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (strcmp(cap_names[i], name) == 0)
			return (int)i;
	return -EINVAL;
}

/* Asked of the kernel (PR_CAPBSET_READ answers EINVAL above the last capability it knows), not
 * read from /proc/sys/kernel/cap_last_cap: no file, which a mount could cover, decides which
 * capabilities are dropped (upstream's agent was hardened the same way in 2026-08).  Asked
 * once: the running kernel's answer cannot change, and it took two dozen prctl calls. */
int ctr_cap_last(void)
{
	static int last = -1;
	if (last >= 0)
		return last;
	for (int i = 63; i >= 0; i--)
		if (prctl(PR_CAPBSET_READ, (unsigned long)i, 0, 0, 0) >= 0) {
			last = i;
			return last;
		}
	return (int)ARRAY_SIZE(cap_names) - 1;
}

static int cap_set(char *const *names, size_t n, const char *set, uint64_t *ret,
                   struct agent_err *reterr)
{
	uint64_t mask = 0;
	for (size_t i = 0; i < n; i++) {
		int c = ctr_cap_from_name(names[i]);
		if (c < 0)
			return err_set(reterr, -EINVAL, "capabilities.%s: unknown capability %s",
			               set, names[i]);
		mask |= UINT64_C(1) << c;
	}
	*ret = mask;
	return 0;
}

int ctr_caps_from_oci(const Grpc__LinuxCapabilities *oc, struct ctr_caps *ret,
                      struct agent_err *reterr)
{
	struct ctr_caps c = {0};
	int r;
	if ((r = cap_set(oc->bounding, oc->n_bounding, "bounding", &c.bounding, reterr)) < 0 ||
	    (r = cap_set(oc->effective, oc->n_effective, "effective", &c.effective, reterr)) < 0 ||
	    (r = cap_set(oc->inheritable, oc->n_inheritable, "inheritable", &c.inheritable,
	                 reterr)) < 0 ||
	    (r = cap_set(oc->permitted, oc->n_permitted, "permitted", &c.permitted, reterr)) < 0 ||
	    (r = cap_set(oc->ambient, oc->n_ambient, "ambient", &c.ambient, reterr)) < 0)
		return r;
	*ret = c;
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

int ctr_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimit_names); i++)
		if (strcmp(rlimit_names[i].name, name) == 0)
			return rlimit_names[i].resource;
	return -EINVAL;
}

int ctr_rlimits_from_oci(Grpc__POSIXRlimit *const *rl, size_t n, struct ctr_rlimit **ret,
                         struct agent_err *reterr)
{
	if (n > ARRAY_SIZE(rlimit_names) * 4)
		return err_set(reterr, -E2BIG, "rlimits: %zu entries", n);
	_cleanup_free_ struct ctr_rlimit *v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int res = ctr_rlimit_from_name(rl[i]->type);
		if (res < 0)
			return err_set(reterr, -EINVAL, "rlimits: unknown type %s", rl[i]->type);
		if (rl[i]->soft > rl[i]->hard)
			return err_set(reterr, -EINVAL,
			               "rlimits: %s soft limit %llu above hard limit %llu",
			               rl[i]->type, (unsigned long long)rl[i]->soft,
			               (unsigned long long)rl[i]->hard);
		v[i].resource = res;
		v[i].lim.rlim_cur = (rlim_t)rl[i]->soft;
		v[i].lim.rlim_max = (rlim_t)rl[i]->hard;
	}
	*ret = TAKE_PTR(v);
	return 0;
}

/* ---- child side ---- */

static int child_capset(const struct ctr_caps *c)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {
	    {(uint32_t)c->effective, (uint32_t)c->permitted, (uint32_t)c->inheritable},
	    {(uint32_t)(c->effective >> 32), (uint32_t)(c->permitted >> 32),
	     (uint32_t)(c->inheritable >> 32)},
	};
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/*
 * Order matters:
 *  - the bounding set is dropped first, while CAP_SETPCAP is still held;
 *  - PR_SET_KEEPCAPS keeps the permitted set across the uid change (setresuid from 0 to
 *    non-zero otherwise clears it), then capset sets exactly the requested sets (effective
 *    must be a subset of permitted, inheritable of permitted|bounding: the kernel checks);
 *  - ambient capabilities are raised last: each must already be permitted and inheritable.
 * Raw syscalls rather than libc's set*id: musl and glibc broadcast those to all threads
 * through internal locks, which rule 8 forbids between fork and exec.
 */
int ctr_child_creds(struct ctr_child *ch)
{
	const struct ctr_config *c = ch->cfg;
	const struct ctr_user *u = &c->user;

	if (c->has_caps) {
		for (int i = 0; i <= c->cap_last && i < 64; i++) {
			if (c->caps.bounding & (UINT64_C(1) << i))
				continue;
			if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
				return ctr_child_fail(
				    ch, errno, "drop bounding capability",
				    cap_names[i < (int)ARRAY_SIZE(cap_names) ? i : 0], NULL);
		}
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			return ctr_child_fail(ch, errno, "prctl PR_SET_KEEPCAPS", NULL, NULL);
	}
	/* EPERM in a user namespace whose setgroups is denied: nothing to apply then. */
	if (syscall(SYS_setgroups, u->n_groups, u->groups) < 0 &&
	    !(errno == EPERM && u->n_groups == 0))
		return ctr_child_fail(ch, errno, "setgroups", NULL, NULL);
	if (syscall(SYS_setresgid, u->gid, u->gid, u->gid) < 0)
		return ctr_child_fail(ch, errno, "setresgid", NULL, NULL);
	if (syscall(SYS_setresuid, u->uid, u->uid, u->uid) < 0)
		return ctr_child_fail(ch, errno, "setresuid", NULL, NULL);
	if (!c->has_caps)
		return 0;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return ctr_child_fail(ch, errno, "prctl PR_SET_KEEPCAPS", NULL, NULL);
	int r = child_capset(&c->caps);
	if (r < 0)
		return ctr_child_fail(ch, -r, "capset", NULL, NULL);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return ctr_child_fail(ch, errno, "clear ambient capabilities", NULL, NULL);
	for (int i = 0; i <= c->cap_last && i < 64; i++) {
		if (!(c->caps.ambient & (UINT64_C(1) << i)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
			return ctr_child_fail(ch, errno, "raise ambient capability",
			                      i < (int)ARRAY_SIZE(cap_names) ? cap_names[i] : "?",
			                      NULL);
	}
	return 0;
}

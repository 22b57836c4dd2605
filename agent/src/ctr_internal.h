// SPDX-License-Identifier: Apache-2.0
/*
 * Internals shared by container.c and the ctr_*.c modules: the prepared configuration and the
 * child-side helpers.  Parent-side functions allocate and may fail with a message; child-side
 * functions (ctr_child_*) run between fork and execve: raw syscalls only, no allocation, and
 * they report through struct ctr_child.
 */
#pragma once

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "container.h"

/* ---- capabilities and rlimits (ctr_caps.c) ---- */

struct ctr_caps {
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

/* Capability number for "CAP_CHOWN" (the "CAP_" prefix is required), -EINVAL if unknown. */
int ctr_cap_from_name(const char *name);
/* Highest capability this kernel knows (PR_CAPBSET_READ; the table maximum if it answers nothing).
 */
int ctr_cap_last(void);
int ctr_caps_from_oci(const Grpc__LinuxCapabilities *oc, struct ctr_caps *ret,
                      struct agent_err *reterr);

struct ctr_rlimit {
	int resource;
	struct rlimit lim;
};
/* RLIMIT_* number for "RLIMIT_NOFILE", -EINVAL if unknown. */
int ctr_rlimit_from_name(const char *name);
int ctr_rlimits_from_oci(Grpc__POSIXRlimit *const *rl, size_t n, struct ctr_rlimit **ret,
                         struct agent_err *reterr);

/* ---- seccomp (ctr_seccomp.c) ---- */

struct ctr_seccomp {
	struct sock_filter *prog; /* NULL: no filter */
	unsigned short len;
	unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
};

/* Translate an OCI profile into a BPF program with libseccomp (NULL or no default action ->
 * no filter). */
int ctr_seccomp_compile(const Grpc__LinuxSeccomp *s, struct ctr_seccomp *ret,
                        struct agent_err *reterr);
int ctr_seccomp_copy(const struct ctr_seccomp *s, struct ctr_seccomp *ret);
void ctr_seccomp_clear(struct ctr_seccomp *s);
/* Child side: install the filter (0 or -errno). */
int ctr_seccomp_load(const struct ctr_seccomp *s);

/* ---- users (ctr_user.c) ---- */

struct ctr_user {
	uid_t uid;
	gid_t gid;
	gid_t *groups; /* supplementary, malloc'd */
	size_t n_groups;
	char *home; /* from passwd, or NULL */
};

struct ctr_pwent {
	char *name;
	uid_t uid;
	gid_t gid;
	char *home;
};

/*
 * Look a user up in the text of an /etc/passwd: by name when name != NULL, else by uid.
 * Malformed lines (wrong field count, non-numeric ids, ids beyond 2^32-2) are skipped.
 * -ENOENT if not found.  The strings in *ret are malloc'd (free with ctr_pwent_clear).
 */
int ctr_passwd_lookup(const char *text, const char *name, uid_t uid, struct ctr_pwent *ret);
void ctr_pwent_clear(struct ctr_pwent *e);
/* A group's gid by name from /etc/group text: -ENOENT if not found. */
int ctr_group_lookup(const char *text, const char *name, gid_t *ret_gid);
/* Append the gids of every group whose member list names user (no duplicates). */
int ctr_group_memberships(const char *text, const char *user, gid_t **groups, size_t *n);
/* Resolve Process.User against rootfs/etc/{passwd,group} (files may be absent). */
int ctr_user_resolve(const char *rootfs, const Grpc__User *u, struct ctr_user *ret,
                     struct agent_err *reterr);
void ctr_user_clear(struct ctr_user *u);

/* ---- mounts (ctr_mount.c) ---- */

enum ctr_mount_kind { CTR_MNT_FS, CTR_MNT_BIND, CTR_MNT_CGROUP2, CTR_MNT_CGROUP1 };

struct ctr_mount {
	enum ctr_mount_kind kind;
	char *source, *dest, *fstype, *data; /* data NULL when empty */
	unsigned long flags;                 /* MS_* for mount(2); MS_BIND[|MS_REC] for binds */
	unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE [|MS_REC] */
};

/*
 * Parse OCI mount options into mount(2) flags, propagation flags and the data string
 * (unknown options, comma-joined, NULL if none).  "bind"/"rbind" set MS_BIND[|MS_REC].
 * Clearing options ("rw", "suid", ...) remove the flag.  Returns 0 or -EINVAL with a message.
 */
int ctr_mount_options(char *const *opts, size_t n, unsigned long *ret_flags,
                      unsigned long *ret_propagation, char **ret_data, struct agent_err *reterr);
/* "rslave" etc. for Linux.RootfsPropagation: propagation flags, -EINVAL if unknown. */
int ctr_propagation_from_name(const char *name, unsigned long *ret);
int ctr_mount_from_oci(const Grpc__Mount *m, struct ctr_mount *ret, struct agent_err *reterr);
void ctr_mount_clear(struct ctr_mount *m);

struct ctr_device {
	char *path;  /* absolute, in the container */
	mode_t mode; /* S_IFCHR/S_IFBLK/S_IFIFO | permissions */
	dev_t rdev;
	uid_t uid;
	gid_t gid;
};

/* ---- the prepared configuration ---- */

struct ctr_nsjoin {
	int type; /* CLONE_NEW* */
	char *path;
};

#define CTR_MAX_NSJOIN 8

struct ctr_config {
	/* process */
	char **argv;          /* NULL-terminated */
	char **envp;          /* NULL-terminated */
	const char *path_env; /* PATH value inside envp, or a default */
	char *cwd;
	bool terminal;
	struct ctr_user user;
	bool has_caps;
	struct ctr_caps caps;
	int cap_last;
	struct ctr_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privs;
	int oom_score_adj;
	bool set_oom_score_adj;
	struct ctr_seccomp seccomp;

	/* container (the init only) */
	char *rootfs;
	bool root_readonly;
	char *hostname;       /* NULL: leave */
	unsigned long ns_new; /* CLONE_NEW* to create (pid handled by the parent) */
	bool pid_listed;      /* "pid" namespace entry present */
	struct ctr_nsjoin ns_join[CTR_MAX_NSJOIN]; /* spec entries with a path */
	size_t n_ns_join;
	unsigned long rootfs_propagation; /* applied to / after pivot (0: none) */
	bool rootfs_private;              /* / made rprivate rather than rslave before setup */
	struct ctr_mount *mounts;
	size_t n_mounts;
	char **cg1_controllers; /* cgroup v1: hierarchy dir names under /sys/fs/cgroup */
	size_t n_cg1_controllers;
	struct ctr_device *devices; /* spec devices plus the defaults */
	size_t n_devices;
	char **masked, **readonly;
	size_t n_masked, n_readonly;
	char **sysctl_path, **sysctl_value; /* "/proc/sys/net/ipv4/ip_forward", "1" */
	size_t n_sysctl;
	char *uid_map, *gid_map; /* user namespace maps ("0 1000 1\n"...), NULL if none */
};

/* ---- the child ---- */

/* Scratch space for paths: the child cannot allocate. */
#define CTR_SCRATCH_MAX 8192

struct ctr_child {
	const struct ctr_config *cfg;
	const struct ctr_stdio *io;
	int sock;    /* child end of the channel */
	int proc_fd; /* O_PATH fd of the agent's /proc, opened before any namespace change */
	char path[CTR_SCRATCH_MAX];
	char path2[CTR_SCRATCH_MAX];
	char exe[CTR_SCRATCH_MAX];
	struct agent_err
	    rep; /* sent on the channel: code 0 = ready (create only), else the failure */
};

/* ctr_child.c: the child's side of a spawn, between the clone and the execve. */
/* Record a failure "a b c" with err (positive errno); returns -err. */
int ctr_child_fail(struct ctr_child *ch, int err, const char *a, const char *b, const char *c);
/* Send ch->rep on the channel (a failure, or code 0: ready). */
void ctr_child_send(struct ctr_child *ch);
/* Send the failure recorded in ch->rep and exit. */
_Noreturn void ctr_child_die(struct ctr_child *ch);
/* Parent, before its first clone: note which signals the agent does not leave at default. */
void ctr_signal_scan(void);
/* Default dispositions for those signals, and an empty signal mask. */
void ctr_child_signals(void);
/* stdin/stdout/stderr from io (the pipes or the pty's slave), /dev/null for the rest. */
int ctr_child_stdio(struct ctr_child *ch, const struct ctr_stdio *io, int devnull);
/* Write s to the file at path (a sysctl, oom_score_adj); 0 or -errno. */
int ctr_child_write_str(const char *path, const char *s);
/* The process's oom_score_adj, when the spec sets one. */
int ctr_child_oom(struct ctr_child *ch);
/* The common tail of both spawns: rlimits, early seccomp, the console, cwd, creds,
 * no_new_privs, the binary's lookup. */
int ctr_child_process(struct ctr_child *ch);
/* Late seccomp (with no_new_privs), fds above 2 close-on-exec, execve; reports a failure. */
_Noreturn void ctr_child_exec(struct ctr_child *ch);
/* Child (ctr_cwd.c): chdir to the process's cwd, creating it when missing; refuses one that
 * leaves the container root. */
int ctr_child_cwd(struct ctr_child *ch);

/* ctr_mount.c, child side: everything from the propagation of / to pivot_root and the
 * masked/read-only paths. */
int ctr_child_rootfs(struct ctr_child *ch);
/* ctr_caps.c, child side: bounding set drop, creds switch, capset, ambient. */
int ctr_child_creds(struct ctr_child *ch);

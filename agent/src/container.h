// SPDX-License-Identifier: Apache-2.0
/*
 * container: the runtime library that turns an OCI spec into a running process.
 *
 * No RPC and no event-loop code lives here.  The caller (rpc_container) owns the container and
 * process records, the parent ends of stdio, the cgroup and SIGCHLD reaping; this module only
 *   1. prepares, in the parent, everything the child needs (ctr_config_from_spec/_from_exec):
 *      argv/envp arrays, the mount list with flags already parsed, devices, uid/gid/groups
 *      resolved from the CONTAINER's /etc/passwd and /etc/group, capability masks, rlimits,
 *      the seccomp filter compiled to a BPF program.  All validation errors surface here, with
 *      a message naming the offending field;
 *   2. forks a child that uses raw syscalls only (no malloc, no stdio, no locks:
 * docs/CONTRIBUTING.md, style rule 8) and reports any failure through a CLOEXEC channel before the
 * call returns.
 *
 * Error convention (err.h): functions return 0 or -errno; on failure *reterr (when reterr !=
 * NULL) holds a one-line message such as "exec /bin/nope: ENOENT (No such file or directory)".
 * Nothing is logged here.
 *
 * Children are plain children of the calling process (the agent reaps them through SIGCHLD);
 * no double fork: the pid returned is the final process.  When ctr_create or ctr_exec fails
 * after forking, the child is killed and reaped here (its pid was never handed out); once
 * ctr_create succeeded the pid is the caller's, even when ctr_start fails.  The calls block the
 * (single) caller thread only while the child sets itself up: ctr_create until the init is ready to
 * exec (or failed), ctr_start and ctr_exec until the execve succeeded or failed.  Each wait is
 * bounded by CTR_SETUP_TIMEOUT_MS; on timeout the child is SIGKILLed and -ETIMEDOUT returned.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "err.h"
#include "oci.pb-c.h"

/* Upper bound on how long a child may take between fork and "ready"/execve. */
#define CTR_SETUP_TIMEOUT_MS 30000
/* How long an init SIGKILLed after a failed start may take to leave the agent's memory. */
#define CTR_KILL_WAIT_MS 1000

/*
 * Child-side stdio: the fds become 0, 1, 2 of the process (they are dup'ed in the child; the
 * caller keeps and closes its copies).  -1 = /dev/null (the agent's, opened before any mount
 * namespace change).  When terminal is true, `in` is the pty slave used for all three and made
 * the controlling terminal of a new session (setsid + TIOCSCTTY); out and err are ignored.
 * Every process gets a new session (setsid), terminal or not.
 */
struct ctr_stdio {
	int in, out, err;
	bool terminal;
	/* With terminal and in < 0: the process allocates its pty from the container's own
	 * /dev/ptmx (so ttyname() and `tty` work there, as with runc) and the master is handed
	 * back here; the caller owns it.  NULL otherwise. */
	int *ret_pty_master;
	/* ctr_exec only: cgroup.procs files (open for writing, the caller keeps them) the process
	 * writes "0" to right after the fork, before it joins any namespace, so none of its own
	 * instructions run outside the container's cgroup (device rules, limits).  A failed
	 * write fails the exec. */
	const int *cgroup_procs;
	size_t n_cgroup_procs;
};

/* Everything prepared in the parent from a spec or an exec request.  Opaque. */
struct ctr_config;

/*
 * Prepare the container init from an OCI spec.  rootfs is the guest path of the bundle rootfs
 * (the caller has already mounted/bound it; Spec.Root.Path is NOT used for the path, only
 * Root.Readonly).  Requires Spec.Process with at least one arg, Spec.Root and Spec.Linux:
 * -EINVAL "spec: missing Process" etc.  Unknown capability, rlimit, mount propagation,
 * namespace, seccomp action/operator/arch/flag names are -EINVAL with the name in the message.
 * Hooks, Apparmor, SELinux labels, IntelRdt, Resources (cgroup glue is the caller's) are
 * ignored.  The username (Process.User.Username, "name", "name:group", "uid:gid") is resolved
 * in rootfs/etc/passwd and rootfs/etc/group, opened with RESOLVE_IN_ROOT so symlinks in the
 * image cannot escape; supplementary groups are AdditionalGids plus every group of
 * rootfs/etc/group listing the user by name; HOME comes from passwd when Env lacks it.
 */
int ctr_config_from_spec(const Grpc__Spec *spec, const char *rootfs, struct ctr_config **ret,
                         struct agent_err *reterr);

/*
 * Prepare an exec'd process from ExecProcessRequest.process.  Args, Env, Cwd, User and
 * Terminal come from p.  Capabilities come from p when p->capabilities is set, else from the
 * init.  Rlimits from p when it has any, else from the init.  NoNewPrivileges = p's OR the
 * init's.  OOMScoreAdj from p when non-zero, else the init's.  Seccomp always from the init
 * (the exec request carries none).  Names are resolved in the init's rootfs.
 */
int ctr_config_from_exec(const struct ctr_config *init_cfg, const Grpc__Process *p,
                         struct ctr_config **ret, struct agent_err *reterr);

void ctr_config_free(struct ctr_config *c);

/* The process's terminal flag as given in the spec/exec request (for the caller's pty). */
bool ctr_config_terminal(const struct ctr_config *c);

/*
 * Namespaces for ctr_create to JOIN instead of what the spec asks: fds of /proc/<pid>/ns/<type>
 * or of persistent bind mounts (e.g. /var/run/sandbox-ns/ipc).  -1 = per spec: a namespace type
 * listed in Linux.Namespaces with an empty path is created new, one with a path is joined, one
 * not listed is shared with the agent.  For pid, -1 with no "pid" entry in the spec still
 * creates a new pid namespace (the Kata runtime removes the entry and says sandbox_pidns
 * instead): pass the sandbox's pid namespace fd to share it.  The fds stay the caller's.
 */
struct ctr_ns {
	int ipc_fd, uts_fd, pid_fd, mnt_fd;
};

/* An initialiser with every fd at -1. */
#define CTR_NS_NONE ((struct ctr_ns){.ipc_fd = -1, .uts_fd = -1, .pid_fd = -1, .mnt_fd = -1})

/*
 * The container's init between create and start.  start_fd (O_CLOEXEC) is the parent end of
 * the channel to the init; ctr_start consumes and closes it.  mem: the memory the init runs on
 * (ctr_spawn.c), ours again once it exec'd or exited.  If the container is removed before start,
 * the caller kills pid (SIGKILL), then calls ctr_init_release.
 */
struct ctr_init {
	pid_t pid;
	int start_fd;
	void *mem;
};

/* After the caller SIGKILLed an init that was never started: waits until it left its memory
 * (at most CTR_SETUP_TIMEOUT_MS, else the memory stays mapped), then takes the memory back and
 * closes start_fd.  Safe on a started or empty ctr_init. */
void ctr_init_release(struct ctr_init *init);

/*
 * Create the container init: new namespaces per spec and ns (mount always; pid unless
 * ns->pid_fd joins one; ipc/uts unless joined).  A "user" namespace entry is refused by
 * ctr_config_from_spec (-ENOTSUP) for now.  When ns->mnt_fd joins an existing mount namespace
 * it is taken as already set up: the rootfs steps below are skipped.
 * Then the full setup: / made rslave (rprivate when RootfsPropagation asks private), rootfs
 * bind-mounted on itself, OCI mounts in order, devices and default /dev nodes, sysctls, pivot_root,
 * masked and read-only paths, read-only root, hostname (only when the UTS namespace is new),
 * rlimits, oom_score_adj, no_new_privs, groups/gid/uid, capabilities, cwd; the binary is looked up
 * (PATH from the process Env) in the container's root after pivot and checked executable as
 * the container user.  Then the init blocks until ctr_start.
 * pivot_root never falls back to chroot: on an initramfs root it fails (the agent's init makes
 * "/" a bind mount at boot so pivot_root works).
 * Any failure is reported before this returns: -errno and e.g.
 * "exec /bin/nope: ENOENT (No such file or directory)" or "mount proc on /proc: EPERM (...)".
 * On success *ret holds the pid and the start fd.
 */
int ctr_create(const struct ctr_config *c, const struct ctr_ns *ns, const struct ctr_stdio *io,
               struct ctr_init *ret, struct agent_err *reterr);

/*
 * Release the init to execve.  Waits until the execve succeeded (0) or failed (-errno and a
 * message).  Closes init->start_fd and sets it to -1 in every case.  -ESRCH "container init
 * exited before start" if the init died while waiting for start.
 */
int ctr_start(struct ctr_init *init, struct agent_err *reterr);

/*
 * A container's namespaces held by fd (O_CLOEXEC), in the order an exec joins them: user
 * first (the other joins need its capabilities), mnt last (it moves our root), pid apart (the
 * parent forks into it).  Pinned once, when the init was created and still waits for start:
 * it is our unreaped child then, so its pid cannot name another process, and it has run none
 * of the workload's code, so the namespaces are the ones the agent made.  Every exec joins
 * these, never /proc/<init pid>/ns again: an init that exited (its pid reused) or that moved
 * itself to other namespaces (unshare, setns) cannot choose where an exec lands.  Upstream's
 * agent pins them the same way since 2026-08 (a privilege-escalation fix).
 */
enum {
	CTR_NSFD_USER,
	CTR_NSFD_IPC,
	CTR_NSFD_UTS,
	CTR_NSFD_NET,
	CTR_NSFD_CGROUP,
	CTR_NSFD_MNT,
	CTR_NSFD_PID,
	CTR_NSFD_N
};
struct ctr_nsfds {
	int fd[CTR_NSFD_N]; /* -1: not pinned */
};

/* An initialiser with every fd at -1. */
#define CTR_NSFDS_NONE ((struct ctr_nsfds){.fd = {-1, -1, -1, -1, -1, -1, -1}})

/* Open every namespace of pid (a process the caller knows to be alive and its own unreaped
 * child).  On failure nothing stays open and *reterr names the namespace. */
int ctr_ns_pin(pid_t pid, struct ctr_nsfds *ret, struct agent_err *reterr);
/* Close the pinned fds (safe on CTR_NSFDS_NONE and twice). */
void ctr_ns_unpin(struct ctr_nsfds *ns);

/*
 * Exec into a running container: join every pinned namespace that differs from the caller's
 * (user, ipc, uts, net, cgroup, pid, mnt), chdir cwd, rlimits, oom_score_adj, no_new_privs,
 * groups/gid/uid, capabilities, seccomp, execve.  Returns once the execve succeeded (*ret_pid
 * set) or failed (-errno and a message; the child already reaped).  ns stays the caller's.
 */
int ctr_exec(const struct ctr_config *c, const struct ctr_nsfds *ns, const struct ctr_stdio *io,
             pid_t *ret_pid, struct agent_err *reterr);

/* ^[A-Za-z0-9][A-Za-z0-9_.-]+$, and at most 255 bytes (ids name directories). */
bool ctr_id_valid(const char *id);

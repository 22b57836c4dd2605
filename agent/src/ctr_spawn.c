// SPDX-License-Identifier: Apache-2.0
/*
 * Process creation: fork, set up in the child (ctr_child.c), report through a CLOEXEC channel.
 *
 * The channel is an AF_UNIX SOCK_SEQPACKET pair (CLOEXEC both ends): one record per message,
 * and the parent sees EOF exactly when the child's end closes, i.e. at a successful execve.
 *   create: child -> {err 0} "ready", or {err, msg} on failure; then blocks in read();
 *   start:  parent -> one byte; child -> EOF (exec'd) or {err, msg};
 *   exec:   child -> EOF (exec'd) or {err, msg}.
 *
 * PID namespaces: a process enters a pid namespace only at fork, through the parent's
 * pid_for_children.  The parent (single-threaded agent) therefore sets it (unshare for a new
 * one, setns to join one) right before fork and restores it from /proc/self/ns/pid right after,
 * so the child is the final process: no double fork, and the pid we report is the real one.
 *
 * Memory: the child is a clone(CLONE_VM) of the agent on a stack of its own, not a fork.  A
 * fork write-protects every page of the agent and copies its page tables; the agent then takes a
 * copy-on-write fault on each page it writes until the child execs, the child takes its own, and
 * the child's execve tears the copy down again (in the bench, about a sixth of the CPU of a
 * create+start+wait+remove).  Sharing is safe because the child allocates nothing and writes only
 * its stack and struct child_mem (below), and because the parent is blocked in the channel's
 * poll() whenever the child runs code: during setup, and from start until the execve; between
 * the two the child sleeps in read().  errno is the one thing they share (same thread pointer):
 * the parent reads it only after a failed call, and its poll/recvmsg there do not fail.  The
 * child's memory stays the parent's until the child stopped using it: the channel's EOF, which
 * the kernel gives only after the child's execve replaced its memory or its exit released it.
 * Joining a user or time namespace needs a task whose memory is not shared: those children are
 * forked (clone without CLONE_VM, the same code).
 *
 * Seccomp placement.  With no_new_privs the filter is installed last, right before execve,
 * so the setup syscalls are never filtered.  Without no_new_privs the kernel only accepts a
 * filter from a task holding CAP_SYS_ADMIN, which the process may be about to drop; then the
 * filter is installed before the credential switch, and the profile must allow what follows
 * (setgroups, setres[ug]id, capset, prctl, access/stat for the binary lookup, read/sendmsg on
 * the channel, execve): runc has the same constraint.  The Docker/containerd default profiles
 * allow all of these.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/nsfs.h>

#include "ctr_internal.h"
#include "log.h"
#include "util.h"

struct create_args {
	const struct ctr_stdio *io;
	int devnull;
	int join_fds[CTR_MAX_NSJOIN + 3];
	int join_types[CTR_MAX_NSJOIN + 3];
	size_t n_join;
	unsigned long unshare_flags;
	bool setup_rootfs;
};

static _Noreturn void child_create(struct ctr_child *ch, const struct create_args *a)
{
	const struct ctr_config *c = ch->cfg;
	int r;
	ctr_child_signals();
	if (ctr_child_stdio(ch, a->io, a->devnull) < 0)
		ctr_child_die(ch);
	for (size_t i = 0; i < a->n_join; i++)
		if (setns(a->join_fds[i], a->join_types[i]) < 0) {
			ctr_child_fail(ch, errno, "join namespace", NULL, NULL);
			ctr_child_die(ch);
		}
	if (a->unshare_flags && unshare((int)a->unshare_flags) < 0) {
		ctr_child_fail(ch, errno, "unshare namespaces", NULL, NULL);
		ctr_child_die(ch);
	}
	if ((a->unshare_flags & CLONE_NEWUTS) && c->hostname &&
	    sethostname(c->hostname, strlen(c->hostname)) < 0) {
		ctr_child_fail(ch, errno, "sethostname", c->hostname, NULL);
		ctr_child_die(ch);
	}
	/* /proc/sys acts on the namespaces of the writer: written here, after unshare, through
	 * the agent's /proc, so the spec need not mount /proc, nor leave it writable. */
	for (size_t i = 0; i < c->n_sysctl; i++)
		if ((r = ctr_child_write_str(c->sysctl_path[i], c->sysctl_value[i])) < 0) {
			ctr_child_fail(ch, -r, "sysctl", c->sysctl_path[i] + 10, NULL);
			ctr_child_die(ch);
		}
	if (ctr_child_oom(ch) < 0)
		ctr_child_die(ch);
	umask(0);
	if (a->setup_rootfs && ctr_child_rootfs(ch) < 0)
		ctr_child_die(ch);
	umask(022);
	if (ctr_child_process(ch) < 0)
		ctr_child_die(ch);
	/* Until the start, keep nothing of the agent's but the channel: the copy of the agent's
	 * fd table clone() gave us would hold every pipe end and socket the agent had open, so a
	 * process whose stdin the agent closes would see no EOF while this container waits (the
	 * exec would close them only then).  If a seccomp profile refuses close_range, the exec
	 * still closes them. */
	if (ch->sock > 3)
		(void)syscall(SYS_close_range, 3U, (unsigned)ch->sock - 1, 0U);
	(void)syscall(SYS_close_range, (unsigned)ch->sock + 1, ~0U, 0U);
	/* Ready: wait for ctr_start's byte; EOF means the agent gave up on us. */
	err_clear(&ch->rep);
	ctr_child_send(ch);
	char b;
	ssize_t n;
	do
		n = read(ch->sock, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(1);
	ctr_child_exec(ch);
}

/* ---- the child's memory ---- */

/* What the child uses of the agent's memory: its state, its arguments and, below them, its
 * stack, in one mapping with a guard page under the stack. */
struct child_mem {
	struct ctr_child ch;
	struct create_args a;
	int close_fd; /* the parent's end of the channel, closed first in the child */
	void (*body)(struct ctr_child *ch, const struct create_args *a); /* does not return */
};

#define CHILD_STACK   (256u * 1024u)
#define CHILD_MEM_MAX 4 /* mappings kept for reuse */

static void *mem_free[CHILD_MEM_MAX];
static size_t n_mem_free;

static size_t mem_page(void)
{
	static size_t page;
	if (!page)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

/* Guard page, stack, struct child_mem: the struct's address is the stack's top. */
static size_t mem_len(void)
{
	size_t page = mem_page();
	return page + CHILD_STACK + (sizeof(struct child_mem) + page - 1) / page * page;
}

static struct child_mem *mem_of(void *base)
{
	return (struct child_mem *)((char *)base + mem_page() + CHILD_STACK);
}

static void *mem_base(struct child_mem *m)
{
	return (char *)m - CHILD_STACK - mem_page();
}

static struct child_mem *mem_get(void)
{
	void *base;
	if (n_mem_free > 0) {
		base = mem_free[--n_mem_free];
	} else {
		base = mmap(NULL, mem_len(), PROT_READ | PROT_WRITE,
		            MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (base == MAP_FAILED)
			return NULL;
		if (mprotect(base, mem_page(), PROT_NONE) < 0) {
			munmap(base, mem_len());
			return NULL;
		}
	}
	struct child_mem *m = mem_of(base);
	memset(m, 0, sizeof(*m));
	return m;
}

/* Only once the child no longer runs on it (child_gone, or reaped). */
static void mem_put(struct child_mem *m)
{
	if (!m)
		return;
	if (n_mem_free < CHILD_MEM_MAX)
		mem_free[n_mem_free++] = mem_base(m);
	else
		munmap(mem_base(m), mem_len());
}

/* Wait until the child's end of the channel fd closed (the child exec'd or exited, so it left
 * our memory), skipping any record still queued.  false: not within timeout_ms. */
static bool child_gone(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (;;) {
		int n = poll(&p, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		char buf[sizeof(struct agent_err)];
		ssize_t k = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return true;
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			return false;
	}
}

static int child_entry(void *arg)
{
	struct child_mem *m = arg;
	close(m->close_fd);
	m->body(&m->ch, &m->a);
	_exit(127);
}

/* ---- parent ---- */

/* The child's failure, with the errno's name and text added on the parent side. */
static int format_report(const struct agent_err *rep, struct agent_err *reterr)
{
	char msg[AGENT_ERR_MAX + 1];
	memcpy(msg, rep->msg, AGENT_ERR_MAX);
	msg[AGENT_ERR_MAX] = '\0';
	int code = rep->code < 0 && rep->code > -4096 ? rep->code : -EIO;
	const char *name = err_errno_name(-code);
	return err_msg(reterr, code, "%s: %s (%s)", msg, name ? name : "error", strerror(-code));
}

/* Receive one record; an fd passed with it (the pty master) is stored in *ret_fd (the caller
 * closes it), else *ret_fd is left alone. */
static ssize_t recv_report(int fd, struct agent_err *rep, int *ret_fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = rep, .iov_len = sizeof(*rep)};
	struct msghdr m = {.msg_iov = &iov,
	                   .msg_iovlen = 1,
	                   .msg_control = u.buf,
	                   .msg_controllen = sizeof(u.buf)};
	ssize_t k = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *c = k > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int got;
			memcpy(&got, CMSG_DATA(c), sizeof(int));
			if (ret_fd && *ret_fd < 0)
				*ret_fd = got;
			else
				close(got);
		}
	return k;
}

/* Wait for one record or EOF: 1 = record in *rep, 0 = EOF, <0 = error/timeout.  A record that
 * carries the pty master (io->ret_pty_master) is taken and the wait goes on. */
static int read_report(int fd, struct agent_err *rep, const struct ctr_stdio *io)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (;;) {
		int n = poll(&p, 1, CTR_SETUP_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		memset(rep, 0, sizeof(*rep));
		int pty = -1;
		ssize_t k = recv_report(fd, rep, &pty);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno == ECONNRESET ? 0 : -errno;
		if (pty >= 0) {
			if (io && io->ret_pty_master && *io->ret_pty_master < 0) {
				*io->ret_pty_master = pty;
				continue;
			}
			close(pty);
		}
		return k == 0 ? 0 : 1;
	}
}

static void kill_reap(pid_t pid)
{
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Start the child (child_entry on m) in the pid namespace pidns_fd (-1: a new one when
 * new_pidns, else the caller's); with share_vm it runs in our memory (CLONE_VM), else in a copy.
 * *ret_pid: the child's pid. */
static int clone_in_pidns(int pidns_fd, bool new_pidns, struct child_mem *m, bool share_vm,
                          pid_t *ret_pid, struct agent_err *reterr)
{
	_cleanup_close_ int self = -1;
	ctr_signal_scan();
	if (pidns_fd >= 0 || new_pidns) {
		self = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (self < 0)
			return err_set(reterr, -errno, "open /proc/self/ns/pid");
		int r = pidns_fd >= 0 ? setns(pidns_fd, CLONE_NEWPID) : unshare(CLONE_NEWPID);
		if (r < 0)
			return err_set(reterr, -errno,
			               pidns_fd >= 0 ? "join pid namespace" : "new pid namespace");
	}
	/* The stack grows down from the struct (page-aligned). */
	pid_t pid = clone(child_entry, m, SIGCHLD | (share_vm ? CLONE_VM : 0), m, NULL, NULL, NULL);
	int clone_errno = errno;
	/* Must not fail: otherwise every later child of the agent lands in the container's
	 * pid namespace.  It cannot fail for our own active namespace with CAP_SYS_ADMIN. */
	if (self >= 0)
		(void)setns(self, CLONE_NEWPID);
	if (pid < 0)
		return err_set(reterr, -clone_errno, "clone");
	*ret_pid = pid;
	return 0;
}

/* Joining a user or time namespace needs a task whose memory nobody else uses. */
static bool can_share_vm(const struct create_args *a)
{
	if (a->unshare_flags & CLONE_NEWUSER)
		return false;
	for (size_t i = 0; i < a->n_join; i++)
		if (a->join_types[i] == CLONE_NEWUSER || a->join_types[i] == CLONE_NEWTIME)
			return false;
	return true;
}

static int open_ns(const char *path, int *ret, struct agent_err *reterr)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(reterr, -errno, "open namespace %s", path);
	*ret = fd;
	return 0;
}

static const char *ns_type_name(int type)
{
	switch (type) {
	case CLONE_NEWPID:
		return "pid";
	case CLONE_NEWNET:
		return "network";
	case CLONE_NEWNS:
		return "mount";
	case CLONE_NEWIPC:
		return "ipc";
	case CLONE_NEWUTS:
		return "uts";
	case CLONE_NEWUSER:
		return "user";
	case CLONE_NEWCGROUP:
		return "cgroup";
	case CLONE_NEWTIME:
		return "time";
	default:
		return "unknown";
	}
}

/* Open a namespace named by a spec path and make sure it is of the type the spec says: setns()
 * with the wrong type would only fail later, in the child, and for a pid namespace the path is
 * used by the parent itself (fork_in_pidns).  NS_GET_NSTYPE (Linux 4.11) names the type of any
 * nsfs file, pid_for_children included. */
static int open_ns_typed(const char *path, int type, int *ret, struct agent_err *reterr)
{
	_cleanup_close_ int fd = -1;
	int r = open_ns(path, &fd, reterr);
	if (r < 0)
		return r;
	int got = ioctl(fd, NS_GET_NSTYPE);
	if (got < 0)
		return err_set(reterr, -EINVAL, "namespace %s: not a namespace file (%s)", path,
		               strerror(errno));
	if (got != type)
		return err_set(reterr, -EINVAL, "namespace %s is a %s namespace, not %s", path,
		               ns_type_name(got), ns_type_name(type));
	*ret = TAKE_FD(fd);
	return 0;
}

struct ns_given {
	int fd, type;
};

static int ns_given_fd(const struct ns_given *g, size_t n, int type)
{
	for (size_t i = 0; i < n; i++)
		if (g[i].type == type)
			return g[i].fd;
	return -1;
}

/* What both spawns need before the clone: /dev/null for unused stdio, the child's report
 * channel and its memory.  On success the caller owns *ret_devnull, sv[0] and *ret_m (sv[1] is
 * in it). */
static int child_prepare(const struct ctr_config *c, int *ret_devnull, int sv[2],
                         struct child_mem **ret_m, struct agent_err *reterr)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return err_set(reterr, -errno, "open /dev/null");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		int r = err_set(reterr, -errno, "socketpair");
		close(devnull);
		return r;
	}
	struct child_mem *m = mem_get();
	if (!m) {
		close(sv[0]);
		close(sv[1]);
		close(devnull);
		return err_set(reterr, -ENOMEM, "the child's stack");
	}
	m->ch.cfg = c;
	m->ch.sock = sv[1];
	m->ch.proc_fd = -1;
	m->close_fd = sv[0];
	*ret_devnull = devnull;
	*ret_m = m;
	return 0;
}

/* The namespaces the init joins (the spec's paths, then the sandbox's) and those it unshares.
 * Every fd opened from a spec path goes to owned[] (the caller closes them, also on failure); a
 * pid namespace path goes to *ret_pidns instead. */
static int create_ns_plan(const struct ctr_config *c, const struct ctr_ns *ns,
                          struct create_args *a, int *owned, size_t *n_owned, int *ret_pidns,
                          struct agent_err *reterr)
{
	const struct ns_given given[] = {
	    {ns->ipc_fd, CLONE_NEWIPC}, {ns->uts_fd, CLONE_NEWUTS}, {ns->mnt_fd, CLONE_NEWNS}};
	a->unshare_flags = c->ns_new;
	for (size_t i = 0; i < c->n_ns_join; i++) {
		int type = c->ns_join[i].type, fd = -1;
		int r = open_ns_typed(c->ns_join[i].path, type, &fd, reterr);
		if (r < 0)
			return r;
		if (type == CLONE_NEWPID) {
			if (*ret_pidns >= 0) {
				close(fd);
				return err_set(reterr, -EINVAL,
				               "namespaces: more than one pid path");
			}
			*ret_pidns = fd;
			continue;
		}
		owned[(*n_owned)++] = fd;
		/* The sandbox's namespace of this type (ipc, uts) replaces the spec's path, as
		 * upstream's agent does: every container of a pod shares them. */
		if (ns_given_fd(given, ARRAY_SIZE(given), type) >= 0) {
			log_info("container", "namespaces: %s path %s replaced by the sandbox's",
			         ns_type_name(type), c->ns_join[i].path);
			continue;
		}
		a->join_fds[a->n_join] = fd;
		a->join_types[a->n_join++] = type;
		a->unshare_flags &= ~(unsigned long)type;
	}
	for (size_t i = 0; i < ARRAY_SIZE(given); i++) {
		if (given[i].fd < 0)
			continue;
		a->join_fds[a->n_join] = given[i].fd;
		a->join_types[a->n_join++] = given[i].type;
		a->unshare_flags &= ~(unsigned long)given[i].type;
	}
	/* A mount namespace that is joined was set up already: leave it as it is. */
	a->setup_rootfs = ns->mnt_fd < 0;
	return 0;
}

/* Wait for the forked init to report ready: it keeps fd (for ctr_start) in *ret.  Otherwise
 * the init is killed and reaped, and its report (or why there is none) becomes the error. */
static int create_wait(pid_t pid, int fd, struct child_mem *m, const struct ctr_stdio *io,
                       struct ctr_init *ret, struct agent_err *reterr)
{
	struct agent_err rep;
	int r = read_report(fd, &rep, io);
	if (r == 1 && rep.code == 0) {
		ret->pid = pid;
		ret->start_fd = fd;
		ret->mem = m;
		return 0;
	}
	close(fd);
	kill_reap(pid);
	mem_put(m);
	if (r == 1)
		return format_report(&rep, reterr);
	if (r == 0)
		return err_set(reterr, -ECHILD, "container init exited during setup");
	return err_set(reterr, r, "waiting for the container init");
}

int ctr_create(const struct ctr_config *c, const struct ctr_ns *ns, const struct ctr_stdio *io,
               struct ctr_init *ret, struct agent_err *reterr)
{
	struct ctr_ns none = CTR_NS_NONE;
	if (!ns)
		ns = &none;
	if (!c->rootfs || !c->mounts)
		return err_set(reterr, -EINVAL, "create: not a container init configuration");
	struct create_args a = {.io = io, .devnull = -1, .setup_rootfs = true};
	_cleanup_close_ int spec_pidns = -1;
	int owned[CTR_MAX_NSJOIN];
	size_t n_owned = 0;
	_cleanup_close_ int devnull = -1;
	struct child_mem *m = NULL;
	int sv[2];

	int r = create_ns_plan(c, ns, &a, owned, &n_owned, &spec_pidns, reterr);
	if (r >= 0)
		r = child_prepare(c, &devnull, sv, &m, reterr);
	if (r >= 0) {
		int pidns_fd = ns->pid_fd >= 0 ? ns->pid_fd : spec_pidns;
		pid_t pid = -1;
		a.devnull = devnull;
		m->ch.io = io;
		m->a = a;
		m->body = child_create;
		r = clone_in_pidns(pidns_fd, pidns_fd < 0, m, can_share_vm(&a), &pid, reterr);
		close(sv[1]);
		if (r < 0) {
			close(sv[0]);
			mem_put(m);
		} else {
			r = create_wait(pid, sv[0], m, io, ret, reterr);
		}
	}
	for (size_t i = 0; i < n_owned; i++)
		close(owned[i]);
	return r;
}

void ctr_init_release(struct ctr_init *init)
{
	int fd = TAKE_FD(init->start_fd);
	struct child_mem *m = TAKE_PTR(init->mem);
	if (m && fd >= 0 && child_gone(fd, CTR_SETUP_TIMEOUT_MS))
		mem_put(m);
	else if (m)
		log_warn("container", "an init did not exit after SIGKILL: its stack stays mapped");
	if (fd >= 0)
		close(fd);
}

int ctr_start(struct ctr_init *init, struct agent_err *reterr)
{
	int fd = TAKE_FD(init->start_fd);
	struct child_mem *m = TAKE_PTR(init->mem);
	if (fd < 0)
		return err_set(reterr, -EBADF, "start: container init already started");
	int r;
	if (send(fd, "S", 1, MSG_NOSIGNAL) != 1) {
		r = -errno;
		/* EPIPE/ECONNRESET: the child's end is closed, it left our memory. */
		if (r == -EPIPE || r == -ECONNRESET || child_gone(fd, CTR_SETUP_TIMEOUT_MS))
			mem_put(m);
		close(fd);
		return err_set(reterr, r == -EPIPE || r == -ECONNRESET ? -ESRCH : r,
		               "container init exited before start");
	}
	struct agent_err rep;
	r = read_report(fd, &rep, NULL);
	/* EOF: exec'd (or dead).  A report: the child exits right after sending it.  No answer:
	 * the start failed, so the init must not run later on its own (it still shares our
	 * memory): kill it, and take the memory back once it is gone. */
	if (r < 0 && init->pid > 0)
		kill(init->pid, SIGKILL);
	if (r == 0 || (r == 1 && child_gone(fd, CTR_SETUP_TIMEOUT_MS)) ||
	    (r < 0 && child_gone(fd, CTR_KILL_WAIT_MS)))
		mem_put(m);
	else if (r < 0)
		log_warn("container", "an init did not exit after SIGKILL: its stack stays mapped");
	close(fd);
	if (r == 0)
		return 0;
	if (r == 1)
		return format_report(&rep, reterr);
	return err_set(reterr, r, "waiting for the container init to exec");
}

static const struct {
	const char *name;
	int type;
} exec_ns[CTR_NSFD_N] = {
    [CTR_NSFD_USER] = {"user", CLONE_NEWUSER},       [CTR_NSFD_IPC] = {"ipc", CLONE_NEWIPC},
    [CTR_NSFD_UTS] = {"uts", CLONE_NEWUTS},          [CTR_NSFD_NET] = {"net", CLONE_NEWNET},
    [CTR_NSFD_CGROUP] = {"cgroup", CLONE_NEWCGROUP}, [CTR_NSFD_MNT] = {"mnt", CLONE_NEWNS},
    [CTR_NSFD_PID] = {"pid", CLONE_NEWPID},
};

void ctr_ns_unpin(struct ctr_nsfds *ns)
{
	for (size_t i = 0; i < CTR_NSFD_N; i++)
		if (ns->fd[i] >= 0) {
			close(ns->fd[i]);
			ns->fd[i] = -1;
		}
}

int ctr_ns_pin(pid_t pid, struct ctr_nsfds *ret, struct agent_err *reterr)
{
	struct ctr_nsfds ns = CTR_NSFDS_NONE;
	for (size_t i = 0; i < CTR_NSFD_N; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, exec_ns[i].name);
		int r = open_ns(path, &ns.fd[i], reterr);
		if (r < 0) {
			ctr_ns_unpin(&ns);
			return r;
		}
	}
	*ret = ns;
	return 0;
}

static bool same_ns(int fd, const char *self_path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(self_path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

/* Is the pinned namespace i one the agent is in already (nothing to join)? */
static bool ns_is_ours(const struct ctr_nsfds *ns, size_t i)
{
	char self[32];
	snprintf(self, sizeof(self), "/proc/self/ns/%s", exec_ns[i].name);
	return same_ns(ns->fd[i], self);
}

static _Noreturn void child_exec_into(struct ctr_child *ch, const struct create_args *a)
{
	for (size_t i = 0; a->io && i < a->io->n_cgroup_procs; i++)
		if (write(a->io->cgroup_procs[i], "0", 1) != 1) {
			ctr_child_fail(ch, errno, "join the container's cgroup", NULL, NULL);
			ctr_child_die(ch);
		}
	ctr_child_signals();
	if (ctr_child_stdio(ch, a->io, a->devnull) < 0 || ctr_child_oom(ch) < 0)
		ctr_child_die(ch);
	for (size_t i = 0; i < a->n_join; i++)
		if (setns(a->join_fds[i], a->join_types[i]) < 0) {
			ctr_child_fail(ch, errno, "join namespace of the container", NULL, NULL);
			ctr_child_die(ch);
		}
	if (ctr_child_process(ch) < 0)
		ctr_child_die(ch);
	ctr_child_exec(ch);
}

int ctr_exec(const struct ctr_config *c, const struct ctr_nsfds *ns, const struct ctr_stdio *io,
             pid_t *ret_pid, struct agent_err *reterr)
{
	struct create_args a = {.io = io, .devnull = -1};
	_cleanup_close_ int devnull = -1;

	for (size_t i = 0; i < CTR_NSFD_N; i++)
		if (ns->fd[i] < 0)
			return err_set(reterr, -EBADF,
			               "exec: the container's %s namespace is not held",
			               exec_ns[i].name);
	/* The fds stay ns's: the child only setns()es them (they are O_CLOEXEC). */
	for (size_t i = 0; i < CTR_NSFD_N; i++) {
		if (i == CTR_NSFD_PID || ns_is_ours(ns, i))
			continue;
		a.join_fds[a.n_join] = ns->fd[i];
		a.join_types[a.n_join++] = exec_ns[i].type;
	}
	int pidns = ns_is_ours(ns, CTR_NSFD_PID) ? -1 : ns->fd[CTR_NSFD_PID];
	int sv[2];
	struct child_mem *m = NULL;
	int r = child_prepare(c, &devnull, sv, &m, reterr);
	if (r < 0)
		return r;
	a.devnull = devnull;
	m->ch.io = io;
	m->a = a;
	m->body = child_exec_into;
	pid_t pid = -1;
	r = clone_in_pidns(pidns, false, m, can_share_vm(&a), &pid, reterr);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		mem_put(m);
		return r;
	}
	struct agent_err rep;
	r = read_report(sv[0], &rep, io);
	close(sv[0]);
	if (r == 0) {
		mem_put(m);
		*ret_pid = pid;
		return 0;
	}
	kill_reap(pid);
	mem_put(m);
	return r == 1 ? format_report(&rep, reterr)
	              : err_set(reterr, r, "waiting for the exec'd process");
}

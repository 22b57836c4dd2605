// SPDX-License-Identifier: Apache-2.0
/*
 * The child side of process creation (ctr_spawn.c): what runs between the clone and the
 * execve, in the agent's memory when the clone shares it.  Raw syscalls only, no allocation;
 * failures are recorded in struct ctr_child and sent on the report channel (ctr_child_die).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr_internal.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

int ctr_child_fail(struct ctr_child *ch, int err, const char *a, const char *b, const char *c)
{
	return err_set_raw(&ch->rep, -(err ? err : EIO), a, b, c);
}

void ctr_child_send(struct ctr_child *ch)
{
	(void)send(ch->sock, &ch->rep, sizeof(ch->rep), MSG_NOSIGNAL);
}

_Noreturn void ctr_child_die(struct ctr_child *ch)
{
	ctr_child_send(ch);
	_exit(127);
}

/* The signals whose disposition in the agent is not the default: SIGPIPE (ignored), and any
 * the agent inherited ignored (a shell's background job ignores SIGINT and SIGQUIT; make, a
 * glibc program, can hand down 32 and 33).  Read by the parent before its first fork
 * (ctr_signal_scan), so that a child resets only these: one call each instead of one for each
 * of the 64 signals.  The agent sets dispositions only at startup, before any container.
 * Through the raw syscall: musl's sigaction() and sigaddset() refuse 32-34 (its own), which
 * left those ignored in containers.  A zeroed kernel sigaction is SIG_DFL on every arch. */
static uint64_t sig_changed; /* bit s-1: signal s */
static bool sig_scanned;

static long k_sigaction(int sig, bool set_default, unsigned long *old_handler)
{
	unsigned long dfl[4] = {0}, old[4] = {0};
	long r = syscall(SYS_rt_sigaction, sig, set_default ? dfl : NULL, old_handler ? old : NULL,
	                 (size_t)8);
	if (old_handler)
		*old_handler = old[0];
	return r;
}

void ctr_signal_scan(void)
{
	if (sig_scanned)
		return;
	sig_changed = 0;
	for (int s = 1; s <= 64; s++) {
		unsigned long h;
		if (s != SIGKILL && s != SIGSTOP && k_sigaction(s, false, &h) == 0 &&
		    h != (unsigned long)SIG_DFL)
			sig_changed |= UINT64_C(1) << (s - 1);
	}
	sig_scanned = true;
}

/* Signals: the agent blocks SIGCHLD (signalfd) and ignores SIGPIPE; neither may leak. */
void ctr_child_signals(void)
{
	for (int s = 1; s <= 64; s++)
		if (s != SIGKILL && s != SIGSTOP &&
		    (!sig_scanned || (sig_changed & (UINT64_C(1) << (s - 1)))))
			(void)k_sigaction(s, true, NULL);
	sigset_t none;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

int ctr_child_stdio(struct ctr_child *ch, const struct ctr_stdio *io, int devnull)
{
	if (setsid() < 0)
		return ctr_child_fail(ch, errno, "setsid", NULL, NULL);
	int src[3] = {io->in, io->out, io->err};
	if (io->terminal)
		src[1] = src[2] = io->in; /* -1 (devnull) until child_pty when allocated inside */
	int tmp[3];
	for (int i = 0; i < 3; i++) {
		int s = src[i] >= 0 ? src[i] : devnull;
		tmp[i] = fcntl(s, F_DUPFD_CLOEXEC, 3);
		if (tmp[i] < 0)
			return ctr_child_fail(ch, errno, "stdio", NULL, NULL);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(tmp[i], i) < 0)
			return ctr_child_fail(ch, errno, "stdio", NULL, NULL);
	if (io->terminal && io->in >= 0 && ioctl(0, TIOCSCTTY, 0) < 0)
		return ctr_child_fail(ch, errno, "set controlling terminal", NULL, NULL);
	return 0;
}

/* Send the pty master to the parent as a record with code 0 and the fd attached. */
static int child_send_fd(struct ctr_child *ch, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	memset(&u, 0, sizeof(u));
	err_clear(&ch->rep);
	struct iovec iov = {.iov_base = &ch->rep, .iov_len = sizeof(ch->rep)};
	struct msghdr m = {.msg_iov = &iov,
	                   .msg_iovlen = 1,
	                   .msg_control = u.buf,
	                   .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(ch->sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* A pty from the container's own devpts (runc does the same): /dev/ptmx as the container sees
 * it, the slave opened from the master itself (TIOCGPTPEER, no path lookup in a tree the
 * container controls), made stdio and the controlling terminal; the master goes to the agent. */
static int child_pty(struct ctr_child *ch)
{
	const struct ctr_stdio *io = ch->io;
	if (!io->terminal || io->in >= 0 || !io->ret_pty_master)
		return 0;
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return ctr_child_fail(ch, errno, "open /dev/ptmx in the container", NULL, NULL);
	int unlock = 0;
	int s = ioctl(m, TIOCSPTLCK, &unlock) < 0 ? -1 : ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY);
	if (s < 0) {
		int e = errno;
		close(m);
		return ctr_child_fail(ch, e, "open the pty slave", NULL, NULL);
	}
	int r = 0;
	for (int i = 0; i < 3 && r == 0; i++)
		if (dup2(s, i) < 0)
			r = ctr_child_fail(ch, errno, "pty stdio", NULL, NULL);
	close(s);
	if (r == 0 && ioctl(0, TIOCSCTTY, 0) < 0)
		r = ctr_child_fail(ch, errno, "set controlling terminal", NULL, NULL);
	if (r == 0 && (r = child_send_fd(ch, m)) < 0)
		r = ctr_child_fail(ch, -r, "hand the pty to the agent", NULL, NULL);
	close(m);
	return r;
}

int ctr_child_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, s, strlen(s));
	int r = n < 0 ? -errno : 0;
	close(fd);
	return r;
}

int ctr_child_oom(struct ctr_child *ch)
{
	const struct ctr_config *c = ch->cfg;
	if (!c->set_oom_score_adj)
		return 0;
	char buf[16];
	int v = c->oom_score_adj, n = 0;
	unsigned u = (unsigned)(v < 0 ? -v : v);
	char digits[12];
	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t len = 0;
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = digits[--n];
	buf[len] = '\0';
	int r = ctr_child_write_str("/proc/self/oom_score_adj", buf);
	return r < 0 ? ctr_child_fail(ch, -r, "write oom_score_adj", buf, NULL) : 0;
}

/* rlimits before the uid change: raising a hard limit needs CAP_SYS_RESOURCE. */
static int child_rlimits(struct ctr_child *ch)
{
	const struct ctr_config *c = ch->cfg;
	for (size_t i = 0; i < c->n_rlimits; i++)
		if (syscall(SYS_prlimit64, 0, c->rlimits[i].resource, &c->rlimits[i].lim, NULL) < 0)
			return ctr_child_fail(ch, errno, "setrlimit", NULL, NULL);
	return 0;
}

static bool executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return false;
	if (!S_ISREG(st.st_mode)) {
		errno = EACCES;
		return false;
	}
	return access(path, X_OK) == 0;
}

/* execvp's lookup, done before the start so a missing binary fails the create. */
static int child_find_exe(struct ctr_child *ch)
{
	const char *arg0 = ch->cfg->argv[0];
	char *exe = ch->exe;
	exe[0] = '\0';
	if (strchr(arg0, '/')) {
		err_cat(exe, sizeof(ch->exe), arg0);
		return executable(exe) ? 0 : ctr_child_fail(ch, errno, "exec", arg0, NULL);
	}
	int first_err = ENOENT;
	for (const char *p = ch->cfg->path_env;;) {
		size_t len = strcspn(p, ":");
		exe[0] = '\0';
		if (len + strlen(arg0) + 2 < sizeof(ch->exe)) {
			memcpy(exe, p, len);
			exe[len] = '\0';
			if (len == 0)
				err_cat(exe, sizeof(ch->exe), ".");
			err_cat(exe, sizeof(ch->exe), "/");
			err_cat(exe, sizeof(ch->exe), arg0);
			if (executable(exe))
				return 0;
			if (errno != ENOENT && errno != ENOTDIR && first_err == ENOENT)
				first_err = errno;
		}
		p += len;
		if (!*p)
			break;
		p++;
	}
	return ctr_child_fail(ch, first_err, "exec", arg0, NULL);
}

/* The common tail: rlimits, early seccomp, creds, nnp, cwd, lookup. */
int ctr_child_process(struct ctr_child *ch)
{
	const struct ctr_config *c = ch->cfg;
	int r;
	if ((r = child_rlimits(ch)) < 0)
		return r;
	if (!c->no_new_privs && (r = ctr_seccomp_load(&c->seccomp)) < 0)
		return ctr_child_fail(ch, -r, "load seccomp filter", NULL, NULL);
	if ((r = child_pty(ch)) < 0)
		return r;
	/* Before the credential switch: a missing cwd is created with root's rights. */
	if ((r = ctr_child_cwd(ch)) < 0)
		return r;
	if ((r = ctr_child_creds(ch)) < 0)
		return r;
	if (c->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ctr_child_fail(ch, errno, "prctl PR_SET_NO_NEW_PRIVS", NULL, NULL);
	return child_find_exe(ch);
}

_Noreturn void ctr_child_exec(struct ctr_child *ch)
{
	const struct ctr_config *c = ch->cfg;
	int r;
	if (c->no_new_privs && (r = ctr_seccomp_load(&c->seccomp)) < 0) {
		ctr_child_fail(ch, -r, "load seccomp filter", NULL, NULL);
		ctr_child_die(ch);
	}
	(void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(ch->exe, c->argv, c->envp);
	ctr_child_fail(ch, errno, "exec", c->argv[0], NULL);
	ctr_child_die(ch);
}

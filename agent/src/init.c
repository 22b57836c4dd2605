// SPDX-License-Identifier: Apache-2.0
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cgroup.h"
#include "log.h"
#include "util.h"

static init_child_exit_fn child_exit_fns[8];
static size_t n_child_exit_fns;

/* docs/PROTOCOL.md §5.3 step 2; devtmpfs may already be mounted by CONFIG_DEVTMPFS_MOUNT. */
const struct init_mount init_mounts[] = {
    {"proc", "proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false},
    {"sysfs", "sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false},
    {"devtmpfs", "dev", "/dev", MS_NOSUID, "mode=0755", true},
    {"tmpfs", "tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "mode=1777", false},
    {"devpts", "devpts", "/dev/pts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620",
     false},
    {"tmpfs", "tmpfs", "/run", MS_NOSUID | MS_NODEV, "mode=0755", false},
};
const size_t init_mounts_len = ARRAY_SIZE(init_mounts);

int init_mount_table(const struct init_mount *tbl, size_t n,
                     int (*do_mount)(const struct init_mount *, void *),
                     int (*do_mkdir)(const char *, void *), void *ud,
                     const struct init_mount **ret_failed)
{
	for (size_t i = 0; i < n; i++) {
		const struct init_mount *m = &tbl[i];
		int r = do_mkdir(m->target, ud);
		if (r < 0 && r != -EEXIST)
			goto fail;
		r = do_mount(m, ud);
		if (r == -EBUSY || r == 0)
			continue;
	fail:
		if (m->optional) {
			log_warn("init", "mount %s on %s: %s (continuing)", m->fstype, m->target,
			         strerror(-r));
			continue;
		}
		if (ret_failed)
			*ret_failed = m;
		return r;
	}
	return 0;
}

static int sys_mount(const struct init_mount *m, void *ud)
{
	return mount(m->source, m->target, m->fstype, m->flags, m->data) < 0 ? -errno : 0;
}

static int sys_mkdir(const char *path, void *ud)
{
	return mkdir(path, 0755) < 0 ? -errno : 0;
}

void init_hostname_from(const char *text, char *buf, size_t size)
{
	const char *s = text ? text : "";
	s += strspn(s, " \t\r\n");
	size_t n = strcspn(s, " \t\r\n");
	if (n == 0 || n >= size || n > 64) {
		snprintf(buf, size, "localhost");
		return;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
}

static void set_hostname(void)
{
	_cleanup_free_ char *text = NULL;
	char name[65];
	read_file("/etc/hostname", 256, &text);
	init_hostname_from(text, name, sizeof(name));
	if (sethostname(name, strlen(name)) < 0)
		log_warn("init", "sethostname %s: %s", name, strerror(errno));
}

static void loopback_up(void)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("init", "bringing lo up: socket: %s", strerror(errno));
		return;
	}
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0))
		log_warn("init", "bringing lo up: %s", strerror(errno));
}

/*
 * pivot_root(2) refuses to move a root mount that has no parent, and the initramfs ("rootfs")
 * is the top of the mount tree.  Bind-mounting it onto a directory and moving that mount over
 * "/" (what switch_root does with a real root) gives us a root that has a parent, so container
 * setup can pivot_root instead of falling back to chroot.  Done before any other mount so the
 * non-recursive bind carries nothing but the archive's files.
 */
static void make_root_pivotable(void)
{
	struct statfs sfs;
	if (statfs("/", &sfs) < 0 || (sfs.f_type != RAMFS_MAGIC && sfs.f_type != TMPFS_MAGIC))
		return;
	static const char dir[] = "/.kata-root";
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto fail;
	if (mount("/", dir, NULL, MS_BIND, NULL) < 0)
		goto fail;
	if (chdir(dir) < 0 || mount(dir, "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		goto fail;
	rmdir(dir); /* the empty mount point, seen from inside the new root */
	return;
fail:
	log_warn("init", "cannot re-root the initramfs (%s): containers will fail to pivot_root",
	         strerror(errno));
}

void init_early(void)
{
	const struct init_mount *failed = NULL;
	umask(022);
	make_root_pivotable();
	int r = init_mount_table(init_mounts, init_mounts_len, sys_mount, sys_mkdir, NULL, &failed);
	if (r < 0) {
		log_error("init", "mount %s on %s: %s", failed->fstype, failed->target,
		          strerror(-r));
		init_fatal("early mounts failed");
	}
	/* The console may only exist now that devtmpfs is mounted. */
	if (fcntl(0, F_GETFD) < 0) {
		int fd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
	/* Every pty comes from our devpts instance. */
	unlink("/dev/ptmx");
	if (symlink("pts/ptmx", "/dev/ptmx") < 0)
		log_warn("init", "/dev/ptmx -> pts/ptmx: %s", strerror(errno));
	setsid();
	ioctl(0, TIOCSCTTY, 1);
	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
}

void init_late(const struct agent_config *cfg)
{
	struct cg_mount_env env = {.root = "/sys/fs/cgroup", .proc_cgroups = "/proc/cgroups"};
	struct agent_err err = {0};
	int r = cg_mount_all(cfg->cgroup_v2 ? CG_V2 : CG_V1, &env, &err);
	if (r == CG_MOUNT_SKIPPED)
		log_warn("init", "cgroups not mounted: %s", err.msg);
	else if (r < 0)
		log_error("init", "mounting cgroups: %s (%s)", strerror(-r), err.msg);
	set_hostname();
	loopback_up();
}

int init_on_child_exit(init_child_exit_fn fn)
{
	if (n_child_exit_fns >= ARRAY_SIZE(child_exit_fns))
		return -ENOSPC;
	child_exit_fns[n_child_exit_fns++] = fn;
	return 0;
}

void init_reap_children(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG | __WALL);
		if (pid <= 0)
			return;
		for (size_t i = 0; i < n_child_exit_fns; i++)
			if (child_exit_fns[i](pid, st))
				break;
	}
}

void init_poweroff(void)
{
	sync();
	if (getpid() == 1) {
		reboot(RB_POWER_OFF);
		/* reboot(2) failing as PID 1 leaves nothing sensible to do but wait. */
		for (;;)
			pause();
	}
	exit(0);
}

/* A crash of PID 1 (a fault, an abort) would end in "Attempted to kill init!", a kernel
 * panic: as PID 1, the same power-off as every other fatal path.  Only async-signal-safe calls. */
static void fatal_signal(int sig)
{
	static const char msg[] = "kata-agent: fatal signal as PID 1: syncing and powering off\n";
	if (getpid() != 1) {
		/* A child between fork and exec: die of the signal as usual. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

void init_fatal_signals(void)
{
	/* Its own stack, so that a stack overflow can still be handled. */
	static char altstack[16384];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	sigaltstack(&ss, NULL);
	struct sigaction sa = {.sa_handler = fatal_signal, .sa_flags = SA_ONSTACK};
	sigfillset(&sa.sa_mask);
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

void init_fatal(const char *why)
{
	log_msg(LV_CRIT, "init", "fatal: %s", why);
	if (getpid() == 1)
		init_poweroff();
	exit(1);
}

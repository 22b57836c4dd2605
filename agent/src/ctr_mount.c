// SPDX-License-Identifier: Apache-2.0
/*
 * The container's filesystem: OCI mount options (parent side, table driven) and the child's
 * rootfs setup up to pivot_root, then masked and read-only paths.
 *
 * Mount targets live in an image we do not trust: a symlink "/etc -> /" must not turn a mount
 * on /etc/foo into one on the agent's /foo.  Targets are therefore resolved (and created)
 * with openat2(RESOLVE_IN_ROOT) relative to the rootfs, and mounted through the resulting
 * O_PATH fd as /proc/self/fd/N (the agent's /proc, still visible before pivot_root).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr_internal.h"
#include "util.h"

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
    {"lazytime", false, MS_LAZYTIME},
    {"nolazytime", true, MS_LAZYTIME},
    {"iversion", false, MS_I_VERSION},
    {"noiversion", true, MS_I_VERSION},
    /* runc extension (copy the image's directory into a new tmpfs): not supported,
     * accepted as a no-op so Docker-made specs still run. */
    {"tmpcopyup", false, 0},
};

static const struct {
	const char *name;
	unsigned long flags;
} propagations[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

int ctr_propagation_from_name(const char *name, unsigned long *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
		if (strcmp(propagations[i].name, name) == 0) {
			*ret = propagations[i].flags;
			return 0;
		}
	return -EINVAL;
}

int ctr_mount_options(char *const *opts, size_t n, unsigned long *ret_flags,
                      unsigned long *ret_propagation, char **ret_data, struct agent_err *reterr)
{
	unsigned long flags = 0, prop = 0;
	struct buf data = {0};
	for (size_t i = 0; i < n; i++) {
		const char *o = opts[i];
		size_t j;
		for (j = 0; j < ARRAY_SIZE(mount_flags); j++)
			if (strcmp(mount_flags[j].name, o) == 0)
				break;
		if (j < ARRAY_SIZE(mount_flags)) {
			if (mount_flags[j].clear)
				flags &= ~mount_flags[j].flag;
			else
				flags |= mount_flags[j].flag;
			continue;
		}
		unsigned long p;
		if (ctr_propagation_from_name(o, &p) == 0) {
			prop = p;
			continue;
		}
		/* Everything else is file-system data ("mode=755", "size=65536k", ...). */
		if (!*o || strchr(o, ',')) {
			buf_free(&data);
			return err_set(reterr, -EINVAL, "mount option \"%s\" is malformed", o);
		}
		int r = 0;
		if (data.len)
			r = buf_append(&data, ",", 1);
		if (r == 0)
			r = buf_append(&data, o, strlen(o));
		if (r < 0) {
			buf_free(&data);
			return r;
		}
	}
	if (data.len && buf_append(&data, "", 1) < 0) {
		buf_free(&data);
		return -ENOMEM;
	}
	*ret_flags = flags;
	*ret_propagation = prop;
	*ret_data = data.len ? (char *)data.data : NULL;
	return 0;
}

static bool cgroup2_host(void)
{
	return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

int ctr_mount_from_oci(const Grpc__Mount *m, struct ctr_mount *ret, struct agent_err *reterr)
{
	struct ctr_mount out = {0};
	const char *dest = m->destination ? m->destination : "";
	const char *type = m->type ? m->type : "";
	if (dest[0] != '/' || strlen(dest) >= CTR_SCRATCH_MAX / 2)
		return err_set(reterr, -EINVAL,
		               "mount destination \"%.256s\" is not an absolute path", dest);
	int r = ctr_mount_options(m->options, m->n_options, &out.flags, &out.propagation, &out.data,
	                          reterr);
	if (r < 0)
		return r;
	if (strcmp(type, "bind") == 0 || (out.flags & MS_BIND)) {
		out.kind = CTR_MNT_BIND;
		out.flags |= MS_BIND;
		if (!m->source || m->source[0] != '/') {
			free(out.data);
			return err_set(reterr, -EINVAL,
			               "bind mount on %s: source \"%s\" is not "
			               "an absolute path",
			               dest, m->source ? m->source : "");
		}
	} else if (strcmp(type, "cgroup") == 0) {
		out.kind = cgroup2_host() ? CTR_MNT_CGROUP2 : CTR_MNT_CGROUP1;
	} else if (!*type) {
		free(out.data);
		return err_set(reterr, -EINVAL, "mount on %s: no type", dest);
	} else {
		out.kind = CTR_MNT_FS;
	}
	out.dest = strdup(dest);
	out.source = strdup(m->source && *m->source ? m->source : type);
	out.fstype = strdup(type);
	if (!out.dest || !out.source || !out.fstype) {
		ctr_mount_clear(&out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

void ctr_mount_clear(struct ctr_mount *m)
{
	free(m->source);
	free(m->dest);
	free(m->fstype);
	free(m->data);
	*m = (struct ctr_mount){0};
}

/* ---- child side ---- */

static int open_in_root(int rootfd, const char *rel, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT};
	int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* "/proc/self/fd/<fd>" into buf (the child cannot snprintf). */
static const char *fd_path(char *buf, size_t size, int fd)
{
	char digits[16];
	int n = 0;
	unsigned v = (unsigned)fd;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf[0] = '\0';
	err_cat(buf, size, "/proc/self/fd/");
	size_t len = strlen(buf);
	while (n && len + 1 < size)
		buf[len++] = digits[--n];
	buf[len] = '\0';
	return buf;
}

/*
 * Resolve dest (absolute, in the container) under rootfd, creating missing directories and,
 * when is_dir is false, an empty final file.  Returns an O_PATH fd of the target.
 * Uses ch->path as scratch.
 */
static int make_target(struct ctr_child *ch, int rootfd, const char *dest, bool is_dir)
{
	char *p = ch->path;
	while (*dest == '/')
		dest++;
	p[0] = '\0';
	if (err_cat(p, sizeof(ch->path), dest) < 0)
		return -ENAMETOOLONG;
	size_t len = strlen(p);
	while (len && p[len - 1] == '/')
		p[--len] = '\0';
	for (size_t i = 0; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char saved = p[i];
		p[i] = '\0';
		int fd = open_in_root(rootfd, p, O_PATH);
		if (fd >= 0) {
			close(fd);
			p[i] = saved;
			continue;
		}
		if (fd != -ENOENT) {
			p[i] = saved;
			return fd;
		}
		char *slash = strrchr(p, '/');
		const char *base = slash ? slash + 1 : p;
		if (slash)
			*slash = '\0';
		int dirfd = open_in_root(rootfd, slash ? p : "", O_PATH | O_DIRECTORY);
		if (slash)
			*slash = '/';
		if (dirfd < 0) {
			p[i] = saved;
			return dirfd;
		}
		int r;
		if (saved == '\0' && !is_dir) {
			int f =
			    openat(dirfd, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			r = f < 0 ? -errno : 0;
			if (f >= 0)
				close(f);
		} else {
			r = mkdirat(dirfd, base, 0755) < 0 && errno != EEXIST ? -errno : 0;
		}
		close(dirfd);
		p[i] = saved;
		if (r < 0)
			return r;
	}
	return open_in_root(rootfd, p, O_PATH);
}

static unsigned long locked_flags(const char *path)
{
	struct statfs sf;
	if (statfs(path, &sf) < 0)
		return 0;
	/* ST_* values equal the MS_* ones for these bits. */
	return (unsigned long)sf.f_flags &
	       (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
}

static int mount_fail(struct ctr_child *ch, int err, const struct ctr_mount *m)
{
	return ctr_child_fail(ch, err, m->kind == CTR_MNT_BIND ? "bind mount" : "mount",
	                      m->kind == CTR_MNT_BIND ? m->source : m->fstype, "on");
}

static int finish_fail(struct ctr_child *ch, int r, const struct ctr_mount *m)
{
	mount_fail(ch, -r, m);
	err_cat(ch->rep.msg, sizeof(ch->rep.msg), " ");
	err_cat(ch->rep.msg, sizeof(ch->rep.msg), m->dest);
	return r;
}

static int cgroup1_mounts(struct ctr_child *ch, int rootfd, const struct ctr_mount *m)
{
	const struct ctr_config *c = ch->cfg;
	unsigned long fl = m->flags & ~(MS_RDONLY | MS_REMOUNT);
	char fdbuf[32];
	for (size_t i = 0; i < c->n_cg1_controllers; i++) {
		const char *name = c->cg1_controllers[i];
		ch->path2[0] = '\0';
		if (err_cat(ch->path2, sizeof(ch->path2), m->dest) < 0 ||
		    err_cat(ch->path2, sizeof(ch->path2), "/") < 0 ||
		    err_cat(ch->path2, sizeof(ch->path2), name) < 0)
			return -ENAMETOOLONG;
		int fd = make_target(ch, rootfd, ch->path2, true);
		if (fd < 0)
			return fd;
		const char *data = strcmp(name, "systemd") == 0 ? "none,name=systemd" : name;
		int r = mount("cgroup", fd_path(fdbuf, sizeof(fdbuf), fd), "cgroup",
		              fl | (m->flags & MS_RDONLY), data);
		close(fd);
		if (r < 0) {
			int e = errno;
			ctr_child_fail(ch, e, "mount cgroup", name, "on");
			err_cat(ch->rep.msg, sizeof(ch->rep.msg), " ");
			err_cat(ch->rep.msg, sizeof(ch->rep.msg), ch->path2);
			return -e;
		}
	}
	return 0;
}

static int mount_one(struct ctr_child *ch, int rootfd, const struct ctr_mount *m)
{
	char fdbuf[32];
	bool is_dir = true;
	if (m->kind == CTR_MNT_BIND) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			return finish_fail(ch, -errno, m);
		is_dir = S_ISDIR(st.st_mode);
	}
	int fd = make_target(ch, rootfd, m->dest, is_dir);
	if (fd < 0)
		return finish_fail(ch, fd, m);
	const char *target = fd_path(fdbuf, sizeof(fdbuf), fd);
	int r = 0;
	unsigned long fl = m->flags & ~MS_REMOUNT;
	switch (m->kind) {
	case CTR_MNT_BIND:
		r = mount(m->source, target, NULL, fl & (MS_BIND | MS_REC), NULL);
		break;
	case CTR_MNT_FS:
		r = mount(m->source, target, m->fstype, fl, m->data);
		break;
	case CTR_MNT_CGROUP2:
		r = mount("cgroup2", target, "cgroup2", fl, NULL);
		break;
	case CTR_MNT_CGROUP1:
		r = mount("tmpfs", target, "tmpfs", fl & ~MS_RDONLY, "mode=755");
		break;
	}
	close(fd);
	if (r < 0)
		return finish_fail(ch, -errno, m);
	if (m->kind == CTR_MNT_CGROUP1 && (r = cgroup1_mounts(ch, rootfd, m)) < 0)
		return r;

	/* Re-open: the fd above names the covered directory, not the new mount. */
	unsigned long extra = fl & ~(MS_BIND | MS_REC);
	bool remount =
	    (m->kind == CTR_MNT_BIND && extra) || (m->kind == CTR_MNT_CGROUP1 && (fl & MS_RDONLY));
	if (!remount && !m->propagation)
		return 0;
	fd = make_target(ch, rootfd, m->dest, is_dir);
	if (fd < 0)
		return finish_fail(ch, fd, m);
	target = fd_path(fdbuf, sizeof(fdbuf), fd);
	if (remount) {
		unsigned long rf = MS_BIND | MS_REMOUNT | extra | locked_flags(target);
		if (m->kind == CTR_MNT_CGROUP1)
			rf = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target);
		r = mount(NULL, target, NULL, rf, NULL);
	}
	if (r == 0 && m->propagation)
		r = mount(NULL, target, NULL, m->propagation, NULL);
	r = r < 0 ? -errno : 0;
	close(fd);
	return r < 0 ? finish_fail(ch, r, m) : 0;
}

/* mknod, or (in a user namespace, where mknod is refused) a bind of the agent's node. */
static int make_device(struct ctr_child *ch, int rootfd, const struct ctr_device *d)
{
	char *p = ch->path2;
	p[0] = '\0';
	if (err_cat(p, sizeof(ch->path2), d->path) < 0)
		return ctr_child_fail(ch, ENAMETOOLONG, "device", d->path, NULL);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	int dirfd = make_target(ch, rootfd, *p ? p : "/", true);
	*slash = '/';
	if (dirfd < 0)
		return ctr_child_fail(ch, -dirfd, "device", d->path, NULL);
	/* make_target gave an O_PATH fd: reopen as a real directory for *at calls. */
	int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(dirfd);
	if (dfd < 0)
		return ctr_child_fail(ch, errno, "device", d->path, NULL);
	const char *base = slash + 1;
	int r = 0;
	if (mknodat(dfd, base, d->mode, d->rdev) < 0) {
		r = -errno;
		if (r == -EEXIST) {
			r = 0;
		} else if (r == -EPERM) {
			int f =
			    openat(dfd, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (f >= 0) {
				char fdbuf[32];
				close(f);
				int t = open_in_root(rootfd, d->path, O_PATH);
				r = t < 0 ? t : 0;
				if (t >= 0 && mount(d->path, fd_path(fdbuf, sizeof(fdbuf), t), NULL,
				                    MS_BIND, NULL) < 0)
					r = -errno;
				if (t >= 0)
					close(t);
			}
		}
	} else if (fchownat(dfd, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	           fchmodat(dfd, base, d->mode & 07777, 0) < 0) {
		r = -errno;
	}
	close(dfd);
	return r < 0 ? ctr_child_fail(ch, -r, "mknod", d->path, NULL) : 0;
}

static const struct {
	const char *target, *link;
} dev_links[] = {
    {"/proc/self/fd", "fd"},
    {"/proc/self/fd/0", "stdin"},
    {"/proc/self/fd/1", "stdout"},
    {"/proc/self/fd/2", "stderr"},
};

static int dev_symlinks(struct ctr_child *ch, int rootfd)
{
	int dev = open_in_root(rootfd, "/dev", O_RDONLY | O_DIRECTORY);
	if (dev < 0)
		return 0; /* no /dev in this image and none mounted: nothing to link */
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
		(void)symlinkat(dev_links[i].target, dev, dev_links[i].link);
	/* With a devpts of its own (newinstance), /dev/ptmx must lead to it. */
	bool devpts = false;
	for (size_t i = 0; i < ch->cfg->n_mounts; i++)
		devpts |= strcmp(ch->cfg->mounts[i].fstype, "devpts") == 0;
	int r = 0;
	if (devpts) {
		(void)unlinkat(dev, "ptmx", 0);
		if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
			r = ctr_child_fail(ch, errno, "symlink /dev/ptmx", NULL, NULL);
	}
	close(dev);
	return r;
}

static int mask_path(struct ctr_child *ch, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR
		           ? 0
		           : ctr_child_fail(ch, errno, "mask", path, NULL);
	int r = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL)
	                            : mount("/dev/null", path, NULL, MS_BIND, NULL);
	return r < 0 ? ctr_child_fail(ch, errno, "mask", path, NULL) : 0;
}

static int readonly_path(struct ctr_child *ch, const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT || errno == ENOTDIR
		           ? 0
		           : ctr_child_fail(ch, errno, "read-only path", path, NULL);
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags(path),
	          NULL) < 0)
		return ctr_child_fail(ch, errno, "read-only path", path, NULL);
	return 0;
}

int ctr_child_rootfs(struct ctr_child *ch)
{
	const struct ctr_config *c = ch->cfg;
	int r;

	/* Nothing done below may propagate back to the agent's namespace, and pivot_root
	 * refuses shared mounts. */
	if (mount(NULL, "/", NULL, MS_REC | (c->rootfs_private ? MS_PRIVATE : MS_SLAVE), NULL) < 0)
		return ctr_child_fail(ch, errno, "make / rslave", NULL, NULL);
	/* pivot_root needs the new root to be a mount point. */
	if (mount(c->rootfs, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return ctr_child_fail(ch, errno, "bind mount rootfs", c->rootfs, NULL);
	int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return ctr_child_fail(ch, errno, "open rootfs", c->rootfs, NULL);

	for (size_t i = 0; i < c->n_mounts; i++)
		if ((r = mount_one(ch, rootfd, &c->mounts[i])) < 0)
			goto out;
	for (size_t i = 0; i < c->n_devices; i++)
		if ((r = make_device(ch, rootfd, &c->devices[i])) < 0)
			goto out;
	if ((r = dev_symlinks(ch, rootfd)) < 0)
		goto out;

	/* pivot_root(".", "."): the old root ends up stacked on the new one and is detached
	 * at once (pivot_root(2), "NOTES"); no directory for it is needed in the image.
	 * No chroot fallback: on an initramfs root this fails and says so. */
	if (fchdir(rootfd) < 0) {
		r = ctr_child_fail(ch, errno, "chdir", c->rootfs, NULL);
		goto out;
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		r = ctr_child_fail(ch, errno, "pivot_root", c->rootfs,
		                   errno == EINVAL ? "(is the agent's root an initramfs?)" : NULL);
		goto out;
	}
	if (umount2(".", MNT_DETACH) < 0) {
		r = ctr_child_fail(ch, errno, "detach the old root", NULL, NULL);
		goto out;
	}
	if (chdir("/") < 0) {
		r = ctr_child_fail(ch, errno, "chdir /", NULL, NULL);
		goto out;
	}
	if (c->rootfs_propagation && mount(NULL, "/", NULL, c->rootfs_propagation, NULL) < 0) {
		r = ctr_child_fail(ch, errno, "rootfs propagation", NULL, NULL);
		goto out;
	}
	for (size_t i = 0; i < c->n_masked; i++)
		if ((r = mask_path(ch, c->masked[i])) < 0)
			goto out;
	for (size_t i = 0; i < c->n_readonly; i++)
		if ((r = readonly_path(ch, c->readonly[i])) < 0)
			goto out;
	if (c->root_readonly &&
	    mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/"), NULL) <
	        0) {
		r = ctr_child_fail(ch, errno, "remount / read-only", NULL, NULL);
		goto out;
	}
	r = 0;
out:
	close(rootfd);
	return r;
}

// SPDX-License-Identifier: Apache-2.0
/* Storage drivers (docs/PROTOCOL.md §4.3).  Each gets a request's copy of the Storage, mounts it
 * and says why in *reterr when it fails (without the storage prefix, which the request adds). */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "log.h"
#include "mount_opts.h"
#include "storage_internal.h"

const char *storage_dev_dir = "/dev";

/* "WHAT PATH: strerror" */
static int fail(struct agent_err *reterr, int err, const char *what, const char *path)
{
	return err_sys(reterr, err, "%s %s", what, path);
}

/* mount(2) with option words, then the propagation change if any; on failure no new mount is
 * left behind. */
static int mount_words(const char *src, const char *target, const char *fstype, char *const *words,
                       size_t n, unsigned long extra, struct agent_err *reterr)
{
	static const char *const skip[] = {"fsgid=", NULL};
	struct mnt_opts o;
	int r = mnt_opts_parse(words, n, skip, &o);
	if (r < 0)
		return fail(reterr, r, "parsing the options of", target);
	r = stor_sys->mount(src, target, fstype, o.flags | extra, o.data);
	if (r < 0)
		err_sys(reterr, r, "mount %s on %s (type %s, options \"%s\")", src, target,
		        fstype ? fstype : "none", o.data);
	else if (o.propagation &&
	         (r = stor_sys->mount(NULL, target, NULL, o.propagation, NULL)) < 0) {
		/* Nothing is recorded as mounted on failure, so undo a new mount here (a remount
		 * changed a mount that was there before, which stays). */
		fail(reterr, r, "changing the propagation of", target);
		if (!((o.flags | extra) & MS_REMOUNT))
			(void)stor_sys->umount(target, MNT_DETACH);
	}
	mnt_opts_free(&o);
	return r;
}

/* ---- fs_group ---- */

static gid_t walk_gid;
static mode_t walk_mask;

static int chgrp_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (lchown(path, (uid_t)-1, walk_gid) < 0)
		return -errno;
	if (S_ISLNK(st->st_mode))
		return 0;
	mode_t mode = (st->st_mode & 07777) | walk_mask;
	if (S_ISDIR(st->st_mode))
		mode |= S_ISGID | 0110;
	return chmod(path, mode) < 0 ? -errno : 0;
}

int stor_fs_group(const char *root, unsigned gid, bool ro, bool only_on_root_mismatch,
                  struct agent_err *reterr)
{
	struct stat st;
	if (stat(root, &st) < 0)
		return fail(reterr, -errno, "fs_group: stat", root);
	if (only_on_root_mismatch && st.st_gid == gid)
		return 0;
	walk_gid = gid;
	walk_mask = ro ? 0440 : 0660;
	/* FTW_PHYS: never follow symlinks out of the volume; FTW_MOUNT: stay on it. */
	int r = nftw(root, chgrp_one, 16, FTW_PHYS | FTW_MOUNT);
	if (r != 0)
		return fail(reterr, r < 0 ? r : -EIO, "fs_group: changing the group under", root);
	return 0;
}

static int fsgid_option(const struct stor *s, const char *root, struct agent_err *reterr)
{
	size_t len;
	const char *v = mnt_opts_value(s->options, s->n_options, "fsgid", &len);
	if (!v)
		return 0;
	char num[16];
	char *end;
	if (len == 0 || len >= sizeof(num))
		goto bad;
	memcpy(num, v, len);
	num[len] = '\0';
	unsigned long gid = strtoul(num, &end, 10);
	if (*end || gid > 0xfffffffeul)
		goto bad;
	return stor_fs_group(root, (unsigned)gid, false, false, reterr);
bad:
	return err_msg(reterr, -EINVAL, "bad fsgid= option \"%.*s\"", (int)(len < 32 ? len : 32),
	               v);
}

/* ---- drivers ---- */

static int local_mount(const struct stor *s, bool *ret_mounted, struct agent_err *reterr)
{
	int r = mkdir_all(s->mount_point, 0755);
	if (r < 0)
		return fail(reterr, r, "mkdir", s->mount_point);
	size_t len;
	const char *v = mnt_opts_value(s->options, s->n_options, "mode", &len);
	if (v) {
		char num[16], *end;
		unsigned long mode = 0;
		if (len > 0 && len < sizeof(num)) {
			memcpy(num, v, len);
			num[len] = '\0';
			mode = strtoul(num, &end, 8);
		}
		if (len == 0 || len >= sizeof(num) || *end || mode > 07777) {
			return err_msg(reterr, -EINVAL, "bad mode= option \"%.*s\"",
			               (int)(len < 32 ? len : 32), v);
		}
		if (chmod(s->mount_point, (mode_t)mode) < 0)
			return fail(reterr, -errno, "chmod", s->mount_point);
	}
	*ret_mounted = false;
	return fsgid_option(s, s->mount_point, reterr);
}

/* hugetlbfs: reserve size/pagesize pages of that size before mounting. */
static int parse_size(const char *v, size_t len, unsigned long long *ret)
{
	char num[32], *end;
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, v, len);
	num[len] = '\0';
	errno = 0;
	unsigned long long n = strtoull(num, &end, 10);
	int shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (errno || *end || end == num || n > (~0ull >> shift))
		return -EINVAL;
	*ret = n << shift;
	return 0;
}

static int reserve_hugepages(const struct stor *s, struct agent_err *reterr)
{
	size_t plen, slen;
	const char *ps = mnt_opts_value(s->options, s->n_options, "pagesize", &plen);
	const char *sz = mnt_opts_value(s->options, s->n_options, "size", &slen);
	unsigned long long page, size;
	if (!ps || !sz)
		return 0; /* nothing to reserve: the default pool is used as is */
	if (parse_size(ps, plen, &page) < 0 || parse_size(sz, slen, &size) < 0 || page < 4096) {
		return err_msg(reterr, -EINVAL, "hugetlbfs: bad pagesize= or size= option");
	}
	unsigned long long want = (size + page - 1) / page;
	char path[PATH_MAX], val[32];
	snprintf(path, sizeof(path), "%s/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages",
	         uevent_sysfs, page >> 10);
	_cleanup_free_ char *cur = NULL;
	int r = read_file(path, 32, &cur);
	if (r < 0)
		return fail(reterr, r, "hugetlbfs: reading", path);
	if (strtoull(cur, NULL, 10) >= want)
		return 0;
	snprintf(val, sizeof(val), "%llu", want);
	if ((r = write_file(path, val)) < 0)
		return fail(reterr, r, "hugetlbfs: writing", path);
	free(cur);
	cur = NULL;
	if ((r = read_file(path, 32, &cur)) < 0)
		return fail(reterr, r, "hugetlbfs: reading", path);
	if (strtoull(cur, NULL, 10) < want) {
		return err_msg(reterr, -ENOMEM,
		               "hugetlbfs: only %llu of %llu pages of %llu kB could be reserved",
		               strtoull(cur, NULL, 10), want, page >> 10);
	}
	return 0;
}

static int ephemeral_mount(const struct stor *s, bool *ret_mounted, struct agent_err *reterr)
{
	int r = mkdir_all(s->mount_point, 0755);
	if (r < 0)
		return fail(reterr, r, "mkdir", s->mount_point);
	const char *fstype = *s->fstype ? s->fstype : "tmpfs";
	if (strcmp(fstype, "hugetlbfs") == 0 && (r = reserve_hugepages(s, reterr)) < 0)
		return r;
	const char *src = *s->source ? s->source : fstype;
	if ((r = mount_words(src, s->mount_point, fstype, s->options, s->n_options, 0, reterr)) < 0)
		return r;
	if ((r = fsgid_option(s, s->mount_point, reterr)) < 0) {
		stor_sys->umount(s->mount_point, MNT_DETACH);
		return r;
	}
	*ret_mounted = true;
	return 0;
}

static int bind_mount(const struct stor *s, bool *ret_mounted, struct agent_err *reterr)
{
	struct stat st;
	if (stat(s->source, &st) < 0)
		return fail(reterr, -errno, "bind source", s->source);
	int r;
	if (S_ISDIR(st.st_mode)) {
		r = mkdir_all(s->mount_point, 0755);
	} else {
		/* A file is bind-mounted onto a file. */
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", s->mount_point);
		char *slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = '\0';
		r = mkdir_all(parent, 0755);
		int fd = r < 0 ? -1 : open(s->mount_point, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (r >= 0 && fd < 0 && errno != EISDIR)
			r = -errno;
		if (fd >= 0)
			close(fd);
	}
	if (r < 0)
		return fail(reterr, r, "creating the mount point", s->mount_point);
	struct mnt_opts o;
	if ((r = mnt_opts_parse(s->options, s->n_options, NULL, &o)) < 0)
		return fail(reterr, r, "parsing the options of", s->mount_point);
	unsigned long rest = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
	r = stor_sys->mount(s->source, s->mount_point, NULL, MS_BIND | (o.flags & MS_REC), NULL);
	if (r < 0) {
		mnt_opts_free(&o);
		return err_sys(reterr, r, "bind mount %s on %s", s->source, s->mount_point);
	}
	/* Flags such as ro only take effect on a bind mount through a remount. */
	if (rest)
		r = stor_sys->mount(NULL, s->mount_point, NULL, MS_REMOUNT | MS_BIND | rest, NULL);
	if (r >= 0 && o.propagation)
		r = stor_sys->mount(NULL, s->mount_point, NULL, o.propagation, NULL);
	mnt_opts_free(&o);
	if (r < 0) {
		stor_sys->umount(s->mount_point, MNT_DETACH);
		return fail(reterr, r, "applying the options of the bind mount on", s->mount_point);
	}
	*ret_mounted = true;
	return 0;
}

static int fs_mount(const struct stor *s, const char *deftype, bool *ret_mounted,
                    struct agent_err *reterr)
{
	int r = mkdir_all(s->mount_point, 0755);
	if (r < 0)
		return fail(reterr, r, "mkdir", s->mount_point);
	const char *fstype = *s->fstype ? s->fstype : deftype;
	if ((r = mount_words(s->source, s->mount_point, fstype, s->options, s->n_options, 0,
	                     reterr)) < 0)
		return r;
	*ret_mounted = true;
	return 0;
}

/* overlayfs (the Go runtime's nydus, erofs-snapshotter, fs-opt.layer and virtual-volume paths,
 * runtime-rs's nydus): the layers are already in the guest.  Upstream's agent creates the
 * directories its driver options name (...overlayfs.create_directory=DIR); we do that and also
 * create the upperdir and workdir the mount options name, which overlay needs to exist. */
static int overlay_mount(const struct stor *s, bool *ret_mounted, struct agent_err *reterr)
{
	static const char *const dirs[] = {"upperdir=", "workdir="};
	for (size_t i = 0; i < s->n_options; i++)
		for (size_t k = 0; k < ARRAY_SIZE(dirs); k++) {
			size_t n = strlen(dirs[k]);
			if (strncmp(s->options[i], dirs[k], n) != 0)
				continue;
			const char *dir = s->options[i] + n;
			if (dir[0] != '/')
				return err_msg(reterr, -EINVAL,
				               "overlay %s must be an absolute path: \"%.128s\"",
				               dirs[k], dir);
			int r = mkdir_all(dir, 0755);
			if (r < 0)
				return fail(reterr, r, "mkdir", dir);
		}
	static const char create_dir[] = "io.katacontainers.volume.overlayfs.create_directory=";
	for (size_t i = 0; i < s->n_driver_options; i++) {
		const char *o = s->driver_options[i];
		if (strncmp(o, create_dir, sizeof(create_dir) - 1) != 0)
			continue;
		const char *dir = o + sizeof(create_dir) - 1;
		int r = dir[0] == '/' ? mkdir_all(dir, 0755) : -EINVAL;
		if (r < 0)
			return fail(reterr, r, "create overlay directory", dir);
	}
	return fs_mount(s, "overlay", ret_mounted, reterr);
}

static int virtiofs_mount(const struct stor *s, bool *ret_mounted, struct agent_err *reterr)
{
	/* The shared directory is mounted once per sandbox; a repeat is not an error. */
	if (stor_sys->is_mounted(s->mount_point) > 0) {
		log_info("storage", "%s is already mounted: not mounting %s again", s->mount_point,
		         s->source);
		*ret_mounted = false;
		return 0;
	}
	return fs_mount(s, "virtiofs", ret_mounted, reterr);
}

static int ninep_mount(const struct stor *s, bool *ret_mounted, struct agent_err *reterr)
{
	return fs_mount(s, "9p", ret_mounted, reterr);
}

int stor_mount_block(const struct stor *s, const struct uevent *ev, bool *ret_mounted,
                     struct agent_err *reterr)
{
	const char *name = uevent_blk_devname(ev);
	char node[PATH_MAX];
	if (snprintf(node, sizeof(node), "%s/%s", storage_dev_dir, name) >= (int)sizeof(node))
		return fail(reterr, -ENAMETOOLONG, "device node for", name);
	struct stat st;
	/* devtmpfs makes the node; without it (or if it lags) make it from the event. */
	if (stat(node, &st) < 0 && errno == ENOENT && ev->major >= 0 && ev->minor >= 0 &&
	    mknod(node, S_IFBLK | 0600, makedev((unsigned)ev->major, (unsigned)ev->minor)) < 0 &&
	    errno != EEXIST)
		return fail(reterr, -errno, "mknod", node);
	if (!*s->fstype) {
		return err_msg(reterr, -EINVAL, "no fstype given for %s", node);
	}
	int r = mkdir_all(s->mount_point, 0755);
	if (r < 0)
		return fail(reterr, r, "mkdir", s->mount_point);
	if ((r = mount_words(node, s->mount_point, s->fstype, s->options, s->n_options, 0,
	                     reterr)) < 0)
		return r;
	*ret_mounted = true;
	return 0;
}

int stor_block_spec(const struct stor *s, const struct stor_driver *d, struct uevent_blk *ret,
                    struct agent_err *reterr)
{
	enum uevent_blk_kind kind = d->blk_kind;
	/* blk also accepts a guest path (/dev/vdX), like mmioblk. */
	if (kind == UEVENT_BLK_PCI && strncmp(s->source, "/dev/", 5) == 0)
		kind = UEVENT_BLK_NAME;
	int r = uevent_blk_parse(kind, s->source, ret);
	if (r < 0)
		err_msg(reterr, r, "invalid source \"%.64s\" for driver %s", s->source, d->name);
	return r;
}

static const struct stor_driver drivers[] = {
    {"9p", ninep_mount, false, 0},
    {"bind", bind_mount, false, 0},
    {"blk", NULL, true, UEVENT_BLK_PCI},
    {"ephemeral", ephemeral_mount, false, 0},
    {"local", local_mount, false, 0},
    {"mmioblk", NULL, true, UEVENT_BLK_NAME},
    {"nvdimm", NULL, true, UEVENT_BLK_NAME},
    {"overlayfs", overlay_mount, false, 0},
    {"pmem", NULL, true, UEVENT_BLK_NAME},
    {"scsi", NULL, true, UEVENT_BLK_SCSI},
    {"virtio-fs", virtiofs_mount, false, 0},
    /* Upstream copies small watchable sources into a tmpfs and polls them; a bind mount
     * shows updates to the source directly, which is what the copy approximates. */
    {"watchable-bind", bind_mount, false, 0},
};

const struct stor_driver *stor_driver_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
		if (strcmp(drivers[i].name, name) == 0)
			return &drivers[i];
	return NULL;
}

/* ---- UpdateEphemeralMounts ---- */

int storage_update_ephemeral(Grpc__Storage *const *gs, size_t n, struct agent_err *reterr)
{
	for (size_t i = 0; i < n; i++) {
		const Grpc__Storage *g = gs[i];
		const char *drv = g->driver ? g->driver : "";
		const char *mp = g->mount_point ? g->mount_point : "";
		const char *fstype = g->fstype && *g->fstype ? g->fstype : "tmpfs";
		const char *src = g->source && *g->source ? g->source : fstype;
		int r = 0;
		if (strcmp(drv, "ephemeral") != 0) {
			r = err_msg(reterr, -EINVAL,
			            "unsupported storage driver \"%.64s\" for ephemeral mounts",
			            drv);
		} else if (!*mp) {
			r = err_msg(reterr, -EINVAL, "empty mount_point");
		} else if ((r = mkdir_all(mp, 0755)) < 0) {
			fail(reterr, r, "mkdir", mp);
		} else {
			int m = stor_sys->is_mounted(mp);
			r = mount_words(src, mp, fstype, g->options, g->n_options,
			                m > 0 ? MS_REMOUNT : 0, reterr);
		}
		if (r < 0)
			return err_wrap(reterr, r, "storage %zu (driver %s, mount point %.128s)", i,
			                drv, mp);
	}
	return 0;
}

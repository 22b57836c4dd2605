// SPDX-License-Identifier: Apache-2.0
/*
 * CreateContainerRequest.shared_mounts (docs/PROTOCOL.md §4.1): runtime-rs asks for a path of
 * one container (src_ctr, src_path) to be bind-mounted into another (dst_ctr, dst_path).
 *
 * When the destination is created, the source path is resolved inside the source container's
 * root as the agent sees it (its rootfs bind under /run/kata-containers/<id>/rootfs) with
 * openat2(RESOLVE_IN_ROOT), so a symlink in the source container cannot point the mount at the
 * guest's own tree; the resolved object is bound (through its O_PATH fd, no second lookup) on
 * a staging point in the destination's bundle, and a bind mount from there to dst_path is added
 * to the destination's spec.  Paths inside mounts private to the source container (its own
 * tmpfs, say) are not visible this way; the image's and the storages' contents are.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "err.h"
#include "sandbox.h"
#include "shared_mounts.h"
#include "util.h"

#define STAGING_DIR "shared-mounts"

static bool valid_name(const char *n)
{
	return n && *n && strlen(n) < 64 && !strchr(n, '/') && strcmp(n, ".") != 0 &&
	       strcmp(n, "..") != 0;
}

/* The object at path inside root, without leaving root. */
static int open_in_root(const char *root, const char *path)
{
	_cleanup_close_ int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, rfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

/* Bind the source of m on bundle/shared-mounts/<name>; ret_path gets that staging path. */
static int stage_one(const Grpc__SharedMount *m, const char *bundle, char *ret_path, size_t size,
                     struct agent_err *reterr)
{
	if (!valid_name(m->name))
		return err_msg(reterr, -EINVAL, "shared mount: invalid name \"%.64s\"", m->name);
	struct sandbox_ctr *src = sandbox_ctr_find(m->src_ctr);
	if (!src)
		return err_msg(reterr, -EINVAL, "shared mount %s: source container %.64s not found",
		               m->name, m->src_ctr);
	if (!m->dst_path || m->dst_path[0] != '/')
		return err_msg(reterr, -EINVAL, "shared mount %s: dst_path must be absolute",
		               m->name);
	_cleanup_close_ int fd = open_in_root(src->rootfs, m->src_path ? m->src_path : "/");
	if (fd < 0)
		return err_sys(reterr, fd, "shared mount %s: %.128s in container %.64s", m->name,
		               m->src_path, m->src_ctr);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_sys(reterr, -errno, "shared mount %s: stat", m->name);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/" STAGING_DIR, bundle);
	int r = mkdir_all(dir, 0700);
	if (r < 0)
		return err_sys(reterr, r, "creating %s", dir);
	if (snprintf(ret_path, size, "%s/%s", dir, m->name) >= (int)size)
		return err_msg(reterr, -ENAMETOOLONG, "shared mount %s: staging path", m->name);
	if (S_ISDIR(st.st_mode))
		r = mkdir(ret_path, 0755) < 0 && errno != EEXIST ? -errno : 0;
	else {
		int f = open(ret_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		r = f < 0 ? -errno : (close(f), 0);
	}
	if (r < 0)
		return err_sys(reterr, r, "creating %s", ret_path);
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (mount(self, ret_path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys(reterr, -errno, "shared mount %s: bind on %s", m->name, ret_path);
	return 0;
}

static char *o_rbind[] = {"rbind"};

int shared_mounts_prepare(const Grpc__CreateContainerRequest *req, const char *bundle,
                          struct shared_mounts *ret, struct agent_err *reterr)
{
	*ret = (struct shared_mounts){0};
	size_t want = 0;
	for (size_t i = 0; i < req->n_shared_mounts; i++)
		want += strcmp(req->shared_mounts[i]->dst_ctr, req->container_id) == 0;
	if (!want)
		return 0;
	const Grpc__Spec *spec = req->oci;
	ret->extra = calloc(want, sizeof(*ret->extra));
	ret->paths = calloc(want, sizeof(*ret->paths));
	ret->all = calloc(spec->n_mounts + want, sizeof(*ret->all));
	if (!ret->extra || !ret->paths || !ret->all) {
		shared_mounts_free(ret);
		return -ENOMEM;
	}
	memcpy(ret->all, spec->mounts, spec->n_mounts * sizeof(*ret->all));
	ret->n_all = spec->n_mounts;
	for (size_t i = 0; i < req->n_shared_mounts; i++) {
		const Grpc__SharedMount *m = req->shared_mounts[i];
		if (strcmp(m->dst_ctr, req->container_id) != 0)
			continue;
		char path[PATH_MAX];
		int r = stage_one(m, bundle, path, sizeof(path), reterr);
		if (r < 0 || !(ret->paths[ret->n] = strdup(path))) {
			shared_mounts_free(ret);
			return r < 0 ? r : -ENOMEM;
		}
		Grpc__Mount *mnt = &ret->extra[ret->n];
		*mnt = (Grpc__Mount)GRPC__MOUNT__INIT;
		mnt->destination = m->dst_path;
		mnt->source = ret->paths[ret->n++];
		mnt->type = "bind";
		mnt->options = o_rbind;
		mnt->n_options = 1;
		ret->all[ret->n_all++] = mnt;
	}
	return 0;
}

void shared_mounts_free(struct shared_mounts *s)
{
	for (size_t i = 0; s->paths && i < s->n; i++)
		free(s->paths[i]);
	free(s->paths);
	free(s->extra);
	free(s->all);
	*s = (struct shared_mounts){0};
}

void shared_mounts_release(const char *bundle)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/" STAGING_DIR, bundle);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!valid_name(e->d_name))
			continue;
		char p[PATH_MAX + 256];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		(void)umount2(p, MNT_DETACH);
		if (rmdir(p) < 0)
			(void)unlink(p);
	}
	closedir(d);
	(void)rmdir(dir);
}

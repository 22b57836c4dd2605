// SPDX-License-Identifier: Apache-2.0
/*
 * The process's working directory, in the child after pivot_root and before the credential
 * switch (so it still has CAP_DAC_OVERRIDE and CAP_CHOWN).
 *
 * A cwd missing from the image is created, as runc does: each missing directory 0755, owned by
 * the process's user, so a non-root process can use it.  Upstream's agent does the same since
 * 2026-05.
 *
 * A cwd that would leave the container's root is refused, as upstream's agent does since
 * 2026-08: `..` climbing above "/" or a symlink with an absolute target or one that climbs out.
 * After pivot_root nothing can reach the host's tree any more, but a path whose meaning depends
 * on where it is resolved (an absolute symlink means the host's tree to any tool that resolves
 * it from outside, e.g. while preparing the rootfs) is the shape of past runtime escapes, so
 * the rule is applied here, where it is cheap: openat2(RESOLVE_BENEATH) from "/" walks each
 * component and fails with EXDEV on any of them.
 *
 * Between fork and exec: raw syscalls only, no allocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "ctr_internal.h"
#include "util.h"

static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int escaped(struct ctr_child *ch, const char *cwd)
{
	return ctr_child_fail(ch, EINVAL, "cwd", cwd,
	                      "resolves outside the container root (\"..\" or a symlink)");
}

/* Create what is missing of rel (relative to root) one directory at a time: each in a parent
 * opened beneath the root, and each prefix resolved again from the root, so a symlink met (or
 * planted) on the way is judged by the same rule as above. */
static int create_missing(struct ctr_child *ch, int root, const char *cwd, const char *rel)
{
	char *prefix = ch->path2, *comp = ch->exe;
	size_t plen = 0;
	int dir = open_beneath(root, ".");
	if (dir < 0)
		return ctr_child_fail(ch, -dir, "open /", NULL, NULL);
	while (*rel) {
		size_t n = strcspn(rel, "/");
		if (plen + n + 2 > CTR_SCRATCH_MAX) {
			close(dir);
			return ctr_child_fail(ch, ENAMETOOLONG, "cwd", cwd, NULL);
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		rel += n;
		rel += strspn(rel, "/");
		if (n == 0 || strcmp(comp, ".") == 0)
			continue;
		if (plen)
			prefix[plen++] = '/';
		memcpy(prefix + plen, comp, n + 1);
		plen += n;
		int r = mkdirat(dir, comp, 0755) == 0 ? 0 : -errno;
		if (r == 0 && fchownat(dir, comp, ch->cfg->user.uid, ch->cfg->user.gid,
		                       AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
		close(dir);
		if (r < 0 && r != -EEXIST)
			return ctr_child_fail(ch, -r, "create cwd", cwd, NULL);
		dir = open_beneath(root, prefix);
		if (dir == -EXDEV || dir == -ELOOP)
			return escaped(ch, cwd);
		if (dir < 0)
			return ctr_child_fail(ch, -dir, "open cwd", cwd, NULL);
	}
	return dir;
}

int ctr_child_cwd(struct ctr_child *ch)
{
	const char *cwd = ch->cfg->cwd;
	const char *rel = cwd + strspn(cwd, "/");
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return ctr_child_fail(ch, errno, "open /", NULL, NULL);
	int fd = open_beneath(root, *rel ? rel : ".");
	if (fd == -ENOSYS) { /* before Linux 5.6: no openat2, plain chdir */
		close(root);
		return chdir(cwd) < 0 ? ctr_child_fail(ch, errno, "chdir", cwd, NULL) : 0;
	}
	if (fd == -ENOENT)
		fd = create_missing(ch, root, cwd, rel);
	else if (fd == -EXDEV || fd == -ELOOP)
		fd = escaped(ch, cwd);
	else if (fd < 0)
		fd = ctr_child_fail(ch, -fd, "open cwd", cwd, NULL);
	close(root);
	if (fd < 0)
		return fd;
	int r = fchdir(fd);
	int e = errno;
	close(fd);
	return r < 0 ? ctr_child_fail(ch, e, "chdir", cwd, NULL) : 0;
}

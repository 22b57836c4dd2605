// SPDX-License-Identifier: Apache-2.0
#include "copy_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "util.h"

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#ifndef SHARED_ROOT_HINT
#define SHARED_ROOT_HINT "(prefix not found)"
#endif

/* "CopyFile PATH: WHAT: strerror" */
static int fail(struct agent_err *reterr, int r, const char *what, const char *path)
{
	return err_sys(reterr, r, "CopyFile %s: %s", path, what);
}

int copy_file_temp_name(const char *name, char *buf, size_t size)
{
	const char *dot = strrchr(name, '.');
	size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);
	if (stem + 5 > size)
		return -ENAMETOOLONG;
	memcpy(buf, name, stem);
	memcpy(buf + stem, ".tmp", 5);
	return 0;
}

/* Open a directory below dirfd without following any symlink or leaving the tree. */
static int open_beneath(int dirfd, const char *name, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* Walk (creating as needed) every directory of rel but the last component; returns the fd of
 * the parent and the last component. */
static int walk_parents(int rootfd, char *rel, const struct copy_file_req *r, char **ret_last,
                        struct agent_err *reterr)
{
	int dirfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (dirfd < 0)
		return -errno;
	char *save = NULL, *comp = strtok_r(rel, "/", &save);
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		if (!next) {
			*ret_last = comp;
			return dirfd;
		}
		if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0) {
			close(dirfd);
			return fail(reterr, -EINVAL, "'.' and '..' are not allowed", r->path);
		}
		if (mkdirat(dirfd, comp, r->dir_mode & 0777) < 0 && errno != EEXIST) {
			int e = -errno;
			close(dirfd);
			return fail(reterr, e, "mkdir", r->path);
		}
		int sub = open_beneath(dirfd, comp, O_PATH | O_DIRECTORY);
		if (sub < 0) {
			close(dirfd);
			return fail(reterr, sub, "parent directory", r->path);
		}
		close(dirfd);
		dirfd = sub;
		comp = next;
	}
	close(dirfd);
	return fail(reterr, -EINVAL, "no file name", r->path);
}

/* A directory: created if missing (a non-directory in its way is replaced), then owned. */
static int copy_dir(int dirfd, const char *name, const struct copy_file_req *r,
                    struct agent_err *reterr)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
		unlinkat(dirfd, name, 0);
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return fail(reterr, -errno, "mkdir", r->path);
	_cleanup_close_ int d = open_beneath(dirfd, name, O_RDONLY | O_DIRECTORY);
	if (d < 0)
		return fail(reterr, d, "open", r->path);
	if (fchown(d, (uid_t)r->uid, (gid_t)r->gid) < 0 || fchmod(d, r->file_mode & 07777) < 0)
		return fail(reterr, -errno, "mode/owner", r->path);
	return 0;
}

/* A symlink: its target is the data, whatever it points at. */
static int copy_symlink(int dirfd, const char *name, const struct copy_file_req *r,
                        struct agent_err *reterr)
{
	_cleanup_free_ char *target = strndup((const char *)r->data, r->len);
	if (!target)
		return -ENOMEM;
	unlinkat(dirfd, name, 0);
	if (symlinkat(target, dirfd, name) < 0)
		return fail(reterr, -errno, "symlink", r->path);
	if (fchownat(dirfd, name, (uid_t)r->uid, (gid_t)r->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(reterr, -errno, "owner", r->path);
	return 0;
}

/* Write the chunk into the open temp file; once it holds file_size bytes, give it its owner and
 * mode and rename it over name.  Until then the old file (if any) stays in place, untouched. */
static int write_chunk(int dirfd, int fd, const char *tmp, const char *name,
                       const struct copy_file_req *r, struct agent_err *reterr)
{
	size_t done = 0;
	while (done < r->len) {
		ssize_t n = pwrite(fd, r->data + done, r->len - done, r->offset + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail(reterr, -errno, "write", r->path);
		}
		done += (size_t)n;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return fail(reterr, -errno, "stat of the temp file", r->path);
	if (st.st_size != r->file_size)
		return 0; /* more chunks to come: stay invisible */
	/* Owner first: chown(2) clears set-uid/set-gid, which the mode may ask for. */
	if (fchown(fd, (uid_t)r->uid, (gid_t)r->gid) < 0 || fchmod(fd, r->file_mode & 07777) < 0)
		return fail(reterr, -errno, "mode/owner", r->path);
	/* The data must be on disk before the name points at it (a full or failing disk shows
	 * here, not as an empty file after a crash). */
	if (fsync(fd) < 0)
		return fail(reterr, -errno, "sync", r->path);
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		return fail(reterr, -errno, "rename", r->path);
	return 0;
}

/* A chunk of a regular file, written to a temp file that is renamed once it is complete.  A
 * failed chunk (ENOSPC, EIO...) removes the temp file: the transfer is over, nothing of it
 * remains, and the old file is intact. */
static int copy_chunk(int dirfd, const char *name, const struct copy_file_req *r,
                      struct agent_err *reterr)
{
	if (!S_ISREG(r->file_mode) && (r->file_mode & S_IFMT) != 0)
		return fail(reterr, -EINVAL, "unsupported file type", r->path);
	if (r->offset < 0 || r->file_size < 0 ||
	    (uint64_t)r->offset + r->len > (uint64_t)r->file_size)
		return fail(reterr, -EINVAL, "chunk outside the file size", r->path);
	char tmp[NAME_MAX + 8];
	if (copy_file_temp_name(name, tmp, sizeof(tmp)) < 0 || strcmp(tmp, name) == 0)
		return fail(reterr, -ENAMETOOLONG, "temp name", r->path);
	int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
	if (r->offset == 0)
		flags |= O_TRUNC;
	_cleanup_close_ int fd = openat(dirfd, tmp, flags, 0600);
	if (fd < 0)
		return fail(reterr, -errno, "temp file", r->path);
	int ret = write_chunk(dirfd, fd, tmp, name, r, reterr);
	if (ret < 0)
		unlinkat(dirfd, tmp, 0);
	return ret;
}

int copy_file(const char *root, const struct copy_file_req *r, struct agent_err *reterr)
{
	size_t rl = strlen(root);
	/* Component-wise prefix: "/run/kata-containers/shared/containersX" must not pass. */
	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (strncmp(r->path, root, rl) != 0 || r->path[rl] != '/' || !r->path[rl + 1])
		return fail(reterr, -EINVAL, "not below the shared directory " SHARED_ROOT_HINT,
		            r->path);
	_cleanup_free_ char *rel = strdup(r->path + rl + 1);
	if (!rel)
		return -ENOMEM;
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	/* Without a shared file system (the case CopyFile is for) nothing has mounted or created
	 * the shared directory: the first copy creates it, as upstream creates the parents. */
	if (rootfd < 0 && errno == ENOENT && mkdir_all(root, 0755) == 0)
		rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return fail(reterr, -errno, "opening the shared directory", root);
	char *name = NULL;
	_cleanup_close_ int dirfd = walk_parents(rootfd, rel, r, &name, reterr);
	if (dirfd < 0)
		return dirfd;
	if (strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
		return fail(reterr, -EINVAL, "bad file name", r->path);
	/* The immediate parent belongs to the file's owner (docs/PROTOCOL.md §6.2); an O_PATH fd
	 * needs the AT_EMPTY_PATH form. */
	if (strchr(r->path + rl + 1, '/') &&
	    fchownat(dirfd, "", (uid_t)r->uid, (gid_t)r->gid, AT_EMPTY_PATH) < 0)
		return fail(reterr, -errno, "parent owner", r->path);

	if (S_ISDIR(r->file_mode))
		return copy_dir(dirfd, name, r, reterr);
	if (S_ISLNK(r->file_mode))
		return copy_symlink(dirfd, name, r, reterr);
	return copy_chunk(dirfd, name, r, reterr);
}

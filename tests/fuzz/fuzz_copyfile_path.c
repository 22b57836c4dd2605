/* CopyFile (agent/src/copy_file.c) against a temp shared directory: arbitrary paths, modes,
 * offsets and sizes, several requests per input so that earlier ones (symlinks, directories,
 * partial chunks) set traps for later ones.
 *
 * Layout: BASE/root is the shared directory; BASE/outside is an empty sentinel and the
 * working directory while a request runs, so a stray relative path would land there.
 * Input: up to 6 requests, each
 *   u8 flags   bit 0: path is root + "/" + text (else the text alone)
 *              bits 1-2: 0 regular file, 1 directory, 2 symlink, 3 raw st_mode (u32 follows)
 *              bit 3: raw 64-bit offset and file_size follow (else small values)
 *   [u32 mode] u16 permission bits, u8 uid, u8 gid, offsets, path text up to NUL,
 *   u8 data length + data
 * Properties checked after every request: BASE holds only root/ and an empty outside/ (a later
 * request could remove what an escape left there: CopyFile unlinks a name before it makes a
 * symlink or a directory there); a failure sets an error message, a success does not; a
 * complete single-chunk regular file is in place with its data.
 * Checked once per input, by the walk that also empties root: every entry under root (walked
 * without following symlinks) can be stat'ed and lies on root's file system.  Nothing a request
 * does can mount under root, or take a mount away, so one walk of what may be a deep tree sees
 * what a walk per request would. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "copy_file.h"
#include "fuzz_common.h"

static char base[PATH_MAX];
static char root[PATH_MAX], outside[PATH_MAX];
static int outside_fd, cwd_fd;

static dev_t root_dev;

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (f->level == 0)
		return 0;
	if (type == FTW_DP)
		FUZZ_ASSERT(rmdir(path) == 0);
	else
		FUZZ_ASSERT(unlink(path) == 0);
	return 0;
}

/* The walk is physical (FTW_PHYS): it never passes through a symlink, so every entry it reaches
 * is a name under root, and resolving each path again (realpath, one readlink per component)
 * would only repeat that, at a cost quadratic in the depth.  What is left to check per entry:
 * it can be stat'ed, and it is on root's file system (nothing mounted under root).  Then it is
 * removed. */
static int check_rm_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	FUZZ_ASSERT(type != FTW_NS && type != FTW_DNR);
	/* a symlink may point anywhere: it is not followed by CopyFile */
	if (f->level > 0 && type != FTW_SL && type != FTW_SLN) {
		FUZZ_ASSERT(st->st_dev == root_dev);
		FUZZ_ASSERT(strncmp(path, root, strlen(root)) == 0);
	}
	return rm_entry(path, st, type, f);
}

static void empty_dir(const char *dir)
{
	FUZZ_ASSERT(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static void cleanup(void)
{
	empty_dir(base);
	rmdir(base);
}

/* BASE holds only root/ and an empty outside/, and root is still a directory. */
static void check_layout(void)
{
	DIR *d = opendir(base);
	FUZZ_ASSERT(d);
	struct dirent *de;
	while ((de = readdir(d)))
		FUZZ_ASSERT(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		            !strcmp(de->d_name, "root") || !strcmp(de->d_name, "outside"));
	closedir(d);
	d = opendir(outside);
	FUZZ_ASSERT(d);
	while ((de = readdir(d)))
		FUZZ_ASSERT(!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."));
	closedir(d);
	struct stat st;
	FUZZ_ASSERT(lstat(root, &st) == 0 && S_ISDIR(st.st_mode));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	FUZZ_ASSERT(fuzz_mkdtemp(base, sizeof(base), "fuzz-copyfile"));
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	FUZZ_ASSERT(mkdir(root, 0755) == 0 && mkdir(outside, 0755) == 0);
	struct stat rst;
	FUZZ_ASSERT(stat(root, &rst) == 0);
	root_dev = rst.st_dev;
	outside_fd = open(outside, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	FUZZ_ASSERT(outside_fd >= 0 && cwd_fd >= 0);
	atexit(cleanup);
	return 0;
}

static void one_request(struct fuzz_in *in)
{
	uint8_t flags = fuzz_u8(in);
	uint32_t type;
	switch (flags >> 1 & 3) {
	case 0:
		type = S_IFREG;
		break;
	case 1:
		type = S_IFDIR;
		break;
	case 2:
		type = S_IFLNK;
		break;
	default:
		type = fuzz_u32(in);
		break;
	}
	struct copy_file_req r = {0};
	r.file_mode = (type & ~07777u) | (fuzz_u16(in) & 07777u);
	r.dir_mode = 0750;
	r.uid = fuzz_u8(in);
	r.gid = fuzz_u8(in);
	if (flags & 8) {
		r.offset = (int64_t)fuzz_u64(in);
		r.file_size = (int64_t)fuzz_u64(in);
	} else {
		r.offset = fuzz_u8(in);
		r.file_size = fuzz_u16(in);
	}
	char *text = fuzz_str(in);
	char path[PATH_MAX + 64];
	if (flags & 1)
		snprintf(path, sizeof(path), "%s/%s", root, text);
	else
		snprintf(path, sizeof(path), "%s", text);
	free(text);
	r.path = path;
	r.len = fuzz_u8(in);
	r.data = fuzz_bytes(in, &r.len);

	struct agent_err err = {0};
	FUZZ_ASSERT(fchdir(outside_fd) == 0);
	int rc = copy_file(root, &r, &err);
	FUZZ_ASSERT(fchdir(cwd_fd) == 0);
	FUZZ_ASSERT(rc <= 0);
	if (rc == 0)
		FUZZ_ASSERT(err.code == 0 && !err.msg[0]);
	check_layout();

	/* One complete chunk of a regular file: it is in place, with the data. */
	size_t plen = strlen(path);
	if (rc == 0 && (r.file_mode & S_IFMT) != S_IFDIR && (r.file_mode & S_IFMT) != S_IFLNK &&
	    r.offset == 0 && r.file_size == (int64_t)r.len && plen > 0 && path[plen - 1] != '/') {
		struct stat st;
		FUZZ_ASSERT(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
		FUZZ_ASSERT(st.st_size == (off_t)r.len);
		/* Set-id bits are compared leniently: copy_file() chmods, then chowns, and the
		 * kernel drops S_ISUID (and S_ISGID with group exec) on chown of an executable. */
		FUZZ_ASSERT((st.st_mode & 01777) == (r.file_mode & 01777));
		FILE *f = fopen(path, "rb");
		FUZZ_ASSERT(f);
		uint8_t buf[256];
		FUZZ_ASSERT(fread(buf, 1, sizeof(buf), f) == r.len);
		FUZZ_ASSERT(r.len == 0 || memcmp(buf, r.data, r.len) == 0);
		fclose(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	for (int i = 0; i < 6 && in.n > 0; i++)
		one_request(&in);
	/* The tree under root, checked and emptied in one walk. */
	FUZZ_ASSERT(nftw(root, check_rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
	return 0;
}

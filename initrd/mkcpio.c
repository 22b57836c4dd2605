// SPDX-License-Identifier: Apache-2.0
/*
 * mkcpio: write a reproducible newc ("070701") cpio archive from a manifest, without root and
 * without mknod.  Device nodes, ownership and modes come from the manifest, never from the host,
 * so the output depends only on the manifest, the content of the source files and --mtime.
 *
 * Manifest lines (blank lines and '#' comments ignored; fields separated by blanks):
 *   dir   PATH MODE
 *   file  PATH SOURCE MODE [LINK...]     LINKs are extra hard-linked names of the same file
 *   slink PATH TARGET MODE
 *   nod   PATH MODE c|b MAJOR MINOR
 * PATH is absolute; MODE holds the permission bits in octal.
 *
 * The archive: entries sorted bytewise by name, names stored without the leading '/', uid/gid 0,
 * every mtime = --mtime (default $SOURCE_DATE_EPOCH, else 0), inode numbers 1.. in output order,
 * device numbers of the archive 0, the body of a hard-linked file on its last name (what GNU cpio
 * and the kernel's usr/gen_init_cpio do; init/initramfs.c links later names to the first one and
 * writes the body into it), "TRAILER!!!", zero padding to 512 bytes.
 * Every parent directory must itself be an entry: the kernel's unpacker silently skips a file
 * whose directory does not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEWC_MAGIC   "070701"
#define NEWC_HDR_LEN 110
#define BLOCK_PAD    512
#define MAX_NAME     (PATH_MAX - 1) /* the kernel rejects name_len (with NUL) > PATH_MAX */

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_   __attribute__((cleanup(freep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))
#define _cleanup_close_  __attribute__((cleanup(closep)))

enum kind { K_DIR, K_FILE, K_SLINK, K_NOD };

struct entry {
	char *name; /* without leading '/' */
	enum kind kind;
	mode_t mode; /* full st_mode: type | permissions */
	char *arg;   /* file: source path; slink: target */
	unsigned rmaj, rmin;
	size_t group; /* hard-link group id (index of the manifest line); unique otherwise */
	unsigned nlink;
	bool body; /* carries the file body (last name of its group) */
	uint32_t ino;
	int line;
};

struct archive {
	struct entry *v;
	size_t n, cap;
	FILE *out;
	uint64_t off;
	uint32_t mtime;
};

static int add_entry(struct archive *a, const struct entry *e)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct entry *v = reallocarray(a->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = *e;
	return 0;
}

static int parse_mode(const char *s, mode_t *ret)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(s, &end, 8);
	if (errno || *end || end == s || m > 07777)
		return -EINVAL;
	*ret = (mode_t)m;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* An archive name: absolute, no empty, "." or ".." components, fits the kernel's PATH_MAX. */
static int make_name(const char *path, char **ret)
{
	const char *p;
	size_t len;

	if (path[0] != '/' || path[1] == '\0')
		return -EINVAL;
	len = strlen(path + 1);
	if (len > MAX_NAME || path[len] == '/')
		return -EINVAL;
	for (p = path; *p; p++) {
		if (p[0] != '/')
			continue;
		if (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || p[2] == '\0')) ||
		    (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
			return -EINVAL;
	}
	*ret = strdup(path + 1);
	return *ret ? 0 : -ENOMEM;
}

#define MAX_FIELDS 64

static int parse_line(struct archive *a, char *line, int lineno)
{
	char *f[MAX_FIELDS];
	size_t nf = 0, i;
	struct entry e = {.line = lineno, .nlink = 1, .body = true, .group = a->n};
	char *save = NULL, *tok;
	int r;

	for (tok = strtok_r(line, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (nf == MAX_FIELDS)
			return -E2BIG;
		f[nf++] = tok;
	}
	if (nf == 0 || f[0][0] == '#')
		return 0;

	if (!strcmp(f[0], "dir") && nf == 3) {
		e.kind = K_DIR;
		r = parse_mode(f[2], &e.mode);
		e.mode |= S_IFDIR;
		e.nlink = 2;
	} else if (!strcmp(f[0], "file") && nf >= 4) {
		e.kind = K_FILE;
		r = parse_mode(f[3], &e.mode);
		e.mode |= S_IFREG;
		e.nlink = (unsigned)(nf - 3);
		if (r == 0)
			e.arg = strdup(f[2]);
	} else if (!strcmp(f[0], "slink") && nf == 4) {
		e.kind = K_SLINK;
		r = parse_mode(f[3], &e.mode);
		e.mode |= S_IFLNK;
		if (r == 0)
			e.arg = strdup(f[2]);
	} else if (!strcmp(f[0], "nod") && nf == 6 && (!strcmp(f[3], "c") || !strcmp(f[3], "b"))) {
		e.kind = K_NOD;
		r = parse_mode(f[2], &e.mode);
		e.mode |= f[3][0] == 'c' ? S_IFCHR : S_IFBLK;
		if (r == 0)
			r = parse_uint(f[4], 0xfff, &e.rmaj);
		if (r == 0)
			r = parse_uint(f[5], 0xfffff, &e.rmin);
	} else {
		return -EINVAL;
	}
	if (r < 0)
		return r;
	if ((e.kind == K_FILE || e.kind == K_SLINK) && !e.arg)
		return -ENOMEM;

	r = make_name(f[1], &e.name);
	if (r < 0)
		return r;
	r = add_entry(a, &e);
	if (r < 0 || e.kind != K_FILE)
		return r;
	/* Extra names of a hard-linked file: same group, no body until the sort decides. */
	for (i = 4; i < nf; i++) {
		struct entry l = e;

		r = make_name(f[i], &l.name);
		if (r < 0)
			return r;
		l.arg = strdup(e.arg);
		if (!l.arg)
			return -ENOMEM;
		r = add_entry(a, &l);
		if (r < 0)
			return r;
	}
	return 0;
}

static int read_manifest(struct archive *a, const char *path)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int lineno = 0, r;

	f = strcmp(path, "-") ? fopen(path, "re") : fdopen(dup(STDIN_FILENO), "r");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		r = parse_line(a, line, lineno);
		if (r < 0) {
			fprintf(stderr, "mkcpio: %s:%d: %s\n", path, lineno,
			        r == -EINVAL ? "malformed line" : strerror(-r));
			return -EINVAL;
		}
	}
	return ferror(f) ? -EIO : 0;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

/* Sort, reject duplicates and orphans, number inodes, put each hard-link body on its last name. */
static int layout(struct archive *a)
{
	size_t i, j;
	uint32_t ino = 0;

	qsort(a->v, a->n, sizeof(*a->v), cmp_entry);
	for (i = 0; i < a->n; i++) {
		struct entry *e = &a->v[i];
		char *slash = strrchr(e->name, '/');

		if (i > 0 && !strcmp(a->v[i - 1].name, e->name)) {
			fprintf(stderr, "mkcpio: duplicate entry /%s (line %d)\n", e->name,
			        e->line);
			return -EEXIST;
		}
		if (slash) {
			struct entry key = {.name = strndup(e->name, (size_t)(slash - e->name))};
			struct entry *p;

			if (!key.name)
				return -ENOMEM;
			p = bsearch(&key, a->v, a->n, sizeof(*a->v), cmp_entry);
			free(key.name);
			if (!p || p->kind != K_DIR) {
				fprintf(stderr,
				        "mkcpio: /%s (line %d): parent is not a dir entry\n",
				        e->name, e->line);
				return -ENOENT;
			}
		}
		e->ino = 0;
	}
	/* Groups are few and small (hard links are rare): quadratic is fine. */
	for (i = 0; i < a->n; i++) {
		struct entry *e = &a->v[i];

		if (e->ino)
			continue;
		e->ino = ++ino;
		if (e->nlink < 2 || e->kind != K_FILE)
			continue;
		e->body = false;
		size_t last = i;
		for (j = i + 1; j < a->n; j++) {
			if (a->v[j].kind == K_FILE && a->v[j].group == e->group) {
				a->v[j].ino = ino;
				a->v[j].body = false;
				last = j;
			}
		}
		a->v[last].body = true;
	}
	return 0;
}

static int put(struct archive *a, const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, a->out) != len)
		return -EIO;
	a->off += len;
	return 0;
}

static int pad(struct archive *a, unsigned align)
{
	static const char zero[BLOCK_PAD];
	size_t n = (size_t)((align - a->off % align) % align);
	return put(a, zero, n);
}

static int put_header(struct archive *a, const char *name, uint32_t ino, uint32_t mode,
                      uint32_t nlink, uint32_t size, uint32_t rmaj, uint32_t rmin)
{
	char hdr[NEWC_HDR_LEN + 1];
	size_t namesize = strlen(name) + 1;
	int r;

	/* magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
	 * namesize check */
	snprintf(hdr, sizeof(hdr),
	         NEWC_MAGIC "%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0u,
	         0u, nlink, a->mtime, size, 0u, 0u, rmaj, rmin, (uint32_t)namesize, 0u);
	r = put(a, hdr, NEWC_HDR_LEN);
	if (r == 0)
		r = put(a, name, namesize);
	if (r == 0)
		r = pad(a, 4);
	return r;
}

static int put_file_body(struct archive *a, const struct entry *e, uint32_t *ret_size)
{
	_cleanup_close_ int fd = -1;
	char buf[65536];
	struct stat st;
	uint64_t left;
	int r;

	fd = open(e->arg, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > UINT32_MAX)
		return -EFBIG; /* newc sizes are 32 bits */
	*ret_size = (uint32_t)st.st_size;
	r = put_header(a, e->name, e->ino, e->mode, e->nlink, *ret_size, 0, 0);
	if (r < 0)
		return r;
	for (left = (uint64_t)st.st_size; left > 0;) {
		ssize_t n = read(fd, buf, left < sizeof(buf) ? left : sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank while we read it */
		r = put(a, buf, (size_t)n);
		if (r < 0)
			return r;
		left -= (uint64_t)n;
	}
	return pad(a, 4);
}

static void list_entry(FILE *l, const struct entry *e, uint32_t size)
{
	static const char type[] = {[K_DIR] = 'd', [K_FILE] = 'f', [K_SLINK] = 'l', [K_NOD] = 'n'};

	fprintf(l, "%c %06o %u %u /%s", type[e->kind], (unsigned)e->mode, e->nlink, size, e->name);
	if (e->kind == K_FILE)
		fprintf(l, " %s", e->body ? e->arg : "-");
	else if (e->kind == K_SLINK)
		fprintf(l, " %s", e->arg);
	else if (e->kind == K_NOD)
		fprintf(l, " %u,%u", e->rmaj, e->rmin);
	fputc('\n', l);
}

static int write_archive(struct archive *a, FILE *listing)
{
	size_t i;
	int r;

	for (i = 0; i < a->n; i++) {
		const struct entry *e = &a->v[i];
		uint32_t size = 0;

		if (e->kind == K_FILE && e->body) {
			r = put_file_body(a, e, &size);
			if (r < 0) {
				fprintf(stderr, "mkcpio: %s: %s\n", e->arg, strerror(-r));
				return r;
			}
		} else if (e->kind == K_SLINK) {
			size = (uint32_t)strlen(e->arg);
			r = put_header(a, e->name, e->ino, e->mode, 1, size, 0, 0);
			if (r == 0)
				r = put(a, e->arg, size);
			if (r == 0)
				r = pad(a, 4);
		} else {
			r = put_header(a, e->name, e->ino, e->mode, e->nlink, 0, e->rmaj, e->rmin);
		}
		if (r < 0)
			return r;
		if (listing)
			list_entry(listing, e, size);
	}
	a->mtime = 0;
	r = put_header(a, "TRAILER!!!", 0, 0, 1, 0, 0, 0);
	if (r == 0)
		r = pad(a, BLOCK_PAD);
	return r;
}

static int parse_epoch(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fputs("Usage: mkcpio [--output FILE] [--list FILE] [--mtime EPOCH] MANIFEST|-\n"
	      "  Writes a sorted, reproducible newc cpio archive described by MANIFEST.\n"
	      "  --output FILE  archive path (default: stdout)\n"
	      "  --list FILE    write one line per entry: type mode nlink size path "
	      "[src|target|rdev]\n"
	      "  --mtime EPOCH  mtime of every entry (default: $SOURCE_DATE_EPOCH, else 0)\n"
	      "  --help         this text\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"list", required_argument, NULL, 'l'},
	    {"mtime", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *output = NULL, *list = NULL, *epoch = getenv("SOURCE_DATE_EPOCH");
	_cleanup_fclose_ FILE *listing = NULL;
	struct archive a = {0};
	int c, r;

	while ((c = getopt_long(argc, argv, "o:l:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'l':
			list = optarg;
			break;
		case 't':
			epoch = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (epoch && *epoch && parse_epoch(epoch, &a.mtime) < 0) {
		fprintf(stderr, "mkcpio: bad mtime/SOURCE_DATE_EPOCH '%s'\n", epoch);
		return 2;
	}
	r = read_manifest(&a, argv[optind]);
	if (r == 0)
		r = layout(&a);
	if (r < 0) {
		if (r != -EINVAL && r != -EEXIST && r != -ENOENT)
			fprintf(stderr, "mkcpio: %s: %s\n", argv[optind], strerror(-r));
		return 1;
	}
	if (list && !(listing = fopen(list, "we"))) {
		fprintf(stderr, "mkcpio: %s: %m\n", list);
		return 1;
	}
	a.out = output ? fopen(output, "we") : stdout;
	if (!a.out) {
		fprintf(stderr, "mkcpio: %s: %m\n", output);
		return 1;
	}
	r = write_archive(&a, listing);
	if (fflush(a.out) != 0 || ferror(a.out))
		r = r < 0 ? r : -EIO;
	if (output && fclose(a.out) != 0)
		r = r < 0 ? r : -EIO;
	if (listing && (fflush(listing) != 0 || ferror(listing)))
		r = r < 0 ? r : -EIO;
	if (r < 0) {
		fprintf(stderr, "mkcpio: writing %s: %s\n", output ? output : "stdout",
		        strerror(-r));
		if (output)
			unlink(output);
		return 1;
	}
	return 0;
}

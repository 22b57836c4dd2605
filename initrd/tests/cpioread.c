// SPDX-License-Identifier: Apache-2.0
/*
 * cpioread: an independent, strict newc reader used by the initrd tests.  It reads an archive on
 * stdin, checks every structural rule the kernel's init/initramfs.c and GNU cpio rely on (magic,
 * hex fields, 4-byte alignment of names and bodies, NUL-terminated names, the trailer, only zero
 * padding after it) and prints one line per entry:
 *   ino mode(octal) uid gid nlink mtime size rdevmajor,rdevminor devmajor,devminor name [body]
 * where body is the symlink target, or the fnv1a-64 hash of a file body as "fnv=HEX".
 * Exit status: 0 = well formed, 1 = malformed (with a message on stderr).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t off;

static int fail(const char *what)
{
	fprintf(stderr, "cpioread: offset %" PRIu64 ": %s\n", off, what);
	return 1;
}

static bool get(void *buf, size_t len)
{
	if (fread(buf, 1, len, stdin) != len)
		return false;
	off += len;
	return true;
}

static bool skip_pad(void)
{
	char z[4];
	size_t n = (size_t)((4 - off % 4) % 4);

	if (!get(z, n))
		return false;
	for (size_t i = 0; i < n; i++)
		if (z[i])
			return false;
	return true;
}

static bool hex8(const char *p, uint32_t *ret)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*ret = v;
	return true;
}

int main(void)
{
	for (;;) {
		char hdr[110];
		uint32_t f[13];
		char *name, *body;
		uint64_t h = 0xcbf29ce484222325ULL;

		if (!get(hdr, sizeof(hdr)))
			return fail("truncated header");
		if (memcmp(hdr, "070701", 6))
			return fail("bad magic");
		for (int i = 0; i < 13; i++)
			if (!hex8(hdr + 6 + 8 * i, &f[i]))
				return fail("bad hex field");
		/* f: 0 ino 1 mode 2 uid 3 gid 4 nlink 5 mtime 6 size 7 devmaj 8 devmin
		 *    9 rdevmaj 10 rdevmin 11 namesize 12 check */
		if (f[11] == 0 || f[11] > 4096)
			return fail("bad namesize");
		if (f[12] != 0)
			return fail("check field not zero in a newc archive");
		name = malloc(f[11]);
		body = malloc(f[6] + 1u);
		if (!name || !body)
			return fail("out of memory");
		if (!get(name, f[11]) || name[f[11] - 1] != '\0' || strlen(name) != f[11] - 1)
			return fail("bad name");
		if (!skip_pad())
			return fail("bad name padding");
		if (!strcmp(name, "TRAILER!!!")) {
			int c;
			while ((c = getchar()) != EOF) {
				if (c != 0)
					return fail("non-zero data after trailer");
				off++;
			}
			if (off % 512)
				return fail("archive not padded to 512 bytes");
			return 0;
		}
		if (!get(body, f[6]) || !skip_pad())
			return fail("truncated body");
		printf("%u %06o %u %u %u %u %u %u,%u %u,%u %s", f[0], f[1], f[2], f[3], f[4], f[5],
		       f[6], f[9], f[10], f[7], f[8], name);
		if (S_ISLNK(f[1])) {
			body[f[6]] = '\0';
			printf(" %s", body);
		} else if (S_ISREG(f[1])) {
			for (uint32_t i = 0; i < f[6]; i++)
				h = (h ^ (unsigned char)body[i]) * 0x100000001b3ULL;
			printf(" fnv=%016" PRIx64, h);
		} else if (f[6] != 0) {
			return fail("body on a non-file entry");
		}
		putchar('\n');
		free(name);
		free(body);
	}
}

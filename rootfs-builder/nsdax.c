// SPDX-License-Identifier: Apache-2.0
/*
 * nsdax: write an NVDIMM "PFN info" block into a raw disk image so that a guest kernel with
 * CONFIG_ZONE_DEVICE / fsdax support sees the NVDIMM (QEMU nvdimm, virtio-pmem) as /dev/pmem0
 * starting at --data-offset, with struct pages kept in RAM, and can mount the filesystem on it
 * with -o dax.
 *
 * The block is the kernel's struct nd_pfn_sb (drivers/nvdimm/pfn.h), read by nd_pfn_validate()
 * (drivers/nvdimm/pfn_devs.c) at byte 4096 (SZ_4K) of the namespace.  All fields are little
 * endian; byte offsets within the 4 KiB block:
 *     0 signature[16] "NVDIMM_PFN_INFO\0"   48 flags (le32)         56 dataoff (le64)
 *    16 uuid[16]                            52 version_major (le16) 64 npfns (le64)
 *    32 parent_uuid[16]                     54 version_minor (le16) 72 mode (le32)
 *    76 start_pad (le32, minor >= 1)        80 end_trunc (le32)     84 align (le32, minor >= 2)
 *    88 page_size (le32, minor >= 4)        92 page_struct_size (le16, minor >= 4)
 *  4088 checksum (le64)
 * The checksum is the kernel's nd_fletcher64() over the whole 4 KiB block read as little-endian
 * 32-bit words, with the checksum field zeroed (nd_sb_checksum()): a 32-bit running sum `lo`
 * (wrapping) and a 64-bit sum of the running sums `hi`; the result is hi << 32 | lo.
 *
 * What we write (version 1.2, the layout Kata's image builder uses and guests accept):
 * mode PFN_MODE_RAM (1: the memmap lives in RAM, so dataoff only has to clear this block),
 * dataoff = align = 2 MiB by default, npfns = (image size - dataoff) / 4 KiB, which is what
 * the kernel's own nd_pfn_init() computes for RAM mode; uuid and parent_uuid zero (a label-less
 * "io" namespace has a null uuid and nd_pfn_validate() compares parent_uuid with it);
 * flags, start_pad, end_trunc and padding zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PFN_SB_SIZE       4096u
#define PFN_SB_OFFSET     4096u /* SZ_4K: where nd_pfn_validate() reads it */
#define PFN_MODE_RAM      1u
#define PAGE_SZ           4096u
#define OFF_SIGNATURE     0
#define OFF_FLAGS         48
#define OFF_VERSION_MAJOR 52
#define OFF_VERSION_MINOR 54
#define OFF_DATAOFF       56
#define OFF_NPFNS         64
#define OFF_MODE          72
#define OFF_ALIGN         84
#define OFF_CHECKSUM      4088

static const char pfn_sig[16] = "NVDIMM_PFN_INFO"; /* the 16th byte is the NUL */

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(closep)))

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = bytes; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

/* nd_fletcher64 over a block, with the checksum field taken as zero. */
static uint64_t pfn_sb_checksum(const uint8_t *blk)
{
	uint32_t lo = 0;
	uint64_t hi = 0;

	for (unsigned off = 0; off < PFN_SB_SIZE; off += 4) {
		uint32_t w = off >= OFF_CHECKSUM ? 0 : (uint32_t)get_le(blk + off, 4);
		lo += w;
		hi += lo;
	}
	return hi << 32 | lo;
}

static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'M' || *end == 'G') {
		unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : 30;
		if (v > UINT64_MAX >> shift)
			return -ERANGE;
		v <<= shift;
		end++;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int write_block(const char *image, uint64_t dataoff, uint64_t align)
{
	_cleanup_close_ int fd = -1;
	uint8_t blk[PFN_SB_SIZE] = {0};
	struct stat st;
	ssize_t n;

	fd = open(image, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size <= dataoff)
		return -ENOSPC;
	memcpy(blk + OFF_SIGNATURE, pfn_sig, sizeof(pfn_sig));
	put_le(blk + OFF_VERSION_MAJOR, 1, 2);
	put_le(blk + OFF_VERSION_MINOR, 2, 2);
	put_le(blk + OFF_DATAOFF, dataoff, 8);
	put_le(blk + OFF_NPFNS, ((uint64_t)st.st_size - dataoff) / PAGE_SZ, 8);
	put_le(blk + OFF_MODE, PFN_MODE_RAM, 4);
	put_le(blk + OFF_ALIGN, align, 4);
	put_le(blk + OFF_CHECKSUM, pfn_sb_checksum(blk), 8);
	n = pwrite(fd, blk, sizeof(blk), PFN_SB_OFFSET);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(blk))
		return -EIO;
	return fsync(fd) < 0 ? -errno : 0;
}

/* --checksum FILE: print the checksum of the first 4 KiB of FILE (checksum field zeroed). */
static int print_checksum(const char *path)
{
	_cleanup_close_ int fd = -1;
	uint8_t blk[PFN_SB_SIZE];
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, blk, sizeof(blk), 0);
	if (n < 0)
		return -errno;
	if (n != (ssize_t)sizeof(blk))
		return -EINVAL;
	printf("0x%016" PRIx64 "\n", pfn_sb_checksum(blk));
	return 0;
}

static void usage(FILE *f)
{
	fputs("Usage: nsdax --image FILE [--data-offset SIZE] [--align SIZE]\n"
	      "       nsdax --checksum BLOCKFILE\n"
	      "  Writes an NVDIMM PFN info block (struct nd_pfn_sb, mode RAM, version 1.2) at\n"
	      "  byte 4096 of FILE.  SIZE accepts K/M/G suffixes; both default to 2M.\n"
	      "  --checksum prints the nd_fletcher64 checksum of the first 4 KiB of a file,\n"
	      "  computed with its last 8 bytes (the checksum field) taken as zero.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"image", required_argument, NULL, 'i'}, {"data-offset", required_argument, NULL, 'd'},
	    {"align", required_argument, NULL, 'a'}, {"checksum", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},        {},
	};
	const char *image = NULL, *sumfile = NULL;
	uint64_t dataoff = 2u << 20, align = 2u << 20;
	int c, r;

	while ((c = getopt_long(argc, argv, "i:d:a:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			image = optarg;
			break;
		case 'c':
			sumfile = optarg;
			break;
		case 'd':
		case 'a':
			if (parse_size(optarg, c == 'd' ? &dataoff : &align) < 0) {
				fprintf(stderr, "nsdax: bad size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !image == !sumfile) {
		usage(stderr);
		return 2;
	}
	if (sumfile) {
		r = print_checksum(sumfile);
		if (r < 0)
			fprintf(stderr, "nsdax: %s: %s\n", sumfile, strerror(-r));
		return r < 0;
	}
	/* nd_pfn_validate(): dataoff page aligned; the data start aligned to `align`
	 * (a power of two that fits the le32 field); the block itself below dataoff. */
	if (dataoff % PAGE_SZ || dataoff < PFN_SB_OFFSET + PFN_SB_SIZE || align < PAGE_SZ ||
	    align > UINT32_MAX || (align & (align - 1)) || dataoff % align) {
		fprintf(stderr,
		        "nsdax: data offset %" PRIu64 " / align %" PRIu64
		        " invalid (page aligned, >= 8K, power-of-two align dividing it)\n",
		        dataoff, align);
		return 2;
	}
	r = write_block(image, dataoff, align);
	if (r < 0) {
		fprintf(stderr, "nsdax: %s: %s\n", image,
		        r == -ENOSPC ? "image not larger than the data offset" : strerror(-r));
		return 1;
	}
	return 0;
}

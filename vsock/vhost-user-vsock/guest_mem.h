/* SPDX-License-Identifier: Apache-2.0 */
/* Guest memory as the vhost-user front-end shares it: a table of regions, each known by its guest
 * physical address (descriptors use these) and by the front-end's own virtual address (vring
 * addresses use these), mapped here from the memfd received with SET_MEM_TABLE. */
#ifndef VUV_GUEST_MEM_H
#define VUV_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* VHOST_MEMORY_BASELINE_NREGIONS in docs/interop/vhost-user.rst. */
#define GM_MAX_REGIONS 8

struct gm_region {
	uint64_t gpa;   /* guest physical address */
	uint64_t size;  /* bytes */
	uint64_t uva;   /* front-end (QEMU) virtual address */
	uint8_t *hva;   /* where the region starts in this process */
	void *map_base; /* mmap()ed here, or NULL when the caller owns the memory */
	size_t map_len;
};

struct guest_mem {
	unsigned n;
	struct gm_region r[GM_MAX_REGIONS];
};

void gm_init(struct guest_mem *gm);
/* Unmaps every region this module mapped. */
void gm_clear(struct guest_mem *gm);
/* Maps size bytes of fd starting at mmap_offset; fd stays the caller's.  fd must be a regular
 * file (memfd, hugetlbfs, tmpfs) at least mmap_offset + size bytes long: -EINVAL otherwise. */
int gm_add_fd_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t uva,
                     uint64_t mmap_offset, int fd);
/* Adds memory the caller owns (tests). */
int gm_add_host_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t uva, void *hva);

/* Host pointer for guest physical address gpa, and in *ret_avail how many bytes follow it in the
 * same region; NULL when gpa is in no region. */
void *gm_gpa(const struct guest_mem *gm, uint64_t gpa, uint64_t *ret_avail);
/* Host pointer for [addr, addr+len) when the whole range lies in one region, else NULL. */
void *gm_gpa_range(const struct guest_mem *gm, uint64_t gpa, uint64_t len);
void *gm_uva_range(const struct guest_mem *gm, uint64_t uva, uint64_t len);

#endif

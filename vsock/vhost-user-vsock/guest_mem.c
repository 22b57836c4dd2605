// SPDX-License-Identifier: Apache-2.0
#include "guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

void gm_init(struct guest_mem *gm)
{
	memset(gm, 0, sizeof(*gm));
}

void gm_clear(struct guest_mem *gm)
{
	for (unsigned i = 0; i < gm->n; i++)
		if (gm->r[i].map_base)
			munmap(gm->r[i].map_base, gm->r[i].map_len);
	gm_init(gm);
}

/* A region must not wrap either address space; overlapping regions are refused so that a
 * translation has one answer. */
static int check_region(const struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t uva)
{
	if (gm->n >= GM_MAX_REGIONS)
		return -E2BIG;
	if (size == 0 || gpa + size < gpa || uva + size < uva)
		return -EINVAL;
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gm_region *o = &gm->r[i];
		if (gpa < o->gpa + o->size && o->gpa < gpa + size)
			return -EINVAL;
	}
	return 0;
}

int gm_add_fd_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t uva,
                     uint64_t mmap_offset, int fd)
{
	int r = check_region(gm, gpa, size, uva);
	if (r < 0)
		return r;
	/* Map from offset 0 and skip mmap_offset ourselves: the offset need not be page aligned
	 * as far as the protocol says. */
	uint64_t len = size + mmap_offset;
	if (len < size || len > SIZE_MAX)
		return -EINVAL;
	/* Pages past the end of the file would fault with SIGBUS on first touch, and the guest
	 * chooses which addresses we touch. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0 || len > (uint64_t)st.st_size)
		return -EINVAL;
	void *p =
	    mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	gm->r[gm->n++] = (struct gm_region){
	    .gpa = gpa,
	    .size = size,
	    .uva = uva,
	    .hva = (uint8_t *)p + mmap_offset,
	    .map_base = p,
	    .map_len = (size_t)len,
	};
	return 0;
}

int gm_add_host_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, uint64_t uva, void *hva)
{
	int r = check_region(gm, gpa, size, uva);
	if (r < 0)
		return r;
	gm->r[gm->n++] = (struct gm_region){.gpa = gpa, .size = size, .uva = uva, .hva = hva};
	return 0;
}

void *gm_gpa(const struct guest_mem *gm, uint64_t gpa, uint64_t *ret_avail)
{
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gm_region *g = &gm->r[i];
		if (gpa >= g->gpa && gpa - g->gpa < g->size) {
			*ret_avail = g->size - (gpa - g->gpa);
			return g->hva + (gpa - g->gpa);
		}
	}
	return NULL;
}

void *gm_gpa_range(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t avail;
	void *p = gm_gpa(gm, gpa, &avail);
	return p && len <= avail ? p : NULL;
}

void *gm_uva_range(const struct guest_mem *gm, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < gm->n; i++) {
		const struct gm_region *g = &gm->r[i];
		if (uva >= g->uva && uva - g->uva < g->size && len <= g->size - (uva - g->uva))
			return g->hva + (uva - g->uva);
	}
	return NULL;
}

// SPDX-License-Identifier: Apache-2.0
#include "fake_guest.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Layout: rings for queue q at q*64KiB, then per-descriptor buffer slots from 256KiB on. */
void fg_init(struct fake_guest *fg)
{
	memset(fg, 0, sizeof(*fg));
	fg->memfd = memfd_create("fake-guest", MFD_CLOEXEC);
	assert(fg->memfd >= 0);
	assert(ftruncate(fg->memfd, FG_MEM_SIZE) == 0);
	fg->mem = mmap(NULL, FG_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fg->memfd, 0);
	assert(fg->mem != MAP_FAILED);
	for (unsigned q = 0; q < 3; q++) {
		struct fg_ring *r = &fg->ring[q];
		r->num = FG_QSIZE;
		r->desc_gpa = FG_GPA_BASE + q * 0x10000;
		r->avail_gpa = r->desc_gpa + 16 * FG_QSIZE;
		r->used_gpa = r->desc_gpa + 0x4000;
		r->slots_gpa = FG_GPA_BASE + 0x40000 + (uint64_t)q * FG_QSIZE * FG_SLOT;
	}
	assert(0x40000 + 3 * FG_QSIZE * FG_SLOT <= FG_MEM_SIZE);
	fg->buf_alloc = 64 * 1024;
}

void fg_fini(struct fake_guest *fg)
{
	munmap(fg->mem, FG_MEM_SIZE);
	close(fg->memfd);
}

void *fg_ptr(struct fake_guest *fg, uint64_t gpa)
{
	assert(gpa >= FG_GPA_BASE && gpa < FG_GPA_BASE + FG_MEM_SIZE);
	return fg->mem + (gpa - FG_GPA_BASE);
}

uint64_t fg_uva(uint64_t gpa)
{
	return gpa - FG_GPA_BASE + FG_UVA_BASE;
}

void fg_guest_mem(struct fake_guest *fg, struct guest_mem *gm)
{
	gm_init(gm);
	assert(gm_add_host_region(gm, FG_GPA_BASE, FG_MEM_SIZE, FG_UVA_BASE, fg->mem) == 0);
}

void fg_setup_vq(struct fake_guest *fg, unsigned idx, struct virtq *vq, const struct guest_mem *gm)
{
	struct fg_ring *r = &fg->ring[idx];
	vq_init(vq);
	assert(vq_set_num(vq, r->num) == 0);
	vq->desc_uva = fg_uva(r->desc_gpa);
	vq->avail_uva = fg_uva(r->avail_gpa);
	vq->used_uva = fg_uva(r->used_gpa);
	vq->addr_set = true;
	assert(vq_translate(vq, gm) == 0);
	vq->started = vq->enabled = true;
}

void fg_set_desc(struct fake_guest *fg, unsigned q, uint16_t id, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next)
{
	struct vq_desc *d = (struct vq_desc *)fg_ptr(fg, fg->ring[q].desc_gpa) + id;
	d->addr = htole64(addr);
	d->len = htole32(len);
	d->flags = htole16(flags);
	d->next = htole16(next);
}

void fg_publish(struct fake_guest *fg, unsigned q, uint16_t head)
{
	struct fg_ring *r = &fg->ring[q];
	uint16_t *avail = fg_ptr(fg, r->avail_gpa);
	avail[2 + r->avail_idx % r->num] = htole16(head);
	r->avail_idx++;
	__atomic_store_n(&avail[1], htole16(r->avail_idx), __ATOMIC_RELEASE);
}

bool fg_get_used(struct fake_guest *fg, unsigned q, uint32_t *ret_id, uint32_t *ret_len)
{
	struct fg_ring *r = &fg->ring[q];
	uint8_t *used = fg_ptr(fg, r->used_gpa);
	uint16_t idx = le16toh(__atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE));
	if (idx == r->last_used)
		return false;
	uint8_t *e = used + 4 + 8 * (r->last_used % r->num);
	uint32_t id, len;
	memcpy(&id, e, 4);
	memcpy(&len, e + 4, 4);
	*ret_id = le32toh(id);
	*ret_len = le32toh(len);
	r->last_used++;
	return true;
}

uint64_t fg_slot(struct fake_guest *fg, unsigned q, uint16_t id)
{
	return fg->ring[q].slots_gpa + (uint64_t)id * FG_SLOT;
}

/* rx buffers like Linux 6.1 posts them: header and data in two descriptors. */
void fg_post_rx(struct fake_guest *fg, unsigned count)
{
	struct fg_ring *r = &fg->ring[VSOCK_VQ_RX];
	for (unsigned i = 0; i < count; i++) {
		uint16_t head = (uint16_t)(2 * (r->avail_idx % (r->num / 2)));
		fg_set_desc(fg, VSOCK_VQ_RX, head, fg_slot(fg, VSOCK_VQ_RX, head),
		            sizeof(struct vsock_hdr), VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		            (uint16_t)(head + 1));
		fg_set_desc(fg, VSOCK_VQ_RX, (uint16_t)(head + 1),
		            fg_slot(fg, VSOCK_VQ_RX, head + 1), 4096, VIRTQ_DESC_F_WRITE, 0);
		fg_publish(fg, VSOCK_VQ_RX, head);
	}
}

void fg_send(struct fake_guest *fg, uint32_t src_port, uint32_t dst_port, uint16_t op,
             uint32_t flags, const void *payload, uint32_t len)
{
	struct fg_ring *r = &fg->ring[VSOCK_VQ_TX];
	uint16_t id = r->avail_idx % r->num;
	uint64_t gpa = fg_slot(fg, VSOCK_VQ_TX, id);
	struct vsock_hdr h = {
	    .src_cid = htole64(FG_GUEST_CID),
	    .dst_cid = htole64(VSOCK_HOST_CID),
	    .src_port = htole32(src_port),
	    .dst_port = htole32(dst_port),
	    .len = htole32(len),
	    .type = htole16(VSOCK_TYPE_STREAM),
	    .op = htole16(op),
	    .flags = htole32(flags),
	    .buf_alloc = htole32(fg->buf_alloc),
	    .fwd_cnt = htole32(fg->fwd_cnt),
	};
	assert(sizeof(h) + len <= FG_SLOT);
	memcpy(fg_ptr(fg, gpa), &h, sizeof(h));
	if (len)
		memcpy(fg_ptr(fg, gpa + sizeof(h)), payload, len);
	fg_set_desc(fg, VSOCK_VQ_TX, id, gpa, (uint32_t)sizeof(h) + len, 0, 0);
	fg_publish(fg, VSOCK_VQ_TX, id);
}

int fg_recv(struct fake_guest *fg, struct vsock_hdr *ret_hdr, void *payload, uint32_t cap)
{
	uint32_t id, len;
	if (!fg_get_used(fg, VSOCK_VQ_RX, &id, &len))
		return 0;
	assert(id < FG_QSIZE && len >= sizeof(struct vsock_hdr));
	memcpy(ret_hdr, fg_ptr(fg, fg_slot(fg, VSOCK_VQ_RX, (uint16_t)id)), sizeof(*ret_hdr));
	uint32_t plen = le32toh(ret_hdr->len);
	assert(plen == len - sizeof(struct vsock_hdr) && plen <= cap && plen <= 4096);
	if (plen)
		memcpy(payload, fg_ptr(fg, fg_slot(fg, VSOCK_VQ_RX, (uint16_t)(id + 1))), plen);
	/* Like a real driver, account what the application consumed. */
	if (le16toh(ret_hdr->op) == VSOCK_OP_RW)
		fg->fwd_cnt += plen;
	return 1;
}

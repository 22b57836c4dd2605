/* SPDX-License-Identifier: Apache-2.0 */
/* An in-memory fake guest driver: guest RAM in a memfd, split virtqueues laid out in it, and the
 * driver half of the ring protocol, so tests can feed the device real descriptor chains. */
#ifndef VUV_FAKE_GUEST_H
#define VUV_FAKE_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "virtq.h"
#include "vsock_proto.h"

#define FG_GPA_BASE  0x100000ull       /* guest physical address of the memory */
#define FG_UVA_BASE  0x7f1200000000ull /* where the "front-end" has it mapped */
#define FG_MEM_SIZE  (4u << 20)
#define FG_QSIZE     128
#define FG_SLOT      8192 /* buffer bytes per descriptor */
#define FG_GUEST_CID 3

struct fg_ring {
	uint16_t num;
	uint64_t desc_gpa, avail_gpa, used_gpa, slots_gpa;
	uint16_t avail_idx, last_used;
};

struct fake_guest {
	int memfd;
	uint8_t *mem;
	struct fg_ring ring[3];
	uint32_t buf_alloc, fwd_cnt; /* what the guest advertises */
};

void fg_init(struct fake_guest *fg);
void fg_fini(struct fake_guest *fg);
void *fg_ptr(struct fake_guest *fg, uint64_t gpa);
/* Host-region view of the guest memory (no vhost-user involved). */
void fg_guest_mem(struct fake_guest *fg, struct guest_mem *gm);
/* Programs vq directly as SET_VRING_NUM/ADDR/KICK would, started and enabled. */
void fg_setup_vq(struct fake_guest *fg, unsigned idx, struct virtq *vq, const struct guest_mem *gm);
uint64_t fg_uva(uint64_t gpa);

/* Raw descriptor write and avail publication. */
void fg_set_desc(struct fake_guest *fg, unsigned q, uint16_t id, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next);
void fg_publish(struct fake_guest *fg, unsigned q, uint16_t head);
/* Next used entry of queue q; false when none. */
bool fg_get_used(struct fake_guest *fg, unsigned q, uint32_t *ret_id, uint32_t *ret_len);
uint64_t fg_slot(struct fake_guest *fg, unsigned q, uint16_t id);

/* Driver helpers for vsock. */
void fg_post_rx(struct fake_guest *fg, unsigned count);
void fg_send(struct fake_guest *fg, uint32_t src_port, uint32_t dst_port, uint16_t op,
             uint32_t flags, const void *payload, uint32_t len);
/* Next packet the device put on rx: 1 and header/payload, 0 when none. */
int fg_recv(struct fake_guest *fg, struct vsock_hdr *ret_hdr, void *payload, uint32_t cap);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Device side of a virtio split virtqueue (virtio 1.1 §2.6) living in guest memory.  Everything
 * read from the rings is treated as hostile: indices are bounded, chains are length-limited and
 * every buffer is translated and bounds-checked against the guest memory table. */
#ifndef VUV_VIRTQ_H
#define VUV_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"

/* virtio 1.1 §2.6.5: descriptor flags. */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
/* §2.6.6 / §2.6.8: ring flags. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* §2.6 allows up to 32768 entries, but a guest can make every entry head a chain as long as the
 * table (a loop, ended by the length limit) and one kick then costs num * num descriptor reads:
 * 10^9 at 32768.  QEMU's vhost-user-vsock uses 128; 1024 keeps the worst case near 10^6. */
#define VQ_MAX_SIZE 1024
#define VQ_MAX_IOV  64 /* segments one chain may translate into */

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq {
	uint16_t num;
	bool addr_set;
	uint64_t desc_uva, avail_uva, used_uva;
	/* Host views of the rings; NULL until the addresses translate. */
	struct vq_desc *desc;
	uint16_t *avail; /* [0] flags, [1] idx, [2..] ring */
	uint8_t *used;   /* le16 flags, le16 idx, {le32 id, le32 len}[] */
	uint16_t last_avail, used_idx, signalled_used;
	int kick_fd, call_fd, err_fd;
	bool enabled, started, broken;
};

/* A popped descriptor chain: device-readable segments (out) then device-writable ones (in). */
struct vq_chain {
	uint16_t head;
	unsigned n_out, n_in;
	size_t out_len, in_len;
	struct iovec out[VQ_MAX_IOV];
	struct iovec in[VQ_MAX_IOV];
};

void vq_init(struct virtq *vq);
/* Closes the eventfds and forgets the ring. */
void vq_reset(struct virtq *vq);
int vq_set_num(struct virtq *vq, uint32_t num);
/* (Re)computes the host views from the front-end addresses; -EFAULT when they are not mapped. */
int vq_translate(struct virtq *vq, const struct guest_mem *gm);
bool vq_ready(const struct virtq *vq);
/* Current used->idx as the guest sees it. */
uint16_t vq_used_idx_in_ring(const struct virtq *vq);

/* 1 and a chain, 0 when the ring is empty or the batch's budget is spent, -EIO when the ring
 * itself is corrupt (the queue is then marked broken and stays silent).  Malformed chains are
 * returned to the guest with length 0 and skipped.
 * *pass is what the batch may still take: start it at num (one ring's worth per kick or event)
 * and keep it across the batch's calls.  Every ring entry taken counts, the dropped chains too,
 * so a batch walks at most num chains of at most num descriptors.  A guest can alias its rings so
 * that the device's own writes publish new entries: only this bound ends that, and a bound per
 * call instead of per batch let one kick cost num^3 descriptor reads. */
int vq_pop(struct virtq *vq, const struct guest_mem *gm, unsigned *pass, struct vq_chain *ret);
bool vq_has_avail(const struct virtq *vq);
void vq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Signals the call eventfd when used entries were added since the last signal. */
void vq_notify(struct virtq *vq);

/* Copy between a flat buffer and iovecs starting at byte offset off; return bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);

#endif

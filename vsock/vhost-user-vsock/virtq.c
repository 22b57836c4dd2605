// SPDX-License-Identifier: Apache-2.0
#include "virtq.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

void vq_init(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
}

void vq_reset(struct virtq *vq)
{
	closep(&vq->kick_fd);
	closep(&vq->call_fd);
	closep(&vq->err_fd);
	vq_init(vq);
}

int vq_set_num(struct virtq *vq, uint32_t num)
{
	if (num == 0 || num > VQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	vq->num = (uint16_t)num;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	return 0;
}

int vq_translate(struct virtq *vq, const struct guest_mem *gm)
{
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	if (!vq->addr_set || vq->num == 0)
		return -EINVAL;
	/* Sizes from virtio 1.1 §2.6, including the event words at the end of each ring. */
	uint64_t n = vq->num;
	void *d = gm_uva_range(gm, vq->desc_uva, 16 * n);
	void *a = gm_uva_range(gm, vq->avail_uva, 6 + 2 * n);
	void *u = gm_uva_range(gm, vq->used_uva, 6 + 8 * n);
	if (!d || !a || !u)
		return -EFAULT;
	/* §2.6: alignment 16 / 2 / 4; misaligned rings would be undefined behaviour here. */
	if (((uintptr_t)d & 15) || ((uintptr_t)a & 1) || ((uintptr_t)u & 3))
		return -EINVAL;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	return 0;
}

bool vq_ready(const struct virtq *vq)
{
	return vq->started && vq->enabled && vq->desc && !vq->broken;
}

static uint16_t load_le16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

uint16_t vq_used_idx_in_ring(const struct virtq *vq)
{
	return vq->used ? load_le16((const uint16_t *)(vq->used + 2)) : 0;
}

bool vq_has_avail(const struct virtq *vq)
{
	return vq_ready(vq) && load_le16(&vq->avail[1]) != vq->last_avail;
}

/* Appends [gpa, gpa+len) to iov, split where it crosses regions. */
static int add_segments(const struct guest_mem *gm, uint64_t gpa, uint32_t len, struct iovec *iov,
                        unsigned *n, size_t *total)
{
	while (len > 0) {
		uint64_t avail;
		void *p = gm_gpa(gm, gpa, &avail);
		if (!p)
			return -EFAULT;
		if (*n >= VQ_MAX_IOV)
			return -E2BIG;
		uint32_t chunk = avail < len ? (uint32_t)avail : len;
		iov[*n].iov_base = p;
		iov[*n].iov_len = chunk;
		(*n)++;
		*total += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

static int walk_chain(const struct virtq *vq, const struct guest_mem *gm, uint16_t head,
                      struct vq_chain *c)
{
	uint16_t i = head;
	unsigned count = 0;
	bool seen_write = false;

	memset(c, 0, offsetof(struct vq_chain, out));
	c->head = head;
	for (;;) {
		/* A chain longer than the table must contain a loop (§2.6.5.3.1). */
		if (++count > vq->num)
			return -ELOOP;
		/* Read each field once: the guest may rewrite the descriptor under us. */
		const struct vq_desc *d = &vq->desc[i];
		uint64_t addr = le64toh(__atomic_load_n(&d->addr, __ATOMIC_RELAXED));
		uint32_t len = le32toh(__atomic_load_n(&d->len, __ATOMIC_RELAXED));
		uint16_t flags = le16toh(__atomic_load_n(&d->flags, __ATOMIC_RELAXED));
		uint16_t next = le16toh(__atomic_load_n(&d->next, __ATOMIC_RELAXED));
		int r;

		if (flags & VIRTQ_DESC_F_INDIRECT)
			return -EOPNOTSUPP; /* VIRTIO_RING_F_INDIRECT_DESC is not offered */
		if (flags & VIRTQ_DESC_F_WRITE) {
			seen_write = true;
			r = add_segments(gm, addr, len, c->in, &c->n_in, &c->in_len);
		} else if (seen_write)
			return -EINVAL; /* §2.6.4.2: readable after writable */
		else
			r = add_segments(gm, addr, len, c->out, &c->n_out, &c->out_len);
		if (r < 0)
			return r;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (next >= vq->num)
			return -EINVAL;
		i = next;
	}
}

int vq_pop(struct virtq *vq, const struct guest_mem *gm, unsigned *pass, struct vq_chain *ret)
{
	/* A guest that aliases its used ring onto its avail ring makes every chain we drop publish
	 * a new one: the batch's budget ends that. */
	while (*pass > 0 && vq_ready(vq)) {
		uint16_t avail_idx = load_le16(&vq->avail[1]);
		uint16_t pending = (uint16_t)(avail_idx - vq->last_avail);
		if (pending == 0)
			return 0;
		if (pending > vq->num) {
			log_err("virtqueue: avail idx %u runs %u ahead of %u entries", avail_idx,
			        pending, vq->num);
			vq->broken = true;
			return -EIO;
		}
		uint16_t head = le16toh(
		    __atomic_load_n(&vq->avail[2 + vq->last_avail % vq->num], __ATOMIC_RELAXED));
		if (head >= vq->num) {
			log_err("virtqueue: head %u out of range (%u entries)", head, vq->num);
			vq->broken = true;
			return -EIO;
		}
		vq->last_avail++;
		(*pass)--;
		int r = walk_chain(vq, gm, head, ret);
		if (r == 0)
			return 1;
		log_warn("virtqueue: dropping malformed chain at %u: %s", head, strerror(-r));
		vq_push(vq, head, 0);
	}
	return 0;
}

void vq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	uint8_t *e = vq->used + 4 + 8 * (size_t)(vq->used_idx % vq->num);
	__atomic_store_n((uint32_t *)e, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(e + 4), htole32(len), __ATOMIC_RELAXED);
	vq->used_idx++;
	/* The entry must be visible before the index that publishes it (§2.6.8.2). */
	__atomic_store_n((uint16_t *)(vq->used + 2), htole16(vq->used_idx), __ATOMIC_RELEASE);
}

void vq_notify(struct virtq *vq)
{
	if (vq->used_idx == vq->signalled_used || vq->call_fd < 0 || !vq->avail)
		return;
	/* Order the used idx store before reading the guest's suppression flag. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (load_le16(&vq->avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT)
		return;
	vq->signalled_used = vq->used_idx;
	uint64_t one = 1;
	if (write(vq->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("virtqueue: call eventfd: %m");
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t c = MIN(iov[i].iov_len - off, len - done);
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, c);
		done += c;
		off = 0;
	}
	return done;
}

size_t buf_to_iov(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t c = MIN(iov[i].iov_len - off, len - done);
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, c);
		done += c;
		off = 0;
	}
	return done;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Back-end side of the vhost-user protocol (QEMU docs/interop/vhost-user.rst) for a device with
 * three virtqueues and an 8-byte config space holding the guest CID. */
#ifndef VUV_VHOST_USER_H
#define VUV_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"
#include "util.h"
#include "virtq.h"

/* Message ids (vhost-user.rst, "Front-end message types"). */
enum {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_RESET_DEVICE = 34,
};

/* Header flags: bits 0-1 version (1), bit 2 reply, bit 3 need_reply. */
#define VHOST_USER_VERSION         1u
#define VHOST_USER_VERSION_MASK    3u
#define VHOST_USER_REPLY_MASK      (1u << 2)
#define VHOST_USER_NEED_REPLY_MASK (1u << 3)

#define VHOST_USER_F_PROTOCOL_FEATURES  30
#define VIRTIO_F_VERSION_1              32
#define VHOST_USER_PROTOCOL_F_REPLY_ACK 3
#define VHOST_USER_PROTOCOL_F_CONFIG    9

/* SET_VRING_KICK/CALL/ERR payload: queue index in bits 0-7, bit 8 set when no fd is passed. */
#define VHOST_USER_VRING_IDX_MASK 0xffu
#define VHOST_USER_VRING_NOFD     (1u << 8)

#define VU_NUM_VQS     3
#define VU_MAX_PAYLOAD 4096 /* larger than any message this device accepts */

struct vu_msg_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
};

struct vu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[GM_MAX_REGIONS];
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[];
};

struct vu_dev;

struct vu_kick {
	struct ev_src src;
	struct vu_dev *dev;
	unsigned idx;
};

struct vu_dev {
	int epfd;
	int listen_fd, sock_fd;
	struct ev_src listen_src, sock_src;
	struct vu_kick kick[VU_NUM_VQS];
	struct guest_mem mem;
	struct virtq vq[VU_NUM_VQS];
	uint64_t features, proto_features;
	uint64_t guest_cid;
	unsigned sessions; /* front-ends accepted so far */
	/* The guest kicked queue idx (or the queue just started). */
	void (*on_kick)(struct vu_dev *dev, unsigned idx);
	/* Rings stopped: the front-end went away, stopped a queue or reset the device. */
	void (*on_stop)(struct vu_dev *dev);
	void *opaque;
};

void vu_init(struct vu_dev *dev, int epfd, uint64_t guest_cid);
/* Listens on path (a stale socket is replaced) and accepts one front-end at a time. */
int vu_listen(struct vu_dev *dev, const char *path);
/* Takes a connected front-end socket (also used by tests with a socketpair). */
int vu_attach(struct vu_dev *dev, int fd);
/* Reads and handles one message; < 0 means the connection must be dropped. */
int vu_handle_one(struct vu_dev *dev);
/* Drops the front-end and every ring and mapping; the device waits for the next front-end. */
void vu_disconnect(struct vu_dev *dev);
void vu_fini(struct vu_dev *dev);

uint64_t vu_offered_features(void);
uint64_t vu_offered_protocol_features(void);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-vsock wire format (virtio 1.1 §5.10; linux include/uapi/linux/virtio_vsock.h). */
#ifndef VUV_VSOCK_PROTO_H
#define VUV_VSOCK_PROTO_H

#include <assert.h>
#include <stdint.h>

#define VSOCK_HOST_CID 2u

enum { VSOCK_VQ_RX = 0, VSOCK_VQ_TX = 1, VSOCK_VQ_EVENT = 2, VSOCK_NUM_VQS = 3 };

enum { VSOCK_TYPE_STREAM = 1, VSOCK_TYPE_SEQPACKET = 2 };

enum {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive / send no more. */
#define VSOCK_SHUTDOWN_RCV  1u
#define VSOCK_SHUTDOWN_SEND 2u

/* All fields little-endian. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));
static_assert(sizeof(struct vsock_hdr) == 44, "virtio_vsock_hdr is 44 bytes");

/* Largest payload either side puts in one packet (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE in Linux). */
#define VSOCK_MAX_PKT_PAYLOAD (64u * 1024)

#endif

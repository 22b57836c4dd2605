/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-vsock device logic: connections between guest ports and host unix sockets, the
 * packet state machine, credit-based flow control, and the Firecracker-style hybrid socket
 * ("CONNECT <port>\n" -> "OK <hostport>\n"; guest connections to port N go to <uds>_N). */
#ifndef VUV_VSOCK_CORE_H
#define VUV_VSOCK_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "guest_mem.h"
#include "util.h"
#include "virtq.h"
#include "vsock_proto.h"

#define VSC_CONN_BUCKETS       256
#define VSC_RST_QUEUE          256
#define VSC_MAX_CONNS          1024
#define VSC_BUF_ALLOC          (256u * 1024) /* our receive buffer per connection, advertised */
#define VSC_TO_GUEST_BUF       (64u * 1024)  /* bytes read from a host socket awaiting the guest */
#define VSC_CONNECT_TIMEOUT_MS 5000          /* for the CONNECT line and the guest's RESPONSE */
#define VSC_FIRST_HOST_PORT    (1u << 30)

/* An optional observer of what goes through the connections (vhost-user-vsock --trace).
 * conn is a serial number; guest_port the guest's end (the port a host CONNECT named). */
struct vsc_observer {
	void (*open)(void *opaque, unsigned conn, uint32_t guest_port, bool host_initiated);
	/* len bytes starting skip bytes into iov[0..n): host -> guest when to_guest */
	void (*data)(void *opaque, unsigned conn, bool to_guest, const struct iovec *iov,
	             unsigned n, size_t skip, size_t len);
	void (*close)(void *opaque, unsigned conn);
	void *opaque;
};

struct vsock_core {
	uint64_t guest_cid;
	char uds_path[108];
	int epfd;
	const struct guest_mem *mem;
	struct virtq *rxq, *txq;
	uint32_t buf_alloc;

	int listen_fd, timer_fd;
	struct ev_src listen_src, timer_src;

	struct list buckets[VSC_CONN_BUCKETS];
	struct list all, pending, graveyard;
	unsigned nconns;
	uint32_t next_port;

	struct vsock_hdr rst_q[VSC_RST_QUEUE];
	unsigned rst_head, rst_len;

	uint64_t pkts_from_guest, pkts_to_guest, rsts_sent;

	const struct vsc_observer *obs; /* set after vsc_init; NULL: none */
	unsigned next_conn_serial;
};

/* Binds the hybrid socket at uds_path (a stale socket file is replaced) and registers it and a
 * housekeeping timer with epfd.  rxq/txq/mem stay owned by the caller. */
int vsc_init(struct vsock_core *c, uint64_t guest_cid, const char *uds_path, int epfd,
             const struct guest_mem *mem, struct virtq *rxq, struct virtq *txq);
void vsc_fini(struct vsock_core *c);
/* Parses a hybrid-socket handshake line, "CONNECT <port>\n" exactly (decimal, at most 10
 * digits, <= UINT32_MAX); -EINVAL for anything else. */
int vsc_parse_connect(const char *line, size_t len, uint32_t *ret_port);
/* Checks the accounting invariants above for every live connection (tests, fuzzing): 0, or
 * -EPROTO when one is broken. */
int vsc_check(const struct vsock_core *c);
/* The guest made packets available on tx / buffers on rx. */
void vsc_process_tx(struct vsock_core *c);
void vsc_process_rx(struct vsock_core *c);
/* The device stopped or the front-end went away: forget every connection (no RST: the rings are
 * gone).  Host clients see their socket closed. */
void vsc_reset_all(struct vsock_core *c);
/* Frees connections closed during the last batch of events; call after each epoll batch. */
void vsc_reap(struct vsock_core *c);

#endif

/* A blocking ttrpc client for the host tools and tests: send requests (several may be in
 * flight), receive responses in any order. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct ttrpc_client {
	int fd;
	uint32_t next_stream; /* odd, starts at 1 */
};

struct ttrpc_result {
	uint32_t stream_id;
	int code;         /* google.rpc.Code */
	char *message;    /* malloc'd, "" on success */
	uint8_t *payload; /* malloc'd, may be NULL when empty */
	size_t len;
};

void ttrpc_client_init(struct ttrpc_client *c, int fd);
/* Send one Request; returns its stream id (>0) or -errno. */
long ttrpc_client_send(struct ttrpc_client *c, const char *service, const char *method,
                       const uint8_t *payload, size_t len, int64_t timeout_nano);
/* Send raw bytes (tests: crafted frames). */
int ttrpc_client_send_raw(struct ttrpc_client *c, const void *p, size_t n);
/* Receive the next Response frame, waiting at most timeout_ms (-1: forever).  Non-response
 * frames are skipped.  Returns 0, -ETIMEDOUT, -ECONNRESET (peer closed) or -EPROTO. */
int ttrpc_client_recv(struct ttrpc_client *c, int timeout_ms, struct ttrpc_result *ret);
/* send + recv of that stream (other streams' responses are discarded). */
int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
                      const uint8_t *payload, size_t len, int64_t timeout_nano, int timeout_ms,
                      struct ttrpc_result *ret);
void ttrpc_result_free(struct ttrpc_result *r);

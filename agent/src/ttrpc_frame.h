// SPDX-License-Identifier: Apache-2.0
/* ttrpc framing (docs/PROTOCOL.md §1.2-1.6): a 10-byte big-endian header
 * {u32 length, u32 stream id, u8 type, u8 flags} followed by `length` payload bytes.
 * Shared by the agent and the host tools. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define TTRPC_HDR_LEN 10
#define TTRPC_MAX_MSG (4u << 20) /* messageLengthMax / MESSAGE_LENGTH_MAX */

enum ttrpc_type {
	TTRPC_REQUEST = 1,
	TTRPC_RESPONSE = 2,
	TTRPC_DATA = 3,
};

enum ttrpc_flags {
	TTRPC_FLAG_REMOTE_CLOSED = 0x1,
	TTRPC_FLAG_REMOTE_OPEN = 0x2,
	TTRPC_FLAG_NO_DATA = 0x4,
};

/* google.rpc.Code values used on the wire. */
enum ttrpc_code {
	TTRPC_OK = 0,
	TTRPC_CANCELLED = 1,
	TTRPC_UNKNOWN = 2,
	TTRPC_INVALID_ARGUMENT = 3,
	TTRPC_DEADLINE_EXCEEDED = 4,
	TTRPC_NOT_FOUND = 5,
	TTRPC_ALREADY_EXISTS = 6,
	TTRPC_PERMISSION_DENIED = 7,
	TTRPC_RESOURCE_EXHAUSTED = 8,
	TTRPC_FAILED_PRECONDITION = 9,
	TTRPC_ABORTED = 10,
	TTRPC_OUT_OF_RANGE = 11,
	TTRPC_UNIMPLEMENTED = 12,
	TTRPC_INTERNAL = 13,
	TTRPC_UNAVAILABLE = 14,
	TTRPC_DATA_LOSS = 15,
	TTRPC_UNAUTHENTICATED = 16,
};

struct ttrpc_hdr {
	uint32_t length;
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void ttrpc_hdr_encode(uint8_t out[TTRPC_HDR_LEN], const struct ttrpc_hdr *h);
void ttrpc_hdr_decode(const uint8_t in[TTRPC_HDR_LEN], struct ttrpc_hdr *h);
const char *ttrpc_code_name(int code);
/* Map a name like "NOT_FOUND" back to its code; -1 if unknown. */
int ttrpc_code_from_name(const char *name);

/* Protobuf properties shared by the targets that decode messages: canonical re-encoding and
 * the JSON round trip of vsock/common/pbjson (what kata-agent-ctl reads and prints). */
#pragma once

#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

#include "fuzz_common.h"
#include "pbjson.h"

/* Render m as JSON: valid JSON that parses back into the same message type and renders the
 * same the second time. */
static void check_json(const ProtobufCMessage *m)
{
	char *j1 = NULL, *j2 = NULL, *err = NULL;
	ProtobufCMessage *m2 = NULL;
	FUZZ_ASSERT(pbjson_to_json(m, &j1) == 0);
	struct json_object *o = json_tokener_parse(j1);
	FUZZ_ASSERT(o);
	json_object_put(o);
	int r = pbjson_from_json(m->descriptor, j1, &m2, &err);
	if (r != 0)
		fprintf(stderr, "from_json(to_json(m)) failed: %s\n%s\n", err ? err : "?", j1);
	FUZZ_ASSERT(r == 0);
	FUZZ_ASSERT(pbjson_to_json(m2, &j2) == 0);
	if (strcmp(j1, j2) != 0)
		fprintf(stderr, "JSON changed on a round trip:\n%s\n%s\n", j1, j2);
	FUZZ_ASSERT(strcmp(j1, j2) == 0);
	protobuf_c_message_free_unpacked(m2, NULL);
	free(j1);
	free(j2);
}

/* libprotobuf-c 1.4.1 accepts a tag of field number 0 written in a multi-byte varint (80 00)
 * and keeps it as an unknown field, then packs it as the single byte 00, which it rejects on
 * the next unpack.  That is a library quirk (the agent ignores unknown fields), so a failed
 * re-decode is accepted only when such a field is in the tree. */
static bool has_tag0_unknown(const ProtobufCMessage *m)
{
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const char *base = (const char *)m;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v =
			    *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < n; k++)
				if (has_tag0_unknown(v[k]))
					return true;
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
		if (sub && has_tag0_unknown(sub))
			return true;
	}
	return false;
}

/* Decode; a decoded message passes protobuf_c_message_check, packs to its packed size and
 * re-decodes to a message that packs to the same bytes; then check_json. */
static void check_decode(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, n, p);
	if (!m)
		return;
	FUZZ_ASSERT(protobuf_c_message_check(m));
	size_t sz = protobuf_c_message_get_packed_size(m);
	uint8_t *b1 = malloc(sz + 1), *b2 = malloc(sz + 1);
	FUZZ_ASSERT(b1 && b2);
	FUZZ_ASSERT(protobuf_c_message_pack(m, b1) == sz);
	ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, sz, b1);
	if (!m2) {
		FUZZ_ASSERT(has_tag0_unknown(m));
		goto out;
	}
	FUZZ_ASSERT(protobuf_c_message_get_packed_size(m2) == sz);
	FUZZ_ASSERT(protobuf_c_message_pack(m2, b2) == sz);
	FUZZ_ASSERT(memcmp(b1, b2, sz) == 0);
	check_json(m);
	protobuf_c_message_free_unpacked(m2, NULL);
out:
	protobuf_c_message_free_unpacked(m, NULL);
	free(b1);
	free(b2);
}

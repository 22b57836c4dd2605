/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kata Go runtime's request frames (tests/fixtures/kata-go-client-2023) against our .proto
 * files: each file is a ttrpc.Request whose payload is the method's request type; nothing may
 * land in unknown fields at any depth (a field number or wire type we got wrong would), and
 * both the envelope and the payload re-encode to the recorded bytes (the Go encoder writes
 * fields in number order, as protobuf-c does).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "ttrpc.pb-c.h"

static const char *fixture_dir = "tests/fixtures/kata-go-client-2023";

static uint8_t *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	uint8_t *b = malloc(cap);
	size_t n;
	while (b && (n = fread(b + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *g = realloc(b, cap *= 2);
			if (!g) {
				free(b);
				b = NULL;
			}
			b = g;
		}
	}
	fclose(f);
	*ret_len = len;
	return b;
}

static const ProtobufCMethodDescriptor *find_method(const char *service, const char *method)
{
	const ProtobufCServiceDescriptor *services[] = {&grpc__agent_service__descriptor,
	                                                &grpc__health__descriptor};
	for (size_t s = 0; s < sizeof(services) / sizeof(services[0]); s++) {
		if (strcmp(services[s]->name, service) != 0)
			continue;
		for (unsigned m = 0; m < services[s]->n_methods; m++)
			if (strcmp(services[s]->methods[m].name, method) == 0)
				return &services[s]->methods[m];
	}
	return NULL;
}

/* Unknown fields anywhere in m; path names where, for the failure message. */
static unsigned count_unknown(const ProtobufCMessage *m, char *path, size_t size)
{
	unsigned n = m->n_unknown_fields;
	if (n)
		snprintf(path, size, "%s (field %u)", m->descriptor->name,
		         m->unknown_fields[0].tag);
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const char *base = (const char *)m;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
			if (which != f->id)
				continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t count = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *arr =
			    *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < count; k++)
				n += count_unknown(arr[k], path, size);
		} else {
			const ProtobufCMessage *sub =
			    *(const ProtobufCMessage *const *)(base + f->offset);
			if (sub)
				n += count_unknown(sub, path, size);
		}
	}
	return n;
}

static int same_encoding(const ProtobufCMessage *m, const uint8_t *want, size_t len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (n != len)
		return 0;
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	protobuf_c_message_pack(m, b);
	int same = n == 0 || memcmp(b, want, n) == 0;
	free(b);
	return same;
}

struct entry {
	char file[128], service[64], method[64];
	size_t bytes;
};

static size_t read_manifest(struct entry *e, size_t max)
{
	char path[512], line[512];
	snprintf(path, sizeof(path), "%s/MANIFEST.tsv", fixture_dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = 0;
	while (fgets(line, sizeof(line), f) && n < max) {
		if (strncmp(line, "file\t", 5) == 0)
			continue;
		if (sscanf(line, "%127[^\t]\t%63[^\t]\t%63[^\t]\t%zu", e[n].file, e[n].service,
		           e[n].method, &e[n].bytes) == 4)
			n++;
	}
	fclose(f);
	return n;
}

static void test_every_fixture_decodes_exactly(void **state)
{
	(void)state;
	struct entry e[64];
	size_t n = read_manifest(e, 64);
	assert_int_equal(n, 31);
	for (size_t i = 0; i < n; i++) {
		char path[512], where[256] = "";
		snprintf(path, sizeof(path), "%s/%s", fixture_dir, e[i].file);
		size_t len;
		uint8_t *b = read_file(path, &len);
		assert_non_null(b);
		assert_int_equal(len, e[i].bytes);
		Ttrpc__Request *req = ttrpc__request__unpack(NULL, len, b);
		if (!req)
			fail_msg("%s: not a ttrpc.Request", e[i].file);
		assert_string_equal(req->service, e[i].service);
		assert_string_equal(req->method, e[i].method);
		if (count_unknown(&req->base, where, sizeof(where)))
			fail_msg("%s: unknown envelope field in %s", e[i].file, where);
		if (!same_encoding(&req->base, b, len))
			fail_msg("%s: the envelope does not re-encode to the recorded bytes",
			         e[i].file);
		const ProtobufCMethodDescriptor *md = find_method(req->service, req->method);
		if (!md)
			fail_msg("%s: no method %s/%s in our protos", e[i].file, req->service,
			         req->method);
		ProtobufCMessage *p =
		    protobuf_c_message_unpack(md->input, NULL, req->payload.len, req->payload.data);
		if (!p)
			fail_msg("%s: payload is not a %s", e[i].file, md->input->name);
		if (count_unknown(p, where, sizeof(where)))
			fail_msg("%s: unknown field in %s", e[i].file, where);
		if (!same_encoding(p, req->payload.data, req->payload.len))
			fail_msg("%s: the %s payload does not re-encode to the recorded bytes",
			         e[i].file, md->input->name);
		protobuf_c_message_free_unpacked(p, NULL);
		ttrpc__request__free_unpacked(req, NULL);
		free(b);
	}
	print_message("%zu fixtures decode with no unknown field and re-encode byte for byte\n", n);
}

/* The check itself must be able to fail: a field number we do not know lands in unknown
 * fields, however deep.  protobuf-c keeps unknown fields and packs them again, so a Process
 * decoded with one carries it into the request built around it. */
static void test_unknown_field_is_seen(void **state)
{
	(void)state;
	Grpc__Process proc = GRPC__PROCESS__INIT;
	proc.cwd = "/";
	uint8_t buf[256];
	size_t n = protobuf_c_message_get_packed_size(&proc.base);
	assert_true(n + 3 < sizeof(buf));
	protobuf_c_message_pack(&proc.base, buf);
	buf[n++] = 0xb8; /* field 999, varint: tag 7992 = b8 3e */
	buf[n++] = 0x3e;
	buf[n++] = 0x01;
	Grpc__Process *odd = grpc__process__unpack(NULL, n, buf);
	assert_non_null(odd);

	Grpc__CreateContainerRequest r = GRPC__CREATE_CONTAINER_REQUEST__INIT;
	Grpc__Spec spec = GRPC__SPEC__INIT;
	r.container_id = "c";
	r.oci = &spec;
	spec.process = odd;
	n = protobuf_c_message_get_packed_size(&r.base);
	assert_true(n < sizeof(buf));
	protobuf_c_message_pack(&r.base, buf);
	ProtobufCMessage *m =
	    protobuf_c_message_unpack(&grpc__create_container_request__descriptor, NULL, n, buf);
	assert_non_null(m);
	char where[256] = "";
	assert_int_equal(count_unknown(m, where, sizeof(where)), 1);
	assert_non_null(strstr(where, "Process (field 999)"));
	protobuf_c_message_free_unpacked(m, NULL);
	grpc__process__free_unpacked(odd, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		fixture_dir = argv[1];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_fixture_decodes_exactly),
	    cmocka_unit_test(test_unknown_field_is_seen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* vsock/common/pbjson.c pbjson_from_json: the JSON request bodies kata-agent-ctl reads on the
 * host (user input), for every AgentService/Health request type and the OCI Spec.
 *
 * Input: a selector byte (message type: the methods' input types in descriptor order, then
 * grpc.Spec), then the JSON text.
 * Properties checked: success leaves a message and no error, failure an error and no message
 * (-EINVAL, or -ENOMEM); a parsed message passes protobuf_c_message_check, re-encodes
 * canonically, and renders to JSON that parses back and renders identically (fuzz_pb.h). */
#include <errno.h>

#include "agent.pb-c.h"
#include "fuzz_common.h"
#include "fuzz_pb.h"
#include "health.pb-c.h"
#include "oci.pb-c.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

static const ProtobufCMessageDescriptor *pick(unsigned sel)
{
	const ProtobufCServiceDescriptor *sv[] = {&grpc__agent_service__descriptor,
	                                          &grpc__health__descriptor};
	unsigned total = 1;
	for (size_t i = 0; i < ARRAY_SIZE(sv); i++)
		total += sv[i]->n_methods;
	sel %= total;
	for (size_t i = 0; i < ARRAY_SIZE(sv); i++) {
		if (sel < sv[i]->n_methods)
			return sv[i]->methods[sel].input;
		sel -= sv[i]->n_methods;
	}
	return &grpc__spec__descriptor;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const ProtobufCMessageDescriptor *d = pick(fuzz_u8(&in));
	char *json = malloc(in.n + 1);
	FUZZ_ASSERT(json);
	memcpy(json, in.p, in.n);
	json[in.n] = '\0';

	ProtobufCMessage *m = NULL;
	char *err = NULL;
	int r = pbjson_from_json(d, json, &m, &err);
	if (r == 0) {
		FUZZ_ASSERT(m && !err);
		FUZZ_ASSERT(m->descriptor == d);
		size_t sz = protobuf_c_message_get_packed_size(m);
		uint8_t *b = malloc(sz + 1);
		FUZZ_ASSERT(b);
		FUZZ_ASSERT(protobuf_c_message_pack(m, b) == sz);
		check_decode(d, b, sz);
		free(b);
		protobuf_c_message_free_unpacked(m, NULL);
	} else {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM);
		FUZZ_ASSERT(!m);
		FUZZ_ASSERT(r == -ENOMEM || (err && *err));
		free(err);
	}
	free(json);
	return 0;
}

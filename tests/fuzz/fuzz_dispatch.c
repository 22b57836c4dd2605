/* Every request type of grpc.AgentService and grpc.Health, and the dispatch layer.
 *
 * Input: a selector byte, then a payload.  Selector i < N (N = the methods of both services,
 * in descriptor order) picks method i; anything else reads "service\0method\0" from the input
 * and dispatches those names (unknown services and methods).
 *
 * For the chosen method, always (decode layer, all ~45 request types):
 *   - protobuf_c_message_unpack with the method's input descriptor, as rpc_dispatch does;
 *   - a decoded message must pass protobuf_c_message_check, pack to exactly its packed size,
 *     and re-decode to a message that packs to the same bytes (canonical round trip);
 *   - its JSON rendering (vsock/common/pbjson, what kata-agent-ctl prints) must parse back, and
 *     render identically the second time.
 * Then, only for methods whose handler cannot touch the system in this process, the real
 * rpc_dispatch (descriptor lookup, table lookup, unpack, handler):
 *   - grpc.Health Check and Version; methods without a handler (UNIMPLEMENTED); unknown names;
 *   - the container and process RPCs that look a container up first (Start, Exec, Signal,
 *     Wait, Remove, stdio, TtyWinResize, Update/Pause/Resume/Stats): the sandbox here has no
 *     containers, so each must fail in its lookup -- what a hostile or confused host reaches
 *     before CreateContainer;
 *   - GetOOMEvent, which parks; the fuzzer completes it with oom_event_post().
 * Handlers that mount, spawn, write cgroups, talk netlink, set the clock, write /dev/random or
 * create files (CreateSandbox, CreateContainer, networking, guest RPCs, CopyFile...) are NOT
 * run here: only their request decoding is.  CopyFile's path handling has its own target
 * (fuzz_copyfile_path).  Calls are completed without a connection, so replies are not packed
 * (fuzz_frames covers the reply path).
 */
#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.pb-c.h"
#include "fuzz_common.h"
#include "health.pb-c.h"
#include "loop.h"
#include "pbjson.h"
#include "rpc.h"
#include "sandbox.h"
#include "ttrpc.h"

static const ProtobufCServiceDescriptor *const services[] = {
	&grpc__agent_service__descriptor,
	&grpc__health__descriptor,
};

/* Handlers safe to run in the fuzzer with an empty sandbox (see above). */
static const char *const run_handlers[] = {
	"grpc.Health/Check",
	"grpc.Health/Version",
	"grpc.AgentService/StartContainer",
	"grpc.AgentService/ExecProcess",
	"grpc.AgentService/SignalProcess",
	"grpc.AgentService/WaitProcess",
	"grpc.AgentService/RemoveContainer",
	"grpc.AgentService/ReadStdout",
	"grpc.AgentService/ReadStderr",
	"grpc.AgentService/WriteStdin",
	"grpc.AgentService/CloseStdin",
	"grpc.AgentService/TtyWinResize",
	"grpc.AgentService/UpdateContainer",
	"grpc.AgentService/PauseContainer",
	"grpc.AgentService/ResumeContainer",
	"grpc.AgentService/StatsContainer",
	"grpc.AgentService/GetOOMEvent",
};

static struct loop *loop;
static struct ttrpc_server *srv;

static bool handler_runs(const char *service, const char *method)
{
	const ProtobufCServiceDescriptor *sd = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		if (strcmp(services[i]->name, service) == 0)
			sd = services[i];
	if (!sd || !protobuf_c_service_descriptor_get_method_by_name(sd, method))
		return true; /* unknown: rpc_dispatch answers UNIMPLEMENTED itself */
	for (size_t i = 0; i < rpc_table_len; i++)
		if (strcmp(rpc_table[i].service, service) == 0 &&
		    strcmp(rpc_table[i].method, method) == 0 && !rpc_table[i].fn)
			return true; /* no handler: UNIMPLEMENTED */
	char full[256];
	snprintf(full, sizeof(full), "%s/%s", service, method);
	for (size_t i = 0; i < ARRAY_SIZE(run_handlers); i++)
		if (strcmp(run_handlers[i], full) == 0)
			return true;
	return false;
}

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
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
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

static void run_dispatch(const char *service, const char *method, const uint8_t *p, size_t n)
{
	struct ttrpc_call *call = calloc(1, sizeof(*call));
	FUZZ_ASSERT(call);
	call->srv = srv;
	call->stream_id = 1;
	rpc_dispatch(call, service, method, p, n, NULL);
	/* Completed (freed; LeakSanitizer would see it otherwise) or parked as GetOOMEvent. */
	while (ttrpc_server_nparked(srv) > 0) {
		FUZZ_ASSERT(strcmp(method, "GetOOMEvent") == 0);
		FUZZ_ASSERT(oom_event_post("fuzz") == 0);
	}
	FUZZ_ASSERT(sandbox.nctrs == 0 && list_empty(&sandbox.ctrs));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	char msg[256];
	FUZZ_ASSERT(rpc_table_check(msg, sizeof(msg)) == 0);
	FUZZ_ASSERT(loop_new(&loop) == 0);
	FUZZ_ASSERT(ttrpc_server_new(loop, NULL, rpc_dispatch, NULL, &srv) == 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	unsigned sel = fuzz_u8(&in);
	for (size_t s = 0; s < ARRAY_SIZE(services); s++) {
		if (sel >= services[s]->n_methods) {
			sel -= services[s]->n_methods;
			continue;
		}
		const ProtobufCMethodDescriptor *md = &services[s]->methods[sel];
		check_decode(md->input, in.p, in.n);
		if (handler_runs(services[s]->name, md->name))
			run_dispatch(services[s]->name, md->name, in.p, in.n);
		return 0;
	}
	char *service = fuzz_str(&in), *method = fuzz_str(&in);
	if (handler_runs(service, method))
		run_dispatch(service, method, in.p, in.n);
	free(service);
	free(method);
	return 0;
}

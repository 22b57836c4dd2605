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

#include "agent.pb-c.h"
#include "fuzz_common.h"
#include "fuzz_pb.h"
#include "health.pb-c.h"
#include "loop.h"
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

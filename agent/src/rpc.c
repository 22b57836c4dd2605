// SPDX-License-Identifier: Apache-2.0
#include "rpc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "log.h"
#include "rpc_network.h"
#include "util.h"

#define AGENT  "grpc.AgentService"
#define HEALTH "grpc.Health"

/* Sorted by (service, method) with strcmp; rpc_table_check() and a unit test keep it so. */
const struct rpc_entry rpc_table[] = {
    {AGENT, "AddARPNeighbors", rpc_add_arp_neighbors},
    {AGENT, "AddSwap", rpc_add_swap},
    {AGENT, "AddSwapPath", rpc_add_swap_path},
    {AGENT, "CloseStdin", rpc_close_stdin},
    {AGENT, "CopyFile", rpc_copy_file},
    {AGENT, "CreateContainer", rpc_create_container},
    {AGENT, "CreateSandbox", rpc_create_sandbox},
    {AGENT, "DestroySandbox", rpc_destroy_sandbox},
    {AGENT, "ExecProcess", rpc_exec_process},
    {AGENT, "GetDiagnosticData", rpc_get_diagnostic_data},
    {AGENT, "GetGuestDetails", rpc_get_guest_details},
    {AGENT, "GetIPTables", rpc_get_ip_tables},
    {AGENT, "GetMetrics", rpc_get_metrics},
    {AGENT, "GetOOMEvent", rpc_get_oom_event},
    {AGENT, "GetVolumeStats", rpc_get_volume_stats},
    {AGENT, "ListInterfaces", rpc_list_interfaces},
    {AGENT, "ListRoutes", rpc_list_routes},
    {AGENT, "MemAgentCompactSet", NULL},
    {AGENT, "MemAgentMemcgSet", NULL},
    {AGENT, "MemHotplugByProbe", rpc_mem_hotplug_by_probe},
    {AGENT, "OnlineCPUMem", rpc_online_cpu_mem},
    {AGENT, "PauseContainer", rpc_pause_container},
    {AGENT, "ReadStderr", rpc_read_stderr},
    {AGENT, "ReadStdout", rpc_read_stdout},
    {AGENT, "RemoveContainer", rpc_remove_container},
    {AGENT, "RemoveStaleVirtiofsShareMounts", rpc_remove_stale_virtiofs_share_mounts},
    {AGENT, "ReseedRandomDev", rpc_reseed_random_dev},
    {AGENT, "ResizeVolume", NULL},
    {AGENT, "ResumeContainer", rpc_resume_container},
    {AGENT, "SetGuestDateTime", rpc_set_guest_date_time},
    {AGENT, "SetIPTables", rpc_set_ip_tables},
    {AGENT, "SetPolicy", NULL},
    {AGENT, "SignalProcess", rpc_signal_process},
    {AGENT, "StartContainer", rpc_start_container},
    {AGENT, "StatsContainer", rpc_stats_container},
    {AGENT, "TtyWinResize", rpc_tty_win_resize},
    {AGENT, "UpdateContainer", rpc_update_container},
    {AGENT, "UpdateEphemeralMounts", rpc_update_ephemeral_mounts},
    {AGENT, "UpdateInterface", rpc_update_interface},
    {AGENT, "UpdateRoutes", rpc_update_routes},
    {AGENT, "WaitProcess", rpc_wait_process},
    {AGENT, "WriteStdin", rpc_write_stdin},
    {HEALTH, "Check", rpc_health_check},
    {HEALTH, "Version", rpc_health_version},
};
const size_t rpc_table_len = ARRAY_SIZE(rpc_table);

static const ProtobufCServiceDescriptor *const services[] = {
    &grpc__agent_service__descriptor,
    &grpc__health__descriptor,
};

static int entry_cmp(const void *a, const void *b)
{
	const struct rpc_entry *x = a, *y = b;
	int r = strcmp(x->service, y->service);
	return r ? r : strcmp(x->method, y->method);
}

static const ProtobufCServiceDescriptor *find_service(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(services); i++)
		if (strcmp(services[i]->name, name) == 0)
			return services[i];
	return NULL;
}

void rpc_dispatch(struct ttrpc_call *call, const char *service, const char *method,
                  const uint8_t *payload, size_t len, void *data)
{
	const ProtobufCServiceDescriptor *sd = find_service(service);
	if (!sd) {
		ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "service %s", service);
		return;
	}
	const ProtobufCMethodDescriptor *md =
	    protobuf_c_service_descriptor_get_method_by_name(sd, method);
	if (!md) {
		ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "method %s", method);
		return;
	}
	/* Names from the descriptor are static: safe to keep after the request is freed. */
	call->method = md->name;
	struct rpc_entry key = {.service = sd->name, .method = md->name};
	const struct rpc_entry *e =
	    bsearch(&key, rpc_table, rpc_table_len, sizeof(rpc_table[0]), entry_cmp);
	if (!e || !e->fn) {
		ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "/%s/%s is not implemented by kata-agent-c",
		           sd->name, md->name);
		return;
	}
	const struct rpc_hooks *hooks = data;
	bool health = strcmp(sd->name, HEALTH) == 0;
	if (hooks && !health && hooks->before_call)
		hooks->before_call();
	bool oom;
	ProtobufCMessage *req = ttrpc_unpack(md->input, len, payload, &oom);
	if (!req && oom) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED,
		           "out of memory decoding the %s payload of %s", md->input->name,
		           md->name);
		return;
	}
	if (!req) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "cannot decode the %s payload of %s",
		           md->input->name, md->name);
		return;
	}
	call->req = req;
	e->fn(call, req);
	if (hooks && health && hooks->after_health)
		hooks->after_health();
}

int rpc_table_check(char *buf, size_t size)
{
	for (size_t i = 1; i < rpc_table_len; i++) {
		if (entry_cmp(&rpc_table[i - 1], &rpc_table[i]) >= 0) {
			snprintf(buf, size, "table not sorted at %s/%s", rpc_table[i].service,
			         rpc_table[i].method);
			return -EINVAL;
		}
	}
	size_t total = 0;
	for (size_t s = 0; s < ARRAY_SIZE(services); s++) {
		for (unsigned m = 0; m < services[s]->n_methods; m++) {
			struct rpc_entry key = {services[s]->name, services[s]->methods[m].name,
			                        NULL};
			if (!bsearch(&key, rpc_table, rpc_table_len, sizeof(rpc_table[0]),
			             entry_cmp)) {
				snprintf(buf, size, "%s/%s missing from the table", key.service,
				         key.method);
				return -EINVAL;
			}
			total++;
		}
	}
	if (total != rpc_table_len) {
		snprintf(buf, size, "table has %zu entries, the services %zu methods",
		         rpc_table_len, total);
		return -EINVAL;
	}
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/* grpc.Health: the runtime's liveness probe, answered at once whatever else is parked. */
#include "agent.h"
#include "health.pb-c.h"
#include "rpc.h"

void rpc_health_check(struct ttrpc_call *call, const void *req)
{
	Grpc__HealthCheckResponse resp = GRPC__HEALTH_CHECK_RESPONSE__INIT;
	resp.status = GRPC__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
	ttrpc_reply(call, &resp.base);
}

void rpc_health_version(struct ttrpc_call *call, const void *req)
{
	Grpc__VersionCheckResponse resp = GRPC__VERSION_CHECK_RESPONSE__INIT;
	resp.grpc_version = (char *)AGENT_GRPC_VERSION;
	resp.agent_version = (char *)agent_version;
	ttrpc_reply(call, &resp.base);
}

// SPDX-License-Identifier: Apache-2.0
/* The RPC edge of the error model: the one place an agent_err becomes a ttrpc status. */
#include <errno.h>
#include <string.h>

#include "rpc.h"

void rpc_fail_err(struct ttrpc_call *call, int status, int r, const struct agent_err *e)
{
	if (status == RPC_STATUS_ERRNO)
		status = r == -EINVAL   ? TTRPC_INVALID_ARGUMENT
		         : r == -ENOMEM ? TTRPC_RESOURCE_EXHAUSTED
		                        : TTRPC_INTERNAL;
	const char *msg = e && e->msg[0] ? e->msg : strerror(-r);
	ttrpc_fail(call, status, "%s", msg);
}

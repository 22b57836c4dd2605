// SPDX-License-Identifier: Apache-2.0
/* stdio RPCs (docs/PROTOCOL.md): reads park until data or EOF; EOF reaches the host after the
 * process exits without anyone calling WaitProcess. */
#include <errno.h>
#include <string.h>

#include "agent.pb-c.h"
#include "rpc.h"
#include "sandbox.h"

/* Lookup with the error codes of docs/PROTOCOL.md §6.1; NULL means the call was failed. */
static struct proc *lookup(struct ttrpc_call *call, const char *cid, const char *eid,
                           int unknown_ctr_code)
{
	struct sandbox_ctr *c = sandbox_ctr_find(cid);
	if (!c) {
		ttrpc_fail(call, unknown_ctr_code, "InvalidContainerId %s", cid);
		return NULL;
	}
	struct proc *p = sandbox_ctr_find_proc(c, eid);
	if (!p)
		ttrpc_fail(call, TTRPC_NOT_FOUND, "InvalidExecId %s", eid);
	return p;
}

void rpc_read_stdout(struct ttrpc_call *call, const void *msg)
{
	const Grpc__ReadStreamRequest *req = msg;
	struct proc *p = lookup(call, req->container_id, req->exec_id, TTRPC_INVALID_ARGUMENT);
	if (p)
		proc_read(p, false, req->len, call);
}

void rpc_read_stderr(struct ttrpc_call *call, const void *msg)
{
	const Grpc__ReadStreamRequest *req = msg;
	struct proc *p = lookup(call, req->container_id, req->exec_id, TTRPC_INVALID_ARGUMENT);
	/* With a tty everything goes through stdout; the stderr stream has no fd and is at EOF
	 * at once, with the same empty-then-error rule as any drained stream. */
	if (p)
		proc_read(p, true, req->len, call);
}

void rpc_write_stdin(struct ttrpc_call *call, const void *msg)
{
	const Grpc__WriteStreamRequest *req = msg;
	struct proc *p = lookup(call, req->container_id, req->exec_id, TTRPC_INTERNAL);
	if (p)
		proc_write_stdin(p, req->data.data, req->data.len, call);
}

void rpc_close_stdin(struct ttrpc_call *call, const void *msg)
{
	const Grpc__CloseStdinRequest *req = msg;
	struct proc *p = lookup(call, req->container_id, req->exec_id, TTRPC_INVALID_ARGUMENT);
	if (!p)
		return;
	proc_close_stdin(p);
	ttrpc_reply(call, NULL);
}

void rpc_tty_win_resize(struct ttrpc_call *call, const void *msg)
{
	const Grpc__TtyWinResizeRequest *req = msg;
	struct proc *p = lookup(call, req->container_id, req->exec_id, TTRPC_INVALID_ARGUMENT);
	if (!p)
		return;
	int r = proc_resize(p, req->row, req->column);
	if (r == -ENOTTY)
		ttrpc_fail(call, TTRPC_UNAVAILABLE, "no tty");
	else if (r < 0)
		ttrpc_fail(call, TTRPC_INTERNAL, "TIOCSWINSZ: %s", strerror(-r));
	else
		ttrpc_reply(call, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* vhost-user-vsock --trace: the ttrpc traffic on the agent's port decoded to JSON lines (the
 * format of kata-agent-ctl proxy, docs/DEBUGGING.md); the log (1025) and debug console (1026)
 * streams marked with their byte counts. */
#ifndef VUV_VSOCK_TRACE_H
#define VUV_VSOCK_TRACE_H

#include "vsock_core.h"

#define VTRACE_AGENT_PORT   1024
#define VTRACE_LOG_PORT     1025
#define VTRACE_CONSOLE_PORT 1026

struct vtrace;

/* Opens path for writing; fills *ret_obs for vsock_core.obs. */
int vtrace_open(const char *path, struct vtrace **ret, struct vsc_observer *ret_obs);
/* Writes the per-method summary to f and frees everything. */
void vtrace_close(struct vtrace *t, FILE *f);

#endif

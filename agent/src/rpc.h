// SPDX-License-Identifier: Apache-2.0
/* RPC dispatch: a sorted table {service, method, handler}; request/response types come from the
 * protobuf-c service descriptors, so the table only says who handles what.  Methods of the API
 * without a handler answer UNIMPLEMENTED (docs/PROTOCOL.md §2.5: the runtime special-cases it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "ttrpc.h"

typedef void (*rpc_handler_fn)(struct ttrpc_call *call, const void *req);

struct rpc_entry {
	const char *service;
	const char *method;
	rpc_handler_fn fn; /* NULL: not provided by this agent */
};

extern const struct rpc_entry rpc_table[];
extern const size_t rpc_table_len;

/* ttrpc_dispatch_fn for the server; data is NULL or a struct rpc_hooks. */
void rpc_dispatch(struct ttrpc_call *call, const char *service, const char *method,
                  const uint8_t *payload, size_t len, void *data);

/* Lets PID 1 answer the runtime's first Health.Check before its slower start-up work (cgroup
 * mounts, main.c) and still do that work before anything else is served.  Either may be NULL. */
struct rpc_hooks {
	/* before a call outside grpc.Health is handled */
	void (*before_call)(void);
	/* after a grpc.Health call was handled (its reply queued) */
	void (*after_health)(void);
};

/* Consistency check of the table against the descriptors: sorted, complete, no extras.
 * Returns 0 or -EINVAL with a description in buf. */
int rpc_table_check(char *buf, size_t size);

/* The RPC edge of the error model (err.h): complete call with status and the message of e
 * (strerror(-r) when e holds none).  status RPC_STATUS_ERRNO picks it from r: -EINVAL ->
 * INVALID_ARGUMENT (the caller can fix its request), anything else -> INTERNAL. */
#define RPC_STATUS_ERRNO (-1)
void rpc_fail_err(struct ttrpc_call *call, int status, int r, const struct agent_err *e);

/* Handlers, grouped by file. */
void rpc_health_check(struct ttrpc_call *call, const void *req);
void rpc_health_version(struct ttrpc_call *call, const void *req);
void rpc_get_oom_event(struct ttrpc_call *call, const void *req);
/* rpc_container.c */
void rpc_create_container(struct ttrpc_call *call, const void *req);
void rpc_start_container(struct ttrpc_call *call, const void *req);
void rpc_remove_container(struct ttrpc_call *call, const void *req);
void rpc_exec_process(struct ttrpc_call *call, const void *req);
void rpc_signal_process(struct ttrpc_call *call, const void *req);
void rpc_wait_process(struct ttrpc_call *call, const void *req);
/* Child-exit handler (init_on_child_exit): a process record's exit, then a RemoveContainer that
 * was waiting for it. */
bool rpc_container_child_exited(pid_t pid, int wstatus);
/* rpc_diag.c */
void rpc_get_diagnostic_data(struct ttrpc_call *call, const void *req);
struct Grpc__Spec;
/* The guest path of the termination message file a spec names, or NULL (malloc'd). */
char *diag_termlog_source(const struct Grpc__Spec *spec);
/* in as UTF-8 with invalid bytes replaced by U+FFFD; out holds 3n+1 bytes; returns the length. */
size_t diag_utf8_lossy(const unsigned char *in, size_t n, char *out);
/* rpc_stdio.c */
void rpc_read_stdout(struct ttrpc_call *call, const void *req);
void rpc_read_stderr(struct ttrpc_call *call, const void *req);
void rpc_write_stdin(struct ttrpc_call *call, const void *req);
void rpc_close_stdin(struct ttrpc_call *call, const void *req);
void rpc_tty_win_resize(struct ttrpc_call *call, const void *req);
/* rpc_cgroup.c */
void rpc_update_container(struct ttrpc_call *call, const void *req);
void rpc_stats_container(struct ttrpc_call *call, const void *req);
void rpc_pause_container(struct ttrpc_call *call, const void *req);
void rpc_resume_container(struct ttrpc_call *call, const void *req);
/* rpc_sandbox.c */
void rpc_create_sandbox(struct ttrpc_call *call, const void *req);
void rpc_destroy_sandbox(struct ttrpc_call *call, const void *req);
void rpc_get_guest_details(struct ttrpc_call *call, const void *req);
void rpc_online_cpu_mem(struct ttrpc_call *call, const void *req);
void rpc_update_ephemeral_mounts(struct ttrpc_call *call, const void *req);
void rpc_remove_stale_virtiofs_share_mounts(struct ttrpc_call *call, const void *req);

/* rpc_guest.c */
void rpc_set_guest_date_time(struct ttrpc_call *call, const void *req);
void rpc_reseed_random_dev(struct ttrpc_call *call, const void *req);
void rpc_mem_hotplug_by_probe(struct ttrpc_call *call, const void *req);
void rpc_get_metrics(struct ttrpc_call *call, const void *req);
void rpc_get_volume_stats(struct ttrpc_call *call, const void *req);
void rpc_add_swap(struct ttrpc_call *call, const void *req);
void rpc_add_swap_path(struct ttrpc_call *call, const void *req);
void rpc_copy_file(struct ttrpc_call *call, const void *req);

struct cg;
struct Grpc__LinuxResources;
/* OCI LinuxResources onto a cgroup (rpc_cgroup.c). */
int rpc_apply_resources(struct cg *cg, const struct Grpc__LinuxResources *r,
                        struct agent_err *reterr);
/* OCI device rules onto the device cgroup (rpc_devices.c): the full list at create, appended
 * resources.devices at update. */
struct Grpc__Linux;
int rpc_devices_create(struct cg *cg, const struct Grpc__Linux *lx, struct agent_err *reterr);
int rpc_devices_update(struct cg *cg, const struct Grpc__LinuxResources *lr,
                       struct agent_err *reterr);
/* blockIO device rules and leaf weight, memory.kernelTCP, Network (rpc_cgroup_extra.c); the
 * knobs this hierarchy has no place for are logged as a warning. */
int rpc_apply_extra(struct cg *cg, const struct Grpc__LinuxResources *lr, struct agent_err *reterr);

/* OOM events (rpc_oom.c): queue a container id for GetOOMEvent; fail every waiter (sandbox
 * teardown). */
int oom_event_post(const char *container_id);
void oom_events_close(void);

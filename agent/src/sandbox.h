// SPDX-License-Identifier: Apache-2.0
/* Sandbox and container records: what CreateSandbox/CreateContainer build and Remove/Destroy
 * tear down.  All paths follow docs/PROTOCOL.md §5.3 ("Guest paths the protocol depends on"). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "container.h"
#include "process.h"
#include "ttrpc.h"
#include "util.h"

#define CONTAINER_BASE "/run/kata-containers"
#define SANDBOX_DIR    CONTAINER_BASE "/sandbox"
#define SANDBOX_NS_DIR "/var/run/sandbox-ns"
#define SHARED_DIR     CONTAINER_BASE "/shared/containers/"

#define MAX_CONTAINERS          256
#define MAX_PROCS_PER_CONTAINER 1024

struct sandbox_ctr {
	struct list link;
	char *id;
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	bool rootfs_mounted;
	struct ctr_config *cfg;
	struct ctr_init init; /* pid and start fd between create and start */
	pid_t init_pid;
	struct ctr_nsfds ns; /* pinned at create; every exec joins these (container.h) */
	bool started;
	struct cg *cg;
	bool paused;       /* PauseContainer froze the cgroup (ResumeContainer thaws it) */
	struct list procs; /* struct proc.link */
	unsigned nprocs;
	char **storages; /* mount points this container holds a reference on */
	size_t nstorages;
	int oom_fd;
	struct loop_watch *oom_w;
	struct ttrpc_call *removing; /* a parked RemoveContainer */
	char *termlog; /* guest path of the termination message (GetDiagnosticData), or NULL */
	struct loop_timer remove_timer;
};

struct sandbox {
	bool created;
	char *id;
	char *hostname;
	int ipc_fd, uts_fd; /* persistent namespaces, -1 when not set up */
	int pidns_fd;       /* the first container's pid namespace, shared on request */
	struct cg_manager *cgm;
	struct list ctrs;
	unsigned nctrs;
	char **storages; /* mount points of the sandbox's own storages */
	size_t nstorages;
	bool destroyed;
};

extern struct sandbox sandbox;

struct sandbox_ctr *sandbox_ctr_find(const char *id);
/* exec_id "" (or the container id) addresses the init process. */
struct proc *sandbox_ctr_find_proc(struct sandbox_ctr *c, const char *exec_id);
/* SIGKILL every process of the container: its cgroup, its known processes, its init. */
void sandbox_ctr_kill_all(struct sandbox_ctr *c);
/* Free everything of a container right now (after its processes are gone or killed). */
void sandbox_ctr_destroy(struct sandbox_ctr *c);
/* A container's process records are linked and unlinked here only: add after proc_new; the
 * unlink runs from proc_free. */
void sandbox_ctr_add_proc(struct sandbox_ctr *c, struct proc *p);
void sandbox_ctr_del_proc(struct proc *p);
/* Kill every container and free all records (DestroySandbox). */
void sandbox_teardown(void);
/* The cgroup manager, opened on first use; NULL (with a logged reason) if there is none. */
struct cg_manager *sandbox_cgroups(void);

// SPDX-License-Identifier: Apache-2.0
#include "sandbox.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "shared_mounts.h"
#include "storage.h"

struct sandbox sandbox = {
    .ipc_fd = -1,
    .uts_fd = -1,
    .pidns_fd = -1,
    .ctrs = {&sandbox.ctrs, &sandbox.ctrs},
};

struct cg_manager *sandbox_cgroups(void)
{
	static bool tried;
	if (!sandbox.cgm && !tried) {
		tried = true;
		struct agent_err err = {0};
		int r = cg_manager_open("/sys/fs/cgroup", &sandbox.cgm, &err);
		if (r < 0)
			log_warn("cgroup",
			         "no usable cgroups (%s): containers run without resource control",
			         err_str(&err));
	}
	return sandbox.cgm;
}

struct sandbox_ctr *sandbox_ctr_find(const char *id)
{
	struct list *l;
	if (!id)
		return NULL;
	list_for_each (l, &sandbox.ctrs) {
		struct sandbox_ctr *c = container_of(l, struct sandbox_ctr, link);
		if (strcmp(c->id, id) == 0)
			return c;
	}
	return NULL;
}

struct proc *sandbox_ctr_find_proc(struct sandbox_ctr *c, const char *exec_id)
{
	struct list *l;
	bool want_init = !exec_id || !*exec_id || strcmp(exec_id, c->id) == 0;
	list_for_each (l, &c->procs) {
		struct proc *p = container_of(l, struct proc, link);
		if (want_init ? p->init : strcmp(p->exec_id, exec_id) == 0)
			return p;
	}
	return NULL;
}

void sandbox_ctr_destroy(struct sandbox_ctr *c)
{
	loop_timer_cancel(&c->remove_timer);
	if (c->oom_w)
		loop_del(agent.loop, c->oom_w);
	if (c->oom_fd >= 0)
		close(c->oom_fd);
	while (!list_empty(&c->procs))
		proc_free(container_of(c->procs.next, struct proc, link));
	/* Before the storages go: a held mount namespace keeps the container's mounts busy. */
	ctr_ns_unpin(&c->ns);
	ctr_init_release(&c->init);
	if (c->cg) {
		struct agent_err err = {0};
		int r = cg_destroy(c->cg, &err);
		if (r < 0)
			log_warn("cgroup", "removing the cgroup of %s: %s", c->id, err_str(&err));
		cg_free(c->cg);
	}
	shared_mounts_release(c->bundle);
	if (c->rootfs_mounted && umount2(c->rootfs, MNT_DETACH) < 0)
		log_warn("container", "unmounting %s: %s", c->rootfs, strerror(errno));
	if (c->bundle[0]) {
		rmdir(c->rootfs);
		rmdir(c->bundle);
	}
	free(c->termlog);
	for (size_t i = 0; i < c->nstorages; i++)
		storage_release(c->storages[i]);
	strv_free(TAKE_PTR(c->storages));
	c->nstorages = 0;
	ctr_config_free(c->cfg);
	if (c->link.next) {
		list_del(&c->link);
		sandbox.nctrs--;
	}
	free(c->id);
	free(c);
}

void sandbox_ctr_add_proc(struct sandbox_ctr *c, struct proc *p)
{
	p->ctr = c;
	list_add_tail(&c->procs, &p->link);
	c->nprocs++;
}

void sandbox_ctr_del_proc(struct proc *p)
{
	list_del(&p->link);
	if (p->ctr)
		p->ctr->nprocs--;
	p->ctr = NULL;
}

void sandbox_ctr_kill_all(struct sandbox_ctr *c)
{
	if (c->cg)
		cg_kill_all(c->cg, SIGKILL, NULL);
	struct list *l;
	list_for_each (l, &c->procs) {
		struct proc *p = container_of(l, struct proc, link);
		if (!p->exited)
			kill(p->pid, SIGKILL);
	}
	/* Not init_pid itself: once its record is gone the pid may belong to someone else. */
}

void sandbox_teardown(void)
{
	while (!list_empty(&sandbox.ctrs)) {
		struct sandbox_ctr *c = container_of(sandbox.ctrs.next, struct sandbox_ctr, link);
		sandbox_ctr_kill_all(c);
		if (c->removing) {
			struct ttrpc_call *call = c->removing;
			c->removing = NULL;
			ttrpc_fail(call, TTRPC_ABORTED, "sandbox destroyed");
		}
		/* The kill is asynchronous; give the cgroup a moment only through the reaper. */
		sandbox_ctr_destroy(c);
	}
	for (size_t i = 0; i < sandbox.nstorages; i++)
		storage_release(sandbox.storages[i]);
	strv_free(TAKE_PTR(sandbox.storages));
	sandbox.nstorages = 0;
	storage_release_all();
	static const char *const ns[] = {SANDBOX_NS_DIR "/ipc", SANDBOX_NS_DIR "/uts"};
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++)
		umount2(ns[i], MNT_DETACH);
	int *fds[] = {&sandbox.ipc_fd, &sandbox.uts_fd, &sandbox.pidns_fd};
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	sandbox.created = false;
	sandbox.destroyed = true;
}

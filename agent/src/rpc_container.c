// SPDX-License-Identifier: Apache-2.0
/* Container lifecycle RPCs: CreateContainer, StartContainer, RemoveContainer, ExecProcess,
 * SignalProcess, WaitProcess (docs/PROTOCOL.md §2.4 #1-6, §3.4, §3.7; error codes §6.1). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "log.h"
#include "rpc.h"
#include "sandbox.h"
#include "shared_mounts.h"
#include "device.h"
#include "passfd.h"
#include "storage.h"

#define REMOVE_GRACE_MS 10000

/* ---- CreateContainer: storages and devices asynchronously, then the synchronous rest ---- */

struct create_op {
	struct list link; /* in creating while waiting, else linked to itself */
	struct ttrpc_call *call;
	const Grpc__CreateContainerRequest *req;
	struct storage_req *sreq;
	struct device_req *dreq;
	struct passfd_claim *claim;
	int pfds[PASSFD_NSTREAMS]; /* passfd connections for the init's stdio, -1: none */
	char **storages;           /* mount points referenced so far */
	size_t nstorages;
};

/* CreateContainer calls still waiting for passfd connections, storages or devices: their ids
 * are taken and they count toward MAX_CONTAINERS, so that two calls for one id cannot both
 * create it once their waits end. */
static struct list creating = {&creating, &creating};

/* How many calls are in progress (*ret_n), and whether one of them is for id. */
static bool creating_id(const char *id, unsigned *ret_n)
{
	bool found = false;
	unsigned n = 0;
	struct list *p;
	list_for_each (p, &creating) {
		n++;
		found |=
		    strcmp(container_of(p, struct create_op, link)->req->container_id, id) == 0;
	}
	*ret_n = n;
	return found;
}

static void create_op_free(struct create_op *op, bool release)
{
	list_del(&op->link);
	passfd_claim_cancel(op->claim);
	passfd_close_fds(op->pfds);
	if (release)
		for (size_t i = 0; i < op->nstorages; i++)
			storage_release(op->storages[i]);
	strv_free(TAKE_PTR(op->storages));
	op->nstorages = 0;
	free(op);
}

static void oom_event(struct loop *l, int fd, uint32_t events, void *data)
{
	struct sandbox_ctr *c = data;
	int r = cg_oom_check(c->cg, NULL);
	if (r > 0) {
		oom_event_post(c->id);
	} else if (r == -ENODEV) {
		loop_del(agent.loop, c->oom_w);
		c->oom_w = NULL;
	}
}

static void watch_oom(struct sandbox_ctr *c)
{
	if (!c->cg || (sandbox.id && strcmp(sandbox.id, c->id) == 0))
		return;
	int fd;
	struct agent_err err = {0};
	if (cg_oom_watch(c->cg, &fd, &err) < 0) {
		log_debug("cgroup", "no OOM notification for %s: %s", c->id, err_str(&err));
		return;
	}
	/* The fd belongs to the cgroup (closed by cg_free); we only watch it. */
	if (loop_add(agent.loop, fd, EPOLLIN, oom_event, c, &c->oom_w) < 0)
		log_warn("cgroup", "watching OOM events of %s: %s", c->id, strerror(errno));
}

/* One Linux.Devices entry gets the guest's numbers, and so do the cgroup rules naming its old ones.
 */
static void patch_device(Grpc__Linux *lx, Grpc__LinuxDevice *d, const struct device_result *res)
{
	int64_t omaj = d->major, omin = d->minor;
	d->major = res->major;
	d->minor = res->minor;
	for (size_t k = 0; lx->resources && k < lx->resources->n_devices; k++) {
		Grpc__LinuxDeviceCgroup *dc = lx->resources->devices[k];
		if (dc->major == omaj && dc->minor == omin) {
			dc->major = res->major;
			dc->minor = res->minor;
		}
	}
}

/* Apply the guest device numbers the device waits found to Linux.Devices and the cgroup rules. */
static int patch_devices(Grpc__Spec *spec, const struct device_result *res, size_t n,
                         struct agent_err *reterr)
{
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		Grpc__Linux *lx = spec->linux;
		for (size_t j = 0; lx && j < lx->n_devices; j++) {
			Grpc__LinuxDevice *d = lx->devices[j];
			if (strcmp(d->path, res[i].container_path) != 0)
				continue;
			found = true;
			patch_device(lx, d, &res[i]);
		}
		if (!found)
			return err_msg(reterr, -EINVAL, "Missing devices in OCI spec: %s",
			               res[i].container_path);
	}
	return 0;
}

/* A new record that takes over the storages the request acquired. */
static struct sandbox_ctr *create_record(const char *id, struct create_op *op)
{
	struct sandbox_ctr *c = calloc(1, sizeof(*c));
	if (!c || !(c->id = strdup(id))) {
		free(c);
		return NULL;
	}
	c->oom_fd = -1;
	c->init.start_fd = -1;
	c->ns = CTR_NSFDS_NONE;
	list_init(&c->procs);
	c->storages = TAKE_PTR(op->storages);
	c->nstorages = op->nstorages;
	op->nstorages = 0;
	snprintf(c->bundle, sizeof(c->bundle), CONTAINER_BASE "/%s", c->id);
	snprintf(c->rootfs, sizeof(c->rootfs), CONTAINER_BASE "/%s/rootfs", c->id);
	return c;
}

/* The bundle directory and the bind mount of the spec's root on its rootfs. */
static int create_rootfs(struct sandbox_ctr *c, const Grpc__Spec *spec, struct agent_err *reterr)
{
	int r = mkdir_all(c->rootfs, 0755);
	if (r < 0)
		return err_sys(reterr, r, "creating %s", c->rootfs);
	if (mount(spec->root->path, c->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return err_sys(reterr, -errno, "bind mount of the rootfs %s", spec->root->path);
	c->rootfs_mounted = true;
	return 0;
}

/* The container's cgroup (the spec's path, else /kata/<id>) with the spec's resources; nothing
 * when the guest has no cgroups. */
static int create_cgroup(struct sandbox_ctr *c, const Grpc__Spec *spec, struct agent_err *reterr)
{
	struct cg_manager *cgm = sandbox_cgroups();
	if (!cgm)
		return 0;
	const char *path =
	    spec->linux->cgroupspath && *spec->linux->cgroupspath ? spec->linux->cgroupspath : NULL;
	char def[PATH_MAX];
	if (!path) {
		snprintf(def, sizeof(def), "/kata/%s", c->id);
		path = def;
	}
	int r = cg_create(cgm, path, &c->cg, reterr);
	if (r < 0)
		return err_wrap(reterr, r, "cgroup %s", path);
	if (spec->linux->resources &&
	    (r = rpc_apply_resources(c->cg, spec->linux->resources, reterr)) < 0)
		return r;
	return rpc_devices_create(c->cg, spec->linux, reterr);
}

/* Fork the container init in the sandbox's namespaces, move it into the cgroup and record it
 * as the container's first process.  On failure c->init_pid may be set: the caller kills it. */
static int create_init(struct sandbox_ctr *c, const Grpc__CreateContainerRequest *req,
                       int pfds[PASSFD_NSTREAMS], struct agent_err *reterr)
{
	struct proc_io io;
	bool tty = ctr_config_terminal(c->cfg);
	int r = proc_io_open(tty, agent.cfg.container_pipe_size, &io, reterr);
	if (r < 0)
		return r;
	struct ctr_ns ns = CTR_NS_NONE;
	ns.ipc_fd = sandbox.ipc_fd;
	ns.uts_fd = sandbox.uts_fd;
	/* The first container's pid namespace is the sandbox's (docs/PROTOCOL.md §2.4 #29); later
	 * containers join it when sandbox_pidns says so, else they get their own. */
	if (req->sandbox_pidns && sandbox.pidns_fd >= 0)
		ns.pid_fd = sandbox.pidns_fd;
	r = ctr_create(c->cfg, &ns, &io.child, &c->init, reterr);
	proc_io_close_child(&io);
	if (r >= 0) {
		c->init_pid = c->init.pid;
		/* Now, while the init waits for start (container.h, struct ctr_nsfds). */
		if ((r = ctr_ns_pin(c->init_pid, &c->ns, reterr)) < 0)
			err_wrap(reterr, r, "holding the namespaces of the init");
		else if (c->cg && (r = cg_add_pid(c->cg, c->init_pid, reterr)) < 0)
			err_wrap(reterr, r, "moving the init into its cgroup");
	}
	struct proc *p = NULL;
	if (r >= 0)
		r = proc_new(c, c->id, c->init_pid, true, tty, &io, &p);
	proc_io_close_all(&io);
	if (r < 0)
		return r;
	sandbox_ctr_add_proc(c, p);
	const uint32_t ports[PASSFD_NSTREAMS] = {req->stdin_port, req->stdout_port,
	                                         req->stderr_port};
	r = proc_attach_passfd(p, ports, pfds);
	return r < 0 ? err_sys(reterr, r, "passfd stdio") : 0;
}

/* The container configuration from the spec, with the binds of any shared mounts aimed at
 * this container added to the spec's mounts for the conversion. */
static int create_config(struct sandbox_ctr *c, const Grpc__CreateContainerRequest *req,
                         struct agent_err *reterr)
{
	Grpc__Spec *spec = req->oci;
	struct shared_mounts sm;
	int r = shared_mounts_prepare(req, c->bundle, &sm, reterr);
	if (r < 0)
		return r;
	Grpc__Mount **mounts = spec->mounts;
	size_t n = spec->n_mounts;
	if (sm.all) {
		spec->mounts = sm.all;
		spec->n_mounts = sm.n_all;
	}
	r = ctr_config_from_spec(spec, c->rootfs, &c->cfg, reterr);
	spec->mounts = mounts;
	spec->n_mounts = n;
	shared_mounts_free(&sm);
	return r;
}

/* Everything after storages and devices: bundle, rootfs bind, cgroup, spawn. */
static int create_finish(const Grpc__CreateContainerRequest *req, struct create_op *op,
                         struct sandbox_ctr **ret, struct agent_err *reterr)
{
	Grpc__Spec *spec = req->oci;
	struct sandbox_ctr *c = create_record(req->container_id, op);
	if (!c)
		return -ENOMEM;
	c->termlog = diag_termlog_source(spec); /* NULL without a termination-log mount */
	int r;
	if ((r = create_rootfs(c, spec, reterr)) < 0 || (r = create_config(c, req, reterr)) < 0 ||
	    (r = create_cgroup(c, spec, reterr)) < 0 ||
	    (r = create_init(c, req, op->pfds, reterr)) < 0) {
		if (c->init_pid > 0)
			kill(c->init_pid, SIGKILL);
		sandbox_ctr_destroy(c);
		return r;
	}
	if (sandbox.pidns_fd < 0)
		sandbox.pidns_fd = fcntl(c->ns.fd[CTR_NSFD_PID], F_DUPFD_CLOEXEC, 0);
	watch_oom(c);
	*ret = c;
	return 0;
}

static void create_step_devices_done(void *data, const struct agent_err *e,
                                     struct device_result *res, size_t nres)
{
	struct create_op *op = data;
	struct ttrpc_call *call = op->call;
	op->dreq = NULL;
	if (e) {
		rpc_fail_err(call, TTRPC_INTERNAL, e->code, e);
		create_op_free(op, true);
		return;
	}
	struct agent_err err = {0};
	int r = patch_devices(op->req->oci, res, nres, &err);
	struct sandbox_ctr *c = NULL;
	if (r == 0)
		r = create_finish(op->req, op, &c, &err);
	if (r < 0) {
		/* -EINVAL: the spec asks for something impossible (a namespace path of the wrong
		 * type, an unknown namespace); the caller can fix its request. */
		rpc_fail_err(call, RPC_STATUS_ERRNO, r, &err);
		create_op_free(op, true);
		return;
	}
	list_add_tail(&sandbox.ctrs, &c->link);
	sandbox.nctrs++;
	log_info("container", "created %s (init pid %d)", c->id, (int)c->init_pid);
	create_op_free(op, false);
	ttrpc_reply(call, NULL);
}

static void create_step_storages_done(void *data, const struct agent_err *e)
{
	struct create_op *op = data;
	op->sreq = NULL;
	if (e) {
		rpc_fail_err(op->call, TTRPC_INTERNAL, e->code, e);
		create_op_free(op, false); /* storage_mount_all released its own on failure */
		return;
	}
	for (size_t i = 0; i < op->req->n_storages; i++)
		if (strv_push(&op->storages, &op->nstorages, op->req->storages[i]->mount_point) <
		    0) {
			ttrpc_fail(op->call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
			create_op_free(op, true);
			return;
		}
	int r = device_wait_all(op->req->devices, op->req->n_devices, create_step_devices_done, op,
	                        &op->dreq);
	if (r < 0) {
		ttrpc_fail(op->call, TTRPC_INTERNAL, "waiting for devices: %s", strerror(-r));
		create_op_free(op, true);
	}
}

/* First the passfd connections, as upstream does (they are closed if anything fails). */
static void create_step_passfd_done(void *data, int r, const char *msg, int fds[PASSFD_NSTREAMS])
{
	struct create_op *op = data;
	op->claim = NULL;
	memcpy(op->pfds, fds, sizeof(op->pfds));
	if (r < 0) {
		ttrpc_fail(op->call, r == -EINVAL ? TTRPC_INVALID_ARGUMENT : TTRPC_NOT_FOUND, "%s",
		           msg);
		create_op_free(op, false);
		return;
	}
	r = storage_mount_all(op->req->storages, op->req->n_storages, create_step_storages_done, op,
	                      &op->sreq);
	if (r < 0) {
		ttrpc_fail(op->call, TTRPC_INTERNAL, "mounting storages: %s", strerror(-r));
		create_op_free(op, false);
	}
}

static void create_cancel(struct ttrpc_call *call, void *data)
{
	struct create_op *op = data;
	if (op->sreq)
		storage_req_cancel(op->sreq);
	if (op->dreq)
		device_req_cancel(op->dreq);
	create_op_free(op, true);
}

void rpc_create_container(struct ttrpc_call *call, const void *msg)
{
	const Grpc__CreateContainerRequest *req = msg;
	if (!ctr_id_valid(req->container_id)) {
		ttrpc_fail(call, TTRPC_INTERNAL, "invalid container ID %s", req->container_id);
		return;
	}
	if (sandbox_ctr_find(req->container_id)) {
		ttrpc_fail(call, TTRPC_INTERNAL, "container %s already exists", req->container_id);
		return;
	}
	unsigned ncreating;
	if (creating_id(req->container_id, &ncreating)) {
		ttrpc_fail(call, TTRPC_INTERNAL,
		           "container %s already exists (still being created)", req->container_id);
		return;
	}
	if (!req->oci || !req->oci->root || !req->oci->process) {
		ttrpc_fail(call, TTRPC_INTERNAL,
		           "EINVAL: Invalid argument (spec needs Root and Process)");
		return;
	}
	if (!req->oci->linux) {
		ttrpc_fail(call, TTRPC_INTERNAL, "Spec didn't contain linux field");
		return;
	}
	if (sandbox.nctrs + ncreating >= MAX_CONTAINERS) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "too many containers (limit %d)",
		           MAX_CONTAINERS);
		return;
	}
	struct agent_err serr = {0};
	if (storage_check_options(req->storages, req->n_storages, &serr) < 0) {
		ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "%s", serr.msg);
		return;
	}
	struct create_op *op = calloc(1, sizeof(*op));
	if (!op) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->call = call;
	op->req = req;
	list_init(&op->link);
	for (int i = 0; i < PASSFD_NSTREAMS; i++)
		op->pfds[i] = -1;
	/* Park first: the passfd/storage/device steps may complete synchronously or later. */
	if (ttrpc_park(call, create_cancel, op) < 0) {
		free(op);
		return;
	}
	list_add_tail(&creating, &op->link);
	const uint32_t ports[PASSFD_NSTREAMS] = {req->stdin_port, req->stdout_port,
	                                         req->stderr_port};
	int r = passfd_claim(ports, create_step_passfd_done, op, &op->claim);
	if (r < 0) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "passfd: %s", strerror(-r));
		create_op_free(op, false);
	}
}

/* ---- Start / Exec ---- */

/* The process is in the stopped or traced state (/proc/PID/stat's third field). */
static bool init_stopped(pid_t pid)
{
	char path[64];
	_cleanup_free_ char *st = NULL;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, 1024, &st) <= 0)
		return false;
	const char *p = strrchr(st, ')'); /* the command name may hold anything */
	return p && p[1] == ' ' && (p[2] == 'T' || p[2] == 't');
}

void rpc_start_container(struct ttrpc_call *call, const void *msg)
{
	const Grpc__StartContainerRequest *req = msg;
	struct sandbox_ctr *c = sandbox_ctr_find(req->container_id);
	if (!c) {
		ttrpc_fail(call, TTRPC_INTERNAL, "Invalid container id %s", req->container_id);
		return;
	}
	if (c->started || c->init.start_fd < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "container %s was already started", c->id);
		return;
	}
	/* A frozen or stopped init cannot read its start byte: the wait below would hold the
	 * loop for the whole setup timeout, and the init would run later, after the host was told
	 * the start failed. */
	const struct proc *ip = sandbox_ctr_find_proc(c, "");
	if (c->paused || (ip && !ip->exited && init_stopped(c->init.pid))) {
		ttrpc_fail(call, TTRPC_FAILED_PRECONDITION, "container %s is %s: resume it first",
		           c->id, c->paused ? "paused" : "stopped (SIGSTOP)");
		return;
	}
	struct agent_err err = {0};
	int r = ctr_start(&c->init, &err);
	if (r < 0) {
		err_wrap(&err, r, "starting %s", c->id);
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
		return;
	}
	c->started = true;
	log_info("container", "started %s", c->id);
	ttrpc_reply(call, NULL);
}

/* Fork the exec'd process with its stdio.  It joins the container's cgroup itself before its
 * execve (the cgroup.procs files are opened here), so it never runs outside the device rules
 * and limits.  Not when the container is paused: a process joining a frozen cgroup stops
 * before its execve, and ctr_exec would wait for it for ever; rpc_exec_process moves it after
 * the start instead. */
static int exec_spawn(struct sandbox_ctr *c, const struct ctr_config *cfg, struct proc_io *io,
                      pid_t *ret_pid, struct agent_err *reterr)
{
	int fds[CG_EXEC_FDS_MAX];
	size_t nfds = 0;
	int r = 0;
	if (c->cg && !c->paused && (r = cg_open_exec_procs(c->cg, fds, &nfds, reterr)) < 0)
		return r;
	r = proc_io_open(ctr_config_terminal(cfg), agent.cfg.container_pipe_size, io, reterr);
	if (r == 0) {
		io->child.cgroup_procs = fds;
		io->child.n_cgroup_procs = nfds;
		r = ctr_exec(cfg, &c->ns, &io->child, ret_pid, reterr);
		proc_io_close_child(io);
		if (r < 0)
			proc_io_close_all(io);
	}
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	return r;
}

static void exec_run(struct ttrpc_call *call, const Grpc__ExecProcessRequest *req,
                     int pfds[PASSFD_NSTREAMS])
{
	struct sandbox_ctr *c = sandbox_ctr_find(req->container_id);
	if (!c) {
		ttrpc_fail(call, TTRPC_INTERNAL, "Invalid container id %s", req->container_id);
		return;
	}
	if (!req->exec_id || !*req->exec_id || sandbox_ctr_find_proc(c, req->exec_id)) {
		ttrpc_fail(call, TTRPC_INTERNAL, "exec_id '%s' already exists", req->exec_id);
		return;
	}
	if (!req->process) {
		ttrpc_fail(call, TTRPC_INTERNAL, "EINVAL: Invalid argument (no process)");
		return;
	}
	struct proc *init = sandbox_ctr_find_proc(c, "");
	if (!c->started || !init || init->exited) {
		ttrpc_fail(call, TTRPC_INTERNAL, "container %s is not running", c->id);
		return;
	}
	if (c->nprocs >= MAX_PROCS_PER_CONTAINER) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "too many processes in %s (limit %d)",
		           c->id, MAX_PROCS_PER_CONTAINER);
		return;
	}
	struct ctr_config *cfg = NULL;
	struct agent_err err = {0};
	struct proc_io io;
	pid_t pid;
	int r = ctr_config_from_exec(c->cfg, req->process, &cfg, &err);
	if (r == 0)
		r = exec_spawn(c, cfg, &io, &pid, &err);
	if (r < 0) {
		err_wrap(&err, r, "exec %s in %s", req->exec_id, c->id);
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
		ctr_config_free(cfg);
		return;
	}
	/* A paused container's process joins its frozen cgroup only now (see exec_spawn); one
	 * that already exited is fine: its zombie is reaped after we record it. */
	if (c->cg && c->paused && cg_add_exec_pid(c->cg, pid, &err) < 0)
		log_debug("cgroup", "exec %s: %s", req->exec_id, err.msg);
	struct proc *p;
	r = proc_new(c, req->exec_id, pid, false, ctr_config_terminal(cfg), &io, &p);
	proc_io_close_all(&io);
	ctr_config_free(cfg);
	if (r < 0) {
		kill(pid, SIGKILL);
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	sandbox_ctr_add_proc(c, p);
	const uint32_t ports[PASSFD_NSTREAMS] = {req->stdin_port, req->stdout_port,
	                                         req->stderr_port};
	if ((r = proc_attach_passfd(p, ports, pfds)) < 0) {
		/* The process runs but its stdio cannot reach the host: it must not linger. */
		kill(pid, SIGKILL);
		ttrpc_fail(call, TTRPC_INTERNAL, "exec %s: passfd stdio: %s", req->exec_id,
		           strerror(-r));
		return;
	}
	log_info("container", "exec %s in %s (pid %d)", p->exec_id, c->id, (int)pid);
	ttrpc_reply(call, NULL);
}

/* ExecProcess waiting for its passfd connections (kept in call->user's place). */
struct exec_op {
	struct ttrpc_call *call;
	struct passfd_claim *claim;
};

static void exec_cancel(struct ttrpc_call *call, void *data)
{
	struct exec_op *op = data;
	passfd_claim_cancel(op->claim);
	free(op);
}

static void exec_passfd_done(void *data, int r, const char *msg, int fds[PASSFD_NSTREAMS])
{
	struct exec_op *op = data;
	struct ttrpc_call *call = op->call;
	bool parked = op->claim != NULL;
	op->claim = NULL;
	if (parked)
		free(op); /* else rpc_exec_process frees it */
	if (r < 0) {
		ttrpc_fail(call, r == -EINVAL ? TTRPC_INVALID_ARGUMENT : TTRPC_NOT_FOUND, "%s",
		           msg);
		return;
	}
	exec_run(call, (const Grpc__ExecProcessRequest *)call->req, fds);
	passfd_close_fds(fds);
}

void rpc_exec_process(struct ttrpc_call *call, const void *msg)
{
	const Grpc__ExecProcessRequest *req = msg;
	if (!req->stdin_port && !req->stdout_port && !req->stderr_port) {
		int none[PASSFD_NSTREAMS] = {-1, -1, -1};
		exec_run(call, req, none);
		return;
	}
	struct exec_op *op = calloc(1, sizeof(*op));
	if (!op) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->call = call;
	const uint32_t ports[PASSFD_NSTREAMS] = {req->stdin_port, req->stdout_port,
	                                         req->stderr_port};
	struct passfd_claim *claim = NULL;
	int r = passfd_claim(ports, exec_passfd_done, op, &claim);
	if (r < 0)
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "passfd: %s", strerror(-r));
	if (!claim) {
		free(op); /* answered already */
		return;
	}
	/* The connections are late: wait for them (bounded by the claim's timer). */
	op->claim = claim;
	if (ttrpc_park(call, exec_cancel, op) < 0) {
		passfd_claim_cancel(claim);
		free(op);
	}
}

/* ---- Signal / Wait ---- */

/* Does the process catch, ignore or block sig?  (docs/PROTOCOL.md §2.4 #5: SIGTERM to an init that
 * does none of these would be ignored by the kernel, so it becomes SIGKILL.) */
static bool signal_handled(pid_t pid, int sig)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	_cleanup_free_ char *s = NULL;
	if (read_file(path, 8192, &s) < 0)
		return true;
	static const char *const keys[] = {"SigBlk:", "SigIgn:", "SigCgt:"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *l = strstr(s, keys[i]);
		if (!l)
			continue;
		unsigned long long mask = strtoull(l + strlen(keys[i]), NULL, 16);
		if (mask & (1ull << (sig - 1)))
			return true;
	}
	return false;
}

void rpc_signal_process(struct ttrpc_call *call, const void *msg)
{
	const Grpc__SignalProcessRequest *req = msg;
	struct sandbox_ctr *c = sandbox_ctr_find(req->container_id);
	int sig = (int)req->signal;
	if (sig <= 0 || sig >= 65) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "invalid signal %u", req->signal);
		return;
	}
	bool all = !req->exec_id || !*req->exec_id;
	if (!c) {
		ttrpc_fail(call, all && sig == SIGKILL ? TTRPC_INTERNAL : TTRPC_INVALID_ARGUMENT,
		           "Invalid container id %s", req->container_id);
		return;
	}
	if (all && sig == SIGKILL) {
		sandbox_ctr_kill_all(
		    c); /* every process of the container (docs/PROTOCOL.md §3.7) */
		ttrpc_reply(call, NULL);
		return;
	}
	struct proc *p = sandbox_ctr_find_proc(c, req->exec_id);
	if (!p) {
		ttrpc_fail(call, TTRPC_NOT_FOUND, all ? "InitProcessNotFound" : "InvalidExecId %s",
		           req->exec_id);
		return;
	}
	if (p->exited) {
		ttrpc_reply(call, NULL); /* ESRCH is success */
		return;
	}
	if (p->init && sig == SIGTERM && !signal_handled(p->pid, SIGTERM))
		sig = SIGKILL;
	if (kill(p->pid, sig) < 0 && errno != ESRCH) {
		ttrpc_fail(call, TTRPC_INTERNAL, "kill %d: %s", (int)p->pid, strerror(errno));
		return;
	}
	ttrpc_reply(call, NULL);
}

void rpc_wait_process(struct ttrpc_call *call, const void *msg)
{
	const Grpc__WaitProcessRequest *req = msg;
	struct sandbox_ctr *c = sandbox_ctr_find(req->container_id);
	if (!c) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "InvalidContainerId %s",
		           req->container_id);
		return;
	}
	struct proc *p = sandbox_ctr_find_proc(c, req->exec_id);
	if (!p) {
		ttrpc_fail(call, TTRPC_NOT_FOUND, "InvalidExecId %s", req->exec_id);
		return;
	}
	proc_wait(p, call);
}

/* ---- Remove ---- */

static bool ctr_quiet_now(struct sandbox_ctr *c)
{
	struct list *l;
	list_for_each (l, &c->procs) {
		if (!container_of(l, struct proc, link)->exited)
			return false;
	}
	if (c->cg) {
		pid_t *pids = NULL;
		size_t n = 0;
		if (cg_pids(c->cg, &pids, &n, NULL) == 0) {
			free(pids);
			if (n > 0)
				return false;
		}
	}
	return true;
}

static void remove_finish(struct sandbox_ctr *c, bool timed_out)
{
	struct ttrpc_call *call = c->removing;
	c->removing = NULL;
	char id[256];
	snprintf(id, sizeof(id), "%s", c->id);
	sandbox_ctr_destroy(c);
	log_info("container", "removed %s%s", id, timed_out ? " (processes did not all exit)" : "");
	if (call)
		ttrpc_reply(call, NULL);
}

static void remove_progress(struct sandbox_ctr *c)
{
	if (c->removing && ctr_quiet_now(c))
		remove_finish(c, false);
}

bool rpc_container_child_exited(pid_t pid, int wstatus)
{
	struct proc *p = proc_find_pid(pid);
	struct sandbox_ctr *c = p ? p->ctr : NULL;
	if (!proc_child_exited(pid, wstatus))
		return false; /* an orphan reparented to us, or a helper already waited for */
	if (c && c->removing)
		remove_progress(c);
	return true;
}

static void remove_timeout(struct loop *l, struct loop_timer *t)
{
	struct sandbox_ctr *c = container_of(t, struct sandbox_ctr, remove_timer);
	remove_finish(c, true);
}

static void remove_cancel(struct ttrpc_call *call, void *data)
{
	struct sandbox_ctr *c = data;
	c->removing = NULL; /* the removal itself still completes */
}

void rpc_remove_container(struct ttrpc_call *call, const void *msg)
{
	const Grpc__RemoveContainerRequest *req = msg;
	struct sandbox_ctr *c = sandbox_ctr_find(req->container_id);
	if (!c) {
		ttrpc_fail(call, TTRPC_INTERNAL, "Invalid container id %s", req->container_id);
		return;
	}
	if (c->removing) {
		ttrpc_fail(call, TTRPC_INTERNAL, "container %s is already being removed", c->id);
		return;
	}
	sandbox_ctr_kill_all(c);
	if (ctr_quiet_now(c)) {
		c->removing = call;
		remove_finish(c, false);
		return;
	}
	if (ttrpc_park(call, remove_cancel, c) < 0)
		return;
	c->removing = call;
	c->remove_timer.cb = remove_timeout;
	unsigned ms = req->timeout ? req->timeout * 1000u : REMOVE_GRACE_MS;
	loop_timer_arm(agent.loop, &c->remove_timer, now_ns() + ms_to_ns(ms));
}

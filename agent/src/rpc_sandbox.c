// SPDX-License-Identifier: Apache-2.0
/* Sandbox RPCs: CreateSandbox, DestroySandbox, GetGuestDetails, OnlineCPUMem,
 * UpdateEphemeralMounts, RemoveStaleVirtiofsShareMounts (docs/PROTOCOL.md §2.4 #8, #12, #29-31,
 * #33). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "log.h"
#include "modules.h"
#include "rpc.h"
#include "sandbox.h"
#include "storage.h"

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* Persistent IPC and UTS namespaces, bind-mounted under SANDBOX_NS_DIR so every container
 * joins the same ones (docs/PROTOCOL.md §2.4 #29).  A short-lived child unshares them; it only
 * makes raw syscalls between fork and _exit. */
static int make_sandbox_namespaces(const char *hostname, struct agent_err *reterr)
{
	int r;
	if ((r = mkdir_all(SANDBOX_NS_DIR, 0755)) < 0)
		return err_sys(reterr, r, "mkdir %s", SANDBOX_NS_DIR);
	if ((r = touch(SANDBOX_NS_DIR "/ipc")) < 0 || (r = touch(SANDBOX_NS_DIR "/uts")) < 0)
		return err_sys(reterr, r, "creating namespace files in %s", SANDBOX_NS_DIR);
	int ready[2], release[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(release, O_CLOEXEC) < 0) {
		r = -errno;
		close(ready[0]), close(ready[1]);
		return r;
	}
	size_t hlen = hostname ? strlen(hostname) : 0;
	pid_t pid = fork();
	if (pid == 0) {
		char c = 0;
		/* Only the parent may hold the release pipe's write end, or we never see EOF. */
		close(release[1]);
		close(ready[0]);
		if (unshare(CLONE_NEWIPC | CLONE_NEWUTS) < 0 ||
		    (hlen && sethostname(hostname, hlen) < 0))
			c = 1;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		/* Stay alive until the parent has bind-mounted our namespaces. */
		if (read(release[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	if (pid < 0) {
		r = -errno;
		close(ready[0]), close(release[1]);
		return r;
	}
	char c = 1;
	r = 0;
	if (read(ready[0], &c, 1) != 1 || c != 0)
		r = err_msg(reterr, -EPERM, "creating the sandbox IPC/UTS namespaces failed");
	static const char *const types[] = {"ipc", "uts"};
	int *fds[] = {&sandbox.ipc_fd, &sandbox.uts_fd};
	for (int i = 0; r == 0 && i < 2; i++) {
		char src[64], dst[128];
		snprintf(src, sizeof(src), "/proc/%d/ns/%s", (int)pid, types[i]);
		snprintf(dst, sizeof(dst), SANDBOX_NS_DIR "/%s", types[i]);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
			r = err_sys(reterr, -errno, "bind mount %s on %s", src, dst);
			break;
		}
		*fds[i] = open(dst, O_RDONLY | O_CLOEXEC);
	}
	close(ready[0]);
	close(release[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return r;
}

static int setup_dns(char **lines, size_t n, struct agent_err *reterr)
{
	if (n == 0)
		return 0;
	const char *path = SANDBOX_DIR "/resolv.conf";
	FILE *f = fopen(path, "we");
	if (!f)
		goto fail;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[i]);
	if (fclose(f) != 0)
		goto fail;
	/* Bind over /etc/resolv.conf only if the file exists (as upstream does), and once: a
	 * CreateSandbox retried after a failure rewrote the same file above, which the bind
	 * already shows. */
	static bool bound;
	if (!bound && access("/etc/resolv.conf", F_OK) == 0) {
		if (mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
			goto fail;
		bound = true;
	}
	return 0;
fail:
	return err_sys(reterr, -errno, "setting up DNS (%s)", path);
}

struct sandbox_op {
	struct ttrpc_call *call;
	struct storage_req *sreq;
};

static void sandbox_storages_done(void *data, const struct agent_err *e)
{
	struct sandbox_op *op = data;
	struct ttrpc_call *call = op->call;
	const Grpc__CreateSandboxRequest *req = (const Grpc__CreateSandboxRequest *)call->req;
	free(op);
	if (e) {
		rpc_fail_err(call, TTRPC_INTERNAL, e->code, e);
		return;
	}
	for (size_t i = 0; i < req->n_storages; i++)
		strv_push(&sandbox.storages, &sandbox.nstorages, req->storages[i]->mount_point);
	sandbox.created = true;
	log_info("sandbox", "sandbox %s created", sandbox.id ? sandbox.id : "");
	ttrpc_reply(call, NULL);
}

static void sandbox_op_cancel(struct ttrpc_call *call, void *data)
{
	struct sandbox_op *op = data;
	if (op->sreq)
		storage_req_cancel(op->sreq);
	free(op);
}

void rpc_create_sandbox(struct ttrpc_call *call, const void *msg)
{
	const Grpc__CreateSandboxRequest *req = msg;
	struct agent_err err = {0};
	int r;
	if (sandbox.created) {
		ttrpc_fail(call, TTRPC_ALREADY_EXISTS, "the sandbox was already created");
		return;
	}
	if (req->hostname && strlen(req->hostname) > 64) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "hostname longer than 64 bytes");
		return;
	}
	if (storage_check_options(req->storages, req->n_storages, &err) < 0) {
		ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "%s", err.msg);
		return;
	}
	if ((r = mkdir_all(SANDBOX_DIR, 0755)) < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "mkdir " SANDBOX_DIR ": %s", strerror(-r));
		return;
	}
	free(sandbox.id);
	free(sandbox.hostname);
	sandbox.id = strdup(req->sandbox_id ? req->sandbox_id : "");
	sandbox.hostname = strdup(req->hostname ? req->hostname : "");
	for (size_t i = 0; i < req->n_kernel_modules; i++) {
		const Grpc__KernelModule *m = req->kernel_modules[i];
		if ((r = module_load(m->name, m->parameters, m->n_parameters, &err)) < 0)
			goto fail;
	}
	if (req->guest_hook_path && *req->guest_hook_path)
		log_info("sandbox", "guest hooks at %s are not run by this agent",
		         req->guest_hook_path);
	if (sandbox.ipc_fd < 0 && (r = make_sandbox_namespaces(req->hostname, &err)) < 0)
		goto fail;
	if ((r = setup_dns(req->dns, req->n_dns, &err)) < 0)
		goto fail;

	struct sandbox_op *op = calloc(1, sizeof(*op));
	if (!op) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->call = call;
	if (ttrpc_park(call, sandbox_op_cancel, op) < 0) {
		free(op);
		return;
	}
	r = storage_mount_all(req->storages, req->n_storages, sandbox_storages_done, op, &op->sreq);
	if (r < 0) {
		free(op);
		ttrpc_fail(call, TTRPC_INTERNAL, "mounting sandbox storages: %s", strerror(-r));
	}
	return;
fail:
	rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
}

/* The reply is written; as PID 1 the next step is power-off, which would also drop what the
 * transport still holds for the host.  So wait (bounded) for the host to hang up first. */
#define DESTROY_LINGER_MS 1000
static unsigned long long destroy_deadline;
static struct loop_timer destroy_timer;

static void destroy_check(struct loop *l, struct loop_timer *t)
{
	if (ttrpc_server_nconns(agent.srv) > 0 && now_ns() < destroy_deadline) {
		loop_timer_arm(l, t, now_ns() + ms_to_ns(20));
		return;
	}
	log_info("sandbox", "sandbox destroyed; %s", agent.init_mode ? "powering off" : "exiting");
	loop_quit(l, 0);
}

static void destroy_done(struct ttrpc_server *s, void *data)
{
	destroy_deadline = now_ns() + ms_to_ns(DESTROY_LINGER_MS);
	destroy_timer.cb = destroy_check;
	destroy_check(agent.loop, &destroy_timer);
}

void rpc_destroy_sandbox(struct ttrpc_call *call, const void *msg)
{
	sandbox_teardown();
	oom_events_close();
	ttrpc_reply(call, NULL);
	/* Reply first, then stop serving once every reply is written (docs/PROTOCOL.md §2.4 #30).
	 */
	ttrpc_server_shutdown(agent.srv, 10000, destroy_done, NULL);
}

void rpc_get_guest_details(struct ttrpc_call *call, const void *msg)
{
	const Grpc__GuestDetailsRequest *req = msg;
	Grpc__GuestDetailsResponse resp = GRPC__GUEST_DETAILS_RESPONSE__INIT;
	Grpc__AgentDetails ad = GRPC__AGENT_DETAILS__INIT;
	_cleanup_free_ char *bs = NULL;
	if (req->mem_block_size &&
	    read_file("/sys/devices/system/memory/block_size_bytes", 64, &bs) > 0)
		resp.mem_block_size_bytes =
		    strtoull(bs, NULL, 16); /* hex, no 0x (docs/PROTOCOL.md §2.4) */
	if (req->mem_hotplug_probe)
		resp.support_mem_hotplug_probe =
		    access("/sys/devices/system/memory/probe", F_OK) == 0;
	ad.version = (char *)agent_version;
	ad.init_daemon = agent.init_mode;
	ad.supports_seccomp = true;
	static const char *const drivers[] = {"local",     "ephemeral", "bind", "watchable-bind",
	                                      "virtio-fs", "9p",        "blk",  "scsi",
	                                      "nvdimm",    "pmem"};
	ad.storage_handlers = (char **)drivers;
	ad.n_storage_handlers = ARRAY_SIZE(drivers);
	resp.agent_details = &ad;
	ttrpc_reply(call, &resp.base);
}

/* Online offline entries under dir ("cpu" or "memory"); at most max for cpus (0 = all). */
static int online_entries(const char *dir, const char *prefix, unsigned max, unsigned *ret_n)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d)) && (max == 0 || n < max)) {
		size_t pl = strlen(prefix);
		if (strncmp(e->d_name, prefix, pl) != 0 || e->d_name[pl] < '0' ||
		    e->d_name[pl] > '9')
			continue;
		char path[300];
		snprintf(path, sizeof(path), "%s/%s/online", dir, e->d_name);
		_cleanup_free_ char *v = NULL;
		if (read_file(path, 16, &v) <= 0 || v[0] != '0')
			continue;
		if (write_file(path, "1") == 0)
			n++;
		else
			log_warn("guest", "onlining %s: %s", path, strerror(errno));
	}
	closedir(d);
	*ret_n = n;
	return 0;
}

void rpc_online_cpu_mem(struct ttrpc_call *call, const void *msg)
{
	const Grpc__OnlineCPUMemRequest *req = msg;
	unsigned n = 0;
	/* The runtime sends this on every resource update, usually with nothing to online:
	 * that must succeed (docs/PROTOCOL.md §2.4 #31).  We make one pass; no sleeping retries. */
	if (req->nb_cpus > 0) {
		online_entries("/sys/devices/system/cpu", "cpu", req->nb_cpus, &n);
		log_info("guest", "onlined %u of %u requested cpus", n, req->nb_cpus);
	}
	if (!req->cpu_only)
		online_entries("/sys/devices/system/memory", "memory", 0, &n);
	ttrpc_reply(call, NULL);
}

void rpc_update_ephemeral_mounts(struct ttrpc_call *call, const void *msg)
{
	const Grpc__UpdateEphemeralMountsRequest *req = msg;
	struct agent_err err = {0};
	int r = storage_update_ephemeral(req->storages, req->n_storages, &err);
	if (r < 0)
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
	else
		ttrpc_reply(call, NULL);
}

void rpc_remove_stale_virtiofs_share_mounts(struct ttrpc_call *call, const void *msg)
{
	struct agent_err err = {0};
	int r = storage_stat_shared_mounts(&err);
	if (r < 0)
		rpc_fail_err(call, TTRPC_INTERNAL, r, &err);
	else
		ttrpc_reply(call, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_spawn, part two: exec into a running container (its pinned namespaces, a cgroup joined
 * before execve) and namespace paths in the spec.  main and the shared helpers are in
 * test_spawn.c and spawn_harness.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "spawn_harness.h"
#include "util.h"

void test_exec(void)
{
	struct ctr_config *ic = NULL;
	struct ctr_nsfds nsfds;
	pid_t init = start_sleeper(&ic, NULL, &nsfds);
	if (init < 0)
		return;
	char *args[] = {"sh", "-c",
	                "tr '\\0' ' ' < /proc/1/cmdline; echo; echo self=$$; hostname; id -u; "
	                "ls /proc | grep -c '^[0-9]'"};
	Grpc__Process p = GRPC__PROCESS__INIT;
	Grpc__User u = GRPC__USER__INIT;
	char *env[] = {"PATH=/bin"};
	u.uid = 1000;
	p.user = &u;
	p.args = args;
	p.n_args = 3;
	p.env = env;
	p.n_env = 1;
	p.cwd = "/tmp";
	struct ctr_config *ec = NULL;
	struct agent_err err = {0};
	int r = ctr_config_from_exec(ic, &p, &ec, &err);
	CHECK(r == 0, "exec config: %s", err.msg);
	int pp[2];
	if (r == 0 && pipe2(pp, O_CLOEXEC) == 0) {
		struct ctr_stdio io = {-1, pp[1], pp[1], false, NULL, NULL, 0};
		pid_t pid = -1;
		r = ctr_exec(ec, &nsfds, &io, &pid, &err);
		close(pp[1]);
		CHECK(r == 0, "exec: %s", err.msg);
		char *out = read_all(pp[0]);
		close(pp[0]);
		int st = -1;
		if (r == 0)
			waitpid(pid, &st, 0);
		CHECK(out && strstr(out, "sleep") == out, "pid 1 is not the init: %s", out);
		CHECK(out && strstr(out, "self=") && !strstr(out, "self=1\n"), "exec pid: %s", out);
		CHECK(out && strstr(out, "ctrhost\n"), "not in the container's uts ns: %s", out);
		CHECK(out && strstr(out, "\n1000\n"), "exec uid: %s", out);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exec status %d", st);
		free(out);
	}
	/* A missing binary fails the exec at once. */
	char *bad[] = {"/bin/nope"};
	p.args = bad;
	p.n_args = 1;
	ctr_config_free(ec);
	ec = NULL;
	err_clear(&err);
	if (ctr_config_from_exec(ic, &p, &ec, &err) == 0) {
		struct ctr_stdio io = {-1, -1, -1, false, NULL, NULL, 0};
		pid_t pid = -1;
		r = ctr_exec(ec, &nsfds, &io, &pid, &err);
		CHECK(r == -ENOENT && strstr(err.msg, "exec /bin/nope: ENOENT"), "%d %s", r,
		      err.msg);
	}
	err_clear(&err);
	ctr_config_free(ec);

	/* A second container joining the first one's pid namespace. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
	struct ctr_ns ns = CTR_NS_NONE;
	ns.pid_fd = open(path, O_RDONLY | O_CLOEXEC);
	char *args2[] = {"sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; echo self=$$"};
	struct spec sp;
	spec_init(&sp, args2, 3);
	int st = -1;
	char *out = run(&sp.s, &ns, &st, &r, &err);
	CHECK(r == 0, "join pidns: %s", err.msg);
	CHECK(out && strstr(out, "sleep") == out && !strstr(out, "self=1\n"),
	      "joined pid namespace: %s", out ? out : "");
	free(out);
	err_clear(&err);
	close(ns.pid_fd);
	kill(init, SIGKILL);
	waitpid(init, NULL, 0);
	ctr_ns_unpin(&nsfds);
	ctr_config_free(ic);
}

/* Exec with ctr_stdio.cgroup_procs: the process is in that cgroup before its execve, so its
 * first read of /proc/self/cgroup names it (regression: ExecProcess moved the process only
 * after it started).  A file the child cannot write fails the exec. */
void test_exec_cgroup(void)
{
	char dir[256];
	if (!test_cgroup_dir(dir, sizeof(dir))) {
		CHECK(false, "no writable cgroup hierarchy for the exec cgroup test");
		return;
	}
	struct ctr_config *ic = NULL;
	struct ctr_nsfds nsfds;
	pid_t init = start_sleeper(&ic, NULL, &nsfds);
	char procs[300];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	int cgfd = open(procs, O_WRONLY | O_CLOEXEC);
	CHECK(cgfd >= 0, "open %s: %s", procs, strerror(errno));
	char *args[] = {"cat", "/proc/self/cgroup"};
	Grpc__Process p = GRPC__PROCESS__INIT;
	char *env[] = {"PATH=/bin"};
	p.args = args;
	p.n_args = 2;
	p.env = env;
	p.n_env = 1;
	p.cwd = "/";
	struct ctr_config *ec = NULL;
	struct agent_err err = {0};
	int pp[2];
	if (init > 0 && cgfd >= 0 && ctr_config_from_exec(ic, &p, &ec, &err) == 0 &&
	    pipe2(pp, O_CLOEXEC) == 0) {
		struct ctr_stdio io = {.in = -1,
		                       .out = pp[1],
		                       .err = pp[1],
		                       .cgroup_procs = &cgfd,
		                       .n_cgroup_procs = 1};
		pid_t pid = -1;
		int r = ctr_exec(ec, &nsfds, &io, &pid, &err);
		close(pp[1]);
		CHECK(r == 0, "exec with cgroup: %s", err.msg);
		char *out = read_all(pp[0]);
		close(pp[0]);
		if (r == 0)
			waitpid(pid, NULL, 0);
		const char *base = strrchr(dir, '/') + 1;
		CHECK(out && strstr(out, base), "exec'd cat not in %s from its start: %s", dir,
		      out ? out : "");
		free(out);

		/* a cgroup.procs the child cannot write (read-only fd) fails the exec */
		int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
		io = (struct ctr_stdio){
		    .in = -1, .out = -1, .err = -1, .cgroup_procs = &ro, .n_cgroup_procs = 1};
		err_clear(&err);
		r = ctr_exec(ec, &nsfds, &io, &pid, &err);
		if (r == 0)
			waitpid(pid, NULL, 0);
		CHECK(r == -EBADF && strstr(err.msg, "join the container's cgroup"), "%d %s", r,
		      err.msg);
		close(ro);
	}
	err_clear(&err);
	ctr_config_free(ec);
	if (cgfd >= 0)
		close(cgfd);
	if (init > 0) {
		kill(init, SIGKILL);
		waitpid(init, NULL, 0);
	}
	ctr_ns_unpin(&nsfds);
	ctr_config_free(ic);
	CHECK(rmdir(dir) == 0, "rmdir %s: %s", dir, strerror(errno));
}

/* Namespace paths in the spec (regression: a pid path crashed the agent in ctr_create's
 * cleanup, for a valid path and for one of the wrong type alike). */
void test_spec_ns_paths(void)
{
	struct ctr_config *ic = NULL;
	struct ctr_nsfds nsfds;
	pid_t init = start_sleeper(&ic, NULL, &nsfds);
	ctr_ns_unpin(&nsfds);
	if (init < 0)
		return;
	char pid_path[64], user_path[64], ipc_path[64];
	snprintf(pid_path, sizeof(pid_path), "/proc/%d/ns/pid_for_children", (int)init);
	snprintf(user_path, sizeof(user_path), "/proc/self/ns/user");
	snprintf(ipc_path, sizeof(ipc_path), "/proc/%d/ns/ipc", (int)init);
	char *args[] = {"sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; echo self=$$"};
	struct spec sp;
	spec_init(&sp, args, 3);
	Grpc__LinuxNamespace pidns = GRPC__LINUX_NAMESPACE__INIT;
	pidns.type = "pid";
	pidns.path = pid_path;
	Grpc__LinuxNamespace *nsp[4] = {sp.nsp[0], sp.nsp[1], sp.nsp[2], &pidns};
	sp.l.namespaces = nsp;
	sp.l.n_namespaces = 4;

	/* A valid foreign pid namespace (pid_for_children) is joined. */
	int st = -1, r;
	struct agent_err err = {0};
	char *out = run(&sp.s, NULL, &st, &r, &err);
	CHECK(r == 0, "spec pid path: %d %s", r, err.msg);
	CHECK(out && strstr(out, "sleep") == out && !strstr(out, "self=1\n"),
	      "spec pid path not joined: %s", out ? out : "");
	free(out);
	err_clear(&err);

	/* A path of another type is refused with EINVAL and a message naming both types. */
	pidns.path = user_path;
	out = run(&sp.s, NULL, &st, &r, &err);
	CHECK(!out && r == -EINVAL && strstr(err.msg, "is a user namespace, not pid"),
	      "wrong-type pid path: %d %s", r, err.msg);
	free(out);
	err_clear(&err);

	/* Not a namespace file at all. */
	pidns.path = "/etc/hostname";
	out = run(&sp.s, NULL, &st, &r, &err);
	CHECK(!out && r == -EINVAL && strstr(err.msg, "not a namespace file"),
	      "non-namespace pid path: %d %s", r, err.msg);
	free(out);
	err_clear(&err);

	/* An ipc path of the right type is honoured without a sandbox namespace, and replaced by
	 * the sandbox's when there is one. */
	sp.l.n_namespaces = 3;
	sp.ns[0].path = ipc_path;
	char *args2[] = {"sh", "-c", "readlink /proc/self/ns/ipc"};
	sp.p.args = args2;
	char want[64], sb[64];
	ssize_t n = readlink(ipc_path, want, sizeof(want) - 1);
	want[n > 0 ? n : 0] = '\0';
	out = run(&sp.s, NULL, &st, &r, &err);
	CHECK(r == 0 && out && strstr(out, want), "spec ipc path: %d %s / %s", r, err.msg,
	      out ? out : "");
	free(out);
	err_clear(&err);
	struct ctr_ns ns = CTR_NS_NONE;
	ns.ipc_fd = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
	n = readlink("/proc/self/ns/ipc", sb, sizeof(sb) - 1);
	sb[n > 0 ? n : 0] = '\0';
	out = run(&sp.s, &ns, &st, &r, &err);
	CHECK(r == 0 && out && strstr(out, sb), "sandbox ipc replaces the spec's: %d %s / %s", r,
	      err.msg, out ? out : "");
	free(out);
	err_clear(&err);
	close(ns.ipc_fd);
	kill(init, SIGKILL);
	waitpid(init, NULL, 0);
	ctr_config_free(ic);
}

/* Exec into the namespaces pinned at create (container.h, struct ctr_nsfds), not into whatever
 * /proc/<init>/ns names later: an init that moved itself into new uts and mount namespaces
 * (unshare, as a privileged workload can) does not take the execs with it, and once the init
 * is gone and reaped, an exec still lands in the container's own mount namespace, never in
 * the namespaces of a process that reused the pid (here: ours). */
void test_exec_pinned_ns(void)
{
	char *iargs[] = {
	    "unshare",
	    "-u",
	    "-m",
	    "sh",
	    "-c",
	    "hostname moved; mount -t tmpfs moved /tmp; touch /tmp/moved; exec sleep 30"};
	struct ctr_config *ic = NULL;
	struct ctr_nsfds nsfds;
	pid_t init = start_init(&ic, NULL, iargs, 6, &nsfds);
	if (init < 0)
		return;
	/* wait until the init moved and is done: it is sleep in a uts namespace not the pinned one
	 */
	char path[64], comm[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/uts", (int)init);
	snprintf(comm, sizeof(comm), "/proc/%d/comm", (int)init);
	bool moved = false;
	for (int i = 0; i < 500 && !moved; i++) {
		struct stat a, b;
		_cleanup_free_ char *name = NULL;
		moved = stat(path, &a) == 0 && fstat(nsfds.fd[CTR_NSFD_UTS], &b) == 0 &&
		        a.st_ino != b.st_ino && read_file(comm, 64, &name) >= 0 &&
		        strncmp(name, "sleep", 5) == 0;
		if (!moved)
			usleep(10000);
	}
	CHECK(moved, "the init did not move to new namespaces and exec sleep");
	char *args[] = {"sh", "-c", "hostname; ls /tmp/moved 2>/dev/null || echo not-moved"};
	Grpc__Process p = GRPC__PROCESS__INIT;
	char *env[] = {"PATH=/bin"};
	p.args = args;
	p.n_args = 3;
	p.env = env;
	p.n_env = 1;
	p.cwd = "/";
	struct ctr_config *ec = NULL;
	struct agent_err err = {0};
	int r = ctr_config_from_exec(ic, &p, &ec, &err);
	CHECK(r == 0, "exec config: %s", err.msg);
	for (int round = 0; r == 0 && round < 2; round++) {
		int pp[2];
		if (pipe2(pp, O_CLOEXEC) < 0)
			exit(2);
		struct ctr_stdio io = {-1, pp[1], pp[1], false, NULL, NULL, 0};
		pid_t pid = -1;
		int er = ctr_exec(ec, &nsfds, &io, &pid, &err);
		close(pp[1]);
		char *out = read_all(pp[0]);
		close(pp[0]);
		int st = -1;
		if (er == 0)
			waitpid(pid, &st, 0);
		if (round == 0) {
			CHECK(er == 0 && out && strcmp(out, "ctrhost\nnot-moved\n") == 0,
			      "exec followed the init's own namespaces: %d %s %s", er, err.msg,
			      out ? out : "");
			/* the init goes away and is reaped: its pid is free for anyone */
			kill(init, SIGKILL);
			waitpid(init, NULL, 0);
		} else {
			/* Its pid namespace has no init any more: the kernel refuses a new
			 * process there (ENOMEM), it is never placed elsewhere. */
			CHECK(er == -ENOMEM && !(out && strstr(out, "ctrhost")),
			      "exec after the init is gone: %d %s %s", er, err.msg, out ? out : "");
		}
		free(out);
		err_clear(&err);
	}
	ctr_config_free(ec);
	ctr_ns_unpin(&nsfds);
	ctr_config_free(ic);
}

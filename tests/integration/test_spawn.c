/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration test of the container runtime library (root): a busybox rootfs in a temp dir,
 * real namespaces, mounts, pivot_root, credentials, capabilities, seccomp.  Run inside
 * `unshare --mount --propagation private` (make check-spawn does) so nothing can leak onto the
 * host's mount table.  This file: creating and starting a container, and main; the exec and
 * namespace tests are in test_spawn_ns.c, the shared helpers in spawn_harness.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "container.h"
#include "spawn_harness.h"

static void test_basic(void)
{
	char *args[] = {"sh", "-c",
	                "echo hi; id; hostname; echo pid=$$; echo home=$HOME; "
	                "cat /proc/self/status"};
	struct spec sp;
	spec_init(&sp, args, 3);
	sp.u.username = "user";
	int st = -1, r;
	struct agent_err err = {0};
	struct ctr_ns ns = CTR_NS_NONE;
	char *out = run(&sp.s, &ns, &st, &r, &err);
	CHECK(r == 0, "run: %d %s", r, err.msg);
	if (!out)
		return;
	CHECK(strstr(out, "hi\n"), "echo output missing: %s", out);
	CHECK(strstr(out, "uid=1000"), "uid not applied: %s", out);
	CHECK(strstr(out, "gid=1000"), "gid not applied: %s", out);
	CHECK(strstr(out, "100(users)") && strstr(out, "10(wheel)"), "supplementary groups: %s",
	      out);
	CHECK(strstr(out, "ctrhost\n"), "hostname not set: %s", out);
	CHECK(strstr(out, "pid=1\n"), "not pid 1 of a new pid namespace: %s", out);
	CHECK(strstr(out, "home=/home/user\n"), "HOME not from passwd: %s", out);
	CHECK(strstr(out, "NoNewPrivs:\t0"), "NoNewPrivs: %s", out);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
	char host[128] = "";
	gethostname(host, sizeof(host));
	CHECK(strcmp(host, "ctrhost") != 0, "hostname leaked to the host");
	free(out);
	err_clear(&err);
}

static void test_security(void)
{
	char *args[] = {"sh", "-c",
	                "cat /proc/self/status; ulimit -n; ulimit -Hn; "
	                "cat /etc/secret; echo x > /ro/new && echo ROWRITE; "
	                "mkdir /tmp/x || echo MKDIR_DENIED; echo end"};
	struct spec sp;
	spec_init(&sp, args, 3);
	sp.p.nonewprivileges = 1;
	char *caps[] = {"CAP_CHOWN", "CAP_KILL"};
	Grpc__LinuxCapabilities lc = GRPC__LINUX_CAPABILITIES__INIT;
	lc.bounding = lc.effective = lc.permitted = caps;
	lc.n_bounding = lc.n_effective = lc.n_permitted = 2;
	sp.p.capabilities = &lc;
	Grpc__POSIXRlimit rl = GRPC__POSIXRLIMIT__INIT, *rlp = &rl;
	rl.type = "RLIMIT_NOFILE";
	rl.soft = 123;
	rl.hard = 456;
	sp.p.rlimits = &rlp;
	sp.p.n_rlimits = 1;
	char *masked[] = {"/etc/secret", "/proc/kcore", "/does/not/exist"};
	char *ro[] = {"/ro", "/proc/sys"};
	sp.l.maskedpaths = masked;
	sp.l.n_maskedpaths = 3;
	sp.l.readonlypaths = ro;
	sp.l.n_readonlypaths = 2;
	Grpc__LinuxSeccomp sc = GRPC__LINUX_SECCOMP__INIT;
	Grpc__LinuxSyscall sy = GRPC__LINUX_SYSCALL__INIT, *syp = &sy;
	char *names[] = {"mkdir", "mkdirat", "no_such_syscall"};
	char *arches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"};
	sc.defaultaction = "SCMP_ACT_ALLOW";
	sc.architectures = arches;
	sc.n_architectures = 2;
	sy.names = names;
	sy.n_names = 3;
	sy.action = "SCMP_ACT_ERRNO";
	sy.errno_ret_case = GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET;
	sy.errnoret = EPERM;
	sc.syscalls = &syp;
	sc.n_syscalls = 1;
	sp.l.seccomp = &sc;
	int st = -1, r;
	struct agent_err err = {0};
	char *out = run(&sp.s, NULL, &st, &r, &err);
	CHECK(r == 0, "run: %d %s", r, err.msg);
	if (!out)
		return;
	CHECK(strstr(out, "CapEff:\t0000000000000021"), "CapEff: %s", out);
	CHECK(strstr(out, "CapBnd:\t0000000000000021"), "CapBnd: %s", out);
	CHECK(strstr(out, "CapPrm:\t0000000000000021"), "CapPrm: %s", out);
	CHECK(strstr(out, "NoNewPrivs:\t1"), "NoNewPrivs: %s", out);
	CHECK(strstr(out, "Seccomp:\t2"), "Seccomp mode: %s", out);
	CHECK(strstr(out, "\n123\n456\n"), "rlimit NOFILE: %s", out);
	CHECK(!strstr(out, "TOPSECRET"), "masked path readable: %s", out);
	CHECK(!strstr(out, "ROWRITE"), "read-only path writable: %s", out);
	CHECK(strstr(out, "MKDIR_DENIED") && strstr(out, "Operation not permitted"),
	      "seccomp did not deny mkdir: %s", out);
	CHECK(strstr(out, "end\n"), "script did not finish: %s", out);
	free(out);
	err_clear(&err);
}

static void test_missing_binary(void)
{
	char *args[] = {"/bin/nope"};
	struct spec sp;
	spec_init(&sp, args, 1);
	struct ctr_config *c = NULL;
	struct agent_err err = {0};
	int r = ctr_config_from_spec(&sp.s, root, &c, &err);
	CHECK(r == 0, "config: %s", err.msg);
	if (r < 0)
		return;
	struct ctr_stdio io = {-1, -1, -1, false, NULL, NULL, 0};
	struct ctr_init init = {0, -1, NULL};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = ctr_create(c, NULL, &io, &init, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	CHECK(r == -ENOENT, "create returned %d", r);
	CHECK(strstr(err.msg, "exec /bin/nope: ENOENT"), "message: %s", err.msg);
	CHECK(ms < 2000, "missing binary took %.0f ms", ms);
	printf("  missing binary: create failed in %.1f ms: %s\n", ms, err.msg);
	err_clear(&err);
	/* In PATH form, and a non-executable file. */
	char *args2[] = {"nope-either"};
	sp.p.args = args2;
	ctr_config_free(c);
	c = NULL;
	if (ctr_config_from_spec(&sp.s, root, &c, &err) == 0) {
		r = ctr_create(c, NULL, &io, &init, &err);
		CHECK(r == -ENOENT && strstr(err.msg, "exec nope-either: ENOENT"), "%d %s", r,
		      err.msg);
	}
	err_clear(&err);
	char *args3[] = {"/etc/passwd"};
	sp.p.args = args3;
	ctr_config_free(c);
	c = NULL;
	if (ctr_config_from_spec(&sp.s, root, &c, &err) == 0) {
		r = ctr_create(c, NULL, &io, &init, &err);
		CHECK(r == -EACCES, "non-executable: %d %s", r, err.msg);
	}
	err_clear(&err);
	ctr_config_free(c);
}

static void test_spec_errors(void)
{
	char *args[] = {"sh"};
	struct spec sp;
	spec_init(&sp, args, 1);
	struct ctr_config *c = NULL;
	struct agent_err err = {0};
	sp.s.linux = NULL;
	int r = ctr_config_from_spec(&sp.s, root, &c, &err);
	CHECK(r == -EINVAL && strcmp(err.msg, "spec: missing Linux") == 0, "%d %s", r, err.msg);
	err_clear(&err);
	sp.s.linux = &sp.l;
	sp.m[0].type = "";
	r = ctr_config_from_spec(&sp.s, root, &c, &err);
	CHECK(r == -EINVAL && strstr(err.msg, "mount on /proc: no type"), "%d %s", r, err.msg);
	err_clear(&err);
}

/* The working directory: created when missing (owned by the process user), refused when it
 * leaves the container root through ".." or a symlink. */
static void test_cwd(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "ln -sfn /etc %s/abs-link && ln -sfn tmp %s/rel-link && "
	         "ln -sfn ../../.. %s/home/up-link",
	         root, root, root);
	sh(cmd);
	char *args[] = {"sh", "-c", "pwd; stat -c '%u:%g %a' ."};
	struct spec sp;
	spec_init(&sp, args, 3);
	sp.u.uid = 1000;
	sp.u.gid = 1000;
	sp.p.cwd = "/work/deep/dir";
	int st = -1, r;
	struct agent_err err = {0};
	char *out = run(&sp.s, NULL, &st, &r, &err);
	CHECK(r == 0 && out && strstr(out, "/work/deep/dir\n1000:1000 755"),
	      "missing cwd created for uid 1000: %d %s / %s", r, err.msg, out ? out : "");
	free(out);
	err_clear(&err);
	char made[512];
	struct stat sb;
	snprintf(made, sizeof(made), "%s/work", root);
	CHECK(stat(made, &sb) == 0 && sb.st_uid == 1000, "created parent owned by the user");

	sp.p.cwd = "/rel-link";
	out = run(&sp.s, NULL, &st, &r, &err);
	CHECK(r == 0 && out && strncmp(out, "/tmp\n", 5) == 0, "relative symlink inside: %d %s %s",
	      r, err.msg, out ? out : "");
	free(out);
	err_clear(&err);

	const char *bad[] = {"/../etc", "/abs-link", "/home/up-link/etc", "/abs-link/missing"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sp.p.cwd = (char *)bad[i];
		out = run(&sp.s, NULL, &st, &r, &err);
		CHECK(!out && r == -EINVAL &&
		          strstr(err.msg, "resolves outside the container root"),
		      "cwd %s: %d %s", bad[i], r, err.msg);
		free(out);
		err_clear(&err);
	}
	snprintf(made, sizeof(made), "%s/etc/missing", root);
	CHECK(stat(made, &sb) < 0, "nothing created through an escaping symlink");
}

/* The init runs in our memory until its execve (clone with CLONE_VM, ctr_spawn.c), and that
 * memory comes back for the next child both after a start and after a kill before start. */
static void test_shared_memory(void)
{
	char *args[] = {"true"};
	struct spec sp;
	spec_init(&sp, args, 1);
	struct ctr_config *c = NULL;
	struct agent_err err = {0};
	int r = ctr_config_from_spec(&sp.s, root, &c, &err);
	CHECK(r == 0, "config: %s", err.msg);
	if (r < 0)
		return;
	struct ctr_stdio io = {-1, -1, -1, false, NULL, NULL, 0};
	struct ctr_init init = {0, -1, NULL};
	void *first = NULL;
	for (int round = 0; round < 4; round++) {
		r = ctr_create(c, NULL, &io, &init, &err);
		CHECK(r == 0, "create %d: %s", round, err.msg);
		if (r < 0)
			break;
		long same = syscall(SYS_kcmp, getpid(), init.pid, KCMP_VM, 0, 0);
		CHECK(same == 0, "round %d: the waiting init does not share our memory (kcmp %ld)",
		      round, same);
		if (round == 0)
			first = init.mem;
		CHECK(init.mem && init.mem == first, "round %d: memory %p, not the first's %p",
		      round, init.mem, first);
		int st = -1;
		if (round % 2 == 0) {
			/* Removed before start. */
			kill(init.pid, SIGKILL);
			ctr_init_release(&init);
			CHECK(init.start_fd == -1 && !init.mem, "release left fd %d mem %p",
			      init.start_fd, init.mem);
			waitpid(init.pid, &st, 0);
			CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed init: status %#x",
			      st);
		} else {
			r = ctr_start(&init, &err);
			CHECK(r == 0 && init.start_fd == -1 && !init.mem, "start: %d %s", r,
			      err.msg);
			waitpid(init.pid, &st, 0);
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "true: status %#x", st);
		}
		err_clear(&err);
	}
	ctr_config_free(c);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("test_spawn: needs root; skipped\n0 passed, 0 failed\n");
		return 0;
	}
	build_rootfs();
	test_basic();
	test_security();
	test_missing_binary();
	test_shared_memory();
	test_spec_errors();
	test_exec();
	test_exec_cgroup();
	test_exec_pinned_ns();
	test_spec_ns_paths();
	test_cwd();
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", root);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

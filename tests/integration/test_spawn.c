/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration test of the container runtime library (root): a busybox rootfs in a temp dir,
 * real namespaces, mounts, pivot_root, credentials, capabilities, seccomp.  Run inside
 * `unshare --mount --propagation private` (make check-spawn does) so nothing can leak onto the
 * host's mount table.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "util.h"

static int passed, failed;
static char root[256];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			passed++;                                                                  \
		} else {                                                                           \
			failed++;                                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "setup command failed: %s\n", cmd);
		exit(2);
	}
}

static void write_text(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(p);
		exit(2);
	}
}

static void build_rootfs(void)
{
	char cmd[1024];
	snprintf(root, sizeof(root), "/tmp/ctr-spawn-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(cmd, sizeof(cmd),
	         "set -e; cd %s; chmod 755 .; mkdir -p bin etc proc dev sys tmp ro home/user; "
	         "cp /bin/busybox bin/; chroot . /bin/busybox --install -s /bin",
	         root);
	sh(cmd);
	write_text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
	                         "# a comment\n"
	                         "broken line without fields\n"
	                         "user:x:1000:1000:User:/home/user:/bin/sh\n");
	write_text("etc/group", "root:x:0:\nusers:x:100:user\nwheel:x:10:root,user\n");
	write_text("etc/secret", "TOPSECRET\n");
	write_text("ro/file", "ro\n");
}

/* ---- spec building ---- */

struct spec {
	Grpc__Spec s;
	Grpc__Process p;
	Grpc__User u;
	Grpc__Root r;
	Grpc__Linux l;
	Grpc__LinuxNamespace ns[3];
	Grpc__LinuxNamespace *nsp[3];
	Grpc__Mount m[4];
	Grpc__Mount *mp[4];
	char *env[2];
};

static char *o_proc[] = {"nosuid", "noexec", "nodev"};
static char *o_dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
static char *o_pts[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
static char *o_tmp[] = {"nosuid", "nodev"};

static void spec_init(struct spec *sp, char **args, size_t n_args)
{
	memset(sp, 0, sizeof(*sp));
	sp->s = (Grpc__Spec)GRPC__SPEC__INIT;
	sp->p = (Grpc__Process)GRPC__PROCESS__INIT;
	sp->u = (Grpc__User)GRPC__USER__INIT;
	sp->r = (Grpc__Root)GRPC__ROOT__INIT;
	sp->l = (Grpc__Linux)GRPC__LINUX__INIT;
	sp->env[0] = "PATH=/bin:/sbin";
	sp->p.args = args;
	sp->p.n_args = n_args;
	sp->p.env = sp->env;
	sp->p.n_env = 1;
	sp->p.cwd = "/";
	sp->p.user = &sp->u;
	sp->s.process = &sp->p;
	sp->s.root = &sp->r;
	sp->s.linux = &sp->l;
	sp->s.hostname = "ctrhost";
	const char *types[] = {"ipc", "uts", "mount"};
	for (int i = 0; i < 3; i++) {
		sp->ns[i] = (Grpc__LinuxNamespace)GRPC__LINUX_NAMESPACE__INIT;
		sp->ns[i].type = (char *)types[i];
		sp->nsp[i] = &sp->ns[i];
	}
	sp->l.namespaces = sp->nsp;
	sp->l.n_namespaces = 3;
	struct {
		const char *dest, *type;
		char **opts;
		size_t n;
	} mt[] = {{"/proc", "proc", o_proc, 3},
	          {"/dev", "tmpfs", o_dev, 4},
	          {"/dev/pts", "devpts", o_pts, 5},
	          {"/tmp", "tmpfs", o_tmp, 2}};
	for (int i = 0; i < 4; i++) {
		sp->m[i] = (Grpc__Mount)GRPC__MOUNT__INIT;
		sp->m[i].destination = (char *)mt[i].dest;
		sp->m[i].type = (char *)mt[i].type;
		sp->m[i].source = (char *)mt[i].type;
		sp->m[i].options = mt[i].opts;
		sp->m[i].n_options = mt[i].n;
		sp->mp[i] = &sp->m[i];
	}
	sp->s.mounts = sp->mp;
	sp->s.n_mounts = 4;
}

/* ---- running ---- */

static char *read_all(int fd)
{
	size_t cap = 65536, len = 0;
	char *b = malloc(cap);
	ssize_t n;
	while (b && len + 1 < cap && (n = read(fd, b + len, cap - len - 1)) > 0)
		len += (size_t)n;
	if (b)
		b[len] = '\0';
	return b;
}

/* Create+start; returns the output and exit status, or NULL with *ret_r/ret_err on failure. */
static char *run(const Grpc__Spec *s, const struct ctr_ns *ns, int *ret_status, int *ret_r,
                 struct agent_err *ret_err)
{
	struct ctr_config *c = NULL;
	*ret_r = ctr_config_from_spec(s, root, &c, ret_err);
	if (*ret_r < 0)
		return NULL;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		exit(2);
	struct ctr_stdio io = {.in = -1, .out = p[1], .err = p[1]};
	struct ctr_init init;
	*ret_r = ctr_create(c, ns, &io, &init, ret_err);
	close(p[1]);
	if (*ret_r == 0)
		*ret_r = ctr_start(&init, ret_err);
	char *out = NULL;
	if (*ret_r == 0 || init.pid > 0) {
		out = read_all(p[0]);
	}
	close(p[0]);
	if (*ret_r == 0)
		waitpid(init.pid, ret_status, 0);
	ctr_config_free(c);
	return *ret_r == 0 ? out : (free(out), NULL);
}

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

/* Create an init running args, pin its namespaces as the agent does (between create and
 * start: *ret_ns), start it. */
static pid_t start_init(struct ctr_config **ret_cfg, const struct ctr_ns *ns, char **args,
                        size_t n_args, struct ctr_nsfds *ret_ns)
{
	struct spec sp;
	spec_init(&sp, args, n_args);
	struct agent_err err = {0};
	*ret_ns = CTR_NSFDS_NONE;
	if (ctr_config_from_spec(&sp.s, root, ret_cfg, &err) < 0) {
		fprintf(stderr, "init config: %s\n", err.msg);
		exit(2);
	}
	struct ctr_stdio io = {-1, -1, -1, false, NULL, NULL, 0};
	struct ctr_init init;
	int r = ctr_create(*ret_cfg, ns, &io, &init, &err);
	if (r == 0 && (r = ctr_ns_pin(init.pid, ret_ns, &err)) < 0)
		kill(init.pid, SIGKILL);
	if (r == 0)
		r = ctr_start(&init, &err);
	CHECK(r == 0, "init %s: %s", args[0], err.msg);
	err_clear(&err);
	return r == 0 ? init.pid : -1;
}

static pid_t start_sleeper(struct ctr_config **ret_cfg, const struct ctr_ns *ns,
                           struct ctr_nsfds *ret_ns)
{
	char *args[] = {"sleep", "30"};
	return start_init(ret_cfg, ns, args, 2, ret_ns);
}

static void test_exec(void)
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

/* A cgroup the test can create and move processes into: a v1 pids hierarchy, else the v2 root.
 * Fills dir; false when there is none. */
static bool test_cgroup_dir(char *dir, size_t len)
{
	static const char *const roots[] = {"/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified",
	                                    "/sys/fs/cgroup"};
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		char procs[256];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", roots[i]);
		if (access(procs, W_OK) != 0)
			continue;
		snprintf(dir, len, "%s/test_spawn_exec_%d", roots[i], (int)getpid());
		if (mkdir(dir, 0755) == 0)
			return true;
	}
	return false;
}

/* Exec with ctr_stdio.cgroup_procs: the process is in that cgroup before its execve, so its
 * first read of /proc/self/cgroup names it (regression: ExecProcess moved the process only
 * after it started).  A file the child cannot write fails the exec. */
static void test_exec_cgroup(void)
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
static void test_spec_ns_paths(void)
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

/* Exec into the namespaces pinned at create (container.h, struct ctr_nsfds), not into whatever
 * /proc/<init>/ns names later: an init that moved itself into new uts and mount namespaces
 * (unshare, as a privileged workload can) does not take the execs with it, and once the init
 * is gone and reaped, an exec still lands in the container's own mount namespace, never in
 * the namespaces of a process that reused the pid (here: ours). */
static void test_exec_pinned_ns(void)
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

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the container runtime library's parent-side pieces (no root needed). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "container.h"
#include "ctr_internal.h"

static void test_id_valid(void **state)
{
	assert_true(ctr_id_valid("ab"));
	assert_true(ctr_id_valid("0123456789abcdef"));
	assert_true(ctr_id_valid("a_b.c-d"));
	assert_false(ctr_id_valid(NULL));
	assert_false(ctr_id_valid(""));
	assert_false(ctr_id_valid("a"));
	assert_false(ctr_id_valid("_ab"));
	assert_false(ctr_id_valid(".."));
	assert_false(ctr_id_valid("a/b"));
	assert_false(ctr_id_valid("a b"));
	assert_false(ctr_id_valid("ab\n"));
	char big[300];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(ctr_id_valid(big));
	big[255] = '\0';
	assert_true(ctr_id_valid(big));
}

static void test_cap_names(void **state)
{
	assert_int_equal(ctr_cap_from_name("CAP_CHOWN"), 0);
	assert_int_equal(ctr_cap_from_name("CAP_SYS_ADMIN"), 21);
	assert_int_equal(ctr_cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
	assert_int_equal(ctr_cap_from_name("CHOWN"), -EINVAL);
	assert_int_equal(ctr_cap_from_name("cap_chown"), -EINVAL);
	assert_int_equal(ctr_cap_from_name("CAP_NOPE"), -EINVAL);
	assert_true(ctr_cap_last() >= 35);
	/* the kernel's answer is the one its sysctl shows */
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	int sysctl_last = -1;
	if (f) {
		assert_int_equal(fscanf(f, "%d", &sysctl_last), 1);
		fclose(f);
		assert_int_equal(ctr_cap_last(), sysctl_last);
	}

	char *ok[] = {"CAP_KILL", "CAP_CHOWN"}, *bad[] = {"CAP_KILL", "CAP_FLY"};
	Grpc__LinuxCapabilities lc = GRPC__LINUX_CAPABILITIES__INIT;
	lc.bounding = ok;
	lc.n_bounding = 2;
	lc.ambient = ok;
	lc.n_ambient = 1;
	struct ctr_caps c;
	struct agent_err err = {0};
	assert_int_equal(ctr_caps_from_oci(&lc, &c, &err), 0);
	assert_int_equal(c.bounding, (1u << 5) | 1u);
	assert_int_equal(c.ambient, 1u << 5);
	assert_int_equal(c.effective, 0);
	lc.permitted = bad;
	lc.n_permitted = 2;
	assert_int_equal(ctr_caps_from_oci(&lc, &c, &err), -EINVAL);
	assert_string_equal(err.msg, "capabilities.permitted: unknown capability CAP_FLY");
}

static void test_rlimit_names(void **state)
{
	assert_int_equal(ctr_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	assert_int_equal(ctr_rlimit_from_name("RLIMIT_RTTIME"), RLIMIT_RTTIME);
	assert_int_equal(ctr_rlimit_from_name("NOFILE"), -EINVAL);
	Grpc__POSIXRlimit a = GRPC__POSIXRLIMIT__INIT, b = GRPC__POSIXRLIMIT__INIT;
	a.type = "RLIMIT_CORE";
	a.soft = 1;
	a.hard = 2;
	b.type = "RLIMIT_BOGUS";
	Grpc__POSIXRlimit *v[] = {&a, &b};
	struct ctr_rlimit *out = NULL;
	struct agent_err err = {0};
	assert_int_equal(ctr_rlimits_from_oci(v, 1, &out, &err), 0);
	assert_int_equal(out[0].resource, RLIMIT_CORE);
	assert_int_equal(out[0].lim.rlim_cur, 1);
	assert_int_equal(out[0].lim.rlim_max, 2);
	free(out);
	assert_int_equal(ctr_rlimits_from_oci(v, 2, &out, &err), -EINVAL);
	assert_string_equal(err.msg, "rlimits: unknown type RLIMIT_BOGUS");
	a.soft = 3;
	assert_int_equal(ctr_rlimits_from_oci(v, 1, &out, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "soft limit 3 above hard limit 2"));
}

static void test_mount_options(void **state)
{
	char *o1[] = {"nosuid", "noexec", "nodev", "ro", "mode=755", "size=65536k", "rslave"};
	unsigned long fl, prop;
	char *data = NULL;
	struct agent_err err = {0};
	assert_int_equal(ctr_mount_options(o1, 7, &fl, &prop, &data, &err), 0);
	assert_int_equal(fl, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
	assert_int_equal(prop, MS_SLAVE | MS_REC);
	assert_string_equal(data, "mode=755,size=65536k");
	free(data);

	char *o2[] = {"ro", "rw", "rbind", "nosuid", "suid", "private"};
	assert_int_equal(ctr_mount_options(o2, 6, &fl, &prop, &data, &err), 0);
	assert_int_equal(fl, MS_BIND | MS_REC);
	assert_int_equal(prop, MS_PRIVATE);
	assert_null(data);

	char *o3[] = {"a,b"};
	assert_int_equal(ctr_mount_options(o3, 1, &fl, &prop, &data, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "\"a,b\""));

	unsigned long p;
	assert_int_equal(ctr_propagation_from_name("rshared", &p), 0);
	assert_int_equal(p, MS_SHARED | MS_REC);
	assert_int_equal(ctr_propagation_from_name("runbindable", &p), 0);
	assert_int_equal(p, MS_UNBINDABLE | MS_REC);
	assert_int_equal(ctr_propagation_from_name("sideways", &p), -EINVAL);
}

static void test_mount_from_oci(void **state)
{
	char *opts[] = {"rbind", "ro"};
	Grpc__Mount m = GRPC__MOUNT__INIT;
	m.destination = "/data";
	m.source = "/run/x";
	m.type = "bind";
	m.options = opts;
	m.n_options = 2;
	struct ctr_mount cm;
	struct agent_err err = {0};
	assert_int_equal(ctr_mount_from_oci(&m, &cm, &err), 0);
	assert_int_equal(cm.kind, CTR_MNT_BIND);
	assert_int_equal(cm.flags, MS_BIND | MS_REC | MS_RDONLY);
	ctr_mount_clear(&cm);

	/* "bind" in the options makes any type a bind mount. */
	m.type = "none";
	assert_int_equal(ctr_mount_from_oci(&m, &cm, &err), 0);
	assert_int_equal(cm.kind, CTR_MNT_BIND);
	ctr_mount_clear(&cm);

	m.source = "relative";
	assert_int_equal(ctr_mount_from_oci(&m, &cm, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not an absolute path"));
	m.destination = "data";
	assert_int_equal(ctr_mount_from_oci(&m, &cm, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "destination \"data\""));

	m.destination = "/proc";
	m.type = "proc";
	m.source = "";
	m.n_options = 0;
	assert_int_equal(ctr_mount_from_oci(&m, &cm, &err), 0);
	assert_int_equal(cm.kind, CTR_MNT_FS);
	assert_string_equal(cm.source, "proc"); /* empty source: the type */
	ctr_mount_clear(&cm);
}

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# comment:x:5:5::/:/bin/sh\n"
                             "evil:x:99999999999:0::/:/bin/sh\n"
                             "neg:x:-1:0::/:/bin/sh\n"
                             "short:x:7\n"
                             "long:x:8:8:a:b:c:d\n"
                             "max:x:4294967295:0::/:/bin/sh\n"
                             ":x:9:9::/:/bin/sh\n"
                             "+nis\n"
                             "user:x:1000:1001:User Name:/home/user:/bin/sh\r\n"
                             "dup:x:1000:5::/other:/bin/sh\n";

static void test_passwd(void **state)
{
	struct ctr_pwent e;
	assert_int_equal(ctr_passwd_lookup(passwd, "user", 0, &e), 0);
	assert_int_equal(e.uid, 1000);
	assert_int_equal(e.gid, 1001);
	assert_string_equal(e.home, "/home/user");
	ctr_pwent_clear(&e);
	/* By uid: the first matching line wins. */
	assert_int_equal(ctr_passwd_lookup(passwd, NULL, 1000, &e), 0);
	assert_string_equal(e.name, "user");
	ctr_pwent_clear(&e);
	assert_int_equal(ctr_passwd_lookup(passwd, NULL, 0, &e), 0);
	assert_string_equal(e.name, "root");
	ctr_pwent_clear(&e);
	/* Hostile and malformed lines are never matched. */
	assert_int_equal(ctr_passwd_lookup(passwd, "evil", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(passwd, "neg", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(passwd, "short", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(passwd, "long", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(passwd, "max", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(passwd, "", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(passwd, "# comment", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(passwd, "nobody", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup(NULL, "root", 0, &e), -ENOENT);
	assert_int_equal(ctr_passwd_lookup("", NULL, 0, &e), -ENOENT);
}

static const char group[] = "root:x:0:\n"
                            "wheel:x:10:root,user\n"
                            "users:x:100:user\n"
                            "userish:x:101:username,xuser\n"
                            "bad:x:abc:user\n"
                            "trail:x:102:a,user,\n"
                            "dupe:x:10:user\n";

static void test_group(void **state)
{
	gid_t g;
	assert_int_equal(ctr_group_lookup(group, "users", &g), 0);
	assert_int_equal(g, 100);
	assert_int_equal(ctr_group_lookup(group, "bad", &g), -ENOENT);
	assert_int_equal(ctr_group_lookup(group, "none", &g), -ENOENT);
	gid_t *v = NULL;
	size_t n = 0;
	assert_int_equal(ctr_group_memberships(group, "user", &v, &n), 0);
	/* wheel, users, trail; not userish (prefix match), not bad, dupe's gid already in. */
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 10);
	assert_int_equal(v[1], 100);
	assert_int_equal(v[2], 102);
	free(v);
}

static char tmproot[64];

static void make_tmproot(void)
{
	snprintf(tmproot, sizeof(tmproot), "/tmp/ctr-unit-XXXXXX");
	assert_non_null(mkdtemp(tmproot));
	char p[128];
	snprintf(p, sizeof(p), "%s/etc", tmproot);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/etc/passwd", tmproot);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(passwd, f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/etc/group", tmproot);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(group, f);
	fclose(f);
}

static void rm_tmproot(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmproot);
	assert_int_equal(system(cmd), 0);
}

static void test_user_resolve(void **state)
{
	make_tmproot();
	Grpc__User u = GRPC__USER__INIT;
	uint32_t extra[] = {7, 10};
	struct ctr_user r;
	struct agent_err err = {0};

	u.username = "user";
	u.additionalgids = extra;
	u.n_additionalgids = 2;
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), 0);
	assert_int_equal(r.uid, 1000);
	assert_int_equal(r.gid, 1001);
	assert_string_equal(r.home, "/home/user");
	assert_int_equal(r.n_groups, 4); /* 7, 10, 100, 102 */
	ctr_user_clear(&r);

	u.username = "user:users";
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), 0);
	assert_int_equal(r.gid, 100);
	ctr_user_clear(&r);

	u.username = "1234:55"; /* numeric: no passwd entry needed */
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), 0);
	assert_int_equal(r.uid, 1234);
	assert_int_equal(r.gid, 55);
	assert_null(r.home);
	ctr_user_clear(&r);

	u.username = "";
	u.uid = 1000;
	u.gid = 3;
	u.n_additionalgids = 0;
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), 0);
	assert_int_equal(r.gid, 3); /* numeric ids are kept as given */
	assert_int_equal(r.n_groups, 3);
	ctr_user_clear(&r);

	/* Regression (found by fuzz_ctr_user): (uid_t)-1 tells setresuid/setresgid/setgroups'
	 * callers "leave unchanged", which would keep the agent's root: never accepted. */
	uint32_t minus_one[] = {7, UINT32_MAX};
	u.uid = UINT32_MAX;
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "4294967295"));
	u.uid = 1000;
	u.gid = UINT32_MAX;
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), -EINVAL);
	u.gid = 3;
	u.additionalgids = minus_one;
	u.n_additionalgids = 2;
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), -EINVAL);
	u.additionalgids = extra;
	u.n_additionalgids = 0;

	u.username = "ghost";
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), -EINVAL);
	assert_string_equal(err.msg, "user ghost: no such user in the container's /etc/passwd");
	u.username = "user:ghosts";
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "group ghosts"));

	/* A symlink escaping the rootfs is resolved inside it: "/../../real" is rootfs/real. */
	char p[128];
	snprintf(p, sizeof(p), "%s/real", tmproot);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("root:x:0:0:root:/inner:/bin/sh\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/etc/passwd", tmproot);
	unlink(p);
	assert_int_equal(symlink("/../../../../real", p), 0);
	u.username = "root";
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), 0);
	assert_string_equal(r.home, "/inner");
	ctr_user_clear(&r);
	/* A loop is an error, not a silent fallback. */
	unlink(p);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_int_equal(ctr_user_resolve(tmproot, &u, &r, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "ELOOP"));
	rm_tmproot();
}

static int prctl_nnp_and_load(const struct ctr_seccomp *f)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return ctr_seccomp_load(f);
}

static void test_seccomp(void **state)
{
	char *names[] = {"mkdir", "mkdirat", "not_a_syscall"};
	char *names2[] = {"getppid"};
	char *arches[] = {"SCMP_ARCH_X86_64"};
	Grpc__LinuxSeccomp s = GRPC__LINUX_SECCOMP__INIT;
	Grpc__LinuxSyscall a = GRPC__LINUX_SYSCALL__INIT, b = GRPC__LINUX_SYSCALL__INIT;
	Grpc__LinuxSyscall *v[] = {&a, &b};
	Grpc__LinuxSeccompArg arg = GRPC__LINUX_SECCOMP_ARG__INIT, *argv[] = {&arg};
	s.defaultaction = "SCMP_ACT_ALLOW";
	s.architectures = arches;
	s.n_architectures = 1;
	s.syscalls = v;
	s.n_syscalls = 2;
	a.names = names;
	a.n_names = 3;
	a.action = "SCMP_ACT_ERRNO";
	a.errno_ret_case = GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET;
	a.errnoret = EROFS;
	b.names = names2;
	b.n_names = 1;
	b.action = "SCMP_ACT_ERRNO"; /* default errno: EPERM */
	/* getppid has no args: (arg0 & 0) == 0 matches whatever the register holds. */
	arg.index = 0;
	arg.value = 0;
	arg.valuetwo = 0;
	arg.op = "SCMP_CMP_MASKED_EQ";
	b.args = argv;
	b.n_args = 1;
	struct ctr_seccomp f;
	struct agent_err err = {0};
	assert_int_equal(ctr_seccomp_compile(&s, &f, &err), 0);
	assert_non_null(f.prog);
	assert_true(f.len > 4);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl_nnp_and_load(&f) < 0)
			_exit(10);
		if (mkdir("/tmp/ctr-unit-denied", 0700) == 0 || errno != EROFS)
			_exit(11);
		if (syscall(SYS_getppid) != -1 ||
		    errno != EPERM) /* glibc getppid() never sets errno */
			_exit(12);
		if (getpid() <= 0) /* allowed */
			_exit(13);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	ctr_seccomp_clear(&f);

	/* Errors name the offending field. */
	s.defaultaction = "SCMP_ACT_SOMETIMES";
	assert_int_equal(ctr_seccomp_compile(&s, &f, &err), -EINVAL);
	assert_string_equal(err.msg, "seccomp: unknown default action SCMP_ACT_SOMETIMES");
	s.defaultaction = "SCMP_ACT_ALLOW";
	arg.op = "SCMP_CMP_ALMOST";
	assert_int_equal(ctr_seccomp_compile(&s, &f, &err), -EINVAL);
	assert_string_equal(err.msg, "seccomp getppid: unknown operator SCMP_CMP_ALMOST");
	arg.op = "SCMP_CMP_MASKED_EQ";
	arches[0] = "SCMP_ARCH_PDP11";
	assert_int_equal(ctr_seccomp_compile(&s, &f, &err), -EINVAL);
	assert_string_equal(err.msg, "seccomp: unknown architecture SCMP_ARCH_PDP11");
	arches[0] = "SCMP_ARCH_X86_64";
	char *flags[] = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WHATEVER"};
	s.flags = flags;
	s.n_flags = 2;
	assert_int_equal(ctr_seccomp_compile(&s, &f, &err), -EINVAL);
	assert_string_equal(err.msg, "seccomp: unknown flag SECCOMP_FILTER_FLAG_WHATEVER");
	s.n_flags = 1;
	assert_int_equal(ctr_seccomp_compile(&s, &f, &err), 0);
	assert_int_equal(f.flags, 2u /* SECCOMP_FILTER_FLAG_LOG */);
	ctr_seccomp_clear(&f);
	/* No profile: no filter. */
	assert_int_equal(ctr_seccomp_compile(NULL, &f, &err), 0);
	assert_null(f.prog);
}

static void test_spec_errors(void **state)
{
	make_tmproot();
	char *args[] = {"sh"};
	Grpc__Spec s = GRPC__SPEC__INIT;
	Grpc__Process p = GRPC__PROCESS__INIT;
	Grpc__Root root = GRPC__ROOT__INIT;
	Grpc__Linux l = GRPC__LINUX__INIT;
	struct ctr_config *c = NULL;
	struct agent_err err = {0};
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_string_equal(err.msg, "spec: missing Process");
	s.process = &p;
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_string_equal(err.msg, "spec: missing Root");
	s.root = &root;
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_string_equal(err.msg, "spec: missing Linux");
	s.linux = &l;
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_string_equal(err.msg, "process: Args is empty");
	p.args = args;
	p.n_args = 1;
	p.cwd = "relative";
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Cwd \"relative\""));
	p.cwd = "/";
	assert_int_equal(ctr_config_from_spec(&s, "/nonexistent-root", &c, &err), -ENOENT);
	assert_string_equal(err.msg,
	                    "rootfs /nonexistent-root: ENOENT (No such file or directory)");
	Grpc__LinuxNamespace ns = GRPC__LINUX_NAMESPACE__INIT, *nsp = &ns;
	ns.type = "time-travel";
	l.namespaces = &nsp;
	l.n_namespaces = 1;
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_string_equal(err.msg, "namespaces: unknown type \"time-travel\"");
	ns.type = "uts";
	Grpc__Linux__SysctlEntry se = GRPC__LINUX__SYSCTL_ENTRY__INIT, *sep = &se;
	se.key = "../../etc/passwd";
	se.value = "x";
	l.sysctl = &sep;
	l.n_sysctl = 1;
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "sysctl: bad key"));
	se.key = "net.ipv4.ip_forward";
	l.rootfspropagation = "sideways";
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "rootfsPropagation"));
	l.rootfspropagation = "rprivate";
	s.hostname = "h";
	assert_int_equal(ctr_config_from_spec(&s, tmproot, &c, &err), 0);
	assert_non_null(c);
	assert_string_equal(c->sysctl_path[0], "/proc/sys/net/ipv4/ip_forward");
	assert_true(c->ns_new & CLONE_NEWUTS);
	assert_int_equal(c->n_devices, 6); /* the default /dev nodes */

	/* exec inherits from the init what the request does not carry. */
	c->has_caps = true;
	c->caps.bounding = 5;
	c->no_new_privs = true;
	struct ctr_config *e = NULL;
	Grpc__Process ep = GRPC__PROCESS__INIT;
	char *eargs[] = {"ls"};
	ep.args = eargs;
	ep.n_args = 1;
	assert_int_equal(ctr_config_from_exec(c, &ep, &e, &err), 0);
	assert_true(e->has_caps);
	assert_int_equal(e->caps.bounding, 5);
	assert_true(e->no_new_privs);
	assert_string_equal(e->cwd, "/");
	assert_string_equal(e->path_env,
	                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	ctr_config_free(e);
	ctr_config_free(c);
	rm_tmproot();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_id_valid),       cmocka_unit_test(test_cap_names),
	    cmocka_unit_test(test_rlimit_names),   cmocka_unit_test(test_mount_options),
	    cmocka_unit_test(test_mount_from_oci), cmocka_unit_test(test_passwd),
	    cmocka_unit_test(test_group),          cmocka_unit_test(test_user_resolve),
	    cmocka_unit_test(test_seccomp),        cmocka_unit_test(test_spec_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

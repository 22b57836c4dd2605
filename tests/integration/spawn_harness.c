/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_spawn's shared helpers (spawn_harness.h): the check counters, the busybox rootfs in a
 * temp dir, the spec builder, and running a container or an init to exec into.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container.h"
#include "spawn_harness.h"

int passed, failed;
char root[256];

void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "setup command failed: %s\n", cmd);
		exit(2);
	}
}

void write_text(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(p);
		exit(2);
	}
}

void build_rootfs(void)
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

static char *o_proc[] = {"nosuid", "noexec", "nodev"};
static char *o_dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
static char *o_pts[] = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"};
static char *o_tmp[] = {"nosuid", "nodev"};

void spec_init(struct spec *sp, char **args, size_t n_args)
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

char *read_all(int fd)
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
char *run(const Grpc__Spec *s, const struct ctr_ns *ns, int *ret_status, int *ret_r,
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

/* Create an init running args, pin its namespaces as the agent does (between create and
 * start: *ret_ns), start it. */
pid_t start_init(struct ctr_config **ret_cfg, const struct ctr_ns *ns, char **args, size_t n_args,
                 struct ctr_nsfds *ret_ns)
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

pid_t start_sleeper(struct ctr_config **ret_cfg, const struct ctr_ns *ns, struct ctr_nsfds *ret_ns)
{
	char *args[] = {"sleep", "30"};
	return start_init(ret_cfg, ns, args, 2, ret_ns);
}

/* A cgroup the test can create and move processes into: a v1 pids hierarchy, else the v2 root.
 * Fills dir; false when there is none. */
bool test_cgroup_dir(char *dir, size_t len)
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

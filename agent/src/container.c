// SPDX-License-Identifier: Apache-2.0
/*
 * container: OCI spec -> struct ctr_config (parent side).  Every check that can be made
 * before forking is made here, so the child has nothing left to validate, only syscalls to
 * issue.  Process creation is in ctr_spawn.c (its child side in ctr_child.c).
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "container.h"
#include "ctr_internal.h"
#include "util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Bounds on what a spec may ask for (every length from the host is hostile). */
#define MAX_ARGS     4096
#define MAX_ENV      4096
#define MAX_MOUNTS   1024
#define MAX_DEVICES  1024
#define MAX_PATHS    1024
#define MAX_SYSCTL   1024
#define HOSTNAME_MAX 64

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

bool ctr_id_valid(const char *id)
{
	if (!id)
		return false;
	size_t n = strlen(id);
	if (n < 2 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || (ch != '_' && ch != '.' && ch != '-')))
			return false;
	}
	return true;
}

bool ctr_config_terminal(const struct ctr_config *c)
{
	return c->terminal;
}

void ctr_config_free(struct ctr_config *c)
{
	if (!c)
		return;
	strv_free(c->argv);
	strv_free(c->envp);
	free(c->cwd);
	ctr_user_clear(&c->user);
	free(c->rlimits);
	ctr_seccomp_clear(&c->seccomp);
	free(c->rootfs);
	free(c->hostname);
	for (size_t i = 0; i < c->n_ns_join; i++)
		free(c->ns_join[i].path);
	for (size_t i = 0; i < c->n_mounts; i++)
		ctr_mount_clear(&c->mounts[i]);
	free(c->mounts);
	strv_free(c->cg1_controllers);
	for (size_t i = 0; i < c->n_devices; i++)
		free(c->devices[i].path);
	free(c->devices);
	strv_free(c->masked);
	strv_free(c->readonly);
	strv_free(c->sysctl_path);
	strv_free(c->sysctl_value);
	free(c->uid_map);
	free(c->gid_map);
	free(c);
}

static void config_freep(struct ctr_config **c)
{
	ctr_config_free(*c);
}
#define _cleanup_config_ _cleanup_(config_freep)

/* Args, Env (+HOME), Cwd, User, Terminal. */
static int process_basics(struct ctr_config *c, const Grpc__Process *p, struct agent_err *reterr)
{
	if (p->n_args == 0 || !p->args[0] || !p->args[0][0])
		return err_set(reterr, -EINVAL, "process: Args is empty");
	if (p->n_args > MAX_ARGS || p->n_env > MAX_ENV)
		return err_set(reterr, -E2BIG, "process: %zu args, %zu env entries", p->n_args,
		               p->n_env);
	const char *cwd = p->cwd && *p->cwd ? p->cwd : "/";
	if (cwd[0] != '/' || strlen(cwd) >= CTR_SCRATCH_MAX)
		return err_set(reterr, -EINVAL, "process: Cwd \"%.256s\" is not an absolute path",
		               cwd);
	if (strlen(p->args[0]) >= CTR_SCRATCH_MAX / 2)
		return err_set(reterr, -ENAMETOOLONG, "process: Args[0]");
	int r = ctr_user_resolve(c->rootfs, p->user, &c->user, reterr);
	if (r < 0)
		return r;
	c->terminal = p->terminal;
	if (!(c->cwd = strdup(cwd)) || !(c->argv = strv_copy(p->args, p->n_args, 0)) ||
	    !(c->envp = strv_copy(p->env, p->n_env, 1)))
		return -ENOMEM;
	bool has_home = false;
	size_t n = p->n_env;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(c->envp[i], "HOME=", 5) == 0)
			has_home = true;
		if (strncmp(c->envp[i], "PATH=", 5) == 0)
			c->path_env = c->envp[i] + 5;
	}
	if (!c->path_env)
		c->path_env = DEFAULT_PATH;
	if (!has_home && c->user.home && *c->user.home &&
	    asprintf(&c->envp[n], "HOME=%s", c->user.home) < 0) {
		c->envp[n] = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int process_security(struct ctr_config *c, const Grpc__Process *p, struct agent_err *reterr)
{
	int r;
	if (p->capabilities) {
		if ((r = ctr_caps_from_oci(p->capabilities, &c->caps, reterr)) < 0)
			return r;
		c->has_caps = true;
	}
	if (p->n_rlimits &&
	    (r = ctr_rlimits_from_oci(p->rlimits, p->n_rlimits, &c->rlimits, reterr)) < 0)
		return r;
	c->n_rlimits = p->n_rlimits;
	c->no_new_privs = p->nonewprivileges;
	if (p->oomscoreadj < -1000 || p->oomscoreadj > 1000)
		return err_set(reterr, -EINVAL, "process: OOMScoreAdj %lld out of range",
		               (long long)p->oomscoreadj);
	c->oom_score_adj = (int)p->oomscoreadj;
	c->set_oom_score_adj = p->oomscoreadj != 0;
	c->cap_last = ctr_cap_last();
	return 0;
}

static const struct {
	const char *name;
	int flag;
} ns_types[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

static int namespaces(struct ctr_config *c, const Grpc__Linux *l, struct agent_err *reterr)
{
	c->ns_new = CLONE_NEWNS; /* always: the rootfs setup must not touch the agent's */
	for (size_t i = 0; i < l->n_namespaces; i++) {
		const Grpc__LinuxNamespace *ns = l->namespaces[i];
		size_t j;
		for (j = 0; j < ARRAY_SIZE(ns_types); j++)
			if (strcmp(ns_types[j].name, ns->type) == 0)
				break;
		if (j == ARRAY_SIZE(ns_types))
			return err_set(reterr, -EINVAL, "namespaces: unknown type \"%s\"",
			               ns->type);
		int flag = ns_types[j].flag;
		if (flag == CLONE_NEWUSER)
			return err_set(reterr, -ENOTSUP, "namespaces: user namespaces");
		if (flag == CLONE_NEWPID)
			c->pid_listed = true;
		if (ns->path && *ns->path) {
			if (flag == CLONE_NEWNS)
				return err_set(reterr, -EINVAL,
				               "namespaces: joining a mount namespace by path");
			if (c->n_ns_join == CTR_MAX_NSJOIN)
				return err_set(reterr, -E2BIG, "namespaces: too many paths");
			c->ns_join[c->n_ns_join].type = flag;
			if (!(c->ns_join[c->n_ns_join++].path = strdup(ns->path)))
				return -ENOMEM;
		} else if (flag != CLONE_NEWPID) {
			c->ns_new |= (unsigned long)flag;
		}
	}
	return 0;
}

static int cg1_controllers(struct ctr_config *c)
{
	DIR *d = opendir("/sys/fs/cgroup");
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.' || strcmp(e->d_name, "unified") == 0)
			continue;
		char **v = realloc(c->cg1_controllers, (n + 2) * sizeof(*v));
		if (!v) {
			closedir(d);
			return -ENOMEM;
		}
		c->cg1_controllers = v;
		v[n + 1] = NULL;
		if (!(v[n] = strdup(e->d_name))) {
			closedir(d);
			return -ENOMEM;
		}
		c->n_cg1_controllers = ++n;
	}
	closedir(d);
	return 0;
}

static int mounts(struct ctr_config *c, const Grpc__Spec *s, struct agent_err *reterr)
{
	if (s->n_mounts > MAX_MOUNTS)
		return err_set(reterr, -E2BIG, "mounts: %zu entries", s->n_mounts);
	c->mounts = calloc(s->n_mounts + 1, sizeof(*c->mounts));
	if (!c->mounts)
		return -ENOMEM;
	bool v1 = false;
	for (size_t i = 0; i < s->n_mounts; i++) {
		int r = ctr_mount_from_oci(s->mounts[i], &c->mounts[i], reterr);
		if (r < 0)
			return r;
		c->n_mounts++;
		v1 |= c->mounts[i].kind == CTR_MNT_CGROUP1;
	}
	return v1 ? cg1_controllers(c) : 0;
}

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static int add_device(struct ctr_config *c, const char *path, mode_t mode, dev_t rdev, uid_t uid,
                      gid_t gid)
{
	for (size_t i = 0; i < c->n_devices; i++)
		if (strcmp(c->devices[i].path, path) == 0)
			return 0;
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	c->devices[c->n_devices++] =
	    (struct ctr_device){.path = p, .mode = mode, .rdev = rdev, .uid = uid, .gid = gid};
	return 0;
}

static int devices(struct ctr_config *c, const Grpc__Linux *l, struct agent_err *reterr)
{
	if (l->n_devices > MAX_DEVICES)
		return err_set(reterr, -E2BIG, "devices: %zu entries", l->n_devices);
	c->devices = calloc(l->n_devices + ARRAY_SIZE(default_devices), sizeof(*c->devices));
	if (!c->devices)
		return -ENOMEM;
	for (size_t i = 0; i < l->n_devices; i++) {
		const Grpc__LinuxDevice *d = l->devices[i];
		mode_t type;
		if (strcmp(d->type, "c") == 0 || strcmp(d->type, "u") == 0)
			type = S_IFCHR;
		else if (strcmp(d->type, "b") == 0)
			type = S_IFBLK;
		else if (strcmp(d->type, "p") == 0)
			type = S_IFIFO;
		else
			return err_set(reterr, -EINVAL, "devices: %s: unknown type \"%s\"", d->path,
			               d->type);
		if (d->path[0] != '/' || strlen(d->path) >= CTR_SCRATCH_MAX / 2 ||
		    strstr(d->path, "/../") || d->major < 0 || d->minor < 0 || d->major > 0xfffff ||
		    d->minor > 0xfffff)
			return err_set(reterr, -EINVAL, "devices: bad entry \"%.256s\" %lld:%lld",
			               d->path, (long long)d->major, (long long)d->minor);
		mode_t perm = d->filemode ? (d->filemode & 07777) : 0666;
		int r = add_device(c, d->path, type | perm,
		                   makedev((unsigned)d->major, (unsigned)d->minor), d->uid, d->gid);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
		int r =
		    add_device(c, default_devices[i].path, S_IFCHR | 0666,
		               makedev(default_devices[i].major, default_devices[i].minor), 0, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int paths(char *const *src, size_t n, const char *what, char ***ret, size_t *ret_n,
                 struct agent_err *reterr)
{
	if (n > MAX_PATHS)
		return err_set(reterr, -E2BIG, "%s: %zu entries", what, n);
	for (size_t i = 0; i < n; i++)
		if (src[i][0] != '/' || strlen(src[i]) >= CTR_SCRATCH_MAX / 2)
			return err_set(reterr, -EINVAL, "%s: \"%.256s\" is not an absolute path",
			               what, src[i]);
	if (!(*ret = strv_copy(src, n, 0)))
		return -ENOMEM;
	*ret_n = n;
	return 0;
}

static int sysctls(struct ctr_config *c, const Grpc__Linux *l, struct agent_err *reterr)
{
	size_t n = l->n_sysctl;
	if (n > MAX_SYSCTL)
		return err_set(reterr, -E2BIG, "sysctl: %zu entries", n);
	if (!(c->sysctl_path = calloc(n + 1, sizeof(char *))) ||
	    !(c->sysctl_value = calloc(n + 1, sizeof(char *))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *k = l->sysctl[i]->key;
		bool ok = *k && k[0] != '.' && k[0] != '/' && !strstr(k, "..") && strlen(k) < 256 &&
		          strlen(l->sysctl[i]->value) < 4096;
		for (const char *p = k; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || strchr("._-/", *p);
		if (!ok)
			return err_set(reterr, -EINVAL, "sysctl: bad key \"%.256s\"", k);
		if (asprintf(&c->sysctl_path[i], "/proc/sys/%s", k) < 0) {
			c->sysctl_path[i] = NULL;
			return -ENOMEM;
		}
		c->n_sysctl = i + 1;
		for (char *p = c->sysctl_path[i] + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		if (!(c->sysctl_value[i] = strdup(l->sysctl[i]->value)))
			return -ENOMEM;
	}
	return 0;
}

int ctr_config_from_spec(const Grpc__Spec *spec, const char *rootfs, struct ctr_config **ret,
                         struct agent_err *reterr)
{
	if (!spec)
		return err_set(reterr, -EINVAL, "spec: missing");
	if (!spec->process)
		return err_set(reterr, -EINVAL, "spec: missing Process");
	if (!spec->root)
		return err_set(reterr, -EINVAL, "spec: missing Root");
	if (!spec->linux)
		return err_set(reterr, -EINVAL, "spec: missing Linux");
	if (!rootfs || rootfs[0] != '/' || strlen(rootfs) >= CTR_SCRATCH_MAX / 2)
		return err_set(reterr, -EINVAL, "rootfs \"%s\" is not an absolute path",
		               rootfs ? rootfs : "");
	struct stat st;
	if (stat(rootfs, &st) < 0)
		return err_set(reterr, -errno, "rootfs %s", rootfs);
	if (!S_ISDIR(st.st_mode))
		return err_set(reterr, -ENOTDIR, "rootfs %s", rootfs);

	const Grpc__Linux *l = spec->linux;
	_cleanup_config_ struct ctr_config *c = calloc(1, sizeof(*c));
	if (!c || !(c->rootfs = strdup(rootfs)))
		return -ENOMEM;
	c->root_readonly = spec->root->readonly;
	int r;
	if ((r = process_basics(c, spec->process, reterr)) < 0 ||
	    (r = process_security(c, spec->process, reterr)) < 0 ||
	    (r = namespaces(c, l, reterr)) < 0 || (r = mounts(c, spec, reterr)) < 0 ||
	    (r = devices(c, l, reterr)) < 0 ||
	    (r = paths(l->maskedpaths, l->n_maskedpaths, "maskedPaths", &c->masked, &c->n_masked,
	               reterr)) < 0 ||
	    (r = paths(l->readonlypaths, l->n_readonlypaths, "readonlyPaths", &c->readonly,
	               &c->n_readonly, reterr)) < 0 ||
	    (r = sysctls(c, l, reterr)) < 0 ||
	    (r = ctr_seccomp_compile(l->seccomp, &c->seccomp, reterr)) < 0)
		return r == -ENOMEM ? err_set(reterr, r, "spec") : r;
	if (spec->hostname && *spec->hostname) {
		if (strlen(spec->hostname) > HOSTNAME_MAX)
			return err_set(reterr, -EINVAL, "hostname longer than %d bytes",
			               HOSTNAME_MAX);
		if (!(c->hostname = strdup(spec->hostname)))
			return -ENOMEM;
	}
	const char *prop = l->rootfspropagation ? l->rootfspropagation : "";
	if (*prop) {
		if (ctr_propagation_from_name(prop, &c->rootfs_propagation) < 0)
			return err_set(reterr, -EINVAL, "rootfsPropagation: unknown \"%s\"", prop);
		c->rootfs_private = (c->rootfs_propagation & MS_PRIVATE) != 0;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int ctr_config_from_exec(const struct ctr_config *init_cfg, const Grpc__Process *p,
                         struct ctr_config **ret, struct agent_err *reterr)
{
	if (!init_cfg || !p)
		return err_set(reterr, -EINVAL, "exec: missing Process");
	_cleanup_config_ struct ctr_config *c = calloc(1, sizeof(*c));
	if (!c || !(c->rootfs = strdup(init_cfg->rootfs)))
		return -ENOMEM;
	int r;
	if ((r = process_basics(c, p, reterr)) < 0 || (r = process_security(c, p, reterr)) < 0)
		return r;
	if (!p->capabilities) {
		c->has_caps = init_cfg->has_caps;
		c->caps = init_cfg->caps;
	}
	if (!p->n_rlimits && init_cfg->n_rlimits) {
		c->rlimits = malloc(init_cfg->n_rlimits * sizeof(*c->rlimits));
		if (!c->rlimits)
			return -ENOMEM;
		memcpy(c->rlimits, init_cfg->rlimits, init_cfg->n_rlimits * sizeof(*c->rlimits));
		c->n_rlimits = init_cfg->n_rlimits;
	}
	c->no_new_privs |= init_cfg->no_new_privs;
	if (!c->set_oom_score_adj) {
		c->set_oom_score_adj = init_cfg->set_oom_score_adj;
		c->oom_score_adj = init_cfg->oom_score_adj;
	}
	if ((r = ctr_seccomp_copy(&init_cfg->seccomp, &c->seccomp)) < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

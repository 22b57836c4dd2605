// SPDX-License-Identifier: Apache-2.0
/* cgroup: common helpers, path rules, version detection and dispatch to cgroup_v1/v2.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_devices.h"
#include "cgroup_internal.h"

/* A cgroup file we read is at most this big (memory.stat with numa is a few KiB; a busy
 * cgroup.procs can be larger).  Files beyond it are refused rather than truncated. */
#define READ_MAX (4u << 20)

const char *const cg_ctrl_names[CGC_COUNT] = {
    [CGC_CPUSET] = "cpuset",     [CGC_CPU] = "cpu",         [CGC_CPUACCT] = "cpuacct",
    [CGC_BLKIO] = "blkio",       [CGC_MEMORY] = "memory",   [CGC_DEVICES] = "devices",
    [CGC_FREEZER] = "freezer",   [CGC_NET_CLS] = "net_cls", [CGC_PERF_EVENT] = "perf_event",
    [CGC_NET_PRIO] = "net_prio", [CGC_HUGETLB] = "hugetlb", [CGC_PIDS] = "pids",
    [CGC_RDMA] = "rdma",         [CGC_MISC] = "misc",
};

int cg_ctrl_from_name(const char *name)
{
	if (strcmp(name, "io") == 0)
		return CGC_BLKIO; /* v2's name for the block I/O controller */
	for (int i = 0; i < CGC_COUNT; i++)
		if (strcmp(cg_ctrl_names[i], name) == 0)
			return i;
	return -1;
}

/* ---- file helpers ---- */

static char *join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

int cg_write(const char *dir, const char *name, const char *val, struct agent_err *reterr)
{
	_cleanup_free_ char *p = join(dir, name);
	_cleanup_close_ int fd = -1;
	size_t len = strlen(val);
	ssize_t n;

	if (!p)
		return -ENOMEM;
	/* No O_CREAT: a missing file means a missing knob or controller, never a new file.
	 * openat, not open: musl's open() follows an O_CLOEXEC open with fcntl(F_SETFD) (for
	 * kernels before 2.6.23), one syscall more per cgroup file, and there are dozens per
	 * container. */
	fd = openat(AT_FDCWD, p, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return err_sys(reterr, -errno, "open %s", p);
	/* cgroupfs parses one value per write(); the kernel reports a bad value here. */
	n = write(fd, val, len);
	if (n < 0)
		return err_sys(reterr, -errno, "write '%s' to %s", val, p);
	if ((size_t)n != len)
		return err_sys(reterr, -EIO, "short write to %s", p);
	return 0;
}

int cg_writef(const char *dir, const char *name, struct agent_err *reterr, const char *fmt, ...)
{
	_cleanup_free_ char *val = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (r < 0) {
		val = NULL;
		return -ENOMEM;
	}
	return cg_write(dir, name, val, reterr);
}

int cg_read(const char *dir, const char *name, char **ret, struct agent_err *reterr)
{
	_cleanup_free_ char *p = join(dir, name);
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -1;
	size_t cap = 4096, len = 0;

	if (!p)
		return -ENOMEM;
	fd = openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC); /* see cg_write */
	if (fd < 0)
		return err_sys(reterr, -errno, "open %s", p);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (cap >= READ_MAX)
				return err_sys(reterr, -EFBIG, "read %s", p);
			nb = realloc(buf, cap * 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(reterr, -errno, "read %s", p);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	buf = NULL;
	return 0;
}

void cg_chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (strcmp(s, "max") == 0) {
		*ret = CG_UNLIMITED;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || (*end && *end != '\n' && *end != ' '))
		return -EINVAL;
	*ret = v;
	return 0;
}

int cg_read_u64(const char *dir, const char *name, uint64_t *ret, struct agent_err *reterr)
{
	_cleanup_free_ char *s = NULL;
	int r = cg_read(dir, name, &s, reterr);

	if (r < 0)
		return r;
	cg_chomp(s);
	r = parse_u64(s, ret);
	if (r < 0)
		return err_sys(reterr, r, "parse %s/%s ('%s')", dir, name, s);
	return 0;
}

int cg_read_key(const char *dir, const char *name, const char *key, uint64_t *ret,
                struct agent_err *reterr)
{
	_cleanup_free_ char *s = NULL;
	size_t klen = strlen(key);
	int r = cg_read(dir, name, &s, reterr);

	if (r < 0)
		return r;
	for (char *line = s; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			r = parse_u64(line + klen + 1, ret);
			if (r < 0)
				return err_sys(reterr, r, "parse %s in %s/%s", key, dir, name);
			return 0;
		}
	}
	return err_sys(reterr, -ENOENT, "no '%s' in %s/%s", key, dir, name);
}

bool cg_exists(const char *dir, const char *name)
{
	_cleanup_free_ char *p = join(dir, name);

	return p && access(p, F_OK) == 0;
}

int cg_mkdir_p(const char *root, const char *rel,
               int (*made)(const char *dir, void *arg, struct agent_err *reterr), void *arg,
               struct agent_err *reterr)
{
	_cleanup_free_ char *p = NULL;
	size_t rootlen = strlen(root);

	if (asprintf(&p, "%s%s", root, rel) < 0) {
		p = NULL;
		return -ENOMEM;
	}
	/* rel is normalised ("/a/b"), so every '/' after the root starts a component. */
	for (char *s = p + rootlen + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0755) == 0) {
			if (made) {
				int r = made(p, arg, reterr);

				if (r < 0)
					return r;
			}
		} else if (errno != EEXIST) {
			return err_sys(reterr, -errno, "mkdir %s", p);
		}
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}

int cg_rmdir_tree(const char *dir, struct agent_err *reterr)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	/* Usually a leaf: one rmdir, no listing.  A group with children fails (EBUSY) and is
	 * walked below. */
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : err_sys(reterr, -errno, "opendir %s", dir);
	while ((e = readdir(d))) {
		_cleanup_free_ char *sub = NULL;

		if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		sub = join(dir, e->d_name);
		if (!sub) {
			r = -ENOMEM;
			break;
		}
		r = cg_rmdir_tree(sub, reterr);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		return r;
	if (rmdir(dir) < 0 && errno != ENOENT)
		return err_sys(reterr, -errno, "rmdir %s", dir);
	return 0;
}

int cg_wait_state(int (*done)(void *arg, struct agent_err *reterr), void *arg,
                  struct agent_err *reterr)
{
	/* The only wait in the module: the freezer settles within microseconds unless a task
	 * is stuck in an uninterruptible sleep, so a short bounded poll keeps the loop live. */
	static const struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};

	for (int i = 0; i < CG_FREEZE_WAIT_MS; i++) {
		int r = done(arg, reterr);

		if (r != 0)
			return r < 0 ? r : 0;
		nanosleep(&ms, NULL);
	}
	return -EBUSY;
}

/* ---- parsers ---- */

int cg_parse_kv(const char *text, struct cg_kv **ret, size_t *ret_n)
{
	struct cg_kv *v = NULL;
	size_t n = 0;

	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		const char *sp = memchr(line, ' ', nl ? (size_t)(nl - line) : strlen(line));
		uint64_t val;

		if (sp && sp > line && parse_u64(sp + 1, &val) == 0) {
			struct cg_kv *nv = realloc(v, (n + 1) * sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
			v[n].key = strndup(line, (size_t)(sp - line));
			if (!v[n].key)
				goto oom;
			v[n++].value = val;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	*ret = v;
	*ret_n = n;
	return 0;
oom:
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
	return -ENOMEM;
}

int cg_blkio_push(struct cg_blkio_entry **v, size_t *n, uint64_t major, uint64_t minor,
                  const char *op, uint64_t value)
{
	struct cg_blkio_entry *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = (struct cg_blkio_entry){.major = major, .minor = minor, .value = value};
	snprintf(nv[*n].op, sizeof(nv[*n].op), "%s", op);
	(*n)++;
	return 0;
}

int cg_hugetlb_push(struct cg_hugetlb_stat **v, size_t *n, const char *size,
                    struct cg_hugetlb_stat **ret)
{
	struct cg_hugetlb_stat *nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = (struct cg_hugetlb_stat){0};
	snprintf(nv[*n].pagesize, sizeof(nv[*n].pagesize), "%s", size);
	*ret = &nv[(*n)++];
	return 0;
}

int cg_hugetlb_sizes(const char *dir, const char *suffix,
                     int (*fn)(const char *size, void *arg, struct agent_err *reterr), void *arg,
                     struct agent_err *reterr)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t slen = strlen(suffix);
	int r = 0;

	if (!d)
		return err_sys(reterr, -errno, "opendir %s", dir);
	while ((e = readdir(d))) {
		const char *s = e->d_name;
		char size[16];
		size_t len = strlen(s);

		/* hugetlb.<size>.<suffix>, size like "2MB": short, no dots */
		if (strncmp(s, "hugetlb.", 8) != 0 || len <= 8 + 1 + slen ||
		    strcmp(s + len - slen, suffix) != 0 || s[len - slen - 1] != '.')
			continue;
		len = len - slen - 1 - 8;
		if (len == 0 || len >= sizeof(size) || memchr(s + 8, '.', len))
			continue;
		memcpy(size, s + 8, len);
		size[len] = '\0';
		r = fn(size, arg, reterr);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* ---- manager ---- */

unsigned cg_parse_controllers(const char *list)
{
	unsigned mask = 0;

	while (*list) {
		size_t n = strcspn(list, " \n");
		char name[32];

		if (n > 0 && n < sizeof(name)) {
			int i;

			memcpy(name, list, n);
			name[n] = '\0';
			i = cg_ctrl_from_name(name);
			if (i >= 0)
				mask |= 1u << i;
		}
		list += n;
		list += strspn(list, " \n");
	}
	return mask;
}

int cg_manager_open(const char *root, struct cg_manager **ret, struct agent_err *reterr)
{
	struct cg_manager *m;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->root = strdup(root);
	if (!m->root) {
		cg_manager_free(m);
		return -ENOMEM;
	}
	if (cg_exists(root, "cgroup.controllers")) {
		_cleanup_free_ char *list = NULL;
		int r = cg_read(root, "cgroup.controllers", &list, reterr);

		if (r < 0) {
			cg_manager_free(m);
			return r;
		}
		m->version = CG_V2;
		m->ops = &cg_v2_ops;
		m->controllers = cg_parse_controllers(list);
	} else {
		m->version = CG_V1;
		m->ops = &cg_v1_ops;
		for (int i = 0; i < CGC_COUNT; i++) {
			_cleanup_free_ char *p = join(root, cg_ctrl_names[i]);
			struct stat st;

			if (!p) {
				cg_manager_free(m);
				return -ENOMEM;
			}
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
				m->controllers |= 1u << i;
		}
		if (!m->controllers) {
			cg_manager_free(m);
			return err_sys(reterr, -ENOENT, "no cgroup v1 or v2 hierarchy at %s", root);
		}
	}
	*ret = m;
	return 0;
}

void cg_manager_free(struct cg_manager *m)
{
	if (!m)
		return;
	free(m->root);
	free(m);
}

enum cg_version cg_manager_version(const struct cg_manager *m)
{
	return m->version;
}

bool cg_manager_has(const struct cg_manager *m, const char *controller)
{
	int i = cg_ctrl_from_name(controller);

	return i >= 0 && (m->controllers & (1u << i));
}

/* ---- dispatch ---- */

int cg_create(struct cg_manager *m, const char *cgroups_path, struct cg **ret,
              struct agent_err *reterr)
{
	struct cg *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->m = m;
	c->oom_fd = -1;
	r = cg_parse_path(cgroups_path, &c->path, reterr);
	if (r < 0) {
		cg_free(c);
		return r;
	}
	r = m->ops->create(c, reterr);
	if (r < 0) {
		/* Undo the leaves made so far (v1: some hierarchies may have them); the message
		 * that matters is the failure's, so the undo reports nowhere. */
		(void)m->ops->destroy(c, NULL);
		cg_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

const char *cg_path(const struct cg *c)
{
	return c->path;
}

int cg_add_pid(struct cg *c, pid_t pid, struct agent_err *reterr)
{
	if (pid <= 0)
		return err_sys(reterr, -EINVAL, "add pid %d", (int)pid);
	return c->m->ops->add_pid(c, pid, reterr);
}

/* cgroup v2 forbids processes in a cgroup that hands controllers to children, so a container
 * that nests cgroups (docker-in-docker) moves its own processes into an "init" child.  An exec
 * then joins that child, as upstream's agent does; elsewhere it joins the container's cgroup. */
/* The v2 directory an exec joins: the "init" child when it exists, else NULL (the container's
 * own cgroup). */
static char *v2_exec_dir(struct cg *c)
{
	char *init = join(c->dir, "init");
	struct stat st;
	if (init && (stat(init, &st) < 0 || !S_ISDIR(st.st_mode))) {
		free(init);
		init = NULL;
	}
	return init;
}

int cg_add_exec_pid(struct cg *c, pid_t pid, struct agent_err *reterr)
{
	if (c->m->version != CG_V2 || !c->dir || pid <= 0)
		return cg_add_pid(c, pid, reterr);
	_cleanup_free_ char *init = v2_exec_dir(c);
	if (!init)
		return cg_add_pid(c, pid, reterr);
	return cg_writef(init, "cgroup.procs", reterr, "%d", (int)pid);
}

static int open_procs(const char *dir, int *fds, size_t *n, struct agent_err *reterr)
{
	_cleanup_free_ char *p = join(dir, "cgroup.procs");
	if (!p)
		return -ENOMEM;
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(reterr, -errno, "open %s", p);
	fds[(*n)++] = fd;
	return 0;
}

_Static_assert(CGC_COUNT <= CG_EXEC_FDS_MAX, "CG_EXEC_FDS_MAX too small");

int cg_open_exec_procs(struct cg *c, int *fds, size_t *ret_n, struct agent_err *reterr)
{
	size_t n = 0;
	int r = 0;
	if (c->m->version == CG_V2) {
		_cleanup_free_ char *init = c->dir ? v2_exec_dir(c) : NULL;
		const char *d = init ? init : c->dir;
		r = d ? open_procs(d, fds, &n, reterr) : err_msg(reterr, -ENOENT, "no cgroup dir");
	} else {
		for (int i = 0; i < CGC_COUNT && r >= 0; i++)
			if (c->dirs[i])
				r = open_procs(c->dirs[i], fds, &n, reterr);
	}
	if (r < 0) {
		while (n > 0)
			close(fds[--n]);
		return r;
	}
	*ret_n = n;
	return 0;
}

int cg_apply(struct cg *c, const struct cg_resources *r, struct agent_err *reterr)
{
	return c->m->ops->apply(c, r, reterr);
}

int cg_freeze(struct cg *c, bool frozen, struct agent_err *reterr)
{
	return c->m->ops->freeze(c, frozen, reterr);
}

/* A record of getdents64(2) (linux_dirent64). */
struct k_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int collect_pids(const char *dir, pid_t **v, size_t *n, int depth, struct agent_err *reterr)
{
	_cleanup_free_ char *procs = NULL;
	_cleanup_close_ int fd = -1;
	_Alignas(8) char buf[2048];
	int r;

	/* cgroupfs depth is bounded by cgroup.max.depth; this guards a hostile fake tree */
	if (depth > 64)
		return err_sys(reterr, -ELOOP, "cgroup tree too deep at %s", dir);
	r = cg_read(dir, "cgroup.procs", &procs, reterr);
	if (r < 0)
		return r;
	for (char *save = NULL, *t = strtok_r(procs, "\n", &save); t;
	     t = strtok_r(NULL, "\n", &save)) {
		long pid = strtol(t, NULL, 10);
		pid_t *nv;

		if (pid <= 0 || pid > INT_MAX)
			continue;
		nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		nv[(*n)++] = (pid_t)pid;
	}
	/* The child groups through getdents64 into a buffer of ours: opendir's DIR is a mapping of
	 * its own under musl's malloc, an mmap and a munmap (with its TLB flush) per listing, and
	 * this runs twice at every container removal. */
	fd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(reterr, -errno, "opendir %s", dir);
	for (;;) {
		long k = syscall(SYS_getdents64, fd, buf, sizeof(buf));

		if (k <= 0) /* as readdir(): an error ends the listing */
			return 0;
		for (long off = 0; off < k;) {
			const struct k_dirent64 *e = (const struct k_dirent64 *)(buf + off);
			_cleanup_free_ char *sub = NULL;

			off += e->d_reclen;
			if (e->d_type != DT_DIR || e->d_name[0] == '.')
				continue;
			sub = join(dir, e->d_name);
			r = sub ? collect_pids(sub, v, n, depth + 1, reterr) : -ENOMEM;
			if (r < 0)
				return r;
		}
	}
}

int cg_pids(struct cg *c, pid_t **ret_pids, size_t *ret_n, struct agent_err *reterr)
{
	const char *dir = c->m->ops->procs_dir(c);
	pid_t *v = NULL;
	size_t n = 0;
	int r;

	if (!dir)
		return err_sys(reterr, -ENOTSUP, "no cgroup hierarchy to list pids of %s", c->path);
	r = collect_pids(dir, &v, &n, 0, reterr);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret_pids = v;
	*ret_n = n;
	return 0;
}

int cg_kill_all(struct cg *c, int sig, struct agent_err *reterr)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	bool frozen;
	int r, killed = 0;

	r = c->m->ops->kill_fast(c, sig, reterr);
	if (r != 0)
		return r < 0 ? r : 0;
	/* An empty group (the usual case at removal, the init having exited) stays empty: only a
	 * member can fork into it.  Nothing to freeze, signal or thaw then. */
	r = cg_pids(c, &pids, &n, reterr);
	if (r < 0 || n == 0)
		return r < 0 ? r : 0;
	free(TAKE_PTR(pids));
	n = 0;
	/* Freeze first so nothing in the group forks between listing and signalling.  Best
	 * effort: a group that will not freeze (no freezer, a task stuck in D) is still
	 * signalled. */
	frozen = cg_freeze(c, true, reterr) == 0;
	r = cg_pids(c, &pids, &n, reterr);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (kill(pids[i], sig) == 0)
			killed++;
		else if (errno != ESRCH)
			r = err_sys(reterr, -errno, "kill %d", (int)pids[i]);
	}
	if (frozen) {
		int t = cg_freeze(c, false, reterr);

		if (r >= 0 && t < 0)
			r = t;
	}
	return r < 0 ? r : killed;
}

int cg_stats(struct cg *c, struct cg_stats *ret, struct agent_err *reterr)
{
	struct cg_stats s = {0};
	int r = c->m->ops->stats(c, &s, reterr);

	if (r < 0) {
		cg_stats_clear(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void cg_stats_clear(struct cg_stats *s)
{
	if (!s)
		return;
	free(s->cpu.percpu);
	for (size_t i = 0; i < s->memory.n_stats; i++)
		free(s->memory.stats[i].key);
	free(s->memory.stats);
	free(s->blkio.service_bytes);
	free(s->blkio.serviced);
	free(s->hugetlb);
	*s = (struct cg_stats){0};
}

int cg_oom_watch(struct cg *c, int *ret_fd, struct agent_err *reterr)
{
	int r;

	if (c->oom_fd < 0) {
		r = c->m->ops->oom_watch(c, reterr);
		if (r < 0)
			return r;
	}
	*ret_fd = c->oom_fd;
	return 0;
}

int cg_oom_check(struct cg *c, struct agent_err *reterr)
{
	if (c->oom_fd < 0)
		return err_sys(reterr, -EBADF, "no OOM watch on %s", c->path);
	return c->m->ops->oom_check(c, reterr);
}

int cg_destroy(struct cg *c, struct agent_err *reterr)
{
	return c->m->ops->destroy(c, reterr);
}

void cg_free(struct cg *c)
{
	if (!c)
		return;
	if (c->oom_fd >= 0)
		close(c->oom_fd);
	cg_dev_state_free(c->devs);
	for (int i = 0; i < CGC_COUNT; i++)
		free(c->dirs[i]);
	free(c->dir);
	free(c->path);
	free(c);
}

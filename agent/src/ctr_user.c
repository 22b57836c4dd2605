// SPDX-License-Identifier: Apache-2.0
/*
 * Users and groups of the CONTAINER, from its own /etc/passwd and /etc/group (never the
 * agent's NSS: getpwnam would read the guest's files, and is not ours to call in a child).
 * The files come from the image, so every line is hostile: bounded sizes, strict numeric
 * fields, malformed lines skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr_internal.h"
#include "util.h"

/* Larger files are refused: a passwd this size is not a real one. */
#define DB_MAX_BYTES (4u << 20)
#define GROUPS_MAX   65536

/* Split one line into at most max ':'-separated fields (in place); returns the field count. */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		f[n++] = p;
		char *colon = strchr(p, ':');
		if (!colon)
			return n;
		if (n == max)
			return max + 1; /* more fields than the format has: malformed */
		*colon = '\0';
		p = colon + 1;
	}
}

static int parse_id(const char *s, unsigned *ret)
{
	if (!*s || strlen(s) > 10)
		return -EINVAL;
	unsigned long long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
	}
	/* (uid_t)-1 means "unchanged" to the set*id calls: never a valid id. */
	if (v >= UINT32_MAX)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/* Iterate the lines of a copy of text, calling fn(fields, count, ud) until it returns != 0. */
static int each_line(const char *text, size_t nfields, int (*fn)(char **, size_t, void *), void *ud)
{
	_cleanup_free_ char *copy = strdup(text ? text : "");
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	char *fields[8];
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		if (line[0] == '#' || line[0] == '+' || line[0] == '-' || line[0] == '\0')
			continue;
		if (split_fields(line, fields, nfields) != nfields || !fields[0][0])
			continue;
		int r = fn(fields, nfields, ud);
		if (r != 0)
			return r;
	}
	return 0;
}

struct pw_query {
	const char *name;
	uid_t uid;
	struct ctr_pwent *ret;
};

static int pw_match(char **f, size_t n, void *ud)
{
	struct pw_query *q = ud;
	unsigned uid, gid;
	if (parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0)
		return 0;
	if (q->name ? strcmp(q->name, f[0]) != 0 : uid != q->uid)
		return 0;
	struct ctr_pwent e = {.uid = uid, .gid = gid};
	e.name = strdup(f[0]);
	e.home = strdup(f[5]);
	if (!e.name || !e.home) {
		ctr_pwent_clear(&e);
		return -ENOMEM;
	}
	*q->ret = e;
	return 1;
}

int ctr_passwd_lookup(const char *text, const char *name, uid_t uid, struct ctr_pwent *ret)
{
	struct ctr_pwent e = {0};
	struct pw_query q = {name, uid, &e};
	int r = each_line(text, 7, pw_match, &q);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	*ret = e;
	return 0;
}

void ctr_pwent_clear(struct ctr_pwent *e)
{
	free(e->name);
	free(e->home);
	e->name = e->home = NULL;
}

struct gr_query {
	const char *name;
	gid_t gid;
};

static int gr_match(char **f, size_t n, void *ud)
{
	struct gr_query *q = ud;
	unsigned gid;
	if (strcmp(f[0], q->name) != 0 || parse_id(f[2], &gid) < 0)
		return 0;
	q->gid = gid;
	return 1;
}

int ctr_group_lookup(const char *text, const char *name, gid_t *ret_gid)
{
	struct gr_query q = {name, 0};
	int r = each_line(text, 4, gr_match, &q);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;
	*ret_gid = q.gid;
	return 0;
}

static int add_gid(gid_t **groups, size_t *n, gid_t g)
{
	for (size_t i = 0; i < *n; i++)
		if ((*groups)[i] == g)
			return 0;
	if (*n >= GROUPS_MAX)
		return -E2BIG;
	gid_t *v = realloc(*groups, (*n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[(*n)++] = g;
	*groups = v;
	return 0;
}

struct gm_query {
	const char *user;
	gid_t **groups;
	size_t *n;
};

static int gm_match(char **f, size_t n, void *ud)
{
	struct gm_query *q = ud;
	unsigned gid;
	if (parse_id(f[2], &gid) < 0)
		return 0;
	for (const char *p = f[3]; *p;) {
		size_t len = strcspn(p, ",");
		if (len == strlen(q->user) && strncmp(p, q->user, len) == 0)
			return add_gid(q->groups, q->n, gid) < 0 ? -ENOMEM : 0;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int ctr_group_memberships(const char *text, const char *user, gid_t **groups, size_t *n)
{
	struct gm_query q = {user, groups, n};
	return each_line(text, 4, gm_match, &q);
}

/* Read rootfs/<rel> without following symlinks out of rootfs; absent -> *ret = NULL. */
static int read_in_root(const char *rootfs, const char *rel, char **ret)
{
	_cleanup_close_ int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
	                       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			*ret = NULL;
			return 0;
		}
		return -errno;
	}
	struct buf b = {0};
	for (;;) {
		if (b.len >= DB_MAX_BYTES) {
			buf_free(&b);
			return -EFBIG;
		}
		int r = buf_reserve(&b, 4096);
		if (r < 0) {
			buf_free(&b);
			return r;
		}
		ssize_t k = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			buf_free(&b);
			return r;
		}
		if (k == 0)
			break;
		b.len += (size_t)k;
	}
	b.data[b.len] = '\0';
	/* An embedded NUL ends the text: what follows is never looked at. */
	*ret = (char *)b.data;
	return 0;
}

int ctr_user_resolve(const char *rootfs, const Grpc__User *u, struct ctr_user *ret,
                     struct agent_err *reterr)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	struct ctr_user res = {0};
	struct ctr_pwent pw = {0};
	int r;

	if (u) {
		/* (uid_t)-1 is "leave unchanged" to setresuid/setresgid/setgroups: the process
		 * would keep the agent's root. */
		if (u->uid == (uint32_t)-1 || u->gid == (uint32_t)-1)
			return err_set(reterr, -EINVAL, "user %u:%u: invalid id", u->uid, u->gid);
		for (size_t i = 0; i < u->n_additionalgids; i++)
			if (u->additionalgids[i] == (uint32_t)-1)
				return err_set(reterr, -EINVAL, "additional gid %u: invalid id",
				               u->additionalgids[i]);
		res.uid = u->uid;
		res.gid = u->gid;
	}
	if ((r = read_in_root(rootfs, "/etc/passwd", &passwd)) < 0)
		return err_set(reterr, r, "read %s/etc/passwd", rootfs);
	if ((r = read_in_root(rootfs, "/etc/group", &group)) < 0)
		return err_set(reterr, r, "read %s/etc/group", rootfs);

	const char *spec = u && u->username ? u->username : "";
	if (*spec) {
		_cleanup_free_ char *copy = strdup(spec);
		if (!copy)
			return -ENOMEM;
		char *gpart = strchr(copy, ':');
		if (gpart)
			*gpart++ = '\0';
		unsigned id;
		if (parse_id(copy, &id) == 0) {
			res.uid = id;
			if (ctr_passwd_lookup(passwd, NULL, id, &pw) == 0)
				res.gid = pw.gid;
		} else if ((r = ctr_passwd_lookup(passwd, copy, 0, &pw)) == 0) {
			res.uid = pw.uid;
			res.gid = pw.gid;
		} else {
			return err_set(reterr, r == -ENOENT ? -EINVAL : r,
			               "user %s: no such user in the container's /etc/passwd",
			               copy);
		}
		if (gpart && parse_id(gpart, &id) == 0) {
			res.gid = id;
		} else if (gpart) {
			gid_t g;
			r = ctr_group_lookup(group, gpart, &g);
			if (r < 0) {
				ctr_pwent_clear(&pw);
				return err_set(reterr, r == -ENOENT ? -EINVAL : r,
				               "group %s: no such group in the container's "
				               "/etc/group",
				               gpart);
			}
			res.gid = g;
		}
	} else {
		(void)ctr_passwd_lookup(passwd, NULL, res.uid, &pw);
	}

	r = 0;
	for (size_t i = 0; u && i < u->n_additionalgids && r == 0; i++)
		r = add_gid(&res.groups, &res.n_groups, u->additionalgids[i]);
	if (r == 0 && pw.name)
		r = ctr_group_memberships(group, pw.name, &res.groups, &res.n_groups);
	if (r < 0) {
		ctr_pwent_clear(&pw);
		ctr_user_clear(&res);
		return err_set(reterr, r, "supplementary groups");
	}
	res.home = TAKE_PTR(pw.home);
	ctr_pwent_clear(&pw);
	*ret = res;
	return 0;
}

void ctr_user_clear(struct ctr_user *u)
{
	free(u->groups);
	free(u->home);
	u->groups = NULL;
	u->home = NULL;
	u->n_groups = 0;
}

// SPDX-License-Identifier: Apache-2.0
/* Device cgroup rules: the list, its meaning, the v1 files, and set/update for both versions. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_devices.h"
#include "cgroup_internal.h"

/*
 * The default allow-list, in upstream Kata's order (kata-containers src/agent/rustjail:
 * container.rs DEFAULT_DEVICES, then cgroups/fs/mod.rs DEFAULT_ALLOWED_DEVICES, both written
 * after "deny a" by setup_devcg_whitelist).  It is runc's list too (libcontainer specconv
 * AllowedDevices).  /dev/fuse is added as the last entry: the issue this implements asks for
 * it, it lets a container open a fuse node it was given, and mounting still needs
 * CAP_SYS_ADMIN.
 */
static const struct cg_dev_rule default_rules[] = {
    {true, 'c', 1, 3, CG_DEV_RWM},                     /* /dev/null */
    {true, 'c', 1, 5, CG_DEV_RWM},                     /* /dev/zero */
    {true, 'c', 1, 7, CG_DEV_RWM},                     /* /dev/full */
    {true, 'c', 5, 0, CG_DEV_RWM},                     /* /dev/tty */
    {true, 'c', 1, 9, CG_DEV_RWM},                     /* /dev/urandom */
    {true, 'c', 1, 8, CG_DEV_RWM},                     /* /dev/random */
    {true, 'c', CG_DEV_ANY, CG_DEV_ANY, CG_DEV_MKNOD}, /* mknod of any char device */
    {true, 'b', CG_DEV_ANY, CG_DEV_ANY, CG_DEV_MKNOD}, /* mknod of any block device */
    {true, 'c', 5, 1, CG_DEV_RWM},                     /* /dev/console */
    {true, 'c', 136, CG_DEV_ANY, CG_DEV_RWM},          /* /dev/pts/N */
    {true, 'c', 5, 2, CG_DEV_RWM},                     /* /dev/ptmx */
    {true, 'c', 10, 200, CG_DEV_RWM},                  /* /dev/net/tun */
    {true, 'c', 10, 229, CG_DEV_RWM},                  /* /dev/fuse */
};

/* ---- the list ---- */

void cg_dev_rules_clear(struct cg_dev_rules *l)
{
	if (!l)
		return;
	free(l->v);
	*l = (struct cg_dev_rules){0};
}

static int push(struct cg_dev_rules *l, const struct cg_dev_rule *r, struct agent_err *reterr)
{
	if (l->n >= CG_DEV_MAX_RULES)
		return err_sys(reterr, -E2BIG, "device cgroup: more than %d rules",
		               CG_DEV_MAX_RULES);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct cg_dev_rule *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

int cg_dev_rules_init(struct cg_dev_rules *l, struct agent_err *reterr)
{
	*l = (struct cg_dev_rules){0};
	for (size_t i = 0; i < sizeof(default_rules) / sizeof(default_rules[0]); i++) {
		int r = push(l, &default_rules[i], reterr);

		if (r < 0) {
			cg_dev_rules_clear(l);
			return r;
		}
	}
	l->n_base = l->n;
	return 0;
}

void cg_dev_rules_mark_base(struct cg_dev_rules *l)
{
	l->n_base = l->n;
}

static bool all_devices(const struct cg_dev_rule *r)
{
	return r->type == 'a' && r->major == CG_DEV_ANY && r->minor == CG_DEV_ANY &&
	       r->access == CG_DEV_RWM;
}

int cg_dev_rules_add(struct cg_dev_rules *l, const struct cg_dev_rule *r, struct agent_err *reterr)
{
	if (!all_devices(r))
		return push(l, r, reterr);
	/*
	 * "a *:* rwm".  Runtimes send "deny all" first (containerd, CRI-O, the Kata runtimes) and
	 * mean "only what follows": the base already starts with it, so go back to the base
	 * rather than lose the default list (upstream skips the rule for the same reason).
	 * "allow all" is a privileged container: everything before it stops counting.
	 */
	l->epoch++;
	l->default_allow = r->allow;
	if (r->allow) {
		l->start = l->n;
	} else {
		l->n = l->n_base < l->n ? l->n_base : l->n;
		l->start = 0;
	}
	return 0;
}

/* The kernel's dev_t: 12 bits of major, MINORBITS 20 (include/linux/kdev_t.h). */
#define MAJOR_MAX 0xfff
#define MINOR_MAX 0xfffff

static int parse_num(int64_t v, const char *what, int64_t max, int64_t *ret,
                     struct agent_err *reterr)
{
	if (v == -1) {
		*ret = CG_DEV_ANY;
		return 0;
	}
	if (v < 0 || v > max)
		return err_sys(reterr, -EINVAL, "device cgroup rule: %s %" PRId64 " out of range",
		               what, v);
	*ret = v;
	return 0;
}

int cg_dev_rule_parse(bool allow, const char *type, int64_t major, int64_t minor,
                      const char *access, struct cg_dev_rule *ret, struct agent_err *reterr)
{
	struct cg_dev_rule r = {.allow = allow};
	int e;

	if (!type || !*type || strcmp(type, "a") == 0)
		r.type = 'a';
	else if (strcmp(type, "c") == 0 || strcmp(type, "u") == 0)
		r.type = 'c';
	else if (strcmp(type, "b") == 0)
		r.type = 'b';
	else
		return err_sys(reterr, -EINVAL, "device cgroup rule: type \"%.16s\"", type);
	if (major == 0 && minor == 0) {
		r.major = r.minor = CG_DEV_ANY;
	} else if ((e = parse_num(major, "major", MAJOR_MAX, &r.major, reterr)) < 0 ||
	           (e = parse_num(minor, "minor", MINOR_MAX, &r.minor, reterr)) < 0) {
		return e;
	}
	for (const char *a = access && *access ? access : "rwm"; *a; a++) {
		switch (*a) {
		case 'r':
			r.access |= CG_DEV_READ;
			break;
		case 'w':
			r.access |= CG_DEV_WRITE;
			break;
		case 'm':
			r.access |= CG_DEV_MKNOD;
			break;
		default:
			return err_sys(reterr, -EINVAL, "device cgroup rule: access \"%.16s\"",
			               access);
		}
	}
	*ret = r;
	return 0;
}

int cg_dev_rule_for_device(const char *type, int64_t major, int64_t minor, struct cg_dev_rule *ret,
                           bool *ret_none, struct agent_err *reterr)
{
	*ret_none = false;
	if (type && strcmp(type, "p") == 0) {
		*ret_none = true; /* a fifo is not a device: the cgroup never sees it */
		return 0;
	}
	if (!type || (strcmp(type, "c") != 0 && strcmp(type, "u") != 0 && strcmp(type, "b") != 0))
		return err_sys(reterr, -EINVAL, "device \"%.16s\": no device cgroup type",
		               type ? type : "");
	if (major < 0 || minor < 0)
		return err_sys(reterr, -EINVAL, "device %" PRId64 ":%" PRId64 ": negative number",
		               major, minor);
	if (major > MAJOR_MAX || minor > MINOR_MAX)
		return err_sys(reterr, -EINVAL, "device %" PRId64 ":%" PRId64 " out of range",
		               major, minor);
	/* 0:0 is a real pair here (a device node's numbers), so no wildcard reading */
	*ret = (struct cg_dev_rule){.allow = true,
	                            .type = type[0] == 'b' ? 'b' : 'c',
	                            .major = major,
	                            .minor = minor,
	                            .access = CG_DEV_RWM};
	return 0;
}

static bool matches(const struct cg_dev_rule *r, char type, uint32_t major, uint32_t minor,
                    unsigned access)
{
	if (r->type != 'a' && r->type != type)
		return false;
	if (r->major != CG_DEV_ANY && r->major != major)
		return false;
	if (r->minor != CG_DEV_ANY && r->minor != minor)
		return false;
	/* An allow rule must grant every bit asked for; a deny rule refuses any bit it names. */
	return r->allow ? (access & ~r->access) == 0 : (access & r->access) != 0;
}

bool cg_dev_rules_allows(const struct cg_dev_rules *l, char type, uint32_t major, uint32_t minor,
                         unsigned access)
{
	for (size_t i = l->n; i > l->start; i--)
		if (matches(&l->v[i - 1], type, major, minor, access))
			return l->v[i - 1].allow;
	return l->default_allow;
}

/* ---- v1 ---- */

struct cg_dev_state {
	struct cg_dev_rules rules;
	bool written;     /* the v1 files / the v2 program hold `rules` up to n_written */
	size_t n_written; /* v1: rules written */
	unsigned epoch;   /* v1: rules.epoch when written */
	uint32_t prog_id; /* v2: the attached program, 0 = none */
};

void cg_dev_state_free(struct cg_dev_state *s)
{
	if (!s)
		return;
	cg_dev_rules_clear(&s->rules);
	free(s);
}

static void num(char *buf, size_t len, int64_t v)
{
	if (v == CG_DEV_ANY)
		snprintf(buf, len, "*");
	else
		snprintf(buf, len, "%" PRId64, v);
}

/* devices.allow and devices.deny of one group, each opened on first use and kept for the
 * rules that follow: cgroupfs parses one rule per write(), and a container has a dozen. */
struct v1_files {
	const char *dir;
	int fd[2]; /* [0] devices.deny, [1] devices.allow */
};

static void v1_files_close(struct v1_files *f)
{
	for (int i = 0; i < 2; i++)
		if (f->fd[i] >= 0)
			close(f->fd[i]);
}

static int v1_put(struct v1_files *f, bool allow, const char *val, struct agent_err *reterr)
{
	const char *name = allow ? "devices.allow" : "devices.deny";
	char p[PATH_MAX];
	size_t len = strlen(val);
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", f->dir, name) >= sizeof(p))
		return err_sys(reterr, -ENAMETOOLONG, "open %s/%s", f->dir, name);
	if (f->fd[allow] < 0) {
		f->fd[allow] = openat(AT_FDCWD, p, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (f->fd[allow] < 0)
			return err_sys(reterr, -errno, "open %s", p);
	}
	ssize_t n = write(f->fd[allow], val, len);
	if (n < 0)
		return err_sys(reterr, -errno, "write '%s' to %s", val, p);
	if ((size_t)n != len)
		return err_sys(reterr, -EIO, "short write to %s", p);
	return 0;
}

static int v1_rule(struct v1_files *f, const struct cg_dev_rule *r, struct agent_err *reterr)
{
	char maj[24], min[24], acc[4], val[64];
	size_t k = 0;
	int e;

	if (r->type == 'a') {
		/* v1 reads "a" as "every device, reset the list": spell a narrower rule out */
		struct cg_dev_rule c = *r, b = *r;

		c.type = 'c';
		b.type = 'b';
		e = v1_rule(f, &c, reterr);
		return e < 0 ? e : v1_rule(f, &b, reterr);
	}
	num(maj, sizeof(maj), r->major);
	num(min, sizeof(min), r->minor);
	if (r->access & CG_DEV_READ)
		acc[k++] = 'r';
	if (r->access & CG_DEV_WRITE)
		acc[k++] = 'w';
	if (r->access & CG_DEV_MKNOD)
		acc[k++] = 'm';
	acc[k] = '\0';
	snprintf(val, sizeof(val), "%c %s:%s %s", r->type, maj, min, acc);
	return v1_put(f, r->allow, val, reterr);
}

static int v1_write(struct cg *c, struct cg_dev_state *s, struct agent_err *reterr)
{
	const char *d = c->dirs[CGC_DEVICES];
	const struct cg_dev_rules *l = &s->rules;
	size_t from = l->start;
	int e;

	if (!d)
		return err_sys(reterr, -ENOTSUP,
		               "device rules: the devices controller is not mounted");
	struct v1_files f = {.dir = d, .fd = {-1, -1}};
	e = 0;
	if (s->written && s->epoch == l->epoch && s->n_written <= l->n &&
	    s->n_written >= l->start) {
		from = s->n_written; /* only appended: the rules in force stay in force */
	} else {
		/* The kernel clears the list and sets the default with "a" (cgroup-v1/devices.rst)
		 */
		e = v1_put(&f, l->default_allow, "a", reterr);
		if (e < 0) {
			v1_files_close(&f);
			return e;
		}
	}
	s->written = false;
	for (size_t i = from; i < l->n; i++) {
		e = v1_rule(&f, &l->v[i], reterr);
		if (e < 0)
			break;
	}
	v1_files_close(&f);
	if (e < 0)
		return e;
	s->written = true;
	s->n_written = l->n;
	s->epoch = l->epoch;
	return 0;
}

/* ---- set / update ---- */

static int apply(struct cg *c, struct agent_err *reterr)
{
	struct cg_dev_state *s = c->devs;

	if (c->m->version == CG_V1)
		return v1_write(c, s, reterr);
	return cg_dev_v2_apply(c, &s->rules, &s->prog_id, reterr);
}

int cg_devices_set(struct cg *c, struct cg_dev_rules *l, struct agent_err *reterr)
{
	if (!c->devs) {
		c->devs = calloc(1, sizeof(*c->devs));
		if (!c->devs)
			return -ENOMEM;
	}
	cg_dev_rules_clear(&c->devs->rules);
	c->devs->rules = *l;
	c->devs->written = false;
	*l = (struct cg_dev_rules){0};
	return apply(c, reterr);
}

int cg_devices_update(struct cg *c, const struct cg_dev_rule *add, size_t n,
                      struct agent_err *reterr)
{
	int e;

	if (!c->devs) {
		struct cg_dev_rules l;

		e = cg_dev_rules_init(&l, reterr);
		if (e < 0)
			return e;
		e = cg_devices_set(c, &l, reterr);
		if (e < 0)
			return e;
	}
	for (size_t i = 0; i < n; i++) {
		e = cg_dev_rules_add(&c->devs->rules, &add[i], reterr);
		if (e < 0)
			return e;
	}
	return apply(c, reterr);
}

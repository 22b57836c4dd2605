// SPDX-License-Identifier: Apache-2.0
/* Storage requests and reference counts (docs/PROTOCOL.md §4.3).  A request walks its storages in
 * order; a block driver parks the walk on a uevent waiter and the loop resumes it. */
#include "storage.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "agent.h"
#include "log.h"
#include "mount_opts.h"
#include "storage_internal.h"

unsigned long long storage_timeout_ns_override;

unsigned long long storage_timeout_ns(void)
{
	if (storage_timeout_ns_override)
		return storage_timeout_ns_override;
	unsigned s = agent.cfg.hotplug_timeout_s ? agent.cfg.hotplug_timeout_s : 3;
	return (unsigned long long)s * 1000000000ull;
}

/* ---- system calls (replaceable for tests) ---- */

static int sys_mount(const char *src, const char *target, const char *fstype, unsigned long flags,
                     const char *data)
{
	return mount(src, target, fstype, flags, data) < 0 ? -errno : 0;
}

static int sys_umount(const char *target, int flags)
{
	return umount2(target, flags) < 0 ? -errno : 0;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Calls fn for each mount point in /proc/self/mountinfo; stops at a non-zero return. */
static int for_each_mount(int (*fn)(const char *mp, void *data), void *data)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* id parent major:minor root mount-point ... */
		char *save = NULL, *tok = strtok_r(line, " ", &save);
		for (int i = 0; tok && i < 4; i++)
			tok = strtok_r(NULL, " ", &save);
		if (!tok)
			continue;
		unescape(tok);
		int r = fn(tok, data);
		if (r)
			return r;
	}
	return 0;
}

static int same_path(const char *mp, void *data)
{
	return strcmp(mp, data) == 0;
}

static int sys_is_mounted(const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return errno == ENOENT ? 0 : -errno;
	return for_each_mount(same_path, real);
}

static const struct storage_sys real_sys = {sys_mount, sys_umount, sys_is_mounted};
const struct storage_sys *stor_sys = &real_sys;

void storage_set_sys(const struct storage_sys *sys)
{
	stor_sys = sys ? sys : &real_sys;
}

/* ---- reference counts ---- */

struct mref {
	struct list link;
	unsigned refs;
	bool shared;
	bool mounted; /* something of ours sits at mount_point */
	bool pending; /* a request is still mounting it */
	char mount_point[];
};

static struct list mrefs = {&mrefs, &mrefs};

static struct mref *mref_find(const char *mp)
{
	struct list *p;
	list_for_each (p, &mrefs) {
		struct mref *m = container_of(p, struct mref, link);
		if (strcmp(m->mount_point, mp) == 0)
			return m;
	}
	return NULL;
}

static struct mref *mref_new(const char *mp, bool shared)
{
	size_t len = strlen(mp) + 1;
	struct mref *m = calloc(1, sizeof(*m) + len);
	if (!m)
		return NULL;
	memcpy(m->mount_point, mp, len);
	m->shared = shared;
	list_add_tail(&mrefs, &m->link);
	return m;
}

static int mref_forget(struct mref *m)
{
	int r = 0;
	if (m->mounted && (r = stor_sys->umount(m->mount_point, MNT_DETACH)) < 0)
		log_warn("storage", "unmounting %s: %s", m->mount_point, strerror(-r));
	list_del(&m->link);
	free(m);
	return r;
}

/* force: a failed request undoing its own work, or sandbox teardown. */
static int mref_drop(struct mref *m, bool force)
{
	if (m->refs > 0)
		m->refs--;
	if (m->refs > 0)
		return (int)m->refs;
	if (m->shared && !force)
		return 0;
	return mref_forget(m);
}

int storage_release(const char *mount_point)
{
	struct mref *m = mref_find(mount_point);
	if (!m || m->pending)
		return -ENOENT;
	return mref_drop(m, false);
}

unsigned storage_refcount(const char *mount_point)
{
	struct mref *m = mref_find(mount_point);
	return m && !m->pending ? m->refs : 0;
}

/* ---- requests ---- */

struct storage_req {
	struct list link; /* in reqs while parked on a device, else linked to itself */
	struct stor *s;
	size_t n, next;
	struct mref **acquired; /* per storage: the entry this request counted, or NULL */
	bool *created;          /* per storage: this request made that entry (and mounted it) */
	storage_done_fn done;
	void *data;
	struct storage_req **ret;
	struct uevent_waiter w;
	struct uevent_blk blk;
	struct agent_err err; /* why storage next failed */
	bool starting, finished;
};

/* Requests parked on a device: sandbox teardown ends them before it frees the entries their
 * rollback would give back. */
static struct list reqs = {&reqs, &reqs};

static void stor_free(struct stor *s)
{
	free(s->driver);
	free(s->source);
	free(s->fstype);
	free(s->mount_point);
	for (size_t i = 0; i < s->n_options; i++)
		free(s->options[i]);
	free(s->options);
	for (size_t i = 0; i < s->n_driver_options; i++)
		free(s->driver_options[i]);
	free(s->driver_options);
}

static char *dup_str(const char *s)
{
	return strdup(s ? s : "");
}

static int dup_strv(char *const *v, size_t n, char ***ret, size_t *ret_n)
{
	char **c = calloc(n + 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*ret = c;
	for (size_t i = 0; i < n; i++) {
		if (!(c[i] = dup_str(v[i])))
			return -ENOMEM;
		*ret_n = i + 1;
	}
	return 0;
}

static int stor_copy(const Grpc__Storage *g, struct stor *s)
{
	s->driver = dup_str(g->driver);
	s->source = dup_str(g->source);
	s->fstype = dup_str(g->fstype);
	s->mount_point = dup_str(g->mount_point);
	if (!s->driver || !s->source || !s->fstype || !s->mount_point ||
	    dup_strv(g->options, g->n_options, &s->options, &s->n_options) < 0 ||
	    dup_strv(g->driver_options, g->n_driver_options, &s->driver_options,
	             &s->n_driver_options) < 0)
		return -ENOMEM;
	s->shared = g->shared;
	if (g->fs_group) {
		s->has_fs_group = true;
		s->fs_gid = g->fs_group->group_id;
		s->fs_group_on_mismatch = g->fs_group->group_change_policy ==
		                          TYPES__FSGROUP_CHANGE_POLICY__OnRootMismatch;
	}
	return 0;
}

static void req_free(struct storage_req *r)
{
	for (size_t i = 0; i < r->n; i++)
		stor_free(&r->s[i]);
	free(r->s);
	free(r->acquired);
	free(r->created);
	free(r);
}

/* Give back what this request counted, newest first.  What it mounted goes even when shared;
 * a shared storage it only counted stays mounted, as after a successful request's release. */
static void req_rollback(struct storage_req *r)
{
	for (size_t i = r->n; i-- > 0;) {
		struct mref *m = r->acquired[i];
		if (!m)
			continue;
		r->acquired[i] = NULL;
		if (m->pending)
			mref_forget(m);
		else
			mref_drop(m, r->created[i]);
	}
}

static void req_finish(struct storage_req *r, int err)
{
	list_del(&r->link);
	if (err < 0)
		req_rollback(r);
	if (r->ret)
		*r->ret = NULL;
	r->finished = true;
	r->done(r->data, err < 0 ? &r->err : NULL);
	if (!r->starting)
		req_free(r);
}

static void req_fail(struct storage_req *r, int err)
{
	const struct stor *s = &r->s[r->next];
	err_wrap(&r->err, err, "storage %zu (driver %s, source %.128s)", r->next, s->driver,
	         s->source);
	req_finish(r, err);
}

/* After the driver mounted storage r->next: fs_group, then count it. */
static int req_mounted(struct storage_req *r, struct mref *m, bool mounted)
{
	const struct stor *s = &r->s[r->next];
	m->mounted = mounted;
	if (s->has_fs_group) {
		bool ro = mnt_opts_has(s->options, s->n_options, "ro");
		int e =
		    stor_fs_group(s->mount_point, s->fs_gid, ro, s->fs_group_on_mismatch, &r->err);
		if (e < 0)
			return e;
	}
	m->pending = false;
	m->refs = 1;
	r->next++;
	return 0;
}

static void req_advance(struct storage_req *r);

static void on_device(struct uevent_waiter *w, int err, const struct uevent *ev)
{
	struct storage_req *r = container_of(w, struct storage_req, w);
	struct mref *m = r->acquired[r->next];
	bool mounted = false;
	err_clear(&r->err);
	if (err == -ETIMEDOUT) {
		err_msg(&r->err, err, "timeout after %gs waiting for %s",
		        (double)storage_timeout_ns() / 1e9, r->blk.what);
	} else if ((err = stor_mount_block(&r->s[r->next], ev, &mounted, &r->err)) >= 0) {
		err = req_mounted(r, m, mounted);
	}
	if (err < 0) {
		m->mounted = mounted;
		req_fail(r, err);
		return;
	}
	req_advance(r);
}

static void req_advance(struct storage_req *r)
{
	while (r->next < r->n) {
		const struct stor *s = &r->s[r->next];
		err_clear(&r->err);
		struct mref *m = mref_find(s->mount_point);
		if (m && m->pending) {
			err_msg(&r->err, -EBUSY, "%s is still being mounted by another request",
			        s->mount_point);
			req_fail(r, -EBUSY);
			return;
		}
		if (m) {
			m->refs++;
			r->acquired[r->next++] = m;
			continue;
		}
		const struct stor_driver *d = stor_driver_find(s->driver);
		if (!d) {
			err_msg(&r->err, -EINVAL, "Failed to find the storage handler %s",
			        s->driver);
			req_fail(r, -EINVAL);
			return;
		}
		if (!*s->mount_point) {
			err_msg(&r->err, -EINVAL, "empty mount_point");
			req_fail(r, -EINVAL);
			return;
		}
		if (!(m = mref_new(s->mount_point, s->shared))) {
			req_fail(r, -ENOMEM);
			return;
		}
		m->pending = true;
		r->acquired[r->next] = m;
		r->created[r->next] = true;
		int e;
		bool mounted = false;
		if (!d->block) {
			e = d->mount(s, &mounted, &r->err);
			if (e >= 0)
				e = req_mounted(r, m, mounted);
		} else if ((e = stor_block_spec(s, d, &r->blk, &r->err)) >= 0) {
			struct uevent ev;
			r->w.cb = on_device;
			e = uevent_wait_blk(&r->w, &r->blk, storage_timeout_ns(), &ev);
			if (e == 0) {
				log_info("storage", "waiting up to %gs for %s (storage %zu, %s)",
				         (double)storage_timeout_ns() / 1e9, r->blk.what, r->next,
				         s->mount_point);
				return; /* on_device resumes */
			}
			if (e == -ENOTCONN)
				err_msg(&r->err, e, "no uevent listener to wait for %s",
				        r->blk.what);
			if (e > 0 && (e = stor_mount_block(s, &ev, &mounted, &r->err)) >= 0)
				e = req_mounted(r, m, mounted);
		}
		if (e < 0) {
			m->mounted = mounted;
			req_fail(r, e);
			return;
		}
	}
	req_finish(r, 0);
}

static bool is_create_filesystem(const char *o)
{
	static const char key[] = "create_filesystem";
	size_t n = sizeof(key) - 1;
	return strncmp(o, key, n) == 0 && (o[n] == '\0' || o[n] == '=');
}

int storage_check_options(Grpc__Storage *const *s, size_t n, struct agent_err *reterr)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < s[i]->n_driver_options; k++)
			if (is_create_filesystem(s[i]->driver_options[k]))
				return err_msg(reterr, -EOPNOTSUPP,
				               "storage %zu (driver %s, mount point %s): driver "
				               "option %s is not "
				               "supported: the guest has no mkfs; format the "
				               "volume on the host",
				               i, s[i]->driver, s[i]->mount_point,
				               s[i]->driver_options[k]);
	return 0;
}

int storage_mount_all(Grpc__Storage *const *s, size_t n, storage_done_fn done, void *data,
                      struct storage_req **ret)
{
	if (ret)
		*ret = NULL;
	struct storage_req *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	list_init(&r->link);
	r->s = calloc(n + 1, sizeof(*r->s));
	r->acquired = calloc(n + 1, sizeof(*r->acquired));
	r->created = calloc(n + 1, sizeof(*r->created));
	if (!r->s || !r->acquired || !r->created) {
		req_free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		r->n = i + 1;
		if (stor_copy(s[i], &r->s[i]) < 0) {
			req_free(r);
			return -ENOMEM;
		}
	}
	r->n = n;
	r->done = done;
	r->data = data;
	r->starting = true;
	req_advance(r);
	r->starting = false;
	if (r->finished) {
		req_free(r);
		return 0;
	}
	r->ret = ret;
	if (ret)
		*ret = r;
	list_add_tail(&reqs, &r->link);
	return 0;
}

void storage_req_cancel(struct storage_req *r)
{
	if (!r)
		return;
	uevent_wait_cancel(&r->w);
	list_del(&r->link);
	req_rollback(r);
	if (r->ret)
		*r->ret = NULL;
	req_free(r);
}

void storage_release_all(void)
{
	/* A request still waiting for its device fails first, while the entries it counted
	 * still exist: its done() answers the call, and its rollback gives them back. */
	while (!list_empty(&reqs)) {
		struct storage_req *r = container_of(reqs.next, struct storage_req, link);
		uevent_wait_cancel(&r->w);
		err_clear(&r->err);
		err_msg(&r->err, -ECANCELED, "the sandbox was destroyed while waiting for %s",
		        r->blk.what);
		req_fail(r, -ECANCELED);
	}
	/* Then every entry, newest first. */
	struct list *p = mrefs.prev;
	while (p != &mrefs) {
		struct mref *m = container_of(p, struct mref, link);
		p = p->prev;
		if (!m->pending)
			mref_forget(m);
	}
}

/* ---- RemoveStaleVirtiofsShareMounts ---- */

struct stat_walk {
	const char *dir;
	size_t len;
};

static int stat_under(const char *mp, void *data)
{
	struct stat_walk *w = data;
	if (strncmp(mp, w->dir, w->len) != 0 || (mp[w->len] != '/' && mp[w->len] != '\0'))
		return 0;
	struct stat st;
	/* The stat itself is the point: virtiofsd drops inodes nobody looks up any more.  A
	 * mount point that no longer resolves (the host removed the volume) is the stale case
	 * this call exists for, so it is logged, not an error, as upstream does. */
	if (stat(mp, &st) < 0)
		log_info("storage", "stat %s: %s", mp, strerror(errno));
	return 0;
}

int storage_stat_mounts_under(const char *dir, struct agent_err *reterr)
{
	struct stat_walk w = {.dir = dir, .len = strlen(dir)};
	while (w.len > 1 && dir[w.len - 1] == '/')
		w.len--;
	int r = for_each_mount(stat_under, &w);
	if (r < 0)
		return err_sys(reterr, r, "reading /proc/self/mountinfo");
	return 0;
}

int storage_stat_shared_mounts(struct agent_err *reterr)
{
	return storage_stat_mounts_under("/run/kata-containers/shared/containers", reterr);
}

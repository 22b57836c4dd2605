/* Unit tests of the storage module (agent/src/storage*.c, device.c, mount_opts.c): option
 * words, reference counting and rollback with an injected mount function (no root needed),
 * unknown drivers and device types, async completion order with synthetic uevents, device
 * results, fs_group and the local driver on a temp dir. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.h"
#include "loop.h"
#include "mount_opts.h"
#include "storage.h"
#include "uevent.h"

/* ---- option words ---- */

static void test_mount_opts(void **state)
{
	char *w[] = {"ro",       "nodev",   "rbind",           "noexec", "mode=0755",
	             "size=64m", "fsgid=5", "nosuid,relatime", "rshared"};
	const char *skip[] = {"fsgid=", NULL};
	struct mnt_opts o;
	assert_int_equal(mnt_opts_parse(w, 9, skip, &o), 0);
	assert_int_equal(o.flags, MS_RDONLY | MS_NODEV | MS_BIND | MS_REC | MS_NOEXEC | MS_NOSUID |
	                              MS_RELATIME);
	assert_int_equal(o.propagation, MS_SHARED | MS_REC);
	assert_string_equal(o.data, "mode=0755,size=64m");
	mnt_opts_free(&o);

	char *w2[] = {"ro", "rw", "bind", "remount", "", "trans=virtio,version=9p2000.L", "dev"};
	assert_int_equal(mnt_opts_parse(w2, 7, NULL, &o), 0);
	assert_int_equal(o.flags, MS_BIND | MS_REMOUNT);
	assert_int_equal(o.propagation, 0);
	assert_string_equal(o.data, "trans=virtio,version=9p2000.L");
	mnt_opts_free(&o);

	assert_int_equal(mnt_opts_parse(NULL, 0, NULL, &o), 0);
	assert_string_equal(o.data, "");
	mnt_opts_free(&o);

	size_t len;
	const char *v = mnt_opts_value(w, 9, "mode", &len);
	assert_non_null(v);
	assert_int_equal(len, 4);
	assert_memory_equal(v, "0755", 4);
	assert_null(mnt_opts_value(w, 9, "mod", &len));
	assert_true(mnt_opts_has(w, 9, "relatime"));
	assert_false(mnt_opts_has(w, 9, "rela"));
}

/* ---- a fake mount table ---- */

static char calls[64][256];
static int ncalls;
static int fail_mount_of;     /* fail the mount whose target contains this index "/m<N>" */
static bool fail_propagation; /* fail every propagation change (as the kernel does for two) */
static char mounted[32][512];
static int nmounted;

static void logcall(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logcall(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(calls[ncalls++ % 64], sizeof(calls[0]), fmt, ap);
	va_end(ap);
}

static int fake_mount(const char *src, const char *target, const char *fstype, unsigned long flags,
                      const char *data)
{
	char tag[16];
	snprintf(tag, sizeof(tag), "/m%d", fail_mount_of);
	if (fail_mount_of && strstr(target, tag))
		return -EIO;
	if (fail_propagation && (flags & (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)))
		return -EINVAL;
	const char *base = strrchr(target, '/');
	logcall("mount %s %s %s %#lx %s",
	        src ? (strrchr(src, '/') ? strrchr(src, '/') + 1 : src) : "-",
	        base ? base + 1 : target, fstype ? fstype : "-", flags, data ? data : "-");
	if (!(flags & (MS_REMOUNT | MS_SHARED | MS_PRIVATE | MS_SLAVE)))
		snprintf(mounted[nmounted++], sizeof(mounted[0]), "%s", target);
	return 0;
}

static int fake_umount(const char *target, int flags)
{
	const char *base = strrchr(target, '/');
	logcall("umount %s", base ? base + 1 : target);
	for (int i = 0; i < nmounted; i++)
		if (strcmp(mounted[i], target) == 0) {
			memmove(mounted[i], mounted[i + 1],
			        sizeof(mounted[0]) * (size_t)(nmounted - i - 1));
			nmounted--;
			return 0;
		}
	return -EINVAL;
}

static int fake_is_mounted(const char *path)
{
	for (int i = 0; i < nmounted; i++)
		if (strcmp(mounted[i], path) == 0)
			return 1;
	return 0;
}

static const struct storage_sys fake = {fake_mount, fake_umount, fake_is_mounted};

static char tmp[] = "/tmp/test-storage-XXXXXX";
static char sysdir[300];
static struct loop *L;

static int setup(void **state)
{
	assert_non_null(mkdtemp(tmp));
	snprintf(sysdir, sizeof(sysdir), "%s/sys", tmp);
	char p[400];
	snprintf(p, sizeof(p), "%s/block", sysdir);
	assert_int_equal(mkdir(sysdir, 0755), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/dev", tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/src", tmp);
	assert_int_equal(mkdir(p, 0755), 0);
	static char devdir[400];
	snprintf(devdir, sizeof(devdir), "%s/dev", tmp);
	storage_dev_dir = devdir;
	uevent_sysfs = sysdir;
	storage_set_sys(&fake);
	assert_int_equal(loop_new(&L), 0);
	assert_int_equal(uevent_init(L), 0);
	return 0;
}

static int teardown(void **state)
{
	storage_release_all();
	uevent_stop();
	loop_free(L);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd);
}

static int reset(void **state)
{
	storage_release_all();
	ncalls = nmounted = fail_mount_of = 0;
	fail_propagation = false;
	storage_timeout_ns_override = 0;
	return 0;
}

/* Storages built on the stack: strings must outlive storage_mount_all only. */
struct st {
	Grpc__Storage s;
	Grpc__FSGroup g;
	char mp[300];
	char *opts[4];
};

static Grpc__Storage *mk(struct st *x, const char *driver, const char *source, const char *fstype,
                         int idx, const char *o1, const char *o2)
{
	*x = (struct st){.s = GRPC__STORAGE__INIT};
	snprintf(x->mp, sizeof(x->mp), "%s/mnt/m%d", tmp, idx);
	x->s.driver = (char *)driver;
	x->s.source = (char *)source;
	x->s.fstype = (char *)fstype;
	x->s.mount_point = x->mp;
	size_t n = 0;
	if (o1)
		x->opts[n++] = (char *)o1;
	if (o2)
		x->opts[n++] = (char *)o2;
	x->s.options = x->opts;
	x->s.n_options = n;
	return &x->s;
}

struct result {
	int calls, err;
	char msg[512];
};

static void on_done(void *data, const struct agent_err *e)
{
	struct result *r = data;
	r->calls++;
	r->err = e ? e->code : 0;
	snprintf(r->msg, sizeof(r->msg), "%s", e ? e->msg : "");
}

static void run_until(int *flag, int want, int max_ms)
{
	unsigned long long end = now_ns() + (unsigned long long)max_ms * 1000000ull;
	while (*flag < want && now_ns() < end)
		loop_run_once(L, 10);
}

static void test_refcount(void **state)
{
	struct st a, b;
	Grpc__Storage *v[2] = {mk(&a, "ephemeral", "tmpfs", "tmpfs", 1, "size=1m", "nodev"),
	                       mk(&b, "ephemeral", "tmpfs", "tmpfs", 1, NULL, NULL)};
	struct result res = {0};
	struct storage_req *req = (void *)1;
	/* the same mount point twice in one request: mounted once, counted twice */
	assert_int_equal(storage_mount_all(v, 2, on_done, &res, &req), 0);
	assert_null(req);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.err, 0);
	assert_int_equal(ncalls, 1);
	assert_string_equal(calls[0], "mount tmpfs m1 tmpfs 0x4 size=1m");
	assert_int_equal(storage_refcount(a.mp), 2);
	/* a second user */
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.calls, 2);
	assert_int_equal(ncalls, 1);
	assert_int_equal(storage_refcount(a.mp), 3);
	assert_int_equal(storage_release(a.mp), 2);
	assert_int_equal(storage_release(a.mp), 1);
	assert_int_equal(ncalls, 1);
	assert_int_equal(storage_release(a.mp), 0);
	assert_int_equal(ncalls, 2);
	assert_string_equal(calls[1], "umount m1");
	assert_int_equal(storage_release(a.mp), -ENOENT);
	assert_int_equal(storage_refcount(a.mp), 0);

	/* shared: survives its last release, goes at sandbox teardown */
	a.s.shared = true;
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(storage_release(a.mp), 0);
	assert_int_equal(nmounted, 1);
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(storage_refcount(a.mp), 1); /* reused, not mounted again */
	assert_int_equal(ncalls, 3);
	storage_release_all();
	assert_int_equal(nmounted, 0);
	assert_string_equal(calls[3], "umount m1");
}

static void test_errors_and_rollback(void **state)
{
	struct st a, b, c;
	char src[300];
	snprintf(src, sizeof(src), "%s/src", tmp);
	Grpc__Storage *v[3] = {mk(&a, "bind", src, "", 1, "ro", NULL),
	                       mk(&b, "ephemeral", "tmpfs", "tmpfs", 2, NULL, NULL),
	                       mk(&c, "overlay-ish", "x", "", 3, NULL, NULL)};
	struct result res = {0};
	assert_int_equal(storage_mount_all(v, 3, on_done, &res, NULL), 0);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.err, -EINVAL);
	assert_string_equal(res.msg, "storage 2 (driver overlay-ish, source x): Failed to find the "
	                             "storage handler overlay-ish");
	/* bind + ro remount, tmpfs, then both undone, newest first */
	assert_int_equal(ncalls, 5);
	assert_string_equal(calls[0], "mount src m1 - 0x1000 -");
	assert_string_equal(calls[1], "mount - m1 - 0x1021 -"); /* MS_REMOUNT|MS_BIND|MS_RDONLY */
	assert_string_equal(calls[2], "mount tmpfs m2 tmpfs 0 ");
	assert_string_equal(calls[3], "umount m2");
	assert_string_equal(calls[4], "umount m1");
	assert_int_equal(storage_refcount(a.mp), 0);
	assert_int_equal(nmounted, 0);

	/* a failing mount: the message names the storage and the syscall */
	ncalls = 0;
	fail_mount_of = 2;
	assert_int_equal(storage_mount_all(v, 2, on_done, &res, NULL), 0);
	assert_int_equal(res.err, -EIO);
	assert_non_null(
	    strstr(res.msg, "storage 1 (driver ephemeral, source tmpfs): mount tmpfs on"));
	assert_non_null(strstr(res.msg, "Input/output error"));
	assert_int_equal(nmounted, 0);

	/* a bind source that does not exist */
	fail_mount_of = 0;
	a.s.source = "/nonexistent/x";
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, -ENOENT);
	assert_non_null(strstr(res.msg, "bind source /nonexistent/x"));
	/* bad block sources */
	Grpc__Storage *blk[1] = {mk(&a, "blk", "zz/01", "ext4", 4, NULL, NULL)};
	assert_int_equal(storage_mount_all(blk, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, -EINVAL);
	assert_non_null(strstr(res.msg, "invalid source \"zz/01\" for driver blk"));
}

/* local / ephemeral / blk / local: the blk storage parks the request on its uevent */
static void test_async_order(void **state)
{
	struct st a, b, c, d;
	Grpc__Storage *v[4] = {
	    mk(&a, "local", "local", "", 1, "mode=0750", NULL),
	    mk(&b, "ephemeral", "tmpfs", "tmpfs", 2, NULL, NULL),
	    mk(&c, "blk", "02/01", "ext4", 3, "ro", NULL),
	    mk(&d, "9p", "kataShared", "", 4, "trans=virtio", "version=9p2000.L")};
	struct result res = {0};
	struct storage_req *req = NULL;
	assert_int_equal(storage_mount_all(v, 4, on_done, &res, &req), 0);
	assert_non_null(req);
	assert_int_equal(res.calls, 0);
	assert_int_equal(ncalls, 1); /* only the tmpfs so far; local mounts nothing */
	struct stat st;
	assert_int_equal(stat(a.mp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* an unrelated device, then ours */
	char msg[512];
	size_t n = (size_t)snprintf(msg, sizeof(msg),
	                            "add@/x%cACTION=add%cDEVPATH=/devices/pci0000:00/0000:00:02.0/"
	                            "0000:01:02.0/virtio5/block/vdb%cSUBSYSTEM=block%cDEVNAME=vdb",
	                            0, 0, 0, 0) +
	           1;
	assert_int_equal(uevent_feed(msg, n, 0), 1);
	assert_int_equal(res.calls, 0);
	n = (size_t)snprintf(msg, sizeof(msg),
	                     "add@/x%cACTION=add%cDEVPATH=/devices/pci0000:00/0000:00:02.0/"
	                     "0000:01:01.0/virtio4/block/vdc%cSUBSYSTEM=block%cDEVNAME=vdc",
	                     0, 0, 0, 0) +
	    1;
	assert_int_equal(uevent_feed(msg, n, 0), 1);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.err, 0);
	assert_null(req);
	assert_int_equal(ncalls, 3);
	assert_string_equal(calls[1], "mount vdc m3 ext4 0x1 ");
	assert_string_equal(calls[2], "mount kataShared m4 9p 0 trans=virtio,version=9p2000.L");
	for (int i = 0; i < 4; i++)
		assert_int_equal(storage_refcount(v[i]->mount_point), 1);

	/* now known: a second request for the same device completes before returning */
	Grpc__Storage *again[1] = {mk(&c, "blk", "02/01", "ext4", 5, NULL, NULL)};
	assert_int_equal(storage_mount_all(again, 1, on_done, &res, &req), 0);
	assert_int_equal(res.calls, 2);
	assert_int_equal(res.err, 0);
	assert_null(req);
	assert_string_equal(calls[3], "mount vdc m5 ext4 0 ");
}

static void test_timeout_and_cancel(void **state)
{
	struct st a, b;
	Grpc__Storage *v[2] = {mk(&a, "ephemeral", "tmpfs", "tmpfs", 1, NULL, NULL),
	                       mk(&b, "scsi", "0:9", "xfs", 2, NULL, NULL)};
	struct result res = {0};
	struct storage_req *req = NULL;
	storage_timeout_ns_override = 150000000ull;
	unsigned long long t0 = now_ns();
	assert_int_equal(storage_mount_all(v, 2, on_done, &res, &req), 0);
	assert_non_null(req);
	assert_int_equal(storage_refcount(a.mp), 1);
	/* while it waits, the same mount point elsewhere is refused rather than doubled */
	struct result other = {0};
	assert_int_equal(storage_mount_all(&v[1], 1, on_done, &other, NULL), 0);
	assert_int_equal(other.err, -EBUSY);
	run_until(&res.calls, 1, 3000);
	assert_int_equal(res.calls, 1);
	assert_true(now_ns() - t0 >= 150000000ull);
	assert_int_equal(res.err, -ETIMEDOUT);
	assert_string_equal(res.msg, "storage 1 (driver scsi, source 0:9): timeout after 0.15s "
	                             "waiting for the SCSI disk 0:9");
	assert_null(req);
	assert_int_equal(storage_refcount(a.mp), 0);
	assert_int_equal(nmounted, 0);

	/* cancel: no callback, what it mounted is released */
	res = (struct result){0};
	assert_int_equal(storage_mount_all(v, 2, on_done, &res, &req), 0);
	assert_non_null(req);
	assert_int_equal(nmounted, 1);
	storage_req_cancel(req);
	assert_int_equal(nmounted, 0);
	assert_int_equal(storage_refcount(a.mp), 0);
	assert_int_equal(storage_refcount(b.mp), 0);
	int dummy = 0;
	run_until(&dummy, 1, 250);
	assert_int_equal(res.calls, 0);
	storage_req_cancel(NULL);
}

/* Sandbox teardown while a request waits for its device: the request fails first (its done()
 * answers the parked call) and gives back what it counted while the entries still exist; then
 * everything else goes.  Before, teardown freed the tmpfs entry under the waiting request,
 * whose later cancel or timeout then released freed memory. */
static void test_release_all_ends_waiting(void **state)
{
	struct st a, b;
	Grpc__Storage *v[2] = {mk(&a, "ephemeral", "tmpfs", "tmpfs", 1, NULL, NULL),
	                       mk(&b, "scsi", "0:9", "xfs", 2, NULL, NULL)};
	struct result res = {0};
	struct storage_req *req = NULL;
	storage_timeout_ns_override = 50000000ull; /* a wait left behind would end in 50 ms */
	assert_int_equal(storage_mount_all(v, 2, on_done, &res, &req), 0);
	assert_non_null(req);
	assert_int_equal(nmounted, 1);
	storage_release_all();
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.err, -ECANCELED);
	assert_string_equal(res.msg, "storage 1 (driver scsi, source 0:9): the sandbox was "
	                             "destroyed while waiting for the SCSI disk 0:9");
	assert_null(req);
	assert_int_equal(nmounted, 0);
	assert_int_equal(storage_refcount(a.mp), 0);
	/* nothing is left waiting: no second answer, and the mount point is free again */
	int dummy = 0;
	run_until(&dummy, 1, 250);
	assert_int_equal(res.calls, 1);
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, 0);
	assert_int_equal(storage_refcount(a.mp), 1);
}

/* A failed request gives back a shared storage it only counted without unmounting it (shared
 * storages stay until teardown); one it mounted itself goes. */
static void test_rollback_keeps_shared(void **state)
{
	struct st a, c, d;
	Grpc__Storage *shared = mk(&a, "ephemeral", "tmpfs", "tmpfs", 1, NULL, NULL);
	shared->shared = true;
	struct result res = {0};
	assert_int_equal(storage_mount_all(&shared, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, 0);
	assert_int_equal(storage_release(a.mp), 0);
	assert_int_equal(nmounted, 1); /* kept at zero references */
	Grpc__Storage *v[2] = {shared, mk(&c, "overlay-ish", "x", "", 2, NULL, NULL)};
	assert_int_equal(storage_mount_all(v, 2, on_done, &res, NULL), 0);
	assert_int_equal(res.err, -EINVAL);
	assert_int_equal(nmounted, 1);
	ncalls = 0;
	Grpc__Storage *w[2] = {mk(&d, "ephemeral", "tmpfs", "tmpfs", 3, NULL, NULL), v[1]};
	w[0]->shared = true;
	assert_int_equal(storage_mount_all(w, 2, on_done, &res, NULL), 0);
	assert_int_equal(res.err, -EINVAL);
	assert_int_equal(ncalls, 2);
	assert_string_equal(calls[1], "umount m3");
	assert_int_equal(nmounted, 1);
	storage_release_all();
	assert_int_equal(nmounted, 0);
}

/* A propagation change that fails (the kernel refuses two propagation words) leaves nothing
 * mounted; before, the mount stayed, unrecorded, one more on every retry. */
static void test_propagation_failure_unmounts(void **state)
{
	struct st a;
	Grpc__Storage *v[1] = {mk(&a, "ephemeral", "tmpfs", "tmpfs", 1, "shared", "private")};
	struct result res = {0};
	fail_propagation = true;
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, -EINVAL);
	assert_non_null(strstr(res.msg, "changing the propagation of"));
	assert_int_equal(nmounted, 0);
	assert_int_equal(storage_refcount(a.mp), 0);
}

static void test_virtiofs_and_update(void **state)
{
	struct st a;
	Grpc__Storage *v[1] = {mk(&a, "virtio-fs", "kataShared", "virtiofs", 1, NULL, NULL)};
	struct result res = {0};
	/* already mounted there: skipped, and not unmounted by the last release */
	snprintf(mounted[nmounted++], sizeof(mounted[0]), "%s", a.mp);
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, 0);
	assert_int_equal(ncalls, 0);
	assert_int_equal(storage_release(a.mp), 0);
	assert_int_equal(ncalls, 0);
	nmounted = 0;
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_string_equal(calls[0], "mount kataShared m1 virtiofs 0 ");

	/* UpdateEphemeralMounts: remount when mounted, fsgid= left out */
	struct st e;
	Grpc__Storage *u[1] = {mk(&e, "ephemeral", "tmpfs", "tmpfs", 2, "size=2m", "fsgid=3")};
	struct agent_err err = {0};
	ncalls = 0;
	assert_int_equal(storage_update_ephemeral(u, 1, &err), 0);
	assert_string_equal(calls[0], "mount tmpfs m2 tmpfs 0 size=2m");
	assert_int_equal(storage_update_ephemeral(u, 1, &err), 0);
	assert_string_equal(calls[1], "mount tmpfs m2 tmpfs 0x20 size=2m"); /* MS_REMOUNT */
	/* a remount whose propagation change fails keeps the mount that was there */
	Grpc__Storage *prop[1] = {mk(&e, "ephemeral", "tmpfs", "tmpfs", 2, "size=2m", "shared")};
	int before = nmounted;
	fail_propagation = true;
	assert_int_equal(storage_update_ephemeral(prop, 1, &err), -EINVAL);
	fail_propagation = false;
	assert_int_equal(nmounted, before);
	err_clear(&err);
	Grpc__Storage *bad[1] = {mk(&e, "blk", "02", "ext4", 3, NULL, NULL)};
	assert_int_equal(storage_update_ephemeral(bad, 1, &err), -EINVAL);
	assert_int_equal(err.code, -EINVAL);
	assert_non_null(strstr(err.msg, "unsupported storage driver \"blk\""));
	/* stat of mounts under a directory: nothing mounted under it is fine */
	assert_int_equal(storage_stat_mounts_under(tmp, &err), 0);
	assert_int_equal(storage_stat_mounts_under("/proc", NULL), 0);
}

/* overlayfs: upperdir and workdir are created, then an "overlay" mount with the options. */
static void test_overlayfs(void **state)
{
	struct st a;
	char up[400], work[400], o1[900], o2[500];
	snprintf(up, sizeof(up), "%s/ovl/new/upper", tmp);
	snprintf(work, sizeof(work), "%s/ovl/new/work", tmp);
	snprintf(o1, sizeof(o1), "lowerdir=%s/src,upperdir=%s", tmp, up);
	snprintf(o2, sizeof(o2), "workdir=%s", work);
	Grpc__Storage *v[1] = {mk(&a, "overlayfs", "none", "", 1, o1, o2)};
	char extra[500];
	snprintf(extra, sizeof(extra),
	         "io.katacontainers.volume.overlayfs.create_directory=%s/ovl/x", tmp);
	char *dopts[] = {extra};
	a.s.driver_options = dopts;
	a.s.n_driver_options = 1;
	struct result res = {0};
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, 0);
	struct stat st;
	assert_int_equal(stat(work, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	snprintf(work, sizeof(work), "%s/ovl/x", tmp);
	assert_int_equal(stat(work, &st), 0); /* the driver option's directory */
	char want[2048];
	snprintf(want, sizeof(want), "mount none m1 overlay 0 %s,%s", o1, o2);
	assert_string_equal(calls[0], want);
	/* upperdir as its own word is created too; a relative one is refused before mounting */
	struct st b;
	char o3[500];
	snprintf(o3, sizeof(o3), "upperdir=%s/ovl/second", tmp);
	Grpc__Storage *w[1] = {mk(&b, "overlayfs", "none", "overlay", 2, o3, "workdir=rel/work")};
	res = (struct result){0};
	assert_int_equal(storage_mount_all(w, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, -EINVAL);
	assert_non_null(strstr(res.msg, "must be an absolute path"));
}

static void test_fs_group(void **state)
{
	char root[200], sub[220], file[240];
	snprintf(root, sizeof(root), "%s/fsg", tmp);
	snprintf(sub, sizeof(sub), "%s/d", root);
	snprintf(file, sizeof(file), "%s/f", sub);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	int fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	gid_t gid = getgid() == 0 ? 4321 : getgid();
	struct st a;
	Grpc__Storage *v[1] = {mk(&a, "local", "local", "", 0, NULL, NULL)};
	snprintf(a.mp, sizeof(a.mp), "%s", root);
	a.g = (Grpc__FSGroup)GRPC__FSGROUP__INIT;
	a.g.group_id = gid;
	a.g.group_change_policy = TYPES__FSGROUP_CHANGE_POLICY__Always;
	a.s.fs_group = &a.g;
	struct result res = {0};
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(res.err, 0);
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_mode & 07777, 02770);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_gid, gid);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(storage_release(root), 0);
	/* OnRootMismatch with the root already in the group: nothing is touched */
	assert_int_equal(chmod(file, 0600), 0);
	a.g.group_change_policy = TYPES__FSGROUP_CHANGE_POLICY__OnRootMismatch;
	assert_int_equal(storage_mount_all(v, 1, on_done, &res, NULL), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

/* ---- devices ---- */

struct dres {
	int calls, err;
	char msg[512];
	size_t n;
	char paths[4][64];
	unsigned maj[4], min[4];
};

static void on_dev(void *data, const struct agent_err *e, struct device_result *res, size_t n)
{
	struct dres *d = data;
	d->calls++;
	d->err = e ? e->code : 0;
	d->n = n;
	snprintf(d->msg, sizeof(d->msg), "%s", e ? e->msg : "");
	for (size_t i = 0; i < n && i < 4; i++) {
		const char *b = strrchr(res[i].vm_path, '/');
		snprintf(d->paths[i], sizeof(d->paths[i]), "%s>%s", res[i].container_path, b + 1);
		d->maj[i] = res[i].major;
		d->min[i] = res[i].minor;
	}
}

static void feed_blk(const char *devpath, const char *name, int maj, int min)
{
	char msg[512];
	size_t n = (size_t)snprintf(msg, sizeof(msg),
	                            "add@%s%cACTION=add%cDEVPATH=%s%cSUBSYSTEM=block%cDEVNAME=%s%c"
	                            "MAJOR=%d%cMINOR=%d",
	                            devpath, 0, 0, devpath, 0, 0, name, 0, maj, 0, min) +
	           1;
	assert_int_equal(uevent_feed(msg, n, 0), 1);
}

static Grpc__Device mkdev(const char *type, const char *id, const char *vm, const char *cpath)
{
	Grpc__Device d = GRPC__DEVICE__INIT;
	d.type = (char *)type;
	d.id = (char *)id;
	d.vm_path = (char *)vm;
	d.container_path = (char *)cpath;
	return d;
}

static void test_devices(void **state)
{
	Grpc__Device d0 = mkdev("blk", "06", "", "/dev/xvda"),
	             d1 = mkdev("scsi", "0:3", "", "/dev/sdq"),
	             d2 = mkdev("nvdimm", "", "/dev/pmem1", "/dev/pm");
	Grpc__Device *v[3] = {&d0, &d1, &d2};
	struct dres r = {0};
	struct device_req *req = NULL;
	assert_int_equal(device_wait_all(v, 3, on_dev, &r, &req), 0);
	assert_non_null(req);
	/* arrival order differs from request order */
	feed_blk("/devices/LNXSYSTM:00/ACPI0012:00/ndbus0/region1/pmem1/block/pmem1", "pmem1", 259,
	         1);
	feed_blk("/devices/pci0000:00/0000:00:07.0/virtio6/host0/target0:0:0/0:0:0:3/block/sdc",
	         "sdc", 8, 32);
	assert_int_equal(r.calls, 0);
	feed_blk("/devices/pci0000:00/0000:00:06.0/virtio3/block/vdd", "vdd", 253, 48);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);
	assert_null(req);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.paths[0], "/dev/xvda>vdd");
	assert_int_equal(r.maj[0], 253);
	assert_int_equal(r.min[0], 48);
	assert_string_equal(r.paths[1], "/dev/sdq>sdc");
	assert_int_equal(r.maj[1], 8);
	assert_string_equal(r.paths[2], "/dev/pm>pmem1");
	assert_int_equal(r.min[2], 1);

	/* all known now: done before returning */
	r = (struct dres){0};
	assert_int_equal(device_wait_all(v, 3, on_dev, &r, &req), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);
	assert_null(req);

	/* validation and unknown types */
	Grpc__Device bad[] = {mkdev("", "1", "", "/x"), mkdev("blk", "", "", "/x"),
	                      mkdev("blk", "06", "", ""), mkdev("floppy", "1", "", "/x"),
	                      mkdev("vfio-pci", "1", "", "/x")};
	const char *want[] = {"invalid type for device", "invalid ID and VM path for device",
	                      "invalid container path for device",
	                      "Failed to find the device handler floppy",
	                      "device type vfio-pci is not supported"};
	for (size_t i = 0; i < 5; i++) {
		Grpc__Device *one[1] = {&bad[i]};
		r = (struct dres){0};
		assert_int_equal(device_wait_all(one, 1, on_dev, &r, NULL), 0);
		assert_int_equal(r.calls, 1);
		assert_true(r.err < 0);
		assert_non_null(strstr(r.msg, want[i]));
	}

	/* timeout: the first failure ends the request, the other wait is dropped */
	storage_timeout_ns_override = 100000000ull;
	Grpc__Device t0 = mkdev("blk", "1e", "", "/a"), t1 = mkdev("mmioblk", "", "/dev/vdz", "/b");
	Grpc__Device *tv[2] = {&t0, &t1};
	r = (struct dres){0};
	assert_int_equal(device_wait_all(tv, 2, on_dev, &r, &req), 0);
	run_until(&r.calls, 1, 3000);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, -ETIMEDOUT);
	assert_string_equal(r.msg, "device 0 (type blk, id 1e): Timeout after 0.1s waiting for "
	                           "uevent for the block device at PCI path 1e");
	int dummy = 0;
	run_until(&dummy, 1, 200);
	assert_int_equal(r.calls, 1);

	/* cancel */
	r = (struct dres){0};
	assert_int_equal(device_wait_all(tv, 2, on_dev, &r, &req), 0);
	device_req_cancel(req);
	run_until(&dummy, 1, 200);
	assert_int_equal(r.calls, 0);

	/* AddSwap's PCI path as numbers */
	uint32_t slots[2] = {2, 0x1c};
	r = (struct dres){0};
	assert_int_equal(device_wait_pci_block(slots, 2, on_dev, &r, &req), 0);
	assert_int_equal(r.calls, 0);
	feed_blk("/devices/pci0000:00/0000:00:02.0/0000:01:1c.0/virtio9/block/vdx", "vdx", 253, 96);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.paths[0], ">vdx");
	uint32_t badslots[1] = {32};
	r = (struct dres){0};
	assert_int_equal(device_wait_pci_block(badslots, 1, on_dev, &r, NULL), 0);
	assert_int_equal(r.err, -EINVAL);
}

/* create_filesystem (format a fresh block volume) is refused before anything is mounted, with
 * the storage and the option named; look-alike options and other storages pass. */
static void test_create_filesystem_refused(void **state)
{
	(void)state;
	struct st a, b;
	char *plain[] = {"create_filesystem"};
	char *valued[] = {"other=1", "create_filesystem=ext4"};
	char *alike[] = {"create_filesystems", "xcreate_filesystem", "create_filesystem_x=1"};
	Grpc__Storage *v[2] = {mk(&a, "ephemeral", "tmpfs", "tmpfs", 1, NULL, NULL),
	                       mk(&b, "blk", "02/01", "ext4", 2, NULL, NULL)};
	struct agent_err e = {0};
	assert_int_equal(storage_check_options(v, 2, &e), 0);
	b.s.driver_options = alike;
	b.s.n_driver_options = 3;
	assert_int_equal(storage_check_options(v, 2, &e), 0);
	b.s.driver_options = plain;
	b.s.n_driver_options = 1;
	assert_int_equal(storage_check_options(v, 2, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "storage 1 (driver blk"));
	assert_non_null(strstr(e.msg, "driver option create_filesystem is not supported"));
	b.s.driver_options = valued;
	b.s.n_driver_options = 2;
	err_clear(&e);
	assert_int_equal(storage_check_options(v, 2, &e), -EOPNOTSUPP);
	assert_non_null(strstr(e.msg, "create_filesystem=ext4"));
	assert_int_equal(storage_refcount(b.mp), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mount_opts),
	    cmocka_unit_test_setup(test_refcount, reset),
	    cmocka_unit_test_setup(test_errors_and_rollback, reset),
	    cmocka_unit_test_setup(test_async_order, reset),
	    cmocka_unit_test_setup(test_timeout_and_cancel, reset),
	    cmocka_unit_test_setup(test_release_all_ends_waiting, reset),
	    cmocka_unit_test_setup(test_rollback_keeps_shared, reset),
	    cmocka_unit_test_setup(test_propagation_failure_unmounts, reset),
	    cmocka_unit_test_setup(test_virtiofs_and_update, reset),
	    cmocka_unit_test_setup(test_overlayfs, reset),
	    cmocka_unit_test_setup(test_fs_group, reset),
	    cmocka_unit_test_setup(test_devices, reset),
	    cmocka_unit_test_setup(test_create_filesystem_refused, reset),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Root-only integration test of the storage module with real mounts, in a private mount
 * namespace: local, ephemeral (tmpfs size= honoured), bind ro, reference counts, fs_group,
 * UpdateEphemeralMounts, a stale mount point for RemoveStaleVirtiofsShareMounts, and a blk storage
 * whose device (a new loop device) only appears after the request started, so the real
 * NETLINK_KOBJECT_UEVENT path completes it. Prints "N passed, N failed"; skips (exit 0) with the
 * reason when it cannot run. */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "loop.h"
#include "storage.h"
#include "uevent.h"

int passed, failed;

#include "check.h"

static char tmp[] = "/tmp/test-storage-real-XXXXXX";
static struct loop *L;

static int is_mounted(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mp[4096];
	int found = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, path) == 0)
			found = 1;
	if (f)
		fclose(f);
	return found;
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

static int mount_one(Grpc__Storage *s, struct result *res)
{
	*res = (struct result){0};
	Grpc__Storage *v[1] = {s};
	int r = storage_mount_all(v, 1, on_done, res, NULL);
	if (r < 0 || res->calls != 1)
		return r < 0 ? r : -EINPROGRESS;
	return res->err;
}

static Grpc__Storage mk(const char *driver, const char *source, const char *fstype, const char *mp,
                        char **opts, size_t nopts)
{
	Grpc__Storage s = GRPC__STORAGE__INIT;
	s.driver = (char *)driver;
	s.source = (char *)source;
	s.fstype = (char *)fstype;
	s.mount_point = (char *)mp;
	s.options = opts;
	s.n_options = nopts;
	return s;
}

static void test_plain(void)
{
	char mp[256], src[256], file[300];
	struct result res;
	struct stat st;
	struct statfs sf;
	struct statvfs sv;

	/* local: a directory with the requested mode, nothing mounted */
	snprintf(mp, sizeof(mp), "%s/local/a/b", tmp);
	char *lopts[] = {"mode=0711"};
	Grpc__Storage s = mk("local", "local", "", mp, lopts, 1);
	CHECK(mount_one(&s, &res) == 0, "%s", res.msg);
	CHECK(stat(mp, &st) == 0 && (st.st_mode & 07777) == 0711, "mode %o", st.st_mode);
	CHECK(!is_mounted(mp), "local mounted something");

	/* ephemeral tmpfs with size=, mode=, nodev honoured, and fsgid= */
	snprintf(mp, sizeof(mp), "%s/eph", tmp);
	char *eopts[] = {"size=4m", "nodev,mode=0750", "fsgid=4321"};
	s = mk("ephemeral", "tmpfs", "tmpfs", mp, eopts, 3);
	CHECK(mount_one(&s, &res) == 0, "%s", res.msg);
	CHECK(statfs(mp, &sf) == 0 && sf.f_type == TMPFS_MAGIC, "type %lx", (long)sf.f_type);
	CHECK((unsigned long long)sf.f_blocks * (unsigned long long)sf.f_bsize == 4ull << 20,
	      "size %llu", (unsigned long long)sf.f_blocks * (unsigned long long)sf.f_bsize);
	CHECK(statvfs(mp, &sv) == 0 && (sv.f_flag & ST_NODEV), "flags %lx", sv.f_flag);
	CHECK(stat(mp, &st) == 0 && st.st_gid == 4321 && (st.st_mode & 07777) == 02770,
	      "gid %u mode %o", st.st_gid, st.st_mode & 07777);

	/* a second user of the same mount point; release once: still there; twice: gone */
	CHECK(mount_one(&s, &res) == 0, "%s", res.msg);
	CHECK(storage_refcount(mp) == 2, "refs %u", storage_refcount(mp));
	snprintf(file, sizeof(file), "%s/marker", mp);
	int fd = open(file, O_CREAT | O_WRONLY, 0644);
	CHECK(fd >= 0, "creating %s: %s", file, strerror(errno));
	if (fd >= 0)
		close(fd);

	/* UpdateEphemeralMounts: grow it in place, contents kept */
	char *uopts[] = {"size=8m", "fsgid=4321"};
	Grpc__Storage u = mk("ephemeral", "tmpfs", "tmpfs", mp, uopts, 2);
	Grpc__Storage *uv[1] = {&u};
	struct agent_err err = {0};
	CHECK(storage_update_ephemeral(uv, 1, &err) == 0, "%s", err.msg);
	err_clear(&err);
	CHECK(statfs(mp, &sf) == 0 &&
	          (unsigned long long)sf.f_blocks * (unsigned long long)sf.f_bsize == 8ull << 20,
	      "size after update %llu", (unsigned long long)sf.f_blocks * sf.f_bsize);
	CHECK(access(file, F_OK) == 0, "marker lost by the remount");
	CHECK(storage_stat_mounts_under(tmp, &err) == 0, "%s", err.msg);

	CHECK(storage_release(mp) == 1 && is_mounted(mp), "released too early");
	CHECK(access(file, F_OK) == 0, "marker gone after the first release");
	CHECK(storage_release(mp) == 0 && !is_mounted(mp), "still mounted after the last release");
	CHECK(access(file, F_OK) < 0, "marker still visible");

	/* bind, read-only */
	snprintf(src, sizeof(src), "%s/bsrc", tmp);
	snprintf(mp, sizeof(mp), "%s/bdst", tmp);
	mkdir(src, 0755);
	snprintf(file, sizeof(file), "%s/hello", src);
	fd = open(file, O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	char *bopts[] = {"ro"};
	s = mk("bind", src, "", mp, bopts, 1);
	CHECK(mount_one(&s, &res) == 0, "%s", res.msg);
	snprintf(file, sizeof(file), "%s/hello", mp);
	CHECK(access(file, F_OK) == 0, "bind source not visible");
	CHECK(statvfs(mp, &sv) == 0 && (sv.f_flag & ST_RDONLY), "bind not read-only");
	snprintf(file, sizeof(file), "%s/new", mp);
	CHECK(open(file, O_CREAT | O_WRONLY, 0644) < 0 && errno == EROFS, "write allowed");
	CHECK(storage_release(mp) == 0 && !is_mounted(mp), "bind not unmounted");

	/* shared storages outlive their release until sandbox teardown */
	snprintf(mp, sizeof(mp), "%s/shm", tmp);
	s = mk("ephemeral", "shm", "tmpfs", mp, NULL, 0);
	s.shared = true;
	CHECK(mount_one(&s, &res) == 0, "%s", res.msg);
	CHECK(storage_release(mp) == 0 && is_mounted(mp), "shared storage unmounted on release");
	storage_release_all();
	CHECK(!is_mounted(mp), "shared storage kept after release_all");
}

/* RemoveStaleVirtiofsShareMounts' walk over a mount point that no longer resolves, as when the
 * host removed the volume behind it: here a tmpfs over its parent hides it.  That is the case
 * the call exists for, so the failed stat is logged and the call succeeds. */
static void test_stale_mount_point(void)
{
	char parent[300], hidden[320];
	snprintf(parent, sizeof(parent), "%s/stale", tmp);
	snprintf(hidden, sizeof(hidden), "%s/vol", parent);
	CHECK(mkdir(parent, 0755) == 0 && mkdir(hidden, 0755) == 0, "%s", strerror(errno));
	CHECK(mount("tmpfs", hidden, "tmpfs", 0, NULL) == 0, "%s", strerror(errno));
	CHECK(mount("tmpfs", parent, "tmpfs", 0, NULL) == 0, "%s", strerror(errno));
	struct stat st;
	CHECK(stat(hidden, &st) < 0 && errno == ENOENT, "the hidden mount point still resolves");
	struct agent_err err = {0};
	CHECK(storage_stat_mounts_under(parent, &err) == 0, "stale mount point: %s", err.msg);
	CHECK(storage_stat_mounts_under(tmp, &err) == 0, "stale mount point below: %s", err.msg);
	err_clear(&err);
	umount2(parent, MNT_DETACH);
	umount2(hidden, MNT_DETACH);
}

/* A new loop device: its `add` uevent comes after the request started waiting. */
static void test_blk_loop(void)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		printf("SKIP blk wait: /dev/loop-control: %s\n", strerror(errno));
		return;
	}
	char img[128], cmd[400], mp[256], dev[64];
	snprintf(img, sizeof(img), "%s/disk.img", tmp);
	snprintf(cmd, sizeof(cmd), "truncate -s 8M '%s' && mkfs.ext4 -q -F '%s' >/dev/null 2>&1",
	         img, img);
	if (system(cmd) != 0) {
		printf("SKIP blk wait: cannot make an ext4 image (mkfs.ext4)\n");
		close(ctl);
		return;
	}
	/* an index no device has yet */
	int idx = -1;
	for (int i = 200; i < 1000 && idx < 0; i++) {
		snprintf(dev, sizeof(dev), "/sys/block/loop%d", i);
		if (access(dev, F_OK) < 0)
			idx = i;
	}
	snprintf(dev, sizeof(dev), "/dev/loop%d", idx);
	snprintf(mp, sizeof(mp), "%s/blk", tmp);
	Grpc__Storage s = mk("blk", dev, "ext4", mp, NULL, 0);
	Grpc__Storage *v[1] = {&s};
	struct result res = {0};
	struct storage_req *req = NULL;
	storage_timeout_ns_override = 10000000000ull;
	CHECK(storage_mount_all(v, 1, on_done, &res, &req) == 0, "start");
	CHECK(req != NULL && res.calls == 0, "completed before the device existed: %s", res.msg);

	int r = ioctl(ctl, LOOP_CTL_ADD, idx);
	if (r < 0) {
		printf("SKIP blk wait: LOOP_CTL_ADD %d: %s\n", idx, strerror(errno));
		storage_req_cancel(req);
		close(ctl);
		return;
	}
	int lfd = open(dev, O_RDWR | O_CLOEXEC), ifd = open(img, O_RDWR | O_CLOEXEC);
	CHECK(lfd >= 0 && ifd >= 0 && ioctl(lfd, LOOP_SET_FD, ifd) == 0, "attaching %s: %s", dev,
	      strerror(errno));
	unsigned long long t0 = now_ns();
	while (res.calls == 0 && now_ns() - t0 < 12000000000ull)
		loop_run_once(L, 100);
	CHECK(res.calls == 1 && res.err == 0, "blk: calls %d err %d %s", res.calls, res.err,
	      res.msg);
	printf("blk storage on a hot-added loop device completed %.1f ms after attach\n",
	       (double)(now_ns() - t0) / 1e6);
	struct statfs sf;
	CHECK(statfs(mp, &sf) == 0 && sf.f_type == EXT4_SUPER_MAGIC, "not ext4 at %s", mp);

	/* now known: another mount point completes synchronously */
	char mp2[300];
	snprintf(mp2, sizeof(mp2), "%s2", mp);
	/* (same flags: ext4 refuses a second mount of the device with a different ro state) */
	Grpc__Storage s2 = mk("blk", dev, "ext4", mp2, NULL, 0);
	CHECK(mount_one(&s2, &res) == 0, "known device: %s", res.msg);
	CHECK(storage_release(mp2) == 0, "release %s", mp2);
	CHECK(storage_release(mp) == 0, "release %s", mp);
	CHECK(!is_mounted(mp) && !is_mounted(mp2), "blk still mounted");

	storage_release_all(); /* whatever a failed check left mounted, before detaching */
	if (lfd >= 0) {
		ioctl(lfd, LOOP_CLR_FD, 0);
		close(lfd);
	}
	if (ifd >= 0)
		close(ifd);
	ioctl(ctl, LOOP_CTL_REMOVE, idx);
	close(ctl);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("SKIP test_storage_real: needs root\n0 passed, 0 failed\n");
		return 0;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("SKIP test_storage_real: private mount namespace: %s\n0 passed, 0 failed\n",
		       strerror(errno));
		return 0;
	}
	if (!mkdtemp(tmp) || loop_new(&L) < 0) {
		perror("setup");
		return 1;
	}
	int r = uevent_start(L);
	test_plain();
	test_stale_mount_point();
	if (r < 0)
		printf("SKIP blk wait: uevent socket: %s\n", strerror(-r));
	else
		test_blk_loop();
	storage_release_all();
	uevent_stop();
	loop_free(L);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmp);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

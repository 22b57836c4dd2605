/* Unit tests of agent/src/uevent.c: message parsing (including hostile and truncated input),
 * the PCI-path, SCSI and name matchers, the devpath map, waiters on a real loop with synthetic
 * events, memory onlining and SCSI scans against a fake sysfs tree. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "uevent.h"

/* Build a kernel-style message: "action@devpath\0KEY=VAL\0...". */
static size_t mkmsg(char *buf, size_t size, const char *action, const char *devpath,
                    const char *const *kv)
{
	size_t n = (size_t)snprintf(buf, size, "%s@%s", action, devpath) + 1;
	n += (size_t)snprintf(buf + n, size - n, "ACTION=%s", action) + 1;
	n += (size_t)snprintf(buf + n, size - n, "DEVPATH=%s", devpath) + 1;
	for (; kv && *kv; kv++)
		n += (size_t)snprintf(buf + n, size - n, "%s", *kv) + 1;
	return n;
}

static void test_parse_ok(void **state)
{
	char buf[512];
	const char *kv[] = {"SUBSYSTEM=block", "DEVNAME=vda",  "SEQNUM=1234", "MAJOR=253",
	                    "MINOR=16",        "DEVTYPE=disk", NULL};
	size_t n = mkmsg(buf, sizeof(buf), "add",
	                 "/devices/pci0000:00/0000:00:02.0/virtio2/block/vda", kv);
	struct uevent ev;
	assert_int_equal(uevent_parse(buf, n, &ev), 0);
	assert_string_equal(ev.action, "add");
	assert_string_equal(ev.devpath, "/devices/pci0000:00/0000:00:02.0/virtio2/block/vda");
	assert_string_equal(ev.subsystem, "block");
	assert_string_equal(ev.devname, "vda");
	assert_string_equal(ev.interface, "");
	assert_int_equal(ev.seqnum, 1234);
	assert_int_equal(ev.major, 253);
	assert_int_equal(ev.minor, 16);
}

static int parse_str(const char *msg, size_t len)
{
	char buf[1024];
	memcpy(buf, msg, len);
	struct uevent ev;
	return uevent_parse(buf, len, &ev);
}

static void test_parse_hostile(void **state)
{
	char buf[512];
	const char *badmaj[] = {"MAJOR=x", NULL}, *bigmaj[] = {"MAJOR=99999", NULL},
	           *badseq[] = {"SEQNUM=-1", NULL}, *badname[] = {"DEVNAME=../etc/passwd", NULL},
	           *absname[] = {"DEVNAME=/etc/passwd", NULL};
	size_t n;
	/* udev's re-broadcast, and a message without header */
	assert_int_equal(parse_str("libudev\0\xfe\xed\xca\xfe", 12), -EINVAL);
	assert_int_equal(parse_str("ACTION=add\0DEVPATH=/devices/x\0", 30), -EINVAL);
	/* header only: no ACTION/DEVPATH keys */
	assert_int_equal(parse_str("add@/devices/x\0", 15), -EINVAL);
	/* header without NUL at all (truncated inside the header) */
	assert_int_equal(parse_str("add@/devices/x", 14), -EINVAL);
	assert_int_equal(parse_str("", 0), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "/devices/../../etc", NULL);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "devices/x", NULL);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "/devices//x", NULL);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "/devices/x", badmaj);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "/devices/x", bigmaj);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "/devices/x", badseq);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "/devices/x", badname);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);
	n = mkmsg(buf, sizeof(buf), "add", "/devices/x", absname);
	assert_int_equal(uevent_parse(buf, n, &(struct uevent){0}), -EINVAL);

	/* Every truncation of a valid message is handled without reading past the end: it parses
	 * or is rejected, and whatever it returns stays inside the buffer (ASan checks). */
	const char *kv[] = {"SUBSYSTEM=block", "DEVNAME=vda", "SEQNUM=77", NULL};
	size_t full = mkmsg(buf, sizeof(buf), "add", "/devices/virtual/block/vda", kv);
	int ok = 0;
	for (size_t len = 0; len <= full; len++) {
		char *copy = malloc(len + 1);
		memcpy(copy, buf, len);
		struct uevent ev;
		if (uevent_parse(copy, len, &ev) == 0) {
			assert_true(ev.devpath >= copy && ev.devpath < copy + len + 1);
			ok++;
		}
		free(copy);
	}
	/* Valid once DEVPATH is complete (even when later keys are cut). */
	assert_true(ok > 0 && ok < (int)full);
}

static struct uevent blk_ev(const char *action, const char *subsystem, const char *devpath)
{
	return (struct uevent){.action = action,
	                       .subsystem = subsystem,
	                       .devpath = devpath,
	                       .devname = "",
	                       .interface = "",
	                       .major = -1,
	                       .minor = -1};
}

static void test_pci_path(void **state)
{
	struct uevent_pci_path p;
	assert_int_equal(uevent_pci_path_parse("02/01", &p), 0);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.slot[0], 2);
	assert_int_equal(p.slot[1], 1);
	assert_int_equal(p.root_bus, 0);
	assert_int_equal(uevent_pci_path_parse("1f", &p), 0);
	assert_int_equal(p.slot[0], 0x1f);
	assert_int_equal(uevent_pci_path_parse("0000:01/03.2", &p), 0);
	assert_int_equal(p.root_bus, 1);
	assert_int_equal(p.slot[0], 3);
	assert_int_equal(p.func[0], 2);
	assert_int_equal(uevent_pci_path_parse("pci0001:02/04", &p), 0);
	assert_int_equal(p.domain, 1);
	const char *bad[] = {"",       "/",   "02/", "/02",     "20",       "123",       "zz",
	                     "02//01", "2.8", "02.", "0000:01", "00:01/02", "0000:1/02", "02 01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(uevent_pci_path_parse(bad[i], &p), -EINVAL);
	char many[64] = "";
	for (int i = 0; i < 17; i++)
		strcat(many, i ? "/01" : "01");
	assert_int_equal(uevent_pci_path_parse(many, &p), -EINVAL);
}

static void test_match_pci(void **state)
{
	struct uevent_pci_path p, root, pxb;
	assert_int_equal(uevent_pci_path_parse("02/01", &p), 0);
	assert_int_equal(uevent_pci_path_parse("02", &root), 0);
	assert_int_equal(uevent_pci_path_parse("0000:01/03", &pxb), 0);
	const char *bridged = "/devices/pci0000:00/0000:00:02.0/0000:01:01.0/virtio4/block/vda";
	struct uevent ev = blk_ev("add", "block", bridged);
	assert_true(uevent_match_pci_block(&ev, &p));
	assert_false(uevent_match_pci_block(&ev, &root));
	ev = blk_ev("add", "block", "/devices/pci0000:00/0000:00:02.0/virtio1/block/vdb");
	assert_true(uevent_match_pci_block(&ev, &root));
	assert_false(uevent_match_pci_block(&ev, &p));
	/* riscv64/arm64: the root bus sits under a platform device */
	ev = blk_ev("add", "block",
	            "/devices/platform/soc/30000000.pci/pci0000:00/0000:00:02.0/virtio1/block/vda");
	assert_true(uevent_match_pci_block(&ev, &root));
	/* a pxb root complex */
	ev = blk_ev("add", "block", "/devices/pci0000:01/0000:01:03.0/virtio7/block/vdc");
	assert_true(uevent_match_pci_block(&ev, &pxb));
	assert_false(uevent_match_pci_block(&ev, &root));
	/* non-matches */
	const char *no[] = {
	    "/devices/pci0000:00/0000:00:02.0/0000:01:02.0/virtio4/block/vda",      /* slot */
	    "/devices/pci0000:00/0000:00:02.0/0000:01:01.1/virtio4/block/vda",      /* function */
	    "/devices/pci0000:00/0000:00:03.0/0000:01:01.0/virtio4/block/vda",      /* bridge */
	    "/devices/pci0000:00/0000:00:02.0/0000:01:01.0/virtio4/block/vda/vda1", /* part */
	    "/devices/pci0000:00/0000:00:02.0/0000:01:01.0/virtio/block/vda",
	    "/devices/pci0000:00/0000:00:02.0/0000:01:01.0/virtio4/host0/block/vda",
	    "/devices/pci0000:00/0000:00:02.0/0000:01:01.0/virtio4/block/",
	    "/devices/pci0000:00/0000:00:02.0/0000:01:01",
	    "/devices/virtual/block/loop0",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		ev = blk_ev("add", "block", no[i]);
		assert_false(uevent_match_pci_block(&ev, &p));
	}
	ev = blk_ev("remove", "block", bridged);
	assert_false(uevent_match_pci_block(&ev, &p));
	ev = blk_ev("add", "virtio", bridged);
	assert_false(uevent_match_pci_block(&ev, &p));
}

static void test_match_scsi_name(void **state)
{
	struct uevent_scsi_addr a;
	assert_int_equal(uevent_scsi_addr_parse("1:2", &a), 0);
	assert_int_equal(a.id, 1);
	assert_int_equal(a.lun, 2);
	const char *bad[] = {"", "1", "1:", ":2", "a:2", "1:2:3", "1:-2", "70000:0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(uevent_scsi_addr_parse(bad[i], &a), -EINVAL);
	assert_int_equal(uevent_scsi_addr_parse("1:2", &a), 0);
	struct uevent ev =
	    blk_ev("add", "block",
	           "/devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:1/0:0:1:2/block/sdb");
	assert_true(uevent_match_scsi_block(&ev, &a));
	ev.devpath = "/devices/pci0000:00/0000:00:05.0/virtio2/host3/target3:0:1/3:0:1:2/block/sdc";
	assert_true(uevent_match_scsi_block(&ev, &a));
	ev.devpath = "/devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:1/0:0:1:3/block/sdb";
	assert_false(uevent_match_scsi_block(&ev, &a));
	ev.devpath =
	    "/devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:11/0:0:11:2/block/sdb";
	assert_false(uevent_match_scsi_block(&ev, &a));
	ev.devpath = "/devices/x/0:1:1:2/block/sdb"; /* channel 1 */
	assert_false(uevent_match_scsi_block(&ev, &a));
	ev.devpath = "/devices/x/0:0:1:2/block/sdb/sdb1";
	assert_false(uevent_match_scsi_block(&ev, &a));
	ev.devpath = "/devices/x/0:0:1:2/block/sdb";
	assert_true(uevent_match_scsi_block(&ev, &a));
	ev.devpath = "/devices/x/x0:0:1:2/block/sdb";
	assert_false(uevent_match_scsi_block(&ev, &a));

	ev = blk_ev("add", "block", "/devices/virtual/block/loop3");
	assert_true(uevent_match_block_name(&ev, "loop3"));
	assert_false(uevent_match_block_name(&ev, "loop"));
	assert_false(uevent_match_block_name(&ev, "loop33"));
	ev.devpath =
	    "/devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0/region0/pmem0/block/pmem0";
	assert_true(uevent_match_block_name(&ev, "pmem0"));

	struct uevent_blk b;
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_NAME, "/dev/pmem0", &b), 0);
	assert_string_equal(b.name, "pmem0");
	assert_true(uevent_match_blk(&ev, &b));
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_NAME, "/dev/../x", &b), -EINVAL);
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_NAME, "/dev/", &b), -EINVAL);
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_PCI, "02/01", &b), 0);
	assert_string_equal(b.what, "the block device at PCI path 02/01");
}

/* ---- map and waiters, on a fake sysfs ---- */

static char sysdir[] = "/tmp/test-uevent-XXXXXX";
static struct loop *L;

static void put(const char *rel, const char *content)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", sysdir, rel);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static char *get(const char *rel)
{
	static char buf[256];
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", sysdir, rel);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int setup_sysfs(void **state)
{
	assert_non_null(mkdtemp(sysdir));
	/* /sys/block/vda -> ../devices/pci0000:00/0000:00:03.0/virtio1/block/vda */
	put("devices/pci0000:00/0000:00:03.0/virtio1/block/vda/dev", "253:0\n");
	put("block/.keep", "");
	char link[512];
	snprintf(link, sizeof(link), "%s/block/vda", sysdir);
	assert_int_equal(symlink("../devices/pci0000:00/0000:00:03.0/virtio1/block/vda", link), 0);
	put("bus/pci/rescan", "");
	put("devices/system/memory/memory5/online", ""); /* write_file does not truncate */
	put("class/scsi_host/host0/scan", "");
	put("class/scsi_host/host1/scan", "");
	uevent_sysfs = sysdir;
	assert_int_equal(loop_new(&L), 0);
	assert_int_equal(uevent_init(L), 0);
	return 0;
}

static int teardown_sysfs(void **state)
{
	uevent_stop();
	loop_free(L);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sysdir);
	return system(cmd);
}

static int feed(const char *action, const char *devpath, const char *const *kv, uint32_t pid)
{
	char buf[1024];
	size_t n = mkmsg(buf, sizeof(buf), action, devpath, kv);
	return uevent_feed(buf, n, pid);
}

struct seen {
	int calls, err;
	char devpath[256];
	unsigned long long at;
};

static struct seen last;
static void cb_record(struct uevent_waiter *w, int err, const struct uevent *ev)
{
	last.calls++;
	last.err = err;
	last.at = now_ns();
	snprintf(last.devpath, sizeof(last.devpath), "%s", ev ? ev->devpath : "");
}

static void run_until(int *flag, int want, int max_ms)
{
	unsigned long long end = now_ns() + (unsigned long long)max_ms * 1000000ull;
	while (*flag < want && now_ns() < end)
		loop_run_once(L, 10);
}

static void test_map_and_waiters(void **state)
{
	struct uevent found;
	struct uevent_blk vda, vdb;
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_PCI, "03", &vda), 0);
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_PCI, "04", &vdb), 0);
	/* vda was in /sys/block before we started: found at once, with its dev numbers */
	struct uevent_waiter w = {.cb = cb_record};
	assert_int_equal(uevent_wait_blk(&w, &vda, 1000000000ull, &found), 1);
	assert_string_equal(found.devname, "vda");
	assert_int_equal(found.major, 253);
	assert_int_equal(found.minor, 0);

	/* vdb is not there: wait, then a kernel event wakes the waiter */
	memset(&last, 0, sizeof(last));
	assert_int_equal(uevent_wait_blk(&w, &vdb, 5000000000ull, &found), 0);
	const char *kv[] = {"SUBSYSTEM=block", "DEVNAME=vdb", "MAJOR=253", "MINOR=16", NULL};
	const char *path = "/devices/pci0000:00/0000:00:04.0/virtio2/block/vdb";
	/* from userspace (udev, port != 0): ignored */
	assert_int_equal(feed("add", path, kv, 4242), 0);
	assert_int_equal(last.calls, 0);
	assert_int_equal(uevent_find(uevent_match_blk, &vdb, &found), 0);
	/* a partition of it and a different device do not wake it */
	const char *kvp[] = {"SUBSYSTEM=block", "DEVNAME=vdb1", NULL};
	assert_int_equal(
	    feed("add", "/devices/pci0000:00/0000:00:04.0/virtio2/block/vdb/vdb1", kvp, 0), 1);
	assert_int_equal(last.calls, 0);
	assert_int_equal(feed("add", path, kv, 0), 1);
	assert_int_equal(last.calls, 1);
	assert_int_equal(last.err, 0);
	assert_string_equal(last.devpath, path);
	assert_false(w.active);
	/* now known */
	assert_int_equal(uevent_find(uevent_match_blk, &vdb, &found), 1);
	assert_int_equal(found.minor, 16);
	/* remove forgets it */
	assert_int_equal(feed("remove", path, kv, 0), 1);
	assert_int_equal(uevent_find(uevent_match_blk, &vdb, &found), 0);
	/* malformed from the kernel port: reported, not stored */
	assert_int_equal(uevent_feed("garbage", 7, 0), -EINVAL);
	assert_int_equal(uevent_feed("", 0, 0), -EINVAL);
	char huge[9000] = "add@/x";
	assert_int_equal(uevent_feed(huge, sizeof(huge), 0), -EINVAL);
}

static void test_timeout_rescan_cancel(void **state)
{
	struct uevent_blk b;
	struct uevent found;
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_PCI, "07/01", &b), 0);
	put("bus/pci/rescan", "");
	memset(&last, 0, sizeof(last));
	struct uevent_waiter w = {.cb = cb_record};
	unsigned long long t0 = now_ns();
	assert_int_equal(uevent_wait_blk(&w, &b, 200000000ull, &found), 0);
	assert_int_equal(w.rescan_ns, 100000000ull); /* half the timeout when below 2 s */
	run_until(&last.calls, 1, 2000);
	assert_int_equal(last.calls, 1);
	assert_int_equal(last.err, -ETIMEDOUT);
	assert_true(last.at - t0 >= 200000000ull);
	assert_true(last.at - t0 < 1000000000ull);
	assert_string_equal(get("bus/pci/rescan"), "1");

	/* a cancelled waiter never calls back */
	memset(&last, 0, sizeof(last));
	assert_int_equal(uevent_wait_blk(&w, &b, 50000000ull, &found), 0);
	uevent_wait_cancel(&w);
	uevent_wait_cancel(&w); /* idempotent */
	int dummy = 0;
	run_until(&dummy, 1, 150);
	assert_int_equal(last.calls, 0);
}

static void test_memory_online_and_scsi_scan(void **state)
{
	const char *kv[] = {"SUBSYSTEM=memory", NULL};
	assert_int_equal(feed("add", "/devices/system/memory/memory5", kv, 0), 1);
	assert_string_equal(get("devices/system/memory/memory5/online"), "1");
	/* a missing memory block is logged, not fatal */
	assert_int_equal(feed("add", "/devices/system/memory/memory9", kv, 0), 1);

	struct uevent_blk b;
	struct uevent found;
	assert_int_equal(uevent_blk_parse(UEVENT_BLK_SCSI, "1:2", &b), 0);
	struct uevent_waiter w = {.cb = cb_record};
	assert_int_equal(uevent_wait_blk(&w, &b, 1000000000ull, &found), 0);
	assert_string_equal(get("class/scsi_host/host0/scan"), "0 1 2");
	assert_string_equal(get("class/scsi_host/host1/scan"), "0 1 2");
	assert_int_equal(w.rescan_ns, 0);
	memset(&last, 0, sizeof(last));
	const char *kvs[] = {"SUBSYSTEM=block", "DEVNAME=sda", NULL};
	assert_int_equal(
	    feed("add",
	         "/devices/pci0000:00/0000:00:05.0/virtio3/host1/target1:0:1/1:0:1:2/block/sda",
	         kvs, 0),
	    1);
	assert_int_equal(last.calls, 1);
	assert_int_equal(last.err, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_parse_hostile),
	    cmocka_unit_test(test_pci_path),
	    cmocka_unit_test(test_match_pci),
	    cmocka_unit_test(test_match_scsi_name),
	    cmocka_unit_test(test_map_and_waiters),
	    cmocka_unit_test(test_timeout_rescan_cancel),
	    cmocka_unit_test(test_memory_online_and_scsi_scan),
	};
	return cmocka_run_group_tests(tests, setup_sysfs, teardown_sysfs);
}

/* Kernel uevents and the block-device specs the host sends (Storage.source, Device.id).
 *
 * Input: a control byte, a spec string up to a NUL, then records [u16 big-endian length][bytes],
 * each one netlink message.
 *   ctl bits 0-1: the spec's kind for uevent_blk_parse (PCI path, SCSI "id:lun", name)
 *   ctl bit 2:    wait for that device (uevent_wait_blk) before the messages arrive
 * Every input starts from uevent_init on a loop with uevent_sysfs pointing at an empty temp dir
 * and ends with uevent_stop, so the device map does not carry over.
 *
 * Properties checked: parsed specs are in range; a parsed event has a non-empty action, a
 * clean absolute devpath (no empty, "." or ".." components) and a devname that cannot climb
 * out of /dev; its strings point into the message; udev messages (sender != 0) are ignored;
 * uevent_feed agrees with uevent_parse; a waiter is only woken by an event its matcher
 * accepts; nothing is ever created in the fake sysfs (memory onlining and rescans only write
 * existing files). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "loop.h"
#include "uevent.h"

static struct loop *loop;
static char sysfs[] = "/tmp/fuzz-uevent-sysfs-XXXXXX";
static struct uevent_blk blk;
static bool woken;

static void cleanup(void)
{
	rmdir(sysfs);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	FUZZ_ASSERT(mkdtemp(sysfs));
	atexit(cleanup);
	uevent_sysfs = sysfs;
	FUZZ_ASSERT(loop_new(&loop) == 0);
	return 0;
}

static bool in_msg(const char *s, const char *buf, size_t len)
{
	return (s >= buf && s <= buf + len) || *s == '\0';
}

static void check_event(const struct uevent *ev, const char *buf, size_t len)
{
	FUZZ_ASSERT(ev->action && *ev->action && in_msg(ev->action, buf, len));
	FUZZ_ASSERT(ev->devpath && in_msg(ev->devpath, buf, len));
	FUZZ_ASSERT(in_msg(ev->subsystem, buf, len) && in_msg(ev->devname, buf, len) &&
	            in_msg(ev->interface, buf, len));
	const char *p = ev->devpath;
	FUZZ_ASSERT(*p == '/');
	while (*p == '/') {
		p++;
		size_t n = strcspn(p, "/");
		FUZZ_ASSERT(n > 0);
		FUZZ_ASSERT(!(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.'));
		p += n;
	}
	FUZZ_ASSERT(*p == '\0');
	FUZZ_ASSERT(!strstr(ev->devname, ".."));
	FUZZ_ASSERT(ev->major >= -1 && ev->major <= 4095);
	FUZZ_ASSERT(ev->minor >= -1 && ev->minor < (1 << 20));
	/* The node name (DEVNAME or the devpath's last component) goes after "/dev/": it must
	 * be a clean relative path, naming something below /dev and never /dev itself. */
	const char *name = uevent_blk_devname(ev);
	FUZZ_ASSERT(name && *name);
	for (const char *c = name;;) {
		size_t n = strcspn(c, "/");
		FUZZ_ASSERT(n > 0);
		FUZZ_ASSERT(!(n == 1 && c[0] == '.') && !(n == 2 && c[0] == '.' && c[1] == '.'));
		c += n;
		if (!*c)
			break;
		c++;
	}
}

static void on_wake(struct uevent_waiter *w, int err, const struct uevent *ev)
{
	FUZZ_ASSERT(err == 0 && ev);
	FUZZ_ASSERT(uevent_match_blk(ev, &blk));
	woken = true;
}

static void check_spec(const char *s)
{
	struct uevent_pci_path pp;
	if (uevent_pci_path_parse(s, &pp) == 0) {
		FUZZ_ASSERT(pp.n >= 1 && pp.n <= ARRAY_SIZE(pp.slot));
		FUZZ_ASSERT(pp.domain <= 0xffff && pp.root_bus <= 0xff);
		for (size_t i = 0; i < pp.n; i++)
			FUZZ_ASSERT(pp.slot[i] <= 0x1f && pp.func[i] <= 7);
	}
	struct uevent_scsi_addr sa;
	if (uevent_scsi_addr_parse(s, &sa) == 0)
		FUZZ_ASSERT(sa.id <= 65535 && sa.lun <= 65535);
}

static bool sysfs_empty(void)
{
	DIR *d = opendir(sysfs);
	FUZZ_ASSERT(d);
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	closedir(d);
	return empty;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t ctl = fuzz_u8(&in);
	char *spec = fuzz_str(&in);
	check_spec(spec);

	FUZZ_ASSERT(uevent_init(loop) == 0);
	enum uevent_blk_kind kind = (enum uevent_blk_kind)(ctl & 3);
	bool have_blk = uevent_blk_parse(kind, spec, &blk) == 0;
	if (have_blk && kind == UEVENT_BLK_NAME)
		FUZZ_ASSERT(!strchr(blk.name, '/') && strcmp(blk.name, "..") &&
		            strcmp(blk.name, "."));
	struct uevent_waiter w = {.cb = on_wake};
	woken = false;
	if (have_blk && (ctl & 4)) {
		struct uevent found;
		FUZZ_ASSERT(uevent_wait_blk(&w, &blk, 3600ull * 1000000000ull, &found) == 0);
	}

	while (in.n > 0) {
		size_t len = fuzz_u16(&in);
		const uint8_t *msg = fuzz_bytes(&in, &len);
		char *buf = malloc(len + 1);
		FUZZ_ASSERT(buf);
		memcpy(buf, msg, len);
		struct uevent ev;
		int r = uevent_parse(buf, len, &ev);
		if (r == 0) {
			check_event(&ev, buf, len);
			if (have_blk && uevent_match_blk(&ev, &blk))
				FUZZ_ASSERT(strcmp(ev.action, "add") == 0);
		} else {
			FUZZ_ASSERT(r == -EINVAL);
		}
		free(buf);
		FUZZ_ASSERT(uevent_feed(msg, len, 4242) == 0);
		int f = uevent_feed(msg, len, 0);
		if (len == 0 || len > 8192)
			FUZZ_ASSERT(f == -EINVAL);
		else
			FUZZ_ASSERT(f == (r == 0 ? 1 : r));
	}
	if (woken)
		FUZZ_ASSERT(!w.active);
	uevent_wait_cancel(&w);
	uevent_stop();
	FUZZ_ASSERT(sysfs_empty());
	free(spec);
	return 0;
}

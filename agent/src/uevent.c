// SPDX-License-Identifier: Apache-2.0
#include "uevent.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"

const char *uevent_sysfs = "/sys";

/* A remembered `add` event; the strings live in the same allocation. */
struct dev {
	struct list link;
	char *devpath, *subsystem, *devname, *interface;
	int major, minor;
	unsigned long long seqnum;
};

static struct {
	struct loop *loop;
	struct list devs;    /* struct dev, oldest first */
	struct list waiters; /* struct uevent_waiter */
	int fd;
	struct loop_watch *watch;
} U = {.fd = -1};

/* ---- parsing ---- */

static int parse_ull(const char *s, unsigned long long max, unsigned long long *ret)
{
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_devt(const char *s, unsigned long long max, int *ret)
{
	unsigned long long v;
	int r = parse_ull(s, max, &v);
	if (r == 0)
		*ret = (int)v;
	return r;
}

/* "/devices/a/b": absolute, no empty, "." or ".." components (it becomes a sysfs path). */
static bool devpath_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	while (*p == '/') {
		p++;
		size_t len = strcspn(p, "/");
		if (len == 0 || (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '.'))))
			return false;
		p += len;
	}
	return *p == '\0';
}

/* DEVNAME, relative to /dev: absent (""), or components that are not empty, "." or "..", so
 * it always names something below /dev, never /dev itself ("." or "./"). */
static bool devname_ok(const char *p)
{
	if (!*p)
		return true;
	for (;;) {
		size_t len = strcspn(p, "/");
		if (len == 0 || (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '.'))))
			return false;
		p += len;
		if (!*p)
			return true;
		p++;
	}
}

int uevent_parse(char *buf, size_t len, struct uevent *ret)
{
	buf[len] = '\0';
	struct uevent ev = {.action = NULL,
	                    .subsystem = "",
	                    .devname = "",
	                    .interface = "",
	                    .major = -1,
	                    .minor = -1};
	/* Kernel messages start with "action@devpath"; udev's with "libudev". */
	size_t hlen = strnlen(buf, len);
	if (hlen == len || !memchr(buf, '@', hlen))
		return -EINVAL;
	for (char *p = buf + hlen + 1; p < buf + len; p += strlen(p) + 1) {
		char *eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *k = p, *v = eq + 1;
		int r = 0;
		unsigned long long u;
		if (strcmp(k, "ACTION") == 0)
			ev.action = v;
		else if (strcmp(k, "DEVPATH") == 0)
			ev.devpath = v;
		else if (strcmp(k, "SUBSYSTEM") == 0)
			ev.subsystem = v;
		else if (strcmp(k, "DEVNAME") == 0)
			ev.devname = v;
		else if (strcmp(k, "INTERFACE") == 0)
			ev.interface = v;
		else if (strcmp(k, "SEQNUM") == 0 && (r = parse_ull(v, ULLONG_MAX, &u)) == 0)
			ev.seqnum = u;
		else if (strcmp(k, "MAJOR") == 0)
			r = parse_devt(v, 4095, &ev.major);
		else if (strcmp(k, "MINOR") == 0)
			r = parse_devt(v, (1u << 20) - 1, &ev.minor);
		*eq = '=';
		if (r < 0)
			return r;
	}
	if (!ev.action || !*ev.action || !ev.devpath || !devpath_ok(ev.devpath))
		return -EINVAL;
	/* DEVNAME is relative to /dev; a hostile one must not climb out of it. */
	if (strstr(ev.devname, "..") || !devname_ok(ev.devname))
		return -EINVAL;
	*ret = ev;
	return 0;
}

/* ---- matchers ---- */

static int parse_hex(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)d;
	}
	*ret = v;
	return n ? 0 : -EINVAL;
}

int uevent_pci_path_parse(const char *s, struct uevent_pci_path *ret)
{
	struct uevent_pci_path p = {0};
	if (strncmp(s, "pci", 3) == 0)
		s += 3;
	size_t len = strcspn(s, "/");
	if (memchr(s, ':', len)) {
		/* Root bus "DDDD:BB" (a pxb root complex instead of pci0000:00). */
		if (len != 7 || s[4] != ':' || parse_hex(s, 4, &p.domain) < 0 ||
		    parse_hex(s + 5, 2, &p.root_bus) < 0 || s[len] != '/')
			return -EINVAL;
		s += len + 1;
	}
	for (;;) {
		len = strcspn(s, "/");
		size_t slen = strcspn(s, "./");
		unsigned slot, func = 0;
		if (p.n == ARRAY_SIZE(p.slot) || slen == 0 || slen > 2 ||
		    parse_hex(s, slen, &slot) < 0 || slot > 0x1f)
			return -EINVAL;
		if (slen < len &&
		    (len - slen != 2 || parse_hex(s + slen + 1, 1, &func) < 0 || func > 7))
			return -EINVAL;
		p.slot[p.n] = (unsigned char)slot;
		p.func[p.n++] = (unsigned char)func;
		if (!s[len])
			break;
		s += len + 1;
	}
	*ret = p;
	return 0;
}

static bool is_add_block(const struct uevent *ev)
{
	return ev->action && strcmp(ev->action, "add") == 0 && strcmp(ev->subsystem, "block") == 0;
}

/* "…/block/NAME" at the end of devpath: NAME, else NULL (partitions have one more level). */
static const char *block_tail(const char *devpath, const char **ret_block)
{
	const char *b = NULL;
	for (const char *p = strstr(devpath, "/block/"); p; p = strstr(p + 1, "/block/"))
		b = p;
	if (!b || !b[7] || strchr(b + 7, '/'))
		return NULL;
	if (ret_block)
		*ret_block = b;
	return b + 7;
}

/* Walk "/pciDDDD:BB/DDDD:BB:SS.F/..." of devpath along p; returns what follows the last PCI
 * component, or NULL when the path is not p's. */
static const char *pci_walk(const char *devpath, const struct uevent_pci_path *p)
{
	char root[24];
	snprintf(root, sizeof(root), "/pci%04x:%02x/", p->domain, p->root_bus);
	const char *s = strstr(devpath, root);
	if (!s)
		return NULL;
	s += strlen(root) - 1;
	for (size_t i = 0; i < p->n; i++) {
		/* "/DDDD:BB:SS.F" */
		unsigned dom, bus, slot, func;
		if (s[0] != '/' || strlen(s) < 13 || s[5] != ':' || s[8] != ':' || s[11] != '.' ||
		    parse_hex(s + 1, 4, &dom) < 0 || parse_hex(s + 6, 2, &bus) < 0 ||
		    parse_hex(s + 9, 2, &slot) < 0 || parse_hex(s + 12, 1, &func) < 0)
			return NULL;
		if (dom != p->domain || (i == 0 && bus != p->root_bus) || slot != p->slot[i] ||
		    func != p->func[i])
			return NULL;
		s += 13;
	}
	return s;
}

/* "/virtioN" at s: what follows it, else NULL. */
static const char *virtio_step(const char *s)
{
	if (strncmp(s, "/virtio", 7) != 0)
		return NULL;
	s += 7;
	size_t digits = strspn(s, "0123456789");
	return digits > 0 ? s + digits : NULL;
}

bool uevent_match_pci_block(const struct uevent *ev, const struct uevent_pci_path *p)
{
	const char *blk;
	if (!is_add_block(ev) || !block_tail(ev->devpath, &blk))
		return false;
	/* Then exactly "/virtioN" before "/block/NAME". */
	const char *s = pci_walk(ev->devpath, p);
	return s && virtio_step(s) == blk;
}

bool uevent_match_pci_net(const struct uevent *ev, const void *arg)
{
	const struct uevent_pci_path *p = arg;
	if (!ev->action || strcmp(ev->action, "add") != 0 || strcmp(ev->subsystem, "net") != 0)
		return false;
	const char *s = pci_walk(ev->devpath, p);
	if (!s)
		return false;
	/* virtio-net: ".../virtioN/net/NAME"; a NIC that is the PCI function: ".../net/NAME". */
	const char *v = virtio_step(s);
	if (v)
		s = v;
	return strncmp(s, "/net/", 5) == 0 && s[5] && !strchr(s + 5, '/');
}

int uevent_scsi_addr_parse(const char *s, struct uevent_scsi_addr *ret)
{
	unsigned long long id, lun;
	char idbuf[16];
	size_t len = strcspn(s, ":");
	if (len == 0 || len >= sizeof(idbuf) || !s[len])
		return -EINVAL;
	memcpy(idbuf, s, len);
	idbuf[len] = '\0';
	if (parse_ull(idbuf, 65535, &id) < 0 || parse_ull(s + len + 1, 65535, &lun) < 0)
		return -EINVAL;
	*ret = (struct uevent_scsi_addr){.id = (unsigned)id, .lun = (unsigned)lun};
	return 0;
}

bool uevent_match_scsi_block(const struct uevent *ev, const struct uevent_scsi_addr *a)
{
	const char *blk;
	if (!is_add_block(ev) || !block_tail(ev->devpath, &blk))
		return false;
	/* The component before /block is "H:C:T:L"; any host (we scan them all), channel 0. */
	char want[32];
	int n = snprintf(want, sizeof(want), ":0:%u:%u", a->id, a->lun);
	const char *comp = blk;
	while (comp > ev->devpath && comp[-1] != '/')
		comp--;
	size_t hlen = strspn(comp, "0123456789");
	return hlen > 0 && comp + hlen + (size_t)n == blk &&
	       strncmp(comp + hlen, want, (size_t)n) == 0;
}

bool uevent_match_block_name(const struct uevent *ev, const char *name)
{
	const char *tail;
	return is_add_block(ev) && (tail = block_tail(ev->devpath, NULL)) &&
	       strcmp(tail, name) == 0;
}

/* ---- the devpath -> event map ---- */

static void to_uevent(const struct dev *d, struct uevent *ev)
{
	*ev = (struct uevent){.action = "add",
	                      .devpath = d->devpath,
	                      .subsystem = d->subsystem,
	                      .devname = d->devname,
	                      .interface = d->interface,
	                      .seqnum = d->seqnum,
	                      .major = d->major,
	                      .minor = d->minor};
}

static struct dev *dev_find_path(const char *devpath)
{
	struct list *p;
	list_for_each (p, &U.devs) {
		struct dev *d = container_of(p, struct dev, link);
		if (strcmp(d->devpath, devpath) == 0)
			return d;
	}
	return NULL;
}

static void dev_forget(const char *devpath)
{
	struct dev *d = dev_find_path(devpath);
	if (d) {
		list_del(&d->link);
		free(d);
	}
}

static int dev_store(const struct uevent *ev)
{
	size_t lp = strlen(ev->devpath) + 1, ls = strlen(ev->subsystem) + 1,
	       ln = strlen(ev->devname) + 1, li = strlen(ev->interface) + 1;
	struct dev *d = malloc(sizeof(*d) + lp + ls + ln + li);
	if (!d)
		return -ENOMEM;
	char *s = (char *)(d + 1);
	d->devpath = memcpy(s, ev->devpath, lp);
	d->subsystem = memcpy(s += lp, ev->subsystem, ls);
	d->devname = memcpy(s += ls, ev->devname, ln);
	d->interface = memcpy(s += ln, ev->interface, li);
	d->major = ev->major;
	d->minor = ev->minor;
	d->seqnum = ev->seqnum;
	dev_forget(ev->devpath);
	list_add_tail(&U.devs, &d->link);
	return 0;
}

int uevent_find(bool (*match)(const struct uevent *ev, const void *arg), const void *arg,
                struct uevent *ret)
{
	struct list *p;
	list_for_each (p, &U.devs) {
		struct uevent ev;
		to_uevent(container_of(p, struct dev, link), &ev);
		if (match(&ev, arg)) {
			*ret = ev;
			return 1;
		}
	}
	return 0;
}

/* Seed the map with what sysfs already shows under /sys/block: those devices came before the
 * listener (at boot, or while the socket overflowed). */
static void scan_sys_block(void)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/block", uevent_sysfs);
	DIR *dp = opendir(dir);
	if (!dp) {
		log_debug("uevent", "scanning %s: %s", dir, strerror(errno));
		return;
	}
	struct dirent *de;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		char link[PATH_MAX], target[PATH_MAX], devf[PATH_MAX];
		if (snprintf(link, sizeof(link), "%s/%s", dir, de->d_name) >= (int)sizeof(link) ||
		    snprintf(devf, sizeof(devf), "%s/dev", link) >= (int)sizeof(devf))
			continue;
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		/* "../devices/pci0000:00/…/block/vda" relative to /sys/block */
		const char *devpath = strstr(target, "/devices/");
		if (!devpath || !devpath_ok(devpath))
			continue;
		struct uevent ev = {.action = "add",
		                    .devpath = devpath,
		                    .subsystem = "block",
		                    .devname = de->d_name,
		                    .interface = "",
		                    .major = -1,
		                    .minor = -1};
		_cleanup_free_ char *devt = NULL;
		unsigned maj, min;
		if (read_file(devf, 32, &devt) > 0 && sscanf(devt, "%u:%u", &maj, &min) == 2 &&
		    maj < 4096 && min < (1u << 20)) {
			ev.major = (int)maj;
			ev.minor = (int)min;
		}
		if (!dev_find_path(devpath))
			dev_store(&ev);
	}
	closedir(dp);
}

/* ---- waiters ---- */

static void waiter_finish(struct uevent_waiter *w)
{
	list_del(&w->link);
	loop_timer_cancel(&w->timer);
	loop_timer_cancel(&w->rescan);
	w->active = false;
}

static void on_timeout(struct loop *l, struct loop_timer *t)
{
	struct uevent_waiter *w = container_of(t, struct uevent_waiter, timer);
	waiter_finish(w);
	w->cb(w, -ETIMEDOUT, NULL);
}

static void on_rescan(struct loop *l, struct loop_timer *t)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/bus/pci/rescan", uevent_sysfs);
	int r = write_file(path, "1");
	log_info("uevent", "device not seen yet: PCI rescan%s%s", r < 0 ? " failed: " : "",
	         r < 0 ? strerror(-r) : "");
}

int uevent_wait(struct uevent_waiter *w, unsigned long long timeout_ns, struct uevent *ret_found)
{
	if (!U.loop)
		return -ENOTCONN;
	if (uevent_find(w->match, w->arg, ret_found))
		return 1;
	list_init(&w->link);
	list_add_tail(&U.waiters, &w->link);
	unsigned long long now = now_ns();
	w->timer = (struct loop_timer){.cb = on_timeout};
	w->rescan = (struct loop_timer){.cb = on_rescan};
	loop_timer_arm(U.loop, &w->timer, now + timeout_ns);
	if (w->rescan_ns && w->rescan_ns < timeout_ns)
		loop_timer_arm(U.loop, &w->rescan, now + w->rescan_ns);
	w->active = true;
	return 0;
}

void uevent_wait_cancel(struct uevent_waiter *w)
{
	if (w && w->active)
		waiter_finish(w);
}

/* Wake waiters whose matcher accepts ev.  A callback may start or cancel other waits, so the
 * scan restarts after each one; a new wait that matches ev finds it in the map instead. */
static void wake_waiters(const struct uevent *ev)
{
again:;
	struct list *p;
	list_for_each (p, &U.waiters) {
		struct uevent_waiter *w = container_of(p, struct uevent_waiter, link);
		if (w->match(ev, w->arg)) {
			waiter_finish(w);
			w->cb(w, 0, ev);
			goto again;
		}
	}
}

/* After a gap (socket overflow) re-check every waiter against the rescanned map. */
static void recheck_waiters(void)
{
	struct list *p;
	list_for_each (p, &U.devs) {
		struct uevent ev;
		to_uevent(container_of(p, struct dev, link), &ev);
		wake_waiters(&ev);
	}
}

/* ---- dispatch ---- */

static void online_memory(const struct uevent *ev)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s%s/online", uevent_sysfs, ev->devpath) >=
	    (int)sizeof(path))
		return;
	int r = write_file(path, "1");
	if (r < 0)
		log_warn("uevent", "onlining %s: %s", ev->devpath, strerror(-r));
	else
		log_debug("uevent", "onlined %s", ev->devpath);
}

void uevent_dispatch(const struct uevent *ev)
{
	if (strcmp(ev->action, "remove") == 0) {
		dev_forget(ev->devpath);
		return;
	}
	if (strcmp(ev->action, "add") != 0)
		return;
	if (strcmp(ev->subsystem, "memory") == 0 &&
	    strncmp(ev->devpath, "/devices/system/memory/memory", 29) == 0)
		online_memory(ev);
	int r = dev_store(ev);
	if (r < 0)
		log_warn("uevent", "remembering %s: %s", ev->devpath, strerror(-r));
	wake_waiters(ev);
}

/* Kernel messages are at most UEVENT_BUFFER_SIZE (2 KiB) of environment plus the header. */
#define UEVENT_MSG_MAX 8192

int uevent_feed(const void *msg, size_t len, uint32_t sender_pid)
{
	/* Only the kernel (port 0) is trusted; udev and anyone else are ignored. */
	if (sender_pid != 0)
		return 0;
	if (len == 0 || len > UEVENT_MSG_MAX)
		return -EINVAL;
	char buf[UEVENT_MSG_MAX + 1];
	memcpy(buf, msg, len);
	struct uevent ev;
	int r = uevent_parse(buf, len, &ev);
	if (r < 0)
		return r;
	uevent_dispatch(&ev);
	return 1;
}

static void on_socket(struct loop *l, int fd, uint32_t events, void *data)
{
	for (;;) {
		char buf[UEVENT_MSG_MAX];
		struct sockaddr_nl sa;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {
		    .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* Events were dropped: what exists now is in sysfs. */
				log_warn("uevent", "socket overflow: rescanning /sys/block");
				scan_sys_block();
				recheck_waiters();
				continue;
			}
			if (errno != EAGAIN)
				log_warn("uevent", "recvmsg: %s", strerror(errno));
			return;
		}
		if (mh.msg_flags & MSG_TRUNC || mh.msg_namelen != sizeof(sa))
			continue;
		int r = uevent_feed(buf, (size_t)n, sa.nl_pid);
		if (r < 0)
			log_debug("uevent", "ignoring a malformed uevent (%zd bytes)", n);
	}
}

/* ---- lifecycle ---- */

int uevent_init(struct loop *l)
{
	if (!U.loop) {
		list_init(&U.devs);
		list_init(&U.waiters);
	}
	U.loop = l;
	scan_sys_block();
	return 0;
}

int uevent_start(struct loop *l)
{
	int r = uevent_init(l);
	if (r < 0 || U.fd >= 0)
		return r;
	_cleanup_close_ int fd =
	    socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -errno;
	/* A hotplug burst (many disks, memory blocks) must not overflow the queue. */
	int sz = 4 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	/* Devices that appeared between the first scan and the bind. */
	scan_sys_block();
	r = loop_add(l, fd, EPOLLIN, on_socket, NULL, &U.watch);
	if (r < 0)
		return r;
	U.fd = TAKE_FD(fd);
	return 0;
}

void uevent_stop(void)
{
	if (U.watch) {
		loop_del(U.loop, U.watch);
		U.watch = NULL;
	}
	if (U.fd >= 0) {
		close(U.fd);
		U.fd = -1;
	}
	if (!U.loop)
		return;
	while (!list_empty(&U.waiters))
		waiter_finish(container_of(U.waiters.next, struct uevent_waiter, link));
	while (!list_empty(&U.devs)) {
		struct dev *d = container_of(U.devs.next, struct dev, link);
		list_del(&d->link);
		free(d);
	}
	U.loop = NULL;
}

int uevent_scsi_scan(const struct uevent_scsi_addr *a)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/class/scsi_host", uevent_sysfs);
	DIR *dp = opendir(dir);
	if (!dp)
		return -errno;
	char val[32];
	snprintf(val, sizeof(val), "0 %u %u", a->id, a->lun);
	int r = -ENODEV, ok = 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		if (strncmp(de->d_name, "host", 4) != 0)
			continue;
		char path[PATH_MAX];
		int w = -ENAMETOOLONG;
		if (snprintf(path, sizeof(path), "%s/%s/scan", dir, de->d_name) < (int)sizeof(path))
			w = write_file(path, val);
		if (w == 0)
			ok = 1;
		else
			r = w;
	}
	closedir(dp);
	return ok ? 0 : r;
}

/* ---- block device specs ---- */

int uevent_blk_parse(enum uevent_blk_kind kind, const char *s, struct uevent_blk *ret)
{
	struct uevent_blk b = {.kind = kind};
	int r = 0;
	switch (kind) {
	case UEVENT_BLK_PCI:
		r = uevent_pci_path_parse(s, &b.pci);
		snprintf(b.what, sizeof(b.what), "the block device at PCI path %.40s", s);
		break;
	case UEVENT_BLK_SCSI:
		r = uevent_scsi_addr_parse(s, &b.scsi);
		snprintf(b.what, sizeof(b.what), "the SCSI disk %.40s", s);
		break;
	case UEVENT_BLK_NAME: {
		if (strncmp(s, "/dev/", 5) == 0)
			s += 5;
		size_t len = strlen(s);
		if (len == 0 || len >= sizeof(b.name) || strchr(s, '/') || strcmp(s, "..") == 0 ||
		    strcmp(s, ".") == 0)
			return -EINVAL;
		memcpy(b.name, s, len + 1);
		snprintf(b.what, sizeof(b.what), "the block device /dev/%s", b.name);
		break;
	}
	default:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	*ret = b;
	return 0;
}

bool uevent_match_blk(const struct uevent *ev, const void *arg)
{
	const struct uevent_blk *b = arg;
	switch (b->kind) {
	case UEVENT_BLK_PCI:
		return uevent_match_pci_block(ev, &b->pci);
	case UEVENT_BLK_SCSI:
		return uevent_match_scsi_block(ev, &b->scsi);
	case UEVENT_BLK_NAME:
		return uevent_match_block_name(ev, b->name);
	}
	return false;
}

const char *uevent_blk_devname(const struct uevent *ev)
{
	if (ev->devname && *ev->devname)
		return ev->devname;
	const char *slash = strrchr(ev->devpath, '/');
	return slash ? slash + 1 : ev->devpath;
}

int uevent_wait_blk(struct uevent_waiter *w, const struct uevent_blk *b,
                    unsigned long long timeout_ns, struct uevent *ret_found)
{
	w->match = uevent_match_blk;
	w->arg = b;
	w->rescan_ns = 0;
	if (!U.loop)
		return -ENOTCONN;
	if (uevent_find(w->match, w->arg, ret_found))
		return 1;
	if (b->kind == UEVENT_BLK_PCI) {
		w->rescan_ns = ms_to_ns(1000);
		if (w->rescan_ns > timeout_ns / 2)
			w->rescan_ns = timeout_ns / 2;
	} else if (b->kind == UEVENT_BLK_SCSI) {
		int r = uevent_scsi_scan(&b->scsi);
		if (r < 0)
			log_warn("uevent", "scanning SCSI hosts for %u:%u: %s", b->scsi.id,
			         b->scsi.lun, strerror(-r));
	}
	return uevent_wait(w, timeout_ns, ret_found);
}

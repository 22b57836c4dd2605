// SPDX-License-Identifier: Apache-2.0
// The boot floor for the VM benchmark: an /init that does the least a Kata agent must do to
// count as "up" — accept on vsock port 1024 (docs/PROTOCOL.md §3.1: the runtime's dial succeeds
// once port 1024 accepts).  The host times QEMU start -> first accepted hybrid-vsock CONNECT
// (hvsock-wait.c) and compares it with the agent's QEMU start -> first Health.Check answer.
//
// The bench packs this program as /init of an initrd that is otherwise the agent's own (same
// files, the agent's bytes as padding, same compression), so the kernel's share of the boot
// (unpacking the initramfs) is the same on both sides.  For the guest-time breakdown it prints
// on the console, after it listens (the host's clock has stopped by then or does not depend on
// it), the guest CLOCK_MONOTONIC in microseconds at its start and after listen(), then at the
// first accept the kernel log lines that time the initramfs unpacking:
//   KAC-FLOOR-MARKER start_us=N listening_us=N
//   KAC-FLOOR-ACCEPT us=N
//   KAC-FLOOR-KLOG <6>[    0.512345] Unpacking initramfs...
// Raw syscalls only, no stdio buffering.
#include <errno.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

// musl-gcc has no <linux/vm_sockets.h>; the ABI is small and fixed.
#define FLOOR_AF_VSOCK       40
#define FLOOR_VMADDR_CID_ANY 0xffffffffu
#define FLOOR_PORT           1024u
// syslog(2) actions: read the whole ring buffer, and its size.
#define FLOOR_SYSLOG_READ_ALL 3
#define FLOOR_SYSLOG_SIZE     10

struct floor_sockaddr_vm {
	unsigned short svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(unsigned short) * 2 -
	                       sizeof(unsigned int) * 2 - 1];
};

static void say_n(const char *s, size_t n)
{
	// The initramfs provides /dev/console; the kernel opened it as fds 0-2 before exec.
	if (write(STDOUT_FILENO, s, n) < 0)
		return;
}

static void say(const char *s)
{
	say_n(s, strlen(s));
}

static unsigned long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
}

// Appends the decimal digits of v to *p (no stdio in this program).
static void put_u64(char **p, unsigned long long v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*(*p)++ = tmp[--n];
}

static void put_str(char **p, const char *s)
{
	size_t n = strlen(s);
	memcpy(*p, s, n);
	*p += n;
}

static int listen_vsock(void)
{
	struct floor_sockaddr_vm addr = {
	    .svm_family = FLOOR_AF_VSOCK,
	    .svm_port = FLOOR_PORT,
	    .svm_cid = FLOOR_VMADDR_CID_ANY,
	};
	int fd = socket(FLOOR_AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

// The kernel's own timestamps of the initramfs unpacking and of the exec of /init.
static void say_klog(void)
{
	static char buf[1 << 20];
	// The first line is "Trying to unpack rootfs image as initramfs..." with BLK_DEV_RAM.
	static const char *const wanted[] = {"Unpacking initramfs", "Trying to unpack rootfs",
	                                     "Freeing initrd memory", "Run /init as init process"};
	int size = klogctl(FLOOR_SYSLOG_SIZE, NULL, 0);
	if (size <= 0 || size > (int)sizeof(buf))
		size = (int)sizeof(buf);
	int n = klogctl(FLOOR_SYSLOG_READ_ALL, buf, size);
	if (n <= 0) {
		say("KAC-FLOOR-KLOG unreadable\n");
		return;
	}
	for (char *line = buf, *end = buf + n; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
		for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
			if (!memmem(line, len, wanted[i], strlen(wanted[i])))
				continue;
			say("KAC-FLOOR-KLOG ");
			say_n(line, len);
			say("\n");
		}
		line += len + 1;
	}
}

int main(void)
{
	unsigned long long start = now_us();
	int fd = listen_vsock();
	unsigned long long listening = now_us();
	char line[128], *p = line;

	if (fd < 0) {
		say(fd == -EAFNOSUPPORT ? "KAC-FLOOR-ERROR no vsock\n"
		                        : "KAC-FLOOR-ERROR listen failed\n");
		// PID 1 must not exit (that panics the guest): wait for the host to stop QEMU.
		for (;;)
			pause();
	}
	put_str(&p, "KAC-FLOOR-MARKER start_us=");
	put_u64(&p, start);
	put_str(&p, " listening_us=");
	put_u64(&p, listening);
	*p++ = '\n';
	say_n(line, (size_t)(p - line));
	for (int first = 1;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		close(c);
		if (!first)
			continue;
		first = 0;
		p = line;
		put_str(&p, "KAC-FLOOR-ACCEPT us=");
		put_u64(&p, now_us());
		*p++ = '\n';
		say_n(line, (size_t)(p - line));
		say_klog();
	}
}

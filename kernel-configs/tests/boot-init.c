// SPDX-License-Identifier: Apache-2.0
// /init for the kernel boot test: proves the kernel reached userspace, exercises what the
// agent will need (devtmpfs, 9p over virtio, virtio-blk, vsock), dumps /proc/config.gz and
// powers off.  Every result is one console line starting with "KAC-" for boot-test.sh.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/klog.h>
#include <sys/stat.h>
#include <unistd.h>

// <linux/vm_sockets.h> is not available to musl-gcc (no kernel headers): the ABI is small.
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define KAC_VMADDR_CID_ANY   0xffffffffu
#define KAC_VMADDR_CID_LOCAL 1u // the local CID; never CID 2 (the host)
#define KAC_TEST_PORT        5005u

struct kac_sockaddr_vm {
	unsigned short svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(unsigned short) * 2 -
	                       sizeof(unsigned int) * 2 - 1];
};

static void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(closep)))

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))

// Reads up to size-1 bytes of path into buf, NUL-terminated, trailing newline dropped.
static int read_small(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
		buf[--n] = '\0';
	return (int)n;
}

static void report(const char *what, int r, const char *detail)
{
	if (r >= 0)
		printf("KAC-CHECK %s ok %s\n", what, detail ? detail : "");
	else
		printf("KAC-CHECK %s fail %s\n", what, strerror(-r));
	fflush(stdout);
}

static int mount_fs(const char *src, const char *dir, const char *type, const char *opts)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mount(src, dir, type, 0, opts) < 0)
		return -errno;
	return 0;
}

// The guest kernel has no vsock loopback transport, so nothing inside the guest can reach a
// listener on the local CID (the agent's ports included): a listener on KAC_TEST_PORT exists,
// and a connection to it through CID 1 must fail with ENODEV (no transport for that CID).
// Returns 0 when refused that way, -EPROTO when the connection went through.
static int vsock_local_refused(void)
{
	struct kac_sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_port = KAC_TEST_PORT};
	_cleanup_close_ int srv = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	_cleanup_close_ int cli = -1;

	if (srv < 0)
		return -errno;
	addr.svm_cid = KAC_VMADDR_CID_ANY;
	if (bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(srv, 1) < 0)
		return -errno;
	cli = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cli < 0)
		return -errno;
	addr.svm_cid = KAC_VMADDR_CID_LOCAL;
	if (connect(cli, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return -EPROTO;
	return errno == ENODEV ? 0 : -errno;
}

// Prints every line of /proc/interrupts as "KAC-IRQ <line>": which interrupt controller
// (chip column) serves each device, and how often it fired.
static int dump_interrupts(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/interrupts", "re");
	char line[512];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		printf("KAC-IRQ %s\n", line);
	}
	fflush(stdout);
	return 0;
}

// Prints /proc/config.gz base64-encoded between KAC-CONFIG-BEGIN and KAC-CONFIG-END.
static int dump_config(void)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	_cleanup_close_ int fd = open("/proc/config.gz", O_RDONLY | O_CLOEXEC);
	unsigned char in[57]; // 57 bytes -> one 76-character line
	char line[80];
	ssize_t n;

	if (fd < 0)
		return -errno;
	printf("KAC-CONFIG-BEGIN\n");
	while ((n = read(fd, in, sizeof(in))) > 0) {
		size_t o = 0;
		for (ssize_t i = 0; i < n; i += 3) {
			uint32_t v = (uint32_t)in[i] << 16;
			if (i + 1 < n)
				v |= (uint32_t)in[i + 1] << 8;
			if (i + 2 < n)
				v |= in[i + 2];
			line[o++] = b64[(v >> 18) & 63];
			line[o++] = b64[(v >> 12) & 63];
			line[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
			line[o++] = i + 2 < n ? b64[v & 63] : '=';
		}
		line[o] = '\0';
		puts(line);
	}
	printf("KAC-CONFIG-END\n");
	fflush(stdout);
	return n < 0 ? -errno : 0;
}

int main(void)
{
	char buf[256], fs[4096];
	int r;

	// It mounts and powers off: refuse to run anywhere but as a guest's PID 1.
	if (getpid() != 1) {
		fprintf(stderr, "boot-init: not PID 1, refusing to run\n");
		return 2;
	}
	// Kernel messages printed from here on (late probes, crng) would land in the middle of our
	// report lines on the shared console; every dmesg line the test looks for comes earlier.
	klogctl(8 /* SYSLOG_ACTION_CONSOLE_LEVEL */, NULL, 1);
	// Before anything else: how long the kernel took to get here (guest clock).
	mount_fs("proc", "/proc", "proc", NULL);
	r = read_small("/proc/uptime", buf, sizeof(buf));
	printf("KAC-BOOT-MARKER uptime=%s\n", r >= 0 ? strtok(buf, " ") : "?");
	fflush(stdout);

	report("mount-sysfs", mount_fs("sysfs", "/sys", "sysfs", NULL), NULL);
	report("mount-devtmpfs", mount_fs("devtmpfs", "/dev", "devtmpfs", NULL), NULL);
	r = read_small("/proc/filesystems", fs, sizeof(fs));
	report("9p-fs", r < 0 ? r : strstr(fs, "\t9p\n") ? 0 : -ENOENT, NULL);
	report("vsock-local-refused", vsock_local_refused(), NULL);
	r = access("/sys/bus/virtio/drivers/vmw_vsock_virtio_transport", F_OK) ? -errno : 0;
	report("virtio-vsock-driver", r, NULL);

	// Optional devices the test may attach: a 9p share tagged kacshare, a virtio disk.
	r = mount_fs("kacshare", "/mnt", "9p", "trans=virtio,version=9p2000.L");
	if (r >= 0)
		r = read_small("/mnt/token", buf, sizeof(buf));
	report("9p-share", r, r >= 0 ? buf : NULL);
	r = read_small("/dev/vda", buf, 64);
	if (r >= 0)
		buf[strcspn(buf, "\n")] = '\0';
	report("virtio-blk", r, r >= 0 ? buf : NULL);

	report("interrupts", dump_interrupts(), NULL);
	report("config-gz", dump_config(), NULL);
	printf("KAC-DONE\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	// Power-off failed: a reboot ends QEMU too (the test runs it with -no-reboot).
	reboot(RB_AUTOBOOT);
	return 1;
}

// SPDX-License-Identifier: Apache-2.0
// The boot floor for the VM benchmark: an /init that prints one marker line on the console and
// then does the least a Kata agent must do to count as "up" — accept on vsock port 1024
// (docs/PROTOCOL.md §3.1: the runtime's dial succeeds once port 1024 accepts).  The host times
// QEMU start -> first accepted hybrid-vsock CONNECT (hvsock-wait.c) and compares it with the
// agent's QEMU start -> first Health.Check answer.  Raw syscalls only, no stdio buffering.
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// musl-gcc has no <linux/vm_sockets.h>; the ABI is small and fixed.
#define FLOOR_AF_VSOCK       40
#define FLOOR_VMADDR_CID_ANY 0xffffffffu
#define FLOOR_PORT           1024u

struct floor_sockaddr_vm {
	unsigned short svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(unsigned short) * 2 -
	                       sizeof(unsigned int) * 2 - 1];
};

static void say(const char *s)
{
	// The initramfs provides /dev/console; the kernel opened it as fds 0-2 before exec.
	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		return;
}

static int serve(void)
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
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
	}
}

int main(void)
{
	say("KAC-FLOOR-MARKER\n");
	int r = serve();
	say(r == -EAFNOSUPPORT ? "KAC-FLOOR-ERROR no vsock\n" : "KAC-FLOOR-ERROR listen failed\n");
	// PID 1 must not exit (that panics the guest): wait for the host to stop QEMU.
	for (;;)
		pause();
}

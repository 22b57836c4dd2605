// SPDX-License-Identifier: Apache-2.0
/* Test guest /init for check-vhost-user-vsock-vm (static, musl): echoes every connection on vsock
 * port 1024, and connects out to the host's port 1025 (the daemon's <uds>_1025) to send one line.
 * This runs inside the test VM only; its CID 2 is the vhost-user-vsock daemon under test. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

/* struct sockaddr_vm from linux/vm_sockets.h (musl-gcc has no kernel headers). */
struct sockaddr_vm {
	sa_family_t svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[3];
};
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define VMADDR_CID_ANY  0xffffffffu
#define VMADDR_CID_HOST 2u

static void console(void)
{
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	int fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
}

static void echo(int fd)
{
	static char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));
			if (w <= 0)
				_exit(1);
			off += w;
		}
	_exit(0);
}

/* Retries until the host listens: the test may start its listener after boot. */
static void connect_out(void)
{
	for (int i = 0; i < 120; i++) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		struct sockaddr_vm sa = {
		    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = 1025};
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			static const char line[] = "hello from guest\n";
			if (write(fd, line, sizeof(line) - 1) == sizeof(line) - 1)
				printf("guest-init: sent line to host port 1025\n");
			pause(); /* keep the connection open */
		}
		close(fd);
		sleep(1);
	}
	_exit(1);
}

int main(void)
{
	console();
	signal(SIGCHLD, SIG_IGN); /* children reap themselves */
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm sa = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 1024};
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 16) < 0) {
		printf("guest-init: vsock listen failed: %s\n", strerror(errno));
		for (;;)
			pause();
	}
	printf("guest-init: listening on vsock port 1024\n");
	fflush(stdout);
	if (fork() == 0)
		connect_out();
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		if (fork() == 0) {
			close(l);
			echo(c);
		}
		close(c);
	}
}

#include "addr.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
/* after sys/socket.h: it needs struct sockaddr */
#include <linux/vm_sockets.h>
#include <sys/stat.h>
#include <unistd.h>

static int parse_u32(const char *s, size_t n, unsigned *ret)
{
	if (n == 0 || n > 10)
		return -EINVAL;
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > UINT_MAX)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int set_path(struct addr *a, const char *p, size_t n, const char **err)
{
	if (n > 0 && p[0] == '@') {
		a->abstract = true;
		p++;
		n--;
	}
	if (n == 0) {
		*err = "empty socket path";
		return -EINVAL;
	}
	if (n >= sizeof(a->path)) {
		*err = "socket path too long (at most 107 bytes)";
		return -EINVAL;
	}
	memcpy(a->path, p, n);
	a->path[n] = '\0';
	return 0;
}

int addr_parse(const char *s, struct addr *ret, const char **ret_err)
{
	struct addr a = {0};
	const char *err = NULL;
	if (strncmp(s, "vsock://", 8) == 0) {
		const char *p = s + 8, *colon = strrchr(p, ':');
		a.kind = ADDR_VSOCK;
		if (!colon) {
			err = "vsock address needs CID:PORT";
		} else if ((size_t)(colon - p) == 2 && strncmp(p, "-1", 2) == 0) {
			a.cid = VMADDR_CID_ANY;
		} else if (parse_u32(p, (size_t)(colon - p), &a.cid) < 0) {
			err = "vsock CID must be a number or -1";
		}
		if (!err && parse_u32(colon + 1, strlen(colon + 1), &a.port) < 0)
			err = "vsock port must be a number";
	} else if (strncmp(s, "unix://", 7) == 0) {
		a.kind = ADDR_UNIX;
		set_path(&a, s + 7, strlen(s + 7), &err);
	} else if (strncmp(s, "hvsock://", 9) == 0) {
		const char *p = s + 9, *colon = strrchr(p, ':');
		a.kind = ADDR_HVSOCK;
		if (!colon)
			err = "hvsock address needs UDS_PATH:PORT";
		else if (set_path(&a, p, (size_t)(colon - p), &err) == 0 &&
		         parse_u32(colon + 1, strlen(colon + 1), &a.port) < 0)
			err = "hvsock port must be a number";
	} else {
		err = "unknown scheme (expected vsock://, unix:// or hvsock://)";
	}
	if (err) {
		if (ret_err)
			*ret_err = err;
		return -EINVAL;
	}
	*ret = a;
	return 0;
}

void addr_format(const struct addr *a, char *buf, size_t size)
{
	switch (a->kind) {
	case ADDR_VSOCK:
		if (a->cid == VMADDR_CID_ANY)
			snprintf(buf, size, "vsock://-1:%u", a->port);
		else
			snprintf(buf, size, "vsock://%u:%u", a->cid, a->port);
		break;
	case ADDR_UNIX:
		snprintf(buf, size, "unix://%s%s", a->abstract ? "@" : "", a->path);
		break;
	case ADDR_HVSOCK:
		snprintf(buf, size, "hvsock://%s%s:%u", a->abstract ? "@" : "", a->path, a->port);
		break;
	}
}

static socklen_t unix_sockaddr(const struct addr *a, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	size_t n = strlen(a->path);
	if (a->abstract) {
		memcpy(sun->sun_path + 1, a->path, n);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	}
	memcpy(sun->sun_path, a->path, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

bool addr_peer_allowed(const struct sockaddr *peer, socklen_t len, bool allow_local)
{
	if (len < sizeof(sa_family_t) || peer->sa_family != AF_VSOCK)
		return true;
	if (len < sizeof(struct sockaddr_vm))
		return false;
	const struct sockaddr_vm *vm = (const struct sockaddr_vm *)peer;
	return allow_local || vm->svm_cid == VMADDR_CID_HOST;
}

int addr_accept(int listen_fd, int flags, bool allow_local, unsigned *ret_peer_cid)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, flags);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (addr_peer_allowed((struct sockaddr *)&ss, len, allow_local))
		return fd;
	if (ret_peer_cid)
		*ret_peer_cid = len >= sizeof(struct sockaddr_vm)
		                    ? ((struct sockaddr_vm *)&ss)->svm_cid
		                    : VMADDR_CID_ANY;
	close(fd);
	return -ECONNREFUSED;
}

int addr_listen(const struct addr *a, int backlog, int *ret_fd)
{
	int fd, r;
	if (a->kind == ADDR_VSOCK) {
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		struct sockaddr_vm svm = {
		    .svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->port};
		r = bind(fd, (struct sockaddr *)&svm, sizeof(svm));
	} else if (a->kind == ADDR_UNIX) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		struct sockaddr_un sun;
		socklen_t len = unix_sockaddr(a, &sun);
		struct stat st;
		if (!a->abstract && lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(a->path);
		r = bind(fd, (struct sockaddr *)&sun, len);
	} else {
		return -EOPNOTSUPP; /* hybrid vsock is the VMM's side */
	}
	if (r == 0)
		r = listen(fd, backlog);
	if (r < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Read the hybrid-vsock reply line ("OK <port>\n") byte by byte so no stream data is eaten.
 * *ret_local is the host-side port the VMM names (Firecracker's "OK <port>"), 0 without one. */
static int hvsock_handshake(int fd, unsigned port, int timeout_ms, unsigned *ret_local,
                            const char **err)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write(fd, line, (size_t)n) != n) {
		*err = "sending the CONNECT line";
		return -EIO;
	}
	size_t got = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, timeout_ms);
		if (pr == 0) {
			*err = "no reply to CONNECT within the timeout";
			return -ETIMEDOUT;
		}
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0) {
			*err = "the VMM closed the socket after CONNECT (nothing listens on that "
			       "port?)";
			return r < 0 ? -errno : -ECONNREFUSED;
		}
		if (c == '\n')
			break;
		if (got + 1 >= sizeof(line)) {
			*err = "overlong reply to CONNECT";
			return -EPROTO;
		}
		line[got++] = c;
	}
	line[got] = '\0';
	if (strncmp(line, "OK", 2) != 0) {
		*err = "the VMM refused the CONNECT";
		return -ECONNREFUSED;
	}
	*ret_local = 0;
	if (line[2] == ' ' && parse_u32(line + 3, strlen(line + 3), ret_local) < 0)
		*ret_local = 0;
	return 0;
}

int addr_connect(const struct addr *a, int timeout_ms, int *ret_fd, const char **ret_err)
{
	unsigned local;
	return addr_connect_port(a, timeout_ms, ret_fd, &local, ret_err);
}

int addr_connect_port(const struct addr *a, int timeout_ms, int *ret_fd, unsigned *ret_local_port,
                      const char **ret_err)
{
	unsigned local = 0;
	const char *err = "connect";
	int fd, r;
	if (a->kind == ADDR_VSOCK) {
		fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		struct sockaddr_vm svm = {
		    .svm_family = AF_VSOCK, .svm_cid = a->cid, .svm_port = a->port};
		r = connect(fd, (struct sockaddr *)&svm, sizeof(svm));
	} else {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		struct sockaddr_un sun;
		socklen_t len = unix_sockaddr(a, &sun);
		r = connect(fd, (struct sockaddr *)&sun, len);
	}
	if (r < 0) {
		r = -errno;
		close(fd);
		if (ret_err)
			*ret_err = err;
		return r;
	}
	if (a->kind == ADDR_HVSOCK) {
		r = hvsock_handshake(fd, a->port, timeout_ms, &local, &err);
		if (r < 0) {
			close(fd);
			if (ret_err)
				*ret_err = err;
			return r;
		}
	}
	if (a->kind == ADDR_VSOCK) {
		struct sockaddr_vm me;
		socklen_t len = sizeof(me);
		if (getsockname(fd, (struct sockaddr *)&me, &len) == 0)
			local = me.svm_port;
	}
	*ret_fd = fd;
	*ret_local_port = local;
	return 0;
}

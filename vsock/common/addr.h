/* Agent addresses (docs/PROTOCOL.md §3.1, §5.1):
 *   vsock://CID:PORT   AF_VSOCK; CID -1 means VMADDR_CID_ANY (listening)
 *   unix://PATH        AF_UNIX; a leading '@' selects the abstract namespace
 *   hvsock://UDS:PORT  hybrid vsock: a unix socket to the VMM, then "CONNECT PORT\n" -> "OK ..."
 * Shared by the agent (listen) and the host tools (connect). */
#pragma once

#include <stdbool.h>
#include <sys/un.h>

enum addr_kind {
	ADDR_VSOCK,
	ADDR_UNIX,
	ADDR_HVSOCK,
};

struct addr {
	enum addr_kind kind;
	unsigned cid;                                           /* vsock */
	unsigned port;                                          /* vsock, hvsock */
	bool abstract;                                          /* unix: abstract namespace */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix, hvsock (without '@') */
};

/* Returns 0, or -EINVAL with *ret_err (static string) saying what is wrong. */
int addr_parse(const char *s, struct addr *ret, const char **ret_err);
/* Canonical text form into buf. */
void addr_format(const struct addr *a, char *buf, size_t size);
/* A non-blocking, close-on-exec listening socket.  unix: a stale socket file is replaced. */
int addr_listen(const struct addr *a, int backlog, int *ret_fd);
/* A connected blocking socket; for hvsock the CONNECT handshake is done (waiting up to
 * timeout_ms for the "OK" line).  ret_err describes the failing step. */
int addr_connect(const struct addr *a, int timeout_ms, int *ret_fd, const char **ret_err);

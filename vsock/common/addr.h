/* Agent addresses (docs/PROTOCOL.md §3.1, §5.1):
 *   vsock://CID:PORT   AF_VSOCK; CID -1 means VMADDR_CID_ANY (listening)
 *   unix://PATH        AF_UNIX; a leading '@' selects the abstract namespace
 *   hvsock://UDS:PORT  hybrid vsock: a unix socket to the VMM, then "CONNECT PORT\n" -> "OK ..."
 * Shared by the agent (listen) and the host tools (connect). */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
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
/* Whether a connection from peer may be served: AF_VSOCK peers only from the host
 * (VMADDR_CID_HOST, 2), unless allow_local (a guest process on the loopback transport, or any
 * other CID, could otherwise drive the agent); other families always. */
bool addr_peer_allowed(const struct sockaddr *peer, socklen_t len, bool allow_local);
/* accept4() for every listener of the agent (server, log port, debug console, and any future
 * one such as a passfd port): a connection addr_peer_allowed() refuses is closed at
 * once (*ret_peer_cid says who it was) and -ECONNREFUSED returned; otherwise the new fd, or -errno
 * (-EAGAIN when nobody waits). */
int addr_accept(int listen_fd, int flags, bool allow_local, unsigned *ret_peer_cid);
/* A connected blocking socket; for hvsock the CONNECT handshake is done (waiting up to
 * timeout_ms for the "OK" line).  ret_err describes the failing step. */
int addr_connect(const struct addr *a, int timeout_ms, int *ret_fd, const char **ret_err);
/* The same, with the connection's local port: vsock's own, or for hvsock the host-side port the
 * VMM's "OK <port>" reply names (0 when the reply has none; the connection still stands).  The
 * agent sees it as the peer port: what passfd's stdin_port/stdout_port/stderr_port name. */
int addr_connect_port(const struct addr *a, int timeout_ms, int *ret_fd, unsigned *ret_local_port,
                      const char **ret_err);

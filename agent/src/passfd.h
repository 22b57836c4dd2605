// SPDX-License-Identifier: Apache-2.0
/* passfd I/O (runtime-rs with Dragonball; docs/PROTOCOL.md, "passfd stdio").  Off unless
 * agent.passfd_listener_port=N: the agent then listens on vsock port N and keeps each accepted
 * host connection under the peer's (host-side) port.  CreateContainer and ExecProcess name up to
 * three of those ports (stdin_port, stdout_port, stderr_port); the process's stdio is pumped
 * between its pipes (or pty) and the claimed connections by the agent's loop.  The process keeps
 * pipes, not sockets, so /dev/stdout and /proc/self/fd/1 open as they do without passfd (Linux
 * refuses to open() a socket through /proc). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loop.h"

/* A connection the request names but that has not been accepted yet is waited for this long.
 * Upstream's agent retries 3 times 100 ms; a TCG guest on a busy host needs more. */
#define PASSFD_WAIT_MS 1000
/* Accepted connections nobody claimed: beyond this many, the oldest is closed. */
#define PASSFD_MAX_PENDING 64
/* Tests on the host (no vsock): listen on this address instead (unix://...).  A unix peer's
 * "port" is the number after the last ':' of the name it bound (tests/unit/test_passfd.c). */
#define PASSFD_ADDR_ENV "KATA_AGENT_PASSFD_ADDR"

enum { PASSFD_STDIN, PASSFD_STDOUT, PASSFD_STDERR, PASSFD_NSTREAMS };

void passfd_start(const struct agent_config *cfg);
void passfd_stop(void);
int passfd_listen(struct loop *l, const char *addr_text);
bool passfd_enabled(void);
/* Keep fd under port (what accept does; tests call it directly).  Takes ownership. */
void passfd_put(uint32_t port, int fd);
unsigned passfd_pending(void);

/* Claim the connections of ports[] (0: that stream is not passed).  done() gets r = 0 and the
 * fds (-1 for unused streams; ownership passes), or r < 0 with msg saying which port is missing
 * (-ETIMEDOUT after PASSFD_WAIT_MS) or what is wrong (-EINVAL: a port named twice).  It may run
 * before passfd_claim returns (*ret is then NULL).  With passfd off, every fd is -1 at once. */
struct passfd_claim;
typedef void (*passfd_done_fn)(void *data, int r, const char *msg, int fds[PASSFD_NSTREAMS]);
int passfd_claim(const uint32_t ports[PASSFD_NSTREAMS], passfd_done_fn done, void *data,
                 struct passfd_claim **ret);
/* Forget a claim whose request went away: the connections it took are closed. */
void passfd_claim_cancel(struct passfd_claim *c);
void passfd_close_fds(int fds[PASSFD_NSTREAMS]);

/* A one-way copy between two fds on the loop.  Output pumps (process -> host) end at the
 * source's EOF (a pty master's EIO included) or, once passfd_pump_drain() was called, as soon as
 * the source has nothing buffered (a grandchild may hold the pipe: the same bound as
 * ReadStdout's); the host then sees EOF (shutdown(SHUT_WR)).  Input pumps (host -> process)
 * end at the connection's EOF, closing the pipe.  done() runs after the current loop batch. */
struct passfd_pump;
typedef void (*passfd_pump_done_fn)(struct passfd_pump *pp, void *data);
int passfd_pump_new(struct loop *l, int src, int dst, passfd_pump_done_fn done, void *data,
                    struct passfd_pump **ret);
void passfd_pump_drain(struct passfd_pump *pp);
bool passfd_pump_done(const struct passfd_pump *pp);
unsigned long long passfd_pump_bytes(const struct passfd_pump *pp);
void passfd_pump_free(struct passfd_pump *pp);

/* ctr-bench (ctr_bench.c): the stdout throughput rounds.
 *
 * ReadStdout throughput: a container running busybox `dd if=/dev/zero bs=32768 count=N/32K`,
 * read with ReadStdout len=32768 one call at a time (as the Kata runtime reads) until N bytes
 * arrived, against a raw copy: the same busybox dd writing into one end of a unix socketpair
 * and a reader doing read(32 KiB) on the other end.  (Not `head -c`: busybox's copies through
 * stdio 4 KiB at a time and is CPU-bound near 120 MiB/s here, which would hide both sides.)  So the
 * only difference is the agent's relay (pipe -> agent -> ttrpc frame -> unix socket).  The read
 * path here is kept lean on purpose (one reused buffer, responses walked in place, no copies) so
 * that the client does no more per byte than the raw reader does.
 *
 * The raw copy is not the floor of ReadStdout: with one 32 KiB read in flight every chunk costs
 * a request/response round trip.  The floor is the same-shape relay (stdout_relay): the same dd
 * writes into a pipe; a relay process answers each 64-byte request on a unix socketpair with a
 * 10-byte ttrpc header and up to 32 KiB read from the pipe straight behind it (one read, one
 * write, no copy); the client here keeps one request in flight and reads each response as it
 * reads the agent's (header, then body).  ReadStdout ÷ relay is the figure to judge.  The
 * relay's writer runs in a cgroup of its own under the containers' parent (cpu controller), as
 * the container's writer does: on a loaded machine the scheduler treats a task alone in a group
 * differently from one among the root's tasks (in one run here, 267 MiB/s in the root
 * and 164 MiB/s in a group of its own, the agent at 141).
 *
 * passfd stdout (docs/PROTOCOL.md, "passfd stdio"): the same container and writer as the
 * ReadStdout round, but created as runtime-rs creates it with passfd I/O: a connection to the
 * agent's passfd listener first, then CreateContainer naming that connection's port as
 * stdout_port; the agent pumps the container's stdout pipe straight into the connection, and
 * this client reads it with read(32 KiB), as the raw copy's reader does, until EOF.  On the host
 * the listener is a unix socket (KATA_AGENT_PASSFD_ADDR, what the agent's host tests use; in a
 * guest it is vsock) and a unix peer's port is the number after the last ':' of the abstract
 * name it bound (agent/src/passfd.h).  Against the raw copy the difference is the agent's pump
 * (pipe -> agent -> unix socket), with no RPC per chunk. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "agent.pb-c.h"
#include "pbjson.h"
#include "ttrpc.pb-c.h"
#include "ttrpc_client.h"
#include "ttrpc_frame.h"
#include "util.h"

#include "ctr_bench.h"

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t got = read(fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got == 0 ? -ECONNRESET : -errno;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

/* The length-delimited field `field` of a protobuf message, in place; other fields skipped.
 * Returns 1 found, 0 absent, -EPROTO malformed. */
static int pb_bytes(const uint8_t *p, size_t n, unsigned field, const uint8_t **ret,
                    size_t *ret_len)
{
	size_t i = 0;
	while (i < n) {
		uint64_t key = 0, len = 0;
		for (unsigned s = 0;; s += 7) {
			if (i == n || s > 63)
				return -EPROTO;
			key |= (uint64_t)(p[i] & 0x7f) << s;
			if (!(p[i++] & 0x80))
				break;
		}
		switch (key & 7) {
		case 0: /* varint */
			while (i < n && (p[i] & 0x80))
				i++;
			if (i++ == n)
				return -EPROTO;
			continue;
		case 1:
			len = 8;
			break;
		case 5:
			len = 4;
			break;
		case 2:
			for (unsigned s = 0;; s += 7) {
				if (i == n || s > 63)
					return -EPROTO;
				len |= (uint64_t)(p[i] & 0x7f) << s;
				if (!(p[i++] & 0x80))
					break;
			}
			break;
		default:
			return -EPROTO;
		}
		if (len > n - i)
			return -EPROTO;
		if ((key & 7) == 2 && key >> 3 == field) {
			*ret = p + i;
			*ret_len = len;
			return 1;
		}
		i += len;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* One ReadStdout; *ret_len is the chunk's length, 0 at EOF. */
static int read_stdout(struct bench *b, const struct life *l, size_t *ret_len)
{
	long stream = ttrpc_client_send(&b->c, SERVICE, "ReadStdout", l->read.p, l->read.len, 0);
	if (stream < 0)
		return (int)stream;
	uint8_t hb[TTRPC_HDR_LEN];
	struct ttrpc_hdr h;
	int r = read_full(b->c.fd, hb, sizeof(hb));
	if (r < 0)
		return r;
	ttrpc_hdr_decode(hb, &h);
	if (h.length > b->rx_cap || h.type != TTRPC_RESPONSE || h.stream_id != (uint32_t)stream)
		return -EPROTO;
	if ((r = read_full(b->c.fd, b->rx, h.length)) < 0)
		return r;
	const uint8_t *st, *payload = NULL, *data = NULL;
	size_t st_len, payload_len = 0, data_len = 0;
	if ((r = pb_bytes(b->rx, h.length, 1, &st, &st_len)) != 0) {
		Ttrpc__Status *s = r > 0 ? ttrpc__status__unpack(NULL, st_len, st) : NULL;
		if (s && s->code == 0) {
			ttrpc__status__free_unpacked(s, NULL);
		} else {
			fprintf(stderr, "ctr-bench: ReadStdout %s: status %d: %s\n", l->id,
			        s ? s->code : -1, s && s->message ? s->message : "undecodable");
			if (s)
				ttrpc__status__free_unpacked(s, NULL);
			return -EIO;
		}
	}
	if ((r = pb_bytes(b->rx, h.length, 2, &payload, &payload_len)) < 0 ||
	    (r > 0 && (r = pb_bytes(payload, payload_len, 1, &data, &data_len)) < 0))
		return r;
	if (b->o->verify && !all_zero(data, data_len)) {
		fprintf(stderr, "ctr-bench: ReadStdout %s: bytes other than zero\n", l->id);
		return -EIO;
	}
	*ret_len = data_len;
	return 0;
}

uint64_t stdout_bytes(const struct opts *o)
{
	return (uint64_t)o->stdout_mib << 20;
}

/* The end of a stdout round through the agent: all want bytes came, the container exited 0 and
 * is removed. */
static int stdout_done(struct bench *b, const char *what, const struct life *l, uint64_t got,
                       uint64_t want)
{
	if (got != want) {
		fprintf(stderr, "ctr-bench: %s %s: %llu bytes before EOF, not %llu\n", what, l->id,
		        (unsigned long long)got, (unsigned long long)want);
		return -EIO;
	}
	b->calls++;
	int r = call_wait(b, l->id, &l->wait);
	return r < 0 ? r : call_ok(b, "RemoveContainer", l->id, &l->remove);
}

int stdout_ours(struct bench *b, unsigned round, uint64_t *ret_ns)
{
	char id[64], args[160];
	uint64_t want = stdout_bytes(b->o), got = 0;
	snprintf(id, sizeof(id), "stdout-%u", round);
	snprintf(args, sizeof(args),
	         "[\"dd\",\"if=/dev/zero\",\"bs=%u\",\"count=%llu\",\"status=none\"]", CHUNK,
	         (unsigned long long)(want / CHUNK));
	_cleanup_(life_free) struct life l = {0};
	int r = life_prepare(b, id, args, 0, &l);
	if (r < 0 || (r = call_ok(b, "CreateContainer", id, &l.create)) < 0 ||
	    (r = call_ok(b, "StartContainer", id, &l.start)) < 0)
		return r;
	uint64_t t0 = mono_ns(), t1 = 0;
	for (;;) {
		size_t n = 0;
		if ((r = read_stdout(b, &l, &n)) < 0) {
			fprintf(stderr, "ctr-bench: ReadStdout %s: %s\n", id, strerror(-r));
			return r;
		}
		got += n;
		b->reads += n > 0;
		b->read_bytes += n;
		if (got == want && !t1)
			t1 = mono_ns();
		if (n == 0)
			break;
	}
	if ((r = stdout_done(b, "ReadStdout", &l, got, want)) < 0)
		return r;
	*ret_ns = t1 - t0;
	return 0;
}

/* The reader of the raw copy and of passfd: read(CHUNK) from fd until EOF.  *ret_ns: from t0
 * until the last wanted byte arrived; *ret_got: the bytes before EOF. */
static int read_to_eof(struct bench *b, int fd, const char *what, uint64_t t0, uint64_t want,
                       uint64_t *ret_got, uint64_t *ret_ns)
{
	uint64_t got = 0, t1 = 0;
	for (;;) {
		ssize_t n = read(fd, b->rx, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			fprintf(stderr, "ctr-bench: %s: read after %llu bytes: %s\n", what,
			        (unsigned long long)got, strerror(-r));
			return r;
		}
		if (b->o->verify && !all_zero(b->rx, (size_t)n)) {
			fprintf(stderr, "ctr-bench: %s: bytes other than zero\n", what);
			return -EIO;
		}
		got += (uint64_t)n;
		if (got == want && !t1)
			t1 = mono_ns();
		if (n == 0)
			break;
	}
	*ret_got = got;
	*ret_ns = t1 ? t1 - t0 : 0;
	return 0;
}

int stdout_raw(struct bench *b, uint64_t *ret_ns)
{
	uint64_t want = stdout_bytes(b->o), got = 0;
	char bs[32], count[32];
	snprintf(bs, sizeof(bs), "bs=%u", CHUNK);
	snprintf(count, sizeof(count), "count=%llu", (unsigned long long)(want / CHUNK));
	char *argv[] = {(char *)b->o->busybox, (char *)"dd", (char *)"if=/dev/zero", bs, count,
	                (char *)"status=none", NULL};
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	_cleanup_close_ int rd = sv[0];
	pid_t pid = -1;
	int r = spawn(argv, sv[1], &pid);
	close(sv[1]);
	if (r < 0)
		return r;
	r = read_to_eof(b, rd, "raw copy", mono_ns(), want, &got, ret_ns);
	int rr = reap(pid, "raw copy writer");
	if (r < 0 || rr < 0)
		return r < 0 ? r : rr;
	if (got != want) {
		fprintf(stderr, "ctr-bench: raw copy: %llu bytes, not %llu\n",
		        (unsigned long long)got, (unsigned long long)want);
		return -EIO;
	}
	b->calls++;
	return 0;
}

/* ---- passfd stdout ---- */

/* The host-side port of round N's stdout connection: any number the agent's table does not
 * hold yet (a port connecting again would replace an unclaimed predecessor). */
#define PASSFD_PORT0 40000u

/* A connection to the agent's passfd listener (a unix address) from the abstract name
 * "ctr-bench-PID:PORT", the name the agent takes the port from. */
static int passfd_dial(const struct bench *b, unsigned port, int *ret_fd)
{
	struct addr a;
	const char *err = "not a unix:// address";
	if (addr_parse(b->o->passfd_addr, &a, &err) < 0 || a.kind != ADDR_UNIX) {
		fprintf(stderr, "ctr-bench: --passfd-addr %s: %s\n", b->o->passfd_addr, err);
		return -EINVAL;
	}
	struct sockaddr_un me = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
	int n = snprintf(me.sun_path + 1, sizeof(me.sun_path) - 1, "ctr-bench-%d:%u", (int)getpid(),
	                 port);
	size_t plen = strlen(a.path);
	if (plen + 1 >= sizeof(to.sun_path))
		return -ENAMETOOLONG;
	memcpy(to.sun_path + (a.abstract ? 1 : 0), a.path, plen);
	socklen_t tlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + a.abstract);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* An agent that stops pumping must fail the run, not hang it. */
	struct timeval tv = {.tv_sec = CALL_TIMEOUT / 1000};
	if (bind(fd, (struct sockaddr *)&me,
	         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, tlen) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		int r = -errno;
		fprintf(stderr, "ctr-bench: passfd connection to %s: %s\n", b->o->passfd_addr,
		        strerror(-r));
		return r;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* The ReadStdout round's container, its stdout passed to a connection of ours (passfd). */
int stdout_passfd(struct bench *b, unsigned round, uint64_t *ret_ns)
{
	char id[64], args[160];
	uint64_t want = stdout_bytes(b->o), got = 0;
	unsigned port = PASSFD_PORT0 + round;
	snprintf(id, sizeof(id), "passfd-%u", round);
	snprintf(args, sizeof(args),
	         "[\"dd\",\"if=/dev/zero\",\"bs=%u\",\"count=%llu\",\"status=none\"]", CHUNK,
	         (unsigned long long)(want / CHUNK));
	_cleanup_(life_free) struct life l = {0};
	_cleanup_close_ int fd = -1;
	/* As runtime-rs does: the connection first, then the request naming its port. */
	int r = passfd_dial(b, port, &fd);
	if (r < 0 || (r = life_prepare(b, id, args, port, &l)) < 0 ||
	    (r = call_ok(b, "CreateContainer", id, &l.create)) < 0 ||
	    (r = call_ok(b, "StartContainer", id, &l.start)) < 0)
		return r;
	if ((r = read_to_eof(b, fd, "passfd stdout", mono_ns(), want, &got, ret_ns)) < 0)
		return r;
	b->passfd_bytes += got;
	return stdout_done(b, "passfd stdout", &l, got, want);
}

/* ---- the same-shape relay: the protocol floor of ReadStdout ---- */

#define RELAY_REQ 64 /* bytes per request: about what a ReadStdout request frame is */

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t put = write(fd, p, n);
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return -errno;
		p += put;
		n -= (size_t)put;
	}
	return 0;
}

/* The relay process: per request, one read(2) of up to CHUNK bytes from the pipe into the
 * buffer behind the header, then one write(2) of header and data.  A 0-byte answer is EOF. */
static _Noreturn void relay_serve(int pipe_rd, int sock)
{
	static uint8_t buf[TTRPC_HDR_LEN + CHUNK];
	uint8_t req[RELAY_REQ];
	for (uint32_t stream = 1;; stream += 2) {
		if (read_full(sock, req, sizeof(req)) < 0)
			_exit(0); /* the client went away */
		ssize_t n;
		while ((n = read(pipe_rd, buf + TTRPC_HDR_LEN, CHUNK)) < 0 && errno == EINTR)
			;
		if (n < 0)
			_exit(1);
		struct ttrpc_hdr h = {
		    .length = (uint32_t)n, .stream_id = stream, .type = TTRPC_RESPONSE};
		ttrpc_hdr_encode(buf, &h);
		if (write_full(sock, buf, TTRPC_HDR_LEN + (size_t)n) < 0)
			_exit(1);
		if (n == 0)
			_exit(0);
	}
}

/* One relay round trip; *ret_len is the chunk's length, 0 at EOF. */
static int relay_read(struct bench *b, int sock, uint32_t stream, size_t *ret_len)
{
	uint8_t req[RELAY_REQ] = {0}, hb[TTRPC_HDR_LEN];
	struct ttrpc_hdr h;
	int r = write_full(sock, req, sizeof(req));
	if (r < 0 || (r = read_full(sock, hb, sizeof(hb))) < 0)
		return r;
	ttrpc_hdr_decode(hb, &h);
	if (h.length > CHUNK || h.type != TTRPC_RESPONSE || h.stream_id != stream)
		return -EPROTO;
	if ((r = read_full(sock, b->rx, h.length)) < 0)
		return r;
	if (b->o->verify && !all_zero(b->rx, h.length)) {
		fprintf(stderr, "ctr-bench: relay: bytes other than zero\n");
		return -EIO;
	}
	*ret_len = h.length;
	return 0;
}

/* The relay writer's cgroup: PARENT/relay-writer in the cpu hierarchy (cgroup v1) or the
 * unified one; its cgroup.procs path in procs.  The caller removes the directory (dir). */
static int relay_cgroup(const struct bench *b, char dir[static 512], char procs[static 600])
{
	const char *root =
	    access("/sys/fs/cgroup/cpu", F_OK) == 0 ? "/sys/fs/cgroup/cpu" : "/sys/fs/cgroup";
	snprintf(dir, 512, "%s/%s/relay-writer", root, b->o->cgroup_parent);
	snprintf(procs, 600, "%s/cgroup.procs", dir);
	char parent[512];
	snprintf(parent, sizeof(parent), "%s/%s", root, b->o->cgroup_parent);
	if ((mkdir(parent, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0755) < 0 && errno != EEXIST)) {
		fprintf(stderr, "ctr-bench: relay: mkdir %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

int stdout_relay(struct bench *b, uint64_t *ret_ns)
{
	char cg_dir[512], cg_procs[600];
	int cr = relay_cgroup(b, cg_dir, cg_procs);
	if (cr < 0)
		return cr;
	uint64_t want = stdout_bytes(b->o), got = 0;
	char bs[32], count[32];
	snprintf(bs, sizeof(bs), "bs=%u", CHUNK);
	snprintf(count, sizeof(count), "count=%llu", (unsigned long long)(want / CHUNK));
	char *argv[] = {(char *)b->o->busybox, (char *)"dd", (char *)"if=/dev/zero", bs, count,
	                (char *)"status=none", NULL};
	int pfd[2], sv[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	_cleanup_close_ int sock = sv[0];
	pid_t writer = -1, relay = -1;
	int r = spawn_in(argv, pfd[1], cg_procs, &writer);
	close(pfd[1]);
	if (r == 0) {
		if ((relay = fork()) < 0)
			r = -errno;
		else if (relay == 0) {
			close(sv[0]);
			relay_serve(pfd[0], sv[1]);
		}
	}
	close(pfd[0]);
	close(sv[1]);
	uint64_t t0 = mono_ns(), t1 = 0;
	for (uint32_t stream = 1; r == 0; stream += 2) {
		size_t n = 0;
		if ((r = relay_read(b, sock, stream, &n)) < 0)
			break;
		got += n;
		if (got == want && !t1)
			t1 = mono_ns();
		if (n == 0)
			break;
	}
	if (r < 0)
		shutdown(sock, SHUT_RDWR); /* lets the relay process exit */
	int rw = writer > 0 ? reap(writer, "relay writer") : 0;
	int rr = relay > 0 ? reap(relay, "relay") : 0;
	if (rmdir(cg_dir) < 0 && rw == 0)
		rw = -errno;
	if (r < 0 || rw < 0 || rr < 0)
		return r < 0 ? r : rw < 0 ? rw : rr;
	if (got != want) {
		fprintf(stderr, "ctr-bench: relay: %llu bytes, not %llu\n", (unsigned long long)got,
		        (unsigned long long)want);
		return -EIO;
	}
	b->calls++;
	*ret_ns = t1 - t0;
	return 0;
}

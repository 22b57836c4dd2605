/* ctr-bench: the measuring client of the container benchmarks (tests/bench/ctr-bench.sh).
 *
 * Lifecycle: create+start+wait+remove of /bin/true through our agent — CreateContainer (a
 * fresh id), StartContainer, WaitProcess, RemoveContainer over one ttrpc connection — against
 * `crun run --bundle DIR ID` of an equivalent config.json (same rootfs, args, capabilities,
 * namespaces, /proc mount, cgroup parent), which also creates, starts, waits for and deletes
 * the container.  Both configurations are written here from the same values so they cannot
 * drift apart.  The two run alternately (ours, crun, crun, ours, ...) so slow phases of the
 * shared machine hit both; the figure is the median per-iteration wall time.  Every request is
 * encoded before its iteration's clock starts; crun's time includes its fork and exec, which
 * is what `crun run` costs a caller, and `crun --version` is timed too (crun_start_ms) so
 * that the report can show crun's container work without its process start.
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
 * (pipe -> agent -> unix socket), with no RPC per chunk.
 *
 * Every call is checked (ttrpc status OK, WaitProcess status 0, crun exit 0, byte counts
 * exact, and with --verify that every byte read is zero); any failure makes the exit status 1.
 * Output: one line of key=value results. */
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

#define SERVICE      "grpc.AgentService"
#define CALL_TIMEOUT 60000 /* ms: no call should come near this; a hung agent fails the run */
#define CHUNK        32768u
#define MAX_ITER     100000
#define CAPS                                                                                       \
	"[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FOWNER\",\"CAP_KILL\","                         \
	"\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\"]"

struct opts {
	const char *socket, *passfd_addr, *bundle, *crun, *busybox, *cgroup_parent;
	unsigned iterations, warmup, rounds, stdout_mib;
	bool verify;
};

struct bench {
	const struct opts *o;
	struct ttrpc_client c;
	char rootfs[4096];
	uint8_t *rx; /* the ReadStdout receive buffer */
	size_t rx_cap;
	unsigned long calls;        /* checked operations that succeeded */
	uint64_t reads, read_bytes; /* ReadStdout calls with data, and their bytes */
	uint64_t passfd_bytes;      /* bytes read from passfd connections */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct packed {
	uint8_t *p;
	size_t len;
};

static void packed_free(struct packed *m)
{
	free(m->p);
	m->p = NULL;
}

/* JSON (kata-agent-ctl's mapping) -> a packed request of type desc. */
static int pack_json(const ProtobufCMessageDescriptor *desc, const char *json, struct packed *ret)
{
	ProtobufCMessage *m = NULL;
	char *err = NULL;
	int r = pbjson_from_json(desc, json, &m, &err);
	if (r < 0) {
		fprintf(stderr, "ctr-bench: %s: %s\n", desc->name, err ? err : strerror(-r));
		free(err);
		return r;
	}
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p = malloc(n ? n : 1);
	if (!p) {
		protobuf_c_message_free_unpacked(m, NULL);
		return -ENOMEM;
	}
	protobuf_c_message_pack(m, p);
	protobuf_c_message_free_unpacked(m, NULL);
	*ret = (struct packed){.p = p, .len = n};
	return 0;
}

/* One call; any transport error or non-OK status is a failure.  The response payload is
 * left in *ret (the caller frees it). */
static int call(struct bench *b, const char *method, const char *id, const struct packed *req,
                struct ttrpc_result *ret)
{
	int r = ttrpc_client_call(&b->c, SERVICE, method, req->p, req->len, 0, CALL_TIMEOUT, ret);
	if (r < 0) {
		fprintf(stderr, "ctr-bench: %s %s: %s\n", method, id, strerror(-r));
		return r;
	}
	if (ret->code != 0) {
		fprintf(stderr, "ctr-bench: %s %s: status %d: %s\n", method, id, ret->code,
		        ret->message);
		ttrpc_result_free(ret);
		return -EIO;
	}
	b->calls++;
	return 0;
}

static int call_ok(struct bench *b, const char *method, const char *id, const struct packed *req)
{
	struct ttrpc_result res = {0};
	int r = call(b, method, id, req, &res);
	ttrpc_result_free(&res);
	return r;
}

/* WaitProcess, which must report exit status 0. */
static int call_wait(struct bench *b, const char *id, const struct packed *req)
{
	struct ttrpc_result res = {0};
	int r = call(b, "WaitProcess", id, req, &res);
	if (r < 0)
		return r;
	Grpc__WaitProcessResponse *w =
	    grpc__wait_process_response__unpack(NULL, res.len, res.payload);
	ttrpc_result_free(&res);
	if (!w) {
		fprintf(stderr, "ctr-bench: WaitProcess %s: undecodable response\n", id);
		return -EPROTO;
	}
	int status = w->status;
	grpc__wait_process_response__free_unpacked(w, NULL);
	if (status != 0) {
		fprintf(stderr, "ctr-bench: %s exited with status %d, not 0\n", id, status);
		return -EIO;
	}
	return 0;
}

/* The four requests of one container's life, encoded ahead of its timed window. */
struct life {
	char id[64];
	struct packed create, start, wait, remove, read;
};

static void life_free(struct life *l)
{
	packed_free(&l->create);
	packed_free(&l->start);
	packed_free(&l->wait);
	packed_free(&l->remove);
	packed_free(&l->read);
}

/* stdout_port: the passfd port of the container's stdout (0: a pipe read with ReadStdout). */
static int life_prepare(const struct bench *b, const char *id, const char *args_json,
                        unsigned stdout_port, struct life *ret)
{
	struct life l = {0};
	snprintf(l.id, sizeof(l.id), "%s", id);
	char port[40] = "";
	if (stdout_port)
		snprintf(port, sizeof(port), "\"stdout_port\":%u,", stdout_port);
	/* The agent's CreateContainer: the OCI spec as the Kata runtime sends it (the oci.proto
	 * spelling of kata-agent-ctl's JSON mapping), equivalent to crun_config() below. */
	_cleanup_free_ char *json = NULL;
	if (asprintf(&json,
	             "{%s\"container_id\":\"%s\",\"exec_id\":\"%s\",\"OCI\":{\"Version\":\"1.0.2\","
	             "\"Process\":{\"Terminal\":false,\"User\":{\"UID\":0,\"GID\":0},\"Args\":%s,"
	             "\"Env\":[\"PATH=/bin\"],\"Cwd\":\"/\",\"Capabilities\":{\"Bounding\":" CAPS
	             ",\"Effective\":" CAPS ",\"Permitted\":" CAPS "},\"NoNewPrivileges\":true},"
	             "\"Root\":{\"Path\":\"%s\",\"Readonly\":false},\"Hostname\":\"ctr-bench\","
	             "\"Mounts\":[{\"destination\":\"/proc\",\"source\":\"proc\",\"type\":\"proc\","
	             "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]}],"
	             "\"Linux\":{\"CgroupsPath\":\"/%s/%s\",\"Namespaces\":[{\"Type\":\"pid\"},"
	             "{\"Type\":\"ipc\"},{\"Type\":\"uts\"},{\"Type\":\"mount\"}]}}}",
	             port, id, id, args_json, b->rootfs, b->o->cgroup_parent, id) < 0)
		return -ENOMEM;
	char small[256];
	int r = pack_json(&grpc__create_container_request__descriptor, json, &l.create);
	snprintf(small, sizeof(small), "{\"container_id\":\"%s\"}", id);
	if (r == 0)
		r = pack_json(&grpc__start_container_request__descriptor, small, &l.start);
	snprintf(small, sizeof(small), "{\"container_id\":\"%s\",\"timeout\":0}", id);
	if (r == 0)
		r = pack_json(&grpc__remove_container_request__descriptor, small, &l.remove);
	snprintf(small, sizeof(small), "{\"container_id\":\"%s\",\"exec_id\":\"%s\"}", id, id);
	if (r == 0)
		r = pack_json(&grpc__wait_process_request__descriptor, small, &l.wait);
	snprintf(small, sizeof(small), "{\"container_id\":\"%s\",\"exec_id\":\"%s\",\"len\":%u}",
	         id, id, CHUNK);
	if (r == 0)
		r = pack_json(&grpc__read_stream_request__descriptor, small, &l.read);
	if (r < 0) {
		life_free(&l);
		return r;
	}
	*ret = l;
	return 0;
}

/* The phases of one lifecycle: CreateContainer, StartContainer, WaitProcess, RemoveContainer. */
enum { PH_CREATE, PH_START, PH_WAIT, PH_REMOVE, PH_N };
static const char *const phase_name[PH_N] = {"create", "start", "wait", "remove"};

/* *ret_ns: the whole lifecycle; ret_phase[PH_N]: each call's share of it. */
static int agent_lifecycle(struct bench *b, unsigned n, uint64_t *ret_ns, uint64_t *ret_phase)
{
	char id[64];
	snprintf(id, sizeof(id), "ours-%u", n);
	_cleanup_(life_free) struct life l = {0};
	int r = life_prepare(b, id, "[\"/bin/true\"]", 0, &l);
	if (r < 0)
		return r;
	uint64_t t[PH_N + 1];
	t[0] = mono_ns();
	if ((r = call_ok(b, "CreateContainer", id, &l.create)) < 0)
		return r;
	t[1] = mono_ns();
	if ((r = call_ok(b, "StartContainer", id, &l.start)) < 0)
		return r;
	t[2] = mono_ns();
	if ((r = call_wait(b, id, &l.wait)) < 0)
		return r;
	t[3] = mono_ns();
	if ((r = call_ok(b, "RemoveContainer", id, &l.remove)) < 0)
		return r;
	t[4] = mono_ns();
	*ret_ns = t[PH_N] - t[0];
	for (unsigned i = 0; i < PH_N; i++)
		ret_phase[i] = t[i + 1] - t[i];
	return 0;
}

/* crun's config.json: the same container as life_prepare() describes to the agent. */
static int crun_config(const struct bench *b)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/config.json", b->o->bundle);
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f,
	        "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,"
	        "\"gid\":0},\"args\":[\"/bin/true\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\","
	        "\"capabilities\":{\"bounding\":" CAPS ",\"effective\":" CAPS ",\"permitted\":" CAPS
	        "},\"noNewPrivileges\":true},"
	        "\"root\":{\"path\":\"%s\",\"readonly\":false},\"hostname\":\"ctr-bench\","
	        "\"mounts\":[{\"destination\":\"/proc\",\"source\":\"proc\",\"type\":\"proc\","
	        "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]}],"
	        "\"linux\":{\"cgroupsPath\":\"/%s/crun\",\"namespaces\":[{\"type\":\"pid\"},"
	        "{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}]}}\n",
	        b->rootfs, b->o->cgroup_parent);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* fork + exec argv with stdin from /dev/null and stdout to out_fd (-1: inherit); with procs
 * (a cgroup.procs path), the child moves itself there first. */
static int spawn_in(char *const argv[], int out_fd, const char *procs, pid_t *ret_pid)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || (out_fd >= 0 && dup2(out_fd, 1) < 0))
			_exit(126);
		if (procs) {
			int fd = open(procs, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0", 1) != 1)
				_exit(125);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
}

static int spawn(char *const argv[], int out_fd, pid_t *ret_pid)
{
	return spawn_in(argv, out_fd, NULL, ret_pid);
}

static int reap(pid_t pid, const char *what)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "ctr-bench: %s: %s %d\n", what,
		        WIFEXITED(st) ? "exit status" : "killed by signal",
		        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -EIO;
	}
	return 0;
}

static int crun_run(struct bench *b, unsigned n, uint64_t *ret_ns)
{
	char id[64];
	snprintf(id, sizeof(id), "crun-%u", n);
	char *argv[] = {
	    (char *)b->o->crun, (char *)"run", (char *)"--bundle", (char *)b->o->bundle, id, NULL};
	pid_t pid = -1;
	uint64_t t0 = mono_ns();
	int r = spawn(argv, -1, &pid);
	if (r < 0)
		return r;
	if ((r = reap(pid, "crun run")) < 0)
		return r;
	*ret_ns = mono_ns() - t0;
	b->calls++;
	return 0;
}

/* `crun --version`: what starting the crun binary costs by itself (dynamic linking, its
 * libraries' constructors), to tell it apart from the container work in crun_run(). */
static int crun_start(struct bench *b, uint64_t *ret_ns)
{
	char *argv[] = {(char *)b->o->crun, (char *)"--version", NULL};
	_cleanup_close_ int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		return -errno;
	pid_t pid = -1;
	uint64_t t0 = mono_ns();
	int r = spawn(argv, null, &pid);
	if (r < 0 || (r = reap(pid, "crun --version")) < 0)
		return r;
	*ret_ns = mono_ns() - t0;
	return 0;
}

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

static uint64_t stdout_bytes(const struct opts *o)
{
	return (uint64_t)o->stdout_mib << 20;
}

static int stdout_ours(struct bench *b, unsigned round, uint64_t *ret_ns)
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
	if (got != want) {
		fprintf(stderr, "ctr-bench: ReadStdout %s: %llu bytes before EOF, not %llu\n", id,
		        (unsigned long long)got, (unsigned long long)want);
		return -EIO;
	}
	b->calls++;
	if ((r = call_wait(b, id, &l.wait)) < 0 ||
	    (r = call_ok(b, "RemoveContainer", id, &l.remove)) < 0)
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

static int stdout_raw(struct bench *b, uint64_t *ret_ns)
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
static int stdout_passfd(struct bench *b, unsigned round, uint64_t *ret_ns)
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
	if (got != want) {
		fprintf(stderr, "ctr-bench: passfd stdout %s: %llu bytes before EOF, not %llu\n",
		        id, (unsigned long long)got, (unsigned long long)want);
		return -EIO;
	}
	b->calls++;
	if ((r = call_wait(b, id, &l.wait)) < 0 ||
	    (r = call_ok(b, "RemoveContainer", id, &l.remove)) < 0)
		return r;
	return 0;
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

static int stdout_relay(struct bench *b, uint64_t *ret_ns)
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v in place. */
static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double mib_s(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes / (1 << 20) / ((double)ns / 1e9) : 0.0;
}

/* Lifecycle: warmup untimed, then iterations alternating which side goes first.  phase holds
 * PH_N rows of iterations: the time of each of our calls. */
static int bench_lifecycle(struct bench *b, uint64_t *ours, uint64_t *phase, uint64_t *crun,
                           uint64_t *start)
{
	const struct opts *o = b->o;
	uint64_t t, ph[PH_N];
	for (unsigned i = 0; i < o->warmup; i++) {
		int r = agent_lifecycle(b, o->iterations + i, &t, ph);
		if (r < 0 || (r = crun_run(b, o->iterations + i, &t)) < 0 ||
		    (r = crun_start(b, &t)) < 0)
			return r;
	}
	for (unsigned i = 0; i < o->iterations; i++) {
		int r;
		if (i % 2 == 0) {
			if ((r = agent_lifecycle(b, i, &ours[i], ph)) < 0 ||
			    (r = crun_run(b, i, &crun[i])) < 0)
				return r;
		} else {
			if ((r = crun_run(b, i, &crun[i])) < 0 ||
			    (r = agent_lifecycle(b, i, &ours[i], ph)) < 0)
				return r;
		}
		for (unsigned p = 0; p < PH_N; p++)
			phase[(size_t)p * o->iterations + i] = ph[p];
		if ((r = crun_start(b, &start[i])) < 0)
			return r;
	}
	return 0;
}

/* Rounds of ours (ReadStdout), the relay, the raw copy and passfd, the order rotating so no side
 * always runs first. */
static int bench_stdout(struct bench *b, uint64_t *ours, uint64_t *relay, uint64_t *raw,
                        uint64_t *passfd)
{
	for (unsigned i = 0; i < b->o->rounds; i++) {
		for (unsigned k = 0; k < 4; k++) {
			int r;
			switch ((i + k) % 4) {
			case 0:
				r = stdout_ours(b, i, &ours[i]);
				break;
			case 1:
				r = stdout_relay(b, &relay[i]);
				break;
			case 2:
				r = stdout_passfd(b, i, &passfd[i]);
				break;
			default:
				r = stdout_raw(b, &raw[i]);
				break;
			}
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: ctr-bench --socket PATH --bundle DIR [OPTIONS]\n"
	    "Container lifecycle vs `crun run`, and ReadStdout and passfd stdout throughput vs a\n"
	    "raw unix-socket copy, through a kata-agent on a unix socket; prints key=value\n"
	    "results.\n"
	    "  --socket PATH        the agent's unix socket\n"
	    "  --passfd-addr ADDR   the agent's passfd listener, unix://PATH or unix://@NAME\n"
	    "                       (the agent's KATA_AGENT_PASSFD_ADDR)\n"
	    "  --bundle DIR         bundle directory holding rootfs/ (busybox with /bin/true);\n"
	    "                       config.json for crun is written there\n"
	    "  --crun PATH          crun binary (default crun)\n"
	    "  --busybox PATH       busybox for the raw copy's writer (default /bin/busybox)\n"
	    "  --cgroup-parent NAME cgroup under which both put containers (default ctr-bench)\n"
	    "  --iterations N       lifecycle iterations per side (default 50)\n"
	    "  --warmup N           untimed lifecycle iterations per side first (default 2)\n"
	    "  --rounds N           ReadStdout / relay / raw copy / passfd rounds, rotating\n"
	    "                       (default 3)\n"
	    "  --stdout-mib N       MiB per throughput round (default 256)\n"
	    "  --verify             check that every byte read is zero (slows both copies)\n"
	    "Exit status: 0 every call succeeded, 1 a call or check failed, 2 usage.\n");
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum {
		O_SOCKET = 256,
		O_PASSFD,
		O_BUNDLE,
		O_CRUN,
		O_BUSYBOX,
		O_CGROUP,
		O_ITER,
		O_WARMUP,
		O_ROUNDS,
		O_MIB,
		O_VERIFY,
		O_HELP
	};
	static const struct option lo[] = {
	    {"socket", required_argument, NULL, O_SOCKET},
	    {"passfd-addr", required_argument, NULL, O_PASSFD},
	    {"bundle", required_argument, NULL, O_BUNDLE},
	    {"crun", required_argument, NULL, O_CRUN},
	    {"busybox", required_argument, NULL, O_BUSYBOX},
	    {"cgroup-parent", required_argument, NULL, O_CGROUP},
	    {"iterations", required_argument, NULL, O_ITER},
	    {"warmup", required_argument, NULL, O_WARMUP},
	    {"rounds", required_argument, NULL, O_ROUNDS},
	    {"stdout-mib", required_argument, NULL, O_MIB},
	    {"verify", no_argument, NULL, O_VERIFY},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	*o = (struct opts){.crun = "crun",
	                   .busybox = "/bin/busybox",
	                   .cgroup_parent = "ctr-bench",
	                   .iterations = 50,
	                   .warmup = 2,
	                   .rounds = 3,
	                   .stdout_mib = 256};
	int c, r = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_SOCKET:
			o->socket = optarg;
			break;
		case O_PASSFD:
			o->passfd_addr = optarg;
			break;
		case O_BUNDLE:
			o->bundle = optarg;
			break;
		case O_CRUN:
			o->crun = optarg;
			break;
		case O_BUSYBOX:
			o->busybox = optarg;
			break;
		case O_CGROUP:
			o->cgroup_parent = optarg;
			break;
		case O_ITER:
			r = parse_uint(optarg, 1, MAX_ITER, &o->iterations);
			break;
		case O_WARMUP:
			r = parse_uint(optarg, 0, MAX_ITER, &o->warmup);
			break;
		case O_ROUNDS:
			r = parse_uint(optarg, 1, 1000, &o->rounds);
			break;
		case O_MIB:
			r = parse_uint(optarg, 1, 1u << 20, &o->stdout_mib);
			break;
		case O_VERIFY:
			o->verify = true;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "ctr-bench: bad value for --%s: %s\n",
			        lo[c - O_SOCKET].name, optarg);
			return r;
		}
	}
	if (!o->socket || !o->passfd_addr || !o->bundle || optind != argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int connect_agent(const char *path, int *ret_fd)
{
	struct addr a = {.kind = ADDR_UNIX};
	if (strlen(path) >= sizeof(a.path))
		return -ENAMETOOLONG;
	strcpy(a.path, path);
	const char *err = NULL;
	int fd = -1;
	int r = addr_connect(&a, CALL_TIMEOUT, &fd, &err);
	if (r < 0) {
		fprintf(stderr, "ctr-bench: connect %s: %s: %s\n", path, err ? err : "",
		        strerror(-r));
		return r;
	}
	/* read_stdout() reads the socket directly: an agent that stops answering must fail
	 * the run, not hang it. */
	struct timeval tv = {.tv_sec = CALL_TIMEOUT / 1000};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	struct bench b = {.o = &o, .rx_cap = TTRPC_MAX_MSG};
	if ((size_t)snprintf(b.rootfs, sizeof(b.rootfs), "%s/rootfs", o.bundle) >=
	    sizeof(b.rootfs)) {
		fprintf(stderr, "ctr-bench: --bundle path too long\n");
		return 2;
	}
	_cleanup_free_ uint8_t *rx = b.rx = malloc(b.rx_cap);
	_cleanup_free_ uint64_t *ours = calloc(o.iterations, sizeof(*ours));
	_cleanup_free_ uint64_t *phase = calloc((size_t)o.iterations * PH_N, sizeof(*phase));
	_cleanup_free_ uint64_t *crun = calloc(o.iterations, sizeof(*crun));
	_cleanup_free_ uint64_t *start = calloc(o.iterations, sizeof(*start));
	_cleanup_free_ uint64_t *s_ours = calloc(o.rounds, sizeof(*s_ours));
	_cleanup_free_ uint64_t *s_raw = calloc(o.rounds, sizeof(*s_raw));
	_cleanup_free_ uint64_t *s_relay = calloc(o.rounds, sizeof(*s_relay));
	_cleanup_free_ uint64_t *s_passfd = calloc(o.rounds, sizeof(*s_passfd));
	if (!rx || !ours || !phase || !crun || !start || !s_ours || !s_raw || !s_relay || !s_passfd)
		return 1;
	int r = crun_config(&b);
	if (r < 0) {
		fprintf(stderr, "ctr-bench: writing %s/config.json: %s\n", o.bundle, strerror(-r));
		return 1;
	}
	_cleanup_close_ int fd = -1;
	if (connect_agent(o.socket, &fd) < 0)
		return 1;
	ttrpc_client_init(&b.c, fd);
	if (bench_lifecycle(&b, ours, phase, crun, start) < 0 ||
	    bench_stdout(&b, s_ours, s_relay, s_raw, s_passfd) < 0) {
		fprintf(stderr, "ctr-bench: failed after %lu successful calls\n", b.calls);
		return 1;
	}
	/* Throughput from the median duration: the median round's rate. */
	uint64_t bytes = stdout_bytes(&o);
	uint64_t m_ours = median(ours, o.iterations), m_crun = median(crun, o.iterations);
	uint64_t m_start = median(start, o.iterations);
	uint64_t m_phase[PH_N];
	for (unsigned p = 0; p < PH_N; p++)
		m_phase[p] = median(phase + (size_t)p * o.iterations, o.iterations);
	uint64_t s_m_ours = median(s_ours, o.rounds), s_m_raw = median(s_raw, o.rounds);
	uint64_t s_m_relay = median(s_relay, o.rounds), s_m_passfd = median(s_passfd, o.rounds);
	printf("iterations=%u ours_ms=%.3f crun_ms=%.3f ours_min_ms=%.3f crun_min_ms=%.3f "
	       "crun_start_ms=%.3f ",
	       o.iterations, (double)m_ours / 1e6, (double)m_crun / 1e6, (double)ours[0] / 1e6,
	       (double)crun[0] / 1e6, (double)m_start / 1e6);
	for (unsigned p = 0; p < PH_N; p++)
		printf("ours_%s_ms=%.3f ", phase_name[p], (double)m_phase[p] / 1e6);
	printf("rounds=%u stdout_mib=%u ours_mib_s=%.0f relay_mib_s=%.0f raw_mib_s=%.0f "
	       "passfd_mib_s=%.0f passfd_bytes=%llu read_avg_bytes=%.0f calls=%lu\n",
	       o.rounds, o.stdout_mib, mib_s(bytes, s_m_ours), mib_s(bytes, s_m_relay),
	       mib_s(bytes, s_m_raw), mib_s(bytes, s_m_passfd), (unsigned long long)b.passfd_bytes,
	       b.reads ? (double)b.read_bytes / (double)b.reads : 0.0, b.calls);
	return 0;
}

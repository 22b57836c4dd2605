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
 * The stdout throughput rounds (ReadStdout, its same-shape relay floor, passfd, the raw copy)
 * are in ctr_bench_stdout.c.
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

#include "ctr_bench.h"

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void packed_free(struct packed *m)
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
int call(struct bench *b, const char *method, const char *id, const struct packed *req,
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

int call_ok(struct bench *b, const char *method, const char *id, const struct packed *req)
{
	struct ttrpc_result res = {0};
	int r = call(b, method, id, req, &res);
	ttrpc_result_free(&res);
	return r;
}

/* WaitProcess, which must report exit status 0. */
int call_wait(struct bench *b, const char *id, const struct packed *req)
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

void life_free(struct life *l)
{
	packed_free(&l->create);
	packed_free(&l->start);
	packed_free(&l->wait);
	packed_free(&l->remove);
	packed_free(&l->read);
}

/* stdout_port: the passfd port of the container's stdout (0: a pipe read with ReadStdout). */
int life_prepare(const struct bench *b, const char *id, const char *args_json, unsigned stdout_port,
                 struct life *ret)
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
int spawn_in(char *const argv[], int out_fd, const char *procs, pid_t *ret_pid)
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

int spawn(char *const argv[], int out_fd, pid_t *ret_pid)
{
	return spawn_in(argv, out_fd, NULL, ret_pid);
}

int reap(pid_t pid, const char *what)
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

/* ctr-bench: what ctr_bench.c (the lifecycle, the options, main) and ctr_bench_stdout.c (the
 * stdout throughput rounds) share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ttrpc_client.h"

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

struct packed {
	uint8_t *p;
	size_t len;
};

/* The four requests of one container's life, encoded ahead of its timed window. */
struct life {
	char id[64];
	struct packed create, start, wait, remove, read;
};

uint64_t mono_ns(void);
void packed_free(struct packed *m);
/* One call; any transport error or non-OK status is a failure.  The response payload is
 * left in *ret (the caller frees it). */
int call(struct bench *b, const char *method, const char *id, const struct packed *req,
         struct ttrpc_result *ret);
int call_ok(struct bench *b, const char *method, const char *id, const struct packed *req);
/* WaitProcess, which must report exit status 0. */
int call_wait(struct bench *b, const char *id, const struct packed *req);
void life_free(struct life *l);
/* stdout_port: the passfd port of the container's stdout (0: a pipe read with ReadStdout). */
int life_prepare(const struct bench *b, const char *id, const char *args_json, unsigned stdout_port,
                 struct life *ret);
/* fork + exec argv with stdin from /dev/null and stdout to out_fd (-1: inherit); with procs
 * (a cgroup.procs path), the child moves itself there first. */
int spawn_in(char *const argv[], int out_fd, const char *procs, pid_t *ret_pid);
int spawn(char *const argv[], int out_fd, pid_t *ret_pid);
/* Wait for pid, which must exit 0 (what names it in the error). */
int reap(pid_t pid, const char *what);

/* ctr_bench_stdout.c: one round of each way of reading N bytes of a container's stdout; the
 * elapsed time in *ret_ns. */
uint64_t stdout_bytes(const struct opts *o);
int stdout_ours(struct bench *b, unsigned round, uint64_t *ret_ns);
int stdout_passfd(struct bench *b, unsigned round, uint64_t *ret_ns);
int stdout_relay(struct bench *b, uint64_t *ret_ns);
int stdout_raw(struct bench *b, uint64_t *ret_ns);

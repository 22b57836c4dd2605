/* SPDX-License-Identifier: Apache-2.0 */
/*
 * passfd_client: the host side of passfd I/O (docs/PROTOCOL.md, "passfd stdio"), for the VM test
 * (tests/vm/passfd.sh), and the ReadStdout reader it is compared with.
 *
 *   passfd_client --addr hvsock://UDS:1027 --streams in,out,err --port-file F
 *                 [--stdin TEXT] [--out FILE] [--timeout S]
 *       Opens one hybrid-vsock connection per stream (in that order) and writes "in=P", "out=P",
 *       "err=P" lines to F (P: the host-side port the back-end's "OK P" reply named, what a
 *       request's stdin_port/stdout_port/stderr_port must say).  Then sends TEXT on the stdin
 *       connection and shuts it (EOF), and reads stdout and stderr until both end.
 *       With --addr unix://... (the agent on the host, KATA_AGENT_PASSFD_ADDR), each connection
 *       comes from an abstract name ending in ":P", P chosen here: the agent's key for unix peers.
 *
 *   passfd_client --agent hvsock://UDS:1024 --read-stdout CID EID [--out FILE] [--timeout S]
 *       Reads the process's stdout with ReadStdout, 32 KiB per call with one call in flight,
 *       as the Kata runtimes do, until empty data or an error.
 *
 * Both print "out_bytes=N err_bytes=N ms=T mib_s=R" (T: first byte to end of stdout) and write
 * stdout's bytes to FILE.  Exit status 1 on any failure or when the timeout passes.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "agent.pb-c.h"
#include "ttrpc_client.h"

#define CHUNK (32u << 10)

struct stats {
	unsigned long long out_bytes, err_bytes;
	double t_first, t_end;
	FILE *out;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(const char *s, int *ret_fd, unsigned *ret_port)
{
	struct addr a;
	const char *err = "bad address";
	if (addr_parse(s, &a, &err) < 0 ||
	    addr_connect_port(&a, 30000, ret_fd, ret_port, &err) < 0) {
		fprintf(stderr, "passfd_client: %s: %s\n", s, err);
		return -1;
	}
	return 0;
}

/* A unix connection from "@kac-passfd-client-PID-I:PORT" (see agent/src/passfd.h). */
static int dial_unix(const struct addr *a, int i, int *ret_fd, unsigned *ret_port)
{
	unsigned port = 20000 + ((unsigned)getpid() % 10000) * 3 + (unsigned)i;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un me = {.sun_family = AF_UNIX}, to = {.sun_family = AF_UNIX};
	int n = snprintf(me.sun_path + 1, sizeof(me.sun_path) - 1, "kac-passfd-client-%d-%d:%u",
	                 (int)getpid(), i, port);
	size_t plen = strlen(a->path);
	memcpy(to.sun_path + (a->abstract ? 1 : 0), a->path, plen);
	socklen_t tlen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (a->abstract ? 1 : 0));
	if (bind(fd, (struct sockaddr *)&me,
	         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
	    connect(fd, (struct sockaddr *)&to, tlen) < 0) {
		fprintf(stderr, "passfd_client: unix connection %d: %s\n", i, strerror(errno));
		close(fd);
		return -1;
	}
	*ret_fd = fd;
	*ret_port = port;
	return 0;
}

static void got_out(struct stats *st, const void *p, size_t n)
{
	if (st->out_bytes == 0)
		st->t_first = now_s();
	st->out_bytes += n;
	if (st->out && fwrite(p, 1, n, st->out) != n)
		fprintf(stderr, "passfd_client: writing the output file failed\n");
}

static int report(const struct stats *st)
{
	double s = st->t_end - st->t_first;
	double mib = (double)st->out_bytes / (1024.0 * 1024.0);
	printf("out_bytes=%llu err_bytes=%llu ms=%.0f mib_s=%.1f\n", st->out_bytes, st->err_bytes,
	       s * 1000.0, s > 0 ? mib / s : 0.0);
	return 0;
}

static int write_ports(const char *file, const char *names[], const unsigned ports[], int n)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (int i = 0; i < n; i++)
		fprintf(f, "%s=%u\n", names[i], ports[i]);
	if (fclose(f) != 0 || rename(tmp, file) < 0)
		return -errno;
	return 0;
}

static int run_passfd(const char *addr, const char *streams, const char *port_file,
                      const char *stdin_text, double deadline, struct stats *st)
{
	static const char *const all[] = {"in", "out", "err"};
	int fd[3] = {-1, -1, -1};
	const char *names[3];
	unsigned ports[3];
	int n = 0;
	for (int i = 0; i < 3; i++) {
		if (!strstr(streams, all[i]))
			continue;
		struct addr a;
		const char *err;
		if (addr_parse(addr, &a, &err) == 0 && a.kind == ADDR_UNIX) {
			if (dial_unix(&a, i, &fd[i], &ports[n]) < 0)
				return -1;
		} else if (dial(addr, &fd[i], &ports[n]) < 0) {
			return -1;
		}
		if (ports[n] == 0) {
			fprintf(stderr, "passfd_client: the back-end's OK line named no port\n");
			return -1;
		}
		names[n++] = all[i];
	}
	if (write_ports(port_file, names, ports, n) < 0) {
		fprintf(stderr, "passfd_client: writing %s: %s\n", port_file, strerror(errno));
		return -1;
	}
	if (fd[0] >= 0) {
		size_t len = stdin_text ? strlen(stdin_text) : 0;
		if (len && write(fd[0], stdin_text, len) != (ssize_t)len) {
			fprintf(stderr, "passfd_client: writing stdin: %s\n", strerror(errno));
			return -1;
		}
		shutdown(fd[0], SHUT_WR);
	}
	static char buf[1 << 16];
	while (fd[1] >= 0 || fd[2] >= 0) {
		struct pollfd p[2] = {{.fd = fd[1], .events = POLLIN},
		                      {.fd = fd[2], .events = POLLIN}};
		int ms = (int)((deadline - now_s()) * 1000);
		if (ms <= 0 || poll(p, 2, ms) == 0) {
			fprintf(stderr, "passfd_client: timed out (stdout %s, stderr %s)\n",
			        fd[1] >= 0 ? "open" : "ended", fd[2] >= 0 ? "open" : "ended");
			return -1;
		}
		for (int i = 1; i <= 2; i++) {
			if (fd[i] < 0 || !p[i - 1].revents)
				continue;
			ssize_t r = read(fd[i], buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(fd[i]);
				fd[i] = -1;
				if (i == 1)
					st->t_end = now_s();
				continue;
			}
			if (i == 1)
				got_out(st, buf, (size_t)r);
			else
				st->err_bytes += (unsigned long long)r;
		}
	}
	if (fd[0] >= 0)
		close(fd[0]);
	return 0;
}

static int run_read_stdout(const char *addr, const char *cid, const char *eid, double deadline,
                           struct stats *st)
{
	int fd;
	unsigned port;
	if (dial(addr, &fd, &port) < 0)
		return -1;
	struct ttrpc_client cl;
	ttrpc_client_init(&cl, fd);
	Grpc__ReadStreamRequest q = GRPC__READ_STREAM_REQUEST__INIT;
	q.container_id = (char *)cid;
	q.exec_id = (char *)eid;
	q.len = CHUNK;
	uint8_t req[512];
	size_t n = protobuf_c_message_get_packed_size(&q.base);
	if (n > sizeof(req))
		return -1;
	protobuf_c_message_pack(&q.base, req);
	for (;;) {
		int ms = (int)((deadline - now_s()) * 1000);
		struct ttrpc_result r;
		if (ms <= 0 || ttrpc_client_call(&cl, "grpc.AgentService", "ReadStdout", req, n, 0,
		                                 ms, &r) < 0) {
			fprintf(stderr, "passfd_client: ReadStdout failed or timed out\n");
			close(fd);
			return -1;
		}
		Grpc__ReadStreamResponse *resp =
		    r.code == 0 ? grpc__read_stream_response__unpack(NULL, r.len, r.payload) : NULL;
		size_t got = resp ? resp->data.len : 0;
		if (got)
			got_out(st, resp->data.data, got);
		if (resp)
			grpc__read_stream_response__free_unpacked(resp, NULL);
		ttrpc_result_free(&r);
		if (!got)
			break; /* empty data or an error: the end, for every runtime */
	}
	st->t_end = now_s();
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: passfd_client --addr hvsock://UDS:PORT --streams in,out,err --port-file F\n"
	        "                     [--stdin TEXT] [--out FILE] [--timeout S]\n"
	        "       passfd_client --agent ADDR --read-stdout CID EID [--out FILE] "
	        "[--timeout S]\n");
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *agent = NULL, *streams = "out", *port_file = NULL;
	const char *stdin_text = NULL, *out = NULL;
	bool read_stdout = false;
	double timeout = 300;
	static const struct option opts[] = {
	    {"addr", required_argument, NULL, 'a'},    {"agent", required_argument, NULL, 'g'},
	    {"streams", required_argument, NULL, 's'}, {"port-file", required_argument, NULL, 'p'},
	    {"stdin", required_argument, NULL, 'i'},   {"out", required_argument, NULL, 'o'},
	    {"timeout", required_argument, NULL, 't'}, {"read-stdout", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},          {0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'g':
			agent = optarg;
			break;
		case 's':
			streams = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'i':
			stdin_text = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			timeout = atof(optarg);
			break;
		case 'r':
			read_stdout = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	bool ok_args =
	    read_stdout ? agent && optind + 2 == argc : addr && port_file && optind == argc;
	if (!ok_args || timeout <= 0) {
		usage(stderr);
		return 2;
	}
	struct stats st = {0};
	if (out && !(st.out = fopen(out, "w"))) {
		fprintf(stderr, "passfd_client: %s: %s\n", out, strerror(errno));
		return 1;
	}
	double deadline = now_s() + timeout;
	int r = read_stdout ? run_read_stdout(agent, argv[optind], argv[optind + 1], deadline, &st)
	                    : run_passfd(addr, streams, port_file, stdin_text, deadline, &st);
	if (st.out && fclose(st.out) != 0)
		r = -1;
	if (r < 0)
		return 1;
	report(&st);
	return 0;
}

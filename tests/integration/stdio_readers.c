/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stdio_readers: reads a process's stdout and stderr the way each Kata runtime version does,
 * then waits for it, so a test can tell whether the agent's end-of-stream answers end every
 * runtime's loop (docs/PROTOCOL.md, "stdout and stderr EOF").
 *
 *   go-2023  Go runtime before Kata commit 41e8acbc5e (2026-02): io.CopyBuffer with 32 KiB; an
 *            empty reply is a zero-length read, so it asks again; only an RPC error ends it.
 *   go-2026  Go runtime since then: empty data or an error ends the loop.
 *   rs       runtime-rs: empty data or an error ends the loop; stdin EOF is an empty WriteStdin.
 *
 * Like the runtimes, one connection carries both loops, each with one 32 KiB read in flight;
 * stderr is not read for a tty process; WaitProcess is sent only after both loops end.  Stdin
 * (--stdin TEXT) is written first, then closed: CloseStdin for the Go runtimes (what containerd's
 * CloseIO becomes), an empty WriteStdin for runtime-rs.
 *
 * Prints "stdout=<hex> stderr=<hex> status=N after_eof=N,N end=E,E verdict=ok|spun" and exits 1
 * when a loop needed more than --max-after-eof calls after the first end-of-stream answer (or
 * never ended).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "agent.pb-c.h"
#include "ttrpc_client.h"

#define SVC   "grpc.AgentService"
#define CHUNK 32768
/* A reader that has not ended this many calls after EOF is spinning. */
#define SPIN_LIMIT 200

enum mode { GO_2023, GO_2026, RS };

struct loop {
	const char *method;
	long stream; /* in-flight request, 0 when none */
	bool done;
	bool eof_seen;      /* an empty reply or an error arrived */
	unsigned after_eof; /* replies from the first EOF answer on, that one included */
	char *out;
	size_t len;
	const char *end; /* "empty", "spinning" or the error message */
};

static struct ttrpc_client cl;
static const char *cid, *eid;

static int dial(const char *s)
{
	struct addr a;
	const char *err;
	int fd;
	if (addr_parse(s, &a, &err) < 0 || addr_connect(&a, 10000, &fd, &err) < 0) {
		fprintf(stderr, "stdio_readers: %s: %s\n", s, err);
		return -1;
	}
	ttrpc_client_init(&cl, fd);
	return 0;
}

/* One call that must succeed; the reply is not needed. */
static int call_ok(const char *method, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	struct ttrpc_result r;
	int e = ttrpc_client_call(&cl, SVC, method, buf, n, 0, 60000, &r);
	free(buf);
	if (e < 0)
		return e;
	if (r.code != 0) {
		fprintf(stderr, "%s: %d %s\n", method, r.code, r.message);
		e = -EIO;
	}
	ttrpc_result_free(&r);
	return e;
}

static int write_stdin(const char *data, size_t n)
{
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	w.container_id = (char *)cid;
	w.exec_id = (char *)eid;
	w.data.data = (uint8_t *)data;
	w.data.len = n;
	return call_ok("WriteStdin", &w.base);
}

static int close_stdin(void)
{
	Grpc__CloseStdinRequest c = GRPC__CLOSE_STDIN_REQUEST__INIT;
	c.container_id = (char *)cid;
	c.exec_id = (char *)eid;
	return call_ok("CloseStdin", &c.base);
}

static int send_read(struct loop *l)
{
	Grpc__ReadStreamRequest q = GRPC__READ_STREAM_REQUEST__INIT;
	q.container_id = (char *)cid;
	q.exec_id = (char *)eid;
	q.len = CHUNK;
	size_t n = protobuf_c_message_get_packed_size(&q.base);
	uint8_t buf[512];
	if (n > sizeof(buf))
		return -E2BIG;
	protobuf_c_message_pack(&q.base, buf);
	/* Like the runtimes: no deadline on stream reads (timeout 0). */
	l->stream = ttrpc_client_send(&cl, SVC, l->method, buf, n, 0);
	return l->stream < 0 ? (int)l->stream : 0;
}

/* One reply for loop l: collect data or decide whether this runtime's loop ends. */
static void on_reply(struct loop *l, enum mode m, const struct ttrpc_result *r)
{
	l->stream = 0;
	size_t n = 0;
	Grpc__ReadStreamResponse *resp = NULL;
	if (r->code == 0) {
		resp = grpc__read_stream_response__unpack(NULL, r->len, r->payload);
		if (resp)
			n = resp->data.len;
	}
	if (r->code == 0 && n > 0) {
		char *grown = realloc(l->out, l->len + n);
		if (grown) {
			memcpy(grown + l->len, resp->data.data, n);
			l->out = grown;
			l->len += n;
		}
	} else {
		l->eof_seen = true;
	}
	if (l->eof_seen)
		l->after_eof++;
	if (r->code != 0) {
		l->done = true;
		l->end = strdup(r->message);
	} else if (n == 0 && m != GO_2023) {
		l->done = true;
		l->end = "empty";
	} else if (l->after_eof >= SPIN_LIMIT) {
		l->done = true;
		l->end = "spinning";
	}
	if (resp)
		grpc__read_stream_response__free_unpacked(resp, NULL);
}

static int run_loops(struct loop *loops, size_t n, enum mode m)
{
	for (;;) {
		size_t active = 0;
		for (size_t i = 0; i < n; i++) {
			if (loops[i].done)
				continue;
			active++;
			if (!loops[i].stream && send_read(&loops[i]) < 0)
				return -EIO;
		}
		if (!active)
			return 0;
		struct ttrpc_result r;
		int e = ttrpc_client_recv(&cl, 60000, &r);
		if (e < 0) {
			fprintf(stderr, "stdio_readers: receive: %s\n", strerror(-e));
			return e;
		}
		for (size_t i = 0; i < n; i++)
			if (loops[i].stream == (long)r.stream_id)
				on_reply(&loops[i], m, &r);
		ttrpc_result_free(&r);
	}
}

static int wait_process(int *ret_status)
{
	Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
	w.container_id = (char *)cid;
	w.exec_id = (char *)eid;
	uint8_t buf[512];
	size_t n = protobuf_c_message_get_packed_size(&w.base);
	if (n > sizeof(buf))
		return -E2BIG;
	protobuf_c_message_pack(&w.base, buf);
	struct ttrpc_result r;
	int e = ttrpc_client_call(&cl, SVC, "WaitProcess", buf, n, 0, 60000, &r);
	if (e < 0)
		return e;
	if (r.code != 0) {
		fprintf(stderr, "WaitProcess: %d %s\n", r.code, r.message);
		ttrpc_result_free(&r);
		return -EIO;
	}
	Grpc__WaitProcessResponse *resp =
	    grpc__wait_process_response__unpack(NULL, r.len, r.payload);
	*ret_status = resp ? resp->status : -1;
	if (resp)
		grpc__wait_process_response__free_unpacked(resp, NULL);
	ttrpc_result_free(&r);
	return 0;
}

static void print_hex(const char *name, const struct loop *l)
{
	printf("%s=", name);
	for (size_t i = 0; i < l->len; i++)
		printf("%02x", (unsigned char)l->out[i]);
	printf(" ");
}

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: stdio_readers --addr ADDR --cid CID --eid EID --mode go-2023|go-2026|rs\n"
	        "                     [--tty] [--stdin TEXT] [--max-after-eof N]\n");
}

static int parse_mode(const char *s, enum mode *ret)
{
	static const struct {
		const char *name;
		enum mode m;
	} modes[] = {{"go-2023", GO_2023}, {"go-2026", GO_2026}, {"rs", RS}};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(s, modes[i].name) == 0) {
			*ret = modes[i].m;
			return 0;
		}
	return -EINVAL;
}

/* Ends within max_after calls of EOF, for every loop read. */
static bool verdict(const struct loop *loops, size_t n, unsigned max_after)
{
	bool ok = true;
	for (size_t i = 0; i < n; i++)
		if (loops[i].after_eof > max_after || strcmp(loops[i].end, "spinning") == 0) {
			fprintf(stderr,
			        "stdio_readers: %s of %s needed %u calls after EOF (max %u)\n",
			        loops[i].method, eid, loops[i].after_eof, max_after);
			ok = false;
		}
	return ok;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *mode_s = NULL, *stdin_text = NULL;
	bool tty = false;
	unsigned max_after = 2;
	static const struct option opts[] = {
	    {"addr", 1, NULL, 'a'},          {"cid", 1, NULL, 'c'},  {"eid", 1, NULL, 'e'},
	    {"mode", 1, NULL, 'm'},          {"tty", 0, NULL, 't'},  {"stdin", 1, NULL, 's'},
	    {"max-after-eof", 1, NULL, 'x'}, {"help", 0, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			addr = optarg;
			break;
		case 'c':
			cid = optarg;
			break;
		case 'e':
			eid = optarg;
			break;
		case 'm':
			mode_s = optarg;
			break;
		case 't':
			tty = true;
			break;
		case 's':
			stdin_text = optarg;
			break;
		case 'x':
			max_after = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	enum mode m;
	if (!addr || !cid || !eid || !mode_s || parse_mode(mode_s, &m) < 0) {
		usage(stderr);
		return 2;
	}
	if (dial(addr) < 0)
		return 2;
	if (stdin_text) {
		if (write_stdin(stdin_text, strlen(stdin_text)) < 0)
			return 2;
		if ((m == RS ? write_stdin("", 0) : close_stdin()) < 0)
			return 2;
	}
	struct loop loops[2] = {{.method = "ReadStdout"}, {.method = "ReadStderr"}};
	size_t n = tty ? 1 : 2;
	if (run_loops(loops, n, m) < 0)
		return 2;
	int status = -1;
	if (wait_process(&status) < 0)
		return 2;
	bool ok = verdict(loops, n, max_after);
	print_hex("stdout", &loops[0]);
	print_hex("stderr", &loops[1]);
	printf("status=%d after_eof=%u,%u end=%s,%s verdict=%s\n", status, loops[0].after_eof,
	       loops[1].after_eof, loops[0].end ? loops[0].end : "-",
	       loops[1].end ? loops[1].end : "-", ok ? "ok" : "spun");
	return ok ? 0 : 1;
}

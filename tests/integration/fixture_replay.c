/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixture_replay: sends the Kata Go runtime's recorded request frames
 * (tests/fixtures/kata-go-client-2023) to an agent in their recorded order, on one connection,
 * as the runtime did: a call that has no answer within --settle ms is left parked and the next
 * frame goes out; answers are matched by stream id whenever they come.  A frame whose method
 * is still parked from an earlier frame waits for that answer first (await_same_method).
 *
 * The frames are sent as recorded, byte for byte, except where the host cannot provide what the
 * guest had: --drop-9p removes CreateSandbox's 9p storage (no virtio transport on the host).
 * --drop-oom-adj sets CreateContainer's OOMScoreAdj to 0 (lowering it needs CAP_SYS_RESOURCE).
 * --skip NNN,... leaves frames out (those that would change the host: network, clock).
 *
 * Prints one line per frame: "NNN Method OK|CODE_NAME[: message]|parked|skipped", in frame
 * order, after DestroySandbox's answer or --settle ms after the last frame.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "agent.pb-c.h"
#include "ttrpc.pb-c.h"
#include "ttrpc_client.h"
#include "ttrpc_frame.h"

#define MAX_FRAMES 64

struct frame {
	char file[128], method[64];
	uint8_t *body;
	size_t len;
	uint32_t stream;
	bool skipped, answered;
	int code;
	char *message;
};

static struct frame frames[MAX_FRAMES];
static size_t nframes;

static uint8_t *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	uint8_t *b = malloc(1 << 20);
	size_t n = b ? fread(b, 1, 1 << 20, f) : 0;
	fclose(f);
	*ret_len = n;
	return b;
}

static int load(const char *dir)
{
	char path[1024], line[512], service[64];
	snprintf(path, sizeof(path), "%s/MANIFEST.tsv", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f) && nframes < MAX_FRAMES) {
		struct frame *fr = &frames[nframes];
		if (strncmp(line, "file\t", 5) == 0 || sscanf(line, "%127[^\t]\t%63[^\t]\t%63[^\t]",
		                                              fr->file, service, fr->method) != 3)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, fr->file);
		if (!(fr->body = slurp(path, &fr->len))) {
			fclose(f);
			return -errno;
		}
		nframes++;
	}
	fclose(f);
	return 0;
}

/* Decode fr's payload as type, let edit change it, encode the payload and the envelope again. */
static int rewrite(struct frame *fr, const ProtobufCMessageDescriptor *type,
                   void (*edit)(ProtobufCMessage *m))
{
	Ttrpc__Request *req = ttrpc__request__unpack(NULL, fr->len, fr->body);
	if (!req)
		return -EBADMSG;
	ProtobufCMessage *m =
	    protobuf_c_message_unpack(type, NULL, req->payload.len, req->payload.data);
	if (!m) {
		ttrpc__request__free_unpacked(req, NULL);
		return -EBADMSG;
	}
	edit(m);
	uint8_t *payload = malloc(protobuf_c_message_get_packed_size(m) + 1);
	ProtobufCBinaryData orig = req->payload;
	req->payload.len = protobuf_c_message_pack(m, payload);
	req->payload.data = payload;
	uint8_t *body = malloc(protobuf_c_message_get_packed_size(&req->base) + 1);
	size_t len = protobuf_c_message_pack(&req->base, body);
	free(fr->body);
	fr->body = body;
	fr->len = len;
	req->payload = orig; /* freed with the request */
	free(payload);
	protobuf_c_message_free_unpacked(m, NULL);
	ttrpc__request__free_unpacked(req, NULL);
	return 0;
}

/* CreateSandbox without its 9p storages (no virtio transport on the host). */
static void edit_drop_9p(ProtobufCMessage *m)
{
	Grpc__CreateSandboxRequest *sb = (Grpc__CreateSandboxRequest *)m;
	size_t kept = 0;
	for (size_t i = 0; i < sb->n_storages; i++) {
		if (strcmp(sb->storages[i]->driver, "9p") == 0)
			protobuf_c_message_free_unpacked(&sb->storages[i]->base, NULL);
		else
			sb->storages[kept++] = sb->storages[i];
	}
	sb->n_storages = kept;
}

/* CreateContainer without Process.OOMScoreAdj: lowering it needs CAP_SYS_RESOURCE, which some
 * hosts' root lacks (a guest's PID 1 has it). */
static void edit_drop_oom_adj(ProtobufCMessage *m)
{
	Grpc__CreateContainerRequest *cc = (Grpc__CreateContainerRequest *)m;
	if (cc->oci && cc->oci->process)
		cc->oci->process->oomscoreadj = 0;
}

static int send_frame(struct ttrpc_client *c, struct frame *fr, uint32_t stream)
{
	uint8_t hdr[10];
	uint32_t len = htonl((uint32_t)fr->len), sid = htonl(stream);
	memcpy(hdr, &len, 4);
	memcpy(hdr + 4, &sid, 4);
	hdr[8] = 1; /* request */
	hdr[9] = 0;
	fr->stream = stream;
	int r = ttrpc_client_send_raw(c, hdr, sizeof(hdr));
	return r < 0 ? r : ttrpc_client_send_raw(c, fr->body, fr->len);
}

/* Take answers until fr is answered or timeout_ms passes without one. */
static int collect(struct ttrpc_client *c, const struct frame *fr, int timeout_ms)
{
	while (!fr || !fr->answered) {
		struct ttrpc_result r;
		int e = ttrpc_client_recv(c, timeout_ms, &r);
		if (e == -ETIMEDOUT)
			return 0;
		if (e < 0)
			return e;
		for (size_t i = 0; i < nframes; i++)
			if (frames[i].stream == r.stream_id && !frames[i].answered) {
				frames[i].answered = true;
				frames[i].code = r.code;
				frames[i].message = strdup(r.message ? r.message : "");
			}
		ttrpc_result_free(&r);
	}
	return 0;
}

/*
 * The runtime never repeats a call while its first is still pending: in the recording, 019's
 * WaitProcess went out after 017's had been answered.  So before a frame goes out, an earlier
 * parked frame of the same method gets up to timeout_ms for its answer.  Without this, the
 * second WaitProcess could overtake the reaping of 018's SIGKILL and park on the same exit.
 */
static int await_same_method(struct ttrpc_client *c, size_t i, int timeout_ms)
{
	for (size_t j = 0; j < i; j++) {
		const struct frame *prev = &frames[j];
		if (!prev->skipped && !prev->answered && prev->stream != 0 &&
		    strcmp(prev->method, frames[i].method) == 0) {
			int r = collect(c, prev, timeout_ms);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static bool listed(const char *list, const char *file)
{
	if (!list)
		return false;
	char num[4] = {file[0], file[1], file[2], 0};
	for (const char *p = list; (p = strstr(p, num)); p += 3)
		if ((p == list || p[-1] == ',') && (p[3] == ',' || p[3] == 0))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *dir = NULL, *skip = NULL;
	bool no9p = false, nooom = false;
	int settle = 3000;
	static const struct option opts[] = {
	    {"addr", 1, NULL, 'a'},    {"dir", 1, NULL, 'd'},          {"skip", 1, NULL, 's'},
	    {"drop-9p", 0, NULL, '9'}, {"drop-oom-adj", 0, NULL, 'o'}, {"settle", 1, NULL, 't'},
	    {NULL, 0, NULL, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'a':
			addr = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 's':
			skip = optarg;
			break;
		case '9':
			no9p = true;
			break;
		case 'o':
			nooom = true;
			break;
		case 't':
			settle = atoi(optarg);
			break;
		default:
			fprintf(stderr,
			        "Usage: fixture_replay --addr ADDR --dir DIR [--skip NNN,...] "
			        "[--drop-9p] [--drop-oom-adj] [--settle MS]\n");
			return 2;
		}
	}
	if (!addr || !dir || load(dir) < 0 || nframes == 0) {
		fprintf(stderr,
		        "fixture_replay: need --addr and a fixture --dir with MANIFEST.tsv\n");
		return 2;
	}
	struct addr a;
	const char *err;
	int fd;
	if (addr_parse(addr, &a, &err) < 0 || addr_connect(&a, 10000, &fd, &err) < 0) {
		fprintf(stderr, "fixture_replay: %s: %s\n", addr, err);
		return 2;
	}
	struct ttrpc_client c;
	ttrpc_client_init(&c, fd);
	uint32_t stream = 1;
	for (size_t i = 0; i < nframes; i++) {
		struct frame *fr = &frames[i];
		if (listed(skip, fr->file)) {
			fr->skipped = true;
			continue;
		}
		if (no9p && strcmp(fr->method, "CreateSandbox") == 0 &&
		    rewrite(fr, &grpc__create_sandbox_request__descriptor, edit_drop_9p) < 0) {
			fprintf(stderr, "fixture_replay: %s does not decode\n", fr->file);
			return 2;
		}
		if (nooom && strcmp(fr->method, "CreateContainer") == 0 &&
		    rewrite(fr, &grpc__create_container_request__descriptor, edit_drop_oom_adj) <
		        0) {
			fprintf(stderr, "fixture_replay: %s does not decode\n", fr->file);
			return 2;
		}
		if (await_same_method(&c, i, settle) < 0 || send_frame(&c, fr, stream) < 0 ||
		    collect(&c, fr, settle) < 0)
			break; /* the agent went away (DestroySandbox): report what we have */
		stream += 2;
		if (strcmp(fr->method, "DestroySandbox") == 0)
			break;
	}
	collect(&c, NULL, 200);
	for (size_t i = 0; i < nframes; i++) {
		const struct frame *fr = &frames[i];
		printf("%.3s %s ", fr->file, fr->method);
		if (fr->skipped)
			printf("skipped\n");
		else if (!fr->answered)
			printf("parked\n");
		else if (fr->code == 0)
			printf("OK\n");
		else
			printf("%s: %s\n", ttrpc_code_name(fr->code), fr->message);
	}
	return 0;
}

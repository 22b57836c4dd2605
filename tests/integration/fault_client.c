// SPDX-License-Identifier: Apache-2.0
/* A client for tests/integration/faults.sh:
 *   fault_client hangup ADDR METHOD [JSON] [DELAY_MS]
 *     send one request, wait DELAY_MS (default 50: long enough for a parking call to park),
 *     then close the connection without reading the response: a host dying mid-call.
 *   fault_client session ADDR
 *     one connection for every call: reads lines "METHOD JSON" on stdin and prints, per line,
 *     "OK", "CODE message" (the status name) or "TRANSPORT reason" (then exits 3). */
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "pbjson.h"
#include "ttrpc_client.h"
#include "ttrpc_frame.h"
#include "ttrpc_trace.h"

struct request {
	const ProtobufCServiceDescriptor *sd;
	const ProtobufCMethodDescriptor *md;
	uint8_t *payload;
	size_t len;
};

static int encode(const char *spec, const char *json, struct request *req)
{
	if (trace_find_method(spec, &req->sd, &req->md) < 0) {
		fprintf(stderr, "fault_client: unknown method %s\n", spec);
		return -ENOENT;
	}
	ProtobufCMessage *m = NULL;
	char *err = NULL;
	int r = pbjson_from_json(req->md->input, json, &m, &err);
	if (r < 0) {
		fprintf(stderr, "fault_client: %s: %s\n", spec, err ? err : strerror(-r));
		free(err);
		return r;
	}
	req->len = protobuf_c_message_get_packed_size(m);
	req->payload = malloc(req->len ? req->len : 1);
	if (req->payload)
		protobuf_c_message_pack(m, req->payload);
	protobuf_c_message_free_unpacked(m, NULL);
	return req->payload ? 0 : -ENOMEM;
}

static int connect_to(const char *addr_s, int *ret_fd)
{
	struct addr a;
	const char *err = NULL;
	if (addr_parse(addr_s, &a, &err) < 0 || addr_connect(&a, 10000, ret_fd, &err) < 0) {
		fprintf(stderr, "fault_client: %s: %s\n", addr_s, err ? err : "cannot connect");
		return -1;
	}
	return 0;
}

static int cmd_hangup(int argc, char **argv)
{
	struct request req;
	if (encode(argv[1], argc > 2 ? argv[2] : "{}", &req) < 0)
		return 2;
	int fd;
	if (connect_to(argv[0], &fd) < 0) {
		free(req.payload);
		return 3;
	}
	struct ttrpc_client c;
	ttrpc_client_init(&c, fd);
	long id = ttrpc_client_send(&c, req.sd->name, req.md->name, req.payload, req.len, 0);
	free(req.payload);
	if (id < 0) {
		fprintf(stderr, "fault_client: send: %s\n", strerror((int)-id));
		close(fd);
		return 3;
	}
	usleep((useconds_t)(argc > 3 ? atoi(argv[3]) : 50) * 1000);
	close(fd);
	return 0;
}

static int session_line(struct ttrpc_client *c, char *line)
{
	line[strcspn(line, "\n")] = 0;
	char *json = strchr(line, ' ');
	if (json)
		*json++ = 0;
	struct request req;
	if (encode(line, json && *json ? json : "{}", &req) < 0) {
		printf("USAGE bad request line\n");
		return 0;
	}
	struct ttrpc_result res = {0};
	int r =
	    ttrpc_client_call(c, req.sd->name, req.md->name, req.payload, req.len, 0, 60000, &res);
	free(req.payload);
	if (r < 0) {
		printf("TRANSPORT %s\n", strerror(-r));
		return r;
	}
	if (res.code == 0)
		printf("OK\n");
	else
		printf("%s %s\n", ttrpc_code_name(res.code), res.message);
	ttrpc_result_free(&res);
	return 0;
}

static int cmd_session(const char *addr_s)
{
	int fd;
	if (connect_to(addr_s, &fd) < 0)
		return 3;
	struct ttrpc_client c;
	ttrpc_client_init(&c, fd);
	setvbuf(stdout, NULL, _IOLBF, 0);
	char line[65536];
	while (fgets(line, sizeof(line), stdin)) {
		if (session_line(&c, line) < 0) {
			close(fd);
			return 3;
		}
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && argc <= 6 && strcmp(argv[1], "hangup") == 0)
		return cmd_hangup(argc - 2, argv + 2);
	if (argc == 3 && strcmp(argv[1], "session") == 0)
		return cmd_session(argv[2]);
	fprintf(stderr, "usage: fault_client hangup ADDR METHOD [JSON] [DELAY_MS]\n"
	                "       fault_client session ADDR  (lines \"METHOD JSON\" on stdin)\n");
	return 2;
}

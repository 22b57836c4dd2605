// SPDX-License-Identifier: Apache-2.0
/* hangup ADDR METHOD [JSON] [DELAY_MS]: send one request to the agent, wait DELAY_MS (default
 * 50: long enough for a parking call to park), then close the connection without reading the
 * response, as a host that dies in the middle of a call (tests/integration/faults.sh). */
#include <errno.h>
#include <protobuf-c/protobuf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "pbjson.h"
#include "ttrpc_client.h"
#include "ttrpc_trace.h"

static int encode(const char *spec, const char *json, const ProtobufCServiceDescriptor **ret_sd,
                  const ProtobufCMethodDescriptor **ret_md, uint8_t **ret_p, size_t *ret_n)
{
	if (trace_find_method(spec, ret_sd, ret_md) < 0) {
		fprintf(stderr, "hangup: unknown method %s\n", spec);
		return -ENOENT;
	}
	ProtobufCMessage *req = NULL;
	char *err = NULL;
	int r = pbjson_from_json((*ret_md)->input, json, &req, &err);
	if (r < 0) {
		fprintf(stderr, "hangup: %s: %s\n", spec, err ? err : strerror(-r));
		free(err);
		return r;
	}
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *p = malloc(n ? n : 1);
	if (!p) {
		protobuf_c_message_free_unpacked(req, NULL);
		return -ENOMEM;
	}
	protobuf_c_message_pack(req, p);
	protobuf_c_message_free_unpacked(req, NULL);
	*ret_p = p;
	*ret_n = n;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: hangup ADDR METHOD [JSON] [DELAY_MS]\n");
		return 2;
	}
	const ProtobufCServiceDescriptor *sd;
	const ProtobufCMethodDescriptor *md;
	uint8_t *payload;
	size_t len;
	if (encode(argv[2], argc > 3 ? argv[3] : "{}", &sd, &md, &payload, &len) < 0)
		return 2;
	struct addr a;
	const char *err = NULL;
	int fd;
	if (addr_parse(argv[1], &a, &err) < 0 || addr_connect(&a, 10000, &fd, &err) < 0) {
		fprintf(stderr, "hangup: %s: %s\n", argv[1], err ? err : "cannot connect");
		free(payload);
		return 3;
	}
	struct ttrpc_client c;
	ttrpc_client_init(&c, fd);
	long id = ttrpc_client_send(&c, sd->name, md->name, payload, len, 0);
	free(payload);
	if (id < 0) {
		fprintf(stderr, "hangup: send: %s\n", strerror((int)-id));
		close(fd);
		return 3;
	}
	usleep((useconds_t)(argc > 4 ? atoi(argv[4]) : 50) * 1000);
	close(fd);
	return 0;
}

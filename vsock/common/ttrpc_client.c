#include "ttrpc_client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ttrpc.pb-c.h"
#include "ttrpc_frame.h"

void ttrpc_client_init(struct ttrpc_client *c, int fd)
{
	c->fd = fd;
	c->next_stream = 1;
}

int ttrpc_client_send_raw(struct ttrpc_client *c, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

long ttrpc_client_send(struct ttrpc_client *c, const char *service, const char *method,
                       const uint8_t *payload, size_t len, int64_t timeout_nano)
{
	Ttrpc__Request req = TTRPC__REQUEST__INIT;
	req.service = (char *)service;
	req.method = (char *)method;
	req.payload.data = (uint8_t *)payload;
	req.payload.len = len;
	req.timeout_nano = timeout_nano;
	size_t n = ttrpc__request__get_packed_size(&req);
	if (n > TTRPC_MAX_MSG)
		return -EMSGSIZE;
	uint8_t *frame = malloc(TTRPC_HDR_LEN + n);
	if (!frame)
		return -ENOMEM;
	uint32_t stream = c->next_stream;
	c->next_stream += 2;
	struct ttrpc_hdr h = {.length = (uint32_t)n, .stream_id = stream, .type = TTRPC_REQUEST};
	ttrpc_hdr_encode(frame, &h);
	ttrpc__request__pack(&req, frame + TTRPC_HDR_LEN);
	int r = ttrpc_client_send_raw(c, frame, TTRPC_HDR_LEN + n);
	free(frame);
	return r < 0 ? r : (long)stream;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int read_full(int fd, void *p, size_t n, long long deadline)
{
	char *s = p;
	while (n > 0) {
		if (deadline >= 0) {
			long long left = deadline - mono_ms();
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			int pr = poll(&pfd, 1, left > 0 ? (int)left : 0);
			if (pr < 0 && errno != EINTR)
				return -errno;
			if (pr == 0)
				return -ETIMEDOUT;
			if (pr < 0)
				continue;
		}
		ssize_t r = read(fd, s, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		s += r;
		n -= (size_t)r;
	}
	return 0;
}

int ttrpc_client_recv(struct ttrpc_client *c, int timeout_ms, struct ttrpc_result *ret)
{
	long long deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	for (;;) {
		uint8_t hb[TTRPC_HDR_LEN];
		int r = read_full(c->fd, hb, sizeof(hb), deadline);
		if (r < 0)
			return r;
		struct ttrpc_hdr h;
		ttrpc_hdr_decode(hb, &h);
		if (h.length > TTRPC_MAX_MSG)
			return -EPROTO;
		uint8_t *body = malloc(h.length ? h.length : 1);
		if (!body)
			return -ENOMEM;
		r = read_full(c->fd, body, h.length, deadline);
		if (r < 0) {
			free(body);
			return r;
		}
		if (h.type != TTRPC_RESPONSE) {
			free(body);
			continue;
		}
		Ttrpc__Response *resp = ttrpc__response__unpack(NULL, h.length, body);
		free(body);
		if (!resp)
			return -EPROTO;
		memset(ret, 0, sizeof(*ret));
		ret->stream_id = h.stream_id;
		ret->code = resp->status ? resp->status->code : 0;
		ret->message =
		    strdup(resp->status && resp->status->message ? resp->status->message : "");
		bool oom = !ret->message;
		if (resp->payload.len > 0) {
			ret->payload = malloc(resp->payload.len);
			oom = oom || !ret->payload;
			if (ret->payload) {
				memcpy(ret->payload, resp->payload.data, resp->payload.len);
				ret->len = resp->payload.len;
			}
		}
		ttrpc__response__free_unpacked(resp, NULL);
		if (oom) {
			ttrpc_result_free(ret);
			return -ENOMEM;
		}
		return 0;
	}
}

int ttrpc_client_call(struct ttrpc_client *c, const char *service, const char *method,
                      const uint8_t *payload, size_t len, int64_t timeout_nano, int timeout_ms,
                      struct ttrpc_result *ret)
{
	long stream = ttrpc_client_send(c, service, method, payload, len, timeout_nano);
	if (stream < 0)
		return (int)stream;
	for (;;) {
		int r = ttrpc_client_recv(c, timeout_ms, ret);
		if (r < 0)
			return r;
		if (ret->stream_id == (uint32_t)stream)
			return 0;
		ttrpc_result_free(ret);
	}
}

void ttrpc_result_free(struct ttrpc_result *r)
{
	free(r->message);
	free(r->payload);
	memset(r, 0, sizeof(*r));
}

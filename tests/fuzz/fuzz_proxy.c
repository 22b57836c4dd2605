/* The kata-agent-ctl proxy's frame path (vsock/common/frame_relay.c + ttrpc_trace.c): the bytes
 * of both directions of one connection, cut into arbitrary pieces and taken out by the
 * "forwarder" in arbitrary amounts, as the proxy's poll loop does.
 *
 * Input: 5 control bytes, then the client's bytes, then the agent's bytes.
 *   [0] piece size client -> agent (0: all at once; at least 1/MAX_PIECES of the part)
 *   [1] the same agent -> client
 *   [2] how much the forwarder takes per step (0: all pending)
 *   [3..4] big-endian length of the client's part (the rest is the agent's)
 * The pieces of the two directions alternate, so requests and responses interleave in the
 * tracer's pending-call table.
 *
 * Properties: what comes out of each direction is exactly what went in (the proxy never alters
 * traffic); every trace line is one JSON object (strict RFC 8259, checked without json-c);
 * nothing leaks. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "frame_relay.h"
#include "fuzz_common.h"
#include "ttrpc_trace.h"

struct dir {
	struct relay_half h;
	const uint8_t *in;
	size_t n, fed;
	uint8_t *out;
	size_t outlen;
	unsigned piece;
	enum trace_dir td;
};

static struct tracer *tracer;
static FILE *sink; /* /dev/null, for the tracer's summary */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	sink = fopen("/dev/null", "we");
	FUZZ_ASSERT(sink);
	return 0;
}

/* A strict RFC 8259 check of one value, without building it (re-parsing every line with
 * json-c cost more than the tracer itself).  Returns the first byte past the value, or NULL. */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p++;
		if (c == '"')
			return p;
		if (c < 0x20) /* control characters (and the end of the line) must be escaped */
			return NULL;
		if (c != '\\')
			continue;
		c = (unsigned char)*p++;
		if (c == 'u') {
			for (int i = 0; i < 4; i++, p++)
				if (!isxdigit((unsigned char)*p))
					return NULL;
		} else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
			return NULL;
		}
	}
}

static const char *json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		if (*++p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

/* The members of an object ('}') or the elements of an array (']'), after the opening byte. */
static const char *json_items(const char *p, char close, int depth)
{
	p = json_ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (close == '}') {
			p = json_string(json_ws(p));
			if (!p || *(p = json_ws(p)) != ':')
				return NULL;
			p++;
		}
		p = json_value(p, depth + 1);
		if (!p)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{':
	case '[':
		return json_items(p + 1, *p == '{' ? '}' : ']', depth);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return json_number(p);
	}
}

static void cb(void *data, enum relay_piece kind, const uint8_t *p, size_t n)
{
	struct dir *d = data;
	trace_piece(tracer, 1, d->td, kind, p, n);
}

static void take(struct dir *d, unsigned step)
{
	const uint8_t *p;
	size_t n;
	while ((n = relay_pending(&d->h, &p)) > 0) {
		size_t k = step && step < n ? step : n;
		memcpy(d->out + d->outlen, p, k);
		d->outlen += k;
		relay_consume(&d->h, k);
		if (step)
			break; /* a slow peer: the rest waits for the next round */
	}
}

/* Pieces per direction.  Past a length the header says is too long, the relay passes bytes
 * through and the tracer writes a line for every piece: with 1-byte pieces the corpus drifted
 * to inputs of thousands of trace lines, each allocated, written and parsed again. */
#define MAX_PIECES 64

static void feed(struct dir *d)
{
	if (d->fed == d->n)
		return;
	size_t k = d->piece && d->piece < d->n - d->fed ? d->piece : d->n - d->fed;
	FUZZ_ASSERT(relay_append(&d->h, d->in + d->fed, k, cb, d) == 0);
	d->fed += k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	size_t split = (size_t)data[3] << 8 | data[4];
	const uint8_t *body = data + 5;
	size_t blen = size - 5;
	if (split > blen)
		split = blen;
	struct dir d[2] = {
	    {.in = body, .n = split, .piece = data[0], .td = TRACE_TO_AGENT},
	    {.in = body + split, .n = blen - split, .piece = data[1], .td = TRACE_FROM_AGENT},
	};
	for (int i = 0; i < 2; i++)
		if (d[i].piece && d[i].piece < (d[i].n + MAX_PIECES - 1) / MAX_PIECES)
			d[i].piece = (unsigned)((d[i].n + MAX_PIECES - 1) / MAX_PIECES);
	unsigned step = data[2];
	char *trace = NULL;
	size_t trace_len = 0;
	FILE *f = open_memstream(&trace, &trace_len);
	FUZZ_ASSERT(f);
	struct trace_opts o = {.out = f, .bytes_limit = 64};
	FUZZ_ASSERT(tracer_new(&o, &tracer) == 0);
	for (int i = 0; i < 2; i++) {
		d[i].out = malloc(d[i].n + 1);
		FUZZ_ASSERT(d[i].out);
	}
	trace_event(tracer, 1, "open", "\"port\":1024");
	while (d[0].fed < d[0].n || d[1].fed < d[1].n) {
		for (int i = 0; i < 2; i++) {
			feed(&d[i]);
			take(&d[i], step);
		}
	}
	for (int i = 0; i < 2; i++) {
		relay_finish(&d[i].h, cb, &d[i]);
		take(&d[i], 0);
		FUZZ_ASSERT(d[i].outlen == d[i].n);
		FUZZ_ASSERT(d[i].n == 0 || memcmp(d[i].out, d[i].in, d[i].n) == 0);
		relay_half_free(&d[i].h);
		free(d[i].out);
	}
	trace_conn_closed(tracer, 1);
	tracer_summary(tracer, sink);
	tracer_free(tracer);
	fclose(f);
	/* every line one JSON object */
	for (char *line = trace, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		FUZZ_ASSERT(nl);
		*nl = '\0';
		const char *end = *line == '{' ? json_value(line, 0) : NULL;
		FUZZ_ASSERT(end && *json_ws(end) == '\0');
	}
	free(trace);
	return 0;
}

#include "ttrpc_trace.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "pbjson.h"
#include "ttrpc.pb-c.h"
#include "ttrpc_frame.h"

static const ProtobufCServiceDescriptor *const services[] = {
    &grpc__agent_service__descriptor,
    &grpc__health__descriptor,
};

/* A request waiting for its response. */
struct pending {
	unsigned conn;
	uint32_t stream;
	int method; /* index into tracer.stats, -1: unknown */
	const ProtobufCMethodDescriptor *md;
	struct timespec t0;
};

struct method_stats {
	char *name;
	unsigned long calls, errors;
	unsigned long long req_bytes, resp_bytes;
	double *lat_ms;
	size_t nlat, caplat;
};

struct tracer {
	struct trace_opts o;
	struct pending *pend;
	size_t npend, cappend;
	struct method_stats *stats;
	size_t nstats;
};

static void put_json(struct json_object **p)
{
	json_object_put(*p);
}
#define _cleanup_jo_ __attribute__((cleanup(put_json)))

static void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_str_ __attribute__((cleanup(freep)))

int trace_find_method(const char *spec, const ProtobufCServiceDescriptor **ret_sd,
                      const ProtobufCMethodDescriptor **ret_md)
{
	const char *dot = strrchr(spec, '.');
	const char *mname = dot ? dot + 1 : spec;
	size_t slen = dot ? (size_t)(dot - spec) : 0;
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		const ProtobufCServiceDescriptor *sd = services[i];
		if (dot &&
		    !((strlen(sd->name) == slen && strncmp(sd->name, spec, slen) == 0) ||
		      (strlen(sd->short_name) == slen && strncmp(sd->short_name, spec, slen) == 0)))
			continue;
		const ProtobufCMethodDescriptor *md =
		    protobuf_c_service_descriptor_get_method_by_name(sd, mname);
		if (md) {
			*ret_sd = sd;
			*ret_md = md;
			return 0;
		}
	}
	return -ENOENT;
}

int tracer_new(const struct trace_opts *o, struct tracer **ret)
{
	struct tracer *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->o = *o;
	*ret = t;
	return 0;
}

void tracer_free(struct tracer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nstats; i++) {
		free(t->stats[i].name);
		free(t->stats[i].lat_ms);
	}
	free(t->stats);
	free(t->pend);
	free(t);
}

/* "Service.Method" (service as on the wire) matches a filter given in any accepted form. */
static bool wanted(const struct tracer *t, const char *full)
{
	if (t->o.n_methods == 0)
		return true;
	size_t fl = strlen(full);
	for (size_t i = 0; i < t->o.n_methods; i++) {
		const char *m = t->o.methods[i];
		size_t ml = strlen(m);
		if (strcmp(full, m) == 0 ||
		    (fl > ml && strcmp(full + fl - ml, m) == 0 && full[fl - ml - 1] == '.'))
			return true;
	}
	return false;
}

static int stats_index(struct tracer *t, const char *name)
{
	for (size_t i = 0; i < t->nstats; i++)
		if (strcmp(t->stats[i].name, name) == 0)
			return (int)i;
	struct method_stats *s = realloc(t->stats, (t->nstats + 1) * sizeof(*s));
	if (!s)
		return -1;
	t->stats = s;
	memset(&s[t->nstats], 0, sizeof(*s));
	s[t->nstats].name = strdup(name);
	if (!s[t->nstats].name)
		return -1;
	return (int)t->nstats++;
}

static char *hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s = malloc(n * 2 + 1);
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

static void add(struct json_object *o, const char *k, struct json_object *v)
{
	if (v && json_object_object_add(o, k, v) < 0)
		json_object_put(v);
}

static void add_hex(struct tracer *t, struct json_object *o, const char *k, const uint8_t *p,
                    size_t n)
{
	size_t shown = t->o.bytes_limit && n > t->o.bytes_limit ? t->o.bytes_limit : n;
	char *h = hex(p, shown);
	if (!h)
		return;
	add(o, k, json_object_new_string(h));
	free(h);
	if (shown < n)
		add(o, "truncated", json_object_new_boolean(1));
}

/* A new line with the common members: time (UTC, microseconds) and connection. */
static struct json_object *line_new(unsigned conn)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	struct timespec ts;
	struct tm tm;
	char buf[64];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, sizeof(buf) - k, ".%06ldZ", ts.tv_nsec / 1000);
	add(o, "time", json_object_new_string(buf));
	add(o, "conn", json_object_new_int64(conn));
	return o;
}

static void line_write(struct tracer *t, struct json_object *o)
{
	if (!t->o.out || !o)
		return;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	                                                      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s) {
		fputs(s, t->o.out);
		fputc('\n', t->o.out);
		fflush(t->o.out); /* a trace must survive the proxy being killed */
	}
}

void trace_event(struct tracer *t, unsigned conn, const char *event, const char *extra_json)
{
	_cleanup_jo_ struct json_object *o = line_new(conn);
	if (!o)
		return;
	add(o, "event", json_object_new_string(event));
	if (extra_json && *extra_json) {
		_cleanup_free_str_ char *wrapped = NULL;
		if (asprintf(&wrapped, "{%s}", extra_json) >= 0) {
			struct json_object *x = json_tokener_parse(wrapped);
			if (x && json_object_is_type(x, json_type_object)) {
				json_object_object_foreach(x, k, v) add(o, k, json_object_get(v));
			}
			json_object_put(x);
		}
	}
	line_write(t, o);
}

/* payload -> "payload" (JSON) or "payload_hex" + "decode_error". */
static void add_payload(struct tracer *t, struct json_object *o,
                        const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m = d ? protobuf_c_message_unpack(d, NULL, n, p) : NULL;
	struct json_object *j = NULL;
	bool cut = false;
	if (m && pbjson_to_json_object(m, t->o.bytes_limit, &j, &cut) == 0) {
		add(o, "payload", j);
		if (cut)
			add(o, "truncated", json_object_new_boolean(1));
	} else {
		if (n > 0)
			add_hex(t, o, "payload_hex", p, n);
		if (d)
			add(o, "decode_error",
			    json_object_new_string(m ? "no JSON form" : "not a valid message"));
	}
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
}

static void add_header(struct json_object *o, const struct ttrpc_hdr *h, enum trace_dir dir)
{
	add(o, "stream", json_object_new_int64(h->stream_id));
	add(o, "dir", json_object_new_string(dir == TRACE_TO_AGENT ? "c2s" : "s2c"));
	if (h->flags)
		add(o, "flags", json_object_new_int64(h->flags));
	add(o, "len", json_object_new_int64(TTRPC_HDR_LEN + (int64_t)h->length));
}

static void raw_line(struct tracer *t, unsigned conn, enum trace_dir dir, const char *why,
                     const uint8_t *p, size_t n)
{
	_cleanup_jo_ struct json_object *o = line_new(conn);
	if (!o)
		return;
	add(o, "dir", json_object_new_string(dir == TRACE_TO_AGENT ? "c2s" : "s2c"));
	add(o, "type", json_object_new_string("raw"));
	add(o, "why", json_object_new_string(why));
	add(o, "len", json_object_new_int64((int64_t)n));
	add_hex(t, o, "hex", p, n);
	line_write(t, o);
}

static void on_request(struct tracer *t, unsigned conn, const struct ttrpc_hdr *h,
                       const uint8_t *frame, size_t n)
{
	Ttrpc__Request *rq = ttrpc__request__unpack(NULL, h->length, frame + TTRPC_HDR_LEN);
	if (!rq) {
		raw_line(t, conn, TRACE_TO_AGENT, "undecodable request", frame, n);
		return;
	}
	_cleanup_free_str_ char *full = NULL;
	if (asprintf(&full, "%s.%s", rq->service ? rq->service : "", rq->method ? rq->method : "") <
	    0)
		full = NULL;
	const ProtobufCServiceDescriptor *sd;
	const ProtobufCMethodDescriptor *md = NULL;
	if (full && trace_find_method(full, &sd, &md) < 0)
		md = NULL;
	if (full && wanted(t, full)) {
		int si = stats_index(t, full);
		struct pending *pp = t->pend;
		if (t->npend == t->cappend) {
			size_t cap = t->cappend ? t->cappend * 2 : 16;
			pp = realloc(t->pend, cap * sizeof(*pp));
			if (pp) {
				t->pend = pp;
				t->cappend = cap;
			}
		}
		if (pp && t->npend < t->cappend) {
			struct pending *e = &t->pend[t->npend++];
			*e = (struct pending){
			    .conn = conn, .stream = h->stream_id, .method = si, .md = md};
			clock_gettime(CLOCK_MONOTONIC, &e->t0);
		}
		if (si >= 0)
			t->stats[si].req_bytes += n;
		_cleanup_jo_ struct json_object *o = line_new(conn);
		if (o) {
			add_header(o, h, TRACE_TO_AGENT);
			add(o, "type", json_object_new_string("request"));
			add(o, "method", json_object_new_string(full));
			if (rq->timeout_nano)
				add(o, "timeout_ns", json_object_new_int64(rq->timeout_nano));
			if (rq->n_metadata > 0) {
				struct json_object *md_o = json_object_new_object();
				for (size_t i = 0; md_o && i < rq->n_metadata; i++)
					add(md_o, rq->metadata[i]->key,
					    json_object_new_string(rq->metadata[i]->value));
				add(o, "metadata", md_o);
			}
			add_payload(t, o, md ? md->input : NULL, rq->payload.data, rq->payload.len);
			line_write(t, o);
		}
	}
	ttrpc__request__free_unpacked(rq, NULL);
}

static void on_response(struct tracer *t, unsigned conn, const struct ttrpc_hdr *h,
                        const uint8_t *frame, size_t n)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct pending p = {.method = -1};
	bool found = false;
	for (size_t i = 0; i < t->npend; i++)
		if (t->pend[i].conn == conn && t->pend[i].stream == h->stream_id) {
			p = t->pend[i];
			t->pend[i] = t->pend[--t->npend];
			found = true;
			break;
		}
	Ttrpc__Response *rs = ttrpc__response__unpack(NULL, h->length, frame + TTRPC_HDR_LEN);
	if (!rs) {
		raw_line(t, conn, TRACE_FROM_AGENT, "undecodable response", frame, n);
		return;
	}
	int code = rs->status ? rs->status->code : 0;
	double ms = found ? (double)(now.tv_sec - p.t0.tv_sec) * 1e3 +
	                        (double)(now.tv_nsec - p.t0.tv_nsec) / 1e6
	                  : 0;
	/* a response to a filtered-out request is filtered out too */
	bool show = found ? p.method >= 0 : t->o.n_methods == 0;
	if (found && p.method >= 0) {
		struct method_stats *s = &t->stats[p.method];
		s->calls++;
		s->errors += code != 0;
		s->resp_bytes += n;
		if (s->nlat == s->caplat) {
			size_t cap = s->caplat ? s->caplat * 2 : 64;
			double *l = realloc(s->lat_ms, cap * sizeof(*l));
			if (l) {
				s->lat_ms = l;
				s->caplat = cap;
			}
		}
		if (s->nlat < s->caplat)
			s->lat_ms[s->nlat++] = ms;
	}
	_cleanup_jo_ struct json_object *o = show ? line_new(conn) : NULL;
	if (o) {
		add_header(o, h, TRACE_FROM_AGENT);
		add(o, "type", json_object_new_string("response"));
		if (found && p.method >= 0)
			add(o, "method", json_object_new_string(t->stats[p.method].name));
		add(o, "code", json_object_new_int64(code));
		add(o, "status", json_object_new_string(ttrpc_code_name(code)));
		if (rs->status && rs->status->message && *rs->status->message)
			add(o, "message", json_object_new_string(rs->status->message));
		if (found)
			add(o, "latency_us", json_object_new_int64((int64_t)llround(ms * 1000)));
		if (code == 0 || rs->payload.len > 0)
			add_payload(t, o, found && p.md ? p.md->output : NULL, rs->payload.data,
			            rs->payload.len);
		line_write(t, o);
	}
	ttrpc__response__free_unpacked(rs, NULL);
}

void trace_piece(struct tracer *t, unsigned conn, enum trace_dir dir, enum relay_piece kind,
                 const uint8_t *p, size_t n)
{
	if (kind == RELAY_OVERSIZE) {
		raw_line(t, conn, dir, "frame length over the 4 MiB limit (passed through)", p, n);
		return;
	}
	if (kind == RELAY_INCOMPLETE) {
		raw_line(t, conn, dir, "incomplete frame at end of stream", p, n);
		return;
	}
	struct ttrpc_hdr h;
	ttrpc_hdr_decode(p, &h);
	if (h.type == TTRPC_REQUEST && dir == TRACE_TO_AGENT)
		on_request(t, conn, &h, p, n);
	else if (h.type == TTRPC_RESPONSE && dir == TRACE_FROM_AGENT)
		on_response(t, conn, &h, p, n);
	else if (t->o.n_methods == 0) {
		_cleanup_jo_ struct json_object *o = line_new(conn);
		if (!o)
			return;
		add_header(o, &h, dir);
		add(o, "type", json_object_new_string(h.type == TTRPC_DATA ? "data" : "unknown"));
		add(o, "frame_type", json_object_new_int64(h.type));
		add_hex(t, o, "hex", p + TTRPC_HDR_LEN, n - TTRPC_HDR_LEN);
		line_write(t, o);
	}
}

void trace_conn_closed(struct tracer *t, unsigned conn)
{
	for (size_t i = 0; i < t->npend;)
		if (t->pend[i].conn == conn)
			t->pend[i] = t->pend[--t->npend];
		else
			i++;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static double percentile(const double *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	size_t k = (size_t)ceil(q * (double)n);
	return v[k > 0 ? k - 1 : 0];
}

void tracer_summary(struct tracer *t, FILE *f)
{
	fprintf(f, "%-44s %7s %6s %10s %10s %10s %10s\n", "method", "calls", "errors", "p50_ms",
	        "p99_ms", "req_bytes", "resp_bytes");
	for (size_t i = 0; i < t->nstats; i++) {
		struct method_stats *s = &t->stats[i];
		if (s->nlat > 1)
			qsort(s->lat_ms, s->nlat, sizeof(double), cmp_double);
		fprintf(f, "%-44s %7lu %6lu %10.3f %10.3f %10llu %10llu\n", s->name, s->calls,
		        s->errors, percentile(s->lat_ms, s->nlat, 0.50),
		        percentile(s->lat_ms, s->nlat, 0.99), s->req_bytes, s->resp_bytes);
	}
	if (t->npend)
		fprintf(f, "%zu call(s) still waiting for a response\n", t->npend);
}

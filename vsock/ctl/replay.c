/* kata-agent-ctl replay: re-issue the requests of a trace (kata-agent-ctl proxy --trace, or
 * vhost-user-vsock --trace) against an agent and compare each call's status with the trace.
 *
 * Order and overlap are kept: requests go out in trace order, one new connection per traced
 * connection, and before each request (and each connection close) the replay waits for exactly
 * the responses the trace shows before it.  A call whose response came later in the trace (a
 * parked GetOOMEvent, a ReadStdout waiting for output) stays in flight while later requests are
 * sent, as it did in the traced run. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"
#include "pbjson.h"
#include "ttrpc_client.h"
#include "ttrpc_frame.h"
#include "ttrpc_trace.h"

enum item_kind { IT_REQUEST, IT_RESPONSE, IT_CLOSE };

struct item {
	enum item_kind kind;
	size_t call; /* IT_REQUEST, IT_RESPONSE: index into calls */
	size_t conn; /* IT_CLOSE: index into conns */
};

struct call {
	size_t conn;
	uint32_t trace_stream;
	long stream; /* in the replay; 0: not sent */
	char *service, *method;
	uint8_t *payload;
	size_t len;
	int64_t timeout_ns;
	unsigned line;
	bool traced_response, needed;
	int trace_code, code; /* code: -1 until the replay's response came */
	char *message;
};

struct rconn {
	unsigned trace_id;
	struct ttrpc_client c;
	bool open, closed;
};

/* A process whose stdio went through passfd (see load_passfd): exec NULL for a container. */
struct passfd_key {
	char *container, *exec;
};

struct replay {
	struct passfd_key *pf;
	size_t npf, cappf;
	unsigned left_out;
	struct item *items;
	size_t nitems, capitems;
	struct call *calls;
	size_t ncalls, capcalls;
	struct rconn *conns;
	size_t nconns, capconns;
	const char *addr;
	long long deadline_ms;
	bool verbose;
};

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, c * elem);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *cap * elem, 0, (c - *cap) * elem);
	*arr = p;
	*cap = c;
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int conn_index(struct replay *rp, unsigned id, size_t *ret)
{
	for (size_t i = 0; i < rp->nconns; i++)
		if (rp->conns[i].trace_id == id && !rp->conns[i].closed) {
			*ret = i;
			return 0;
		}
	if (grow((void **)&rp->conns, &rp->capconns, rp->nconns, sizeof(struct rconn)) < 0)
		return -ENOMEM;
	rp->conns[rp->nconns] = (struct rconn){.trace_id = id, .c.fd = -1};
	*ret = rp->nconns++;
	return 0;
}

static int add_item(struct replay *rp, struct item it)
{
	if (grow((void **)&rp->items, &rp->capitems, rp->nitems, sizeof(struct item)) < 0)
		return -ENOMEM;
	rp->items[rp->nitems++] = it;
	return 0;
}

static int hex_decode(const char *s, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(s);
	if (n % 2)
		return -EINVAL;
	uint8_t *p = malloc(n / 2 + 1);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(p);
			return -EINVAL;
		}
		p[i] = (uint8_t)v;
	}
	*ret = p;
	*ret_len = n / 2;
	return 0;
}

/* The request's payload bytes: from its JSON form, or its hex dump when it did not decode. */
static int build_payload(struct call *c, struct json_object *line, const char **ret_err)
{
	struct json_object *pl, *hx;
	const ProtobufCServiceDescriptor *sd;
	const ProtobufCMethodDescriptor *md;
	if (json_object_object_get_ex(line, "truncated", NULL)) {
		*ret_err = "the payload was cut when traced (trace again with --bytes-limit 0)";
		return -EINVAL;
	}
	if (json_object_object_get_ex(line, "payload_hex", &hx))
		return hex_decode(json_object_get_string(hx), &c->payload, &c->len);
	if (!json_object_object_get_ex(line, "payload", &pl))
		return 0; /* an empty payload */
	char full[512];
	snprintf(full, sizeof(full), "%s.%s", c->service, c->method);
	if (trace_find_method(full, &sd, &md) < 0) {
		*ret_err = "a JSON payload for a method this build does not know";
		return -EINVAL;
	}
	ProtobufCMessage *m = NULL;
	char *err = NULL;
	int r = pbjson_from_json(md->input, json_object_to_json_string(pl), &m, &err);
	free(err);
	if (r < 0) {
		*ret_err = "the JSON payload does not parse back";
		return r;
	}
	c->len = protobuf_c_message_get_packed_size(m);
	c->payload = malloc(c->len ? c->len : 1);
	if (c->payload)
		protobuf_c_message_pack(m, c->payload);
	protobuf_c_message_free_unpacked(m, NULL);
	return c->payload ? 0 : -ENOMEM;
}

static int64_t get_int(struct json_object *o, const char *k, int64_t dflt)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : dflt;
}

static const char *get_str(struct json_object *o, const char *k)
{
	struct json_object *v;
	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/*
 * passfd I/O (docs/PROTOCOL.md §3.11): a CreateContainer or ExecProcess naming stdio ports had
 * its stdio on vsock connections the trace does not show, so the replay cannot provide them.
 * Such a request is left out, and so is every later call on the same process: any call on that
 * container for CreateContainer, calls naming that container and exec id for ExecProcess.
 * Returns 1 when the request is left out, 0 when it is replayed, -ENOMEM.
 */
static int passfd_left_out(struct replay *rp, const char *method, struct json_object *pl)
{
	const char *cid = get_str(pl, "container_id"), *eid = get_str(pl, "exec_id");
	if (!cid)
		return 0;
	for (size_t i = 0; i < rp->npf; i++)
		if (strcmp(rp->pf[i].container, cid) == 0 &&
		    (!rp->pf[i].exec || (eid && strcmp(rp->pf[i].exec, eid) == 0)))
			return 1;
	bool create = strcmp(method, "CreateContainer") == 0;
	if (!create && strcmp(method, "ExecProcess") != 0)
		return 0;
	if (!get_int(pl, "stdin_port", 0) && !get_int(pl, "stdout_port", 0) &&
	    !get_int(pl, "stderr_port", 0))
		return 0;
	if (grow((void **)&rp->pf, &rp->cappf, rp->npf, sizeof(*rp->pf)) < 0)
		return -ENOMEM;
	struct passfd_key *k = &rp->pf[rp->npf];
	k->container = strdup(cid);
	k->exec = create ? NULL : strdup(eid ? eid : "");
	if (!k->container || (!create && !k->exec)) {
		free(k->container);
		free(k->exec);
		return -ENOMEM;
	}
	rp->npf++;
	return 1;
}

/* The latest call on that traced connection and stream. */
static struct call *find_call(struct replay *rp, size_t conn, uint32_t stream)
{
	for (size_t i = rp->ncalls; i-- > 0;)
		if (rp->calls[i].conn == conn && rp->calls[i].trace_stream == stream)
			return &rp->calls[i];
	return NULL;
}

static int load_line(struct replay *rp, struct json_object *o, unsigned lineno,
                     const char **ret_err)
{
	const char *type = get_str(o, "type"), *event = get_str(o, "event");
	unsigned id = (unsigned)get_int(o, "conn", 0);
	size_t ci;
	if (event && strcmp(event, "close") == 0) {
		for (size_t i = 0; i < rp->nconns; i++)
			if (rp->conns[i].trace_id == id && !rp->conns[i].closed) {
				rp->conns[i].closed = true; /* reopened only by a later "open" */
				return add_item(rp, (struct item){.kind = IT_CLOSE, .conn = i});
			}
		return 0;
	}
	if (!type)
		return 0;
	if (conn_index(rp, id, &ci) < 0)
		return -ENOMEM;
	uint32_t stream = (uint32_t)get_int(o, "stream", 0);
	if (strcmp(type, "request") == 0) {
		const char *m = get_str(o, "method"), *dot = m ? strrchr(m, '.') : NULL;
		if (!dot) {
			*ret_err = "a request without a Service.Method";
			return -EINVAL;
		}
		struct json_object *pl;
		if (json_object_object_get_ex(o, "payload", &pl)) {
			int lo = passfd_left_out(rp, dot + 1, pl);
			if (lo < 0)
				return lo;
			rp->left_out += (unsigned)lo;
			if (lo)
				return 0; /* its response line finds no call and is skipped too */
		}
		if (grow((void **)&rp->calls, &rp->capcalls, rp->ncalls, sizeof(struct call)) < 0)
			return -ENOMEM;
		struct call *c = &rp->calls[rp->ncalls];
		*c = (struct call){.conn = ci, .trace_stream = stream, .line = lineno, .code = -1};
		c->service = strndup(m, (size_t)(dot - m));
		c->method = strdup(dot + 1);
		c->timeout_ns = get_int(o, "timeout_ns", 0);
		if (!c->service || !c->method)
			return -ENOMEM;
		int r = build_payload(c, o, ret_err);
		if (r < 0)
			return r;
		rp->ncalls++;
		return add_item(rp, (struct item){.kind = IT_REQUEST, .call = rp->ncalls - 1});
	}
	if (strcmp(type, "response") == 0) {
		struct call *c = find_call(rp, ci, stream);
		if (!c || c->traced_response)
			return 0; /* a response to a request the trace does not show (filtered) */
		c->traced_response = true;
		c->trace_code = (int)get_int(o, "code", 0);
		return add_item(
		    rp, (struct item){.kind = IT_RESPONSE, .call = (size_t)(c - rp->calls)});
	}
	return 0;
}

static int load(struct replay *rp, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	if (!f) {
		fprintf(stderr, "kata-agent-ctl replay: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int r = 0;
	while (r == 0 && getline(&line, &cap, f) >= 0) {
		lineno++;
		struct json_object *o = json_tokener_parse(line);
		if (!o) {
			fprintf(stderr, "kata-agent-ctl replay: %s:%u: not JSON, skipped\n", path,
			        lineno);
			continue;
		}
		const char *err = "out of memory";
		r = load_line(rp, o, lineno, &err);
		if (r < 0)
			fprintf(stderr, "kata-agent-ctl replay: %s:%u: %s\n", path, lineno, err);
		json_object_put(o);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return r;
}

static void conn_close(struct rconn *rc)
{
	if (rc->open && rc->c.fd >= 0)
		close(rc->c.fd);
	rc->c.fd = -1;
	rc->open = false;
}

/* Take one response from whichever connection has one.  Returns 0, or -ETIMEDOUT. */
static int receive_one(struct replay *rp)
{
	struct pollfd *pfd = calloc(rp->nconns ? rp->nconns : 1, sizeof(*pfd));
	if (!pfd)
		return -ENOMEM;
	for (size_t i = 0; i < rp->nconns; i++)
		pfd[i] = (struct pollfd){.fd = rp->conns[i].open ? rp->conns[i].c.fd : -1,
		                         .events = POLLIN};
	long long left = rp->deadline_ms - now_ms();
	int n = poll(pfd, rp->nconns, left > 0 ? (int)left : 0);
	for (size_t i = 0; n > 0 && i < rp->nconns; i++) {
		if (!pfd[i].revents)
			continue;
		struct ttrpc_result res;
		int r = ttrpc_client_recv(&rp->conns[i].c, 10000, &res);
		if (r < 0) {
			conn_close(&rp->conns[i]); /* its calls stay without a response */
			continue;
		}
		for (size_t k = 0; k < rp->ncalls; k++) {
			struct call *c = &rp->calls[k];
			if (c->conn == i && c->stream == (long)res.stream_id && c->code < 0) {
				c->code = res.code;
				c->message = res.message;
				res.message = NULL;
				break;
			}
		}
		ttrpc_result_free(&res);
	}
	free(pfd);
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Is a call still waiting for a response that can still come? */
static bool waiting(const struct replay *rp, const struct call *c, bool needed_only)
{
	return c->stream > 0 && c->code < 0 && rp->conns[c->conn].open &&
	       (needed_only ? c->needed : c->traced_response);
}

static int wait_for(struct replay *rp, bool needed_only)
{
	for (;;) {
		bool any = false;
		for (size_t k = 0; k < rp->ncalls && !any; k++)
			any = waiting(rp, &rp->calls[k], needed_only);
		if (!any)
			return 0;
		int r = receive_one(rp);
		if (r < 0)
			return r;
	}
}

static int send_call(struct replay *rp, struct call *c)
{
	struct rconn *rc = &rp->conns[c->conn];
	if (!rc->open) {
		int fd, ec = ctl_connect(rp->addr, 10000000000ll, &fd);
		if (ec != EXIT_OK)
			return -ECONNREFUSED;
		ttrpc_client_init(&rc->c, fd);
		rc->open = true;
	}
	/* Keep the traced stream ids: they are part of what the agent saw. */
	rc->c.next_stream = c->trace_stream;
	long s =
	    ttrpc_client_send(&rc->c, c->service, c->method, c->payload, c->len, c->timeout_ns);
	if (s < 0)
		return (int)s;
	c->stream = s;
	return 0;
}

static int run_items(struct replay *rp)
{
	for (size_t i = 0; i < rp->nitems; i++) {
		struct item *it = &rp->items[i];
		int r = 0;
		if (it->kind == IT_RESPONSE) {
			rp->calls[it->call].needed = true;
			continue;
		}
		r = wait_for(rp, true);
		if (r == 0 && it->kind == IT_REQUEST)
			r = send_call(rp, &rp->calls[it->call]);
		else if (r == 0)
			conn_close(&rp->conns[it->conn]);
		if (r < 0)
			return r;
	}
	return wait_for(rp, false);
}

static const char *status_text(int code)
{
	return code < 0 ? "(no response)" : ttrpc_code_name(code);
}

/* A stream read whose status differs only because the output came in other pieces: one side
 * got data (OK), the other met the end of the stream, which runtimes before 2026-02 are answered
 * as INTERNAL "eof" (docs/PROTOCOL.md).  A process writing in several pieces, or through a pty,
 * is read in a number of calls that depends on timing. */
static bool split_read(const struct call *c)
{
	if (strcmp(c->method, "ReadStdout") != 0 && strcmp(c->method, "ReadStderr") != 0)
		return false;
	return (c->trace_code == TTRPC_OK && c->code == TTRPC_INTERNAL) ||
	       (c->trace_code == TTRPC_INTERNAL && c->code == TTRPC_OK);
}

static int report(const struct replay *rp)
{
	unsigned same = 0, differ = 0, split = 0, untraced = 0;
	for (size_t k = 0; k < rp->ncalls; k++) {
		const struct call *c = &rp->calls[k];
		if (!c->traced_response) {
			untraced++;
			continue;
		}
		bool eq = c->code == c->trace_code, sp = !eq && split_read(c);
		same += eq;
		split += sp;
		differ += !eq && !sp;
		if (!eq || rp->verbose)
			printf("%s line %u: %s.%s: trace %s, replay %s%s%s%s\n",
			       eq   ? "same"
			       : sp ? "SPLIT"
			            : "DIFF",
			       c->line, c->service, c->method, status_text(c->trace_code),
			       status_text(c->code), c->message && *c->message ? ": " : "",
			       c->message ? c->message : "",
			       sp ? " (the output came in other pieces)" : "");
	}
	printf("%zu calls replayed: %u same status, %u differ, %u had no response in the trace",
	       rp->ncalls, same, differ, untraced);
	if (split)
		printf("; %u reads split the output differently", split);
	if (rp->left_out)
		printf("; %u left out (passfd stdio, not in the trace)", rp->left_out);
	printf("\n");
	return differ ? EXIT_RPC_ERROR : EXIT_OK;
}

static void replay_free(struct replay *rp)
{
	for (size_t i = 0; i < rp->nconns; i++)
		conn_close(&rp->conns[i]);
	for (size_t k = 0; k < rp->ncalls; k++) {
		free(rp->calls[k].service);
		free(rp->calls[k].method);
		free(rp->calls[k].payload);
		free(rp->calls[k].message);
	}
	for (size_t i = 0; i < rp->npf; i++) {
		free(rp->pf[i].container);
		free(rp->pf[i].exec);
	}
	free(rp->pf);
	free(rp->calls);
	free(rp->conns);
	free(rp->items);
}

int cmd_replay(int argc, char **argv, const char *addr)
{
	enum { O_ADDR = 256, O_TIMEOUT, O_VERBOSE, O_HELP };
	static const struct option opts[] = {
	    {"addr", required_argument, NULL, O_ADDR},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"verbose", no_argument, NULL, O_VERBOSE},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	struct replay rp = {.addr = addr};
	long long timeout_ns = 120000000000ll;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_ADDR) {
			rp.addr = optarg;
		} else if (c == O_TIMEOUT) {
			timeout_ns = ctl_parse_duration(optarg);
			if (timeout_ns < 0)
				return EXIT_USAGE;
		} else if (c == O_VERBOSE) {
			rp.verbose = true;
		} else {
			fputs("Usage: kata-agent-ctl replay TRACE|- [--addr ADDR] [--timeout DUR] "
			      "[--verbose]\n"
			      "  --timeout DUR  give up waiting for responses after DUR in all "
			      "(default 2m)\n"
			      "  --verbose      print every call, not only those whose status "
			      "differs\n"
			      "Exit: 0 every status as traced, 1 some differ, 2 usage or a bad "
			      "trace, "
			      "3 transport.\n",
			      c == O_HELP ? stdout : stderr);
			return c == O_HELP ? EXIT_OK : EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !rp.addr) {
		fprintf(stderr,
		        "kata-agent-ctl replay: needs TRACE and --addr (or KATA_AGENT_ADDR)\n");
		return EXIT_USAGE;
	}
	int r = load(&rp, argv[optind]);
	if (r < 0) {
		replay_free(&rp);
		return EXIT_USAGE;
	}
	rp.deadline_ms = now_ms() + timeout_ns / 1000000;
	r = run_items(&rp);
	if (r < 0)
		fprintf(stderr, "kata-agent-ctl replay: %s\n",
		        r == -ETIMEDOUT ? "responses still missing at the --timeout"
		                        : strerror(-r));
	int ec = report(&rp);
	replay_free(&rp);
	return r == -ECONNREFUSED ? EXIT_TRANSPORT : r < 0 ? EXIT_RPC_ERROR : ec;
}

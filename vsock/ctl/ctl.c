/* kata-agent-ctl: drive any Kata agent (ours or upstream's) over ttrpc by hand or from tests.
 * Requests are built from JSON through the protobuf-c descriptors, so every RPC of the API is
 * reachable without per-message code. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "ctl.h"
#include "agent.pb-c.h"
#include "health.pb-c.h"
#include "pbjson.h"
#include "ttrpc_client.h"
#include "ttrpc_frame.h"
#include "ttrpc_trace.h"

static const ProtobufCServiceDescriptor *const services[] = {
    &grpc__agent_service__descriptor,
    &grpc__health__descriptor,
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: kata-agent-ctl [OPTIONS] COMMAND\n"
	    "Commands:\n"
	    "  call METHOD [JSON|@FILE|-]  call one RPC; METHOD is Service.Method, "
	    "grpc.Service.Method\n"
	    "                              or a bare method name; JSON defaults to {}\n"
	    "  check                       Health.Check\n"
	    "  list                        list every RPC with its request and response types\n"
	    "  proxy --listen ADDR --upstream ADDR [--trace FILE|-] [--method M]...\n"
	    "                              forward ttrpc unchanged, tracing it as JSON lines\n"
	    "                              (proxy --help for more)\n"
	    "  replay TRACE                re-issue a trace's requests (same order and overlap)\n"
	    "                              against --addr and compare the statuses\n"
	    "  exec CONTAINER [--tty] -- CMD...  run CMD in a container, attached; exits with its "
	    "status\n"
	    "  logs [--raw]                follow the agent's log port (1025), pretty-printed\n"
	    "  console                     attach to the agent's debug console (port 1026)\n"
	    "Options:\n"
	    "  --addr ADDR        vsock://CID:PORT, unix://PATH (@PATH: abstract), "
	    "hvsock://UDS:PORT\n"
	    "                     (default: $KATA_AGENT_ADDR)\n"
	    "  --timeout DUR      request deadline sent as timeout_nano and waited for (e.g. 5s,\n"
	    "                     500ms, 2m); default: none sent, wait forever\n"
	    "  --connect-timeout DUR  connect/handshake retry window (default 0: one attempt)\n"
	    "  --repeat N         send the call N times on one connection (reports calls/s)\n"
	    "  --quiet            do not print the response\n"
	    "Exit: 0 OK, 1 the agent returned an error status, 2 usage, 3 transport failure.\n");
}

long long ctl_parse_duration(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0)
		return -1;
	double mul;
	if (!*end || strcmp(end, "s") == 0)
		mul = 1e9;
	else if (strcmp(end, "ms") == 0)
		mul = 1e6;
	else if (strcmp(end, "us") == 0)
		mul = 1e3;
	else if (strcmp(end, "ns") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60e9;
	else
		return -1;
	return (long long)(v * mul);
}

static char *read_stream(FILE *f)
{
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	while (s) {
		size_t r = fread(s + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
		if (n + 1 == cap) {
			char *t = realloc(s, cap * 2);
			if (!t) {
				free(s);
				return NULL;
			}
			s = t;
			cap *= 2;
		}
	}
	if (s)
		s[n] = '\0';
	return s;
}

static char *load_json(const char *arg)
{
	if (!arg)
		return strdup("{}");
	if (strcmp(arg, "-") == 0)
		return read_stream(stdin);
	if (arg[0] == '@') {
		FILE *f = fopen(arg + 1, "re");
		if (!f) {
			fprintf(stderr, "kata-agent-ctl: %s: %s\n", arg + 1, strerror(errno));
			return NULL;
		}
		char *s = read_stream(f);
		fclose(f);
		return s;
	}
	return strdup(arg);
}

static int cmd_list(void)
{
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
		for (unsigned m = 0; m < services[i]->n_methods; m++)
			printf("%s.%s(%s) -> %s\n", services[i]->name, services[i]->methods[m].name,
			       services[i]->methods[m].input->name,
			       services[i]->methods[m].output->name);
	return EXIT_OK;
}

int ctl_connect(const char *addr_s, long long connect_timeout_ns, int *ret_fd)
{
	struct addr a;
	const char *err = NULL;
	if (!addr_s) {
		fprintf(stderr, "kata-agent-ctl: no --addr given (or KATA_AGENT_ADDR)\n");
		return EXIT_USAGE;
	}
	if (addr_parse(addr_s, &a, &err) < 0) {
		fprintf(stderr, "kata-agent-ctl: address '%s': %s\n", addr_s, err);
		return EXIT_USAGE;
	}
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int r = addr_connect(&a, 10000, ret_fd, &err);
		if (r == 0)
			return EXIT_OK;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long elapsed =
		    (now.tv_sec - start.tv_sec) * 1000000000ll + now.tv_nsec - start.tv_nsec;
		if (elapsed >= connect_timeout_ns) {
			fprintf(stderr, "kata-agent-ctl: connecting to %s: %s: %s\n", addr_s, err,
			        strerror(-r));
			return EXIT_TRANSPORT;
		}
		usleep(20000); /* host tool: a short retry pause while a VM boots is fine */
	}
}

/* The options before the command. */
struct opts {
	const char *addr;
	long long timeout_ns, ctimeout_ns;
	long repeat;
	int quiet;
};

/* Builds md's request from the JSON argument (inline, @FILE, - or none) and packs it; returns
 * an exit status. */
static int pack_request(const ProtobufCMethodDescriptor *md, const char *json_arg,
                        uint8_t **ret_payload, size_t *ret_len)
{
	char *json = load_json(json_arg);
	if (!json)
		return EXIT_USAGE;
	ProtobufCMessage *req = NULL;
	char *err = NULL;
	int r = pbjson_from_json(md->input, json, &req, &err);
	free(json);
	if (r < 0) {
		fprintf(stderr, "kata-agent-ctl: %s request: %s\n", md->input->name,
		        err ? err : strerror(-r));
		free(err);
		return EXIT_USAGE;
	}
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *payload = malloc(len ? len : 1);
	if (!payload)
		return EXIT_TRANSPORT;
	protobuf_c_message_pack(req, payload);
	protobuf_c_message_free_unpacked(req, NULL);
	*ret_payload = payload;
	*ret_len = len;
	return EXIT_OK;
}

/* Sends the request o->repeat times on one connection, stopping at the first error status,
 * and reports the rate when repeating; *res holds the last answer.  Returns an exit status. */
static int call_repeated(const struct opts *o, const ProtobufCServiceDescriptor *sd,
                         const ProtobufCMethodDescriptor *md, const uint8_t *payload, size_t len,
                         struct ttrpc_result *res)
{
	int fd, rc = ctl_connect(o->addr, o->ctimeout_ns, &fd);
	if (rc != EXIT_OK)
		return rc;
	struct ttrpc_client c;
	ttrpc_client_init(&c, fd);
	/* Wait a second past the deadline sent, so the agent's DEADLINE_EXCEEDED can arrive. */
	int wait_ms = o->timeout_ns > 0 ? (int)(o->timeout_ns / 1000000) + 1000 : -1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < o->repeat; i++) {
		ttrpc_result_free(res);
		int r = ttrpc_client_call(&c, sd->name, md->name, payload, len, o->timeout_ns,
		                          wait_ms, res);
		if (r < 0) {
			fprintf(stderr, "kata-agent-ctl: %s.%s: %s\n", sd->name, md->name,
			        r == -ETIMEDOUT    ? "no response within the timeout"
			        : r == -ECONNRESET ? "the agent closed the connection"
			                           : strerror(-r));
			close(fd);
			return EXIT_TRANSPORT;
		}
		if (res->code != 0)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	if (o->repeat > 1) {
		double secs =
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		fprintf(stderr, "%ld calls in %.3f s: %.0f calls/s\n", o->repeat, secs,
		        (double)o->repeat / secs);
	}
	return EXIT_OK;
}

/* Prints the answer: its error status, or the response as JSON (unless quiet); frees *res. */
static int print_result(const ProtobufCMethodDescriptor *md, struct ttrpc_result *res, int quiet)
{
	if (res->code != 0) {
		fprintf(stderr, "error: %s (%d): %s\n", ttrpc_code_name(res->code), res->code,
		        res->message);
		ttrpc_result_free(res);
		return EXIT_RPC_ERROR;
	}
	ProtobufCMessage *resp =
	    protobuf_c_message_unpack(md->output, NULL, res->len, res->payload);
	ttrpc_result_free(res);
	if (!resp) {
		fprintf(stderr, "kata-agent-ctl: cannot decode the %s response\n",
		        md->output->name);
		return EXIT_TRANSPORT;
	}
	char *out = NULL;
	int r = pbjson_to_json(resp, &out);
	protobuf_c_message_free_unpacked(resp, NULL);
	if (r < 0)
		return EXIT_TRANSPORT;
	if (!quiet)
		printf("%s\n", out);
	free(out);
	return EXIT_OK;
}

static int cmd_call(const struct opts *o, const char *spec, const char *json_arg)
{
	const ProtobufCServiceDescriptor *sd;
	const ProtobufCMethodDescriptor *md;
	if (trace_find_method(spec, &sd, &md) < 0) {
		fprintf(stderr, "kata-agent-ctl: unknown method '%s' (see 'kata-agent-ctl list')\n",
		        spec);
		return EXIT_USAGE;
	}
	uint8_t *payload;
	size_t len;
	int rc = pack_request(md, json_arg, &payload, &len);
	if (rc != EXIT_OK)
		return rc;
	struct ttrpc_result res = {0};
	rc = call_repeated(o, sd, md, payload, len, &res);
	free(payload);
	if (rc != EXIT_OK) {
		ttrpc_result_free(&res);
		return rc;
	}
	return print_result(md, &res, o->quiet);
}

/* Returns true to go on to the command at argv[optind]; false to exit at once with
 * *ret_status (--help, bad usage). */
static bool parse_opts(int argc, char **argv, struct opts *o, int *ret_status)
{
	enum { O_ADDR = 256, O_TIMEOUT, O_CTIMEOUT, O_REPEAT, O_QUIET, O_HELP };
	static const struct option opts[] = {
	    {"addr", required_argument, NULL, O_ADDR},
	    {"timeout", required_argument, NULL, O_TIMEOUT},
	    {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
	    {"repeat", required_argument, NULL, O_REPEAT},
	    {"quiet", no_argument, NULL, O_QUIET},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	*o = (struct opts){.addr = getenv("KATA_AGENT_ADDR"), .repeat = 1};
	*ret_status = EXIT_USAGE;
	int c;
	/* "+": stop at the command, whose own options follow it. */
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case O_ADDR:
			o->addr = optarg;
			break;
		case O_TIMEOUT:
		case O_CTIMEOUT: {
			long long v = ctl_parse_duration(optarg);
			if (v < 0) {
				fprintf(stderr, "kata-agent-ctl: bad duration '%s'\n", optarg);
				return false;
			}
			if (c == O_TIMEOUT)
				o->timeout_ns = v;
			else
				o->ctimeout_ns = v;
			break;
		}
		case O_REPEAT:
			o->repeat = strtol(optarg, NULL, 10);
			if (o->repeat < 1) {
				fprintf(stderr,
				        "kata-agent-ctl: --repeat needs a positive number\n");
				return false;
			}
			break;
		case O_QUIET:
			o->quiet = 1;
			break;
		case O_HELP:
			usage(stdout);
			*ret_status = EXIT_OK;
			return false;
		default:
			usage(stderr);
			return false;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct opts o;
	int status;
	if (!parse_opts(argc, argv, &o, &status))
		return status;
	const char *cmd = argv[optind];
	if (strcmp(cmd, "list") == 0)
		return cmd_list();
	if (strcmp(cmd, "check") == 0)
		return cmd_call(&o, "grpc.Health.Check", NULL);
	if (strcmp(cmd, "call") == 0) {
		if (optind + 1 >= argc || optind + 3 < argc) {
			fprintf(stderr, "kata-agent-ctl: call METHOD [JSON|@FILE|-]\n");
			return EXIT_USAGE;
		}
		return cmd_call(&o, argv[optind + 1], optind + 2 < argc ? argv[optind + 2] : NULL);
	}
	if (strcmp(cmd, "proxy") == 0)
		return cmd_proxy(argc - optind, argv + optind);
	if (strcmp(cmd, "replay") == 0)
		return cmd_replay(argc - optind, argv + optind, o.addr);
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(argc - optind, argv + optind, o.addr, o.ctimeout_ns);
	if (strcmp(cmd, "logs") == 0)
		return cmd_logs(argc - optind, argv + optind, o.addr, o.ctimeout_ns);
	if (strcmp(cmd, "console") == 0)
		return cmd_console(argc - optind, argv + optind, o.addr, o.ctimeout_ns);
	fprintf(stderr, "kata-agent-ctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}

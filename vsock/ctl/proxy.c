/* kata-agent-ctl proxy: sit between a runtime (or any ttrpc client) and an agent, forward every
 * frame unchanged and write what went through as JSON lines (vsock/common/ttrpc_trace.h).
 *
 * One thread, one poll loop.  Each accepted client gets its own upstream connection; each
 * direction is a relay_half that releases bytes frame by frame.  Backpressure: a side is not
 * read while more than HIGH_WATER bytes wait to be written to the other side, so a slow agent
 * slows the client instead of growing the proxy.  Half-closes are passed on (shutdown
 * SHUT_WR once everything before the EOF was forwarded). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "ctl.h"
#include "frame_relay.h"
#include "ttrpc_trace.h"

#define HIGH_WATER  (1u << 20)
#define MAX_LINE    64 /* "CONNECT 4294967295\n" fits with room */
#define MAX_METHODS 64
#define MAX_PAIRS   1024

struct pair {
	unsigned id;
	int cfd, ufd; /* client, upstream (-1 until connected) */
	bool handshake;
	char line[MAX_LINE];
	size_t linelen;
	struct relay_half c2s, s2c;
	bool c_eof, u_eof;   /* no more to read from that side */
	bool c_shut, u_shut; /* we sent our EOF to that side */
	bool decode;
	unsigned port;
	unsigned long long c2s_bytes, s2c_bytes;
	const char *why_closed;
};

struct proxy {
	struct addr listen, upstream;
	int lfd;
	struct tracer *tr;
	struct pair *pairs[MAX_PAIRS];
	size_t npairs;
	unsigned next_id, next_hostport;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

struct piece_ctx {
	struct proxy *px;
	struct pair *p;
	enum trace_dir dir;
};

static void piece_cb(void *data, enum relay_piece kind, const uint8_t *b, size_t n)
{
	struct piece_ctx *c = data;
	if (c->p->decode)
		trace_piece(c->px->tr, c->p->id, c->dir, kind, b, n);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void close_pair(struct proxy *px, struct pair *p)
{
	char extra[160];
	snprintf(extra, sizeof(extra), "\"c2s_bytes\":%llu,\"s2c_bytes\":%llu,\"why\":\"%s\"",
	         p->c2s_bytes, p->s2c_bytes, p->why_closed ? p->why_closed : "closed");
	trace_event(px->tr, p->id, "close", extra);
	trace_conn_closed(px->tr, p->id);
	if (p->cfd >= 0)
		close(p->cfd);
	if (p->ufd >= 0)
		close(p->ufd);
	relay_half_free(&p->c2s);
	relay_half_free(&p->s2c);
	free(p);
}

/* Connect this client upstream; with a hybrid-vsock listener, port is the client's CONNECT
 * port: the agent port is decoded, others (log, console) are passed through to the same port
 * upstream when the upstream is itself hybrid vsock. */
static int connect_upstream(struct proxy *px, struct pair *p, unsigned port)
{
	struct addr up = px->upstream;
	p->port = port;
	p->decode = true;
	if (px->listen.kind == ADDR_HVSOCK && port != px->listen.port) {
		if (up.kind != ADDR_HVSOCK) {
			p->why_closed =
			    "CONNECT to a port other than the agent's, upstream not hvsock";
			return -ECONNREFUSED;
		}
		up.port = port;
		p->decode = false;
		p->c2s.passthrough = p->s2c.passthrough = true;
	}
	const char *err = NULL;
	int r = addr_connect(&up, 10000, &p->ufd, &err);
	if (r < 0) {
		p->ufd = -1;
		p->why_closed = err ? err : "upstream connect failed";
		fprintf(stderr, "kata-agent-ctl proxy: upstream: %s: %s\n", err ? err : "connect",
		        strerror(-r));
		return r;
	}
	r = set_nonblock(p->ufd);
	if (r < 0)
		return r;
	char extra[64] = "";
	if (px->listen.kind == ADDR_HVSOCK)
		snprintf(extra, sizeof(extra), "\"port\":%u%s", port,
		         p->decode ? "" : ",\"decoded\":false");
	trace_event(px->tr, p->id, "open", extra);
	return 0;
}

static void accept_clients(struct proxy *px)
{
	for (;;) {
		int fd = accept4(px->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: poll tells us again */
		struct pair *p = calloc(1, sizeof(*p));
		if (!p || px->npairs == MAX_PAIRS) {
			free(p);
			close(fd);
			continue;
		}
		p->id = ++px->next_id;
		p->cfd = fd;
		p->ufd = -1;
		p->handshake = px->listen.kind == ADDR_HVSOCK;
		if (!p->handshake && connect_upstream(px, p, 0) < 0) {
			close_pair(px, p);
			continue;
		}
		px->pairs[px->npairs++] = p;
	}
}

/* Read the "CONNECT <port>\n" line one byte at a time, so no stream byte is taken. */
static int handshake_step(struct proxy *px, struct pair *p)
{
	for (;;) {
		char ch;
		ssize_t r = read(p->cfd, &ch, 1);
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (r == 0)
			return -ECONNRESET;
		if (ch != '\n') {
			if (p->linelen + 1 >= sizeof(p->line))
				return -EPROTO;
			p->line[p->linelen++] = ch;
			continue;
		}
		p->line[p->linelen] = '\0';
		unsigned port;
		char tail;
		if (sscanf(p->line, "CONNECT %u%c", &port, &tail) != 1) {
			p->why_closed = "bad hybrid-vsock handshake line";
			return -EPROTO;
		}
		int rc = connect_upstream(px, p, port);
		if (rc < 0)
			return rc; /* a VMM closes the socket when nothing listens on the port */
		char ok[32];
		int n = snprintf(ok, sizeof(ok), "OK %u\n", px->next_hostport++);
		if (send(p->cfd, ok, (size_t)n, MSG_NOSIGNAL) != n)
			return -EIO;
		p->handshake = false;
		return 0;
	}
}

static int read_side(struct proxy *px, struct pair *p, bool from_client)
{
	struct relay_half *h = from_client ? &p->c2s : &p->s2c;
	int fd = from_client ? p->cfd : p->ufd;
	struct piece_ctx ctx = {px, p, from_client ? TRACE_TO_AGENT : TRACE_FROM_AGENT};
	uint8_t *buf;
	size_t room;
	int r = relay_reserve(h, &buf, &room);
	if (r < 0)
		return r;
	ssize_t n = read(fd, buf, room);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0) {
		relay_finish(h, piece_cb, &ctx);
		if (from_client)
			p->c_eof = true;
		else
			p->u_eof = true;
		return 0;
	}
	*(from_client ? &p->c2s_bytes : &p->s2c_bytes) += (unsigned long long)n;
	relay_commit(h, (size_t)n, piece_cb, &ctx);
	return 0;
}

static int flush_side(struct pair *p, bool to_upstream)
{
	struct relay_half *h = to_upstream ? &p->c2s : &p->s2c;
	int fd = to_upstream ? p->ufd : p->cfd;
	const uint8_t *b;
	size_t n;
	while ((n = relay_pending(h, &b)) > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		relay_consume(h, (size_t)w);
	}
	/* Everything before the EOF went out: pass the EOF on. */
	bool eof = to_upstream ? p->c_eof : p->u_eof;
	bool *shut = to_upstream ? &p->u_shut : &p->c_shut;
	if (eof && !*shut) {
		shutdown(fd, SHUT_WR);
		*shut = true;
	}
	return 0;
}

static short events_for(const struct pair *p, bool client)
{
	const uint8_t *b;
	short ev = 0;
	if (client && p->handshake)
		return POLLIN;
	if (client ? !p->c_eof && relay_pending(&p->c2s, &b) < HIGH_WATER
	           : !p->u_eof && relay_pending(&p->s2c, &b) < HIGH_WATER)
		ev |= POLLIN;
	if (relay_pending(client ? &p->s2c : &p->c2s, &b) > 0)
		ev |= POLLOUT;
	return ev;
}

/* Returns <0 when the pair is to be closed now. */
static int service_pair(struct proxy *px, struct pair *p, short crev, short urev)
{
	int r = 0;
	if (p->handshake) {
		if (crev)
			r = handshake_step(px, p);
		return r;
	}
	if (p->ufd < 0)
		return -ENOTCONN;
	if (crev & (POLLIN | POLLHUP | POLLERR))
		r = read_side(px, p, true);
	if (r == 0 && (urev & (POLLIN | POLLHUP | POLLERR)))
		r = read_side(px, p, false);
	if (r == 0)
		r = flush_side(p, true);
	if (r == 0)
		r = flush_side(p, false);
	if (r < 0)
		p->why_closed = "socket error";
	if (r == 0 && p->c_eof && p->u_eof && p->c_shut && p->u_shut)
		return -ESHUTDOWN;
	return r;
}

static int run(struct proxy *px)
{
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	static struct pollfd pfd[1 + 2 * MAX_PAIRS];
	while (!stop_signal) {
		size_t n = 0;
		pfd[n++] = (struct pollfd){.fd = px->lfd, .events = POLLIN};
		for (size_t i = 0; i < px->npairs; i++) {
			struct pair *p = px->pairs[i];
			/* A side with nothing to do is left out: a hung-up socket would report
			 * POLLHUP on every round while the other side finishes. */
			short ce = events_for(p, true), ue = events_for(p, false);
			pfd[n++] = (struct pollfd){.fd = ce ? p->cfd : -1, .events = ce};
			pfd[n++] = (struct pollfd){.fd = ue ? p->ufd : -1, .events = ue};
		}
		/* ppoll with the signals unblocked only while waiting: no lost wake-up */
		int r = ppoll(pfd, n, NULL, &orig);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		size_t before = px->npairs;
		for (size_t i = 0; i < before; i++) {
			struct pair *p = px->pairs[i];
			short crev = pfd[1 + 2 * i].revents, urev = pfd[2 + 2 * i].revents;
			if (service_pair(px, p, crev, urev) < 0) {
				close_pair(px, p);
				px->pairs[i] = NULL;
			}
		}
		size_t k = 0;
		for (size_t i = 0; i < before; i++)
			if (px->pairs[i])
				px->pairs[k++] = px->pairs[i];
		for (size_t i = before; i < px->npairs; i++)
			px->pairs[k++] = px->pairs[i];
		px->npairs = k;
		if (pfd[0].revents & POLLIN)
			accept_clients(px);
	}
	return 0;
}

static void proxy_usage(FILE *f)
{
	fputs(
	    "Usage: kata-agent-ctl proxy --listen ADDR --upstream ADDR [--trace FILE|-]\n"
	    "                            [--method M]... [--bytes-limit N]\n"
	    "  --listen ADDR     unix://PATH (@: abstract), vsock://-1:PORT, or "
	    "hvsock://PATH:PORT\n"
	    "                    (act as the VMM's hybrid socket: clients send \"CONNECT PORT\";\n"
	    "                    PORT is decoded, other ports pass through to an hvsock upstream)\n"
	    "  --upstream ADDR   the agent (any address form)\n"
	    "  --trace FILE|-    write JSON lines (one per frame and connection event)\n"
	    "  --method M        trace only method M (repeatable; Service.Method or bare name)\n"
	    "  --bytes-limit N   cut bytes fields and hex dumps past N bytes (default 4096, 0: "
	    "never)\n"
	    "Runs until SIGINT/SIGTERM, then prints a per-method summary on stderr.\n",
	    f);
}

static int listen_on(struct proxy *px)
{
	struct addr l = px->listen;
	if (l.kind == ADDR_HVSOCK)
		l.kind = ADDR_UNIX; /* the VMM side of hybrid vsock is a plain unix socket */
	return addr_listen(&l, 64, &px->lfd);
}

struct proxy_args {
	const char *listen, *upstream, *trace;
	const char *methods[MAX_METHODS];
	struct trace_opts to; /* .methods points into methods */
};

/* Returns true to run with *a; false to exit at once with *ret_status (--help, bad usage). */
static bool parse_proxy_args(int argc, char **argv, struct proxy_args *a, int *ret_status)
{
	enum { O_LISTEN = 256, O_UPSTREAM, O_TRACE, O_METHOD, O_BYTES, O_HELP };
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"upstream", required_argument, NULL, O_UPSTREAM},
	    {"trace", required_argument, NULL, O_TRACE},
	    {"method", required_argument, NULL, O_METHOD},
	    {"bytes-limit", required_argument, NULL, O_BYTES},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	a->listen = a->upstream = a->trace = NULL;
	a->to = (struct trace_opts){.bytes_limit = 4096, .methods = a->methods};
	*ret_status = EXIT_USAGE;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			a->listen = optarg;
			break;
		case O_UPSTREAM:
			a->upstream = optarg;
			break;
		case O_TRACE:
			a->trace = optarg;
			break;
		case O_METHOD:
			if (a->to.n_methods == MAX_METHODS)
				return false;
			a->methods[a->to.n_methods++] = optarg;
			break;
		case O_BYTES:
			a->to.bytes_limit = strtoul(optarg, NULL, 10);
			break;
		case O_HELP:
			proxy_usage(stdout);
			*ret_status = EXIT_OK;
			return false;
		default:
			proxy_usage(stderr);
			return false;
		}
	}
	if (!a->listen || !a->upstream || optind != argc) {
		proxy_usage(stderr);
		return false;
	}
	return true;
}

/* Every --method must name a method of the API: a typo would otherwise trace nothing. */
static int check_methods(const struct proxy_args *a)
{
	for (size_t i = 0; i < a->to.n_methods; i++) {
		const ProtobufCServiceDescriptor *sd;
		const ProtobufCMethodDescriptor *md;
		if (trace_find_method(a->methods[i], &sd, &md) < 0) {
			fprintf(stderr, "kata-agent-ctl proxy: unknown method '%s'\n",
			        a->methods[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* Closes the connections left and the listening socket (and its path), then prints the
 * per-method summary. */
static void finish(struct proxy *px)
{
	for (size_t i = 0; i < px->npairs; i++) {
		px->pairs[i]->why_closed = "proxy exiting";
		close_pair(px, px->pairs[i]);
	}
	close(px->lfd);
	if (px->listen.kind != ADDR_VSOCK && !px->listen.abstract)
		unlink(px->listen.path);
	tracer_summary(px->tr, stderr);
	tracer_free(px->tr);
}

int cmd_proxy(int argc, char **argv)
{
	struct proxy_args a;
	int status;
	if (!parse_proxy_args(argc, argv, &a, &status))
		return status;
	static struct proxy px = {.next_hostport = 1u << 30};
	const char *err = NULL;
	if (addr_parse(a.listen, &px.listen, &err) < 0 ||
	    addr_parse(a.upstream, &px.upstream, &err) < 0) {
		fprintf(stderr, "kata-agent-ctl proxy: %s\n", err);
		return EXIT_USAGE;
	}
	if (check_methods(&a) < 0)
		return EXIT_USAGE;
	FILE *out = NULL;
	if (a.trace) {
		out = strcmp(a.trace, "-") == 0 ? stdout : fopen(a.trace, "we");
		if (!out) {
			fprintf(stderr, "kata-agent-ctl proxy: %s: %s\n", a.trace, strerror(errno));
			return EXIT_USAGE;
		}
	}
	a.to.out = out;
	int r = tracer_new(&a.to, &px.tr);
	if (r == 0)
		r = listen_on(&px);
	if (r < 0) {
		fprintf(stderr, "kata-agent-ctl proxy: listen on %s: %s\n", a.listen, strerror(-r));
		return EXIT_TRANSPORT;
	}
	r = run(&px);
	finish(&px);
	if (out && out != stdout)
		fclose(out);
	return r < 0 ? EXIT_TRANSPORT : EXIT_OK;
}

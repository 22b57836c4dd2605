/* kata-agent-ctl exec, logs, console: what users of `kata-runtime exec` and the Rust
 * agent-ctl expect, on top of the same ttrpc client.
 *
 * exec runs everything on one connection: ExecProcess, then one ReadStdout (and ReadStderr
 * without a tty) always parked at the agent, WriteStdin for what arrives on our stdin,
 * CloseStdin at its end, TtyWinResize on SIGWINCH, and WaitProcess once the output streams
 * ended.  A stream ends on empty data or on an error whose message says "eof" (the agent
 * answers the first read of a drained stream with empty data and later ones with INTERNAL
 * "eof"). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "addr.h"
#include "agent.pb-c.h"
#include "ctl.h"
#include "pbjson.h"
#include "ttrpc_client.h"
#include "ttrpc_frame.h"

#define READ_LEN 32768

static struct termios saved_tio;
static bool tio_saved;
static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static void restore_tty(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = false;
}

/* Raw mode on our terminal, so keys (^C included) go to the remote side. */
static void raw_tty(void)
{
	struct termios t;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	t = saved_tio;
	cfmakeraw(&t);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0) {
		tio_saved = true;
		atexit(restore_tty);
	}
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t w = write(fd, s, n);
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

/* Send a request given as a protobuf-c message; returns the stream id or -errno. */
static long send_msg(struct ttrpc_client *c, const char *method, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	long s = ttrpc_client_send(c, "grpc.AgentService", method, buf, len, 0);
	free(buf);
	return s;
}

struct exec_state {
	struct ttrpc_client c;
	const char *cid;
	char eid[64];
	bool tty;
	long out_stream, err_stream, wait_stream, stdin_stream, resize_stream;
	bool out_done, err_done, stdin_open, stdin_busy;
	int status;
	bool exited;
};

static long send_read(struct exec_state *x, bool err)
{
	Grpc__ReadStreamRequest r = GRPC__READ_STREAM_REQUEST__INIT;
	r.container_id = (char *)x->cid;
	r.exec_id = x->eid;
	r.len = READ_LEN;
	return send_msg(&x->c, err ? "ReadStderr" : "ReadStdout", &r.base);
}

static int send_resize(struct exec_state *x, unsigned rows, unsigned cols)
{
	Grpc__TtyWinResizeRequest r = GRPC__TTY_WIN_RESIZE_REQUEST__INIT;
	r.container_id = (char *)x->cid;
	r.exec_id = x->eid;
	r.row = rows;
	r.column = cols;
	long s = send_msg(&x->c, "TtyWinResize", &r.base);
	if (s > 0)
		x->resize_stream = s;
	return s < 0 ? (int)s : 0;
}

static void resize_from_terminal(struct exec_state *x)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		send_resize(x, ws.ws_row, ws.ws_col);
}

/* Does a read's answer end its stream?  Prints the data otherwise. */
static bool read_answer(const struct ttrpc_result *res, int fd)
{
	if (res->code != 0) {
		if (!strstr(res->message, "eof") && !strstr(res->message, "EOF"))
			fprintf(stderr, "\r\nkata-agent-ctl exec: read: %s: %s\r\n",
			        ttrpc_code_name(res->code), res->message);
		return true;
	}
	Grpc__ReadStreamResponse *r =
	    grpc__read_stream_response__unpack(NULL, res->len, res->payload);
	bool end = !r || r->data.len == 0;
	if (r && r->data.len > 0)
		write_all(fd, r->data.data, r->data.len);
	if (r)
		grpc__read_stream_response__free_unpacked(r, NULL);
	return end;
}

static int stdin_chunk(struct exec_state *x)
{
	uint8_t buf[READ_LEN];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0) {
		Grpc__CloseStdinRequest r = GRPC__CLOSE_STDIN_REQUEST__INIT;
		r.container_id = (char *)x->cid;
		r.exec_id = x->eid;
		x->stdin_open = false;
		long s = send_msg(&x->c, "CloseStdin", &r.base);
		return s < 0 ? (int)s : 0;
	}
	Grpc__WriteStreamRequest w = GRPC__WRITE_STREAM_REQUEST__INIT;
	w.container_id = (char *)x->cid;
	w.exec_id = x->eid;
	w.data.data = buf;
	w.data.len = (size_t)n;
	/* One WriteStdin at a time: stdin is not read again until it is answered, so a slow
	 * process slows the writer down instead of queueing in the agent. */
	x->stdin_stream = send_msg(&x->c, "WriteStdin", &w.base);
	x->stdin_busy = x->stdin_stream > 0;
	return x->stdin_stream < 0 ? (int)x->stdin_stream : 0;
}

static int on_response(struct exec_state *x, struct ttrpc_result *res)
{
	long s = (long)res->stream_id;
	if (s == x->out_stream) {
		x->out_done = read_answer(res, STDOUT_FILENO);
		if (!x->out_done && (x->out_stream = send_read(x, false)) < 0)
			return (int)x->out_stream;
	} else if (s == x->err_stream) {
		x->err_done = read_answer(res, STDERR_FILENO);
		if (!x->err_done && (x->err_stream = send_read(x, true)) < 0)
			return (int)x->err_stream;
	} else if (s == x->stdin_stream) {
		x->stdin_busy = false;
		if (res->code != 0)
			x->stdin_open = false; /* the process is gone or closed its stdin */
	} else if (s == x->resize_stream) {
		if (res->code != 0)
			fprintf(stderr, "\r\nkata-agent-ctl exec: TtyWinResize: %s: %s\r\n",
			        ttrpc_code_name(res->code), res->message);
	} else if (s == x->wait_stream) {
		if (res->code != 0) {
			fprintf(stderr, "kata-agent-ctl exec: WaitProcess: %s: %s\n",
			        ttrpc_code_name(res->code), res->message);
			return -EIO;
		}
		Grpc__WaitProcessResponse *w =
		    grpc__wait_process_response__unpack(NULL, res->len, res->payload);
		x->status = w ? w->status : 255;
		if (w)
			grpc__wait_process_response__free_unpacked(w, NULL);
		x->exited = true;
	}
	return 0;
}

static int exec_loop(struct exec_state *x, const sigset_t *unblocked)
{
	while (!x->exited) {
		if (winch) {
			winch = 0;
			resize_from_terminal(x);
		}
		if (x->out_done && (x->tty || x->err_done) && x->wait_stream == 0) {
			Grpc__WaitProcessRequest w = GRPC__WAIT_PROCESS_REQUEST__INIT;
			w.container_id = (char *)x->cid;
			w.exec_id = x->eid;
			x->wait_stream = send_msg(&x->c, "WaitProcess", &w.base);
			if (x->wait_stream < 0)
				return (int)x->wait_stream;
		}
		struct pollfd p[2] = {
		    {.fd = x->c.fd, .events = POLLIN},
		    {.fd = x->stdin_open && !x->stdin_busy ? STDIN_FILENO : -1, .events = POLLIN},
		};
		int n = ppoll(p, 2, NULL, unblocked);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		if (p[1].revents) {
			int r = stdin_chunk(x);
			if (r < 0)
				return r;
		}
		if (p[0].revents) {
			struct ttrpc_result res;
			int r = ttrpc_client_recv(&x->c, 30000, &res);
			if (r < 0)
				return r;
			r = on_response(x, &res);
			ttrpc_result_free(&res);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ExecProcessRequest as JSON (the OCI Process has many fields; pbjson fills them). */
static char *exec_request(const char *cid, const char *eid, bool tty, char **argv, int argc)
{
	struct json_object *o = json_object_new_object(), *p = json_object_new_object();
	struct json_object *args = json_object_new_array(), *env = json_object_new_array();
	struct json_object *user = json_object_new_object();
	json_object_object_add(o, "container_id", json_object_new_string(cid));
	json_object_object_add(o, "exec_id", json_object_new_string(eid));
	json_object_object_add(p, "Terminal", json_object_new_boolean(tty));
	json_object_object_add(user, "UID", json_object_new_int(0));
	json_object_object_add(user, "GID", json_object_new_int(0));
	json_object_object_add(p, "User", user);
	for (int i = 0; i < argc; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	json_object_object_add(p, "Args", args);
	json_object_array_add(
	    env, json_object_new_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	                                "/usr/bin:/sbin:/bin"));
	if (tty) {
		char term[128];
		snprintf(term, sizeof(term), "TERM=%s", getenv("TERM") ? getenv("TERM") : "xterm");
		json_object_array_add(env, json_object_new_string(term));
	}
	json_object_object_add(p, "Env", env);
	json_object_object_add(p, "Cwd", json_object_new_string("/"));
	json_object_object_add(o, "process", p);
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

static int start_exec(struct exec_state *x, char **argv, int argc)
{
	char *json = exec_request(x->cid, x->eid, x->tty, argv, argc);
	ProtobufCMessage *req = NULL;
	char *err = NULL;
	int r = json ? pbjson_from_json(&grpc__exec_process_request__descriptor, json, &req, &err)
	             : -ENOMEM;
	free(json);
	if (r < 0) {
		fprintf(stderr, "kata-agent-ctl exec: %s\n", err ? err : strerror(-r));
		free(err);
		return EXIT_USAGE;
	}
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		protobuf_c_message_free_unpacked(req, NULL);
		return EXIT_TRANSPORT;
	}
	protobuf_c_message_pack(req, buf);
	protobuf_c_message_free_unpacked(req, NULL);
	struct ttrpc_result res = {0};
	r = ttrpc_client_call(&x->c, "grpc.AgentService", "ExecProcess", buf, len, 0, 60000, &res);
	free(buf);
	if (r < 0) {
		fprintf(stderr, "kata-agent-ctl exec: ExecProcess: %s\n", strerror(-r));
		return EXIT_TRANSPORT;
	}
	int ec = EXIT_OK;
	if (res.code != 0) {
		fprintf(stderr, "error: %s (%d): %s\n", ttrpc_code_name(res.code), res.code,
		        res.message);
		ec = EXIT_RPC_ERROR;
	}
	ttrpc_result_free(&res);
	return ec;
}

/* What exec's options give beyond the exec state: the terminal size and the exec id. */
struct exec_args {
	unsigned rows, cols; /* --tty-size; 0: follow our terminal */
	const char *eid;
};

/* Fills x->cid and x->tty and *a from the options; on true the command is argv[optind...].
 * Returns false to exit at once with *ret_status (--help, bad usage). */
static bool parse_exec_args(int argc, char **argv, struct exec_state *x, struct exec_args *a,
                            int *ret_status)
{
	enum { O_TTY = 256, O_SIZE, O_ID, O_HELP };
	static const struct option opts[] = {
	    {"tty", no_argument, NULL, O_TTY},
	    {"tty-size", required_argument, NULL, O_SIZE},
	    {"exec-id", required_argument, NULL, O_ID},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	*a = (struct exec_args){0};
	int c;
	optind = 0;
	for (;;) {
		c = getopt_long(argc, argv, "+t", opts, NULL);
		if (c == -1) {
			/* CONTAINER may come before the options; "--" ends them */
			bool dashdash = optind > 0 && strcmp(argv[optind - 1], "--") == 0;
			if (!x->cid && !dashdash && optind < argc) {
				x->cid = argv[optind++];
				continue;
			}
			break;
		}
		if (c == O_TTY || c == 't') {
			x->tty = true;
		} else if (c == O_SIZE && sscanf(optarg, "%ux%u", &a->rows, &a->cols) == 2) {
			x->tty = true;
		} else if (c == O_ID) {
			a->eid = optarg;
		} else {
			fputs("Usage: kata-agent-ctl exec CONTAINER [--tty] [--tty-size ROWSxCOLS] "
			      "[--exec-id ID] -- CMD [ARG]...\n"
			      "  Runs CMD in the container, connects our stdin/stdout/stderr to it "
			      "and "
			      "exits with\n  its status.  --tty: a terminal (ours in raw mode; its "
			      "size "
			      "follows ours, or\n  --tty-size when stdin is not a terminal).\n",
			      c == O_HELP ? stdout : stderr);
			*ret_status = c == O_HELP ? EXIT_OK : EXIT_USAGE;
			return false;
		}
	}
	if (!x->cid || optind >= argc) {
		fprintf(stderr, "kata-agent-ctl exec: needs CONTAINER -- CMD...\n");
		*ret_status = EXIT_USAGE;
		return false;
	}
	return true;
}

/* Attaches to the started process until it exits: sizes its terminal, asks for its output
 * and relays.  SIGWINCH stays blocked except inside exec_loop's wait, which then passes our
 * new terminal size on.  Returns 0 or -errno. */
static int attach(struct exec_state *x, const struct exec_args *a)
{
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGWINCH);
	sigprocmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = {.sa_handler = on_winch};
	sigaction(SIGWINCH, &sa, NULL);
	int r = 0;
	if (x->tty) {
		if (a->rows)
			r = send_resize(x, a->rows, a->cols);
		else
			resize_from_terminal(x);
		raw_tty();
	}
	if (r == 0 && (x->out_stream = send_read(x, false)) < 0)
		r = (int)x->out_stream;
	if (r == 0 && !x->tty && (x->err_stream = send_read(x, true)) < 0)
		r = (int)x->err_stream;
	if (r == 0)
		r = exec_loop(x, &orig);
	restore_tty();
	return r;
}

int cmd_exec(int argc, char **argv, const char *addr, long long connect_timeout_ns)
{
	struct exec_state x = {.stdin_open = true};
	struct exec_args a;
	int status;
	if (!parse_exec_args(argc, argv, &x, &a, &status))
		return status;
	if (a.eid)
		snprintf(x.eid, sizeof(x.eid), "%s", a.eid);
	else
		snprintf(x.eid, sizeof(x.eid), "ctl-%d-%ld", (int)getpid(), (long)time(NULL));

	int fd, ec = ctl_connect(addr, connect_timeout_ns, &fd);
	if (ec != EXIT_OK)
		return ec;
	ttrpc_client_init(&x.c, fd);
	ec = start_exec(&x, argv + optind, argc - optind);
	if (ec != EXIT_OK) {
		close(fd);
		return ec;
	}
	int r = attach(&x, &a);
	close(fd);
	if (r < 0) {
		if (r != -EIO)
			fprintf(stderr, "kata-agent-ctl exec: %s\n", strerror(-r));
		return EXIT_TRANSPORT;
	}
	return x.status & 0xff;
}

/* --- logs, console: plain byte streams on another vsock port --- */

/* The agent's address with another port (vsock, hvsock); unix addresses are used as given. */
static int port_addr(const char *addr, unsigned port, char *buf, size_t size)
{
	struct addr a;
	const char *err;
	if (!addr || addr_parse(addr, &a, &err) < 0)
		return -EINVAL;
	if (a.kind != ADDR_UNIX)
		a.port = port;
	addr_format(&a, buf, size);
	return 0;
}

static void print_value(FILE *f, struct json_object *v)
{
	if (json_object_is_type(v, json_type_string))
		fputs(json_object_get_string(v), f);
	else
		fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), f);
}

/* "TS LEVEL source/subsystem: msg key=value..." for an agent log line; other lines as is. */
static void pretty_line(const char *line, FILE *f)
{
	struct json_object *o = json_tokener_parse(line);
	if (!o || !json_object_is_type(o, json_type_object)) {
		fputs(line, f);
		fputc('\n', f);
		json_object_put(o);
		return;
	}
	static const char *const fixed[] = {"ts", "level", "source", "subsystem", "msg"};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		struct json_object *v;
		if (!json_object_object_get_ex(o, fixed[i], &v))
			continue;
		if (i == 1)
			fprintf(f, "%-7s", json_object_get_string(v));
		else
			print_value(f, v);
		fputs(i == 2 ? "/" : i == 3 ? ": " : " ", f);
	}
	json_object_object_foreach(o, k, v)
	{
		bool skip = strcmp(k, "name") == 0 || strcmp(k, "pid") == 0;
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			skip = skip || strcmp(k, fixed[i]) == 0;
		if (skip)
			continue;
		fprintf(f, "%s=", k);
		print_value(f, v);
		fputc(' ', f);
	}
	fputc('\n', f);
	json_object_put(o);
}

static int follow_lines(FILE *in, bool raw)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, in)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (raw)
			printf("%s\n", line);
		else
			pretty_line(line, stdout);
		fflush(stdout);
	}
	free(line);
	return EXIT_OK;
}

int cmd_logs(int argc, char **argv, const char *addr, long long connect_timeout_ns)
{
	enum { O_PORT = 256, O_RAW, O_FROM, O_HELP };
	static const struct option opts[] = {
	    {"port", required_argument, NULL, O_PORT},
	    {"raw", no_argument, NULL, O_RAW},
	    {"from", required_argument, NULL, O_FROM},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	unsigned port = 1025;
	bool raw = false;
	const char *from = NULL;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_PORT) {
			port = (unsigned)strtoul(optarg, NULL, 10);
		} else if (c == O_RAW) {
			raw = true;
		} else if (c == O_FROM) {
			from = optarg;
		} else {
			fputs(
			    "Usage: kata-agent-ctl logs [--port N] [--raw] [--from FILE]\n"
			    "  Follows the agent's log port (default 1025 at --addr's CID or "
			    "hybrid "
			    "socket; a\n  unix:// --addr is the log socket itself) and prints each "
			    "JSON line as\n  \"TS LEVEL source/subsystem: msg key=value...\"; "
			    "--raw "
			    "prints the lines as\n  they come; --from FILE pretty-prints a saved "
			    "log.\n",
			    c == O_HELP ? stdout : stderr);
			return c == O_HELP ? EXIT_OK : EXIT_USAGE;
		}
	}
	if (from) {
		FILE *f = strcmp(from, "-") == 0 ? stdin : fopen(from, "re");
		if (!f) {
			fprintf(stderr, "kata-agent-ctl logs: %s: %s\n", from, strerror(errno));
			return EXIT_USAGE;
		}
		int ec = follow_lines(f, raw);
		if (f != stdin)
			fclose(f);
		return ec;
	}
	char a[160];
	if (port_addr(addr, port, a, sizeof(a)) < 0) {
		fprintf(stderr, "kata-agent-ctl logs: needs a valid --addr\n");
		return EXIT_USAGE;
	}
	int fd, ec = ctl_connect(a, connect_timeout_ns, &fd);
	if (ec != EXIT_OK)
		return ec;
	FILE *in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		return EXIT_TRANSPORT;
	}
	ec = follow_lines(in, raw);
	fclose(in);
	return ec;
}

/* Copy both ways until the console closes; our EOF is passed on as a half-close. */
static int relay_console(int fd)
{
	bool in_open = true;
	char buf[4096];
	for (;;) {
		struct pollfd p[2] = {
		    {.fd = fd, .events = POLLIN},
		    {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				return n < 0 ? -errno : 0;
			int r = write_all(STDOUT_FILENO, buf, (size_t)n);
			if (r < 0)
				return r;
		}
		if (p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				in_open = false;
				shutdown(fd, SHUT_WR);
			} else if (write_all(fd, buf, (size_t)n) < 0) {
				return -EPIPE;
			}
		}
	}
}

int cmd_console(int argc, char **argv, const char *addr, long long connect_timeout_ns)
{
	enum { O_PORT = 256, O_HELP };
	static const struct option opts[] = {
	    {"port", required_argument, NULL, O_PORT},
	    {"help", no_argument, NULL, O_HELP},
	    {0},
	};
	unsigned port = 1026;
	int c;
	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == O_PORT) {
			port = (unsigned)strtoul(optarg, NULL, 10);
		} else {
			fputs("Usage: kata-agent-ctl console [--port N]\n"
			      "  Attaches to the agent's debug console (default port 1026 at "
			      "--addr's CID "
			      "or\n  hybrid socket; a unix:// --addr is used as is); our terminal "
			      "is in raw "
			      "mode.\n",
			      c == O_HELP ? stdout : stderr);
			return c == O_HELP ? EXIT_OK : EXIT_USAGE;
		}
	}
	char a[160];
	if (port_addr(addr, port, a, sizeof(a)) < 0) {
		fprintf(stderr, "kata-agent-ctl console: needs a valid --addr\n");
		return EXIT_USAGE;
	}
	int fd, ec = ctl_connect(a, connect_timeout_ns, &fd);
	if (ec != EXIT_OK)
		return ec;
	raw_tty();
	int r = relay_console(fd);
	restore_tty();
	close(fd);
	return r < 0 ? EXIT_TRANSPORT : EXIT_OK;
}

// SPDX-License-Identifier: Apache-2.0
/* GetIPTables / SetIPTables (docs/PROTOCOL.md §2.4 rows 24–25): run iptables-save or
 * iptables-restore (ip6tables-* for IPv6), the one tool the agent executes.  The call parks; the
 * child's stdin, stdout and stderr are non-blocking pipes watched on the agent's loop, and the call
 * completes once both output pipes reached EOF and the child was reaped (net_child_exited(), from
 * the SIGCHLD hook).  A call abandoned meanwhile (deadline, disconnect) lets the child finish and
 * drops its output. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "log.h"
#include "rpc_network.h"
#include "ttrpc_frame.h"
#include "util.h"

static const char *const default_dirs[] = {"/usr/sbin", "/sbin", NULL};
const char *const *net_iptables_dirs = default_dirs;

/* Output beyond this fails the call: a reply must fit in one ttrpc frame. */
#define MAX_OUTPUT (TTRPC_MAX_MSG - 4096)
#define MAX_STDERR 4096

struct job {
	struct list link;
	struct ttrpc_call *call; /* NULL once abandoned */
	const char *tool;
	pid_t pid;
	bool exited, overflow;
	int status;
	int in_fd, out_fd, err_fd;
	struct loop_watch *in_w, *out_w, *err_w;
	uint8_t *in_data; /* a copy: the request may go before the child has read it */
	size_t in_len, in_off;
	struct buf out, err;
};

static struct list jobs = {&jobs, &jobs};

static void stop_watch(struct loop_watch **w, int *fd)
{
	if (*w)
		loop_del(agent.loop, *w);
	*w = NULL;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void job_free(struct job *j)
{
	stop_watch(&j->in_w, &j->in_fd);
	stop_watch(&j->out_w, &j->out_fd);
	stop_watch(&j->err_w, &j->err_fd);
	list_del(&j->link);
	buf_free(&j->out);
	buf_free(&j->err);
	free(j->in_data);
	free(j);
}

static void job_reply(struct job *j)
{
	struct ttrpc_call *call = j->call;
	int st = j->status;
	if (j->overflow) {
		ttrpc_fail(call, TTRPC_INTERNAL, "%s: output over %u bytes", j->tool, MAX_OUTPUT);
		return;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		/* stderr, trimmed of its final newline, says why. */
		size_t n = buf_used(&j->err);
		const char *e = n ? (const char *)j->err.data + j->err.off : "";
		while (n && (e[n - 1] == '\n' || e[n - 1] == '\r'))
			n--;
		if (WIFEXITED(st))
			ttrpc_fail(call, TTRPC_INTERNAL, "%s failed with exit status %d: %.*s",
			           j->tool, WEXITSTATUS(st), (int)n, e);
		else
			ttrpc_fail(call, TTRPC_INTERNAL, "%s killed by signal %d: %.*s", j->tool,
			           WTERMSIG(st), (int)n, e);
		return;
	}
	ProtobufCBinaryData data = {buf_used(&j->out),
	                            j->out.data ? j->out.data + j->out.off : NULL};
	if (j->in_data) {
		Grpc__SetIPTablesResponse resp = GRPC__SET_IPTABLES_RESPONSE__INIT;
		resp.data = data;
		ttrpc_reply(call, &resp.base);
	} else {
		Grpc__GetIPTablesResponse resp = GRPC__GET_IPTABLES_RESPONSE__INIT;
		resp.data = data;
		ttrpc_reply(call, &resp.base);
	}
}

static void job_check(struct job *j)
{
	if (!j->exited || j->out_fd >= 0 || j->err_fd >= 0)
		return;
	if (j->call)
		job_reply(j);
	job_free(j);
}

static void on_output(struct loop *l, int fd, uint32_t events, void *data)
{
	struct job *j = data;
	bool is_err = fd == j->err_fd;
	struct buf *b = is_err ? &j->err : &j->out;
	size_t limit = is_err ? MAX_STDERR : MAX_OUTPUT;
	for (;;) {
		uint8_t chunk[16384];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break; /* EOF or error: this pipe is done */
		size_t keep = buf_used(b) >= limit ? 0 : limit - buf_used(b);
		if ((size_t)n > keep && !is_err)
			j->overflow = true;
		if (keep && buf_append(b, chunk, (size_t)n < keep ? (size_t)n : keep) < 0)
			j->overflow = true;
	}
	if (is_err)
		stop_watch(&j->err_w, &j->err_fd);
	else
		stop_watch(&j->out_w, &j->out_fd);
	job_check(j);
}

static void on_input(struct loop *l, int fd, uint32_t events, void *data)
{
	struct job *j = data;
	while (j->in_off < j->in_len) {
		ssize_t n = write(fd, j->in_data + j->in_off, j->in_len - j->in_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			break; /* EPIPE: the child stopped reading; its exit status will tell */
		j->in_off += (size_t)n;
	}
	/* All written (or the reader is gone): close so the child sees EOF. */
	stop_watch(&j->in_w, &j->in_fd);
}

static void job_cancel(struct ttrpc_call *call, void *data)
{
	struct job *j = data;
	j->call = NULL;
}

bool net_child_exited(pid_t pid, int status)
{
	struct list *p, *tmp;
	list_for_each_safe (p, tmp, &jobs) {
		struct job *j = container_of(p, struct job, link);
		if (j->pid != pid || j->exited)
			continue;
		j->exited = true;
		j->status = status;
		job_check(j);
		return true;
	}
	return false;
}

static int find_tool(const char *name, char *buf, size_t size)
{
	for (const char *const *d = net_iptables_dirs; *d; d++) {
		snprintf(buf, size, "%s/%s", *d, name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

/* Start the tool with the three pipes; our ends non-blocking, every end close-on-exec (the
 * child's copies on 0/1/2 are made by dup2 and so survive exec). */
static int spawn_tool(const char *path, char *const argv[], struct job *j)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	int r = 0;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(err[0], F_SETFL, O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	/* The agent blocks SIGCHLD/SIGTERM/SIGINT for its signalfd and ignores SIGPIPE: undo. */
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	pid_t pid;
	int e = posix_spawn(&pid, path, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e) {
		r = -e;
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	j->pid = pid;
	j->in_fd = in[1];
	j->out_fd = out[0];
	j->err_fd = err[0];
	return 0;
fail:
	close_pair(in);
	close_pair(out);
	close_pair(err);
	return r;
}

static void run_tool(struct ttrpc_call *call, bool ipv6, bool restore,
                     const ProtobufCBinaryData *in)
{
	const char *tool = restore ? (ipv6 ? "ip6tables-restore" : "iptables-restore")
	                           : (ipv6 ? "ip6tables-save" : "iptables-save");
	char path[256];
	if (find_tool(tool, path, sizeof(path)) < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "%s not found in /usr/sbin or /sbin", tool);
		return;
	}
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	list_init(&j->link);
	j->tool = tool;
	j->in_fd = j->out_fd = j->err_fd = -1;
	if (restore) {
		j->in_len = in->len;
		j->in_data = malloc(in->len ? in->len : 1);
		if (!j->in_data) {
			free(j);
			ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
			return;
		}
		if (in->len)
			memcpy(j->in_data, in->data, in->len);
	}
	/* restore: wait up to 5 s for the xtables lock, as the Rust agent does. */
	char *const save_argv[] = {(char *)tool, NULL};
	char *const restore_argv[] = {(char *)tool, "--wait", "5", NULL};
	int r = spawn_tool(path, restore ? restore_argv : save_argv, j);
	if (r < 0) {
		free(j->in_data);
		free(j);
		ttrpc_fail(call, TTRPC_INTERNAL, "starting %s: %s", path, strerror(-r));
		return;
	}
	list_add_tail(&jobs, &j->link);
	/* From here the child exists: failures below abandon the call, never the job. */
	if (loop_add(agent.loop, j->out_fd, EPOLLIN, on_output, j, &j->out_w) < 0 ||
	    loop_add(agent.loop, j->err_fd, EPOLLIN, on_output, j, &j->err_w) < 0 ||
	    (restore && loop_add(agent.loop, j->in_fd, EPOLLOUT, on_input, j, &j->in_w) < 0)) {
		kill(j->pid, SIGKILL);
		stop_watch(&j->in_w, &j->in_fd);
		stop_watch(&j->out_w, &j->out_fd);
		stop_watch(&j->err_w, &j->err_fd);
		ttrpc_fail(call, TTRPC_INTERNAL, "watching %s's pipes failed", tool);
		return; /* freed when reaped */
	}
	if (!restore)
		stop_watch(&j->in_w, &j->in_fd); /* save reads nothing: EOF at once */
	if (ttrpc_park(call, job_cancel, j) < 0)
		return; /* the call was failed; the job runs to its end unobserved */
	j->call = call;
}

void rpc_get_ip_tables(struct ttrpc_call *call, const void *req)
{
	const Grpc__GetIPTablesRequest *rq = req;
	run_tool(call, rq->is_ipv6, false, NULL);
}

void rpc_set_ip_tables(struct ttrpc_call *call, const void *req)
{
	const Grpc__SetIPTablesRequest *rq = req;
	run_tool(call, rq->is_ipv6, true, &rq->data);
}

// SPDX-License-Identifier: Apache-2.0
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "log.h"
#include "sandbox.h"

static struct list all_procs = {&all_procs, &all_procs};
static unsigned nprocs;

/* A parked call and what it waits for.  Kept in call->user. */
struct parked {
	struct list link;
	struct ttrpc_call *call;
	struct proc *p;
	uint32_t len;        /* reads: at most this many bytes */
	const uint8_t *data; /* stdin writes: the request's bytes (owned by call->req) */
	size_t size, off;
	bool stderr_stream;
};

/* Park call on list with a new record; NULL when it could not be parked (the call is then
 * already completed with an error). */
static struct parked *park(struct proc *p, struct ttrpc_call *call,
                           void (*cancel)(struct ttrpc_call *, void *), struct list *on)
{
	struct parked *k = calloc(1, sizeof(*k));
	if (!k) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return NULL;
	}
	k->call = call;
	k->p = p;
	if (ttrpc_park(call, cancel, k) < 0) {
		free(k);
		return NULL;
	}
	list_add_tail(on, &k->link);
	return k;
}

static void set_cloexec_nonblock(int fd)
{
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int proc_io_open(bool terminal, unsigned pipe_size, struct proc_io *io, struct agent_err *reterr)
{
	*io = (struct proc_io){.child = {-1, -1, -1, terminal, NULL, NULL, 0}, -1, -1, -1, -1};
	if (terminal) {
		/* The process allocates its pty from the container's devpts (ctr_stdio); the
		 * master arrives in pty_master and proc_new makes the stdio ends from it. */
		io->child.ret_pty_master = &io->pty_master;
		return 0;
	}
	int p[3][2];
	for (int i = 0; i < 3; i++) {
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			int e = errno;
			for (int j = 0; j < i; j++)
				close(p[j][0]), close(p[j][1]);
			return err_sys(reterr, -e, "creating stdio pipes");
		}
		if (pipe_size > 0 && fcntl(p[i][0], F_SETPIPE_SZ, (int)pipe_size) < 0)
			log_warn("process", "F_SETPIPE_SZ %u: %s", pipe_size, strerror(errno));
	}
	io->child.in = p[0][0];
	io->stdin_w = p[0][1];
	io->child.out = p[1][1];
	io->stdout_r = p[1][0];
	io->child.err = p[2][1];
	io->stderr_r = p[2][0];
	set_cloexec_nonblock(io->stdin_w);
	set_cloexec_nonblock(io->stdout_r);
	set_cloexec_nonblock(io->stderr_r);
	return 0;
}

void proc_io_close_child(struct proc_io *io)
{
	close_fd(&io->child.in);
	close_fd(&io->child.out);
	close_fd(&io->child.err);
}

void proc_io_close_all(struct proc_io *io)
{
	proc_io_close_child(io);
	close_fd(&io->stdin_w);
	close_fd(&io->stdout_r);
	close_fd(&io->stderr_r);
	close_fd(&io->pty_master);
}

static void stream_init(struct proc_stream *s, int fd)
{
	s->fd = fd;
	s->w = NULL;
	s->armed = false;
	s->eof = fd < 0;
	list_init(&s->readers);
}

int proc_new(struct sandbox_ctr *ctr, const char *exec_id, pid_t pid, bool init, bool terminal,
             struct proc_io *io, struct proc **ret)
{
	struct proc *p = calloc(1, sizeof(*p));
	if (!p || !(p->exec_id = strdup(exec_id))) {
		free(p);
		return -ENOMEM;
	}
	if (terminal && io->pty_master >= 0 && io->stdout_r < 0) {
		/* stdout and stdin go through the master; TIOCSWINSZ too (pty_fd). */
		set_cloexec_nonblock(io->pty_master);
		io->stdout_r = fcntl(io->pty_master, F_DUPFD_CLOEXEC, 3);
		io->stdin_w = fcntl(io->pty_master, F_DUPFD_CLOEXEC, 3);
		if (io->stdout_r < 0 || io->stdin_w < 0) {
			int e = errno;
			free(p->exec_id);
			free(p);
			return -e;
		}
	}
	p->ctr = ctr;
	p->pid = pid;
	p->init = init;
	p->terminal = terminal;
	p->stdin_fd = TAKE_FD(io->stdin_w);
	p->pty_fd = TAKE_FD(io->pty_master);
	stream_init(&p->out, TAKE_FD(io->stdout_r));
	stream_init(&p->err, TAKE_FD(io->stderr_r));
	list_init(&p->waiters);
	list_init(&p->writers);
	list_init(&p->link);
	list_add_tail(&all_procs, &p->all_link);
	nprocs++;
	*ret = p;
	return 0;
}

struct proc *proc_find_pid(pid_t pid)
{
	struct list *l;
	list_for_each (l, &all_procs) {
		struct proc *p = container_of(l, struct proc, all_link);
		if (p->pid == pid && !p->exited)
			return p;
	}
	return NULL;
}

unsigned proc_count(void)
{
	return nprocs;
}

int proc_status_from_wait(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

/* ---- reading stdout/stderr ---- */

static void reply_data(struct ttrpc_call *call, const uint8_t *data, size_t n)
{
	Grpc__ReadStreamResponse r = GRPC__READ_STREAM_RESPONSE__INIT;
	r.data.data = (uint8_t *)data;
	r.data.len = n;
	ttrpc_reply(call, &r.base);
}

static void stream_stop_watch(struct proc_stream *s)
{
	if (s->w) {
		loop_del(agent.loop, s->w);
		s->w = NULL;
	}
	s->armed = false;
}

static void stream_event(struct loop *l, int fd, uint32_t events, void *data);

/* Wait for the fd to become readable for the parked reads.  The watch is one-shot and stays
 * registered until the stream closes: a parked read costs one epoll_ctl (re-arming), not an
 * add and a delete.  Firing with nobody parked (a cancelled read) only disarms it. */
static void stream_arm(struct proc *p, struct proc_stream *s)
{
	if (s->armed || s->fd < 0)
		return;
	int r = s->w ? loop_mod(agent.loop, s->w, EPOLLIN | EPOLLONESHOT)
	             : loop_add(agent.loop, s->fd, EPOLLIN | EPOLLONESHOT, stream_event, s, &s->w);
	if (r < 0)
		log_warn("process", "watching %s of %s: %s", s == &p->err ? "stderr" : "stdout",
		         p->exec_id, strerror(-r));
	else
		s->armed = true;
}

static void stream_close(struct proc_stream *s)
{
	stream_stop_watch(s);
	close_fd(&s->fd);
	s->eof = true;
}

/* End of a drained stream, in the form every runtime version stops on (docs/PROTOCOL.md,
 * "stdout and stderr EOF"): the first read that finds the stream drained gets empty data, which
 * ends the loops of Go runtimes since 2026-02 and of runtime-rs; every later read gets an error,
 * which is the only thing that ends the loop of older Go runtimes (they turn empty data into a
 * zero-length read and ask again).  Upstream's agent answered "read meet eof" until 2026-02. */
static void reply_eof(struct proc_stream *s, struct ttrpc_call *call)
{
	if (s->eof_sent) {
		ttrpc_fail(call, TTRPC_INTERNAL, "read meet eof");
		return;
	}
	s->eof_sent = true;
	reply_data(call, NULL, 0);
}

/* One read attempt for the call.  Returns true if the call was completed. */
static bool try_read(struct proc *p, struct proc_stream *s, struct ttrpc_call *call, uint32_t len)
{
	if (s->eof || s->fd < 0) {
		reply_eof(s, call);
		return true;
	}
	/* One buffer for every read: the loop is single-threaded and the reply is packed into the
	 * connection's output before we return, so it is free again.  (A malloc per call made
	 * musl map and unmap pages on every ReadStdout.)  Pages are touched only as far as the
	 * largest read asked for. */
	static uint8_t buf[PROC_MAX_READ];
	/* Room for the reply first: data taken from the pipe must not be lost to an allocation
	 * failure while the reply is queued. */
	if (ttrpc_reserve_reply(call, (size_t)len + 8) < 0) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return true;
	}
	ssize_t n = read(s->fd, buf, len);
	if (n > 0) {
		reply_data(call, buf, (size_t)n);
		return true;
	}
	/* A pty master reads EIO once every slave fd is closed: that is its EOF.  After exit
	 * and the drain bound, a grandchild may still hold the pipe; we stop waiting for it. */
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (p->exited && p->drain_expired)) {
		stream_close(s);
		reply_eof(s, call);
		return true;
	}
	return false;
}

static void serve_readers(struct proc *p, struct proc_stream *s)
{
	while (!list_empty(&s->readers)) {
		struct parked *k = container_of(s->readers.next, struct parked, link);
		struct ttrpc_call *call = k->call;
		if (!try_read(p, s, call, k->len))
			break;
		/* try_read completed the call: the parked record goes with it */
		list_del(&k->link);
		free(k);
	}
	if (!list_empty(&s->readers))
		stream_arm(p, s);
}

static void stream_event(struct loop *l, int fd, uint32_t events, void *data)
{
	struct proc_stream *s = data;
	s->armed = false; /* one-shot: it fired */
	if (list_empty(&s->readers))
		return;
	serve_readers(container_of(s->readers.next, struct parked, link)->p, s);
}

static void reader_cancel(struct ttrpc_call *call, void *data)
{
	struct parked *k = data;
	list_del(&k->link);
	free(k);
}

void proc_read(struct proc *p, bool stderr_stream, uint32_t len, struct ttrpc_call *call)
{
	struct proc_stream *s = stderr_stream ? &p->err : &p->out;
	if (s->passfd_port) {
		/* Not an EOF: a reader ending on it could take the stream for empty. */
		ttrpc_fail(call, TTRPC_FAILED_PRECONDITION,
		           "%s of %s goes to host port %u (passfd)",
		           stderr_stream ? "stderr" : "stdout", p->exec_id, s->passfd_port);
		return;
	}
	if (len == 0)
		len = 32768;
	if (len > PROC_MAX_READ)
		len = PROC_MAX_READ;
	/* Keep order: a new reader queues behind parked ones. */
	if (list_empty(&s->readers) && try_read(p, s, call, len))
		return;
	struct parked *k = park(p, call, reader_cancel, &s->readers);
	if (!k)
		return;
	k->len = len;
	k->stderr_stream = stderr_stream;
	stream_arm(p, s);
}

/* ---- stdin ---- */

static void stdin_stop_watch(struct proc *p)
{
	if (p->stdin_w) {
		loop_del(agent.loop, p->stdin_w);
		p->stdin_w = NULL;
	}
}

static void reply_written(struct ttrpc_call *call, size_t n)
{
	Grpc__WriteStreamResponse r = GRPC__WRITE_STREAM_RESPONSE__INIT;
	r.len = (uint32_t)n;
	ttrpc_reply(call, &r.base);
}

static void fail_writers(struct proc *p, const char *why)
{
	while (!list_empty(&p->writers)) {
		struct parked *k = container_of(p->writers.next, struct parked, link);
		list_del(&k->link);
		struct ttrpc_call *call = k->call;
		free(k);
		ttrpc_fail(call, TTRPC_INTERNAL, "%s", why);
	}
	stdin_stop_watch(p);
}

/* Write as much as possible for parked writers, in order. */
static void serve_writers(struct proc *p)
{
	while (!list_empty(&p->writers)) {
		struct parked *k = container_of(p->writers.next, struct parked, link);
		while (k->off < k->size) {
			ssize_t n = write(p->stdin_fd, k->data + k->off, k->size - k->off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n < 0) {
				char why[128];
				snprintf(why, sizeof(why), "writing stdin of %s: %s", p->exec_id,
				         strerror(errno));
				fail_writers(p, why);
				return;
			}
			k->off += (size_t)n;
		}
		list_del(&k->link);
		struct ttrpc_call *call = k->call;
		size_t size = k->size;
		free(k);
		reply_written(call, size);
	}
	stdin_stop_watch(p);
}

static void stdin_event(struct loop *l, int fd, uint32_t events, void *data)
{
	serve_writers(data);
}

static void writer_cancel(struct ttrpc_call *call, void *data)
{
	struct parked *k = data;
	struct proc *p = k->p;
	list_del(&k->link);
	free(k);
	if (list_empty(&p->writers))
		stdin_stop_watch(p);
}

void proc_write_stdin(struct proc *p, const uint8_t *data, size_t len, struct ttrpc_call *call)
{
	if (p->stdin_passfd_port && len > 0) {
		ttrpc_fail(call, TTRPC_FAILED_PRECONDITION,
		           "stdin of %s comes from host port %u (passfd)", p->exec_id,
		           p->stdin_passfd_port);
		return;
	}
	if (len == 0) {
		/* Empty data means EOF on stdin (runtime-rs). */
		proc_close_stdin(p);
		reply_written(call, 0);
		return;
	}
	if (p->stdin_fd < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "stdin of %s is closed", p->exec_id);
		return;
	}
	struct parked *k = calloc(1, sizeof(*k));
	if (!k) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	k->call = call;
	k->p = p;
	k->data = data;
	k->size = len;
	bool first = list_empty(&p->writers);
	list_add_tail(&p->writers, &k->link);
	if (first) {
		serve_writers(p);
		/* Completed at once (the common case)? */
		if (list_empty(&p->writers) ||
		    container_of(p->writers.next, struct parked, link) != k)
			return;
	}
	list_del(&k->link);
	if (ttrpc_park(call, writer_cancel, k) < 0) {
		free(k);
		return;
	}
	list_add_tail(&p->writers, &k->link);
	if (!p->stdin_w &&
	    loop_add(agent.loop, p->stdin_fd, EPOLLOUT, stdin_event, p, &p->stdin_w) < 0)
		log_warn("process", "watching stdin of %s: %s", p->exec_id, strerror(errno));
}

int proc_close_stdin(struct proc *p)
{
	fail_writers(p, "stdin was closed");
	close_fd(&p->stdin_fd);
	passfd_pump_free(TAKE_PTR(p->stdin_pump));
	return 0;
}

/* ---- passfd ---- */

static bool outputs_done(const struct proc *p)
{
	return passfd_pump_done(p->out.pump) && passfd_pump_done(p->err.pump);
}

static void answer_waiters(struct proc *p);

static void output_pump_done(struct passfd_pump *pp, void *data)
{
	struct proc *p = data;
	log_debug("process", "passfd output of %s: %llu bytes, done", p->exec_id,
	          passfd_pump_bytes(pp));
	if (p->exited && outputs_done(p))
		answer_waiters(p);
}

static void input_pump_done(struct passfd_pump *pp, void *data)
{
	struct proc *p = data;
	passfd_pump_free(TAKE_PTR(p->stdin_pump));
}

/* Pump stream s's fd to the connection; the stream itself is then at EOF for ReadStdout. */
static int attach_output(struct proc *p, struct proc_stream *s, uint32_t port, int *conn)
{
	s->passfd_port = port;
	if (s->fd < 0) {
		/* A tty process's stderr: everything goes through stdout; the host sees EOF. */
		close_fd(conn);
		return 0;
	}
	stream_stop_watch(s);
	int r = passfd_pump_new(agent.loop, s->fd, *conn, output_pump_done, p, &s->pump);
	if (r < 0)
		return r;
	s->fd = -1;
	s->eof = true;
	*conn = -1;
	return 0;
}

int proc_attach_passfd(struct proc *p, const uint32_t ports[3], int fds[3])
{
	int r = 0;
	if (fds[PASSFD_STDOUT] >= 0)
		r = attach_output(p, &p->out, ports[PASSFD_STDOUT], &fds[PASSFD_STDOUT]);
	if (r == 0 && fds[PASSFD_STDERR] >= 0)
		r = attach_output(p, &p->err, ports[PASSFD_STDERR], &fds[PASSFD_STDERR]);
	if (r == 0 && fds[PASSFD_STDIN] >= 0 && p->stdin_fd >= 0) {
		p->stdin_passfd_port = ports[PASSFD_STDIN];
		r = passfd_pump_new(agent.loop, fds[PASSFD_STDIN], p->stdin_fd, input_pump_done, p,
		                    &p->stdin_pump);
		if (r == 0) {
			p->stdin_fd = -1;
			fds[PASSFD_STDIN] = -1;
		}
	}
	passfd_close_fds(fds);
	return r;
}

int proc_resize(struct proc *p, unsigned rows, unsigned cols)
{
	if (p->pty_fd < 0)
		return -ENOTTY;
	struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
	return ioctl(p->pty_fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

/* ---- exit and wait ---- */

static void reply_status(struct ttrpc_call *call, int status)
{
	Grpc__WaitProcessResponse r = GRPC__WAIT_PROCESS_RESPONSE__INIT;
	r.status = status;
	ttrpc_reply(call, &r.base);
}

static void drain_expired(struct loop *l, struct loop_timer *t)
{
	struct proc *p = container_of(t, struct proc, drain);
	p->drain_expired = true;
	passfd_pump_drain(p->out.pump);
	passfd_pump_drain(p->err.pump);
	serve_readers(p, &p->out);
	serve_readers(p, &p->err);
}

static void waiter_cancel(struct ttrpc_call *call, void *data)
{
	struct parked *k = data;
	list_del(&k->link);
	free(k);
}

void proc_wait(struct proc *p, struct ttrpc_call *call)
{
	if (p->exited && outputs_done(p)) {
		int status = p->status;
		reply_status(call, status);
		proc_free(p); /* waited: the record goes (docs/PROTOCOL.md §2.4 #6) */
		return;
	}
	park(p, call, waiter_cancel, &p->waiters);
}

bool proc_child_exited(pid_t pid, int wstatus)
{
	struct proc *p = proc_find_pid(pid);
	if (!p)
		return false;
	p->exited = true;
	p->status = proc_status_from_wait(wstatus);
	log_info("process", "%s (pid %d) exited with status %d", p->exec_id, (int)pid, p->status);
	/* stdin is useless now; readers get what is left, bounded by the drain timer. */
	fail_writers(p, "the process exited");
	close_fd(&p->stdin_fd);
	passfd_pump_free(TAKE_PTR(p->stdin_pump));
	p->drain.cb = drain_expired;
	loop_timer_arm(agent.loop, &p->drain, now_ns() + ms_to_ns(PROC_DRAIN_MS));
	serve_readers(p, &p->out);
	serve_readers(p, &p->err);
	/* With passfd output, waiters get the status once the host has every byte. */
	if (outputs_done(p))
		answer_waiters(p);
	return true;
}

/* Every concurrent waiter gets the status, then the record goes. */
static void answer_waiters(struct proc *p)
{
	if (list_empty(&p->waiters))
		return;
	while (!list_empty(&p->waiters)) {
		struct parked *k = container_of(p->waiters.next, struct parked, link);
		list_del(&k->link);
		struct ttrpc_call *call = k->call;
		free(k);
		reply_status(call, p->status);
	}
	proc_free(p);
}

void proc_free(struct proc *p)
{
	if (!p)
		return;
	struct proc_stream *streams[] = {&p->out, &p->err};
	for (int i = 0; i < 2; i++) {
		struct proc_stream *s = streams[i];
		while (!list_empty(&s->readers)) {
			struct parked *k = container_of(s->readers.next, struct parked, link);
			list_del(&k->link);
			struct ttrpc_call *call = k->call;
			free(k);
			reply_data(call, NULL, 0);
		}
		stream_close(s);
	}
	while (!list_empty(&p->waiters)) {
		struct parked *k = container_of(p->waiters.next, struct parked, link);
		list_del(&k->link);
		struct ttrpc_call *call = k->call;
		free(k);
		if (p->exited)
			reply_status(call, p->status);
		else
			ttrpc_fail(call, TTRPC_NOT_FOUND, "process %s was removed", p->exec_id);
	}
	fail_writers(p, "the process was removed");
	close_fd(&p->stdin_fd);
	close_fd(&p->pty_fd);
	passfd_pump_free(TAKE_PTR(p->stdin_pump));
	passfd_pump_free(TAKE_PTR(p->out.pump));
	passfd_pump_free(TAKE_PTR(p->err.pump));
	loop_timer_cancel(&p->drain);
	sandbox_ctr_del_proc(p);
	list_del(&p->all_link);
	nprocs--;
	free(p->exec_id);
	free(p);
}

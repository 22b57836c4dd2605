// SPDX-License-Identifier: Apache-2.0
#include "debug_console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "addr.h"
#include "agent.h"
#include "log.h"
#include "util.h"

#define SUB "debug-console"

/* After the shell exits, how long its last output may take to reach the pty master (the tty
 * layer pushes it through a work queue), and how long the end may take overall (flushing to a
 * slow peer, or a hung-up shell that ignores SIGHUP before it gets SIGKILL). */
#define EXIT_GRACE_NS ms_to_ns(100)
#define END_LIMIT_NS  ms_to_ns(3000)
/* How often the end of input is retried while the shell has not taken it (first, then at
 * most: the interval doubles while nothing changes). */
#define EOF_POLL_MIN_NS ms_to_ns(5)
#define EOF_POLL_MAX_NS ms_to_ns(1000)

/* A bounded byte queue: [off, off + len) of data. */
struct bq {
	size_t off, len;
	unsigned char data[16384];
};

static size_t bq_space(const struct bq *q)
{
	return sizeof(q->data) - q->off - q->len;
}

static void bq_compact(struct bq *q)
{
	if (q->off > 0) {
		memmove(q->data, q->data + q->off, q->len);
		q->off = 0;
	}
}

static void bq_consume(struct bq *q, size_t n)
{
	q->off += n;
	q->len -= n;
	if (q->len == 0)
		q->off = 0;
}

struct session {
	struct list link;
	int conn, master;
	int slave; /* our own reference to the pty's slave, held until the shell is reaped */
	struct loop_watch *cw, *mw;
	pid_t pid;             /* > 0 until reaped */
	bool conn_eof;         /* the peer shut down its sending side: type its end of input */
	unsigned char last_in; /* the last byte the peer sent (0: none yet) */
	/* The line discipline's mode (type_eof) when the EOF character was last typed, -1 before
	 * the first; eof_poll_ns is the current retry interval. */
	int eof_mode;
	unsigned long long eof_poll_ns;
	struct loop_timer eof_timer;
	bool ending; /* the pty is closed: flush to the peer, wait for the reap */
	bool grace;  /* the shell exited: its output gets EXIT_GRACE_NS */
	struct loop_timer timer;
	struct bq to_pty, to_conn;
	char tty[32];
};

static struct {
	struct loop *loop;
	int lfd;
	struct loop_listen ll;
	struct list sessions;
	unsigned n;
	char addr_text[200];
} dc = {.lfd = -1, .sessions = {&dc.sessions, &dc.sessions}};

/* The shells we try, in order; argv[0] "sh" makes busybox run its sh applet. */
static const struct {
	const char *path;
	const char *argv0;
} shells[] = {
    {"/bin/sh", "sh"},
    {"/bin/busybox", "sh"},
};

static const char *const shell_env[] = {
    "PATH=/bin:/sbin:/usr/bin:/usr/sbin",
    "TERM=vt100",
    "HOME=/",
    NULL,
};

static void set_watch(struct session *s, int fd, struct loop_watch **w, uint32_t ev, loop_fd_cb cb)
{
	/* A watch with no events would still report EPOLLHUP, over and over: remove it. */
	if (fd < 0 || ev == 0) {
		if (*w)
			loop_del(dc.loop, *w);
		*w = NULL;
	} else if (*w) {
		loop_mod(dc.loop, *w, ev);
	} else if (loop_add(dc.loop, fd, ev, cb, s, w) < 0) {
		*w = NULL;
	}
}

static void close_conn(struct session *s)
{
	set_watch(s, -1, &s->cw, 0, NULL);
	if (s->conn >= 0)
		close(s->conn);
	s->conn = -1;
	s->to_conn.len = s->to_conn.off = 0;
}

static void close_slave(struct session *s)
{
	if (s->slave >= 0)
		close(s->slave);
	s->slave = -1;
}

/* Closing the master hangs the pty up: the kernel sends SIGHUP to the shell's session.  why says
 * what ended the session's pty side, in the debug log with what is still to go to the peer. */
static void close_master(struct session *s, const char *why)
{
	set_watch(s, -1, &s->mw, 0, NULL);
	if (s->master >= 0) {
		log_debug(SUB, "%s closed (%s; shell %s, %zu bytes still to send)", s->tty, why,
		          s->pid > 0 ? "running" : "reaped", s->to_conn.len);
		close(s->master);
	}
	close_slave(s);
	s->master = -1;
	s->to_pty.len = s->to_pty.off = 0;
	if (s->pid > 0)
		kill(-s->pid, SIGHUP);
	if (!s->ending) {
		s->ending = true;
		loop_timer_arm(dc.loop, &s->timer, now_ns() + END_LIMIT_NS);
	}
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data);
static void on_master(struct loop *l, int fd, uint32_t events, void *data);

/* Recompute the watches from the buffers, and free the session once everything is over. */
static void session_update(struct session *s)
{
	if (s->master < 0 && s->conn >= 0 && s->to_conn.len == 0)
		close_conn(s);
	if (s->master < 0 && s->conn < 0 && s->pid <= 0) {
		loop_timer_cancel(&s->timer);
		loop_timer_cancel(&s->eof_timer);
		list_del(&s->link);
		dc.n--;
		free(s);
		return;
	}
	uint32_t cev = 0, mev = 0;
	if (!s->conn_eof && s->master >= 0 && bq_space(&s->to_pty) > 0)
		cev |= EPOLLIN;
	if (s->to_conn.len > 0)
		cev |= EPOLLOUT;
	if (s->to_pty.len > 0)
		mev |= EPOLLOUT;
	if (s->conn >= 0 && s->to_conn.len < sizeof(s->to_conn.data))
		mev |= EPOLLIN;
	set_watch(s, s->conn, &s->cw, cev, on_conn);
	set_watch(s, s->master, &s->mw, mev, on_master);
}

/* Read what fits from the master; on EIO (no slave left) or a hang-up, close it. */
static void read_master(struct session *s)
{
	for (;;) {
		bq_compact(&s->to_conn);
		size_t room = bq_space(&s->to_conn);
		if (room == 0)
			return;
		ssize_t n = read(s->master, s->to_conn.data + s->to_conn.len, room);
		if (n > 0) {
			s->to_conn.len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_master(s, n == 0 ? "end of file on the master" : strerror(errno));
		return;
	}
}

/* The peer's end of input, typed as a user types it: the EOF character, once the shell has read
 * everything before it and at a moment it takes it as the end.  Typed too early it is lost: an
 * EOF typed in canonical mode is a mark in the line discipline's queue, and a shell with line
 * editing (busybox ash) switches to raw mode to read its next line, which turns the mark into
 * a NUL byte it ignores.  So it is typed when the shell has read all input (the slave's input
 * queue is empty), and typed again only once the mode has changed since: the piped commands
 * run, and the shell then exits at its next prompt.  A shell that stays in one mode (dash,
 * canonical) gets it once; a program that ignores it gets it again at each mode change.  Until
 * the shell exits, the state is polled: nothing signals a read or a mode change to the master.
 * When the state cannot be read (it always can on Linux ptys), it is typed once, blind. */
static void type_eof(struct session *s)
{
	loop_timer_cancel(&s->eof_timer);
	if (!s->conn_eof || s->master < 0 || s->pid <= 0 || s->to_pty.len > 0)
		return;
	struct termios t;
	int queued = 0, mode = 2; /* 1 canonical, 0 raw, 2 unknown */
	if (tcgetattr(s->master, &t) == 0)
		mode = (t.c_lflag & ICANON) ? 1 : 0;
	else
		t.c_cc[VEOF] = 4;
	if (ioctl(s->slave, TIOCINQ, &queued) < 0)
		queued = 0;
	if (queued == 0 && mode != s->eof_mode) {
		unsigned char c = t.c_cc[VEOF];
		if (write(s->master, &c, 1) == 1) {
			static const char *const names[] = {"raw", "canonical", "unknown"};
			log_debug(SUB, "%s: end of input typed (%s mode)", s->tty, names[mode]);
			s->eof_mode = mode;
			s->eof_poll_ns = EOF_POLL_MIN_NS;
		}
	} else {
		s->eof_poll_ns =
		    2 * s->eof_poll_ns < EOF_POLL_MAX_NS ? 2 * s->eof_poll_ns : EOF_POLL_MAX_NS;
	}
	loop_timer_arm(dc.loop, &s->eof_timer, now_ns() + s->eof_poll_ns);
}

static void on_eof_timer(struct loop *l, struct loop_timer *t)
{
	type_eof(container_of(t, struct session, eof_timer));
}

static void write_master(struct session *s)
{
	while (s->to_pty.len > 0) {
		ssize_t n = write(s->master, s->to_pty.data + s->to_pty.off, s->to_pty.len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				close_master(s, strerror(errno));
			return;
		}
		bq_consume(&s->to_pty, (size_t)n);
	}
	type_eof(s);
}

static void hang_up(struct session *s, const char *why)
{
	log_debug(SUB, "%s: the peer's connection ended (%s), %zu bytes unsent", s->tty, why,
	          s->to_conn.len);
	close_conn(s);
	close_master(s, "peer gone");
}

static void on_master(struct loop *l, int fd, uint32_t events, void *data)
{
	struct session *s = data;
	if (events & EPOLLOUT)
		write_master(s);
	if (s->master >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		read_master(s);
	if (s->master >= 0 && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN) &&
	    bq_space(&s->to_conn) > 0)
		close_master(s, "hang-up");
	if (s->conn >= 0 && s->to_conn.len > 0)
		on_conn(l, s->conn, EPOLLOUT, s); /* send at once; calls session_update */
	else
		session_update(s);
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *data)
{
	struct session *s = data;
	if (events & (EPOLLHUP | EPOLLERR)) {
		hang_up(s, events & EPOLLERR ? "error" : "hang-up");
		session_update(s);
		return;
	}
	if ((events & EPOLLIN) && !s->conn_eof && s->master >= 0) {
		bq_compact(&s->to_pty);
		size_t room = bq_space(&s->to_pty);
		ssize_t n = room ? read(fd, s->to_pty.data + s->to_pty.len, room) : -1;
		if (n > 0) {
			s->to_pty.len += (size_t)n;
			s->last_in = s->to_pty.data[s->to_pty.off + s->to_pty.len - 1];
			write_master(s);
		} else if (n == 0) {
			/* Piped input whose last line has no newline: it is still a command to run
			 * (a shell would not take the end of input on a line with text on it). */
			if (s->last_in && s->last_in != '\n' && s->last_in != '\r')
				s->to_pty.data[s->to_pty.off + s->to_pty.len++] = '\n';
			s->conn_eof = true;
			write_master(s);
		} else if (room && errno != EAGAIN && errno != EINTR) {
			hang_up(s, strerror(errno));
		}
	}
	while (s->conn >= 0 && s->to_conn.len > 0) {
		ssize_t n = send(s->conn, s->to_conn.data + s->to_conn.off, s->to_conn.len,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				hang_up(s, strerror(errno));
			break;
		}
		bq_consume(&s->to_conn, (size_t)n);
	}
	/* Room again: the master may have more for us. */
	if (s->master >= 0 && s->conn >= 0 && bq_space(&s->to_conn) > 0)
		read_master(s);
	session_update(s);
}

static void on_timer(struct loop *l, struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, timer);
	if (s->grace && s->master >= 0) {
		/* The shell is gone and its last words had time to arrive. */
		read_master(s);
		close_master(s, "the shell's exit grace ended");
		if (s->conn >= 0 && s->to_conn.len > 0) {
			on_conn(l, s->conn, EPOLLOUT, s);
			return;
		}
	} else {
		close_conn(s);
		if (s->pid > 0) {
			log_warn(SUB, "shell %d still running after hang-up: killing it",
			         (int)s->pid);
			kill(-s->pid, SIGKILL);
			kill(s->pid, SIGKILL);
		}
	}
	session_update(s);
}

bool debug_console_child_exited(pid_t pid, int wstatus)
{
	struct list *p;
	list_for_each (p, &dc.sessions) {
		struct session *s = container_of(p, struct session, link);
		if (s->pid != pid)
			continue;
		s->pid = 0;
		close_slave(s); /* the master sees the hang-up once the shell's children let go */
		log_info(SUB, "shell %d on %s ended (%s %d)", (int)pid, s->tty,
		         WIFEXITED(wstatus) ? "exit status" : "signal",
		         WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus));
		if (s->master >= 0) {
			s->grace = true;
			loop_timer_arm(dc.loop, &s->timer, now_ns() + EXIT_GRACE_NS);
		}
		session_update(s);
		return true;
	}
	return false;
}

static int open_pty(int *ret_master, int *ret_slave, char *name, size_t size)
{
	_cleanup_close_ int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		return -errno;
	int r = ptsname_r(m, name, size);
	if (r != 0)
		return -r;
	int sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sl < 0)
		return -errno;
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	ioctl(sl, TIOCSWINSZ, &ws);
	if (fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) < 0) {
		r = -errno;
		close(sl);
		return r;
	}
	*ret_slave = sl;
	*ret_master = TAKE_FD(m);
	return 0;
}

static _Noreturn void child_fail(const char *what)
{
	static const char prefix[] = "kata-agent-c: debug console: ";
	(void)!write(2, prefix, sizeof(prefix) - 1);
	(void)!write(2, what, strlen(what));
	(void)!write(2, "\n", 1);
	_exit(127);
}

/* Between fork and exec: async-signal-safe system calls only, everything prepared before. */
static _Noreturn void child(int slave, const char *exe, char *const argv[], const sigset_t *empty,
                            const struct sigaction *dfl)
{
	sigaction(SIGPIPE, dfl, NULL); /* the agent ignores it; exec keeps ignored signals */
	sigprocmask(SIG_SETMASK, empty, NULL);
	if (setsid() < 0)
		child_fail("setsid failed");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		child_fail("TIOCSCTTY failed");
	if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
		child_fail("dup2 failed");
	/* Nothing of the agent's reaches the shell; without close_range, CLOEXEC covers it. */
	(void)syscall(SYS_close_range, 3U, ~0U, 0U);
	if (chdir("/") < 0)
		child_fail("chdir / failed");
	execve(exe, argv, (char *const *)shell_env);
	child_fail("exec of the shell failed");
}

static int find_shell(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(shells); i++)
		if (access(shells[i].path, X_OK) == 0)
			return (int)i;
	return -ENOENT;
}

static void refuse(int fd, const char *msg)
{
	(void)!send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static int session_start(int conn)
{
	int sh = find_shell();
	if (sh < 0) {
		refuse(conn, DEBUG_CONSOLE_NO_SHELL_MSG);
		log_warn(SUB, "connection refused: no /bin/sh or /bin/busybox in this guest");
		return sh;
	}
	struct session *s = calloc(1, sizeof(*s));
	if (!s) {
		refuse(conn, "kata-agent-c: debug console: out of memory\n");
		return -ENOMEM;
	}
	s->slave = -1;
	int slave = -1;
	int r = open_pty(&s->master, &slave, s->tty, sizeof(s->tty));
	if (r < 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "kata-agent-c: debug console: no pty: %s\n",
		         strerror(-r));
		refuse(conn, msg);
		log_warn(SUB, "opening a pty: %s", strerror(-r));
		free(s);
		return r;
	}
	char *argv[] = {(char *)shells[sh].argv0, NULL};
	sigset_t empty;
	sigemptyset(&empty);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	pid_t pid = fork();
	if (pid == 0)
		child(slave, shells[sh].path, argv, &empty, &dfl);
	r = pid < 0 ? -errno : 0;
	if (r < 0) {
		refuse(conn, "kata-agent-c: debug console: fork failed\n");
		close(slave);
		close(s->master);
		free(s);
		log_warn(SUB, "fork: %s", strerror(-r));
		return r;
	}
	/* Holding the slave until the reap keeps the pty's end in our hands: a hang-up cannot reach
	 * the master, nor an I/O error the slave, while the shell runs, whatever the shell and its
	 * children open and close; the reap (debug_console_child_exited), then the master's drain,
	 * ends the session. */
	s->slave = slave;
	s->conn = conn;
	s->pid = pid;
	s->timer.cb = on_timer;
	s->eof_timer.cb = on_eof_timer;
	s->eof_mode = -1;
	s->eof_poll_ns = EOF_POLL_MIN_NS;
	list_add_tail(&dc.sessions, &s->link);
	dc.n++;
	log_info(SUB, "shell %d (%s) on %s", (int)pid, shells[sh].path, s->tty);
	session_update(s);
	return 0;
}

static void on_listen(struct loop *l, int fd, uint32_t events, void *data)
{
	for (;;) {
		unsigned cid;
		int c = addr_accept(fd, SOCK_NONBLOCK | SOCK_CLOEXEC, agent.cfg.allow_local_vsock,
		                    &cid);
		if (c == -ECONNREFUSED) {
			log_warn(SUB,
			         "connection from vsock CID %u refused: only the host may connect",
			         cid);
			continue;
		}
		if (c < 0) {
			/* Out of fds or memory: rest.  Else EAGAIN or the peer already gone. */
			loop_listen_rest(l, &dc.ll, c);
			return;
		}
		if (dc.n >= DEBUG_CONSOLE_MAX_SESSIONS) {
			refuse(c, "kata-agent-c: debug console: too many sessions\n");
			log_warn(SUB, "connection refused: %u sessions open", dc.n);
			continue;
		}
		session_start(c);
	}
}

int debug_console_listen(struct loop *l, const char *addr_text)
{
	struct addr a;
	const char *err = NULL;
	if (dc.lfd >= 0)
		return -EALREADY;
	if (addr_parse(addr_text, &a, &err) < 0)
		return -EINVAL;
	addr_format(&a, dc.addr_text, sizeof(dc.addr_text));
	int fd, r = addr_listen(&a, 8, &fd);
	if (r < 0)
		return r;
	dc.loop = l;
	r = loop_listen_add(l, &dc.ll, fd, on_listen, NULL, SUB);
	if (r < 0) {
		close(fd);
		return r;
	}
	dc.lfd = fd;
	return 0;
}

void debug_console_start(const struct agent_config *cfg)
{
	if (!cfg->debug_console)
		return;
	char a[200];
	const char *env = getenv(DEBUG_CONSOLE_ADDR_ENV);
	if (env && *env) {
		snprintf(a, sizeof(a), "%s", env);
	} else if (cfg->debug_console_vport > 0) {
		snprintf(a, sizeof(a), "vsock://-1:%u", cfg->debug_console_vport);
	} else {
		log_warn(SUB,
		         "agent.debug_console without agent.debug_console_vport: only the vsock "
		         "debug console is provided");
		return;
	}
	int r = debug_console_listen(agent.loop, a);
	if (r < 0)
		log_warn(SUB, "debug console on %s: %s", a,
		         r == -EINVAL ? "bad address" : strerror(-r));
	else
		log_info(SUB, "debug console listening on %s", dc.addr_text);
}

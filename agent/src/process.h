// SPDX-License-Identifier: Apache-2.0
/* Process records: one per container init and per exec'd process.  They own the agent's ends
 * of the stdio pipes or the pty master, the parked WaitProcess/ReadStdout/ReadStderr/WriteStdin
 * calls, and the exit status observed by the loop (SIGCHLD).  A record is freed when it is
 * waited (WaitProcess) or its container removed; nothing accumulates per exec. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "container.h"
#include "passfd.h"
#include "ttrpc.h"
#include "util.h"

/* Longest single ReadStdout/ReadStderr reply (docs/PROTOCOL.md §1.7: the host asks for 32 KiB). */
#define PROC_MAX_READ (1u << 20)
/* After the process exits, a parked read waits at most this long for the pipe to drain before
 * EOF is reported (a grandchild may still hold the write end; docs/PROTOCOL.md §3.5). */
#define PROC_DRAIN_MS 500

struct sandbox_ctr;

struct proc_stream {
	int fd;               /* agent's read end; -1 once closed */
	struct loop_watch *w; /* one-shot EPOLLIN, from the first parked read to the close */
	bool armed;           /* w is armed: a parked read waits for it */
	struct list readers;  /* parked ttrpc calls (FIFO), via call->user */
	bool eof;
	bool eof_sent;        /* empty data was answered once: later reads fail (see reply_eof) */
	uint32_t passfd_port; /* passfd: the host port this stream goes to, else 0 */
	struct passfd_pump *pump; /* passfd: copies fd's data to the host's connection */
};

struct proc {
	struct list link;     /* on the container's list */
	struct list all_link; /* on the global list (pid lookup) */
	struct sandbox_ctr *ctr;
	char *exec_id;
	pid_t pid;
	bool init; /* the container's init (exec_id == container id) */
	bool terminal;
	bool exited;
	int status;   /* exit code, or 128+signal */
	int stdin_fd; /* pipe write end or a dup of the pty master; -1 when closed */
	struct loop_watch *stdin_w;
	struct list writers; /* parked WriteStdin calls */
	int pty_fd;          /* pty master for TIOCSWINSZ; -1 without a tty */
	struct proc_stream out, err;
	struct list waiters; /* parked WaitProcess calls */
	struct loop_timer drain;
	bool drain_expired;
	uint32_t stdin_passfd_port;     /* passfd: stdin comes from this host port, else 0 */
	struct passfd_pump *stdin_pump; /* passfd: copies the host's connection to stdin */
};

/* Child and agent ends of a new process's stdio.  With terminal, a pty: child.in is the slave,
 * the agent keeps the master (also used for stdin and stdout). */
struct proc_io {
	struct ctr_stdio child;
	int stdin_w, stdout_r, stderr_r, pty_master;
};

int proc_io_open(bool terminal, unsigned pipe_size, struct proc_io *ret, struct agent_err *reterr);
/* Close the child's ends (after spawning) or everything (on failure). */
void proc_io_close_child(struct proc_io *io);
void proc_io_close_all(struct proc_io *io);

/* Create a record for a spawned process; takes the agent ends from io. */
int proc_new(struct sandbox_ctr *ctr, const char *exec_id, pid_t pid, bool init, bool terminal,
             struct proc_io *io, struct proc **ret);
/* passfd: pump the process's stdio to/from the host's connections fds[] (PASSFD_STDIN..; -1:
 * that stream is not passed) named by ports[]; takes the fds.  WaitProcess then answers once the
 * output pumps are done, so the host has every byte before the exit status. */
int proc_attach_passfd(struct proc *p, const uint32_t ports[3], int fds[3]);
/* Free a record: parked readers get EOF, parked waiters/writers get an error. */
void proc_free(struct proc *p);

struct proc *proc_find_pid(pid_t pid);
/* SIGCHLD: record the status of a known pid; returns true if it was one of ours. */
bool proc_child_exited(pid_t pid, int wstatus);
unsigned proc_count(void);

/* RPC helpers: each completes or parks the call. */
void proc_wait(struct proc *p, struct ttrpc_call *call);
void proc_read(struct proc *p, bool stderr_stream, uint32_t len, struct ttrpc_call *call);
void proc_write_stdin(struct proc *p, const uint8_t *data, size_t len, struct ttrpc_call *call);
int proc_close_stdin(struct proc *p);
int proc_resize(struct proc *p, unsigned rows, unsigned cols);
/* Exit status as WaitProcess reports it. */
int proc_status_from_wait(int wstatus);

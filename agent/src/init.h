// SPDX-License-Identifier: Apache-2.0
/* PID 1 duties (docs/PROTOCOL.md §5.3): early mounts as a table, /dev/ptmx, session and controlling
 * tty, PATH, hostname, loopback up, cgroup mounts, reaping every child; never exit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "config.h"

struct init_mount {
	const char *fstype;
	const char *source;
	const char *target;
	unsigned long flags;
	const char *data;
	bool optional; /* failure is logged, boot goes on */
};

extern const struct init_mount init_mounts[];
extern const size_t init_mounts_len;

/* Mount a table.  do_mount/do_mkdir are mount(2)/mkdir(2)-like and return 0 or -errno; EBUSY
 * from do_mount means "already mounted" and counts as success.  Returns 0 or the first
 * non-optional failure (-errno); *ret_failed names that entry. */
int init_mount_table(const struct init_mount *tbl, size_t n,
                     int (*do_mount)(const struct init_mount *m, void *ud),
                     int (*do_mkdir)(const char *path, void *ud), void *ud,
                     const struct init_mount **ret_failed);

/* Before the configuration is read: mounts (so /proc/cmdline exists), console, session. */
void init_early(void);
/* After the configuration: cgroups, hostname, loopback. */
void init_late(const struct agent_config *cfg);

/* Reap every exited child (SIGCHLD) and offer each (pid, status) to the registered handlers,
 * in registration order, until one returns true (the child was its).  Each layer registers its
 * own handler, so nothing below init is called back any other way.  init_on_child_exit returns
 * 0 or -ENOSPC. */
typedef bool (*init_child_exit_fn)(pid_t pid, int wstatus);
int init_on_child_exit(init_child_exit_fn fn);
void init_reap_children(void);

/* As PID 1: log, sync and power off (never returns).  Otherwise: exit(1). */
/* As PID 1: a fatal signal (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS, SIGTRAP) syncs
 * and powers off instead of killing init, which the kernel would turn into a panic. */
void init_fatal_signals(void);
__attribute__((noreturn)) void init_fatal(const char *why);
/* As PID 1 after DestroySandbox: sync and power off (never returns). */
__attribute__((noreturn)) void init_poweroff(void);

/* First word of an /etc/hostname text, or "localhost".  Exposed for tests. */
void init_hostname_from(const char *text, char *buf, size_t size);

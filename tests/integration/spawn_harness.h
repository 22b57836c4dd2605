/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_spawn (make check-spawn): what test_spawn.c (the container creation tests, main) and
 * test_spawn_ns.c (the exec and namespace tests) share: the check counters and CHECK, the
 * busybox rootfs, the spec builder and the helpers that create, start and read a container.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "container.h"

extern char root[256]; /* the busybox rootfs, from build_rootfs */

#include "check.h"

/* What spec_init fills: a process, a user, ipc/uts/mount namespaces, proc/dev/pts/tmp mounts. */
struct spec {
	Grpc__Spec s;
	Grpc__Process p;
	Grpc__User u;
	Grpc__Root r;
	Grpc__Linux l;
	Grpc__LinuxNamespace ns[3];
	Grpc__LinuxNamespace *nsp[3];
	Grpc__Mount m[4];
	Grpc__Mount *mp[4];
	char *env[2];
};

void sh(const char *cmd);
void write_text(const char *rel, const char *text);
void build_rootfs(void);
void spec_init(struct spec *sp, char **args, size_t n_args);
char *read_all(int fd);
char *run(const Grpc__Spec *s, const struct ctr_ns *ns, int *ret_status, int *ret_r,
          struct agent_err *ret_err);
pid_t start_init(struct ctr_config **ret_cfg, const struct ctr_ns *ns, char **args, size_t n_args,
                 struct ctr_nsfds *ret_ns);
pid_t start_sleeper(struct ctr_config **ret_cfg, const struct ctr_ns *ns, struct ctr_nsfds *ret_ns);
bool test_cgroup_dir(char *dir, size_t len);

/* test_spawn_ns.c */
void test_exec(void);
void test_exec_cgroup(void);
void test_spec_ns_paths(void);
void test_exec_pinned_ns(void);

// SPDX-License-Identifier: Apache-2.0
/* Shared by the cgroup unit tests: the fake cgroup tree in a temporary directory (the test plays
 * the kernel by creating the files a real cgroupfs would have) and helpers to read it back. */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "cgroup_internal.h"

/* ---- fake tree helpers ---- */

static char root[256];
/* Where every cgroup call of a test reports why it failed. */
static struct agent_err cgerr;

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(tmp, 0755);
		*s = '/';
	}
	mkdir(tmp, 0755);
}

static void put(const char *rel, const char *content)
{
	char p[PATH_MAX], dir[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", p);
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

/* Create several empty files under dir ("a b c"). */
static void touch_all(const char *dir, const char *names)
{
	char buf[2048], rel[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", names);
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		snprintf(rel, sizeof(rel), "%s/%s", dir, t);
		put(rel, "");
	}
}

static char *get(const char *rel)
{
	static char buf[4096];
	char p[PATH_MAX];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool exists(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return access(p, F_OK) == 0;
}

static int rm_rf(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int setup_root(void **state)
{
	snprintf(root, sizeof(root), "%s/cgtest.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown_root(void **state)
{
	return rm_rf(root);
}

static struct cg_manager *open_mgr(enum cg_version want)
{
	struct cg_manager *m = NULL;

	assert_int_equal(cg_manager_open(root, &m, &cgerr), 0);
	assert_int_equal(cg_manager_version(m), want);
	return m;
}

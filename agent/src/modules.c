// SPDX-License-Identifier: Apache-2.0
#include "modules.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4 /* linux/module.h, since 6.2 (kernel decompresses) */
#endif

/* Module names compare with '-' and '_' equal (as kmod does). */
static bool name_eq(const char *a, const char *b, size_t blen)
{
	size_t i = 0;
	for (; a[i] && i < blen; i++) {
		char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return !a[i] && i == blen;
}

/* The module name of a path: basename up to ".ko". */
static void path_name(const char *path, size_t len, const char **ret, size_t *ret_len)
{
	const char *b = path;
	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			b = path + i + 1;
	const char *ko = strstr(b, ".ko");
	*ret = b;
	*ret_len = ko && ko < path + len ? (size_t)(ko - b) : (size_t)(path + len - b);
}

int module_dep_lookup(const char *text, const char *name, char *ret_path, size_t size,
                      char deps[][256], int max_deps)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t llen = end ? (size_t)(end - line) : strlen(line);
		const char *colon = memchr(line, ':', llen);
		if (colon) {
			const char *n;
			size_t nl;
			path_name(line, (size_t)(colon - line), &n, &nl);
			if (name_eq(name, n, nl)) {
				if ((size_t)(colon - line) >= size)
					return -ENAMETOOLONG;
				memcpy(ret_path, line, (size_t)(colon - line));
				ret_path[colon - line] = '\0';
				int nd = 0;
				const char *p = colon + 1, *lend = line + llen;
				while (p < lend && nd < max_deps) {
					while (p < lend && *p == ' ')
						p++;
					const char *q = p;
					while (q < lend && *q != ' ')
						q++;
					if (q > p && (size_t)(q - p) < 256) {
						memcpy(deps[nd], p, (size_t)(q - p));
						deps[nd][q - p] = '\0';
						nd++;
					}
					p = q;
				}
				return nd;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

static int load_file(const char *dir, const char *rel, const char *params)
{
	char path[2 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	bool compressed = !strstr(rel, ".ko") || strstr(rel, ".ko.");
	if (syscall(SYS_finit_module, fd, params, compressed ? MODULE_INIT_COMPRESSED_FILE : 0) <
	        0 &&
	    errno != EEXIST)
		return -errno;
	return 0;
}

int module_load(const char *name, char *const *params, size_t nparams, struct agent_err *reterr)
{
	char dir[PATH_MAX], dep_path[PATH_MAX + 16];
	struct utsname u;
	uname(&u);
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	snprintf(dep_path, sizeof(dep_path), "%s/modules.dep", dir);
	_cleanup_free_ char *text = NULL;
	int r = read_file(dep_path, 8u << 20, &text);
	if (r < 0)
		return err_sys(reterr, r, "module %s: reading %s", name, dep_path);
	char path[PATH_MAX], deps[32][256];
	int nd = module_dep_lookup(text, name, path, sizeof(path), deps, 32);
	if (nd < 0)
		return err_msg(reterr, nd, "module %s: not found in %s", name, dep_path);
	/* modules.dep lists what a module needs nearest first: load from the far end. */
	for (int i = nd - 1; i >= 0; i--)
		if ((r = load_file(dir, deps[i], "")) < 0)
			return err_sys(reterr, r, "module %s: dependency %s", name, deps[i]);
	char args[4096] = "";
	size_t off = 0;
	for (size_t i = 0; i < nparams; i++) {
		int n = snprintf(args + off, sizeof(args) - off, "%s%s", i ? " " : "", params[i]);
		if (n < 0 || (size_t)n >= sizeof(args) - off)
			return err_msg(reterr, -E2BIG, "module %s: parameters too long", name);
		off += (size_t)n;
	}
	if ((r = load_file(dir, path, args)) < 0)
		return err_sys(reterr, r, "module %s: finit_module", name);
	log_info("sandbox", "loaded kernel module %s", name);
	return 0;
}

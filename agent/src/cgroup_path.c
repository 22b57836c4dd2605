// SPDX-License-Identifier: Apache-2.0
/* cgroup: OCI Linux.CgroupsPath -> normalised cgroupfs path (plain and systemd forms). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cgroup_internal.h"

/* ---- paths ---- */

static int append(char *out, size_t *len, const char *s, size_t n)
{
	if (*len + 1 + n >= PATH_MAX)
		return -EINVAL;
	out[(*len)++] = '/';
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

/* systemd slice "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice" appended to out. */
static int expand_slice(const char *slice, size_t slen, char *out, size_t *len)
{
	static const char suffix[] = ".slice";
	const size_t sfx = sizeof(suffix) - 1;
	size_t base;

	if (slen == 1 && slice[0] == '-')
		return 0; /* the root slice */
	if (slen <= sfx || memcmp(slice + slen - sfx, suffix, sfx) != 0)
		return -EINVAL;
	base = slen - sfx;
	if (slice[0] == '-' || slice[base - 1] == '-')
		return -EINVAL;
	for (size_t i = 0; i <= base; i++) {
		char part[NAME_MAX + 1];

		if (i < base && slice[i] != '-')
			continue;
		if (i + 1 < base && slice[i + 1] == '-')
			return -EINVAL; /* "--" */
		if (i + sfx > NAME_MAX)
			return -EINVAL;
		memcpy(part, slice, i);
		memcpy(part + i, suffix, sfx);
		if (append(out, len, part, i + sfx) < 0)
			return -EINVAL;
	}
	return 0;
}

static int systemd_path(const char *s, const char *c1, const char *c2, char *out, size_t *len)
{
	const char *prefix = c1 + 1, *name = c2 + 1;
	size_t slen = (size_t)(c1 - s), plen = (size_t)(c2 - prefix), nlen = strlen(name);
	char unit[NAME_MAX + 1];
	int n;

	if (memchr(s, '/', strlen(s)) || nlen == 0)
		return -EINVAL;
	if (slen == 0) {
		s = "system.slice";
		slen = strlen(s);
	}
	if (expand_slice(s, slen, out, len) < 0)
		return -EINVAL;
	if (nlen > 6 && strcmp(name + nlen - 6, ".slice") == 0)
		n = snprintf(unit, sizeof(unit), "%s", name);
	else if (plen == 0)
		n = snprintf(unit, sizeof(unit), "%s.scope", name);
	else
		n = snprintf(unit, sizeof(unit), "%.*s-%s.scope", (int)plen, prefix, name);
	if (n < 0 || (size_t)n >= sizeof(unit))
		return -EINVAL;
	return append(out, len, unit, (size_t)n);
}

static int plain_path(const char *s, char *out, size_t *len)
{
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return -EINVAL;
		if (n > NAME_MAX)
			return -EINVAL;
		if (n > 0 && !(n == 1 && s[0] == '.') && append(out, len, s, n) < 0)
			return -EINVAL;
		s += n;
		if (*s == '/')
			s++;
	}
	return 0;
}

int cg_parse_path(const char *cgroups_path, char **ret, struct agent_err *reterr)
{
	char out[PATH_MAX];
	size_t len = 0;
	const char *c1, *c2;
	int r;

	out[0] = '\0';
	if (!cgroups_path || strnlen(cgroups_path, PATH_MAX) >= PATH_MAX)
		return err_sys(reterr, -EINVAL, "cgroups path too long or missing");
	for (const char *p = cgroups_path; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return err_sys(reterr, -EINVAL, "cgroups path has a control character");
	c1 = strchr(cgroups_path, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (c1 && (!c2 || strchr(c2 + 1, ':')))
		return err_sys(reterr, -EINVAL,
		               "cgroups path '%s': systemd form is slice:prefix:name",
		               cgroups_path);
	r = c1 ? systemd_path(cgroups_path, c1, c2, out, &len)
	       : plain_path(cgroups_path, out, &len);
	if (r < 0)
		return err_sys(reterr, r, "invalid cgroups path '%s'", cgroups_path);
	/* The systemd parts are checked for '/', so ".." can only come from a unit name. */
	if (len == 0 || strstr(out, "/../") || (len >= 3 && strcmp(out + len - 3, "/..") == 0))
		return err_sys(reterr, -EINVAL, "invalid cgroups path '%s'", cgroups_path);
	*ret = strdup(out);
	return *ret ? 0 : -ENOMEM;
}

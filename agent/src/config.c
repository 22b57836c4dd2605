// SPDX-License-Identifier: Apache-2.0
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

enum param_kind {
	P_STRING,   /* non-empty string, may contain '=' */
	P_UINT_POS, /* decimal > 0; values <= 0 are ignored, as upstream does */
	P_UINT,     /* decimal >= 0 */
	P_BOOL,     /* true/false or an integer; bare name means true */
	P_FLAG,     /* bare name only */
	P_LOGLEVEL,
	P_CGROUP_NO_V1,
	P_ACCEPTED, /* known upstream parameter without effect here */
};

struct param {
	const char *name;
	enum param_kind kind;
	size_t off;
	size_t size; /* P_STRING: buffer size */
};

#define F(field)         offsetof(struct agent_config, field)
#define MEM_AGENT_PREFIX "agent.mem_agent_"

/* Sorted only for readability; lookups are linear over a short table. */
static const struct param params[] = {
    {"agent.allow_local_vsock", P_FLAG, F(allow_local_vsock), 0},
    {"agent.cdh_api_timeout", P_ACCEPTED, 0, 0},
    {"agent.cdi_timeout", P_ACCEPTED, 0, 0},
    {"agent.config_file", P_ACCEPTED, 0, 0},
    {"agent.container_pipe_size", P_UINT, F(container_pipe_size), 0},
    {"agent.debug_console", P_FLAG, F(debug_console), 0},
    {"agent.debug_console_vport", P_UINT_POS, F(debug_console_vport), 0},
    {"agent.devmode", P_FLAG, F(devmode), 0},
    {"agent.guest_components_procs", P_ACCEPTED, 0, 0},
    {"agent.guest_components_rest_api", P_ACCEPTED, 0, 0},
    {"agent.hotplug_timeout", P_UINT_POS, F(hotplug_timeout_s), 0},
    {"agent.https_proxy", P_ACCEPTED, 0, 0},
    {"agent.image_pull_timeout", P_ACCEPTED, 0, 0},
    {"agent.launch_process_timeout", P_ACCEPTED, 0, 0},
    {"agent.log", P_LOGLEVEL, F(log_level), 0},
    {"agent.log_vport", P_UINT_POS, F(log_vport), 0},
    {"agent.no_proxy", P_ACCEPTED, 0, 0},
    {"agent.passfd_listener_port", P_UINT_POS, F(passfd_listener_port), 0},
    {"agent.secure_storage_integrity", P_ACCEPTED, 0, 0},
    {"agent.server_addr", P_STRING, F(server_addr),
     sizeof(((struct agent_config *)0)->server_addr)},
    {"agent.test_crash", P_FLAG, F(test_crash), 0},
    {"agent.trace", P_BOOL, F(trace), 0},
    {"agent.visible_cdi_devices", P_ACCEPTED, 0, 0},
    {"cgroup_no_v1", P_CGROUP_NO_V1, F(cgroup_v2), 0},
    {"systemd.unified_cgroup_hierarchy", P_BOOL, F(cgroup_v2), 0},
};

void config_defaults(struct agent_config *c)
{
	*c = (struct agent_config){0};
	snprintf(c->server_addr, sizeof(c->server_addr), "%s", DEFAULT_SERVER_ADDR);
	c->log_level = LV_INFO;
	c->hotplug_timeout_s = 3;
}

static int parse_uint(const char *v, unsigned *ret)
{
	if (!*v)
		return -EINVAL;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end || n > UINT_MAX)
		return -EINVAL;
	if (n < 0)
		return -ERANGE;
	*ret = (unsigned)n;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (strcmp(v, "true") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(v, "false") == 0) {
		*ret = false;
		return 0;
	}
	char *end;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end)
		return -EINVAL;
	*ret = n != 0;
	return 0;
}

struct reporter {
	void (*fn)(const char *, void *);
	void *data;
	int count;
};

static void problem(struct reporter *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct reporter *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->count++;
	if (r->fn)
		r->fn(msg, r->data);
}

static void apply(struct agent_config *c, const struct param *p, const char *tok, const char *val,
                  struct reporter *rep)
{
	char *base = (char *)c;
	unsigned u;
	bool b;
	int r;

	switch (p->kind) {
	case P_ACCEPTED:
		return;
	case P_FLAG:
		if (val) {
			problem(rep, "%s: takes no value; ignored", tok);
			return;
		}
		*(bool *)(base + p->off) = true;
		return;
	case P_BOOL:
		if (!val) {
			*(bool *)(base + p->off) = true;
			return;
		}
		if (parse_bool(val, &b) < 0) {
			problem(rep, "%s: not a boolean; keeping the default", tok);
			return;
		}
		*(bool *)(base + p->off) = b;
		return;
	case P_CGROUP_NO_V1:
		if (val && strcmp(val, "all") == 0)
			*(bool *)(base + p->off) = true;
		return;
	default:
		break;
	}

	if (!val || !*val) {
		problem(rep, "%s: needs a value; keeping the default", tok);
		return;
	}
	switch (p->kind) {
	case P_STRING:
		if (strlen(val) >= p->size) {
			problem(rep, "%s: value longer than %zu bytes; keeping the default",
			        p->name, p->size - 1);
			return;
		}
		memcpy(base + p->off, val, strlen(val) + 1);
		return;
	case P_LOGLEVEL:
		r = log_level_parse(val);
		if (r < 0) {
			problem(rep, "%s: unknown log level '%s'; keeping the default", p->name,
			        val);
			return;
		}
		*(int *)(base + p->off) = r;
		return;
	case P_UINT:
	case P_UINT_POS:
		if (strchr(val, '=')) {
			problem(rep, "%s: stray '=' in the value; keeping the default", tok);
			return;
		}
		r = parse_uint(val, &u);
		if (r == -EINVAL) {
			problem(rep, "%s: not a number; keeping the default", tok);
			return;
		}
		if (r < 0 || (p->kind == P_UINT_POS && u == 0)) {
			/* Upstream silently ignores values <= 0 here; we say so. */
			problem(rep, "%s: must be greater than zero; ignored", tok);
			return;
		}
		*(unsigned *)(base + p->off) = u;
		return;
	default:
		return;
	}
}

int config_parse_cmdline(struct agent_config *c, const char *cmdline,
                         void (*report)(const char *, void *), void *data)
{
	struct reporter rep = {report, data, 0};
	const char *s = cmdline;
	char tok[1024];

	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			s++;
		if (!*s)
			break;
		size_t n = strcspn(s, " \t\n");
		if (n >= sizeof(tok)) {
			if (strncmp(s, "agent.", 6) == 0)
				problem(&rep,
				        "an agent.* parameter longer than %zu bytes was ignored",
				        sizeof(tok) - 1);
			s += n;
			continue;
		}
		memcpy(tok, s, n);
		tok[n] = '\0';
		s += n;

		char *eq = strchr(tok, '=');
		size_t name_len = eq ? (size_t)(eq - tok) : n;
		const struct param *p = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
			if (strlen(params[i].name) == name_len &&
			    strncmp(params[i].name, tok, name_len) == 0) {
				p = &params[i];
				break;
			}
		}
		/* Upstream's memory agent (agent.mem_agent_*) is a family of tunables for a
		 * component this agent does not have: accepted without effect, like the rest. */
		if (!p && strncmp(tok, MEM_AGENT_PREFIX, strlen(MEM_AGENT_PREFIX)) == 0)
			continue;
		if (!p) {
			if (strncmp(tok, "agent.", 6) == 0)
				problem(&rep, "%s: unknown agent parameter; ignored", tok);
			continue;
		}
		apply(c, p, tok, eq ? eq + 1 : NULL, &rep);
	}
	return rep.count;
}

int config_parse_env(struct agent_config *c, void (*report)(const char *, void *), void *data)
{
	struct reporter rep = {report, data, 0};
	const char *v = getenv("KATA_AGENT_SERVER_ADDR");
	if (v && *v) {
		if (strlen(v) >= sizeof(c->server_addr))
			problem(&rep, "KATA_AGENT_SERVER_ADDR is too long; ignored");
		else
			snprintf(c->server_addr, sizeof(c->server_addr), "%s", v);
	}
	v = getenv("KATA_AGENT_LOG_LEVEL");
	if (v && *v) {
		int l = log_level_parse(v);
		if (l < 0)
			problem(&rep, "KATA_AGENT_LOG_LEVEL: unknown level '%s'; ignored", v);
		else
			c->log_level = l;
	}
	return rep.count;
}

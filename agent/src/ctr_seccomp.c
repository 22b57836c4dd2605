// SPDX-License-Identifier: Apache-2.0
/*
 * seccomp: the OCI profile is compiled with libseccomp in the parent and exported as a BPF
 * program (seccomp_export_bpf into a memfd, read back), so the child only has to hand the
 * program to seccomp(2): no allocation after fork.
 *
 * Semantics follow runc's libcontainer/seccomp (patterns only, no code):
 *  - syscall names unknown to libseccomp are skipped (profiles list syscalls of newer
 *    kernels or other arches);
 *  - a rule whose action equals the default action is skipped (libseccomp refuses it);
 *  - several conditions on the same argument index become one rule per condition (libseccomp
 *    cannot AND two comparisons of one argument), otherwise all conditions form one rule;
 *  - SCMP_ACT_ERRNO and SCMP_ACT_TRACE take errnoRet, EPERM when it is unset.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr_internal.h"
#include "util.h"

#define MAX_SYSCALL_RULES 4096
#define MAX_ARGS          6

static int action_from_oci(const char *name, bool has_errno, uint32_t errno_ret, uint32_t *ret)
{
	uint32_t e = has_errno ? errno_ret : EPERM;
	if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*ret = SCMP_ACT_KILL_THREAD;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*ret = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*ret = SCMP_ACT_TRAP;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*ret = SCMP_ACT_ERRNO(e & 0xffff);
	else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		*ret = SCMP_ACT_TRACE(e & 0xffff);
	else if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*ret = SCMP_ACT_ALLOW;
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*ret = SCMP_ACT_LOG;
	else
		return -EINVAL; /* includes SCMP_ACT_NOTIFY: no listener to hand the fd to */
	return 0;
}

static const struct {
	const char *name;
	enum scmp_compare op;
} ops[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},
    {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE},
    {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

static const struct {
	const char *name;
	unsigned int flag;
} flags_tbl[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
};

/* "SCMP_ARCH_X86_64" -> libseccomp token via its own name table ("x86_64"). */
static int arch_from_oci(const char *name, uint32_t *ret)
{
	static const char prefix[] = "SCMP_ARCH_";
	if (strncmp(name, prefix, sizeof(prefix) - 1) != 0 || strlen(name) > 64)
		return -EINVAL;
	char lower[80];
	size_t i = 0;
	for (const char *p = name + sizeof(prefix) - 1; *p; p++)
		lower[i++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
	lower[i] = '\0';
	uint32_t a = seccomp_arch_resolve_name(lower);
	if (a == 0)
		return -EINVAL;
	*ret = a;
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const Grpc__LinuxSyscall *sc,
                    const char *name, struct agent_err *reterr)
{
	struct scmp_arg_cmp cmp[MAX_ARGS];
	bool seen[MAX_ARGS] = {false}, repeated = false;
	size_t n = sc->n_args;
	if (n > MAX_ARGS * 4)
		return err_set(reterr, -EINVAL, "seccomp %s: %zu argument conditions", name, n);
	for (size_t i = 0; i < n; i++) {
		const Grpc__LinuxSeccompArg *a = sc->args[i];
		if (a->index >= MAX_ARGS)
			return err_set(reterr, -EINVAL, "seccomp %s: argument index %llu", name,
			               (unsigned long long)a->index);
		if (seen[a->index])
			repeated = true;
		seen[a->index] = true;
	}
	if (n > MAX_ARGS)
		repeated = true;
	/* One rule with every condition (AND), or one rule per condition (OR: runc's reading
	 * of repeated indexes). */
	size_t per_rule = repeated ? 1 : (n ? n : 1);
	size_t start = 0;
	do {
		size_t k = 0;
		for (size_t i = start; i < start + per_rule && i < n; i++) {
			const Grpc__LinuxSeccompArg *a = sc->args[i];
			size_t j;
			for (j = 0; j < ARRAY_SIZE(ops); j++)
				if (strcmp(ops[j].name, a->op) == 0)
					break;
			if (j == ARRAY_SIZE(ops))
				return err_set(reterr, -EINVAL, "seccomp %s: unknown operator %s",
				               name, a->op);
			cmp[k++] = (struct scmp_arg_cmp){.arg = (unsigned)a->index,
			                                 .op = ops[j].op,
			                                 .datum_a = a->value,
			                                 .datum_b = a->valuetwo};
		}
		int r = seccomp_rule_add_array(ctx, action, nr, (unsigned)k, k ? cmp : NULL);
		if (r < 0)
			return err_set(reterr, r, "seccomp rule for %s", name);
		start += per_rule;
	} while (start < n);
	return 0;
}

static int export_bpf(scmp_filter_ctx ctx, struct ctr_seccomp *ret)
{
	_cleanup_close_ int fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return r;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	size_t len = (size_t)st.st_size;
	if (len == 0 || len % sizeof(struct sock_filter) ||
	    len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return -E2BIG;
	struct sock_filter *prog = malloc(len);
	if (!prog)
		return -ENOMEM;
	if (pread(fd, prog, len, 0) != (ssize_t)len) {
		free(prog);
		return -EIO;
	}
	ret->prog = prog;
	ret->len = (unsigned short)(len / sizeof(struct sock_filter));
	return 0;
}

int ctr_seccomp_compile(const Grpc__LinuxSeccomp *s, struct ctr_seccomp *ret,
                        struct agent_err *reterr)
{
	struct ctr_seccomp out = {0};
	if (!s || !s->defaultaction || !*s->defaultaction) {
		*ret = out;
		return 0;
	}
	uint32_t def;
	if (action_from_oci(s->defaultaction, false, 0, &def) < 0)
		return err_set(reterr, -EINVAL, "seccomp: unknown default action %s",
		               s->defaultaction);
	for (size_t i = 0; i < s->n_flags; i++) {
		size_t j;
		for (j = 0; j < ARRAY_SIZE(flags_tbl); j++)
			if (strcmp(flags_tbl[j].name, s->flags[i]) == 0)
				break;
		if (j == ARRAY_SIZE(flags_tbl))
			return err_set(reterr, -EINVAL, "seccomp: unknown flag %s", s->flags[i]);
		out.flags |= flags_tbl[j].flag;
	}
	if (s->n_syscalls > MAX_SYSCALL_RULES)
		return err_set(reterr, -E2BIG, "seccomp: %zu syscall rules", s->n_syscalls);

	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx)
		return err_set(reterr, -ENOMEM, "seccomp_init");
	int r = 0;
	for (size_t i = 0; i < s->n_architectures && r == 0; i++) {
		uint32_t arch;
		if (arch_from_oci(s->architectures[i], &arch) < 0) {
			r = err_set(reterr, -EINVAL, "seccomp: unknown architecture %s",
			            s->architectures[i]);
			break;
		}
		r = seccomp_arch_add(ctx, arch);
		if (r == -EEXIST)
			r = 0;
		else if (r < 0)
			r = err_set(reterr, r, "seccomp: add architecture %s", s->architectures[i]);
	}
	for (size_t i = 0; i < s->n_syscalls && r == 0; i++) {
		const Grpc__LinuxSyscall *sc = s->syscalls[i];
		uint32_t action;
		bool has_errno = sc->errno_ret_case == GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET;
		if (action_from_oci(sc->action, has_errno, sc->errnoret, &action) < 0) {
			r = err_set(reterr, -EINVAL, "seccomp: unknown action %s", sc->action);
			break;
		}
		if (action == def)
			continue;
		for (size_t k = 0; k < sc->n_names && r == 0; k++) {
			int nr = seccomp_syscall_resolve_name(sc->names[k]);
			if (nr == __NR_SCMP_ERROR)
				continue;
			r = add_rule(ctx, action, nr, sc, sc->names[k], reterr);
		}
	}
	if (r == 0) {
		r = export_bpf(ctx, &out);
		if (r < 0)
			err_set(reterr, r, "seccomp: export BPF");
	}
	seccomp_release(ctx);
	if (r < 0)
		return r;
	*ret = out;
	return 0;
}

int ctr_seccomp_copy(const struct ctr_seccomp *s, struct ctr_seccomp *ret)
{
	struct ctr_seccomp c = *s;
	if (s->prog) {
		c.prog = malloc(s->len * sizeof(*s->prog));
		if (!c.prog)
			return -ENOMEM;
		memcpy(c.prog, s->prog, s->len * sizeof(*s->prog));
	}
	*ret = c;
	return 0;
}

void ctr_seccomp_clear(struct ctr_seccomp *s)
{
	free(s->prog);
	s->prog = NULL;
	s->len = 0;
}

int ctr_seccomp_load(const struct ctr_seccomp *s)
{
	if (!s->prog)
		return 0;
	struct sock_fprog fp = {.len = s->len, .filter = s->prog};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->flags, &fp) < 0)
		return -errno;
	return 0;
}

/* OCI-to-kernel conversions for a container's process: capabilities (ctr_caps_from_oci),
 * rlimits (ctr_rlimits_from_oci) and seccomp profiles compiled to BPF (ctr_seccomp_compile).
 *
 * Input: a selector byte, then records built with the fuzz_in cursor:
 *   0 capabilities: five sets, each a u8 count and that many NUL-terminated names
 *   1 rlimits: u8 count, then per entry a name, u64 hard, u64 soft
 *   2 seccomp: default action, u8 count of architectures (names), u8 count of flags (names),
 *     u8 count of syscall rules, each: u8 count of names, names, action, u8 has-errno,
 *     u32 errno, u8 count of args, each: u8 index, u64 value, u64 value_two, op name
 * Short input reads as zeros / empty strings.
 *
 * Properties:
 *   caps: a refusal has a message; an accepted set only holds capabilities whose names
 *     ctr_cap_from_name knows (the bit of every input name is set, nothing else).
 *   rlimits: accepted entries map one to one, resource known by name, soft <= hard.
 *   seccomp: no default action means no filter; otherwise a program of 1..BPF_MAXINSNS
 *     instructions whose jumps stay inside it and whose last instruction returns; the copy
 *     is identical; a refusal has a message. */
#include <errno.h>
#include <linux/filter.h>
#include <string.h>

#include "ctr_internal.h"
#include "err.h"
#include "fuzz_common.h"
#include "oci.pb-c.h"

#define MAX_LIST 24

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

/* A list of strings: u8 count (capped) then that many strings; free with free_list. */
static char **read_list(struct fuzz_in *in, size_t *ret_n)
{
	size_t n = fuzz_u8(in) % MAX_LIST;
	char **v = calloc(n ? n : 1, sizeof(*v));
	FUZZ_ASSERT(v);
	for (size_t i = 0; i < n; i++)
		v[i] = fuzz_str(in);
	*ret_n = n;
	return v;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static uint64_t expected_mask(char **names, size_t n, bool *ok)
{
	uint64_t m = 0;
	for (size_t i = 0; i < n; i++) {
		int c = ctr_cap_from_name(names[i]);
		if (c < 0) {
			*ok = false;
			continue;
		}
		FUZZ_ASSERT(c < 64 && strncmp(names[i], "CAP_", 4) == 0);
		m |= UINT64_C(1) << c;
	}
	return m;
}

static void caps(struct fuzz_in *in)
{
	Grpc__LinuxCapabilities oc = GRPC__LINUX_CAPABILITIES__INIT;
	oc.bounding = read_list(in, &oc.n_bounding);
	oc.effective = read_list(in, &oc.n_effective);
	oc.inheritable = read_list(in, &oc.n_inheritable);
	oc.permitted = read_list(in, &oc.n_permitted);
	oc.ambient = read_list(in, &oc.n_ambient);
	bool ok = true;
	uint64_t want[5] = {
	    expected_mask(oc.bounding, oc.n_bounding, &ok),
	    expected_mask(oc.effective, oc.n_effective, &ok),
	    expected_mask(oc.inheritable, oc.n_inheritable, &ok),
	    expected_mask(oc.permitted, oc.n_permitted, &ok),
	    expected_mask(oc.ambient, oc.n_ambient, &ok),
	};
	struct ctr_caps c;
	struct agent_err err = {0};
	int r = ctr_caps_from_oci(&oc, &c, &err);
	FUZZ_ASSERT((r == 0) == ok);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL && strstr(err.msg, "unknown capability"));
	} else {
		FUZZ_ASSERT(!err.msg[0]);
		FUZZ_ASSERT(c.bounding == want[0] && c.effective == want[1] &&
		            c.inheritable == want[2] && c.permitted == want[3] &&
		            c.ambient == want[4]);
	}
	free_list(oc.bounding, oc.n_bounding);
	free_list(oc.effective, oc.n_effective);
	free_list(oc.inheritable, oc.n_inheritable);
	free_list(oc.permitted, oc.n_permitted);
	free_list(oc.ambient, oc.n_ambient);
}

static void rlimits(struct fuzz_in *in)
{
	size_t n = fuzz_u8(in) % 80; /* beyond the 64 the converter accepts */
	Grpc__POSIXRlimit *rl = calloc(n ? n : 1, sizeof(*rl));
	Grpc__POSIXRlimit **rp = calloc(n ? n : 1, sizeof(*rp));
	FUZZ_ASSERT(rl && rp);
	for (size_t i = 0; i < n; i++) {
		rl[i] = (Grpc__POSIXRlimit)GRPC__POSIXRLIMIT__INIT;
		rl[i].type = fuzz_str(in);
		rl[i].hard = fuzz_u64(in);
		rl[i].soft = fuzz_u64(in);
		rp[i] = &rl[i];
	}
	struct ctr_rlimit *out = NULL;
	struct agent_err err = {0};
	int r = ctr_rlimits_from_oci(rp, n, &out, &err);
	if (r < 0) {
		FUZZ_ASSERT(err.msg[0] && !out);
	} else {
		FUZZ_ASSERT(!err.msg[0] && out);
		for (size_t i = 0; i < n; i++) {
			FUZZ_ASSERT(out[i].resource == ctr_rlimit_from_name(rl[i].type));
			FUZZ_ASSERT(out[i].resource >= 0 && out[i].resource < RLIM_NLIMITS);
			FUZZ_ASSERT(out[i].lim.rlim_cur == rl[i].soft &&
			            out[i].lim.rlim_max == rl[i].hard);
			FUZZ_ASSERT(out[i].lim.rlim_cur <= out[i].lim.rlim_max);
		}
		free(out);
	}
	for (size_t i = 0; i < n; i++)
		free(rl[i].type);
	free(rl);
	free(rp);
}

static void check_bpf(const struct ctr_seccomp *s)
{
	FUZZ_ASSERT(s->prog && s->len >= 1 && s->len <= BPF_MAXINSNS);
	for (unsigned pc = 0; pc < s->len; pc++) {
		const struct sock_filter *f = &s->prog[pc];
		if (BPF_CLASS(f->code) != BPF_JMP)
			continue;
		if (BPF_OP(f->code) == BPF_JA)
			FUZZ_ASSERT(pc + 1 + (uint64_t)f->k < s->len);
		else
			FUZZ_ASSERT(pc + 1 + (unsigned)f->jt < s->len &&
			            pc + 1 + (unsigned)f->jf < s->len);
	}
	FUZZ_ASSERT(BPF_CLASS(s->prog[s->len - 1].code) == BPF_RET);
	struct ctr_seccomp copy;
	FUZZ_ASSERT(ctr_seccomp_copy(s, &copy) == 0);
	FUZZ_ASSERT(copy.len == s->len && copy.flags == s->flags &&
	            memcmp(copy.prog, s->prog, s->len * sizeof(*s->prog)) == 0);
	ctr_seccomp_clear(&copy);
}

static void seccomp(struct fuzz_in *in)
{
	Grpc__LinuxSeccomp s = GRPC__LINUX_SECCOMP__INIT;
	s.defaultaction = fuzz_str(in);
	s.architectures = read_list(in, &s.n_architectures);
	s.flags = read_list(in, &s.n_flags);
	s.n_syscalls = fuzz_u8(in) % MAX_LIST;
	Grpc__LinuxSyscall *sc = calloc(s.n_syscalls + 1, sizeof(*sc));
	s.syscalls = calloc(s.n_syscalls + 1, sizeof(*s.syscalls));
	FUZZ_ASSERT(sc && s.syscalls);
	for (size_t i = 0; i < s.n_syscalls; i++) {
		Grpc__LinuxSyscall *c = &sc[i];
		*c = (Grpc__LinuxSyscall)GRPC__LINUX_SYSCALL__INIT;
		c->names = read_list(in, &c->n_names);
		c->action = fuzz_str(in);
		if (fuzz_u8(in) & 1)
			c->errno_ret_case = GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET;
		c->errnoret = fuzz_u32(in);
		c->n_args = fuzz_u8(in) % 32;
		c->args = calloc(c->n_args + 1, sizeof(*c->args));
		FUZZ_ASSERT(c->args);
		for (size_t j = 0; j < c->n_args; j++) {
			Grpc__LinuxSeccompArg *a = malloc(sizeof(*a));
			FUZZ_ASSERT(a);
			*a = (Grpc__LinuxSeccompArg)GRPC__LINUX_SECCOMP_ARG__INIT;
			a->index = fuzz_u8(in);
			a->value = fuzz_u64(in);
			a->valuetwo = fuzz_u64(in);
			a->op = fuzz_str(in);
			c->args[j] = a;
		}
		s.syscalls[i] = c;
	}
	struct ctr_seccomp out;
	struct agent_err err = {0};
	int r = ctr_seccomp_compile(&s, &out, &err);
	if (r < 0) {
		FUZZ_ASSERT(err.msg[0]);
	} else if (!*s.defaultaction) {
		FUZZ_ASSERT(!out.prog && out.len == 0);
	} else {
		FUZZ_ASSERT(!err.msg[0]);
		check_bpf(&out);
		ctr_seccomp_clear(&out);
	}
	for (size_t i = 0; i < s.n_syscalls; i++) {
		for (size_t j = 0; j < sc[i].n_args; j++) {
			free(sc[i].args[j]->op);
			free(sc[i].args[j]);
		}
		free(sc[i].args);
		free(sc[i].action);
		free_list(sc[i].names, sc[i].n_names);
	}
	free(sc);
	free(s.syscalls);
	free_list(s.architectures, s.n_architectures);
	free_list(s.flags, s.n_flags);
	free(s.defaultaction);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	switch (fuzz_u8(&in) % 3) {
	case 0:
		caps(&in);
		break;
	case 1:
		rlimits(&in);
		break;
	case 2:
		seccomp(&in);
		break;
	}
	return 0;
}

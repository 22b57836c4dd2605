// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v2 device rules: generate a BPF_PROG_TYPE_CGROUP_DEVICE program from the rule list,
 * load it and attach it with the bpf(2) syscall (no libbpf: the agent is static, and the
 * program is a few instructions per rule, the same shape as runc's devicefilter).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup_devices.h"
#include "cgroup_internal.h"

_Static_assert(sizeof(struct cg_bpf_insn) == sizeof(struct bpf_insn), "bpf_insn layout");
_Static_assert(CG_DEV_MKNOD == BPF_DEVCG_ACC_MKNOD && CG_DEV_READ == BPF_DEVCG_ACC_READ &&
                   CG_DEV_WRITE == BPF_DEVCG_ACC_WRITE,
               "access bits");

/* Registers after the prologue: R2 device type, R3 access, R4 major, R5 minor. */
enum { R0, R1, R2, R3, R4, R5 };

static struct cg_bpf_insn insn(uint8_t code, int dst, int src, int16_t off, int32_t imm)
{
	return (struct cg_bpf_insn){
	    .code = code, .regs = (uint8_t)(dst | src << 4), .off = off, .imm = imm};
}

/* Most instructions one rule can take: type, 3 for access, major, minor, mov, exit. */
#define RULE_MAX 8

/* Emit the block of one rule into b; returns its length.  Every test jumps past the block. */
static size_t rule_block(const struct cg_dev_rule *r, struct cg_bpf_insn *b)
{
	size_t n = 0, tests[RULE_MAX];
	size_t nt = 0;

	if (r->type != 'a') {
		tests[nt++] = n;
		b[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, R2, 0, 0,
		              r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	}
	if (r->access != CG_DEV_RWM) {
		/* allow: no bit outside the rule may be asked for; deny: some bit of it must be */
		b[n++] = insn(BPF_ALU | BPF_MOV | BPF_X, R1, R3, 0, 0);
		b[n++] = insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0,
		              r->allow ? (int32_t)(~r->access & CG_DEV_RWM) : r->access);
		tests[nt++] = n;
		b[n++] = insn(BPF_JMP | (r->allow ? BPF_JNE : BPF_JEQ) | BPF_K, R1, 0, 0, 0);
	}
	if (r->major != CG_DEV_ANY) {
		tests[nt++] = n;
		b[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, R4, 0, 0, (int32_t)r->major);
	}
	if (r->minor != CG_DEV_ANY) {
		tests[nt++] = n;
		b[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, R5, 0, 0, (int32_t)r->minor);
	}
	b[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, r->allow ? 1 : 0);
	b[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	for (size_t i = 0; i < nt; i++)
		b[tests[i]].off = (int16_t)(n - tests[i] - 1);
	return n;
}

int cg_dev_bpf_gen(const struct cg_dev_rules *l, struct cg_bpf_insn **ret, size_t *ret_n)
{
	size_t rules = l->n - l->start, n = 0;
	struct cg_bpf_insn *p = calloc(6 + rules * RULE_MAX + 2, sizeof(*p));

	if (!p)
		return -ENOMEM;
	/* struct bpf_cgroup_dev_ctx: access_type = access << 16 | type, then major, minor */
	p[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, R2, R1,
	              offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
	p[n++] = insn(BPF_ALU | BPF_AND | BPF_K, R2, 0, 0, 0xffff);
	p[n++] = insn(BPF_LDX | BPF_MEM | BPF_W, R3, R1,
	              offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
	p[n++] = insn(BPF_ALU | BPF_RSH | BPF_K, R3, 0, 0, 16);
	p[n++] =
	    insn(BPF_LDX | BPF_MEM | BPF_W, R4, R1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
	p[n++] =
	    insn(BPF_LDX | BPF_MEM | BPF_W, R5, R1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
	/* Last rule first: the first block that matches returns, so the last rule wins. */
	for (size_t i = l->n; i > l->start; i--)
		n += rule_block(&l->v[i - 1], p + n);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, R0, 0, 0, l->default_allow ? 1 : 0);
	p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	*ret = p;
	*ret_n = n;
	return 0;
}

/* ---- bpf(2) ---- */

static int sys_bpf(int cmd, union bpf_attr *a)
{
	return (int)syscall(__NR_bpf, cmd, a, sizeof(*a));
}

static int prog_load(const struct cg_bpf_insn *p, size_t n, struct agent_err *reterr)
{
	static char log[4096];
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)p;
	a.insn_cnt = (uint32_t)n;
	a.license = (uint64_t)(uintptr_t) "Apache-2.0";
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	if (errno != EINVAL && errno != EACCES)
		return err_sys(reterr, -errno, "device rules: BPF_PROG_LOAD (%zu instructions)", n);
	/* The verifier refused it: load again with its log, for the message. */
	a.log_level = 1;
	a.log_buf = (uint64_t)(uintptr_t)log;
	a.log_size = sizeof(log);
	log[0] = '\0';
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	return err_sys(reterr, -errno, "device rules: the verifier refused the program (%.200s)",
	               log);
}

static int prog_id(int fd, uint32_t *ret, struct agent_err *reterr)
{
	struct bpf_prog_info info;
	union bpf_attr a;

	memset(&info, 0, sizeof(info));
	memset(&a, 0, sizeof(a));
	a.info.bpf_fd = (uint32_t)fd;
	a.info.info_len = sizeof(info);
	a.info.info = (uint64_t)(uintptr_t)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0)
		return err_sys(reterr, -errno, "device rules: BPF_OBJ_GET_INFO_BY_FD");
	*ret = info.id;
	return 0;
}

static int attach(int cgfd, int prog, bool on)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	/* MULTI: programs of the parents keep running too, and so does the old program until
	 * it is detached by its fd */
	a.attach_flags = on ? BPF_F_ALLOW_MULTI : 0;
	return sys_bpf(on ? BPF_PROG_ATTACH : BPF_PROG_DETACH, &a) < 0 ? -errno : 0;
}

int cg_dev_v2_apply(struct cg *c, const struct cg_dev_rules *l, uint32_t *id,
                    struct agent_err *reterr)
{
	_cleanup_free_ struct cg_bpf_insn *p = NULL;
	_cleanup_close_ int prog = -1, cgfd = -1, old = -1;
	uint32_t new_id = 0, old_id;
	size_t n = 0;
	int e;

	e = cg_dev_bpf_gen(l, &p, &n);
	if (e < 0)
		return e;
	prog = prog_load(p, n, reterr);
	if (prog < 0)
		return prog;
	cgfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return err_sys(reterr, -errno, "open %s", c->dir);
	e = attach(cgfd, prog, true);
	if (e < 0)
		return err_sys(reterr, e, "device rules: BPF_PROG_ATTACH to %s", c->dir);
	e = prog_id(prog, &new_id, reterr);
	if (e < 0)
		return e;
	old_id = *id;
	*id = new_id;
	if (old_id) {
		/* The new program is in force; the old one goes.  Until then both must allow. */
		union bpf_attr a;

		memset(&a, 0, sizeof(a));
		a.prog_id = old_id;
		old = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
		if (old < 0 && errno != ENOENT)
			return err_sys(reterr, -errno, "device rules: BPF_PROG_GET_FD_BY_ID %u",
			               old_id);
		if (old >= 0 && (e = attach(cgfd, old, false)) < 0 && e != -ENOENT)
			return err_sys(reterr, e,
			               "device rules: BPF_PROG_DETACH of program %u from %s",
			               old_id, c->dir);
	}
	return 0;
}

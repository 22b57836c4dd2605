// SPDX-License-Identifier: Apache-2.0
/*
 * The device cgroup of a container: which device nodes its processes may open or mknod.
 *
 * The rules form an ordered list over a default (deny or allow); the last rule that matches a
 * request decides it, the default decides when none does.  A new container starts, as with
 * runc and upstream Kata's agent, from "deny everything", then the default allow-list
 * (cg_dev_rules_init), then one rwm rule per OCI linux.devices entry, then the OCI
 * linux.resources.devices rules in order.
 *
 * v1: "a" is written to devices.deny (or devices.allow), then each rule to devices.allow or
 *     devices.deny of the container's devices cgroup.
 * v2: there are no files: a BPF_PROG_TYPE_CGROUP_DEVICE program is generated from the list
 *     (cg_dev_bpf_gen: no libbpf, the instructions are emitted here), loaded with bpf(2) and
 *     attached to the container's cgroup with BPF_F_ALLOW_MULTI.  The attachment holds the
 *     program; the agent keeps only its id, and on an update attaches the new program before
 *     detaching the old one, so no request is ever judged by neither.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"

/* Access bits: the values of the kernel's BPF_DEVCG_ACC_* (linux/bpf.h). */
#define CG_DEV_MKNOD 1u
#define CG_DEV_READ  2u
#define CG_DEV_WRITE 4u
#define CG_DEV_RWM   (CG_DEV_MKNOD | CG_DEV_READ | CG_DEV_WRITE)

/* A major or minor that matches every number. */
#define CG_DEV_ANY (-1)

/* Upper bound on the rules of one container (the BPF program grows by at most 8
 * instructions per rule; the verifier's limit for root is far above). */
#define CG_DEV_MAX_RULES 1024

struct cg_dev_rule {
	bool allow;
	char type;     /* 'a' (any), 'c', 'b' */
	int64_t major; /* CG_DEV_ANY or 0..0xfffff */
	int64_t minor;
	uint8_t access; /* CG_DEV_* bits, never 0 */
};

/*
 * v[start..n) are the rules in force over the default.  v[0..n_base) is the container's base
 * (default list + linux.devices): a spec rule "deny all" (type a, any major/minor, rwm) goes
 * back to it, a rule "allow all" sets the default to allow and retires the rules before it.
 */
struct cg_dev_rules {
	bool default_allow;
	struct cg_dev_rule *v;
	size_t n, cap, start, n_base;
	unsigned epoch; /* counts the all-devices rules: rules before them stopped counting */
};

/* Deny all, then the default allow-list.  On failure (-ENOMEM) l is empty. */
int cg_dev_rules_init(struct cg_dev_rules *l, struct agent_err *reterr);
/* Everything added so far is the base (see above). */
void cg_dev_rules_mark_base(struct cg_dev_rules *l);
/* Append one rule (with the all-devices semantics above).  -E2BIG beyond CG_DEV_MAX_RULES. */
int cg_dev_rules_add(struct cg_dev_rules *l, const struct cg_dev_rule *r, struct agent_err *reterr);
void cg_dev_rules_clear(struct cg_dev_rules *l);

/*
 * An OCI LinuxDeviceCgroup as the protocol carries it.  type "" or "a" = any, "c" (or "u"),
 * "b"; access: any of "rwm", "" = rwm.  major/minor -1 = any; proto3 cannot carry an unset
 * number, so a 0:0 pair (no device has it) means any:any, as upstream reads it.  -EINVAL with
 * a message in *reterr for anything else.
 */
int cg_dev_rule_parse(bool allow, const char *type, int64_t major, int64_t minor,
                      const char *access, struct cg_dev_rule *ret, struct agent_err *reterr);

/* The rwm allow rule of an OCI linux.devices entry (type "c", "u", "b"; "p" has none:
 * returns 0 and sets *ret_none).  Same errors as cg_dev_rule_parse. */
int cg_dev_rule_for_device(const char *type, int64_t major, int64_t minor, struct cg_dev_rule *ret,
                           bool *ret_none, struct agent_err *reterr);

/* What the list decides for one request (type 'c'/'b', access bits): true = allowed.  The
 * reference semantics the BPF program and the tests are held to. */
bool cg_dev_rules_allows(const struct cg_dev_rules *l, char type, uint32_t major, uint32_t minor,
                         unsigned access);

/* ---- BPF (v2) ---- */

/* One eBPF instruction, laid out as the kernel's struct bpf_insn. */
struct cg_bpf_insn {
	uint8_t code;
	uint8_t regs; /* dst in the low nibble, src in the high one */
	int16_t off;
	int32_t imm;
};

/* Generate the device program for the rules in force: *ret (malloc'd) holds *ret_n
 * instructions.  Rules are emitted last first, each returning its verdict on a match; the
 * default ends the program. */
int cg_dev_bpf_gen(const struct cg_dev_rules *l, struct cg_bpf_insn **ret, size_t *ret_n);

/* ---- applying to a container's cgroup ---- */

/*
 * Make l the container's device rules (the cgroup takes l over; l is left empty) and write them
 * (v1 files or v2 program).  -ENOTSUP when v1 has no devices hierarchy.
 */
int cg_devices_set(struct cg *c, struct cg_dev_rules *l, struct agent_err *reterr);
/*
 * Append rules (UpdateContainer) to the container's list and apply the result.  v1 writes only
 * the new rules when the old ones stay in force (no moment without them); otherwise, and on
 * v2, everything is rewritten / regenerated.
 */
int cg_devices_update(struct cg *c, const struct cg_dev_rule *add, size_t n,
                      struct agent_err *reterr);

/* Per-cgroup state, freed by cg_free. */
struct cg_dev_state;
void cg_dev_state_free(struct cg_dev_state *s);

/* Internal to cgroup_devices*.c: generate, load and attach l's program to the v2 cgroup c,
 * replacing the program *prog_id (0 = none); *prog_id is then the new one. */
int cg_dev_v2_apply(struct cg *c, const struct cg_dev_rules *l, uint32_t *prog_id,
                    struct agent_err *reterr);

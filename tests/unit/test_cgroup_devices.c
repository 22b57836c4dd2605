// SPDX-License-Identifier: Apache-2.0
/* Unit tests of the device cgroup rules (agent/src/cgroup_devices*.c): parsing of OCI rules, the
 * list's meaning (default list, all-devices rules, allow/deny access bits), the generated BPF
 * program run through a small interpreter against that meaning, and the v1 files written into
 * a fake tree (devices.allow/deny are pipes there, so every write is seen in order). */
#include <linux/bpf.h>

#include "cgroup_devices.h"
/* this file uses only some of the shared fake-tree helpers */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "cgroup_fake.h"

static struct cg_dev_rule rule(bool allow, const char *type, int64_t maj, int64_t min,
                               const char *acc)
{
	struct cg_dev_rule r;

	assert_int_equal(cg_dev_rule_parse(allow, type, maj, min, acc, &r, NULL), 0);
	return r;
}

/* ---- parsing ---- */

static void test_parse(void **state)
{
	struct cg_dev_rule r;

	r = rule(true, "c", 1, 3, "rw");
	assert_int_equal(r.type, 'c');
	assert_int_equal(r.major, 1);
	assert_int_equal(r.minor, 3);
	assert_int_equal(r.access, CG_DEV_READ | CG_DEV_WRITE);
	r = rule(false, "", 0, 0, "");
	assert_int_equal(r.type, 'a');
	assert_int_equal(r.major, CG_DEV_ANY);
	assert_int_equal(r.minor, CG_DEV_ANY);
	assert_int_equal(r.access, CG_DEV_RWM);
	r = rule(true, "b", 8, -1, "m");
	assert_int_equal(r.type, 'b');
	assert_int_equal(r.minor, CG_DEV_ANY);
	assert_int_equal(r.access, CG_DEV_MKNOD);
	r = rule(true, "u", 5, 0, "r");
	assert_int_equal(r.type, 'c');
	assert_int_equal(r.minor, 0); /* 5:0 is /dev/tty, not a wildcard */

	struct agent_err err = {0};
	assert_int_equal(cg_dev_rule_parse(true, "x", 1, 1, "r", &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "type"));
	assert_int_equal(cg_dev_rule_parse(true, "c", 1, 1, "rx", &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "access"));
	assert_int_equal(cg_dev_rule_parse(true, "c", 4096, 1, "r", &r, NULL), -EINVAL);
	assert_int_equal(cg_dev_rule_parse(true, "c", 1, -2, "r", &r, NULL), -EINVAL);

	bool none;

	assert_int_equal(cg_dev_rule_for_device("b", 253, 0, &r, &none, NULL), 0);
	assert_false(none);
	assert_int_equal(r.type, 'b');
	assert_int_equal(r.minor, 0);
	assert_int_equal(r.access, CG_DEV_RWM);
	assert_int_equal(cg_dev_rule_for_device("p", 0, 0, &r, &none, NULL), 0);
	assert_true(none);
	assert_int_equal(cg_dev_rule_for_device("z", 1, 1, &r, &none, NULL), -EINVAL);
}

/* ---- the list's meaning ---- */

static void test_default_list(void **state)
{
	struct cg_dev_rules l;

	assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
	assert_false(l.default_allow);
	assert_true(cg_dev_rules_allows(&l, 'c', 1, 3, CG_DEV_RWM));                   /* null */
	assert_true(cg_dev_rules_allows(&l, 'c', 1, 9, CG_DEV_READ));                  /* urandom */
	assert_true(cg_dev_rules_allows(&l, 'c', 136, 7, CG_DEV_READ | CG_DEV_WRITE)); /* pts */
	assert_true(cg_dev_rules_allows(&l, 'c', 10, 200, CG_DEV_READ));               /* tun */
	assert_true(cg_dev_rules_allows(&l, 'c', 10, 229, CG_DEV_READ));               /* fuse */
	assert_true(cg_dev_rules_allows(&l, 'b', 253, 1, CG_DEV_MKNOD));               /* mknod */
	/* a block device: mknod yes, read or write no */
	assert_false(cg_dev_rules_allows(&l, 'b', 253, 1, CG_DEV_READ));
	assert_false(cg_dev_rules_allows(&l, 'b', 8, 0, CG_DEV_WRITE));
	assert_false(cg_dev_rules_allows(&l, 'c', 1, 1, CG_DEV_READ));    /* /dev/mem */
	assert_false(cg_dev_rules_allows(&l, 'c', 10, 232, CG_DEV_READ)); /* /dev/kvm */
	cg_dev_rules_clear(&l);
}

static void test_all_devices_rules(void **state)
{
	struct cg_dev_rules l;
	struct cg_dev_rule r;

	assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
	r = rule(true, "b", 253, 0, "rwm"); /* a linux.devices entry */
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	cg_dev_rules_mark_base(&l);
	/* containerd's spec: deny all first, then its own list; the base survives */
	r = rule(true, "c", 4, 1, "rw");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	r = rule(false, "a", 0, 0, "rwm");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	r = rule(true, "c", 4, 2, "rw");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	assert_true(cg_dev_rules_allows(&l, 'c', 1, 3, CG_DEV_READ));
	assert_true(cg_dev_rules_allows(&l, 'b', 253, 0, CG_DEV_READ));
	assert_true(cg_dev_rules_allows(&l, 'c', 4, 2, CG_DEV_WRITE));
	assert_false(cg_dev_rules_allows(&l, 'c', 4, 1, CG_DEV_WRITE)); /* before the deny all */

	/* a privileged container: allow all, then exceptions */
	r = rule(true, "a", -1, -1, "rwm");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	r = rule(false, "b", 8, -1, "rw");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	assert_true(cg_dev_rules_allows(&l, 'c', 1, 1, CG_DEV_READ));
	assert_true(cg_dev_rules_allows(&l, 'b', 7, 0, CG_DEV_READ));
	assert_false(cg_dev_rules_allows(&l, 'b', 8, 16, CG_DEV_READ));
	assert_true(cg_dev_rules_allows(&l, 'b', 8, 16, CG_DEV_MKNOD));

	/* deny all again: back to the base only */
	r = rule(false, "", 0, 0, "");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	assert_false(l.default_allow);
	assert_false(cg_dev_rules_allows(&l, 'c', 1, 1, CG_DEV_READ));
	assert_false(cg_dev_rules_allows(&l, 'c', 4, 2, CG_DEV_READ));
	assert_true(cg_dev_rules_allows(&l, 'b', 253, 0, CG_DEV_WRITE));
	assert_true(cg_dev_rules_allows(&l, 'c', 1, 3, CG_DEV_WRITE));
	cg_dev_rules_clear(&l);
}

static void test_access_bits(void **state)
{
	struct cg_dev_rules l;
	struct cg_dev_rule r;

	assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
	/* /dev/null made read-only; "a *:* w"-style partial rule on any type */
	r = rule(false, "c", 1, 3, "w");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	assert_true(cg_dev_rules_allows(&l, 'c', 1, 3, CG_DEV_READ));
	assert_false(cg_dev_rules_allows(&l, 'c', 1, 3, CG_DEV_WRITE));
	assert_false(cg_dev_rules_allows(&l, 'c', 1, 3, CG_DEV_READ | CG_DEV_WRITE));
	/* an allow rule must cover every bit asked for */
	r = rule(true, "b", 7, 0, "r");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	assert_true(cg_dev_rules_allows(&l, 'b', 7, 0, CG_DEV_READ));
	assert_false(cg_dev_rules_allows(&l, 'b', 7, 0, CG_DEV_READ | CG_DEV_WRITE));
	r = rule(false, "a", -1, -1, "m"); /* no mknod at all: not an all-devices reset */
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	assert_false(cg_dev_rules_allows(&l, 'b', 9, 9, CG_DEV_MKNOD));
	assert_true(cg_dev_rules_allows(&l, 'c', 1, 5, CG_DEV_READ));
	cg_dev_rules_clear(&l);
}

static void test_limit(void **state)
{
	struct cg_dev_rules l;
	struct cg_dev_rule r = rule(true, "c", 1, 1, "r");
	int e = 0;

	assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
	for (int i = 0; i < CG_DEV_MAX_RULES + 1 && e == 0; i++)
		e = cg_dev_rules_add(&l, &r, NULL);
	assert_int_equal(e, -E2BIG);
	assert_int_equal(l.n, CG_DEV_MAX_RULES);
	cg_dev_rules_clear(&l);
}

/* ---- the BPF program ---- */

/*
 * Runs a program made of the instructions cg_dev_bpf_gen may emit; anything else fails the
 * test.  Also checks what the verifier would: jumps stay inside, no fall off the end, no
 * backward jumps, R0 set before exit.
 */
static int run(const struct cg_bpf_insn *p, size_t n, uint32_t access_type, uint32_t major,
               uint32_t minor)
{
	struct bpf_cgroup_dev_ctx ctx = {access_type, major, minor};
	uint64_t reg[11] = {0};
	bool r0_set = false;

	for (size_t pc = 0; pc < n; pc++) {
		const struct cg_bpf_insn *i = &p[pc];
		int dst = i->regs & 0xf, src = i->regs >> 4;
		bool jump = false;

		assert_in_range(dst, 0, 10);
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(src, 1);
			assert_in_range(i->off, 0, sizeof(ctx) - 4);
			assert_int_equal(i->off % 4, 0);
			reg[dst] = *(const uint32_t *)((const char *)&ctx + i->off);
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			reg[dst] = (uint32_t)(reg[dst] & (uint32_t)i->imm);
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			reg[dst] = (uint32_t)reg[dst] >> i->imm;
			break;
		case BPF_ALU | BPF_MOV | BPF_X:
			reg[dst] = (uint32_t)reg[src];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			reg[dst] = (uint64_t)(int64_t)i->imm;
			r0_set |= dst == 0;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			jump = reg[dst] != (uint64_t)(int64_t)i->imm;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			jump = reg[dst] == (uint64_t)(int64_t)i->imm;
			break;
		case BPF_JMP | BPF_EXIT:
			assert_true(r0_set);
			return (int)reg[0];
		default:
			fail_msg("unexpected opcode %#x at %zu", i->code, pc);
		}
		if (BPF_CLASS(i->code) == BPF_JMP && i->code != (BPF_JMP | BPF_EXIT)) {
			assert_true(i->off > 0);
			assert_true(pc + 1 + (size_t)i->off < n);
		}
		if (jump)
			pc += (size_t)i->off;
	}
	fail_msg("fell off the end of the program");
	return -1;
}

static bool prog_allows(const struct cg_bpf_insn *p, size_t n, char type, uint32_t maj,
                        uint32_t min, unsigned acc)
{
	uint32_t t = type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;

	return run(p, n, acc << 16 | t, maj, min) == 1;
}

/* Every type, access combination and a set of numbers around the rules' own. */
static void compare_all(const struct cg_dev_rules *l)
{
	static const uint32_t nums[] = {0, 1, 2, 3, 5, 7, 8, 9, 10, 136, 200, 229, 253, 0xfffff};
	struct cg_bpf_insn *p = NULL;
	size_t n = 0;

	assert_int_equal(cg_dev_bpf_gen(l, &p, &n), 0);
	assert_true(n <= 8 + 8 * (l->n - l->start));
	for (int t = 0; t < 2; t++)
		for (unsigned acc = 1; acc <= CG_DEV_RWM; acc++)
			for (size_t a = 0; a < sizeof(nums) / sizeof(nums[0]); a++)
				for (size_t b = 0; b < sizeof(nums) / sizeof(nums[0]); b++) {
					char type = t ? 'b' : 'c';
					bool want =
					    cg_dev_rules_allows(l, type, nums[a], nums[b], acc);

					if (prog_allows(p, n, type, nums[a], nums[b], acc) != want)
						fail_msg("%c %u:%u access %u: program says %d",
						         type, nums[a], nums[b], acc, !want);
				}
	free(p);
}

static void test_bpf_default_list(void **state)
{
	struct cg_dev_rules l;
	struct cg_bpf_insn *p = NULL;
	size_t n = 0;

	assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
	compare_all(&l);
	/* spot checks that do not lean on the reference */
	assert_int_equal(cg_dev_bpf_gen(&l, &p, &n), 0);
	assert_true(prog_allows(p, n, 'c', 1, 3, CG_DEV_READ | CG_DEV_WRITE));
	assert_false(prog_allows(p, n, 'b', 8, 0, CG_DEV_READ));
	assert_true(prog_allows(p, n, 'b', 8, 0, CG_DEV_MKNOD));
	assert_false(prog_allows(p, n, 'c', 1, 1, CG_DEV_READ));
	free(p);
	cg_dev_rules_clear(&l);
}

static void test_bpf_random_lists(void **state)
{
	static const char *const types[] = {"a", "c", "b"};
	static const char *const accs[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
	static const int64_t nums[] = {-1, 1, 3, 8, 136, 253};
	unsigned seed = 12345;

	for (int round = 0; round < 200; round++) {
		struct cg_dev_rules l;
		int k = rand_r(&seed) % 12;

		assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
		for (int i = 0; i < k; i++) {
			struct cg_dev_rule r;
			const char *acc = accs[rand_r(&seed) % 7];
			int64_t maj = nums[rand_r(&seed) % 6], min = nums[rand_r(&seed) % 6];

			if (rand_r(&seed) % 8 == 0) /* now and then an all-devices rule */
				maj = min = -1, acc = "rwm";
			assert_int_equal(cg_dev_rule_parse(rand_r(&seed) % 2,
			                                   types[rand_r(&seed) % 3], maj, min, acc,
			                                   &r, NULL),
			                 0);
			assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
		}
		compare_all(&l);
		cg_dev_rules_clear(&l);
	}
}

/* ---- v1 files (fake tree) ---- */

static void mkdirs_rel(const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	mkdirs(p);
}

struct pipes {
	int allow[2], deny[2];
};

static struct cg *make_v1_devices(struct cg_manager **mp, struct pipes *pp)
{
	char p[PATH_MAX], target[64];
	struct cg *c = NULL;

	mkdirs_rel("devices");
	mkdirs_rel("memory");
	*mp = open_mgr(CG_V1);
	assert_int_equal(cg_create(*mp, "/pod/cid", &c, NULL), 0);
	assert_true(exists("devices/pod/cid"));
	put("devices/pod/cid/devices.list", "a *:* rwm\n");
	/* devices.allow/deny are pipes: every write() arrives in order */
	assert_int_equal(pipe2(pp->allow, O_NONBLOCK), 0);
	assert_int_equal(pipe2(pp->deny, O_NONBLOCK), 0);
	snprintf(p, sizeof(p), "%s/devices/pod/cid/devices.allow", root);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", pp->allow[1]);
	assert_int_equal(symlink(target, p), 0);
	snprintf(p, sizeof(p), "%s/devices/pod/cid/devices.deny", root);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", pp->deny[1]);
	assert_int_equal(symlink(target, p), 0);
	return c;
}

/* Everything written to one pipe since the last drain (the writes back to back). */
static const char *drain(int fd)
{
	static char buf[8192];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_v1_write(void **state)
{
	struct cg_manager *m;
	struct pipes pp;
	struct cg *c = make_v1_devices(&m, &pp);
	struct cg_dev_rules l;
	struct cg_dev_rule r;

	assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
	r = rule(true, "b", 253, 1, "rwm");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	cg_dev_rules_mark_base(&l);
	r = rule(false, "a", 0, 0, "rwm");
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	r = rule(false, "a", -1, -1, "w"); /* v1 cannot say "a" narrowly: c and b */
	assert_int_equal(cg_dev_rules_add(&l, &r, NULL), 0);
	assert_int_equal(cg_devices_set(c, &l, NULL), 0);
	assert_int_equal(l.n, 0); /* taken over */
	assert_string_equal(drain(pp.deny[0]), "ac *:* wb *:* w");
	assert_string_equal(drain(pp.allow[0]), "c 1:3 rwm"
	                                        "c 1:5 rwm"
	                                        "c 1:7 rwm"
	                                        "c 5:0 rwm"
	                                        "c 1:9 rwm"
	                                        "c 1:8 rwm"
	                                        "c *:* m"
	                                        "b *:* m"
	                                        "c 5:1 rwm"
	                                        "c 136:* rwm"
	                                        "c 5:2 rwm"
	                                        "c 10:200 rwm"
	                                        "c 10:229 rwm"
	                                        "b 253:1 rwm");

	/* UpdateContainer appending rules: only they are written, no reset */
	struct cg_dev_rule add[] = {rule(true, "c", 4, -1, "rw"), rule(false, "c", 1, 9, "w")};

	assert_int_equal(cg_devices_update(c, add, 2, NULL), 0);
	assert_string_equal(drain(pp.allow[0]), "c 4:* rw");
	assert_string_equal(drain(pp.deny[0]), "c 1:9 w");

	/* allow all: the default changes, so everything is rewritten */
	struct cg_dev_rule all[] = {rule(true, "a", 0, 0, "rwm"), rule(false, "b", 8, -1, "r")};

	assert_int_equal(cg_devices_update(c, all, 2, NULL), 0);
	assert_string_equal(drain(pp.allow[0]), "a");
	assert_string_equal(drain(pp.deny[0]), "b 8:* r");

	for (int i = 0; i < 2; i++) {
		close(pp.allow[i]);
		close(pp.deny[i]);
	}
	cg_free(c);
	cg_manager_free(m);
}

static void test_v1_no_devices_controller(void **state)
{
	struct cg_manager *m;
	struct cg *c = NULL;
	struct cg_dev_rules l;

	mkdirs_rel("memory");
	m = open_mgr(CG_V1);
	assert_int_equal(cg_create(m, "/pod/cid", &c, NULL), 0);
	assert_int_equal(cg_dev_rules_init(&l, NULL), 0);
	struct agent_err err = {0};
	assert_int_equal(cg_devices_set(c, &l, &err), -ENOTSUP);
	assert_int_equal(err.code, -ENOTSUP);
	assert_non_null(strstr(err.msg, "devices controller is not mounted"));
	assert_null(get("devices/pod/cid/devices.deny"));
	cg_free(c);
	cg_manager_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_default_list),
	    cmocka_unit_test(test_all_devices_rules),
	    cmocka_unit_test(test_access_bits),
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_bpf_default_list),
	    cmocka_unit_test(test_bpf_random_lists),
	    cmocka_unit_test_setup_teardown(test_v1_write, setup_root, teardown_root),
	    cmocka_unit_test_setup_teardown(test_v1_no_devices_controller, setup_root,
	                                    teardown_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

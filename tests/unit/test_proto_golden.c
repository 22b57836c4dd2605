/* Golden wire tests for the protoc-c generated Kata agent API code.
 *
 * The vectors in argv[1] are produced at build time by protoc --encode (the
 * C++ reference encoder) from tests/unit/golden/<name>.txtpb.  Each test
 * decodes one with protobuf-c, checks the decoded values, re-encodes it and
 * requires the bytes to be identical.  A second group packs messages built in
 * C and compares them with vectors worked out by hand from the encoding rules,
 * so a .proto mistake that both encoders would share is caught too. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent.pb-c.h"

static const char *golden_dir;

struct blob {
	uint8_t *data;
	size_t len;
};

static void blob_load(const char *name, struct blob *ret)
{
	char path[4096];
	FILE *f;
	long size;

	snprintf(path, sizeof(path), "%s/%s.bin", golden_dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open golden vector %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	ret->len = (size_t)size;
	ret->data = malloc(ret->len + 1);
	assert_non_null(ret->data);
	assert_int_equal(fread(ret->data, 1, ret->len, f), ret->len);
	fclose(f);
}

/* Decode the named vector, re-encode it and require identical bytes. */
static void *golden_roundtrip(const char *name, const ProtobufCMessageDescriptor *desc)
{
	struct blob b;
	ProtobufCMessage *m;
	uint8_t *out;
	size_t n;

	blob_load(name, &b);
	m = protobuf_c_message_unpack(desc, NULL, b.len, b.data);
	assert_non_null(m);
	assert_int_equal(m->n_unknown_fields, 0);
	n = protobuf_c_message_get_packed_size(m);
	assert_int_equal(n, b.len);
	out = malloc(n + 1);
	assert_non_null(out);
	assert_int_equal(protobuf_c_message_pack(m, out), n);
	assert_memory_equal(out, b.data, n);
	free(out);
	free(b.data);
	return m;
}

static void golden_free(void *m)
{
	protobuf_c_message_free_unpacked(m, NULL);
}

static const char *map_get(Grpc__Spec__AnnotationsEntry **e, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i]->key, key) == 0)
			return e[i]->value;
	return NULL;
}

static void check_spec_process(const Grpc__Process *p)
{
	assert_non_null(p);
	assert_false(p->terminal);
	assert_int_equal(p->consolesize->height, 24);
	assert_int_equal(p->consolesize->width, 80);
	assert_int_equal(p->user->uid, 1000);
	assert_int_equal(p->user->n_additionalgids, 3);
	assert_int_equal(p->user->additionalgids[2], 300000);
	assert_string_equal(p->user->username, "app");
	assert_int_equal(p->n_args, 3);
	assert_string_equal(p->args[0], "sh");
	assert_string_equal(p->args[2], "echo h\xc3\xa9llo; date");
	assert_int_equal(p->n_env, 2);
	assert_string_equal(p->env[1], "TERM=xterm");
	assert_string_equal(p->cwd, "/");
	assert_int_equal(p->capabilities->n_bounding, 2);
	assert_string_equal(p->capabilities->bounding[1], "CAP_KILL");
	assert_int_equal(p->capabilities->n_inheritable, 0);
	assert_int_equal(p->n_rlimits, 1);
	assert_string_equal(p->rlimits[0]->type, "RLIMIT_NOFILE");
	assert_int_equal(p->rlimits[0]->hard, 1048576);
	assert_int_equal(p->rlimits[0]->soft, 1024);
	assert_true(p->nonewprivileges);
	assert_int_equal(p->oomscoreadj, -998);
}

static void check_spec_linux(const Grpc__Linux *l)
{
	assert_non_null(l);
	assert_int_equal(l->n_uidmappings, 1);
	assert_int_equal(l->uidmappings[0]->hostid, 100000);
	assert_int_equal(l->uidmappings[0]->containerid, 0);
	assert_int_equal(l->gidmappings[0]->size, 65536);
	assert_int_equal(l->n_sysctl, 1);
	assert_string_equal(l->sysctl[0]->key, "net.ipv4.ip_forward");
	assert_string_equal(l->sysctl[0]->value, "1");

	const Grpc__LinuxResources *r = l->resources;
	assert_non_null(r);
	assert_int_equal(r->n_devices, 2);
	assert_false(r->devices[0]->allow);
	assert_string_equal(r->devices[0]->access, "rwm");
	assert_true(r->devices[1]->allow);
	assert_string_equal(r->devices[1]->type, "c");
	assert_int_equal(r->devices[1]->major, 1);
	assert_int_equal(r->devices[1]->minor, 3);
	assert_int_equal(r->memory->limit, 268435456);
	assert_int_equal(r->memory->swap, -1);
	assert_int_equal(r->memory->swappiness, 60);
	assert_true(r->memory->disableoomkiller);
	assert_int_equal(r->cpu->shares, 1024);
	assert_int_equal(r->cpu->quota, -1);
	assert_int_equal(r->cpu->period, 100000);
	assert_string_equal(r->cpu->cpus, "0-1");
	assert_string_equal(r->cpu->mems, "");
	assert_int_equal(r->pids->limit, 4096);
	assert_null(r->blockio);
	assert_int_equal(r->n_hugepagelimits, 1);
	assert_string_equal(r->hugepagelimits[0]->pagesize, "2MB");

	assert_string_equal(l->cgroupspath, "/default/c0ffee01");
	assert_int_equal(l->n_namespaces, 3);
	assert_string_equal(l->namespaces[0]->type, "ipc");
	assert_string_equal(l->namespaces[2]->type, "mount");
	assert_string_equal(l->namespaces[2]->path, "");
	assert_int_equal(l->n_devices, 1);
	assert_int_equal(l->devices[0]->major, 253);
	assert_int_equal(l->devices[0]->filemode, 0660);
	assert_int_equal(l->devices[0]->gid, 6);

	const Grpc__LinuxSeccomp *s = l->seccomp;
	assert_non_null(s);
	assert_int_equal(s->n_syscalls, 2);
	assert_int_equal(s->syscalls[0]->errno_ret_case, GRPC__LINUX_SYSCALL__ERRNO_RET__NOT_SET);
	/* errnoret: 0 was written explicitly: the oneof keeps it present. */
	assert_int_equal(s->syscalls[1]->errno_ret_case, GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET);
	assert_int_equal(s->syscalls[1]->errnoret, 0);
	assert_int_equal(s->syscalls[1]->args[0]->value, 4294967295u);
	assert_string_equal(s->syscalls[1]->args[0]->op, "SCMP_CMP_EQ");
	assert_string_equal(l->rootfspropagation, "rslave");
	assert_int_equal(l->n_maskedpaths, 2);
	assert_string_equal(l->readonlypaths[0], "/proc/sys");
}

static void test_create_container(void **state)
{
	Grpc__CreateContainerRequest *r =
	    golden_roundtrip("create_container", &grpc__create_container_request__descriptor);

	assert_string_equal(r->container_id, "c0ffee01");
	assert_string_equal(r->exec_id, "c0ffee01");
	assert_null(r->string_user);
	assert_int_equal(r->n_devices, 1);
	assert_string_equal(r->devices[0]->id, "02/03");
	assert_string_equal(r->devices[0]->container_path, "/dev/xvda");
	assert_int_equal(r->n_storages, 2);
	assert_string_equal(r->storages[0]->driver, "virtio-fs");
	assert_true(r->storages[0]->shared);
	assert_null(r->storages[0]->fs_group);
	assert_int_equal(r->storages[1]->n_options, 2);
	assert_string_equal(r->storages[1]->options[1], "size=67108864");
	assert_int_equal(r->storages[1]->fs_group->group_id, 1000);
	assert_int_equal(r->storages[1]->fs_group->group_change_policy,
	                 TYPES__FSGROUP_CHANGE_POLICY__OnRootMismatch);

	const Grpc__Spec *spec = r->oci;
	assert_non_null(spec);
	assert_string_equal(spec->version, "1.1.0");
	check_spec_process(spec->process);
	assert_string_equal(spec->root->path,
	                    "/run/kata-containers/shared/containers/c0ffee01/rootfs");
	assert_true(spec->root->readonly);
	assert_int_equal(spec->n_mounts, 2);
	assert_int_equal(spec->mounts[0]->n_options, 3);
	assert_string_equal(spec->mounts[1]->type, "bind");
	assert_null(spec->hooks);
	assert_int_equal(spec->n_annotations, 2);
	assert_string_equal(
	    map_get(spec->annotations, spec->n_annotations, "io.kubernetes.cri.container-type"),
	    "container");
	check_spec_linux(spec->linux);
	assert_true(r->sandbox_pidns);
	assert_int_equal(r->n_shared_mounts, 1);
	assert_string_equal(r->shared_mounts[0]->dst_path, "/y");
	assert_int_equal(r->stdin_port, 0);
	assert_int_equal(r->stdout_port, 1027);
	golden_free(r);
}

static void test_exec_process(void **state)
{
	Grpc__ExecProcessRequest *r =
	    golden_roundtrip("exec_process", &grpc__exec_process_request__descriptor);

	assert_string_equal(r->container_id, "c0ffee01");
	assert_string_equal(r->exec_id, "0d5a3f3e-8d1c-4c1e-9d55-6b7e5f2c1a90");
	assert_non_null(r->process);
	assert_true(r->process->terminal);
	assert_int_equal(r->process->consolesize->width, 132);
	/* User{UID:0 GID:0} is present but empty on the wire. */
	assert_non_null(r->process->user);
	assert_int_equal(r->process->user->uid, 0);
	assert_null(r->process->capabilities);
	assert_int_equal(r->process->n_args, 2);
	assert_string_equal(r->process->args[1], "-l");
	assert_string_equal(r->process->cwd, "/root");
	golden_free(r);
}

static void test_read_stream_response(void **state)
{
	static const uint8_t want[] = {0x00, 0x01, 0xff, 0xfe, 'h',  'e',
	                               'l',  'l',  'o',  '\n', 0xc0, 0x80};
	Grpc__ReadStreamResponse *r =
	    golden_roundtrip("read_stream_response", &grpc__read_stream_response__descriptor);

	assert_int_equal(r->data.len, sizeof(want));
	assert_memory_equal(r->data.data, want, sizeof(want));
	golden_free(r);
}

static void test_wait_process_response(void **state)
{
	Grpc__WaitProcessResponse *r =
	    golden_roundtrip("wait_process_response", &grpc__wait_process_response__descriptor);
	assert_int_equal(r->status, 137);
	golden_free(r);

	r = golden_roundtrip("wait_process_negative", &grpc__wait_process_response__descriptor);
	assert_int_equal(r->status, -1);
	golden_free(r);
}

static void test_create_sandbox(void **state)
{
	Grpc__CreateSandboxRequest *r =
	    golden_roundtrip("create_sandbox", &grpc__create_sandbox_request__descriptor);

	assert_string_equal(r->hostname, "pod-1");
	assert_int_equal(r->n_dns, 2);
	assert_string_equal(r->dns[1], "search default.svc.cluster.local");
	assert_int_equal(r->n_storages, 1);
	assert_false(r->sandbox_pidns);
	assert_string_equal(r->sandbox_id, "5a4db0d9");
	assert_int_equal(r->n_kernel_modules, 1);
	assert_string_equal(r->kernel_modules[0]->name, "e1000e");
	assert_int_equal(r->kernel_modules[0]->n_parameters, 2);
	assert_string_equal(r->kernel_modules[0]->parameters[1], "EEE=1");
	golden_free(r);
}

static void test_update_interface(void **state)
{
	Grpc__UpdateInterfaceRequest *r =
	    golden_roundtrip("update_interface", &grpc__update_interface_request__descriptor);
	const Types__Interface *i = r->interface;

	assert_non_null(i);
	assert_string_equal(i->name, "eth0");
	assert_int_equal(i->n_ipaddresses, 2);
	assert_int_equal(i->ipaddresses[0]->family, TYPES__IPFAMILY__v4);
	assert_string_equal(i->ipaddresses[0]->mask, "16");
	assert_int_equal(i->ipaddresses[1]->family, TYPES__IPFAMILY__v6);
	assert_string_equal(i->ipaddresses[1]->address, "fd00::5");
	assert_int_equal(i->mtu, 1500);
	assert_string_equal(i->hwaddr, "02:42:ac:11:00:02");
	assert_string_equal(i->devicepath, "01/02");
	assert_int_equal(i->raw_flags, 128);
	golden_free(r);
}

static void test_guest_details_response(void **state)
{
	Grpc__GuestDetailsResponse *r =
	    golden_roundtrip("guest_details_response", &grpc__guest_details_response__descriptor);

	assert_int_equal(r->mem_block_size_bytes, 134217728);
	assert_true(r->support_mem_hotplug_probe);
	assert_non_null(r->agent_details);
	assert_true(r->agent_details->init_daemon);
	assert_int_equal(r->agent_details->n_device_handlers, 0);
	assert_int_equal(r->agent_details->n_storage_handlers, 3);
	assert_string_equal(r->agent_details->storage_handlers[2], "local");
	golden_free(r);
}

static void test_stats_container_response(void **state)
{
	Grpc__StatsContainerResponse *r = golden_roundtrip(
	    "stats_container_response", &grpc__stats_container_response__descriptor);
	const Grpc__CgroupStats *c = r->cgroup_stats;

	assert_non_null(c);
	assert_true(c->cpu_stats->cpu_usage->total_usage == UINT64_MAX);
	assert_int_equal(c->cpu_stats->cpu_usage->n_percpu_usage, 3);
	assert_int_equal(c->cpu_stats->cpu_usage->percpu_usage[2], 70000);
	assert_int_equal(c->cpu_stats->throttling_data->periods, 9);
	assert_int_equal(c->memory_stats->usage->limit, 268435456);
	assert_null(c->memory_stats->swap_usage);
	assert_int_equal(c->memory_stats->n_stats, 2);
	for (size_t i = 0; i < c->memory_stats->n_stats; i++) {
		const Grpc__MemoryStats__StatsEntry *e = c->memory_stats->stats[i];
		if (strcmp(e->key, "rss") == 0)
			assert_int_equal(e->value, 12345);
		else
			assert_string_equal(e->key, "pgfault");
	}
	assert_int_equal(c->n_hugetlb_stats, 1);
	assert_string_equal(c->hugetlb_stats[0]->key, "2MB");
	assert_int_equal(c->hugetlb_stats[0]->value->failcnt, 1);
	assert_int_equal(r->n_network_stats, 1);
	assert_int_equal(r->network_stats[0]->tx_packets, 7);
	golden_free(r);
}

static void test_memcg_config(void **state)
{
	Grpc__MemAgentMemcgConfig *r =
	    golden_roundtrip("memcg_config", &grpc__mem_agent_memcg_config__descriptor);

	assert_int_equal(r->opt_disabled_case, GRPC__MEM_AGENT_MEMCG_CONFIG__OPT_DISABLED_DISABLED);
	assert_false(r->disabled);
	assert_int_equal(r->opt_swap_case, GRPC__MEM_AGENT_MEMCG_CONFIG__OPT_SWAP__NOT_SET);
	assert_int_equal(r->opt_swappiness_max_case,
	                 GRPC__MEM_AGENT_MEMCG_CONFIG__OPT_SWAPPINESS_MAX_SWAPPINESS_MAX);
	assert_int_equal(r->swappiness_max, 0);
	assert_int_equal(r->period_secs, 600);
	assert_int_equal(r->opt_eviction_run_aging_count_min_case,
	                 GRPC__MEM_AGENT_MEMCG_CONFIG__OPT_EVICTION_RUN_AGING_COUNT_MIN__NOT_SET);
	golden_free(r);
}

static void test_copy_file(void **state)
{
	Grpc__CopyFileRequest *r =
	    golden_roundtrip("copy_file", &grpc__copy_file_request__descriptor);

	assert_int_equal(r->file_size, 24);
	assert_int_equal(r->data.len, 24);
	assert_int_equal(r->file_mode, 0100644);
	assert_int_equal(r->dir_mode, 0750);
	assert_int_equal(r->uid, -1);
	assert_int_equal(r->gid, 65534);
	assert_memory_equal(r->data.data, "127.0.0.1\tlocalhost\n::1\n", 24);
	golden_free(r);
}

static void test_mem_hotplug(void **state)
{
	Grpc__MemHotplugByProbeRequest *r =
	    golden_roundtrip("mem_hotplug", &grpc__mem_hotplug_by_probe_request__descriptor);

	assert_int_equal(r->n_memhotplugprobeaddr, 2);
	assert_true(r->memhotplugprobeaddr[0] == 0x100000000ull);
	assert_true(r->memhotplugprobeaddr[1] == 0x108000000ull);
	golden_free(r);
}

/* ---- hand-worked vectors, independent of protoc ---- */

static void assert_packs_to(const ProtobufCMessage *m, const uint8_t *want, size_t want_len)
{
	uint8_t buf[64];

	assert_int_equal(protobuf_c_message_get_packed_size(m), want_len);
	assert_int_equal(protobuf_c_message_pack(m, buf), want_len);
	assert_memory_equal(buf, want, want_len);
}

static void test_hand_vectors(void **state)
{
	Grpc__WaitProcessResponse w = GRPC__WAIT_PROCESS_RESPONSE__INIT;
	w.status = 137;
	assert_packs_to(&w.base, (const uint8_t[]){0x08, 0x89, 0x01}, 3);
	w.status = -1; /* int32 is sign-extended to a 10-byte varint */
	assert_packs_to(
	    &w.base,
	    (const uint8_t[]){0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	    11);

	Grpc__ReseedRandomDevRequest rs = GRPC__RESEED_RANDOM_DEV_REQUEST__INIT;
	rs.data = (ProtobufCBinaryData){.len = 2, .data = (uint8_t *)"ab"};
	assert_packs_to(&rs.base, (const uint8_t[]){0x12, 0x02, 'a', 'b'},
	                4); /* field 2, no field 1 */

	Grpc__FSGroup fg = GRPC__FSGROUP__INIT;
	fg.group_id = 5;
	fg.group_change_policy = TYPES__FSGROUP_CHANGE_POLICY__OnRootMismatch;
	assert_packs_to(&fg.base, (const uint8_t[]){0x10, 0x05, 0x18, 0x01}, 4);

	uint32_t pci[] = {2, 3};
	Grpc__AddSwapRequest sw = GRPC__ADD_SWAP_REQUEST__INIT;
	sw.n_pcipath = 2;
	sw.pcipath = pci;
	assert_packs_to(&sw.base, (const uint8_t[]){0x0a, 0x02, 0x02, 0x03}, 4); /* packed */

	Grpc__MemAgentCompactConfig cc = GRPC__MEM_AGENT_COMPACT_CONFIG__INIT;
	assert_packs_to(&cc.base, (const uint8_t[]){0}, 0);
	cc.opt_compact_sec_max_case =
	    GRPC__MEM_AGENT_COMPACT_CONFIG__OPT_COMPACT_SEC_MAX_COMPACT_SEC_MAX;
	cc.compact_sec_max = 0; /* present-but-zero still goes on the wire */
	assert_packs_to(&cc.base, (const uint8_t[]){0x28, 0x00}, 2);

	Grpc__ReadStreamRequest rr = GRPC__READ_STREAM_REQUEST__INIT;
	rr.container_id = "c";
	rr.exec_id = "e";
	rr.len = 32768;
	assert_packs_to(&rr.base,
	                (const uint8_t[]){0x0a, 0x01, 'c', 0x12, 0x01, 'e', 0x18, 0x80, 0x80, 0x02},
	                10);

	Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
	assert_packs_to(&e.base, (const uint8_t[]){0}, 0);
}

/* Newer clients add fields: an unknown field must be skipped, not fatal, and
 * packed repeated scalars must also be accepted in their unpacked form. */
static void test_unknown_and_unpacked(void **state)
{
	static const uint8_t wire[] = {0x08, 0x05, 0xf8, 0x06, 0x2a, 0x9a, 0x06, 0x01, 'x'};
	Grpc__WaitProcessResponse *w =
	    grpc__wait_process_response__unpack(NULL, sizeof(wire), wire);
	assert_non_null(w);
	assert_int_equal(w->status, 5);
	grpc__wait_process_response__free_unpacked(w, NULL);

	static const uint8_t unpacked[] = {0x08, 0x02, 0x08, 0x03};
	Grpc__AddSwapRequest *s = grpc__add_swap_request__unpack(NULL, sizeof(unpacked), unpacked);
	assert_non_null(s);
	assert_int_equal(s->n_pcipath, 2);
	assert_int_equal(s->pcipath[1], 3);
	grpc__add_swap_request__free_unpacked(s, NULL);

	/* A truncated length-delimited field is rejected. */
	static const uint8_t trunc[] = {0x0a, 0x05, 'a'};
	assert_null(grpc__read_stream_request__unpack(NULL, sizeof(trunc), trunc));
}

static void test_service_descriptor(void **state)
{
	const ProtobufCServiceDescriptor *s = &grpc__agent_service__descriptor;

	assert_string_equal(s->name, "grpc.AgentService");
	assert_int_equal(s->n_methods, 42);
	const ProtobufCMethodDescriptor *m =
	    protobuf_c_service_descriptor_get_method_by_name(s, "ReadStdout");
	assert_non_null(m);
	assert_ptr_equal(m->input, &grpc__read_stream_request__descriptor);
	assert_ptr_equal(m->output, &grpc__read_stream_response__descriptor);
	m = protobuf_c_service_descriptor_get_method_by_name(s, "UpdateInterface");
	assert_non_null(m);
	assert_ptr_equal(m->output, &types__interface__descriptor);
	m = protobuf_c_service_descriptor_get_method_by_name(s, "GetVolumeStats");
	assert_non_null(m);
	assert_ptr_equal(m->output, &grpc__volume_stats_response__descriptor);
	m = protobuf_c_service_descriptor_get_method_by_name(s, "CreateContainer");
	assert_non_null(m);
	assert_ptr_equal(m->output, &google__protobuf__empty__descriptor);
	assert_null(protobuf_c_service_descriptor_get_method_by_name(s, "Check"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_container),
	    cmocka_unit_test(test_exec_process),
	    cmocka_unit_test(test_read_stream_response),
	    cmocka_unit_test(test_wait_process_response),
	    cmocka_unit_test(test_create_sandbox),
	    cmocka_unit_test(test_update_interface),
	    cmocka_unit_test(test_guest_details_response),
	    cmocka_unit_test(test_stats_container_response),
	    cmocka_unit_test(test_memcg_config),
	    cmocka_unit_test(test_copy_file),
	    cmocka_unit_test(test_mem_hotplug),
	    cmocka_unit_test(test_hand_vectors),
	    cmocka_unit_test(test_unknown_and_unpacked),
	    cmocka_unit_test(test_service_descriptor),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s GOLDEN_DIR\n", argv[0]);
		return 2;
	}
	golden_dir = argv[1];
	return cmocka_run_group_tests_name("proto_golden", tests, NULL, NULL);
}

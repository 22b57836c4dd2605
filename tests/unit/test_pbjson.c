/* Unit tests for vsock/common/pbjson.c: JSON <-> protobuf-c for Kata messages. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "agent.pb-c.h"
#include "pbjson.h"

static ProtobufCMessage *must_parse(const ProtobufCMessageDescriptor *d, const char *json)
{
	ProtobufCMessage *m = NULL;
	char *err = NULL;
	int r = pbjson_from_json(d, json, &m, &err);

	if (r < 0)
		fail_msg("pbjson_from_json(%s) = %d: %s", json, r, err ? err : "(no message)");
	assert_null(err);
	assert_non_null(m);
	return m;
}

static char *must_render(const ProtobufCMessage *m)
{
	char *s = NULL;

	assert_int_equal(pbjson_to_json(m, &s), 0);
	assert_non_null(s);
	return s;
}

/* Expect a parse failure whose message contains `want`. */
static void assert_parse_error(const ProtobufCMessageDescriptor *d, const char *json,
                               const char *want)
{
	ProtobufCMessage *m = NULL;
	char *err = NULL;
	int r = pbjson_from_json(d, json, &m, &err);

	assert_int_equal(r, -EINVAL);
	assert_null(m);
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	free(err);
}

/* Two JSON texts hold the same value (key order does not matter). */
static void assert_json_same(const char *got, const char *want)
{
	struct json_object *a = json_tokener_parse(got), *b = json_tokener_parse(want);

	assert_non_null(a);
	assert_non_null(b);
	if (!json_object_equal(a, b))
		fail_msg("JSON differs:\n got: %s\nwant: %s", got, want);
	json_object_put(a);
	json_object_put(b);
}

/* JSON -> msg -> bytes -> msg -> JSON; the output must equal `canonical`,
 * and parsing the output again must give the same bytes. */
static void roundtrip(const ProtobufCMessageDescriptor *d, const char *json, const char *canonical)
{
	ProtobufCMessage *m = must_parse(d, json), *m2, *m3;
	size_t n = protobuf_c_message_get_packed_size(m), n3;
	uint8_t *wire = malloc(n + 1), *wire3;
	char *out;

	assert_non_null(wire);
	assert_int_equal(protobuf_c_message_pack(m, wire), n);
	m2 = protobuf_c_message_unpack(d, NULL, n, wire);
	assert_non_null(m2);
	out = must_render(m2);
	assert_json_same(out, canonical);

	m3 = must_parse(d, out);
	n3 = protobuf_c_message_get_packed_size(m3);
	wire3 = malloc(n3 + 1);
	assert_non_null(wire3);
	assert_int_equal(protobuf_c_message_pack(m3, wire3), n3);
	assert_int_equal(n3, n);
	assert_memory_equal(wire3, wire, n);

	free(wire3);
	free(wire);
	free(out);
	protobuf_c_message_free_unpacked(m, NULL);
	protobuf_c_message_free_unpacked(m2, NULL);
	protobuf_c_message_free_unpacked(m3, NULL);
}

static const char create_container_json[] =
    "{\"container_id\":\"c1\",\"exec_id\":\"c1\","
    "\"storages\":[{\"driver\":\"virtio-fs\",\"source\":\"kataShared\",\"fstype\":\"virtiofs\","
    "\"mount_point\":\"/run/kata-containers/shared/containers/\",\"shared\":true,"
    "\"fs_group\":{\"group_id\":5,\"group_change_policy\":\"OnRootMismatch\"}}],"
    "\"OCI\":{\"Version\":\"1.1.0\","
    "\"Process\":{\"Terminal\":false,\"User\":{\"UID\":0,\"GID\":0,\"AdditionalGids\":[1,2]},"
    "\"Args\":[\"sh\",\"-c\",\"date\"],\"Env\":[\"PATH=/bin\"],\"Cwd\":\"/\","
    "\"Rlimits\":[{\"Type\":\"RLIMIT_NOFILE\",\"Hard\":\"1048576\",\"Soft\":1024}],"
    "\"OOMScoreAdj\":-998},"
    "\"Root\":{\"Path\":\"/run/kata-containers/shared/containers/c1/rootfs\"},"
    "\"Mounts\":[{\"destination\":\"/"
    "proc\",\"source\":\"proc\",\"type\":\"proc\",\"options\":[\"nosuid\"]}],"
    "\"Annotations\":{\"a\":\"1\",\"io.katacontainers.x\":\"y\"},"
    "\"Linux\":{\"Resources\":{\"Memory\":{\"Limit\":268435456,\"Swap\":-1}},"
    "\"Namespaces\":[{\"Type\":\"ipc\"},{\"Type\":\"mount\",\"Path\":\"\"}],"
    "\"Seccomp\":{\"Syscalls\":[{\"Names\":[\"personality\"],\"errnoret\":0}]},"
    "\"MaskedPaths\":[\"/proc/kcore\"]}},"
    "\"sandbox_pidns\":false}";

/* Defaults (false, "", 0, Terminal false, empty Path) drop out; the oneof
 * errnoret stays even though it is 0; int64 written as a string comes back
 * as a number. */
static const char create_container_canonical[] =
    "{\"container_id\":\"c1\",\"exec_id\":\"c1\","
    "\"storages\":[{\"driver\":\"virtio-fs\",\"source\":\"kataShared\",\"fstype\":\"virtiofs\","
    "\"mount_point\":\"/run/kata-containers/shared/containers/\",\"shared\":true,"
    "\"fs_group\":{\"group_id\":5,\"group_change_policy\":\"OnRootMismatch\"}}],"
    "\"OCI\":{\"Version\":\"1.1.0\","
    "\"Process\":{\"User\":{\"AdditionalGids\":[1,2]},"
    "\"Args\":[\"sh\",\"-c\",\"date\"],\"Env\":[\"PATH=/bin\"],\"Cwd\":\"/\","
    "\"Rlimits\":[{\"Type\":\"RLIMIT_NOFILE\",\"Hard\":1048576,\"Soft\":1024}],"
    "\"OOMScoreAdj\":-998},"
    "\"Root\":{\"Path\":\"/run/kata-containers/shared/containers/c1/rootfs\"},"
    "\"Mounts\":[{\"destination\":\"/"
    "proc\",\"source\":\"proc\",\"type\":\"proc\",\"options\":[\"nosuid\"]}],"
    "\"Annotations\":{\"a\":\"1\",\"io.katacontainers.x\":\"y\"},"
    "\"Linux\":{\"Resources\":{\"Memory\":{\"Limit\":268435456,\"Swap\":-1}},"
    "\"Namespaces\":[{\"Type\":\"ipc\"},{\"Type\":\"mount\"}],"
    "\"Seccomp\":{\"Syscalls\":[{\"Names\":[\"personality\"],\"errnoret\":0}]},"
    "\"MaskedPaths\":[\"/proc/kcore\"]}}}";

static void test_create_container_roundtrip(void **state)
{
	Grpc__CreateContainerRequest *r;

	roundtrip(&grpc__create_container_request__descriptor, create_container_json,
	          create_container_canonical);

	r = (Grpc__CreateContainerRequest *)must_parse(&grpc__create_container_request__descriptor,
	                                               create_container_json);
	assert_string_equal(r->oci->process->args[2], "date");
	assert_int_equal(r->oci->process->user->n_additionalgids, 2);
	assert_int_equal(r->oci->process->rlimits[0]->hard, 1048576);
	assert_int_equal(r->oci->process->oomscoreadj, -998);
	assert_int_equal(r->oci->linux->resources->memory->swap, -1);
	assert_int_equal(r->oci->n_annotations, 2);
	assert_int_equal(r->storages[0]->fs_group->group_change_policy,
	                 TYPES__FSGROUP_CHANGE_POLICY__OnRootMismatch);
	assert_int_equal(r->oci->linux->seccomp->syscalls[0]->errno_ret_case,
	                 GRPC__LINUX_SYSCALL__ERRNO_RET_ERRNORET);
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void test_exec_and_stream_roundtrips(void **state)
{
	roundtrip(
	    &grpc__exec_process_request__descriptor,
	    "{\"container_id\":\"c1\",\"exec_id\":\"e1\",\"process\":{\"Terminal\":true,"
	    "\"ConsoleSize\":{\"Height\":24,\"Width\":80},\"Args\":[\"/bin/sh\"],\"Cwd\":\"/\"}}",
	    "{\"container_id\":\"c1\",\"exec_id\":\"e1\",\"process\":{\"Terminal\":true,"
	    "\"ConsoleSize\":{\"Height\":24,\"Width\":80},\"Args\":[\"/bin/sh\"],\"Cwd\":\"/\"}}");
	/* Binary data in base64 (0x00 0xff 0x10 'a'); "text:" input becomes base64 output. */
	roundtrip(&grpc__read_stream_response__descriptor, "{\"data\":\"AP8QYQ==\"}",
	          "{\"data\":\"AP8QYQ==\"}");
	roundtrip(&grpc__write_stream_request__descriptor,
	          "{\"container_id\":\"c\",\"exec_id\":\"e\",\"data\":\"text:hi\\n\"}",
	          "{\"container_id\":\"c\",\"exec_id\":\"e\",\"data\":\"aGkK\"}");
	/* Unpadded and URL-safe base64 are accepted. */
	roundtrip(&grpc__read_stream_response__descriptor, "{\"data\":\"-_8\"}",
	          "{\"data\":\"+/8=\"}");
	roundtrip(&grpc__wait_process_response__descriptor, "{\"status\":-1}", "{\"status\":-1}");
	roundtrip(&grpc__wait_process_response__descriptor, "{\"status\":0}", "{}");
	roundtrip(&google__protobuf__empty__descriptor, "{}", "{}");
	roundtrip(&grpc__set_guest_date_time_request__descriptor,
	          "{\"Sec\":\"1700000000\",\"Usec\":1e3}", "{\"Sec\":1700000000,\"Usec\":1000}");
}

static void test_maps_and_repeated(void **state)
{
	Grpc__StatsContainerResponse *r;
	const char *json =
	    "{\"cgroup_stats\":{\"memory_stats\":{\"cache\":1,\"stats\":{\"rss\":"
	    "\"18446744073709551615\",\"pgfault\":7}},"
	    "\"cpu_stats\":{\"cpu_usage\":{\"percpu_usage\":[1,2,3]}},"
	    "\"hugetlb_stats\":{\"2MB\":{\"usage\":2097152},\"1GB\":{}}},"
	    "\"network_stats\":[{\"name\":\"eth0\",\"rx_bytes\":10},{\"name\":\"lo\"}]}";

	roundtrip(&grpc__stats_container_response__descriptor, json,
	          "{\"cgroup_stats\":{\"memory_stats\":{\"cache\":1,\"stats\":{\"rss\":"
	          "18446744073709551615,"
	          "\"pgfault\":7}},\"cpu_stats\":{\"cpu_usage\":{\"percpu_usage\":[1,2,3]}},"
	          "\"hugetlb_stats\":{\"2MB\":{\"usage\":2097152},\"1GB\":{}}},"
	          "\"network_stats\":[{\"name\":\"eth0\",\"rx_bytes\":10},{\"name\":\"lo\"}]}");

	r = (Grpc__StatsContainerResponse *)must_parse(&grpc__stats_container_response__descriptor,
	                                               json);
	assert_int_equal(r->cgroup_stats->memory_stats->n_stats, 2);
	for (size_t i = 0; i < 2; i++) {
		const Grpc__MemoryStats__StatsEntry *e = r->cgroup_stats->memory_stats->stats[i];
		if (strcmp(e->key, "rss") == 0)
			assert_true(e->value == UINT64_MAX);
		else
			assert_int_equal(e->value, 7);
	}
	assert_int_equal(r->cgroup_stats->n_hugetlb_stats, 2);
	assert_int_equal(r->n_network_stats, 2);
	assert_string_equal(r->network_stats[1]->name, "lo");
	protobuf_c_message_free_unpacked(&r->base, NULL);

	/* Empty arrays and maps are simply absent in the output. */
	roundtrip(&grpc__create_sandbox_request__descriptor,
	          "{\"dns\":[],\"storages\":[],\"hostname\":\"h\"}", "{\"hostname\":\"h\"}");
	roundtrip(&grpc__mem_hotplug_by_probe_request__descriptor,
	          "{\"memHotplugProbeAddr\":[4294967296,\"4429185024\"]}",
	          "{\"memHotplugProbeAddr\":[4294967296,4429185024]}");
}

static void test_names_enums_presence(void **state)
{
	Grpc__MemAgentMemcgConfig *mc;
	uint8_t buf[16];

	/* lowerCamelCase input, .proto names on output. */
	roundtrip(&grpc__read_stream_request__descriptor,
	          "{\"containerId\":\"c\",\"execId\":\"e\",\"len\":32768}",
	          "{\"container_id\":\"c\",\"exec_id\":\"e\",\"len\":32768}");
	/* Enums by number and by name; an unknown number survives as a number. */
	roundtrip(&grpc__update_interface_request__descriptor,
	          "{\"interface\":{\"name\":\"eth0\",\"IPAddresses\":[{\"family\":1,\"address\":"
	          "\"fd00::1\","
	          "\"mask\":\"64\"},{\"family\":\"v4\",\"address\":\"10.0.0.2\",\"mask\":\"24\"},{"
	          "\"family\":7}],"
	          "\"hwAddr\":\"02:00:00:00:00:01\",\"mtu\":1500}}",
	          "{\"interface\":{\"name\":\"eth0\",\"IPAddresses\":[{\"family\":\"v6\","
	          "\"address\":\"fd00::1\","
	          "\"mask\":\"64\"},{\"address\":\"10.0.0.2\",\"mask\":\"24\"},{\"family\":7}],"
	          "\"hwAddr\":\"02:00:00:00:00:01\",\"mtu\":1500}}");
	/* null leaves a field unset. */
	roundtrip(&grpc__update_interface_request__descriptor, "{\"interface\":null}", "{}");

	/* proto3-optional presence: zero values that were given stay set. */
	roundtrip(&grpc__mem_agent_memcg_config__descriptor,
	          "{\"disabled\":false,\"period_secs\":0}",
	          "{\"disabled\":false,\"period_secs\":0}");
	mc = (Grpc__MemAgentMemcgConfig *)must_parse(&grpc__mem_agent_memcg_config__descriptor,
	                                             "{\"swap\":true,\"swappinessMax\":0}");
	assert_int_equal(mc->opt_swap_case, GRPC__MEM_AGENT_MEMCG_CONFIG__OPT_SWAP_SWAP);
	assert_int_equal(mc->opt_disabled_case,
	                 GRPC__MEM_AGENT_MEMCG_CONFIG__OPT_DISABLED__NOT_SET);
	assert_int_equal(protobuf_c_message_pack(&mc->base, buf), 4);
	assert_memory_equal(buf, ((const uint8_t[]){0x10, 0x01, 0x18, 0x00}), 4);
	protobuf_c_message_free_unpacked(&mc->base, NULL);
}

static void test_output_always_valid_json(void **state)
{
	Grpc__Metrics met = GRPC__METRICS__INIT;
	Grpc__CopyFileRequest cf = GRPC__COPY_FILE_REQUEST__INIT;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;
	char *s;

	/* Invalid UTF-8 from the wire: replaced, never copied raw. */
	met.metrics = "ok \xff\xc0\x80 \xe2\x82\xac \"q\"\n";
	s = must_render(&met.base);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	assert_non_null(o);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "metrics")),
	                    "ok \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xe2\x82\xac \"q\"\n");
	json_object_put(o);
	json_tokener_free(tok);
	free(s);

	cf.path = "/run/x";
	cf.file_size = INT64_MIN;
	cf.uid = -1;
	cf.data = (ProtobufCBinaryData){.len = 1, .data = (uint8_t *)"\0"};
	s = must_render(&cf.base);
	assert_json_same(s, "{\"path\":\"/run/"
	                    "x\",\"file_size\":-9223372036854775808,\"uid\":-1,\"data\":\"AA==\"}");
	free(s);

	assert_int_equal(pbjson_to_json(NULL, &s), -EINVAL);
}

static void test_errors(void **state)
{
	const ProtobufCMessageDescriptor *cc = &grpc__create_container_request__descriptor;

	assert_parse_error(cc, "{\"OCI\":{\"Process\":{\"Args\":\"sh\"}}}",
	                   "field 'OCI.Process.Args': expected array, got string");
	assert_parse_error(cc, "{\"OCI\":{\"Process\":{\"Argz\":[]}}}",
	                   "field 'OCI.Process.Argz': unknown field");
	assert_parse_error(cc, "{\"OCI\":{\"Mounts\":[{\"options\":[\"a\",5]}]}}",
	                   "field 'OCI.Mounts[0].options[1]': expected string");
	assert_parse_error(cc, "{\"OCI\":{\"Annotations\":{\"k\":1}}}",
	                   "field 'OCI.Annotations[\"k\"]': expected string");
	assert_parse_error(cc, "{\"OCI\":{\"Annotations\":[]}}", "expected object (map)");
	assert_parse_error(cc, "{\"OCI\":\"x\"}", "field 'OCI': expected object (grpc.Spec)");
	assert_parse_error(cc, "{\"container_id\":\"a\",\"containerId\":\"b\"}", "given twice");
	assert_parse_error(cc, "{\"sandbox_pidns\":1}",
	                   "field 'sandbox_pidns': expected true or false");
	assert_parse_error(cc, "{\"container_id\":\"a\\u0000b\"}", "NUL");
	assert_parse_error(cc, "[]", "expected object");
	assert_parse_error(cc, "{\"container_id\":", "invalid JSON");
	assert_parse_error(cc, "{\"container_id\":\"a\",}", "invalid JSON");
	assert_parse_error(cc, "{} x", "invalid JSON");
	assert_parse_error(cc, "{}{}", "invalid JSON");
	assert_parse_error(
	    cc, "{\"storages\":[{\"fs_group\":{\"group_change_policy\":\"Sometimes\"}}]}",
	    "\"Sometimes\" is not a value of enum types.FSGroupChangePolicy");

	/* Integer ranges. */
	const ProtobufCMessageDescriptor *cf = &grpc__copy_file_request__descriptor;
	assert_parse_error(cf, "{\"file_mode\":4294967296}",
	                   "field 'file_mode': integer 4294967296 out of range");
	assert_parse_error(cf, "{\"file_mode\":-1}", "out of range for uint32");
	assert_parse_error(cf, "{\"uid\":\"-2147483649\"}", "out of range for int32");
	assert_parse_error(cf, "{\"offset\":9223372036854775808}", "out of range for int64");
	assert_parse_error(cf, "{\"offset\":-9223372036854775809}", "out of 64-bit range");
	assert_parse_error(&grpc__resize_volume_request__descriptor,
	                   "{\"size\":18446744073709551616}", "out of 64-bit range");
	assert_parse_error(cf, "{\"offset\":1.5}", "field 'offset': expected integer");
	assert_parse_error(cf, "{\"offset\":\"12abc\"}", "expected integer, got string");
	assert_parse_error(cf, "{\"offset\":1e300}", "out of range for int64");

	/* Bytes. */
	assert_parse_error(cf, "{\"data\":\"a\"}", "field 'data': invalid base64");
	assert_parse_error(cf, "{\"data\":\"ab$d\"}", "invalid base64");
	assert_parse_error(cf, "{\"data\":7}", "expected base64 string");

	/* ret_err may be NULL. */
	ProtobufCMessage *m = NULL;
	assert_int_equal(pbjson_from_json(cf, "{\"nope\":1}", &m, NULL), -EINVAL);
	assert_null(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create_container_roundtrip),
	    cmocka_unit_test(test_exec_and_stream_roundtrips),
	    cmocka_unit_test(test_maps_and_repeated),
	    cmocka_unit_test(test_names_enums_presence),
	    cmocka_unit_test(test_output_always_valid_json),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("pbjson", tests, NULL, NULL);
}

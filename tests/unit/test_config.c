/* Configuration: defaults, /proc/cmdline parsing (docs/PROTOCOL.md §5.2), environment overrides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

static int nreports;
static char last[512];

static void report(const char *msg, void *data)
{
	nreports++;
	snprintf(last, sizeof(last), "%s", msg);
}

static struct agent_config parse(const char *cmdline)
{
	struct agent_config c;
	config_defaults(&c);
	nreports = 0;
	last[0] = '\0';
	config_parse_cmdline(&c, cmdline, report, NULL);
	return c;
}

static void test_defaults(void **state)
{
	struct agent_config c = parse("");
	assert_string_equal(c.server_addr, "vsock://-1:1024");
	assert_int_equal(c.log_level, LV_INFO);
	assert_int_equal(c.hotplug_timeout_s, 3);
	assert_int_equal(c.log_vport, 0);
	assert_false(c.debug_console);
	assert_false(c.cgroup_v2);
	assert_false(c.allow_local_vsock); /* only the host may connect unless a test says so */
	assert_int_equal(nreports, 0);
}

static void test_kata_cmdline(void **state)
{
	struct agent_config c = parse(
	    "tsc=reliable console=hvc0 agent.log=debug agent.debug_console "
	    "agent.debug_console_vport=1026 agent.log_vport=1025 agent.container_pipe_size=65536 "
	    "agent.hotplug_timeout=10 agent.server_addr=unix:///run/a=b.sock "
	    "systemd.unified_cgroup_hierarchy=1 panic=1\n");
	assert_int_equal(c.log_level, LV_DEBUG);
	assert_true(c.debug_console);
	assert_int_equal(c.debug_console_vport, 1026);
	assert_int_equal(c.log_vport, 1025);
	assert_int_equal(c.container_pipe_size, 65536);
	assert_int_equal(c.hotplug_timeout_s, 10);
	assert_string_equal(c.server_addr, "unix:///run/a=b.sock"); /* '=' allowed in strings */
	assert_true(c.cgroup_v2);
	assert_int_equal(nreports, 0);
}

static void test_allow_local_vsock(void **state)
{
	struct agent_config c = parse("agent.allow_local_vsock panic=1");
	assert_true(c.allow_local_vsock);
	assert_int_equal(nreports, 0);
}

static void test_test_crash(void **state)
{
	assert_false(parse("agent.log=debug").test_crash); /* off unless asked for */
	assert_true(parse("agent.test_crash").test_crash);
	assert_int_equal(nreports, 0);
}

static void test_cgroup_no_v1(void **state)
{
	assert_true(parse("cgroup_no_v1=all").cgroup_v2);
	assert_false(parse("cgroup_no_v1=memory").cgroup_v2);
	assert_false(parse("systemd.unified_cgroup_hierarchy=false").cgroup_v2);
	assert_true(parse("systemd.unified_cgroup_hierarchy=true").cgroup_v2);
}

/* Bad values are reported and the default is kept: the agent never dies over a cmdline. */
static void test_bad_values(void **state)
{
	struct agent_config c = parse("agent.log=loud");
	assert_int_equal(c.log_level, LV_INFO);
	assert_int_equal(nreports, 1);
	assert_non_null(strstr(last, "unknown log level"));

	c = parse("agent.hotplug_timeout=abc");
	assert_int_equal(c.hotplug_timeout_s, 3);
	assert_non_null(strstr(last, "not a number"));

	c = parse("agent.log_vport=1025=3");
	assert_int_equal(c.log_vport, 0);
	assert_non_null(strstr(last, "stray '='"));

	c = parse("agent.log_vport=0 agent.hotplug_timeout=-5");
	assert_int_equal(c.log_vport, 0);
	assert_int_equal(c.hotplug_timeout_s, 3);
	assert_int_equal(nreports, 2);

	c = parse("agent.log_vport=99999999999");
	assert_int_equal(c.log_vport, 0);

	c = parse("agent.server_addr=");
	assert_string_equal(c.server_addr, "vsock://-1:1024");
	assert_non_null(strstr(last, "needs a value"));

	c = parse("agent.debug_console=yes");
	assert_false(c.debug_console);
	assert_non_null(strstr(last, "takes no value"));

	c = parse("agent.frobnicate=1 agent.trace=maybe");
	assert_int_equal(nreports, 2);
	assert_false(c.trace);
}

static void test_long_values(void **state)
{
	char cmd[4096] = "agent.server_addr=unix:///";
	memset(cmd + strlen(cmd), 'x', 300);
	struct agent_config c = parse(cmd);
	assert_string_equal(c.server_addr, "vsock://-1:1024");
	assert_int_equal(nreports, 1);

	char huge[8192];
	memset(huge, 'y', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "agent.log=", 10);
	c = parse(huge);
	assert_int_equal(c.log_level, LV_INFO);
	assert_int_equal(nreports, 1);
}

static void test_bool_forms(void **state)
{
	assert_true(parse("agent.trace").trace);
	assert_true(parse("agent.trace=true").trace);
	assert_true(parse("agent.trace=2").trace);
	assert_false(parse("agent.trace=0").trace);
	assert_false(parse("agent.trace=false").trace);
}

static void test_env(void **state)
{
	struct agent_config c;
	config_defaults(&c);
	setenv("KATA_AGENT_SERVER_ADDR", "unix://@test", 1);
	setenv("KATA_AGENT_LOG_LEVEL", "trace", 1);
	assert_int_equal(config_parse_env(&c, report, NULL), 0);
	assert_string_equal(c.server_addr, "unix://@test");
	assert_int_equal(c.log_level, LV_TRACE);
	setenv("KATA_AGENT_LOG_LEVEL", "shouty", 1);
	assert_int_equal(config_parse_env(&c, report, NULL), 1);
	assert_int_equal(c.log_level, LV_TRACE);
	unsetenv("KATA_AGENT_SERVER_ADDR");
	unsetenv("KATA_AGENT_LOG_LEVEL");
}

/* Parameters both runtimes set by default, and upstream's memory-agent family, are accepted
 * without a report; a parameter nobody knows is reported. */
static void test_accepted_without_effect(void **state)
{
	struct agent_config c =
	    parse("agent.cdh_api_timeout=50 agent.mem_agent_enable=1 "
	          "agent.mem_agent_memcg_swappiness_max=50 agent.mem_agent_compact_disable");
	assert_int_equal(nreports, 0);
	assert_string_equal(c.server_addr, "vsock://-1:1024");
	parse("agent.mem_agentx=1 agent.no_such_thing=1");
	assert_int_equal(nreports, 2);
	assert_non_null(strstr(last, "agent.no_such_thing=1: unknown agent parameter"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_kata_cmdline),
	    cmocka_unit_test(test_cgroup_no_v1),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_long_values),
	    cmocka_unit_test(test_bool_forms),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_accepted_without_effect),
	    cmocka_unit_test(test_allow_local_vsock),
	    cmocka_unit_test(test_test_crash),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}

/* config_parse_cmdline (and config_parse_env) on arbitrary text: the kernel command line comes
 * from the VM configuration, i.e. from the host.
 *
 * Input: cmdline text [ '\n' '\0' KATA_AGENT_SERVER_ADDR '\0' KATA_AGENT_LOG_LEVEL ].
 * Properties checked: the return value counts the report() calls; every report is a short,
 * terminated sentence; the result is the same when parsed twice; values stay in range; a
 * changed server address is a token of the command line ("agent.server_addr=VALUE"). */
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

static int reports;

static void report(const char *msg, void *data)
{
	FUZZ_ASSERT(data == &reports);
	size_t n = strlen(msg);
	FUZZ_ASSERT(n > 0 && n < 512);
	reports++;
}

static bool has_token(const char *cmdline, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = strstr(cmdline, tok); p; p = strstr(p + 1, tok)) {
		bool start = p == cmdline || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
		bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '\t' || p[n] == '\n';
		if (start && end)
			return true;
	}
	return false;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	const uint8_t *sep = memmem(data, size, "\n\0", 2);
	size_t clen = sep ? (size_t)(sep - data) : size;
	char *cmdline = malloc(clen + 1);
	FUZZ_ASSERT(cmdline);
	memcpy(cmdline, data, clen);
	cmdline[clen] = '\0';

	struct agent_config a, b;
	config_defaults(&a);
	config_defaults(&b);
	reports = 0;
	int n = config_parse_cmdline(&a, cmdline, report, &reports);
	FUZZ_ASSERT(n == reports);
	int m = config_parse_cmdline(&b, cmdline, NULL, NULL);
	FUZZ_ASSERT(m == n);
	FUZZ_ASSERT(memcmp(&a, &b, sizeof(a)) == 0);

	FUZZ_ASSERT(memchr(a.server_addr, 0, sizeof(a.server_addr)));
	FUZZ_ASSERT(a.log_level >= LV_CRIT && a.log_level <= LV_TRACE);
	FUZZ_ASSERT(a.hotplug_timeout_s > 0);
	if (strcmp(a.server_addr, DEFAULT_SERVER_ADDR) != 0) {
		char tok[sizeof(a.server_addr) + 32];
		snprintf(tok, sizeof(tok), "agent.server_addr=%s", a.server_addr);
		FUZZ_ASSERT(has_token(cmdline, tok));
	}

	if (sep) {
		in.p = sep + 2;
		in.n = size - clen - 2;
		char *addr = fuzz_str(&in), *level = fuzz_str(&in);
		setenv("KATA_AGENT_SERVER_ADDR", addr, 1);
		setenv("KATA_AGENT_LOG_LEVEL", level, 1);
		reports = 0;
		n = config_parse_env(&a, report, &reports);
		FUZZ_ASSERT(n == reports);
		FUZZ_ASSERT(memchr(a.server_addr, 0, sizeof(a.server_addr)));
		FUZZ_ASSERT(a.log_level >= LV_CRIT && a.log_level <= LV_TRACE);
		if (*addr && strlen(addr) < sizeof(a.server_addr))
			FUZZ_ASSERT(strcmp(a.server_addr, addr) == 0);
		unsetenv("KATA_AGENT_SERVER_ADDR");
		unsetenv("KATA_AGENT_LOG_LEVEL");
		free(addr);
		free(level);
	}
	free(cmdline);
	return 0;
}

/* vhost-user-vsock's hybrid-socket handshake: the "CONNECT <port>\n" line a host client sends
 * (vsc_parse_connect).
 *
 * Input: the line, as the daemon reads it (bytes up to and including the first newline).
 *
 * Properties: accepted exactly when the line is "CONNECT ", one to ten decimal digits and a
 * newline, with a value that fits 32 bits; the port returned is that value (checked against
 * an independent reading of the digits); a rejected line leaves the port untouched. */
#define FUZZ_NO_AGENT_LOG
#include <stdbool.h>
#include <string.h>

#include "fuzz_common.h"
#include "vsock_core.h"

int vuv_log_level = -1;

/* The expected answer, computed differently: digits as text compared with UINT32_MAX's. */
static bool expect_ok(const uint8_t *p, size_t n, uint32_t *ret)
{
	if (n < 10 || memcmp(p, "CONNECT ", 8) != 0 || p[n - 1] != '\n')
		return false;
	size_t nd = n - 9;
	if (nd > 10)
		return false;
	for (size_t i = 0; i < nd; i++)
		if (p[8 + i] < '0' || p[8 + i] > '9')
			return false;
	char digits[11] = {0};
	memcpy(digits, p + 8, nd);
	if (nd == 10 && strcmp(digits, "4294967295") > 0)
		return false;
	*ret = (uint32_t)strtoul(digits, NULL, 10);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The daemon peeks at most 32 bytes and hands over the line up to its newline. */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) + 1 : size;
	char *line = malloc(n ? n : 1);
	FUZZ_ASSERT(line);
	memcpy(line, data, n);
	uint32_t port = 0xdeadbeef, want = 0;
	int r = vsc_parse_connect(line, n, &port);
	bool ok = expect_ok(data, n, &want);
	FUZZ_ASSERT((r == 0) == ok);
	FUZZ_ASSERT(ok ? port == want : port == 0xdeadbeef);
	free(line);
	return 0;
}

/* The counting check of the root-only integration tests (test_network, test_spawn,
 * test_cgroup_real, test_storage_real): CHECK adds one to passed or failed, and a failure
 * prints the function, the line, the condition and a formatted detail, then CHECK_CONTEXT when
 * the test defines it (a string with the module's last error).  The test program defines the
 * counters once and prints "N passed, N failed" at the end. */
#ifndef KAC_TEST_CHECK_H
#define KAC_TEST_CHECK_H

#include <stdio.h>

extern int passed, failed;

#ifndef CHECK_CONTEXT
#define CHECK_CONTEXT ((const char *)NULL)
#endif

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			passed++;                                                                  \
		} else {                                                                           \
			const char *ctx_ = CHECK_CONTEXT;                                          \
			failed++;                                                                  \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			if (ctx_)                                                                  \
				fprintf(stderr, " (last error: %s)", ctx_);                        \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

#endif

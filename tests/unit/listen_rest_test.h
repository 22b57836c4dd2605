// SPDX-License-Identifier: Apache-2.0
/* Shared by the unit tests of a listener's rest (loop_listen_rest): test_core for the helper
 * itself, test_logport for the log port.  Include after cmocka.h. */
#pragma once
#include <string.h>
#include <unistd.h>

/* The fd number the next open() returns: the test lowers RLIMIT_NOFILE to it. */
static inline int lowest_free_fd(void)
{
	int fd = dup(0);
	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* Pauses logged so far ("pausing new connections"), read from the log pipe's end log_rd. */
static inline int count_pauses(int log_rd)
{
	char buf[8192];
	int n = 0;
	ssize_t len;
	while ((len = read(log_rd, buf, sizeof(buf) - 1)) > 0) {
		buf[len] = '\0';
		for (char *p = buf; (p = strstr(p, "pausing new connections")); p++)
			n++;
	}
	return n;
}

// SPDX-License-Identifier: Apache-2.0
/* Allocation failure injection for a test build of the agent (kata-agent-allocfail, linked with
 * -Wl,--wrap=malloc,... so that every allocation of the agent's objects and of the static
 * protobuf-c comes here; tests/integration/alloc-faults.sh drives it).
 *
 * KATA_AGENT_FAIL_ALLOC=N: the Nth allocation counted fails (returns NULL with ENOMEM), once;
 * every other one succeeds.  Counting starts at the first accepted connection, so start-up is
 * not counted and N numbers the allocations of the calls the test makes.  N=0 only counts.
 * At exit the count is written to stderr ("alloc_fault: N allocations counted"), and the
 * injected failure, when it happens, as "alloc_fault: failing allocation N (FUNCTION)". */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t m, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **ret, const char *fmt, va_list ap);
int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t m, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **ret, const char *fmt, va_list ap);
int __wrap_asprintf(char **ret, const char *fmt, ...);
int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);

static unsigned long fail_at, counted;
static int armed;

/* Without malloc or stdio: this runs inside the allocator. */
static void say(const char *what, unsigned long n, const char *fn)
{
	char buf[160], num[24];
	int i = (int)sizeof(num);
	num[--i] = 0;
	do {
		num[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n && i > 0);
	buf[0] = 0;
	strcat(buf, "alloc_fault: ");
	strcat(buf, what);
	strcat(buf, num + i);
	strcat(buf, fn);
	strcat(buf, "\n");
	ssize_t r = write(2, buf, strlen(buf));
	(void)r;
}

__attribute__((constructor)) static void alloc_fault_init(void)
{
	const char *v = getenv("KATA_AGENT_FAIL_ALLOC");
	fail_at = v ? strtoul(v, NULL, 10) : 0;
}

__attribute__((destructor)) static void alloc_fault_report(void)
{
	say("", counted, " allocations counted");
}

static int should_fail(const char *fn)
{
	if (!armed)
		return 0;
	if (++counted != fail_at)
		return 0;
	say("failing allocation ", counted, fn);
	errno = ENOMEM;
	return 1;
}

void *__wrap_malloc(size_t n)
{
	return should_fail(" (malloc)") ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t m, size_t n)
{
	return should_fail(" (calloc)") ? NULL : __real_calloc(m, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return should_fail(" (realloc)") ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return should_fail(" (strdup)") ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return should_fail(" (strndup)") ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **ret, const char *fmt, va_list ap)
{
	if (should_fail(" (vasprintf)"))
		return -1;
	return __real_vasprintf(ret, fmt, ap);
}

int __wrap_asprintf(char **ret, const char *fmt, ...)
{
	if (should_fail(" (asprintf)"))
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int r = __real_vasprintf(ret, fmt, ap);
	va_end(ap);
	return r;
}

int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int r = __real_accept4(fd, sa, len, flags);
	if (r >= 0)
		armed = 1;
	return r;
}

/* Shared bits of the libFuzzer targets: quiet logs, hard assertions, input slicing.
 * Targets that do not link the agent's modules (vhost-user-vsock) define FUZZ_NO_AGENT_LOG. */
#pragma once

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FUZZ_NO_AGENT_LOG
#include "log.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
const char *__asan_default_options(void);

/* ASan's defaults, as every target runs (ASAN_OPTIONS still overrides them).  A 256 MiB
 * quarantine, cycled at thousands of inputs a second, hands every allocation cold memory that
 * the allocator gave back to the kernel a moment before (a page fault per page, then the
 * TLB flush of giving it back again): a fifth to a third of the time of the allocating
 * targets.  A freed block still waits behind 32 MiB of later frees (hundreds of inputs for
 * most targets) before its memory is reused, so a use after free within an input, or in the
 * next ones, is still reported; free pages stay mapped. */
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=32:allocator_release_to_os_interval_ms=-1";
}

/* A directory for per-input files: tmpfs (/dev/shm) when there is one, so that creating and
 * removing files costs no journal and no writeback; /tmp otherwise.  name: "fuzz-NAME". */
static inline char *fuzz_mkdtemp(char *buf, size_t size, const char *name)
{
	const char *parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(buf, size, "%s/%s-XXXXXX", parent, name);
	return mkdtemp(buf);
}

/* A property of the code under test that must hold for every input: report and abort, which
 * libFuzzer records as a crash with the input saved. */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", __FILE__, __LINE__,  \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#ifndef FUZZ_NO_AGENT_LOG
/* Agent logs would dominate the run time: keep only critical lines, and send them nowhere. */
static inline void fuzz_quiet_logs(void)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0)
		log_set_fd(fd);
	log_set_level(LV_CRIT);
}
#endif

/* A cursor over the input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t hi = fuzz_u8(in);
	return (uint16_t)(hi << 8 | fuzz_u8(in));
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t hi = fuzz_u16(in);
	return hi << 16 | fuzz_u16(in);
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t hi = fuzz_u32(in);
	return hi << 32 | fuzz_u32(in);
}

/* The next n bytes (fewer at the end of the input). */
static inline const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t *n)
{
	const uint8_t *p = in->p;
	if (*n > in->n)
		*n = in->n;
	in->p += *n;
	in->n -= *n;
	return p;
}

/* A NUL-terminated copy of the next field: up to a NUL byte (consumed) or the end. */
static inline char *fuzz_str(struct fuzz_in *in)
{
	const uint8_t *z = memchr(in->p, 0, in->n);
	size_t n = z ? (size_t)(z - in->p) : in->n;
	char *s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n + (z ? 1 : 0);
	in->n -= n + (z ? 1 : 0);
	return s;
}

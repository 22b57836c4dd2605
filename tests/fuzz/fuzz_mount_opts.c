/* Mount options: Storage.options words (mnt_opts_parse, mnt_opts_value, mnt_opts_has) and OCI
 * mounts (ctr_mount_options, ctr_mount_from_oci), as the host sends them.
 *
 * Input: a control byte, then NUL-separated strings: type, source, destination, then the option
 * words (each may hold commas); ctl bit 0 adds the skip prefixes Storage uses ("fsgid=", ...).
 *
 * Properties:
 *   mnt_opts_parse: flags and propagation only hold bits some word can set; propagation
 *     never lands in flags; the data string is the non-flag, non-skipped words in order,
 *     comma-joined with no empty element; mnt_opts_has agrees with the parse for "ro";
 *     mnt_opts_value returns a pointer into one of the words.
 *   ctr_mount_options: same bit sets; data is NULL or non-empty without empty elements; a
 *     comma inside a data word is refused with a message.
 *   ctr_mount_from_oci: accepted mounts have an absolute destination equal to the input, a
 *     type, a source (absolute for binds), MS_BIND exactly for binds; refusals carry a
 *     message and leave nothing allocated (LeakSanitizer). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mount.h>

#include "ctr_internal.h"
#include "err.h"
#include "fuzz_common.h"
#include "mount_opts.h"
#include "oci.pb-c.h"

#define MAX_WORDS 32

static const unsigned long all_flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                       MS_SYNCHRONOUS | MS_REMOUNT | MS_MANDLOCK | MS_DIRSYNC |
                                       MS_NOATIME | MS_NODIRATIME | MS_BIND | MS_REC | MS_SILENT |
                                       MS_RELATIME | MS_STRICTATIME | MS_LAZYTIME | MS_I_VERSION;
static const unsigned long all_prop = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE | MS_REC;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

static void check_data(const char *d)
{
	if (!*d)
		return;
	FUZZ_ASSERT(d[0] != ',' && d[strlen(d) - 1] != ',' && !strstr(d, ",,"));
}

static bool in_words(const char *p, char *const *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p >= w[i] && p <= w[i] + strlen(w[i]))
			return true;
	return false;
}

static void storage_opts(char *const *w, size_t n, bool skip)
{
	static const char *const skips[] = {"fsgid=", "io.katacontainers.", NULL};
	struct mnt_opts o;
	if (mnt_opts_parse(w, n, skip ? skips : NULL, &o) < 0)
		return;
	FUZZ_ASSERT(o.data);
	FUZZ_ASSERT((o.flags & ~all_flags) == 0 && (o.propagation & ~all_prop) == 0);
	FUZZ_ASSERT((o.flags & (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)) == 0);
	check_data(o.data);
	/* Every data element is one of the input's comma-separated elements. */
	for (const char *p = o.data; *p;) {
		size_t len = strcspn(p, ",");
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			for (const char *q = w[i]; *q && !found;) {
				size_t l = strcspn(q, ",");
				found = l == len && memcmp(q, p, len) == 0;
				q += l + (q[l] == ',');
			}
		FUZZ_ASSERT(found);
		if (skip)
			FUZZ_ASSERT(strncmp(p, "fsgid=", 6) != 0);
		p += len + (p[len] == ',');
	}
	/* "ro" then nothing clearing it after: the parse must have MS_RDONLY. */
	if (!mnt_opts_has(w, n, "ro"))
		FUZZ_ASSERT(!(o.flags & MS_RDONLY));
	size_t vlen = 0;
	const char *v = mnt_opts_value(w, n, "size", &vlen);
	if (v)
		FUZZ_ASSERT(in_words(v, w, n) && vlen <= strlen(v) && v[-1] == '=');
	mnt_opts_free(&o);
}

static void oci_opts(char *const *w, size_t n)
{
	unsigned long flags = 0, prop = 0;
	char *data = NULL;
	struct agent_err err = {0};
	int r = ctr_mount_options(w, n, &flags, &prop, &data, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL && err.msg[0]);
		return;
	}
	FUZZ_ASSERT(!err.msg[0]);
	FUZZ_ASSERT((flags & ~all_flags) == 0 && (prop & ~all_prop) == 0);
	if (data) {
		FUZZ_ASSERT(*data);
		check_data(data);
	}
	free(data);
}

static void oci_mount(char *type, char *src, char *dest, char **w, size_t n)
{
	Grpc__Mount m = GRPC__MOUNT__INIT;
	m.type = type;
	m.source = src;
	m.destination = dest;
	m.options = w;
	m.n_options = n;
	struct ctr_mount cm;
	struct agent_err err = {0};
	int r = ctr_mount_from_oci(&m, &cm, &err);
	if (r < 0) {
		FUZZ_ASSERT(err.msg[0]);
		return;
	}
	FUZZ_ASSERT(!err.msg[0]);
	FUZZ_ASSERT(cm.dest && cm.dest[0] == '/' && strcmp(cm.dest, dest) == 0);
	FUZZ_ASSERT(cm.fstype && strcmp(cm.fstype, type) == 0 && cm.source && *cm.source);
	FUZZ_ASSERT(*type || cm.kind == CTR_MNT_BIND);
	FUZZ_ASSERT((cm.kind == CTR_MNT_BIND) == ((cm.flags & MS_BIND) != 0));
	if (cm.kind == CTR_MNT_BIND)
		FUZZ_ASSERT(cm.source[0] == '/');
	FUZZ_ASSERT(!cm.data || *cm.data);
	ctr_mount_clear(&cm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t ctl = fuzz_u8(&in);
	char *type = fuzz_str(&in), *src = fuzz_str(&in), *dest = fuzz_str(&in);
	char *w[MAX_WORDS];
	size_t n = 0;
	while (in.n > 0 && n < MAX_WORDS)
		w[n++] = fuzz_str(&in);
	storage_opts(w, n, ctl & 1);
	oci_opts(w, n);
	oci_mount(type, src, dest, w, n);
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(type);
	free(src);
	free(dest);
	return 0;
}

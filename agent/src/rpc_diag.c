// SPDX-License-Identifier: Apache-2.0
/*
 * GetDiagnosticData (docs/PROTOCOL.md §2.4): the container's Kubernetes termination message.
 *
 * The runtime asks for it (log type "termination_log") when the host cannot read the file
 * itself, i.e. with shared_fs=none.  The path comes from the spec, as upstream's agent finds it:
 * the annotation io.kubernetes.container.terminationMessagePath names a mount destination, and
 * that mount's source is the file in the guest.  At most 4 KiB is returned, invalid UTF-8
 * replaced by U+FFFD (protobuf strings must be UTF-8); a missing file is an empty message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.pb-c.h"
#include "rpc.h"
#include "sandbox.h"
#include "util.h"

#define TERMLOG_ANNOTATION "io.kubernetes.container.terminationMessagePath"
#define TERMLOG_TYPE       "termination_log"
#define TERMLOG_MAX        4096

char *diag_termlog_source(const Grpc__Spec *spec)
{
	const char *dest = NULL;
	for (size_t i = 0; spec && i < spec->n_annotations; i++)
		if (strcmp(spec->annotations[i]->key, TERMLOG_ANNOTATION) == 0)
			dest = spec->annotations[i]->value;
	if (!dest || !*dest)
		return NULL;
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (spec->mounts[i]->destination &&
		    strcmp(spec->mounts[i]->destination, dest) == 0 && spec->mounts[i]->source &&
		    *spec->mounts[i]->source)
			return strdup(spec->mounts[i]->source);
	return NULL;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* in[0..n) as UTF-8, every invalid byte replaced by U+FFFD; out holds at least 3n+1 bytes. */
size_t diag_utf8_lossy(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq(in + i, n - i);
		if (l) {
			memcpy(out + o, in + i, l);
			o += l;
			i += l;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

/* Up to TERMLOG_MAX bytes of a regular file; 0 bytes when it does not exist.  Non-blocking and
 * regular files only: a FIFO planted there must not stall the agent's loop. */
static int read_termlog(const char *path, unsigned char *buf, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	*ret_len = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	size_t len = 0;
	while (len < TERMLOG_MAX) {
		ssize_t n = read(fd, buf + len, TERMLOG_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_len = len;
	return 0;
}

void rpc_get_diagnostic_data(struct ttrpc_call *call, const void *msg)
{
	const Grpc__GetDiagnosticDataRequest *req = msg;
	if (strcmp(req->log_type, TERMLOG_TYPE) != 0) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "unsupported log type \"%.64s\"",
		           req->log_type);
		return;
	}
	struct sandbox_ctr *c = sandbox_ctr_find(req->container_id);
	if (!c) {
		/* Upstream's code and text for an unknown container here (docs/PROTOCOL.md §6.1).
		 */
		ttrpc_fail(call, TTRPC_INTERNAL, "Invalid container id %s", req->container_id);
		return;
	}
	static unsigned char raw[TERMLOG_MAX];
	static char text[3 * TERMLOG_MAX + 1];
	size_t len = 0;
	if (c->termlog) {
		int r = read_termlog(c->termlog, raw, &len);
		if (r < 0) {
			ttrpc_fail(call, TTRPC_INTERNAL, "reading %s: %s", c->termlog,
			           strerror(-r));
			return;
		}
	}
	diag_utf8_lossy(raw, len, text);
	Grpc__GetDiagnosticDataResponse resp = GRPC__GET_DIAGNOSTIC_DATA_RESPONSE__INIT;
	resp.data = text;
	ttrpc_reply(call, &resp.base);
}

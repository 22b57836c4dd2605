// SPDX-License-Identifier: Apache-2.0
#include "mount_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "util.h"

/* Flag words as mount(8) knows them; `clear` words undo their partner. */
static const struct flag_word {
	const char *name;
	unsigned long flag;
	bool clear;
	bool propagation;
} flag_words[] = {
    {"async", MS_SYNCHRONOUS, true, false},
    {"atime", MS_NOATIME, true, false},
    {"bind", MS_BIND, false, false},
    {"defaults", 0, false, false},
    {"dev", MS_NODEV, true, false},
    {"diratime", MS_NODIRATIME, true, false},
    {"dirsync", MS_DIRSYNC, false, false},
    {"exec", MS_NOEXEC, true, false},
    {"lazytime", MS_LAZYTIME, false, false},
    {"loud", MS_SILENT, true, false},
    {"mand", MS_MANDLOCK, false, false},
    {"noatime", MS_NOATIME, false, false},
    {"nodev", MS_NODEV, false, false},
    {"nodiratime", MS_NODIRATIME, false, false},
    {"noexec", MS_NOEXEC, false, false},
    {"nolazytime", MS_LAZYTIME, true, false},
    {"nomand", MS_MANDLOCK, true, false},
    {"norelatime", MS_RELATIME, true, false},
    {"nostrictatime", MS_STRICTATIME, true, false},
    {"nosuid", MS_NOSUID, false, false},
    {"private", MS_PRIVATE, false, true},
    {"rbind", MS_BIND | MS_REC, false, false},
    {"relatime", MS_RELATIME, false, false},
    {"remount", MS_REMOUNT, false, false},
    {"ro", MS_RDONLY, false, false},
    {"rprivate", MS_PRIVATE | MS_REC, false, true},
    {"rshared", MS_SHARED | MS_REC, false, true},
    {"rslave", MS_SLAVE | MS_REC, false, true},
    {"runbindable", MS_UNBINDABLE | MS_REC, false, true},
    {"rw", MS_RDONLY, true, false},
    {"shared", MS_SHARED, false, true},
    {"silent", MS_SILENT, false, false},
    {"slave", MS_SLAVE, false, true},
    {"strictatime", MS_STRICTATIME, false, false},
    {"suid", MS_NOSUID, true, false},
    {"sync", MS_SYNCHRONOUS, false, false},
    {"unbindable", MS_UNBINDABLE, false, true},
};

static int cmp_word(const void *key, const void *elem)
{
	return strcmp(key, ((const struct flag_word *)elem)->name);
}

static const struct flag_word *find_flag(const char *w)
{
	return bsearch(w, flag_words, ARRAY_SIZE(flag_words), sizeof(flag_words[0]), cmp_word);
}

static bool skipped(const char *w, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (strncmp(w, *skip, strlen(*skip)) == 0)
			return true;
	return false;
}

static int add_data(struct buf *b, const char *w, size_t len)
{
	int r;
	if (buf_used(b) > 0 && (r = buf_append(b, ",", 1)) < 0)
		return r;
	return buf_append(b, w, len);
}

int mnt_opts_parse(char *const *words, size_t n, const char *const *skip, struct mnt_opts *ret)
{
	struct mnt_opts o = {0};
	struct buf data = {0};
	int r = 0;
	for (size_t i = 0; i < n && r >= 0; i++) {
		const char *p = words[i] ? words[i] : "";
		while (*p && r >= 0) {
			size_t len = strcspn(p, ",");
			_cleanup_free_ char *w = strndup(p, len);
			p += len + (p[len] == ',');
			if (!w) {
				r = -ENOMEM;
				break;
			}
			if (!*w || skipped(w, skip))
				continue;
			const struct flag_word *f = find_flag(w);
			if (!f)
				r = add_data(&data, w, len);
			else if (f->propagation)
				o.propagation |= f->flag;
			else if (f->clear)
				o.flags &= ~f->flag;
			else
				o.flags |= f->flag;
		}
	}
	if (r >= 0)
		r = buf_append(&data, "", 1);
	if (r < 0) {
		buf_free(&data);
		return r;
	}
	o.data = (char *)data.data;
	*ret = o;
	return 0;
}

void mnt_opts_free(struct mnt_opts *o)
{
	free(o->data);
	o->data = NULL;
}

const char *mnt_opts_value(char *const *words, size_t n, const char *key, size_t *ret_len)
{
	size_t klen = strlen(key);
	const char *found = NULL;
	size_t flen = 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = words[i] ? words[i] : "";
		while (*p) {
			size_t len = strcspn(p, ",");
			if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
				found = p + klen + 1;
				flen = len - klen - 1;
			}
			p += len + (p[len] == ',');
		}
	}
	if (found && ret_len)
		*ret_len = flen;
	return found;
}

bool mnt_opts_has(char *const *words, size_t n, const char *word)
{
	size_t wlen = strlen(word);
	for (size_t i = 0; i < n; i++) {
		const char *p = words[i] ? words[i] : "";
		while (*p) {
			size_t len = strcspn(p, ",");
			if (len == wlen && strncmp(p, word, len) == 0)
				return true;
			p += len + (p[len] == ',');
		}
	}
	return false;
}

// SPDX-License-Identifier: Apache-2.0
/* Mount option words ("ro", "nodev", "rbind", "size=64m", ...) as given in Storage.options and
 * OCI mounts, turned into mount(2) arguments: flag words become MS_* bits, propagation words are
 * kept apart (they need a mount(2) call of their own), everything else is joined into the data
 * string.  A word may itself hold several comma-separated options ("ro,nodev"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct mnt_opts {
	unsigned long flags;       /* MS_RDONLY, MS_NODEV, MS_BIND|MS_REC, MS_REMOUNT, ... */
	unsigned long propagation; /* MS_SHARED, MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE (| MS_REC) */
	char *data;                /* malloc'ed, "" when no data words */
};

/* Parse n words.  Words starting with one of the NULL-terminated skip prefixes (e.g.
 * "fsgid=") are dropped (skip may be NULL).  Returns 0 or -ENOMEM. */
int mnt_opts_parse(char *const *words, size_t n, const char *const *skip, struct mnt_opts *ret);
void mnt_opts_free(struct mnt_opts *o);

/* The value of the last "key=value" among the words (comma-separated words are searched too),
 * or NULL.  Points into words. */
const char *mnt_opts_value(char *const *words, size_t n, const char *key, size_t *ret_len);
/* Whether the flag word (e.g. "ro") is present. */
bool mnt_opts_has(char *const *words, size_t n, const char *word);

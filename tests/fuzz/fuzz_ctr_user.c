/* The container's /etc/passwd and /etc/group as the agent reads them (ctr_passwd_lookup,
 * ctr_group_lookup, ctr_group_memberships) and Process.User resolution against them
 * (ctr_user_resolve).  The files come from the container image: untrusted text.
 *
 * Input: a control byte, the Process.User username ("user", "uid", "user:group", ...) up to a
 * NUL, u32 uid, u32 gid, u8 count and u32 additional gids, the passwd text up to a NUL, then
 * the group text.  ctl bit 0 writes both files into a temporary rootfs and resolves the user
 * there; bit 1 leaves /etc/group out.
 *
 * Properties: a passwd entry found by name has that name, one found by uid that uid; ids are
 * never (uid_t)-1 (the set*id calls read it as "leave unchanged", which would keep the agent's
 * root); memberships hold no duplicate; a resolved user never has (uid_t)-1 as uid, gid or a
 * supplementary group, keeps every additional gid asked for, and a numeric username is taken
 * as the uid; refusals carry a message. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr_internal.h"
#include "err.h"
#include "fuzz_common.h"
#include "oci.pb-c.h"

#define NO_ID ((uint32_t)-1)

static char root[64], etc[80], passwd_path[96], group_path[96];

static void cleanup(void)
{
	unlink(passwd_path);
	unlink(group_path);
	rmdir(etc);
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	FUZZ_ASSERT(fuzz_mkdtemp(root, sizeof(root), "fuzz-ctr-user"));
	snprintf(etc, sizeof(etc), "%s/etc", root);
	snprintf(passwd_path, sizeof(passwd_path), "%s/passwd", etc);
	snprintf(group_path, sizeof(group_path), "%s/group", etc);
	FUZZ_ASSERT(mkdir(etc, 0755) == 0);
	atexit(cleanup);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_ASSERT(fd >= 0);
	size_t n = strlen(text);
	FUZZ_ASSERT(write(fd, text, n) == (ssize_t)n);
	close(fd);
}

static void lookups(const char *passwd, const char *group, const char *name, uint32_t uid)
{
	struct ctr_pwent e = {0};
	if (ctr_passwd_lookup(passwd, name, 0, &e) == 0) {
		FUZZ_ASSERT(e.name && strcmp(e.name, name) == 0 && e.home);
		FUZZ_ASSERT(e.uid != NO_ID && e.gid != NO_ID);
		/* The same text looked up by the uid found gives an entry with that uid. */
		struct ctr_pwent by_uid = {0};
		FUZZ_ASSERT(ctr_passwd_lookup(passwd, NULL, e.uid, &by_uid) == 0);
		FUZZ_ASSERT(by_uid.uid == e.uid);
		ctr_pwent_clear(&by_uid);
		ctr_pwent_clear(&e);
	}
	if (ctr_passwd_lookup(passwd, NULL, uid, &e) == 0) {
		FUZZ_ASSERT(e.uid == uid && uid != NO_ID && e.gid != NO_ID);
		ctr_pwent_clear(&e);
	}
	gid_t g;
	if (ctr_group_lookup(group, name, &g) == 0)
		FUZZ_ASSERT(g != NO_ID);
	gid_t *groups = NULL;
	size_t n = 0;
	if (ctr_group_memberships(group, name, &groups, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			FUZZ_ASSERT(groups[i] != NO_ID);
			for (size_t j = 0; j < i; j++)
				FUZZ_ASSERT(groups[i] != groups[j]);
		}
	free(groups);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s && *s != ':'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void resolve(Grpc__User *u, const char *passwd, const char *group)
{
	write_file(passwd_path, passwd);
	if (group)
		write_file(group_path, group);
	else
		unlink(group_path);
	struct ctr_user res = {0};
	struct agent_err err = {0};
	int r = ctr_user_resolve(root, u, &res, &err);
	if (r < 0) {
		FUZZ_ASSERT(err.msg[0]);
		return;
	}
	FUZZ_ASSERT(!err.msg[0]);
	FUZZ_ASSERT(res.uid != NO_ID && res.gid != NO_ID);
	for (size_t i = 0; i < res.n_groups; i++)
		FUZZ_ASSERT(res.groups[i] != NO_ID);
	for (size_t i = 0; i < u->n_additionalgids; i++) {
		bool found = false;
		for (size_t j = 0; j < res.n_groups && !found; j++)
			found = res.groups[j] == u->additionalgids[i];
		FUZZ_ASSERT(found);
	}
	if (all_digits(u->username) && strlen(u->username) <= 9)
		FUZZ_ASSERT(res.uid == strtoul(u->username, NULL, 10));
	if (!*u->username)
		FUZZ_ASSERT(res.uid == u->uid);
	ctr_user_clear(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t ctl = fuzz_u8(&in);
	Grpc__User u = GRPC__USER__INIT;
	u.username = fuzz_str(&in);
	u.uid = fuzz_u32(&in);
	u.gid = fuzz_u32(&in);
	u.n_additionalgids = fuzz_u8(&in) % 16;
	uint32_t gids[16];
	for (size_t i = 0; i < u.n_additionalgids; i++)
		gids[i] = fuzz_u32(&in);
	u.additionalgids = gids;
	char *passwd = fuzz_str(&in), *group = fuzz_str(&in);
	lookups(passwd, group, u.username, u.uid);
	if (ctl & 1)
		resolve(&u, passwd, ctl & 2 ? NULL : group);
	free(passwd);
	free(group);
	free(u.username);
	return 0;
}

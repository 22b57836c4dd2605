/* CopyFile (docs/PROTOCOL.md §6.2): path rules, chunked uploads, types, modes and owners. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "copy_file.h"

static char root[256];

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/copyfile-test.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int copy(const char *rel, uint32_t mode, int64_t size, int64_t off, const char *data,
                struct agent_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	struct copy_file_req r = {.path = path,
	                          .file_size = size,
	                          .file_mode = mode,
	                          .dir_mode = 0750,
	                          .uid = 1000,
	                          .gid = 1000,
	                          .offset = off,
	                          .data = (const uint8_t *)data,
	                          .len = data ? strlen(data) : 0};
	err_clear(err);
	return copy_file(root, &r, err);
}

/* With no shared file system nothing created the shared directory: the first copy does. */
static void test_missing_root_created(void **state)
{
	char fresh[300], path[400];
	snprintf(fresh, sizeof(fresh), "%s/run/shared", root);
	snprintf(path, sizeof(path), "%s/hosts", fresh);
	struct copy_file_req r = {.path = path,
	                          .file_size = 2,
	                          .file_mode = 0100644,
	                          .dir_mode = 0750,
	                          .data = (const uint8_t *)"ok",
	                          .len = 2};
	struct agent_err err = {0};
	assert_int_equal(copy_file(fresh, &r, &err), 0);
	assert_int_equal(access(path, F_OK), 0);
}

static void test_temp_name(void **state)
{
	char b[64];
	assert_int_equal(copy_file_temp_name("a.txt", b, sizeof(b)), 0);
	assert_string_equal(b, "a.tmp");
	assert_int_equal(copy_file_temp_name("a", b, sizeof(b)), 0);
	assert_string_equal(b, "a.tmp");
	assert_int_equal(copy_file_temp_name(".rc", b, sizeof(b)), 0);
	assert_string_equal(b, ".rc.tmp");
}

static void test_chunks_invisible_until_complete(void **state)
{
	struct agent_err err;
	char p[512];
	struct stat st;
	assert_int_equal(copy("d1/d2/f.txt", S_IFREG | 0644, 6, 0, "abc", &err), 0);
	snprintf(p, sizeof(p), "%s/d1/d2/f.txt", root);
	assert_int_equal(stat(p, &st), -1); /* not yet */
	assert_int_equal(copy("d1/d2/f.txt", S_IFREG | 0644, 6, 3, "def", &err), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 6);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(p, sizeof(p), "%s/d1/d2", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1000); /* the immediate parent is the file owner's */
}

/* Regression: chown after chmod cleared the set-uid/set-gid bits the request asked for. */
static void test_setid_bits_survive_owner_change(void **state)
{
	if (geteuid() != 0)
		skip();
	struct agent_err err;
	char p[512];
	struct stat st;
	assert_int_equal(copy("suid", S_IFREG | 06755, 2, 0, "ok", &err), 0);
	snprintf(p, sizeof(p), "%s/suid", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 06755);
	assert_int_equal(copy("sdir", S_IFDIR | 02770, 0, 0, NULL, &err), 0);
	snprintf(p, sizeof(p), "%s/sdir", root);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 02770);
}

static void test_symlink(void **state)
{
	struct agent_err err;
	char p[512], t[64];
	assert_int_equal(copy("ln", S_IFLNK | 0777, 0, 0, "/etc/passwd", &err), 0);
	snprintf(p, sizeof(p), "%s/ln", root);
	ssize_t n = readlink(p, t, sizeof(t) - 1);
	assert_true(n > 0);
	t[n] = '\0';
	assert_string_equal(t, "/etc/passwd"); /* a link the call creates may point anywhere */
}

static void test_escapes_rejected(void **state)
{
	struct agent_err err;
	struct copy_file_req r = {.path = "/tmp/elsewhere", .file_mode = S_IFREG | 0644};
	assert_int_equal(copy_file(root, &r, &err), -EINVAL);
	char other[300];
	snprintf(other, sizeof(other), "%sX/f", root); /* prefix, not a component */
	r.path = other;
	assert_int_equal(copy_file(root, &r, &err), -EINVAL);
	assert_true(copy("a/../../x", S_IFREG | 0644, 1, 0, "x", &err) < 0);
	/* A symlink inside the tree cannot be used to walk out of it. */
	char p[512];
	snprintf(p, sizeof(p), "%s/out", root);
	assert_int_equal(symlink("/tmp", p), 0);
	assert_true(copy("out/escaped", S_IFREG | 0644, 1, 0, "x", &err) < 0);
	assert_int_equal(access("/tmp/escaped", F_OK), -1);
	/* Chunks outside the declared size are refused. */
	assert_int_equal(copy("big", S_IFREG | 0644, 2, 1, "abc", &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_temp_name),
	    cmocka_unit_test_setup_teardown(test_missing_root_created, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunks_invisible_until_complete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_setid_bits_survive_owner_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_escapes_rejected, setup, teardown),
	};
	return cmocka_run_group_tests_name("copy_file", tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* GetDiagnosticData helpers (agent/src/rpc_diag.c): the termination message path from a spec,
 * and the UTF-8 repair of what the file holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oci.pb-c.h"
#include "rpc.h"

static void test_termlog_source(void **state)
{
	(void)state;
	Grpc__Spec spec = GRPC__SPEC__INIT;
	Grpc__Spec__AnnotationsEntry a = GRPC__SPEC__ANNOTATIONS_ENTRY__INIT, b = a;
	a.key = "io.kubernetes.cri.container-type";
	a.value = "container";
	b.key = "io.kubernetes.container.terminationMessagePath";
	b.value = "/dev/termination-log";
	Grpc__Spec__AnnotationsEntry *ann[] = {&a, &b};
	Grpc__Mount m1 = GRPC__MOUNT__INIT, m2 = GRPC__MOUNT__INIT;
	m1.destination = "/etc/hosts";
	m1.source = "/run/x/hosts";
	m2.destination = "/dev/termination-log";
	m2.source = "/run/kata-containers/shared/containers/abc-termination-log";
	Grpc__Mount *mounts[] = {&m1, &m2};
	spec.mounts = mounts;
	spec.n_mounts = 2;
	assert_null(diag_termlog_source(&spec)); /* no annotation */
	spec.annotations = ann;
	spec.n_annotations = 2;
	char *p = diag_termlog_source(&spec);
	assert_string_equal(p, m2.source);
	free(p);
	spec.n_mounts = 1; /* annotation, but no mount with that destination */
	assert_null(diag_termlog_source(&spec));
	assert_null(diag_termlog_source(NULL));
}

static void test_utf8_lossy(void **state)
{
	(void)state;
	char out[64];
	/* valid ASCII and multi-byte text passes unchanged */
	const char *ok = "exit: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	assert_int_equal(diag_utf8_lossy((const unsigned char *)ok, strlen(ok), out), strlen(ok));
	assert_string_equal(out, ok);
	/* a stray continuation byte, a truncated sequence, an overlong form, a surrogate */
	const unsigned char bad[] = {'a', 0x80, 'b', 0xe2, 0x82, 'c', 0xc0, 0xaf, 0xed, 0xa0, 0x80};
	diag_utf8_lossy(bad, sizeof(bad), out);
	assert_string_equal(out, "a\xef\xbf\xbd"
	                         "b\xef\xbf\xbd\xef\xbf\xbd"
	                         "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_int_equal(diag_utf8_lossy(bad, 0, out), 0);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_termlog_source),
	    cmocka_unit_test(test_utf8_lossy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Pure networking helpers: MAC and IP parsing, prefix strings, CIDR formatting, Route message
 * conversion and the order UpdateRoutes applies routes in.  No netlink here. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net.h"
#include "rpc_network.h"

static void test_mac_parse(void **state)
{
	uint8_t m[NET_MAC_LEN];
	assert_int_equal(net_mac_parse("AB:0c:de:12:34:56", m), 0);
	const uint8_t want[] = {0xab, 0x0c, 0xde, 0x12, 0x34, 0x56};
	assert_memory_equal(m, want, sizeof(want));
	assert_int_equal(net_mac_parse("2:0:0:0:0:1", m), 0); /* single digits, as Go may print */
	assert_int_equal(m[0], 2);
	assert_int_equal(m[5], 1);
	const char *bad[] = {"",
	                     "ab:0c:de:12:34",
	                     "ab:0c:de:12:34:56:78",
	                     "ab:0c:de:12:34:5g",
	                     "ab-0c-de-12-34-56",
	                     "abc:0c:de:12:34:56",
	                     "ab:0c:de:12:34:56 "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(net_mac_parse(bad[i], m), -EINVAL);
}

static void test_hwaddr_format(void **state)
{
	const uint8_t a[] = {0x02, 0xaa, 0x0b, 0, 0, 0xff};
	char buf[32];
	net_hwaddr_format(a, sizeof(a), buf, sizeof(buf));
	assert_string_equal(buf, "02:aa:0b:00:00:ff");
	net_hwaddr_format(a, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	char small[9]; /* room for three bytes and the NUL, not for a fourth */
	net_hwaddr_format(a, sizeof(a), small, sizeof(small));
	assert_string_equal(small, "02:aa:0b");
}

static void test_ip_parse(void **state)
{
	struct net_ip ip;
	assert_int_equal(net_ip_parse("10.1.2.3", AF_UNSPEC, &ip), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_int_equal(ip.prefix, 32);
	assert_int_equal(net_ip_parse("fd00::1", AF_UNSPEC, &ip), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_int_equal(ip.prefix, 128);
	assert_int_equal(net_ip_parse("fd00::1", AF_INET, &ip), -EINVAL);
	assert_int_equal(net_ip_parse("10.1.2.3", AF_INET6, &ip), -EINVAL);
	assert_int_equal(net_ip_parse("10.1.2.300", AF_UNSPEC, &ip), -EINVAL);
	assert_int_equal(net_ip_parse("", AF_UNSPEC, &ip), -EINVAL);
}

static void test_prefix_parse(void **state)
{
	unsigned p;
	assert_int_equal(net_prefix_parse("24", AF_INET, &p), 0);
	assert_int_equal(p, 24);
	assert_int_equal(net_prefix_parse("0", AF_INET, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(net_prefix_parse("128", AF_INET6, &p), 0);
	assert_int_equal(p, 128);
	assert_int_equal(net_prefix_parse("33", AF_INET, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("129", AF_INET6, &p), -EINVAL);
	/* A dotted mask is not a prefix length (the protocol sends "24"). */
	assert_int_equal(net_prefix_parse("255.255.255.0", AF_INET, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("", AF_INET, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("-1", AF_INET, &p), -EINVAL);
	assert_int_equal(net_prefix_parse("0024", AF_INET, &p), -EINVAL);
}

static void test_cidr(void **state)
{
	struct net_ip ip;
	char buf[64];
	assert_int_equal(net_cidr_parse("10.20.0.0/16", AF_INET, &ip), 0);
	assert_int_equal(ip.prefix, 16);
	net_cidr_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "10.20.0.0/16");
	assert_int_equal(net_cidr_parse("fd01:0::/64", AF_INET6, &ip), 0);
	net_cidr_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "fd01::/64");
	net_ip_format(&ip, buf, sizeof(buf));
	assert_string_equal(buf, "fd01::");
	assert_int_equal(net_cidr_parse("10.0.0.1", AF_INET, &ip), 0);
	assert_int_equal(ip.prefix, 32);
	assert_int_equal(net_cidr_parse("10.0.0.0/33", AF_INET, &ip), -EINVAL);
	assert_int_equal(net_cidr_parse("10.0.0.0/", AF_INET, &ip), -EINVAL);
	char longs[200];
	memset(longs, '1', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(net_cidr_parse(longs, AF_UNSPEC, &ip), -EINVAL);
}

static Types__Route mk(const char *dest, const char *gw)
{
	Types__Route r = TYPES__ROUTE__INIT;
	r.dest = (char *)dest;
	r.gateway = (char *)gw;
	return r;
}

static void test_route_order(void **state)
{
	Types__Route r[5] = {mk("", "10.0.0.1"), mk("10.0.0.0/24", ""),
	                     mk("10.9.0.0/16", "10.0.0.1"), mk("10.1.0.0/16", ""),
	                     mk("10.2.0.0/16", "")};
	Types__Route *in[5] = {&r[0], &r[1], &r[2], &r[3], &r[4]}, *out[5];
	net_order_routes(in, 5, out);
	/* Gateway-less first, each group in its given order. */
	Types__Route *want[5] = {&r[1], &r[3], &r[4], &r[0], &r[2]};
	for (int i = 0; i < 5; i++)
		assert_ptr_equal(out[i], want[i]);
	net_order_routes(in, 0, out); /* nothing to do, nothing touched */
}

static void test_route_from_msg(void **state)
{
	struct agent_err err = {0};
	struct net_route nr;
	Types__Route m = mk("", "10.0.0.1");
	assert_int_equal(net_route_from_msg(&m, &nr, &err), 0);
	assert_int_equal(nr.family, AF_INET);
	assert_int_equal(nr.dst.prefix, 0); /* "" is the default route */
	assert_true(nr.has_gw);
	assert_false(nr.has_prefsrc || nr.has_src);

	m = mk("10.20.0.0/16", "");
	m.source = "10.10.0.3";
	m.scope = 253;
	m.mtu = 1300;
	assert_int_equal(net_route_from_msg(&m, &nr, &err), 0);
	assert_true(nr.has_prefsrc);
	assert_false(nr.has_src || nr.has_gw);
	assert_int_equal(nr.scope, 253);
	assert_int_equal(nr.mtu, 1300);

	m = mk("fd01::/64", "fd00::1");
	m.family = TYPES__IPFAMILY__v6;
	m.source = "fd02::/48";
	assert_int_equal(net_route_from_msg(&m, &nr, &err), 0);
	assert_int_equal(nr.family, AF_INET6);
	assert_true(nr.has_src); /* with a prefix: source routing, not a preferred source */
	assert_int_equal(nr.src.prefix, 48);

	m = mk("fd01::/64", "");
	assert_int_equal(net_route_from_msg(&m, &nr, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "fd01::/64")); /* v6 dest with family v4 */
	m = mk("10.0.0.0/8", "nonsense");
	assert_int_equal(net_route_from_msg(&m, &nr, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "gateway"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mac_parse),      cmocka_unit_test(test_hwaddr_format),
	    cmocka_unit_test(test_ip_parse),       cmocka_unit_test(test_prefix_parse),
	    cmocka_unit_test(test_cidr),           cmocka_unit_test(test_route_order),
	    cmocka_unit_test(test_route_from_msg),
	};
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}

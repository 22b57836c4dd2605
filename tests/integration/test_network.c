/* Networking RPCs against the real kernel, inside a fresh network namespace of its own (the
 * host's links are never touched): veth pairs stand in for the guest NICs, the handlers run
 * behind an in-process ttrpc server on a socketpair, and `ip -j` output checked by
 * test_network.py is the judge.  Also GetIPTables/SetIPTables with fake tools.
 *
 * Usage: test_network MATCHER.py   (root; prints "N passed, N failed") */
#include <errno.h>
#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "loop.h"
#include "net.h"
#include "rpc.h"
#include "rpc_network.h"
#include "ttrpc.h"
#include "ttrpc_client.h"
#include "uevent.h"

static int passed, failed;
static const char *matcher;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			passed++;                                                                  \
		} else {                                                                           \
			failed++;                                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/* ---- shell helpers ---- */

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `ip` JSON output of args matches (or, absent, does not match) the pattern. */
static bool ip_has(const char *args, const char *pattern)
{
	return sh("ip -j %s | python3 %s '%s'", args, matcher, pattern) == 0;
}
static bool ip_lacks(const char *args, const char *pattern)
{
	return sh("ip -j %s | python3 %s --absent '%s'", args, matcher, pattern) == 0;
}

static long count_lines(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	long n = 0;
	int c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	pclose(f);
	return n;
}

/* ---- in-process server ---- */

static const struct {
	const char *method;
	rpc_handler_fn fn;
} handlers[] = {
    {"UpdateInterface", rpc_update_interface},  {"UpdateRoutes", rpc_update_routes},
    {"ListInterfaces", rpc_list_interfaces},    {"ListRoutes", rpc_list_routes},
    {"AddARPNeighbors", rpc_add_arp_neighbors}, {"GetIPTables", rpc_get_ip_tables},
    {"SetIPTables", rpc_set_ip_tables},
};

/* What rpc_dispatch does, over our handlers only (the lead's table lists them). */
static void dispatch(struct ttrpc_call *call, const char *service, const char *method,
                     const uint8_t *payload, size_t len, void *data)
{
	const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(
	    &grpc__agent_service__descriptor, method);
	for (size_t i = 0; md && i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i].method, method) != 0)
			continue;
		ProtobufCMessage *req = protobuf_c_message_unpack(md->input, NULL, len, payload);
		if (!req) {
			ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "decode");
			return;
		}
		call->method = md->name;
		call->req = req;
		handlers[i].fn(call, req);
		return;
	}
	ttrpc_fail(call, TTRPC_UNIMPLEMENTED, "%s", method);
}

static struct ttrpc_server *srv;
static struct ttrpc_client cl;

static void server_start(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    loop_new(&agent.loop) < 0 ||
	    ttrpc_server_new(agent.loop, &ttrpc_default_limits, dispatch, NULL, &srv) < 0) {
		perror("server");
		exit(1);
	}
	/* Room for a large SetIPTables request without a second thread to drain it. */
	int big = 8 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	ttrpc_server_add_conn(srv, sv[0]);
	ttrpc_client_init(&cl, sv[1]);
}

/* One call: returns the status code; *ret_resp (if given) gets the decoded response and
 * *ret_msg the status message (both caller-freed). */
static int call(const char *method, const ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *out, ProtobufCMessage **ret_resp, char **ret_msg)
{
	size_t n = protobuf_c_message_get_packed_size(req);
	uint8_t *p = malloc(n + 1);
	protobuf_c_message_pack(req, p);
	long stream = ttrpc_client_send(&cl, "grpc.AgentService", method, p, n, 0);
	free(p);
	if (stream < 0)
		return -1;
	struct ttrpc_result r;
	for (int i = 0; i < 3000; i++) {
		loop_run_once(agent.loop, 2);
		/* No PID 1 here: reap the iptables children as the agent's SIGCHLD hook would. */
		int st;
		pid_t pid;
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			net_child_exited(pid, st);
		int rc = ttrpc_client_recv(&cl, 0, &r);
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0)
			return -1;
		int code = r.code;
		if (ret_resp)
			*ret_resp = code == 0 && out
			                ? protobuf_c_message_unpack(out, NULL, r.len, r.payload)
			                : NULL;
		if (ret_msg)
			*ret_msg = strdup(r.message ? r.message : "");
		ttrpc_result_free(&r);
		return code;
	}
	return -1;
}

static int call_msg(const char *method, const ProtobufCMessage *req, char **ret_msg)
{
	return call(method, req, NULL, NULL, ret_msg);
}

static bool contains(const char *msg, const char *s)
{
	return msg && strstr(msg, s);
}

/* ---- message builders ---- */

static Types__IPAddress *ipaddr(Types__IPAddress *a, int v6, const char *addr, const char *mask)
{
	*a = (Types__IPAddress)TYPES__IPADDRESS__INIT;
	a->family = v6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	a->address = (char *)addr;
	a->mask = (char *)mask;
	return a;
}

static int update_iface(const char *mac, const char *name, unsigned mtu, uint32_t flags,
                        Types__IPAddress **ips, size_t nips, Types__Interface **ret, char **ret_msg)
{
	Types__Interface in = TYPES__INTERFACE__INIT;
	in.hwaddr = (char *)mac;
	in.name = (char *)name;
	in.device = (char *)name;
	in.mtu = mtu;
	in.raw_flags = flags;
	in.ipaddresses = ips;
	in.n_ipaddresses = nips;
	Grpc__UpdateInterfaceRequest rq = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	rq.interface = &in;
	return call("UpdateInterface", &rq.base, &types__interface__descriptor,
	            (ProtobufCMessage **)ret, ret_msg);
}

static Types__Route *route(Types__Route *r, int v6, const char *dest, const char *gw,
                           const char *dev, const char *src, unsigned scope, unsigned mtu)
{
	*r = (Types__Route)TYPES__ROUTE__INIT;
	r->family = v6 ? TYPES__IPFAMILY__v6 : TYPES__IPFAMILY__v4;
	r->dest = (char *)dest;
	r->gateway = (char *)gw;
	r->device = (char *)dev;
	r->source = (char *)src;
	r->scope = scope;
	r->mtu = mtu;
	return r;
}

static int update_routes(Types__Route **rs, size_t n, Grpc__Routes **ret, char **ret_msg)
{
	Grpc__Routes list = GRPC__ROUTES__INIT;
	list.routes = rs;
	list.n_routes = n;
	Grpc__UpdateRoutesRequest rq = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	rq.routes = &list;
	return call("UpdateRoutes", &rq.base, &grpc__routes__descriptor, (ProtobufCMessage **)ret,
	            ret_msg);
}

static const Types__Route *find_route(const Grpc__Routes *rs, const char *dest, const char *dev)
{
	for (size_t i = 0; rs && i < rs->n_routes; i++)
		if (strcmp(rs->routes[i]->dest, dest) == 0 &&
		    strcmp(rs->routes[i]->device, dev) == 0)
			return rs->routes[i];
	return NULL;
}

#define MAC_A "02:00:00:00:00:01"
#define MAC_B "02:00:00:00:00:11"

/* ---- tests ---- */

static void test_links_direct(void)
{
	uint8_t mac[NET_MAC_LEN];
	struct net_link l;
	net_mac_parse(MAC_A, mac);
	CHECK(net_link_by_mac(mac, &l) == 0 && strcmp(l.name, "v0") == 0, "v0 by MAC");
	CHECK(net_link_by_name("nosuchlink", &l) == -ENODEV, "unknown name gives ENODEV");
	mac[5] = 0x77;
	CHECK(net_link_by_mac(mac, &l) == -ENODEV, "unknown MAC gives ENODEV");
	struct net_link *v = NULL;
	size_t n = 0;
	CHECK(net_link_list(&v, &n) == 0 && (long)n == count_lines("ip -o link"),
	      "link list has every link (%zu)", n);
	CHECK(n > 0 && strcmp(v[0].name, "lo") == 0, "lo first");
	free(v);
}

static void test_update_interface(void)
{
	sh("ip addr add 192.168.77.7/24 dev v0");
	Types__IPAddress a[3],
	    *ips[3] = {ipaddr(&a[0], 0, "10.10.0.2", "24"), ipaddr(&a[1], 1, "fd00::2", "64"),
	               ipaddr(&a[2], 0, "10.10.1.2", "")};
	Types__Interface *out = NULL;
	char *msg = NULL;
	int code = update_iface(MAC_A, "eth0", 1400, IFF_NOARP, ips, 3, &out, &msg);
	CHECK(code == 0, "UpdateInterface: %d %s", code, msg);
	CHECK(out && strcmp(out->name, "eth0") == 0 && strcmp(out->hwaddr, MAC_A) == 0 &&
	          out->mtu == 1400 && out->n_ipaddresses == 3,
	      "reply is the interface");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
	free(msg);
	CHECK(ip_has("link show dev eth0", "{\"ifname\":\"eth0\",\"address\":\"" MAC_A
	                                   "\",\"mtu\":1400,\"flags\":[\"NOARP\",\"UP\"]}"),
	      "renamed, MTU, NOARP, up");
	CHECK(
	    ip_has("addr show dev eth0",
	           "{\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.10.0.2\",\"prefixlen\":24},"
	           "{\"family\":\"inet6\",\"local\":\"fd00::2\",\"prefixlen\":64},"
	           "{\"family\":\"inet\",\"local\":\"10.10.1.2\",\"prefixlen\":32}]}"),
	    "addresses v4, v6, and a host address for an empty mask");
	CHECK(ip_lacks("addr show dev eth0", "{\"addr_info\":[{\"local\":\"192.168.77.7\"}]}"),
	      "old address removed");
	CHECK(sh("ip link show v0 >/dev/null 2>&1") != 0, "v0 is gone");

	/* Again: addresses replaced, NOARP cleared, MTU back. */
	Types__IPAddress b[2],
	    *ips2[2] = {ipaddr(&b[0], 0, "10.10.0.3", "24"), ipaddr(&b[1], 1, "fd00::2", "64")};
	code = update_iface(MAC_A, "eth0", 1500, 0, ips2, 2, NULL, &msg);
	CHECK(code == 0, "second UpdateInterface: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("addr show dev eth0", "{\"addr_info\":[{\"local\":\"10.10.0.3\"}]}") &&
	          ip_lacks("addr show dev eth0", "{\"addr_info\":[{\"local\":\"10.10.0.2\"}]}"),
	      "addresses replaced");
	CHECK(ip_lacks("link show dev eth0", "{\"flags\":[\"NOARP\"]}") &&
	          ip_has("link show dev eth0", "{\"mtu\":1500,\"flags\":[\"UP\"]}"),
	      "NOARP cleared, MTU 1500, up");
}

static void test_update_interface_errors(void)
{
	char *msg = NULL;
	int code = update_iface("02:00:00:00:99:99", "eth9", 1500, 0, NULL, 0, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "Link not found"), "unknown MAC: %d %s", code,
	      msg);
	free(msg);

	Grpc__UpdateInterfaceRequest empty = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	code = call_msg("UpdateInterface", &empty.base, &msg);
	CHECK(code == TTRPC_INVALID_ARGUMENT && contains(msg, "empty update interface request"),
	      "empty request: %d %s", code, msg);
	free(msg);

	Types__IPAddress a, *ips[1] = {ipaddr(&a, 0, "10.10.0.300", "24")};
	code = update_iface(MAC_A, "eth0", 1500, 0, ips, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "10.10.0.300"), "bad address: %d %s", code,
	      msg);
	free(msg);
	CHECK(ip_has("addr show dev eth0", "{\"addr_info\":[{\"local\":\"10.10.0.3\"}]}"),
	      "a refused request changes nothing");

	code = update_iface("zz:00:00:00:00:01", "eth0", 1500, 0, NULL, 0, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "MAC"), "bad MAC: %d %s", code, msg);
	free(msg);
}

/* The requested name is taken by another link: the two swap names. */
static void test_rename_conflict(void)
{
	Types__IPAddress a, *ips[1] = {ipaddr(&a, 0, "10.30.0.2", "24")};
	char *msg = NULL;
	int code = update_iface(MAC_B, "eth0", 1500, 0, ips, 1, NULL, &msg);
	CHECK(code == 0, "UpdateInterface onto a taken name: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("link show dev eth0", "{\"address\":\"" MAC_B "\"}"), "eth0 is link B");
	CHECK(ip_has("link show dev a0", "{\"address\":\"" MAC_A "\",\"flags\":[\"UP\"]}"),
	      "link A took B's old name and is up");
	/* And back, for the route tests. */
	Types__IPAddress b[2],
	    *ips2[2] = {ipaddr(&b[0], 0, "10.10.0.3", "24"), ipaddr(&b[1], 1, "fd00::2", "64")};
	code = update_iface(MAC_A, "eth0", 1500, 0, ips2, 2, NULL, &msg);
	CHECK(code == 0, "swap back: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("link show dev eth0", "{\"address\":\"" MAC_A "\"}") &&
	          ip_has("link show dev a0", "{\"address\":\"" MAC_B "\"}"),
	      "names swapped back");
}

static void test_update_routes(void)
{
	/* The default route comes first, but its gateway is only reachable through the second
	 * route: the handler must add gateway-less routes first. */
	Types__Route r[5],
	    *rs[5] = {
	        route(&r[0], 0, "", "192.168.50.1", "eth0", "", 0, 0),
	        route(&r[1], 0, "192.168.50.0/24", "", "eth0", "", RT_SCOPE_LINK, 0),
	        route(&r[2], 0, "10.20.0.0/16", "", "eth0", "10.10.0.3", RT_SCOPE_LINK, 0),
	        route(&r[3], 0, "10.40.0.0/16", "10.10.0.1", "eth0", "", 0, 1300),
	        route(&r[4], 1, "fd01::/64", "fd00::1", "eth0", "", 0, 0),
	    };
	Grpc__Routes *out = NULL;
	char *msg = NULL;
	int code = update_routes(rs, 5, &out, &msg);
	CHECK(code == 0, "UpdateRoutes: %d %s", code, msg);
	free(msg);
	const Types__Route *d = find_route(out, "", "eth0");
	CHECK(d && strcmp(d->gateway, "192.168.50.1") == 0, "reply lists the default route");
	d = find_route(out, "10.10.0.0/24", "eth0");
	CHECK(d && strcmp(d->source, "10.10.0.3") == 0 && d->scope == RT_SCOPE_LINK,
	      "reply lists the kernel's route too");
	d = find_route(out, "fd01::/64", "eth0");
	CHECK(d && d->family == TYPES__IPFAMILY__v6 && strcmp(d->gateway, "fd00::1") == 0,
	      "reply lists the IPv6 route");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);

	const char *v4 = "route show table main";
	CHECK(ip_has(v4, "{\"dst\":\"default\",\"gateway\":\"192.168.50.1\",\"dev\":\"eth0\"}"),
	      "default via gateway");
	CHECK(ip_has(v4, "{\"dst\":\"192.168.50.0/24\",\"dev\":\"eth0\",\"scope\":\"link\"}"),
	      "link-scope route");
	CHECK(ip_has(v4, "{\"dst\":\"10.20.0.0/16\",\"prefsrc\":\"10.10.0.3\",\"scope\":\"link\"}"),
	      "preferred source");
	CHECK(ip_has(v4, "{\"dst\":\"10.40.0.0/16\",\"gateway\":\"10.10.0.1\","
	                 "\"metrics\":[{\"mtu\":1300}]}"),
	      "route MTU");
	CHECK(ip_has("-6 route show table main", "{\"dst\":\"fd01::/64\",\"gateway\":\"fd00::1\"}"),
	      "IPv6 route via gateway");

	/* A second update replaces the set; the kernel's own routes stay. */
	Types__Route r2,
	    *rs2[1] = {route(&r2, 0, "10.50.0.0/16", "", "eth0", "", RT_SCOPE_LINK, 0)};
	code = update_routes(rs2, 1, NULL, &msg);
	CHECK(code == 0, "second UpdateRoutes: %d %s", code, msg);
	free(msg);
	CHECK(ip_has(v4, "{\"dst\":\"10.50.0.0/16\"}"), "new route");
	CHECK(ip_lacks(v4, "{\"dst\":\"default\"}") && ip_lacks(v4, "{\"dst\":\"10.20.0.0/16\"}") &&
	          ip_lacks("-6 route show table main", "{\"dst\":\"fd01::/64\"}"),
	      "old routes gone");
	CHECK(ip_has(v4, "{\"dst\":\"10.10.0.0/24\",\"protocol\":\"kernel\"}"),
	      "kernel route kept");
}

static void test_update_routes_errors(void)
{
	char *msg = NULL;
	Types__Route r, *rs[1] = {route(&r, 0, "10.60.0.0/16", "", "nosuch0", "", 0, 0)};
	int code = update_routes(rs, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "Link not found"), "unknown device: %d %s",
	      code, msg);
	free(msg);
	CHECK(ip_has("route show table main", "{\"dst\":\"10.50.0.0/16\"}"),
	      "a refused update leaves the routes alone");

	route(&r, 0, "10.60.0.0/40", "", "eth0", "", 0, 0);
	code = update_routes(rs, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "10.60.0.0/40"), "bad dest: %d %s", code,
	      msg);
	free(msg);

	/* A gateway nothing leads to: the kernel's ENETUNREACH reaches the message. */
	route(&r, 0, "10.70.0.0/16", "172.31.9.9", "eth0", "", 0, 0);
	code = update_routes(rs, 1, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "172.31.9.9") &&
	          contains(msg, strerror(ENETUNREACH)),
	      "unreachable gateway: %d %s", code, msg);
	free(msg);

	Grpc__UpdateRoutesRequest empty = GRPC__UPDATE_ROUTES_REQUEST__INIT;
	code = call_msg("UpdateRoutes", &empty.base, &msg);
	CHECK(code == TTRPC_INVALID_ARGUMENT && contains(msg, "empty update routes request"),
	      "empty request: %d %s", code, msg);
	free(msg);

	/* Restore a known set for the list test. */
	route(&r, 0, "10.50.0.0/16", "", "eth0", "", RT_SCOPE_LINK, 0);
	update_routes(rs, 1, NULL, NULL);
}

static void test_list_routes(void)
{
	Grpc__ListRoutesRequest rq = GRPC__LIST_ROUTES_REQUEST__INIT;
	Grpc__Routes *out = NULL;
	int code = call("ListRoutes", &rq.base, &grpc__routes__descriptor,
	                (ProtobufCMessage **)&out, NULL);
	CHECK(code == 0 && out, "ListRoutes: %d", code);
	long want =
	    count_lines("ip route show table main") + count_lines("ip -6 route show table main");
	CHECK(out && (long)out->n_routes == want, "as many routes as ip shows (%zu vs %ld)",
	      out ? out->n_routes : 0, want);
	const Types__Route *r = find_route(out, "10.50.0.0/16", "eth0");
	CHECK(r && r->scope == RT_SCOPE_LINK && r->family == TYPES__IPFAMILY__v4 && !*r->gateway,
	      "10.50.0.0/16 listed");
	r = find_route(out, "fd00::/64", "eth0");
	CHECK(r && r->family == TYPES__IPFAMILY__v6, "IPv6 kernel route listed");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
}

static void test_list_interfaces(void)
{
	Grpc__ListInterfacesRequest rq = GRPC__LIST_INTERFACES_REQUEST__INIT;
	Grpc__Interfaces *out = NULL;
	int code = call("ListInterfaces", &rq.base, &grpc__interfaces__descriptor,
	                (ProtobufCMessage **)&out, NULL);
	CHECK(code == 0 && out, "ListInterfaces: %d", code);
	CHECK(out && (long)out->n_interfaces == count_lines("ip -o link"), "every link listed");
	bool eth0 = false, v4 = false, v6 = false, lo = false;
	for (size_t i = 0; out && i < out->n_interfaces; i++) {
		const Types__Interface *in = out->interfaces[i];
		for (size_t j = 0; j < in->n_ipaddresses; j++) {
			const Types__IPAddress *a = in->ipaddresses[j];
			if (!strcmp(in->name, "eth0") && !strcmp(a->address, "10.10.0.3") &&
			    !strcmp(a->mask, "24") && a->family == TYPES__IPFAMILY__v4)
				v4 = true;
			if (!strcmp(in->name, "eth0") && !strcmp(a->address, "fd00::2") &&
			    !strcmp(a->mask, "64") && a->family == TYPES__IPFAMILY__v6)
				v6 = true;
			if (!strcmp(in->name, "lo") && !strcmp(a->address, "127.0.0.1") &&
			    !strcmp(a->mask, "8"))
				lo = true;
		}
		if (!strcmp(in->name, "eth0"))
			eth0 = !strcmp(in->hwaddr, MAC_A) && in->mtu == 1500 &&
			       (in->raw_flags & IFF_UP);
	}
	CHECK(eth0, "eth0 with its MAC, MTU and flags");
	CHECK(v4 && v6, "eth0's addresses with prefix strings");
	CHECK(lo, "lo's address");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
}

static int add_neighbors(Types__ARPNeighbor **ns, size_t n, char **ret_msg)
{
	Grpc__ARPNeighbors list = GRPC__ARPNEIGHBORS__INIT;
	list.arpneighbors = ns;
	list.n_arpneighbors = n;
	Grpc__AddARPNeighborsRequest rq = GRPC__ADD_ARPNEIGHBORS_REQUEST__INIT;
	rq.neighbors = &list;
	return call_msg("AddARPNeighbors", &rq.base, ret_msg);
}

static Types__ARPNeighbor *neigh(Types__ARPNeighbor *n, Types__IPAddress *ip, const char *dev,
                                 const char *ll, int state)
{
	*n = (Types__ARPNeighbor)TYPES__ARPNEIGHBOR__INIT;
	n->toipaddress = ip;
	n->device = (char *)dev;
	n->lladdr = (char *)ll;
	n->state = state;
	return n;
}

static void test_neighbors(void)
{
	Types__IPAddress a[3];
	Types__ARPNeighbor n[3],
	    *ns[3] = {
	        neigh(&n[0], ipaddr(&a[0], 0, "10.10.0.9", ""), "eth0", "02:aa:bb:cc:dd:ee", 0),
	        neigh(&n[1], ipaddr(&a[1], 1, "fd00::9", ""), "eth0", "02:aa:bb:cc:dd:ef", 0),
	        neigh(&n[2], ipaddr(&a[2], 0, "10.10.0.10", ""), "eth0", "02:aa:bb:cc:dd:10",
	              NUD_STALE),
	    };
	char *msg = NULL;
	int code = add_neighbors(ns, 3, &msg);
	CHECK(code == 0, "AddARPNeighbors: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("neigh show dev eth0",
	             "{\"dst\":\"10.10.0.9\",\"lladdr\":\"02:aa:bb:cc:dd:ee\","
	             "\"state\":[\"PERMANENT\"]}"),
	      "IPv4 neighbour, state 0 is PERMANENT");
	CHECK(ip_has("-6 neigh show dev eth0",
	             "{\"dst\":\"fd00::9\",\"lladdr\":\"02:aa:bb:cc:dd:ef\","
	             "\"state\":[\"PERMANENT\"]}"),
	      "IPv6 neighbour");
	CHECK(ip_has("neigh show dev eth0", "{\"dst\":\"10.10.0.10\",\"state\":[\"STALE\"]}"),
	      "explicit state kept");

	neigh(&n[0], &a[0], "eth0", "02:aa:bb:cc:dd:01", 0);
	code = add_neighbors(ns, 1, &msg);
	CHECK(code == 0, "replace: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("neigh show dev eth0",
	             "{\"dst\":\"10.10.0.9\",\"lladdr\":\"02:aa:bb:cc:dd:01\"}"),
	      "neighbour replaced");

	neigh(&n[0], &a[0], "nosuch0", "02:aa:bb:cc:dd:01", 0);
	code = add_neighbors(ns, 1, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "Link not found"), "unknown device: %d %s",
	      code, msg);
	free(msg);

	neigh(&n[0], NULL, "eth0", "02:aa:bb:cc:dd:01", 0);
	code = add_neighbors(ns, 1, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "ip address"), "no address: %d %s", code,
	      msg);
	free(msg);

	Grpc__AddARPNeighborsRequest empty = GRPC__ADD_ARPNEIGHBORS_REQUEST__INIT;
	code = call_msg("AddARPNeighbors", &empty.base, &msg);
	CHECK(code == TTRPC_INVALID_ARGUMENT && contains(msg, "empty"), "empty request: %d %s",
	      code, msg);
	free(msg);
}

/* ---- iptables, with fake tools ---- */

static char tooldir[64];

static void write_tool(const char *name, const char *body)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", tooldir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
}

static void test_iptables(void)
{
	snprintf(tooldir, sizeof(tooldir), "/tmp/test_network.XXXXXX");
	if (!mkdtemp(tooldir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	static const char *dirs[2];
	dirs[0] = tooldir;
	net_iptables_dirs = dirs;
	char body[512];
	write_tool("iptables-save", "printf '*filter\\n:INPUT ACCEPT [0:0]\\nCOMMIT\\n'");
	snprintf(body, sizeof(body),
	         "[ \"$*\" = \"--wait 5\" ] || { echo \"bad args $*\" >&2; exit 9; }\n"
	         "cat > %s/restored\necho restored-ok",
	         tooldir);
	write_tool("iptables-restore", body);
	write_tool("ip6tables-restore", "cat >/dev/null; echo 'line 2: bad rule' >&2; exit 2");

	Grpc__GetIPTablesRequest g = GRPC__GET_IPTABLES_REQUEST__INIT;
	Grpc__GetIPTablesResponse *gr = NULL;
	int code = call("GetIPTables", &g.base, &grpc__get_iptables_response__descriptor,
	                (ProtobufCMessage **)&gr, NULL);
	const char *want = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
	CHECK(code == 0 && gr && gr->data.len == strlen(want) &&
	          memcmp(gr->data.data, want, strlen(want)) == 0,
	      "GetIPTables returns iptables-save's output (%d)", code);
	if (gr)
		protobuf_c_message_free_unpacked(&gr->base, NULL);

	char *msg = NULL;
	g.is_ipv6 = 1;
	code = call_msg("GetIPTables", &g.base, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "ip6tables-save not found"),
	      "missing tool: %d %s", code, msg);
	free(msg);

	/* Larger than a pipe buffer, so the input goes out in several loop rounds. */
	size_t big = 512 << 10;
	uint8_t *data = malloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (uint8_t)('a' + i % 26);
	Grpc__SetIPTablesRequest s = GRPC__SET_IPTABLES_REQUEST__INIT;
	s.data.data = data;
	s.data.len = big;
	Grpc__SetIPTablesResponse *sr = NULL;
	code = call("SetIPTables", &s.base, &grpc__set_iptables_response__descriptor,
	            (ProtobufCMessage **)&sr, NULL);
	CHECK(code == 0 && sr && sr->data.len == 12 &&
	          memcmp(sr->data.data, "restored-ok\n", 12) == 0,
	      "SetIPTables: %d", code);
	if (sr)
		protobuf_c_message_free_unpacked(&sr->base, NULL);
	char path[128];
	snprintf(path, sizeof(path), "%s/restored", tooldir);
	FILE *f = fopen(path, "r");
	uint8_t *back = malloc(big + 1);
	size_t got = f ? fread(back, 1, big + 1, f) : 0;
	if (f)
		fclose(f);
	CHECK(got == big && memcmp(back, data, big) == 0, "iptables-restore read all input (%zu)",
	      got);
	free(back);
	free(data);

	s.is_ipv6 = 1;
	s.data.data = (uint8_t *)"junk\n";
	s.data.len = 5;
	code = call_msg("SetIPTables", &s.base, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "exit status 2") &&
	          contains(msg, "line 2: bad rule"),
	      "failing restore: %d %s", code, msg);
	free(msg);

	/* A call abandoned at its deadline: the child runs on, is reaped, and nothing is sent. */
	write_tool("iptables-restore", "cat >/dev/null; sleep 0.3; echo late");
	s.is_ipv6 = 0;
	size_t n = protobuf_c_message_get_packed_size(&s.base);
	uint8_t *p = malloc(n);
	protobuf_c_message_pack(&s.base, p);
	long stream = ttrpc_client_send(&cl, "grpc.AgentService", "SetIPTables", p, n, 50000000);
	free(p);
	struct ttrpc_result r = {0};
	int rc = -ETIMEDOUT;
	for (int i = 0; i < 1000 && rc == -ETIMEDOUT; i++) {
		loop_run_once(agent.loop, 2);
		rc = ttrpc_client_recv(&cl, 0, &r);
	}
	CHECK(rc == 0 && r.stream_id == (uint32_t)stream && r.code == TTRPC_DEADLINE_EXCEEDED,
	      "deadline: %d code %d", rc, r.code);
	if (rc == 0)
		ttrpc_result_free(&r);
	int reaped = 0;
	for (int i = 0; i < 1000 && !reaped; i++) {
		loop_run_once(agent.loop, 2);
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0)
			reaped = net_child_exited(pid, st);
	}
	CHECK(reaped == 1, "abandoned child reaped and claimed");
	CHECK(net_child_exited(999999, 0) == 0, "a stranger's pid is not ours");
	for (int i = 0; i < 20; i++)
		loop_run_once(agent.loop, 2);
	CHECK(ttrpc_client_recv(&cl, 0, &r) == -ETIMEDOUT, "no late reply");
	sh("rm -rf %s", tooldir);
}

/* A guest with IPv6 off: IPv6 addresses and routes are skipped, the rest applied (upstream's
 * behaviour since 2025-05); before, the whole UpdateInterface failed. */
static void test_ipv6_disabled(void)
{
	if (sh("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6") != 0) {
		CHECK(0, "cannot disable IPv6 in the test namespace");
		return;
	}
	Types__IPAddress a[2],
	    *ips[2] = {ipaddr(&a[0], 1, "fd00::9", "64"), ipaddr(&a[1], 0, "10.30.0.2", "24")};
	char *msg = NULL;
	int code = update_iface(MAC_B, "eth1", 1500, 0, ips, 2, NULL, &msg);
	CHECK(code == 0, "UpdateInterface with IPv6 off: %d %s", code, msg);
	free(msg);
	msg = NULL;
	CHECK(ip_has("addr show dev eth1",
	             "{\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.30.0.2\"}]}") &&
	          ip_lacks("addr show dev eth1", "{\"addr_info\":[{\"family\":\"inet6\"}]}"),
	      "IPv4 address applied, IPv6 one skipped");
	Types__Route r[2],
	    *rs[2] = {route(&r[0], 1, "fd02::/64", "", "eth1", "", 0, 0),
	              route(&r[1], 0, "10.31.0.0/16", "", "eth1", "", RT_SCOPE_LINK, 0)};
	Grpc__Routes *out = NULL;
	code = update_routes(rs, 2, &out, &msg);
	CHECK(code == 0, "UpdateRoutes with IPv6 off: %d %s", code, msg);
	CHECK(out && find_route(out, "10.31.0.0/16", "eth1") &&
	          !find_route(out, "fd02::/64", "eth1"),
	      "IPv4 route applied, IPv6 one skipped");
	if (out)
		protobuf_c_message_free_unpacked(&out->base, NULL);
	free(msg);
	sh("echo 0 > /proc/sys/net/ipv6/conf/all/disable_ipv6");
}

/* UpdateInterface naming a NIC by PCI path that has not appeared yet: the call parks until the
 * net uevent under that path (here fed by hand, as the kernel would send it on hotplug), then
 * configures the link; without the event it fails with "Link not found" after the hotplug
 * timeout (what the Go runtime retries on). */
static void test_device_path_wait(void)
{
	agent.cfg.hotplug_timeout_s = 5;
	Types__IPAddress a[1], *ips[1] = {ipaddr(&a[0], 0, "10.50.0.2", "24")};
	Types__Interface in = TYPES__INTERFACE__INIT;
	in.hwaddr = "02:00:00:00:00:31";
	in.name = "eth7";
	in.device = "eth7";
	in.mtu = 1500;
	in.devicepath = "02/01";
	in.ipaddresses = ips;
	in.n_ipaddresses = 1;
	Grpc__UpdateInterfaceRequest rq = GRPC__UPDATE_INTERFACE_REQUEST__INIT;
	rq.interface = &in;
	size_t n = protobuf_c_message_get_packed_size(&rq.base);
	uint8_t *buf = malloc(n);
	protobuf_c_message_pack(&rq.base, buf);
	long id = ttrpc_client_send(&cl, "grpc.AgentService", "UpdateInterface", buf, n, 0);
	free(buf);
	for (int i = 0; i < 20; i++)
		loop_run_once(agent.loop, 5);
	struct ttrpc_result res;
	CHECK(ttrpc_client_recv(&cl, 0, &res) == -ETIMEDOUT,
	      "UpdateInterface parked while the NIC is missing");
	/* The NIC arrives: the link, then its uevent (another PCI path's event is ignored). */
	sh("ip link add h0 address 02:00:00:00:00:31 type veth peer name h1");
	struct uevent other = {.action = "add",
	                       .subsystem = "net",
	                       .devname = "",
	                       .devpath = "/devices/pci0000:00/0000:00:03.0/virtio9/net/h9",
	                       .interface = "h9",
	                       .major = -1,
	                       .minor = -1};
	uevent_dispatch(&other);
	for (int i = 0; i < 10; i++)
		loop_run_once(agent.loop, 5);
	CHECK(ttrpc_client_recv(&cl, 0, &res) == -ETIMEDOUT,
	      "a NIC at another PCI path does not end the wait");
	struct uevent ev = other;
	ev.devpath = "/devices/pci0000:00/0000:00:02.0/0000:01:01.0/virtio5/net/h0";
	ev.interface = "h0";
	uevent_dispatch(&ev);
	int got = -1;
	for (int i = 0; i < 200 && got != 0; i++) {
		loop_run_once(agent.loop, 5);
		got = ttrpc_client_recv(&cl, 0, &res);
	}
	CHECK(got == 0 && res.stream_id == (uint32_t)id && res.code == 0,
	      "UpdateInterface answered once the NIC appeared: %d code %d %s", got,
	      got == 0 ? res.code : -1, got == 0 ? res.message : "");
	if (got == 0)
		ttrpc_result_free(&res);
	CHECK(ip_has("addr show dev eth7", "{\"addr_info\":[{\"local\":\"10.50.0.2\"}]}"),
	      "the hot-plugged NIC is configured");

	/* Never appears: "Link not found" after the hotplug timeout (1 s here). */
	agent.cfg.hotplug_timeout_s = 1;
	in.hwaddr = "02:00:00:00:00:32";
	in.name = "eth8";
	in.devicepath = "04";
	char *msg = NULL;
	int code = call("UpdateInterface", &rq.base, &types__interface__descriptor, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && msg && strstr(msg, "Link not found"),
	      "no NIC at the path: %d %s", code, msg ? msg : "");
	free(msg);
}

/* A guest restored from a VM template: its NIC carries the template's MAC, so no link has the
 * requested one.  The link of the requested name takes the new MAC and the configuration; a
 * name that matches nothing, or only loopback, still fails with "Link not found". */
static void test_template_restore(void)
{
	CHECK(sh("ip link add t0 address 02:00:00:00:00:31 type veth peer name t1 && "
	         "ip link set t1 up && ip link set t0 up") == 0,
	      "veth t0 with the template's MAC");
	Types__IPAddress a, *ips[1] = {ipaddr(&a, 0, "10.40.0.2", "24")};
	char *msg = NULL;
	int code = update_iface("02:00:00:00:00:41", "t0", 1450, 0, ips, 1, NULL, &msg);
	CHECK(code == 0, "UpdateInterface of a restored guest's NIC: %d %s", code, msg);
	free(msg);
	CHECK(ip_has("link show dev t0",
	             "{\"address\":\"02:00:00:00:00:41\",\"mtu\":1450,\"flags\":[\"UP\"]}"),
	      "t0 has the requested MAC, MTU and is up");
	CHECK(ip_has("addr show dev t0", "{\"addr_info\":[{\"local\":\"10.40.0.2\"}]}"),
	      "t0 has the requested address");
	/* Found by its (new) MAC from now on, as any NIC. */
	code = update_iface("02:00:00:00:00:41", "t0", 1500, 0, ips, 1, NULL, &msg);
	CHECK(code == 0 && ip_has("link show dev t0", "{\"mtu\":1500}"), "second update: %d %s",
	      code, msg);
	free(msg);
	code = update_iface("02:00:00:00:00:51", "t9", 1500, 0, NULL, 0, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL &&
	          contains(msg, "Link not found (Address: 02:00:00:00:00:51)"),
	      "unknown MAC and unknown name: %d %s", code, msg);
	free(msg);
	code = update_iface("02:00:00:00:00:52", "lo", 1500, 0, NULL, 0, NULL, &msg);
	CHECK(code == TTRPC_INTERNAL && contains(msg, "Link not found") &&
	          ip_has("link show dev lo", "{\"address\":\"00:00:00:00:00:00\"}"),
	      "loopback never takes a MAC: %d %s", code, msg);
	free(msg);
	sh("ip link del t0");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s MATCHER.py\n", argv[0]);
		return 2;
	}
	matcher = argv[1];
	if (geteuid() != 0) {
		fprintf(stderr, "test_network: needs root (network namespace)\n");
		return 1;
	}
	/* Everything below happens in a namespace of our own: never on the host's links. */
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return 1;
	}
	if (sh("ip link set lo up && "
	       "ip link add v0 address " MAC_A
	       " type veth peer name v1 address 02:00:00:00:00:02 && "
	       "ip link add a0 address " MAC_B
	       " type veth peer name a1 address 02:00:00:00:00:12 && "
	       "ip link set v1 up && ip link set a1 up") != 0) {
		fprintf(stderr, "cannot create veth links\n");
		return 1;
	}
	/* uevents without the netlink socket; sysfs writes (PCI rescan) go to a scratch tree. */
	static char fake_sys[] = "/tmp/test-network-sys.XXXXXX";
	if (!mkdtemp(fake_sys)) {
		perror("mkdtemp");
		return 1;
	}
	uevent_sysfs = fake_sys;
	sh("mkdir -p %s/block %s/bus/pci", fake_sys, fake_sys);
	server_start();
	if (uevent_init(agent.loop) < 0) {
		fprintf(stderr, "uevent_init failed\n");
		return 1;
	}
	test_links_direct();
	test_update_interface();
	test_update_interface_errors();
	test_rename_conflict();
	test_update_routes();
	test_update_routes_errors();
	test_list_routes();
	test_list_interfaces();
	test_neighbors();
	test_ipv6_disabled();
	test_device_path_wait();
	test_template_restore();
	test_iptables();
	ttrpc_server_free(srv);
	loop_free(agent.loop);
	close(cl.fd);
	net_close();
	sh("rm -rf %s", fake_sys);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

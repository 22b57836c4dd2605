/* test_network's cases that depend on the guest's state: GetIPTables/SetIPTables with fake
 * iptables tools, a guest with IPv6 disabled, a NIC hot-plugged after UpdateInterface names its
 * PCI path, and a guest restored from a VM template. */
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "loop.h"
#include "net.h"
#include "network_harness.h"
#include "rpc_network.h"
#include "ttrpc.h"
#include "uevent.h"

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

void test_iptables(void)
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
void test_ipv6_disabled(void)
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
void test_device_path_wait(void)
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
void test_template_restore(void)
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

// SPDX-License-Identifier: Apache-2.0
// vsock-probe: run inside a guest container by the VM sequence, it tries to reach the agent's
// vsock ports the way a hostile container process would.  Only the host may talk to the agent
// (README, "Only the host may talk to the agent"): the guest kernel has no loopback transport,
// and the agent closes any connection whose peer is not CID 2.
//
//   vsock-probe PORT[,PORT...] CID...
//
// One line per (CID, PORT): "cid C port P: refused (ERRNO)" when connect() fails,
// "cid C port P: closed by the peer" when it connects but the peer hangs up without a byte,
// "cid C port P: OPEN" when the connection stays open (or yields data) for 2 s.
// Exit status 0 when no pair was OPEN, 1 when one was, 2 on usage or setup errors.
// Never CID 2: the probe is for the guest's own CIDs (1, the local CID, or the guest's).
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// Static builds for both guest architectures, without kernel headers: the ABI is small.
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define PROBE_CID_HOST 2u

struct probe_sockaddr_vm {
	unsigned short svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[sizeof(struct sockaddr) - sizeof(unsigned short) * 2 -
	                       sizeof(unsigned int) * 2 - 1];
};

static int parse_u32(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > 0xffffffffUL)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

// 1 when the connection is OPEN, 0 when refused or closed by the peer, -1 on a setup error.
static int probe(unsigned int cid, unsigned int port)
{
	struct probe_sockaddr_vm addr = {.svm_family = AF_VSOCK, .svm_port = port, .svm_cid = cid};
	struct pollfd p = {.events = POLLIN};
	char byte;
	int r;

	p.fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p.fd < 0) {
		printf("cid %u port %u: no vsock socket (%s)\n", cid, port, strerror(errno));
		return -1;
	}
	if (connect(p.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		printf("cid %u port %u: refused (%s)\n", cid, port, strerror(errno));
		close(p.fd);
		return 0;
	}
	r = poll(&p, 1, 2000);
	if (r == 1 && read(p.fd, &byte, 1) == 0) {
		printf("cid %u port %u: closed by the peer\n", cid, port);
		close(p.fd);
		return 0;
	}
	printf("cid %u port %u: OPEN\n", cid, port);
	close(p.fd);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned int ports[8], n_ports = 0, cid;
	int open_seen = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: vsock-probe PORT[,PORT...] CID...\n");
		return 2;
	}
	for (char *tok = strtok(argv[1], ","); tok; tok = strtok(NULL, ",")) {
		if (n_ports == sizeof(ports) / sizeof(ports[0]) ||
		    parse_u32(tok, &ports[n_ports]) < 0) {
			fprintf(stderr, "vsock-probe: bad port list\n");
			return 2;
		}
		n_ports++;
	}
	for (int i = 2; i < argc; i++) {
		if (parse_u32(argv[i], &cid) < 0 || cid == PROBE_CID_HOST) {
			fprintf(stderr,
			        "vsock-probe: bad CID '%s' (the host's CID 2 is never probed)\n",
			        argv[i]);
			return 2;
		}
		for (unsigned int k = 0; k < n_ports; k++) {
			int r = probe(cid, ports[k]);
			if (r < 0)
				return 2;
			open_seen |= r;
		}
	}
	return open_seen ? 1 : 0;
}

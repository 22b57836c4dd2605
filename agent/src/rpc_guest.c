// SPDX-License-Identifier: Apache-2.0
/* Guest-wide RPCs: SetGuestDateTime, ReseedRandomDev, MemHotplugByProbe, GetMetrics,
 * GetVolumeStats, AddSwap, AddSwapPath, CopyFile (docs/PROTOCOL.md §2.4 #26, #32, #34-36, #38-40).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <sys/swap.h>
#include <sys/time.h>
#include <unistd.h>

#include "agent.h"
#include "agent.pb-c.h"
#include "copy_file.h"
#include "csi.pb-c.h"
#include "device.h"
#include "log.h"
#include "process.h"
#include "rpc.h"
#include "sandbox.h"

void rpc_set_guest_date_time(struct ttrpc_call *call, const void *msg)
{
	const Grpc__SetGuestDateTimeRequest *req = msg;
	struct timeval tv = {.tv_sec = req->sec, .tv_usec = req->usec};
	if (req->usec < 0 || req->usec >= 1000000) {
		ttrpc_fail(call, TTRPC_INVALID_ARGUMENT, "usec out of range: %lld",
		           (long long)req->usec);
		return;
	}
	if (settimeofday(&tv, NULL) < 0)
		ttrpc_fail(call, TTRPC_INTERNAL, "settimeofday: %s", strerror(errno));
	else
		ttrpc_reply(call, NULL);
}

void rpc_reseed_random_dev(struct ttrpc_call *call, const void *msg)
{
	const Grpc__ReseedRandomDevRequest *req = msg;
	_cleanup_close_ int fd = open("/dev/random", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "/dev/random: %s", strerror(errno));
		return;
	}
	if (req->data.len > 0 && write_all(fd, req->data.data, req->data.len) < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "writing /dev/random: %s", strerror(errno));
		return;
	}
	/* Credit the entropy and reseed now (needs CAP_SYS_ADMIN; a guest agent has it). */
	int bits = (int)(req->data.len > 0x0fffffff ? 0x7ffffff8 : req->data.len * 8);
	if (ioctl(fd, RNDADDTOENTCNT, &bits) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "crediting entropy: %s", strerror(errno));
		return;
	}
	ttrpc_reply(call, NULL);
}

void rpc_mem_hotplug_by_probe(struct ttrpc_call *call, const void *msg)
{
	const Grpc__MemHotplugByProbeRequest *req = msg;
	for (size_t i = 0; i < req->n_memhotplugprobeaddr; i++) {
		char v[32];
		snprintf(v, sizeof(v), "0x%llX", (unsigned long long)req->memhotplugprobeaddr[i]);
		if (write_file("/sys/devices/system/memory/probe", v) < 0) {
			ttrpc_fail(call, TTRPC_INTERNAL, "probing memory at %s: %s", v,
			           strerror(errno));
			return;
		}
	}
	ttrpc_reply(call, NULL);
}

static unsigned count_dir(const char *path)
{
	DIR *d = opendir(path);
	unsigned n = 0;
	if (!d)
		return 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n >= 2 ? n - 2 : 0;
}

static unsigned long long status_kb(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;
	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

void rpc_get_metrics(struct ttrpc_call *call, const void *msg)
{
	_cleanup_free_ char *st = NULL, *mi = NULL, *la = NULL;
	read_file("/proc/self/status", 16384, &st);
	read_file("/proc/meminfo", 16384, &mi);
	read_file("/proc/loadavg", 256, &la);
	char buf[4096];
	double l1 = la ? strtod(la, NULL) : 0;
	snprintf(buf, sizeof(buf),
	         "# HELP kata_agent_rss_bytes Resident memory of the agent.\n"
	         "# TYPE kata_agent_rss_bytes gauge\nkata_agent_rss_bytes %llu\n"
	         "# HELP kata_agent_open_fds Open file descriptors of the agent.\n"
	         "# TYPE kata_agent_open_fds gauge\nkata_agent_open_fds %u\n"
	         "# HELP kata_agent_containers Containers known to the agent.\n"
	         "# TYPE kata_agent_containers gauge\nkata_agent_containers %u\n"
	         "# HELP kata_agent_processes Processes tracked by the agent.\n"
	         "# TYPE kata_agent_processes gauge\nkata_agent_processes %u\n"
	         "# HELP kata_agent_connections Open ttrpc connections.\n"
	         "# TYPE kata_agent_connections gauge\nkata_agent_connections %u\n"
	         "# HELP kata_guest_load1 Guest one-minute load average.\n"
	         "# TYPE kata_guest_load1 gauge\nkata_guest_load1 %.2f\n"
	         "# HELP kata_guest_meminfo_bytes Guest /proc/meminfo.\n"
	         "# TYPE kata_guest_meminfo_bytes gauge\n"
	         "kata_guest_meminfo_bytes{item=\"MemTotal\"} %llu\n"
	         "kata_guest_meminfo_bytes{item=\"MemFree\"} %llu\n"
	         "kata_guest_meminfo_bytes{item=\"MemAvailable\"} %llu\n",
	         status_kb(st, "VmRSS:") * 1024, count_dir("/proc/self/fd"), sandbox.nctrs,
	         proc_count(), ttrpc_server_nconns(agent.srv), l1,
	         status_kb(mi, "MemTotal:") * 1024, status_kb(mi, "MemFree:") * 1024,
	         status_kb(mi, "MemAvailable:") * 1024);
	Grpc__Metrics m = GRPC__METRICS__INIT;
	m.metrics = buf;
	ttrpc_reply(call, &m.base);
}

void rpc_get_volume_stats(struct ttrpc_call *call, const void *msg)
{
	const Grpc__VolumeStatsRequest *req = msg;
	struct statvfs s;
	if (!req->volume_guest_path || !*req->volume_guest_path ||
	    statvfs(req->volume_guest_path, &s) < 0) {
		ttrpc_fail(call, TTRPC_INTERNAL, "statfs %s: %s", req->volume_guest_path,
		           strerror(errno ? errno : EINVAL));
		return;
	}
	Grpc__VolumeUsage bytes = GRPC__VOLUME_USAGE__INIT, inodes = GRPC__VOLUME_USAGE__INIT;
	bytes.total = (uint64_t)s.f_blocks * s.f_frsize;
	bytes.available = (uint64_t)s.f_bavail * s.f_frsize;
	bytes.used = (uint64_t)(s.f_blocks - s.f_bfree) * s.f_frsize;
	bytes.unit = GRPC__VOLUME_USAGE__UNIT__BYTES;
	inodes.total = s.f_files;
	inodes.available = s.f_favail;
	inodes.used = s.f_files - s.f_ffree;
	inodes.unit = GRPC__VOLUME_USAGE__UNIT__INODES;
	Grpc__VolumeUsage *u[] = {&bytes, &inodes};
	Grpc__VolumeStatsResponse r = GRPC__VOLUME_STATS_RESPONSE__INIT;
	r.usage = u;
	r.n_usage = 2;
	ttrpc_reply(call, &r.base);
}

void rpc_add_swap_path(struct ttrpc_call *call, const void *msg)
{
	const Grpc__AddSwapPathRequest *req = msg;
	if (!req->path || swapon(req->path, 0) < 0)
		ttrpc_fail(call, TTRPC_INTERNAL, "swapon %s: %s", req->path,
		           strerror(errno ? errno : EINVAL));
	else
		ttrpc_reply(call, NULL);
}

struct swap_op {
	struct ttrpc_call *call;
	struct device_req *dreq;
};

static void swap_dev_done(void *data, const struct agent_err *e, struct device_result *res,
                          size_t n)
{
	struct swap_op *op = data;
	struct ttrpc_call *call = op->call;
	free(op);
	if (e)
		rpc_fail_err(call, TTRPC_INTERNAL, e->code, e);
	else if (n < 1)
		ttrpc_fail(call, TTRPC_INTERNAL, "swap device not found");
	else if (swapon(res[0].vm_path, 0) < 0)
		ttrpc_fail(call, TTRPC_INTERNAL, "swapon %s: %s", res[0].vm_path, strerror(errno));
	else
		ttrpc_reply(call, NULL);
}

static void swap_cancel(struct ttrpc_call *call, void *data)
{
	struct swap_op *op = data;
	if (op->dreq)
		device_req_cancel(op->dreq);
	free(op);
}

void rpc_add_swap(struct ttrpc_call *call, const void *msg)
{
	const Grpc__AddSwapRequest *req = msg;
	struct swap_op *op = calloc(1, sizeof(*op));
	if (!op) {
		ttrpc_fail(call, TTRPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	op->call = call;
	if (ttrpc_park(call, swap_cancel, op) < 0) {
		free(op);
		return;
	}
	int r = device_wait_pci_block(req->pcipath, req->n_pcipath, swap_dev_done, op, &op->dreq);
	if (r < 0) {
		free(op);
		ttrpc_fail(call, TTRPC_INTERNAL, "waiting for the swap device: %s", strerror(-r));
	}
}

void rpc_copy_file(struct ttrpc_call *call, const void *msg)
{
	const Grpc__CopyFileRequest *req = msg;
	struct copy_file_req r = {
	    .path = req->path,
	    .file_size = req->file_size,
	    .file_mode = req->file_mode,
	    .dir_mode = req->dir_mode,
	    .uid = req->uid,
	    .gid = req->gid,
	    .offset = req->offset,
	    .data = req->data.data,
	    .len = req->data.len,
	};
	struct agent_err err = {0};
	int rc = copy_file(SHARED_DIR, &r, &err);
	if (rc < 0)
		rpc_fail_err(call, TTRPC_INTERNAL, rc, &err);
	else
		ttrpc_reply(call, NULL);
}

// SPDX-License-Identifier: Apache-2.0
/* Device waits for CreateContainer and AddSwap (docs/PROTOCOL.md §4.4).  Every device of a request
 * is waited for at once; the first failure cancels the rest. */
#include "device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "log.h"
#include "storage.h"
#include "uevent.h"

struct dev_item {
	struct device_req *req;
	struct uevent_waiter w;
	struct uevent_blk blk;
	char *type, *id;
	struct device_result res;
	bool ready;
};

struct device_req {
	struct dev_item *items;
	size_t n, pending;
	device_done_fn done;
	void *data;
	struct device_req **ret;
	bool starting, finished;
	bool swap;            /* AddSwap: no container_path */
	struct agent_err err; /* why the request failed */
};

static const struct {
	const char *type;
	int kind; /* enum uevent_blk_kind, or -1: recognised but not handled here */
	bool by_id;
} types[] = {
    {"blk", UEVENT_BLK_PCI, true},   {"mmioblk", UEVENT_BLK_NAME, false},
    {"scsi", UEVENT_BLK_SCSI, true}, {"nvdimm", UEVENT_BLK_NAME, false},
    {"blk-ccw", -1, true},           {"vfio-pci", -1, true},
    {"vfio-pci-gk", -1, true},       {"vfio-ap", -1, true},
    {"vfio-ap-cold", -1, true},
};

static void req_free(struct device_req *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct dev_item *it = &r->items[i];
		uevent_wait_cancel(&it->w);
		free(it->type);
		free(it->id);
		free(it->res.container_path);
		free(it->res.vm_path);
	}
	free(r->items);
	free(r);
}

static void req_finish(struct device_req *r, int err)
{
	struct device_result *res = NULL;
	if (err == 0 && r->n > 0) {
		res = calloc(r->n, sizeof(*res));
		if (!res) {
			err = err_msg(&r->err, -ENOMEM, "out of memory");
		}
	}
	for (size_t i = 0; res && i < r->n; i++)
		res[i] = r->items[i].res;
	for (size_t i = 0; i < r->n; i++)
		uevent_wait_cancel(&r->items[i].w);
	if (r->ret)
		*r->ret = NULL;
	r->finished = true;
	r->done(r->data, err < 0 ? &r->err : NULL, res, res ? r->n : 0);
	free(res);
	if (!r->starting)
		req_free(r);
}

static void item_fail(struct dev_item *it, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void item_fail(struct dev_item *it, int err, const char *fmt, ...)
{
	struct agent_err *e = &it->req->err;
	e->code = err;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	err_wrap(e, err, "device %zu (type %s, id %.128s)", (size_t)(it - it->req->items), it->type,
	         it->id);
	req_finish(it->req, err);
}

/* Record the device node of a matched event.  Returns 0 or fails the request (-errno). */
static int item_found(struct dev_item *it, const struct uevent *ev)
{
	const char *name = uevent_blk_devname(ev);
	if (asprintf(&it->res.vm_path, "%s/%s", storage_dev_dir, name) < 0) {
		it->res.vm_path = NULL;
		item_fail(it, -ENOMEM, "out of memory");
		return -ENOMEM;
	}
	if (ev->major >= 0 && ev->minor >= 0) {
		it->res.major = (unsigned)ev->major;
		it->res.minor = (unsigned)ev->minor;
	} else {
		struct stat st;
		if (stat(it->res.vm_path, &st) < 0 || !S_ISBLK(st.st_mode)) {
			int e = errno ? -errno : -ENODEV;
			item_fail(it, e, "no major/minor for %s", it->res.vm_path);
			return e;
		}
		it->res.major = major(st.st_rdev);
		it->res.minor = minor(st.st_rdev);
	}
	it->ready = true;
	it->req->pending--;
	return 0;
}

static void on_device(struct uevent_waiter *w, int err, const struct uevent *ev)
{
	struct dev_item *it = container_of(w, struct dev_item, w);
	struct device_req *r = it->req;
	if (err < 0) {
		item_fail(it, err, "Timeout after %gs waiting for uevent for %s",
		          (double)storage_timeout_ns() / 1e9, it->blk.what);
		return;
	}
	if (item_found(it, ev) < 0)
		return;
	if (r->pending == 0)
		req_finish(r, 0);
}

static int item_init(struct dev_item *it, const Grpc__Device *d)
{
	it->type = strdup(d->type ? d->type : "");
	it->id = strdup(d->id ? d->id : "");
	it->res.container_path = strdup(d->container_path ? d->container_path : "");
	return it->type && it->id && it->res.container_path ? 0 : -ENOMEM;
}

/* Validate and start one wait.  Returns 0 (waiting or found) or -errno after failing r. */
static int item_start(struct dev_item *it, const char *vm_path)
{
	if (!*it->type) {
		item_fail(it, -EINVAL, "invalid type for device");
		return -EINVAL;
	}
	if (!*it->id && !*vm_path) {
		item_fail(it, -EINVAL, "invalid ID and VM path for device");
		return -EINVAL;
	}
	if (!*it->res.container_path && !it->req->swap) {
		item_fail(it, -EINVAL, "invalid container path for device");
		return -EINVAL;
	}
	size_t t = 0;
	while (t < ARRAY_SIZE(types) && strcmp(types[t].type, it->type) != 0)
		t++;
	if (t == ARRAY_SIZE(types)) {
		item_fail(it, -EINVAL, "Failed to find the device handler %s", it->type);
		return -EINVAL;
	}
	if (types[t].kind < 0) {
		item_fail(it, -EOPNOTSUPP, "device type %s is not supported by this agent",
		          it->type);
		return -EOPNOTSUPP;
	}
	enum uevent_blk_kind kind = (enum uevent_blk_kind)types[t].kind;
	const char *src = types[t].by_id ? it->id : vm_path;
	if (kind == UEVENT_BLK_PCI && !*it->id) {
		kind = UEVENT_BLK_NAME;
		src = vm_path;
	}
	int r = uevent_blk_parse(kind, src, &it->blk);
	if (r < 0) {
		item_fail(it, r, "cannot parse \"%.64s\"", src);
		return r;
	}
	struct uevent ev;
	it->w.cb = on_device;
	r = uevent_wait_blk(&it->w, &it->blk, storage_timeout_ns(), &ev);
	if (r < 0) {
		item_fail(it, r, "cannot wait for %s: %s", it->blk.what,
		          r == -ENOTCONN ? "no uevent listener" : strerror(-r));
		return r;
	}
	return r > 0 ? item_found(it, &ev) : 0;
}

static struct device_req *req_new(size_t n, device_done_fn done, void *data)
{
	struct device_req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->items = calloc(n ? n : 1, sizeof(*r->items));
	if (!r->items) {
		free(r);
		return NULL;
	}
	r->n = r->pending = n;
	r->done = done;
	r->data = data;
	for (size_t i = 0; i < n; i++)
		r->items[i].req = r;
	return r;
}

static int req_run(struct device_req *r, Grpc__Device *const *d, struct device_req **ret)
{
	r->starting = true;
	for (size_t i = 0; i < r->n && !r->finished; i++)
		item_start(&r->items[i], d && d[i]->vm_path ? d[i]->vm_path : "");
	if (!r->finished && r->pending == 0)
		req_finish(r, 0);
	r->starting = false;
	if (r->finished) {
		req_free(r);
		return 0;
	}
	r->ret = ret;
	if (ret)
		*ret = r;
	return 0;
}

int device_wait_all(Grpc__Device *const *d, size_t n, device_done_fn done, void *data,
                    struct device_req **ret)
{
	if (ret)
		*ret = NULL;
	struct device_req *r = req_new(n, done, data);
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (item_init(&r->items[i], d[i]) < 0) {
			req_free(r);
			return -ENOMEM;
		}
	}
	return req_run(r, d, ret);
}

void device_req_cancel(struct device_req *r)
{
	if (!r)
		return;
	if (r->ret)
		*r->ret = NULL;
	req_free(r);
}

int device_wait_pci_block(const uint32_t *slots, size_t n, device_done_fn done, void *data,
                          struct device_req **ret)
{
	if (ret)
		*ret = NULL;
	struct device_req *r = req_new(1, done, data);
	if (!r)
		return -ENOMEM;
	r->swap = true;
	struct dev_item *it = &r->items[0];
	char path[16 * 3 + 1] = "";
	size_t len = 0;
	bool bad = n == 0 || n > 16;
	for (size_t i = 0; i < n && !bad; i++) {
		bad = slots[i] > 0x1f;
		len += (size_t)snprintf(path + len, sizeof(path) - len, "%s%02x", i ? "/" : "",
		                        bad ? 0 : slots[i]);
	}
	it->type = strdup("blk");
	it->id = strdup(path);
	it->res.container_path = strdup("");
	if (!it->type || !it->id || !it->res.container_path) {
		req_free(r);
		return -ENOMEM;
	}
	if (bad) {
		r->starting = true;
		item_fail(it, -EINVAL, "invalid PCI path (%zu slots)", n);
		req_free(r);
		return 0;
	}
	return req_run(r, NULL, ret);
}

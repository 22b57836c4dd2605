/* pbjson, output side: protobuf-c message -> JSON text (mapping in pbjson.h). */

#include "pbjson.h"
#include "pbjson_internal.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const uint8_t *p, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? b64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* Copy `s`, replacing bytes that are not well-formed UTF-8 with U+FFFD. */
static char *utf8_sanitize(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1), *o = out;
	const unsigned char *p = (const unsigned char *)s;

	if (!out)
		return NULL;
	while (*p) {
		size_t k = 0;
		uint32_t cp = 0;
		if (*p < 0x80)
			k = 1, cp = *p;
		else if ((*p & 0xe0) == 0xc0)
			k = 2, cp = *p & 0x1f;
		else if ((*p & 0xf0) == 0xe0)
			k = 3, cp = *p & 0x0f;
		else if ((*p & 0xf8) == 0xf0)
			k = 4, cp = *p & 0x07;
		bool ok = k > 0;
		for (size_t i = 1; ok && i < k; i++) {
			ok = (p[i] & 0xc0) == 0x80;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Reject overlong forms, surrogates and values past U+10FFFF. */
		if (ok &&
		    ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
		     (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
			ok = false;
		if (ok) {
			memcpy(o, p, k);
			o += k;
			p += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	*o = '\0';
	return out;
}

static struct json_object *json_from_double(double d)
{
	if (isnan(d))
		return json_object_new_string("NaN");
	if (isinf(d))
		return json_object_new_string(d > 0 ? "Infinity" : "-Infinity");
	return json_object_new_double(d);
}

/* Output options: bytes fields past max_bytes (0: no limit) are cut, and flagged. */
struct out_ctx {
	size_t max_bytes;
	bool truncated;
};

static int msg_to_json(struct out_ctx *cx, const ProtobufCMessage *m, struct json_object **ret);

static int value_to_json(struct out_ctx *cx, const ProtobufCFieldDescriptor *f, const void *slot,
                         struct json_object **ret)
{
	struct json_object *v = NULL;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		v = json_object_new_int64(*(const int32_t *)slot);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		v = json_object_new_int64(*(const uint32_t *)slot);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		v = json_object_new_int64(*(const int64_t *)slot);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		v = json_object_new_uint64(*(const uint64_t *)slot);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		v = json_from_double(*(const float *)slot);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		v = json_from_double(*(const double *)slot);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		v = json_object_new_boolean(*(const protobuf_c_boolean *)slot);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)slot);
		v = ev ? json_object_new_string(ev->name)
		       : json_object_new_int64(*(const int *)slot);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)slot;
		_cleanup_free_ char *clean = utf8_sanitize(s ? s : "");
		if (clean)
			v = json_object_new_string(clean);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = slot;
		bool cut = cx->max_bytes > 0 && bd->len > cx->max_bytes;
		_cleanup_free_ char *b64 = b64_encode(bd->data, cut ? cx->max_bytes : bd->len);
		if (!b64)
			break;
		if (!cut) {
			v = json_object_new_string(b64);
			break;
		}
		/* "..." is not base64: a cut value can never be taken for the real one. */
		_cleanup_free_ char *s = NULL;
		if (asprintf(&s, "%s...(%zu bytes)", b64, bd->len) >= 0)
			v = json_object_new_string(s);
		cx->truncated = true;
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;
		if (!sub)
			v = json_object_new_object();
		else
			return msg_to_json(cx, sub, ret);
		break;
	}
	}
	if (!v)
		return -ENOMEM;
	*ret = v;
	return 0;
}

/* Is a singular, non-oneof field at its default (and so left out)? */
static bool is_default(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *slot = (const char *)m + f->offset;

	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return false;
	switch (f->type) {
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)slot == NULL;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)slot;
		return !s || (f->label == PROTOBUF_C_LABEL_NONE && !*s);
	}
	default:
		break;
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
		return !*(const protobuf_c_boolean *)((const char *)m + f->quantifier_offset);
	if (f->type == PROTOBUF_C_TYPE_BYTES)
		return ((const ProtobufCBinaryData *)slot)->len == 0;
	if (f->type == PROTOBUF_C_TYPE_FLOAT)
		return *(const float *)slot == 0 && !signbit(*(const float *)slot);
	if (f->type == PROTOBUF_C_TYPE_DOUBLE)
		return *(const double *)slot == 0 && !signbit(*(const double *)slot);
	static const char zero[8];
	return memcmp(slot, zero, pbjson_type_size(f->type)) == 0;
}

static int map_to_json(struct out_ctx *cx, const ProtobufCFieldDescriptor *f,
                       ProtobufCMessage *const *arr, size_t n, struct json_object *out)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = protobuf_c_message_descriptor_get_field(ed, 1);
	const ProtobufCFieldDescriptor *vf = protobuf_c_message_descriptor_get_field(ed, 2);

	for (size_t i = 0; i < n; i++) {
		_cleanup_json_ struct json_object *k = NULL;
		struct json_object *v = NULL;
		int r;

		r = value_to_json(cx, kf, (const char *)arr[i] + kf->offset, &k);
		if (r == 0)
			r = value_to_json(cx, vf, (const char *)arr[i] + vf->offset, &v);
		if (r < 0)
			return r;
		/* A repeated key on the wire: the last entry wins, as in protobuf. */
		const char *ks = json_object_is_type(k, json_type_string)
		                     ? json_object_get_string(k)
		                     : json_object_to_json_string(k);
		if (json_object_object_add(out, ks, v) < 0) {
			json_object_put(v);
			return -ENOMEM;
		}
	}
	return 0;
}

static int msg_to_json(struct out_ctx *cx, const ProtobufCMessage *m, struct json_object **ret)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	_cleanup_json_ struct json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *slot = (const char *)m + f->offset;
		struct json_object *v = NULL;
		int r;

		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)((const char *)m + f->quantifier_offset) != f->id)
				continue;
			r = value_to_json(cx, f, slot, &v);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			const char *arr = *(char *const *)slot;
			size_t sz = pbjson_type_size(f->type);

			if (n == 0)
				continue;
			v = pbjson_is_map(f) ? json_object_new_object()
			                     : json_object_new_array_ext((int)n);
			if (!v)
				return -ENOMEM;
			if (pbjson_is_map(f)) {
				r = map_to_json(cx, f, (ProtobufCMessage *const *)arr, n, v);
			} else {
				r = 0;
				for (size_t j = 0; r == 0 && j < n; j++) {
					struct json_object *e = NULL;
					r = value_to_json(cx, f, arr + j * sz, &e);
					if (r == 0 && json_object_array_add(v, e) < 0) {
						json_object_put(e);
						r = -ENOMEM;
					}
				}
			}
			if (r < 0) {
				json_object_put(v);
				return r;
			}
		} else {
			if (is_default(m, f))
				continue;
			r = value_to_json(cx, f, slot, &v);
		}
		if (r < 0)
			return r;
		if (json_object_object_add(o, f->name, v) < 0) {
			json_object_put(v);
			return -ENOMEM;
		}
	}
	*ret = o;
	o = NULL;
	return 0;
}

static bool is_message(const ProtobufCMessage *m)
{
	return m && m->descriptor && m->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
}

int pbjson_to_json_object(const ProtobufCMessage *m, size_t max_bytes, struct json_object **ret,
                          bool *ret_truncated)
{
	struct out_ctx cx = {.max_bytes = max_bytes};
	int r;

	if (!is_message(m) || !ret)
		return -EINVAL;
	r = msg_to_json(&cx, m, ret);
	if (r == 0 && ret_truncated)
		*ret_truncated = cx.truncated;
	return r;
}

int pbjson_to_json(const ProtobufCMessage *m, char **ret_json)
{
	_cleanup_json_ struct json_object *o = NULL;
	const char *s;
	char *copy;
	int r;

	if (!ret_json)
		return -EINVAL;
	r = pbjson_to_json_object(m, 0, &o, NULL);
	if (r < 0)
		return r;
	s = json_object_to_json_string_ext(o,
	                                   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!s)
		return -ENOMEM;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	*ret_json = copy;
	return 0;
}

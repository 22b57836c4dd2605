/* pbjson: generic JSON <-> protobuf-c conversion (see pbjson.h for the mapping). */

#include "pbjson.h"
#include "pbjson_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define TEXT_PREFIX "text:"

/* ---- parse context: the field path for error messages ---- */

struct ctx {
	char *path; /* "OCI.Process.Args[2]" */
	size_t len, cap;
	char *err;
};

/* Append a path component; returns the previous length for path_pop(), or
 * -ENOMEM. */
static int path_push(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int path_push(struct ctx *c, const char *fmt, ...)
{
	_cleanup_free_ char *piece = NULL;
	size_t old = c->len, n;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&piece, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	n = (size_t)r;
	if (c->len + n + 1 > c->cap) {
		size_t cap = (c->len + n + 1) * 2;
		char *p = realloc(c->path, cap);
		if (!p)
			return -ENOMEM;
		c->path = p;
		c->cap = cap;
	}
	memcpy(c->path + c->len, piece, n + 1);
	c->len += n;
	return (int)old;
}

static int path_push_field(struct ctx *c, const char *name)
{
	return c->len ? path_push(c, ".%s", name) : path_push(c, "%s", name);
}

static void path_pop(struct ctx *c, int old)
{
	c->len = (size_t)old;
	if (c->path)
		c->path[c->len] = '\0';
}

/* Record the first error (later ones are consequences) and return -EINVAL. */
static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int r;

	if (c->err)
		return -EINVAL;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (c->len)
		r = asprintf(&c->err, "field '%s': %s", c->path, msg);
	else
		r = asprintf(&c->err, "%s", msg);
	if (r < 0) {
		c->err = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

/* ---- descriptor helpers ---- */

size_t pbjson_type_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* protoc turns map<K,V> into `repeated <Name>Entry` with key = 1, value = 2;
 * protobuf-c keeps no map flag, so recognise that shape. */
bool pbjson_is_map(const ProtobufCFieldDescriptor *f)
{
	const ProtobufCMessageDescriptor *e;
	const ProtobufCFieldDescriptor *k, *v;
	size_t n;

	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	e = f->descriptor;
	n = strlen(e->name);
	if (e->n_fields != 2 || n < 5 || strcmp(e->name + n - 5, "Entry") != 0)
		return false;
	k = protobuf_c_message_descriptor_get_field(e, 1);
	v = protobuf_c_message_descriptor_get_field(e, 2);
	return k && v && strcmp(k->name, "key") == 0 && strcmp(v->name, "value") == 0;
}

/* Does `key` equal the lowerCamelCase JSON name of `proto_name`?  protobuf
 * drops each '_' and upper-cases the letter after it. */
static bool json_name_eq(const char *proto_name, const char *key)
{
	bool upper = false;

	for (const char *p = proto_name; *p; p++) {
		char want;

		if (*p == '_') {
			upper = true;
			continue;
		}
		want = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
		upper = false;
		if (*key++ != want)
			return false;
	}
	return *key == '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key)
{
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);

	for (unsigned i = 0; !f && i < d->n_fields; i++)
		if (json_name_eq(d->fields[i].name, key))
			f = &d->fields[i];
	return f;
}

/* ---- base64 ---- */

static int b64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decode standard or URL-safe base64, padding optional. */
static int b64_decode(const char *s, size_t len, uint8_t **ret, size_t *ret_len)
{
	_cleanup_free_ uint8_t *out = NULL;
	uint32_t acc = 0;
	size_t n = 0, bits = 0;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	out = malloc(len / 4 * 3 + 3);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	*ret = out;
	out = NULL;
	*ret_len = n;
	return 0;
}

/* ---- JSON -> message ---- */

/* Parse a decimal integer string: strictly digits with an optional '-'. */
static int parse_decimal(const char *s, bool is_signed, int64_t *ret_s, uint64_t *ret_u)
{
	char *end;

	if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -EINVAL;
	errno = 0;
	if (is_signed)
		*ret_s = strtoll(s, &end, 10);
	else if (*s == '-')
		return -ERANGE;
	else
		*ret_u = strtoull(s, &end, 10);
	if (end == s || *end)
		return -EINVAL;
	return errno == ERANGE ? -ERANGE : 0;
}

/* Read a JSON number or decimal string as an integer of the given
 * signedness and width. */
static int get_integer(struct ctx *c, struct json_object *v, bool is_signed, int bits,
                       int64_t *ret_s, uint64_t *ret_u)
{
	int64_t s = 0;
	uint64_t u = 0;
	int r;

	switch (json_object_get_type(v)) {
	case json_type_int:
		/* json-c keeps ints as int64 or uint64; its text form is exact. */
		r = parse_decimal(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
		                  is_signed, &s, &u);
		break;
	case json_type_string:
		r = parse_decimal(json_object_get_string(v), is_signed, &s, &u);
		if (r == -EINVAL)
			return fail(c, "expected integer, got string \"%s\"",
			            json_object_get_string(v));
		break;
	case json_type_double: {
		double d = json_object_get_double(v);
		if (!isfinite(d) || trunc(d) != d)
			return fail(c, "expected integer, got %s", json_object_to_json_string(v));
		if (is_signed && d >= -0x1p63 && d < 0x1p63)
			s = (int64_t)d, r = 0;
		else if (!is_signed && d >= 0 && d < 0x1p64)
			u = (uint64_t)d, r = 0;
		else
			r = -ERANGE;
		break;
	}
	default:
		return fail(c, "expected integer, got %s",
		            json_type_to_name(json_object_get_type(v)));
	}
	if (r == -ERANGE || (is_signed && bits == 32 && (s < INT32_MIN || s > INT32_MAX)) ||
	    (!is_signed && bits == 32 && u > UINT32_MAX))
		return fail(c, "integer %s out of range for %s%d", json_object_to_json_string(v),
		            is_signed ? "int" : "uint", bits);
	if (r < 0)
		return fail(c, "expected integer");
	*ret_s = s;
	*ret_u = u;
	return 0;
}

static int get_float(struct ctx *c, struct json_object *v, double *ret)
{
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
		*ret = json_object_get_double(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		if (strcmp(s, "NaN") == 0)
			*ret = NAN;
		else if (strcmp(s, "Infinity") == 0)
			*ret = INFINITY;
		else if (strcmp(s, "-Infinity") == 0)
			*ret = -INFINITY;
		else
			return fail(c, "expected number, got string \"%s\"", s);
		return 0;
	}
	return fail(c, "expected number, got %s", json_type_to_name(json_object_get_type(v)));
}

static int msg_from_json(struct ctx *c, const ProtobufCMessageDescriptor *d, struct json_object *o,
                         ProtobufCMessage **ret);

/* The integer types, each stored at its width and signedness. */
static int integer_from_json(struct ctx *c, const ProtobufCFieldDescriptor *f,
                             struct json_object *v, void *slot)
{
	int64_t s;
	uint64_t u;
	int r;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		r = get_integer(c, v, true, 32, &s, &u);
		if (r == 0)
			*(int32_t *)slot = (int32_t)s;
		return r;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		r = get_integer(c, v, false, 32, &s, &u);
		if (r == 0)
			*(uint32_t *)slot = (uint32_t)u;
		return r;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		r = get_integer(c, v, true, 64, &s, &u);
		if (r == 0)
			*(int64_t *)slot = s;
		return r;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		r = get_integer(c, v, false, 64, &s, &u);
		if (r == 0)
			*(uint64_t *)slot = u;
		return r;
	default:
		return fail(c, "unsupported field type %d", (int)f->type);
	}
}

/* An enum value by name, or by number. */
static int enum_from_json(struct ctx *c, const ProtobufCFieldDescriptor *f, struct json_object *v,
                          int *slot)
{
	const ProtobufCEnumDescriptor *ed = f->descriptor;
	int64_t s;
	uint64_t u;

	if (json_object_is_type(v, json_type_string)) {
		const ProtobufCEnumValue *ev =
		    protobuf_c_enum_descriptor_get_value_by_name(ed, json_object_get_string(v));
		if (!ev)
			return fail(c, "\"%s\" is not a value of enum %s",
			            json_object_get_string(v), ed->name);
		*slot = ev->value;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return fail(c, "expected enum %s name or number", ed->name);
	/* proto3 enums are open: any int32 is a valid value. */
	int r = get_integer(c, v, true, 32, &s, &u);
	if (r == 0)
		*slot = (int)s;
	return r;
}

static int string_from_json(struct ctx *c, struct json_object *v, char **slot)
{
	if (!json_object_is_type(v, json_type_string))
		return fail(c, "expected string, got %s",
		            json_type_to_name(json_object_get_type(v)));
	/* A C string cannot hold the NUL that JSON's \u0000 can: refuse rather than cut it. */
	if ((size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)))
		return fail(c, "string contains a NUL character");
	char *str = strdup(json_object_get_string(v));
	if (!str)
		return -ENOMEM;
	*slot = str;
	return 0;
}

/* Bytes are base64, as in protobuf's JSON mapping, or plain text after the "text:" prefix. */
static int bytes_from_json(struct ctx *c, struct json_object *v, ProtobufCBinaryData *bd)
{
	const char *str;
	size_t len;
	uint8_t *data = NULL;

	if (!json_object_is_type(v, json_type_string))
		return fail(c, "expected base64 string, got %s",
		            json_type_to_name(json_object_get_type(v)));
	str = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strncmp(str, TEXT_PREFIX, strlen(TEXT_PREFIX)) == 0) {
		len -= strlen(TEXT_PREFIX);
		data = malloc(len + 1);
		if (!data)
			return -ENOMEM;
		memcpy(data, str + strlen(TEXT_PREFIX), len);
	} else {
		int r = b64_decode(str, len, &data, &len);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			return fail(c, "invalid base64 (use a \"text:\" prefix for plain text)");
	}
	bd->data = data;
	bd->len = len;
	return 0;
}

/* Convert one JSON value into the storage slot of a singular value of field
 * f (or one element of a repeated field). */
static int value_from_json(struct ctx *c, const ProtobufCFieldDescriptor *f, struct json_object *v,
                           void *slot)
{
	double dbl = 0;
	int r;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return integer_from_json(c, f, v, slot);
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE:
		r = get_float(c, v, &dbl);
		if (r < 0)
			return r;
		if (f->type == PROTOBUF_C_TYPE_DOUBLE)
			*(double *)slot = dbl;
		else
			*(float *)slot = (float)dbl;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return fail(c, "expected true or false, got %s",
			            json_type_to_name(json_object_get_type(v)));
		*(protobuf_c_boolean *)slot = json_object_get_boolean(v) ? 1 : 0;
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		return enum_from_json(c, f, v, slot);
	case PROTOBUF_C_TYPE_STRING:
		return string_from_json(c, v, slot);
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_from_json(c, v, slot);
	case PROTOBUF_C_TYPE_MESSAGE:
		return msg_from_json(c, f->descriptor, v, slot);
	}
	return fail(c, "unsupported field type %d", (int)f->type);
}

static int map_from_json(struct ctx *c, const ProtobufCFieldDescriptor *f, struct json_object *v,
                         ProtobufCMessage ***arr, size_t *n)
{
	const ProtobufCMessageDescriptor *ed = f->descriptor;
	const ProtobufCFieldDescriptor *kf = protobuf_c_message_descriptor_get_field(ed, 1);
	const ProtobufCFieldDescriptor *vf = protobuf_c_message_descriptor_get_field(ed, 2);
	struct json_object_iterator it, end;
	int r;

	if (!json_object_is_type(v, json_type_object))
		return fail(c, "expected object (map), got %s",
		            json_type_to_name(json_object_get_type(v)));
	*arr = calloc((size_t)json_object_object_length(v) + 1, sizeof(**arr));
	if (!*arr)
		return -ENOMEM;
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		_cleanup_json_ struct json_object *jkey = NULL;
		ProtobufCMessage *e;
		int old;

		e = calloc(1, ed->sizeof_message);
		if (!e)
			return -ENOMEM;
		ed->message_init(e);
		(*arr)[(*n)++] = e; /* owned by the parent from here on */

		old = path_push(c, "[\"%s\"]", key);
		if (old < 0)
			return old;
		jkey = json_object_new_string(key);
		if (!jkey)
			return -ENOMEM;
		/* Map keys are always JSON strings; integer keys parse as decimal
		 * strings, bool keys need "true"/"false". */
		if (kf->type == PROTOBUF_C_TYPE_BOOL &&
		    (strcmp(key, "true") == 0 || strcmp(key, "false") == 0)) {
			json_object_put(jkey);
			jkey = json_object_new_boolean(key[0] == 't');
			if (!jkey)
				return -ENOMEM;
		}
		r = value_from_json(c, kf, jkey, (char *)e + kf->offset);
		if (r == 0)
			r = value_from_json(c, vf, json_object_iter_peek_value(&it),
			                    (char *)e + vf->offset);
		if (r < 0)
			return r;
		path_pop(c, old);
	}
	return 0;
}

static int field_from_json(struct ctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                           struct json_object *v)
{
	char *slot = (char *)m + f->offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t *n = (size_t *)((char *)m + f->quantifier_offset);
		size_t sz = pbjson_type_size(f->type), len;
		char *arr;
		int r;

		if (pbjson_is_map(f))
			return map_from_json(c, f, v, (ProtobufCMessage ***)slot, n);
		if (!json_object_is_type(v, json_type_array))
			return fail(c, "expected array, got %s",
			            json_type_to_name(json_object_get_type(v)));
		len = json_object_array_length(v);
		arr = calloc(len + 1, sz);
		if (!arr)
			return -ENOMEM;
		/* Hand the array to the message now and count elements as they
		 * are completed, so free_unpacked() cleans up after an error. */
		*(char **)slot = arr;
		for (size_t i = 0; i < len; i++) {
			int old = path_push(c, "[%zu]", i);
			if (old < 0)
				return old;
			r = value_from_json(c, f, json_object_array_get_idx(v, i), arr + i * sz);
			if (r < 0)
				return r;
			(*n)++;
			path_pop(c, old);
		}
		return 0;
	}

	int r = value_from_json(c, f, v, slot);
	if (r < 0)
		return r;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		*(uint32_t *)((char *)m + f->quantifier_offset) = f->id;
	else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
	         f->type != PROTOBUF_C_TYPE_STRING)
		*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
	return 0;
}

static int msg_from_json(struct ctx *c, const ProtobufCMessageDescriptor *d, struct json_object *o,
                         ProtobufCMessage **ret)
{
	_cleanup_free_ bool *seen = NULL;
	struct json_object_iterator it, end;
	ProtobufCMessage *m;
	int r = 0;

	if (!json_object_is_type(o, json_type_object))
		return fail(c, "expected object (%s), got %s", d->name,
		            json_type_to_name(json_object_get_type(o)));
	seen = calloc(d->n_fields + 1, sizeof(*seen));
	m = calloc(1, d->sizeof_message);
	if (!seen || !m) {
		free(m);
		return -ENOMEM;
	}
	d->message_init(m);

	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; r == 0 && !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		const ProtobufCFieldDescriptor *f = find_field(d, key);
		int old = path_push_field(c, key);

		if (old < 0) {
			r = old;
			break;
		}
		if (!f)
			r = fail(c, "unknown field in %s", d->name);
		else if (seen[f - d->fields])
			r = fail(c, "field %s given twice", f->name);
		else if (v && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		         *(uint32_t *)((char *)m + f->quantifier_offset) != 0)
			r = fail(c, "another member of the same oneof is already set");
		else if (v) /* JSON null: leave the field unset */
			r = field_from_json(c, m, f, v);
		if (f)
			seen[f - d->fields] = true;
		if (r == 0)
			path_pop(c, old);
	}
	if (r < 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return r;
	}
	*ret = m;
	return 0;
}

/* json-c clamps integers beyond the 64-bit range instead of failing, so look
 * for such literals in the raw text first. */
static int check_int_literals(struct ctx *c, const char *s)
{
	static const char max_u64[] = "18446744073709551615", min_s64[] = "9223372036854775808";
	bool in_str = false;

	for (const char *p = s; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = false;
			continue;
		}
		if (*p == '"') {
			in_str = true;
			continue;
		}
		if (*p != '-' && (*p < '0' || *p > '9'))
			continue;
		bool neg = *p == '-';
		const char *digits = p + neg, *q = digits;
		while (*q >= '0' && *q <= '9')
			q++;
		size_t nd = (size_t)(q - digits);
		bool integral = *q != '.' && *q != 'e' && *q != 'E';
		const char *lim = neg ? min_s64 : max_u64;
		if (integral &&
		    (nd > strlen(lim) || (nd == strlen(lim) && strncmp(digits, lim, nd) > 0)))
			return fail(c, "integer %.*s at offset %zu is out of 64-bit range",
			            (int)(q - p), p, (size_t)(p - s));
		/* Skip the rest of this number token (fraction, exponent). */
		while (*q && strchr("0123456789.eE+-", *q))
			q++;
		p = q - 1;
	}
	return 0;
}

int pbjson_from_json(const ProtobufCMessageDescriptor *desc, const char *json,
                     ProtobufCMessage **ret, char **ret_err)
{
	struct ctx c = {};
	struct json_tokener *tok;
	_cleanup_json_ struct json_object *root = NULL;
	ProtobufCMessage *m = NULL;
	size_t len;
	int r;

	if (!desc || !json || !ret)
		return -EINVAL;
	len = strlen(json);
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, json, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);

	if (len > INT32_MAX)
		r = fail(&c, "JSON text too large");
	else if (jerr == json_tokener_continue)
		r = fail(&c, "invalid JSON: unexpected end of input");
	else if (jerr != json_tokener_success)
		r = fail(&c, "invalid JSON at offset %zu: %s", end, json_tokener_error_desc(jerr));
	else if (json[end + strspn(json + end, " \t\r\n")] != '\0')
		r = fail(&c, "invalid JSON: trailing data at offset %zu", end);
	else
		r = check_int_literals(&c, json);
	if (r == 0)
		r = msg_from_json(&c, desc, root, &m);

	free(c.path);
	if (r < 0) {
		if (ret_err && c.err)
			*ret_err = c.err;
		else
			free(c.err);
		return r;
	}
	*ret = m;
	return 0;
}

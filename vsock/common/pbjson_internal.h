/* Helpers shared by pbjson.c (JSON -> message) and pbjson_out.c (message -> JSON). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include <json-c/json.h>
#include <protobuf-c/protobuf-c.h>

static inline void pbjson_freep(void *p)
{
	free(*(void **)p);
}

static inline void pbjson_json_putp(struct json_object **p)
{
	json_object_put(*p);
}

#define _cleanup_free_ __attribute__((cleanup(pbjson_freep)))
#define _cleanup_json_ __attribute__((cleanup(pbjson_json_putp)))

/* Size of one stored value of a field of this type (one repeated element). */
size_t pbjson_type_size(ProtobufCType t);

/* Is f a map<K,V> field (a repeated <Name>Entry message with key=1, value=2)? */
bool pbjson_is_map(const ProtobufCFieldDescriptor *f);

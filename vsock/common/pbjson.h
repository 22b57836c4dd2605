/* pbjson: JSON <-> protobuf-c messages, driven by the message descriptors.
 *
 * Used by the host tools (kata-agent-ctl) to turn JSON request bodies into
 * agent API messages and responses back into JSON.  Self-contained: depends
 * only on libprotobuf-c and json-c.
 *
 * JSON mapping (close to protobuf's canonical JSON mapping):
 *  - Object keys are the .proto field names ("container_id", "OCI"); the
 *    lowerCamelCase JSON names ("containerId") are accepted on input too.
 *    Output always uses the .proto names.  Unknown keys are an error; naming
 *    the same field twice (e.g. both spellings) is an error; null means
 *    "not set".
 *  - 32-bit integers: JSON numbers or decimal strings.  64-bit integers: the
 *    same on input; numbers on output.  Integral doubles such as 1e3 are
 *    accepted.  Values out of the field's range are an error.
 *  - bool: true/false.  float/double: numbers, or "NaN", "Infinity",
 *    "-Infinity" (also used on output for those values).
 *  - enums: the value name ("OnRootMismatch") or its number; output uses the
 *    name when the value is known.
 *  - bytes: base64 (standard or URL-safe alphabet, padding optional).  As a
 *    convenience, a string starting with "text:" stands for the raw bytes
 *    after the prefix (':' is not a base64 character, so this is
 *    unambiguous).  Output is always padded standard base64.
 *  - repeated fields: arrays.  map<K,V> fields: objects keyed by the key's
 *    text form.
 *  - oneof members (and the MemAgent fields that upstream declares proto3
 *    `optional`, which our .proto spells as one-field oneofs): present when
 *    given, even if zero; output includes a set member even when it is zero.
 *  - Output omits fields holding their default value (0, "", false, empty
 *    list/map, absent sub-message); an empty message is {}.  Strings that are
 *    not valid UTF-8 (the wire does not enforce it) are written with U+FFFD
 *    replacing the bad bytes, so the output is always valid JSON.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Parse `json` into a new message of type `desc`.  On success stores the
 * message in *ret (free it with protobuf_c_message_free_unpacked(m, NULL))
 * and returns 0.  On invalid input returns -EINVAL and, if ret_err is not
 * NULL, stores a malloc'd message such as
 * "field 'OCI.Process.Args': expected array" in *ret_err.  -ENOMEM on
 * allocation failure. */
int pbjson_from_json(const ProtobufCMessageDescriptor *desc, const char *json,
                     ProtobufCMessage **ret, char **ret_err);

/* Render `m` as compact JSON in a malloc'd string stored in *ret_json.
 * Returns 0, -EINVAL for a NULL or non-message argument, -ENOMEM. */
int pbjson_to_json(const ProtobufCMessage *m, char **ret_json);

struct json_object;
/* The same as a json-c object (the caller puts it).  bytes fields longer than max_bytes
 * (0: no limit) are cut to their first max_bytes, written as base64 followed by
 * "...(N bytes)", and *ret_truncated (if not NULL) says whether any was cut. */
int pbjson_to_json_object(const ProtobufCMessage *m, size_t max_bytes, struct json_object **ret,
                          bool *ret_truncated);

#!/usr/bin/env bash
# Encode one text-format protobuf message into its binary golden vector with the
# reference encoder (protoc --encode).  The message type comes from the input's
# "# proto-message: <full.type.Name>" header line.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: gen-golden.sh --proto-path DIR --root FILE.proto --input IN.txtpb --output OUT.bin

  --proto-path DIR   directory holding the .proto files (import root)
  --root FILE        .proto file (relative to DIR) that defines or imports the type
  --input FILE       text-format message with a "# proto-message: TYPE" line
  --output FILE      where to write the encoded bytes
  --help             show this help
USAGE
}

proto_path=""
root=""
input=""
output=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--proto-path) proto_path="${2:?--proto-path needs a value}"; shift 2 ;;
	--root) root="${2:?--root needs a value}"; shift 2 ;;
	--input) input="${2:?--input needs a value}"; shift 2 ;;
	--output) output="${2:?--output needs a value}"; shift 2 ;;
	--help) usage; exit 0 ;;
	*) echo "gen-golden.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
if [[ -z "$proto_path" || -z "$root" || -z "$input" || -z "$output" ]]; then
	usage >&2
	exit 2
fi

type=$(sed -n '/^# proto-message: *[A-Za-z0-9_.]* *$/{s/^# proto-message: *\([A-Za-z0-9_.]*\) *$/\1/p;q}' "$input")
if [[ -z "$type" ]]; then
	echo "gen-golden.sh: $input has no '# proto-message: TYPE' line" >&2
	exit 1
fi

mkdir -p "$(dirname "$output")"
tmp="$output.tmp"
trap 'rm -f "$tmp"' EXIT
protoc --proto_path="$proto_path" --encode="$type" "$root" <"$input" >"$tmp"
mv "$tmp" "$output"

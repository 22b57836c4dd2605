#!/usr/bin/env python3
"""Match `ip -j ...` output (stdin) against a JSON pattern, for test_network.c.

Usage: ip -j route | test_network.py [--absent] PATTERN

PATTERN is a JSON object; the test passes if some element of the top-level array matches it
(with --absent: if none does).  Matching: a dict matches if each of its keys matches the same key
of the candidate; a list matches if each of its elements matches some element of the candidate
list; anything else compares equal.
"""
import json
import sys


def matches(pat, val):
    if isinstance(pat, dict):
        return isinstance(val, dict) and all(k in val and matches(v, val[k]) for k, v in pat.items())
    if isinstance(pat, list):
        return isinstance(val, list) and all(any(matches(p, v) for v in val) for p in pat)
    return pat == val


def main():
    args = sys.argv[1:]
    absent = False
    if args and args[0] == "--absent":
        absent = True
        args = args[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    pat = json.loads(args[0])
    data = json.load(sys.stdin)
    found = any(matches(pat, item) for item in data)
    if found == absent:
        print("pattern %s %s in:\n%s" % (args[0], "found" if absent else "not found",
                                           json.dumps(data)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

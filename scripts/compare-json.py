#!/usr/bin/env python3
"""Compares two dumps of the JSON documents the test suite produced, ignoring what
changes from run to run (timings, dates, ephemeral ports, generated certificates).

A refactoring that claims "no change in behaviour" runs the suite twice with
MAILCHECK_TEST_JSON_DUMP set, once before and once after, against the same running
test servers (so their certificates are the same), then:

    scripts/compare-json.py /tmp/json-before /tmp/json-after

Exits 0 when every document present in both dumps is the same after
normalisation, 1 otherwise (printing the first differences of each document).
"""

import json
import re
import sys
from pathlib import Path

# Keys whose values are timings or clock readings.
VOLATILE_KEYS = {"duration_ms", "t_ms", "start_ms", "started_at", "elapsed_ms"}
# Certificate fields that differ with every generated certificate.
CERT_KEYS = {
    "fingerprint_sha256",
    "serial",
    "not_before",
    "not_after",
    "days_left",
    "public_key",
    "spki_sha256",
    "sha256",
}
PORT = re.compile(r"(?<=[:\[ (])(\d{4,5})\b")
# Clock readings inside server replies and verifier messages.
CLOCK = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "<date>"),
    (re.compile(r"\b\d{9,}\b"), "<n>"),
    (re.compile(r"queued as \w+"), "queued as <id>"),
    (re.compile(r"Date: [^\\]*"), "Date: <date>"),
]
TMP = re.compile(r"/tmp/[^\s\"']+")
MS = re.compile(r"\b\d+(\.\d+)?\s?(ms|s)\b")


def norm(v, key=None):
    if isinstance(v, dict):
        return {k: norm(x, k) for k, x in sorted(v.items()) if k not in VOLATILE_KEYS}
    if isinstance(v, list):
        return [norm(x, key) for x in v]
    if key in CERT_KEYS:
        return "<cert>"
    if isinstance(v, int) and key == "port" and v >= 1024:
        return "<port>"
    if isinstance(v, str):
        v = TMP.sub("<tmp>", v)
        for pattern, replacement in CLOCK:
            v = pattern.sub(replacement, v)
        v = PORT.sub(lambda m: "<port>" if int(m.group(1)) >= 1024 else m.group(1), v)
        v = MS.sub("<time>", v)
    return v


def diff(a, b, path="$"):
    if type(a) is not type(b):
        yield f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                yield f"{path}.{k}: only after: {b[k]!r}"[:300]
            elif k not in b:
                yield f"{path}.{k}: only before: {a[k]!r}"[:300]
            else:
                yield from diff(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items before, {len(b)} after"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {a!r} != {b!r}"[:300]


def main():
    before, after = Path(sys.argv[1]), Path(sys.argv[2])
    names_a = {p.name for p in before.glob("*.json")}
    names_b = {p.name for p in after.glob("*.json")}
    bad = 0
    for name in sorted(names_a ^ names_b):
        side = "before" if name in names_a else "after"
        print(f"only {side}: {name}")
    for name in sorted(names_a & names_b):
        a = norm(json.loads((before / name).read_text()))
        b = norm(json.loads((after / name).read_text()))
        lines = list(diff(a, b))
        if lines:
            bad += 1
            print(f"DIFFERS {name}")
            for line in lines[:8]:
                print("   ", line)
    same = len(names_a & names_b) - bad
    print(f"{same} documents the same, {bad} differ, {len(names_a ^ names_b)} in one dump only")
    sys.exit(1 if bad or names_a ^ names_b else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Benchmark: `mailcheck batch` over many targets (1000 by default) against the real
# test servers: N customer domains hosted on one provider (every name below
# shared.mailcheck.test is 127.0.0.2), the whole default matrix each, JSON Lines to a
# file. Reports throughput, peak RSS (goal: under 64 MB) and where the CPU time went
# (mailcheck vs. everything else on the machine: the servers and the kernel), for the
# default limits and for generous ones.
#
# Usage: scripts/bench-batch.sh [TARGETS]
#   servers must be running: scripts/test-servers.sh start (as root)
#   needs GNU time (/usr/bin/time; Debian package `time`) for the peak RSS
# Results and the command line go in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
dir=${MAILCHECK_TEST_SERVERS:-/tmp/mailcheck-test-servers}
[ -e "$dir/ready" ] || { echo "test servers not running: scripts/test-servers.sh start" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
cargo build --release --quiet
bin=target/release/mailcheck
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 "$n"); do
    echo "--host customer$i.shared.mailcheck.test"
done >"$work/targets.txt"

# Busy CPU time of the whole machine so far, in clock ticks (user+nice+system+irq+softirq).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

run() {
    local label=$1
    shift
    local before after
    before=$(busy_ticks)
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
        "$bin" batch "$work/targets.txt" --json "$@" -- \
        --dns-server "$MAILCHECK_TEST_DNS" --ca-file "$MAILCHECK_TEST_CA" \
        >"$work/out.jsonl" 2>"$work/err" || true
    after=$(busy_ticks)
    local wall user sys rss_kb
    read -r wall user sys rss_kb <"$work/time"
    python3 - "$work/out.jsonl" "$label" "$wall" "$user" "$sys" "$rss_kb" \
        "$((after - before))" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
path, label, wall, user, sys_, rss_kb, busy, tck = sys.argv[1:]
wall, user, sys_, rss_mb = float(wall), float(user), float(sys_), int(rss_kb) / 1024
busy = int(busy) / int(tck)
records = codes = 0
by_code = [0, 0, 0, 0]
conns = 0
with open(path) as f:
    for line in f:
        r = json.loads(line)
        records += 1
        by_code[r["exit_code"]] += 1
        rep = r.get("report")
        if rep:
            conns += sum(len(p["connects"]) for p in rep["probes"] if not p["inferred"])
own = user + sys_
print(f"{label}:")
print(f"  {records} targets in {wall:.1f} s: {records / wall:.1f} targets/s, {conns / wall:.0f} connections/s")
print(f"  exit codes OK/WARNING/CRITICAL/UNKNOWN: {by_code}")
print(f"  peak RSS {rss_mb:.1f} MB")
print(f"  CPU: mailcheck {own:.1f} s, everything else (servers, kernel) {busy - own:.1f} s, "
      f"machine busy {busy / wall * 100 / 2:.0f}% of 2 cores")
EOF
    cat "$work/err" >&2
}

echo "mailcheck batch over $n targets (the default matrix each, on 127.0.0.2):"
run "defaults (--parallel 8 --per-server 4)"
run "generous (--parallel 64 --per-server 64)" --parallel 64 --per-server 64

#!/usr/bin/env bash
# Benchmark: how long `mailcheck settings` takes when every server it asks accepts
# the connection and then never answers (the worst case for the time bounds of
# docs/discovery.md). Everything runs on 127.0.0.9, loopback only:
#   - a dnsmasq answering for silent.test (every name is 127.0.0.9; its MX is
#     mx.silenthost.test, its Autodiscover SRV record names srv.silent.test:443);
#   - a listener on ports 80 and 443 that accepts and stays silent.
# So autoconfig, the ISPDB online (--ispdb-url points there too), Autodiscover
# and the MX provider's autoconfig all wait for their timeouts.
#
# Usage (as root, in a network namespace of your own, since it binds port 53):
#   ip netns exec NS scripts/bench-discovery.sh [TIMEOUT_SECS ...]   (default: 3 10)
# BIN=path/to/mailcheck picks the binary (default: a debug build; the time is
# spent waiting, not computing).
set -euo pipefail
cd "$(dirname "$0")/.."
timeouts=("$@")
[ $# -gt 0 ] || timeouts=(3 10)
if [ -z "${BIN:-}" ]; then
    cargo build --quiet --offline
    BIN=${CARGO_TARGET_DIR:-target}/debug/mailcheck
fi
addr=127.0.0.9
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
ip link set lo up 2>/dev/null || true

cat >"$work/dnsmasq.conf" <<EOF
port=53
listen-address=$addr
bind-interfaces
no-resolv
no-hosts
no-poll
local=/silent.test/
local=/silenthost.test/
address=/silent.test/$addr
address=/silenthost.test/$addr
mx-host=silent.test,mx.silenthost.test,10
srv-host=_autodiscover._tcp.silent.test,srv.silent.test,443,0,1
pid-file=$work/dnsmasq.pid
user=root
EOF
dnsmasq --conf-file="$work/dnsmasq.conf" --keep-in-foreground &
pids+=($!)

python3 - "$addr" <<'EOF' &
import socket, sys, threading, time
held = []
def serve(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port))
    s.listen(128)
    while True:
        conn, _ = s.accept()
        held.append(conn)  # accepted, never read from or written to
for port in (80, 443):
    threading.Thread(target=serve, args=(port,), daemon=True).start()
while True:
    time.sleep(3600)
EOF
pids+=($!)
sleep 1

for t in "${timeouts[@]}"; do
    start=$(date +%s%N)
    "$BIN" settings alice@silent.test --dns-server "$addr" \
        --ispdb-url "https://$addr/v1.1/" --timeout "$t" --json >"$work/out.json" || true
    end=$(date +%s%N)
    ms=$(((end - start) / 1000000))
    python3 - "$work/out.json" "$t" "$ms" <<'PY' || echo "--timeout $t: $ms ms (no JSON report)"
import json, sys
d = json.load(open(sys.argv[1]))
slowest = {}
for r in d["sources"]:
    slowest[r["kind"]] = max(slowest.get(r["kind"], 0), r["duration_ms"])
cut = sum(r["outcome"].startswith("cut short") for r in d["sources"])
print(f"--timeout {sys.argv[2]}: {sys.argv[3]} ms ({len(d['sources'])} source reports, {cut} cut short)")
print("  slowest report per kind (ms): " + ", ".join(f"{k} {v}" for k, v in slowest.items()))
PY
done

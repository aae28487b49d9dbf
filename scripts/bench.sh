#!/usr/bin/env bash
# Benchmark: the whole default matrix against the real test servers, next to the
# slowest single combination run alone. The ratio shows whether the combinations
# really run concurrently (close to 1) or one after the other (close to 13).
#
# Usage: scripts/bench.sh [RUNS]   (servers must be running: scripts/test-servers.sh start)
# Optional: DELAY_MS=50 puts a delaying TCP proxy per port in front of the servers
# (on 127.0.0.3, loopback only) to see the same under network latency.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
dir=${MAILCHECK_TEST_SERVERS:-/tmp/mailcheck-test-servers}
[ -e "$dir/ready" ] || { echo "test servers not running: scripts/test-servers.sh start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$dir/env"
cargo build --release --quiet
bin=target/release/mailcheck
host=$MAILCHECK_TEST_HOST
proxy_pid=
if [ -n "${DELAY_MS:-}" ]; then
    python3 scripts/delay-proxy.py --listen 127.0.0.3 --target "$host" --delay-ms "$DELAY_MS" \
        --ports 110,995,143,993,25,587,465 &
    proxy_pid=$!
    trap 'kill $proxy_pid 2>/dev/null || true' EXIT
    sleep 1
    host=127.0.0.3
fi
common=(--host "$host" --ca-file "$MAILCHECK_TEST_CA" --timeout 10)

# Wall time of one run, in milliseconds.
time_ms() {
    local start end
    start=$(date +%s%N)
    "$bin" probe "${common[@]}" "$@" >/dev/null || true
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

specs=(pop3:995:tls pop3:110:starttls pop3:110:plain imap:993:tls imap:143:starttls imap:143:plain
       smtp:465:tls smtp:587:starttls smtp:587:tls smtp:587:plain smtp:25:starttls smtp:25:plain smtp:25:tls)
slowest=0 slowest_spec= sum=0
for spec in "${specs[@]}"; do
    m=$(for _ in $(seq "$runs"); do time_ms --only "$spec"; done | median)
    printf '  %-18s median %5s ms\n' "$spec" "$m"
    sum=$(python3 -c "print($sum + $m)")
    if python3 -c "import sys; sys.exit(0 if $m > $slowest else 1)"; then slowest=$m slowest_spec=$spec; fi
done
full=$(for _ in $(seq "$runs"); do time_ms; done | median)
echo "full matrix (13 tried + 3 inferred): median ${full} ms over ${runs} runs"
echo "slowest single combination ($slowest_spec): median ${slowest} ms"
echo "sum of all single combinations: ${sum} ms"
python3 -c "print(f'ratio full/slowest: {$full/$slowest:.2f}  (sequential would be about {$sum/$slowest:.1f})')"

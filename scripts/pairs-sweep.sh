#!/usr/bin/env bash
# Runs `chat-loadgen pairs` at a series of offered rates against a fresh
# release server on a temporary SQLite file, and writes one JSON line per
# rate to docs/data/pairs-sweep.jsonl (the input of `cargo run -p benches
# --bin plots`): of REPEATS runs per rate (default 3), the one with the
# median p99. Usage: [REPEATS=n] scripts/pairs-sweep.sh [rate ...]
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
if [[ ${#rates[@]} -eq 0 ]]; then
    rates=(2000 4000 6000 8000 10000 12000 14000)
fi
cargo build --release -p examples --bin chat-server --bin chat-loadgen
work="$(mktemp -d)"
port=18080
./target/release/chat-server --listen "127.0.0.1:$port" --database-url "sqlite://$work/chat.db" \
    --lift-rate-limits --ws-frame-rate 100000 \
    --ws-sockets-per-user 20000 --log warn 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done
# Warm up (accounts signed in, conversations created, pages cached) so
# that the first rate measured is not also the first run.
./target/release/chat-loadgen --url "http://127.0.0.1:$port" --duration 3 \
    pairs --pairs 500 --rate 1000 >/dev/null 2>&1
out=docs/data/pairs-sweep.jsonl
: >"$out"
for rate in "${rates[@]}"; do
    : >"$work/runs"
    for run in $(seq "${REPEATS:-3}"); do
        echo "== $rate msg/s, run $run" >&2
        ./target/release/chat-loadgen --url "http://127.0.0.1:$port" --duration 10 \
            pairs --pairs 500 --rate "$rate" 2>/dev/null | tail -n 1 >>"$work/runs"
    done
    python3 -c 'import json, sys
runs = sorted((json.loads(l) for l in sys.stdin), key=lambda r: r["latency_ms"]["p99"])
print(json.dumps(runs[len(runs) // 2], separators=(",", ":")))' <"$work/runs" >>"$out"
done
echo "wrote $out" >&2

#!/usr/bin/env bash
# Runs `chat-loadgen pairs` at a series of offered rates against a fresh
# release server on a temporary SQLite file, and writes one JSON line per
# run to docs/data/pairs-sweep.jsonl (the input of `cargo run -p benches
# --bin plots`). Usage: scripts/pairs-sweep.sh [rate ...]
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
if [[ ${#rates[@]} -eq 0 ]]; then
    rates=(1000 2000 3000 4000 5000 6000 7000)
fi
cargo build --release -p examples --bin chat-server --bin chat-loadgen
work="$(mktemp -d)"
port=18080
./target/release/chat-server --listen "127.0.0.1:$port" --database-url "sqlite://$work/chat.db" \
    --send-rate 100000 --login-client-burst 1000000 --ws-frame-rate 100000 \
    --ws-sockets-per-user 20000 --log warn 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.2
done
out=docs/data/pairs-sweep.jsonl
: >"$out"
for rate in "${rates[@]}"; do
    echo "== $rate msg/s" >&2
    ./target/release/chat-loadgen --url "http://127.0.0.1:$port" --duration 10 \
        pairs --pairs 500 --rate "$rate" 2>/dev/null | tail -n 1 >>"$out"
done
echo "wrote $out" >&2

#!/usr/bin/env bash
# Fan-out beside the bare reference server, in one run: for each offered
# rate, the reference server (benches/limit-server) and then chat-server
# (a fresh SQLite file, rate limits lifted) each get the same chat-loadgen
# fanout load (1 sender, N receiving connections), one after the other on
# the same machine; then a table with the ratios.
#
#   scripts/fanout-vs-reference.sh [--connections N] [--duration S] [RATE ...]
#
# Defaults: 1000 connections, 10 s, rates 100 200 400 (messages per second;
# deliveries per second = rate × N). Absolute figures move from run to run
# on a shared machine; the ratios of one run are what to read.
# SMOKE=1: built in debug, 50 connections, 2 s, one rate; fails only if a
# run fails or loses or duplicates a message (never on the ratio).
set -euo pipefail
cd "$(dirname "$0")/.."
connections=1000
duration=10
rates=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --connections) connections="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        *) rates+=("$1"); shift ;;
    esac
done
profile=release
if [[ "${SMOKE:-0}" == 1 ]]; then
    profile=debug
    connections=50
    duration=2
    rates=(20)
fi
if [[ ${#rates[@]} -eq 0 ]]; then
    rates=(100 200 400)
fi
flag=()
[[ "$profile" == release ]] && flag=(--release)
target="${CARGO_TARGET_DIR:-$(pwd)/target}"
cargo build "${flag[@]}" -p examples --bin chat-server --bin chat-loadgen
cargo build "${flag[@]}" --manifest-path benches/limit-server/Cargo.toml --target-dir "$target/limit-server"
bin="$target/$profile"
reference_bin="$target/limit-server/$profile/limit-server"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# listening <file> <pattern>: the port in the first line of <file> that
# matches "<pattern>…127.0.0.1:<port>", once the server has written it
# (30 s at most). Servers bind port 0, so no port is picked and released.
listening() {
    local port
    for _ in $(seq 300); do
        port="$(grep -m1 -oE "$2.*127\.0\.0\.1:[0-9]+" "$1" 2>/dev/null | grep -oE '[0-9]+$' || true)"
        if [[ -n "$port" ]]; then
            echo "$port"
            return 0
        fi
        sleep 0.1
    done
    echo "no server said where it listens in $1" >&2
    cat "$1" >&2
    return 1
}

# run <label> <url> <extra loadgen args...>: the load's JSON line.
run() {
    local label="$1" url="$2"
    shift 2
    "$bin/chat-loadgen" --url "$url" --duration "$duration" --drain 5 \
        --users "fvr$RANDOM" "$@" fanout --connections "$connections" --rate "$rate" \
        >"$work/$label.out" 2>"$work/$label.err" || {
        cat "$work/$label.err" >&2
        echo "$label: the load generator failed" >&2
        return 1
    }
    tail -n 1 "$work/$label.out"
}

results="$work/results.jsonl"
for rate in "${rates[@]}"; do
    "$reference_bin" 0 >"$work/reference-$rate.log" 2>&1 &
    pids+=($!)
    port="$(listening "$work/reference-$rate.log" "limit listening")"
    reference="$(run "reference-$rate" "http://127.0.0.1:$port" --target reference)"
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

    "$bin/chat-server" --listen "127.0.0.1:0" --database-url "sqlite://$work/chat-$rate.db" \
        --lift-rate-limits --ws-frame-rate 100000 --ws-sockets-per-user 100000 \
        --max-connections 100000 --log warn,chat_server=info 2>"$work/server-$rate.log" &
    pids+=($!)
    port="$(listening "$work/server-$rate.log" "chat server listening")"
    chat="$(run "chat-$rate" "http://127.0.0.1:$port")"
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

    printf '{"rate": %s, "connections": %s, "reference": %s, "chat": %s}\n' \
        "$rate" "$connections" "$reference" "$chat" >>"$results"
done

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print(f"fan-out: 1 sender, {rows[0]['connections']} receiving connections; deliveries/s and p99 latency")
print(f"{'offered msg/s':>13} | {'reference':>22} | {'chat-server':>22} | {'delivered':>9} | {'p99':>6} | lost (ref/chat)")
failed = False
for row in rows:
    r, c = row["reference"], row["chat"]
    rd, cd = r["delivered_per_second"], c["delivered_per_second"]
    rp, cp = r["latency_ms"]["p99"], c["latency_ms"]["p99"]
    print(f"{row['rate']:>13} | {rd/1000:>8.1f} K/s {rp:>8.1f} ms | {cd/1000:>8.1f} K/s {cp:>8.1f} ms"
          f" | {cd/max(rd,1e-9):>8.2f}x | {cp/max(rp,1e-9):>5.2f}x | {r['lost']}/{c['lost']}")
    for name, run in (("reference", r), ("chat-server", c)):
        if run["lost"] or run["duplicated"] or run["delivered"] == 0:
            failed = True
            print(f"  {name} at {row['rate']} msg/s: lost {run['lost']}, duplicated {run['duplicated']}, delivered {run['delivered']}")
print(json.dumps(rows))
sys.exit(1 if failed else 0)
PY

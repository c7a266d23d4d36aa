#!/usr/bin/env bash
# Benchmark: the cost of witnessing. P1 (scripts/bench-log.sh: concurrent
# signature submissions, fsync on) with `--witness-policy` (three local
# sealwax-witness processes, a 2-of-3 quorum) against without, alternated
# ROUNDS times on one data directory, in one run; then the time from a POST
# to the first served (quorum-cosigned) checkpoint that covers it.
#
#   scripts/bench-witnessing.sh [ENTRIES] [CONCURRENCY] [ROUNDS]   (default 20000 64 3)
#
# Prints each run's entries/s, the medians, their ratio (on / off), and the
# POST-to-cosigned p50/p99 over LATENCY_ENTRIES (default 200) entries.
set -euo pipefail

ENTRIES=${1:-20000}
CONCURRENCY=${2:-64}
ROUNDS=${3:-3}
LATENCY_ENTRIES=${LATENCY_ENTRIES:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ORIGIN=bench.test/log

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "Building release binaries..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p sealwax-log -p sealwax-witness --bins --features sealwax-log/tools)
fi
LOG=$TARGET/release/sealwax-log
WITNESS=$TARGET/release/sealwax-witness

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
    for _ in $(seq 100); do
        curl -fs "$1/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$1 never became healthy" >&2
    exit 1
}

# The log's key first: witnesses and the policy name it.
DATA=$WORK/data
PORT=$(free_port)
"$LOG" serve --data-dir "$DATA" --listen "127.0.0.1:$PORT" --origin "$ORIGIN" 2>"$WORK/first.log" &
FIRST=$!
wait_up "http://127.0.0.1:$PORT"
kill "$FIRST"
wait "$FIRST" 2>/dev/null || true
VKEY=$("$LOG" key --data-dir "$DATA")

POLICY=$WORK/policy
echo "log $VKEY" >"$POLICY"
for i in 1 2 3; do
    WPORT=$(free_port)
    "$WITNESS" serve --data-dir "$WORK/w$i" --listen "127.0.0.1:$WPORT" --name "bench.test/w$i" \
        --log-key "$VKEY" 2>"$WORK/w$i.log" &
    PIDS+=($!)
    wait_up "http://127.0.0.1:$WPORT"
    echo "witness w$i $("$WITNESS" key --data-dir "$WORK/w$i") http://127.0.0.1:$WPORT" >>"$POLICY"
done
printf 'group q 2 w1 w2 w3\nquorum q\n' >>"$POLICY"

run() { # off|on -> entries/s
    local args=""
    [ "$1" = on ] && args="--witness-policy $POLICY"
    SKIP_BUILD=1 DATA_DIR=$DATA SERVE_ARGS="$args" "$ROOT/scripts/bench-log.sh" "$ENTRIES" "$CONCURRENCY" \
        >"$WORK/run.out" 2>&1 || { cat "$WORK/run.out" >&2; exit 1; }
    awk '/^entries\/s accepted:/ { print $3 }' "$WORK/run.out"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

OFF=()
ON=()
for r in $(seq "$ROUNDS"); do
    OFF+=("$(run off)")
    ON+=("$(run on)")
    echo "round $r: witnessing off ${OFF[-1]} entries/s, on ${ON[-1]} entries/s" >&2
done
M_OFF=$(printf '%s\n' "${OFF[@]}" | median)
M_ON=$(printf '%s\n' "${ON[@]}" | median)
echo "P1 witnessing off: ${OFF[*]} entries/s (median $M_OFF)"
echo "P1 witnessing on:  ${ON[*]} entries/s (median $M_ON), 3 witnesses, 2-of-3"
awk -v a="$M_ON" -v b="$M_OFF" 'BEGIN { printf "ratio on/off:      %.3f\n", a / b }'

SKIP_BUILD=1 DATA_DIR=$DATA SERVE_ARGS="--witness-policy $POLICY" \
    BENCH_ARGS="--cosign-latency $LATENCY_ENTRIES" "$ROOT/scripts/bench-log.sh" 1000 8 >"$WORK/lat.out" 2>&1 ||
    { cat "$WORK/lat.out" >&2; exit 1; }
grep -A1 '^to a checkpoint:' "$WORK/lat.out"

#!/usr/bin/env bash
# Benchmark: add-checkpoint requests/s of one sealwax-witness pinned to one
# core, beside this machine's raw Ed25519 sign+verify rate and synced-write
# rate, measured by the load generator in the same run.
#
#   scripts/bench-witness.sh [LOGS] [REQUESTS_PER_LOG] [debug|release]
#                                     (default 4 logs, 2000 requests, release)
#
# Builds only the witness crate (it does not link RocksDB), starts a
# throw-away witness trusting the bench's test logs on CPU 0 (taskset), and
# runs sealwax-witness-bench on CPU 1. The data directory is in a temporary
# directory: set TMPDIR to measure another disk.
set -euo pipefail

LOGS=${1:-4}
REQUESTS=${2:-2000}
PROFILE=${3:-release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

flag=--release
[ "$PROFILE" = debug ] && flag=
echo "Building sealwax-witness ($PROFILE)..." >&2
(cd "$ROOT" && cargo build $flag --quiet -p sealwax-witness --features tools --bins)
BIN=$TARGET/$PROFILE

WORK=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

pin() { if command -v taskset >/dev/null; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
keys=()
while read -r k; do keys+=(--log-key "$k"); done < <("$BIN/sealwax-witness-bench" log-keys --logs "$LOGS")
pin 0 "$BIN/sealwax-witness" serve --data-dir "$WORK/witness" --listen "127.0.0.1:$PORT" \
    --name bench.sealwax.test/witness "${keys[@]}" 2>"$WORK/witness.err" &
PID=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
echo "witness ($PROFILE build) on CPU 0, load generator on CPU 1:" >&2
pin 1 "$BIN/sealwax-witness-bench" run --addr "127.0.0.1:$PORT" --logs "$LOGS" \
    --requests "$REQUESTS" --durable-dir "$WORK"

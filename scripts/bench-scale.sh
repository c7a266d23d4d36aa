#!/usr/bin/env bash
# Benchmark: sealwax-log at scale. Grows one log step by step (default to
# 1 thousand, 100 thousand, 1 million and 10 million entries) with
# `sealwax-log-fill` (the log's own verifier and sequencer, in process, no
# HTTP), and at each step serves it with `sealwax-log serve` and runs
# scripts/bench-log.sh on it: 2,000 timed inclusion proofs for random leaves
# over HTTP, then a load of signature submissions, with the server's peak
# RSS. The figures to compare across steps are the proof p50/p99 and the RSS.
#
#   scripts/bench-scale.sh                      (SIZES="1000 100000 1000000 10000000")
#   SIZES="1000 1000000" scripts/bench-scale.sh
#
# FILL_ARGS passes flags to sealwax-log-fill: FILL_ARGS=--compact compacts
# the database after each fill, measuring a log whose compactions have
# settled rather than one straight after a bulk load.
#
# The data directory lives in WORK_DIR (default: a new temporary directory,
# removed at the end unless KEEP=1). 10 million entries take about 5 GB.
set -euo pipefail

SIZES=${SIZES:-1000 100000 1000000 10000000}
LOAD_ENTRIES=${LOAD_ENTRIES:-20000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ORIGIN=bench.test/log

echo "Building release binaries..." >&2
(cd "$ROOT" && cargo build --release --quiet -p sealwax-log --bins --features tools)

WORK=${WORK_DIR:-$(mktemp -d)}
cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
DATA=$WORK/data

for n in $SIZES; do
    echo
    echo "=== tree size $n"
    "$TARGET/release/sealwax-log-fill" --data-dir "$DATA" --origin "$ORIGIN" --to "$n" ${FILL_ARGS:-}
    DATA_DIR=$DATA SKIP_BUILD=1 BENCH_ARGS="--proofs 2000 ${BENCH_ARGS:-}" \
        "$ROOT/scripts/bench-log.sh" "$LOAD_ENTRIES" 64 |
        grep -E '^(inclusion proofs|entries/s|latency p(50|99)|ratio|errors)|VmHWM|data dir|server CPU'
done

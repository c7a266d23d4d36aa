#!/usr/bin/env bash
# Benchmark: sealwax-log under concurrent signature submissions, with fsync on.
#
#   scripts/bench-log.sh [ENTRIES] [CONCURRENCY]     (default 20000 entries, 64 connections)
#
# Builds the release binaries, starts a throw-away `sealwax-log serve` on a
# temporary data directory and a free loopback port, runs `sealwax-log-bench`
# against it (entries/s, p50/p99 latency, errors by status, and this
# machine's one-core Ed25519 verification rate with the ratio), then prints
# the server's peak RSS (VmHWM) and its batch-size and commit-time metrics,
# and stops it with SIGTERM. Extra sealwax-log-bench flags can be given in
# BENCH_ARGS, extra server flags in SERVE_ARGS. DATA_DIR runs the server on
# an existing data directory (kept) instead of a temporary one, e.g. one
# grown by `sealwax-log-fill` (see scripts/bench-scale.sh). SAMPLE_METRICS=FILE
# appends the server's /metrics every 100 ms during the run to FILE (each
# sample headed by a `# sample <unix ms>` line), as scripts/bench-mirror.sh uses.
set -euo pipefail

ENTRIES=${1:-20000}
CONCURRENCY=${2:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ORIGIN=bench.test/log

command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is not installed (used to pick a free port)" >&2; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "Building release binaries..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p sealwax-log --bins --features tools)
fi
LOG=$TARGET/release/sealwax-log
BENCH=$TARGET/release/sealwax-log-bench

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
# shellcheck disable=SC2086  # SERVE_ARGS is a list of flags
# A load generator is one client: the per-client write limit is off here.
SEALWAX_LOG_WRITE_RATE=${SEALWAX_LOG_WRITE_RATE:-0} RUST_LOG=${RUST_LOG:-warn} "$LOG" serve --data-dir "${DATA_DIR:-$WORK/data}" --listen "127.0.0.1:$PORT" \
    --origin "$ORIGIN" ${SERVE_ARGS:-} 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -fs "$URL/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "sealwax-log exited" >&2; exit 1; }
    sleep 0.1
done
curl -fs "$URL/healthz" >/dev/null || { cat "$WORK/server.log" >&2; echo "sealwax-log never became healthy" >&2; exit 1; }

# CPU seconds (user + system) the server has used so far.
server_cpu() {
    awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / tck }' "/proc/$SERVER_PID/stat"
}

echo "sealwax-log pid $SERVER_PID on $URL; cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
STATUS=0
SAMPLER=
if [ -n "${SAMPLE_METRICS:-}" ]; then
    (while :; do
        echo "# sample $(date +%s%3N)"
        curl -fs "$URL/metrics" || true
        sleep 0.1
    done >>"$SAMPLE_METRICS") &
    SAMPLER=$!
fi
CPU_BEFORE=$(server_cpu)
# shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
"$BENCH" --url "$URL" --origin "$ORIGIN" --concurrency "$CONCURRENCY" --entries "$ENTRIES" \
    ${BENCH_ARGS:-} || STATUS=$?
CPU_AFTER=$(server_cpu)
if [ -n "$SAMPLER" ]; then kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; fi

echo
echo "server (sealwax-log serve, fsync on):"
grep -E '^(VmHWM|VmRSS)' "/proc/$SERVER_PID/status" | sed 's/^/  /'
curl -fs "$URL/metrics" >"$WORK/metrics"
awk '
    /^sealwax_batch_size_(sum|count) / { b[$1] = $2 }
    /^sealwax_batch_size_bucket/ { line[n++] = $0 }
    /^sealwax_commit_seconds_(sum|count) / { c[$1] = $2 }
    /^sealwax_sequencing_seconds_(sum|count) / { s[$1] = $2 }
    /^sealwax_directory_update_seconds_(sum|count) / { d[$1] = $2 }
    /^sealwax_entries_total / { entries = $2 }
    END {
        printf "  entries logged:        %d\n", entries
        if (b["sealwax_batch_size_count"] > 0)
            printf "  batches committed:     %d, mean %.1f entries per batch\n",
                b["sealwax_batch_size_count"], b["sealwax_batch_size_sum"] / b["sealwax_batch_size_count"]
        if (c["sealwax_commit_seconds_count"] > 0)
            printf "  mean commit (fsync):   %.2f ms\n",
                1000 * c["sealwax_commit_seconds_sum"] / c["sealwax_commit_seconds_count"]
        if (d["sealwax_directory_update_seconds_count"] > 0)
            printf "  mean directory update: %.2f ms\n",
                1000 * d["sealwax_directory_update_seconds_sum"] / d["sealwax_directory_update_seconds_count"]
        if (s["sealwax_sequencing_seconds_count"] > 0)
            printf "  mean queue->durable:   %.2f ms\n",
                1000 * s["sealwax_sequencing_seconds_sum"] / s["sealwax_sequencing_seconds_count"]
        print "  batch size histogram (cumulative):"
        for (i = 0; i < n; i++) print "    " line[i]
    }' "$WORK/metrics"
echo "  data dir:              $(du -sh "${DATA_DIR:-$WORK/data}" | cut -f1)"
awk -v a="$CPU_BEFORE" -v b="$CPU_AFTER" -v n="$ENTRIES" 'BEGIN {
    printf "  server CPU in the run: %.2f s (%.0f us per submitted entry)\n", b - a, 1e6 * (b - a) / n }'

kill -TERM "$SERVER_PID"
for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "sealwax-log did not stop within 10 s of SIGTERM" >&2
    STATUS=1
else
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
fi
exit "$STATUS"

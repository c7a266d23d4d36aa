#!/usr/bin/env bash
# Benchmark: `sealwax verify` against `minisign -Vm` on the same large file,
# side by side in one run. Prints the median wall time of each, their ratio
# (the goal is at most 1.1) and each tool's peak memory.
#
#   scripts/bench-verify.sh [SIZE_MIB] [RUNS]     (default 1024 MiB, 5 runs)
#
# Needs: cargo, minisign; uses hyperfine when it is installed, else
# /usr/bin/time. Builds the release binaries, starts a throw-away
# sealwax-log on loopback, publishes the file once, then times verification
# only (both tools read the file from the page cache after a warm-up run).
set -euo pipefail

SIZE_MIB=${1:-1024}
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

command -v minisign >/dev/null || { echo "minisign is not installed (apt-get install minisign)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is not installed (apt-get install time)" >&2; exit 2; }

echo "Building release binaries..." >&2
(cd "$ROOT" && cargo build --release --quiet -p sealwax -p sealwax-log)
SEALWAX=$TARGET/release/sealwax
LOG=$TARGET/release/sealwax-log

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$LOG" serve --data-dir "$WORK/log" --listen "127.0.0.1:$PORT" --origin bench.test/log 2>"$WORK/log.err" &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
VKEY=$("$LOG" key --data-dir "$WORK/log")
SW=("$SEALWAX" --home "$WORK/home" --log "http://127.0.0.1:$PORT" --log-key "$VKEY")

"${SW[@]}" keys generate --publisher bench -W >"$WORK/keys.out"
PUB=$(sed -n 's/^ *public: //p' "$WORK/keys.out")
FILE=$WORK/artifact.bin
echo "Writing a ${SIZE_MIB} MiB file..." >&2
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$FILE"
"${SW[@]}" publish "$FILE" --publisher bench --package big --release-version 1.0.0 --no-upload >/dev/null

SEALWAX_CMD="${SW[*]} verify $FILE"
MINISIGN_CMD="minisign -Vm $FILE -p $PUB -q"

# Both must accept the file before anything is timed.
$SEALWAX_CMD >/dev/null
$MINISIGN_CMD >/dev/null

peak_rss() { # prints the peak RSS in KiB of one run of "$@"
    /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>&1
    cat "$WORK/rss"
}

if command -v hyperfine >/dev/null; then
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/h.json" \
        -n "sealwax verify" "$SEALWAX_CMD" -n "minisign -Vm" "$MINISIGN_CMD"
    read -r T_SW T_MS < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[0]["median"], r[1]["median"])' "$WORK/h.json")
else
    $SEALWAX_CMD >/dev/null; $MINISIGN_CMD >/dev/null   # warm-up
    : >"$WORK/sw.times"; : >"$WORK/ms.times"
    for _ in $(seq "$RUNS"); do   # interleaved, so both see the same machine
        /usr/bin/time -f '%e' -a -o "$WORK/sw.times" $SEALWAX_CMD >/dev/null
        /usr/bin/time -f '%e' -a -o "$WORK/ms.times" $MINISIGN_CMD >/dev/null
    done
    median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
    T_SW=$(median "$WORK/sw.times")
    T_MS=$(median "$WORK/ms.times")
fi

RSS_SW=$(peak_rss $SEALWAX_CMD)
RSS_MS=$(peak_rss $MINISIGN_CMD)
echo
echo "file size:        ${SIZE_MIB} MiB, ${RUNS} runs each, median wall time"
printf 'sealwax verify:   %.3f s   peak RSS %6d KiB\n' "$T_SW" "$RSS_SW"
printf 'minisign -Vm:     %.3f s   peak RSS %6d KiB\n' "$T_MS" "$RSS_MS"
awk -v a="$T_SW" -v b="$T_MS" 'BEGIN { r = a / b; printf "ratio:            %.3f (goal <= 1.10) %s\n", r, (r <= 1.10 ? "OK" : "OVER") }'

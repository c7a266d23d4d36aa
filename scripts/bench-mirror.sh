#!/usr/bin/env bash
# Benchmark: the cost of the object storage mirror. P1 (scripts/bench-log.sh:
# concurrent signature submissions, fsync on) with `--mirror s3://...` into a
# real SeaweedFS on loopback, against without, alternated ROUNDS times (each
# mode on its own data directory), in one run. During the mirrored runs the
# log's /metrics is sampled every 100 ms for the mirror's lag; at the end the
# bucket is listed for objects and bytes per entry.
#
#   scripts/bench-mirror.sh [ENTRIES] [CONCURRENCY] [ROUNDS]   (default 20000 64 3)
#
# CATCHUP=N (e.g. 1000000) then grows a log offline to N entries
# (sealwax-log-fill), serves it with the mirror on until the bucket holds
# all of it, puts nginx with deploy/nginx/mirror.conf in front of the
# bucket, and times `sealwax-monitor --once` from an empty state against the
# log itself and against the mirror through nginx (cold cache, then warm),
# and `sealwax install` of one release with and without --tiles.
#
# Needs SeaweedFS's `weed` (scripts/seaweedfs installs it; SEALWAX_WEED names one).
set -euo pipefail

ENTRIES=${1:-20000}
CONCURRENCY=${2:-64}
ROUNDS=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUCKET=tiles
PREFIX=bench/log
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "Building release binaries..." >&2
    (cd "$ROOT" && cargo build --release --quiet -p sealwax-log -p sealwax-monitor -p sealwax --bins --features sealwax-log/tools)
fi
WEED=${SEALWAX_WEED:-$("$ROOT/scripts/seaweedfs")}

WORK=$(mktemp -d)
WEED_PID=
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -n "$WEED_PID" ] && kill "$WEED_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Eight free ports below 55536 whose +10000 twins (weed's gRPC) are free too.
read -r MP MG VP VG FP FG SP SG < <(python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
out = []
while len(out) < 8:
    p = random.randint(20000, 45000)
    if p not in out and free(p) and free(p + 10000):
        out.append(p)
print(*out)
PY
)
mkdir -p "$WORK/weed"
cat >"$WORK/weed/s3.json" <<JSON
{"identities": [
  {"name": "sealwax-log", "credentials": [{"accessKey": "bench", "secretKey": "bench-secret"}],
   "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
  {"name": "anonymous", "actions": ["Admin", "Read", "List", "Write"]}]}
JSON
"$WEED" server -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3 \
    -master.port="$MP" -master.port.grpc="$MG" -volume.port="$VP" -volume.port.grpc="$VG" \
    -filer.port="$FP" -filer.port.grpc="$FG" -s3.port="$SP" -s3.port.grpc="$SG" \
    -s3.config="$WORK/weed/s3.json" -s3.port.iceberg=0 -s3.port.lance=0 -master.telemetry=false \
    -master.volumeSizeLimitMB=64 -volume.max=16 -volume.preStopSeconds=0 >"$WORK/weed.log" 2>&1 &
WEED_PID=$!
S3=http://127.0.0.1:$SP
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
# The bucket, made anonymously (the loopback store lets anyone write, as the
# tests' does); the mirror's first round needs it to exist.
for _ in $(seq 300); do
    python3 - "$S3" "$BUCKET" <<'PY' && break
import sys, urllib.request
s3, bucket = sys.argv[1], sys.argv[2]
try:
    urllib.request.urlopen(urllib.request.Request(f"{s3}/{bucket}", method="PUT"), timeout=5)
except urllib.error.HTTPError as e:
    if e.code not in (409,):
        sys.exit(1)
except Exception:
    sys.exit(1)
PY
    sleep 0.2
done
echo "SeaweedFS S3 on $S3 (weed pid $WEED_PID)" >&2
# CPU seconds (user + system) SeaweedFS has used so far: it shares the cores.
weed_cpu() {
    awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / tck }' "/proc/$WEED_PID/stat"
}

run() { # off|on -> entries/s
    local args="" data=$WORK/data-$1 sample=""
    [ "$1" = on ] && args="--mirror s3://$BUCKET/$PREFIX" && sample=$WORK/samples
    SKIP_BUILD=1 DATA_DIR=$data SERVE_ARGS="$args" SAMPLE_METRICS=$sample "$ROOT/scripts/bench-log.sh" "$ENTRIES" "$CONCURRENCY" \
        >"$WORK/run.out" 2>&1 || { cat "$WORK/run.out" >&2; exit 1; }
    echo "  mirror $1: $(grep 'server CPU' "$WORK/run.out" | sed 's/^ *//')" >&2
    awk '/^entries\/s accepted:/ { print $3 }' "$WORK/run.out"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
pct() { # P -> the P-th percentile of the numbers on stdin
    sort -n | awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; print a[i] }'
}

OFF=()
ON=()
WEED_ON=0
for r in $(seq "$ROUNDS"); do
    OFF+=("$(run off)")
    W0=$(weed_cpu)
    ON+=("$(run on)")
    WEED_ON=$(awk -v a="$WEED_ON" -v b="$W0" -v c="$(weed_cpu)" 'BEGIN { print a + c - b }')
    echo "round $r: mirror off ${OFF[-1]} entries/s, on ${ON[-1]} entries/s" >&2
done
M_OFF=$(printf '%s\n' "${OFF[@]}" | median)
M_ON=$(printf '%s\n' "${ON[@]}" | median)
echo "P1 mirror off: ${OFF[*]} entries/s (median $M_OFF)"
echo "P1 mirror on:  ${ON[*]} entries/s (median $M_ON), SeaweedFS on loopback"
awk -v a="$M_ON" -v b="$M_OFF" 'BEGIN { printf "ratio on/off:  %.3f\n", a / b }'
awk -v c="$WEED_ON" -v n="$((ENTRIES * ROUNDS))" 'BEGIN { printf "SeaweedFS CPU during the mirrored runs: %.2f s (%.0f us per entry, on the same 2 cores)\n", c, 1e6 * c / n }'

LAG_S=$(awk '/^sealwax_mirror_lag_seconds / { print $2 }' "$WORK/samples")
LAG_E=$(awk '/^sealwax_mirror_lag_entries / { print $2 }' "$WORK/samples")
echo "mirror lag under load ($(echo "$LAG_S" | wc -l) samples, every 100 ms):"
echo "  seconds: p50 $(echo "$LAG_S" | pct 50), p99 $(echo "$LAG_S" | pct 99), max $(echo "$LAG_S" | pct 100)"
echo "  entries: p50 $(echo "$LAG_E" | pct 50), p99 $(echo "$LAG_E" | pct 99), max $(echo "$LAG_E" | pct 100)"

# The bucket: objects and bytes, by kind, per entry of its checkpoint.
python3 - "$S3" "$BUCKET" "$PREFIX" <<'PY'
import sys, urllib.request, urllib.parse, xml.etree.ElementTree as ET
s3, bucket, prefix = sys.argv[1:]
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
kinds, token = {}, None
while True:
    q = {"list-type": "2", "prefix": prefix + "/", "max-keys": "1000"}
    if token:
        q["continuation-token"] = token
    root = ET.fromstring(urllib.request.urlopen(f"{s3}/{bucket}?{urllib.parse.urlencode(q)}").read())
    for c in root.iter(ns + "Contents"):
        key = c.find(ns + "Key").text[len(prefix) + 1:]
        size = int(c.find(ns + "Size").text)
        if key == "checkpoint":
            kind = "checkpoint"
        else:
            kind = ("bundle" if key.startswith("tile/entries/") else "hash tile") + (" (partial)" if ".p/" in key else " (full)")
        n, b = kinds.get(kind, (0, 0))
        kinds[kind] = (n + 1, b + size)
    token = root.findtext(ns + "NextContinuationToken")
    if not token:
        break
cp = urllib.request.urlopen(f"{s3}/{bucket}/{prefix}/checkpoint").read().decode()
size = int(cp.split("\n")[1])
objs = sum(n for n, _ in kinds.values())
total = sum(b for _, b in kinds.values())
print(f"bucket at tree size {size}: {objs} objects, {total} bytes ({total / size:.1f} bytes per entry)")
for k in sorted(kinds):
    n, b = kinds[k]
    print(f"  {k:22} {n:7} objects {b:12} bytes  ({1e6 * n / size:.0f} objects per million entries)")
PY

[ -n "${CATCHUP:-}" ] || exit 0

# ----- catch-up from the mirror through nginx, against from the log -----
LOG=$TARGET/release/sealwax-log
MONITOR=$TARGET/release/sealwax-monitor
CLIENT=$TARGET/release/sealwax
ORIGIN=bench.test/log
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DATA=$WORK/catchup
echo "growing a log to $CATCHUP entries (sealwax-log-fill)..." >&2
START=$SECONDS
"$TARGET/release/sealwax-log-fill" --data-dir "$DATA" --origin "$ORIGIN" --to "$CATCHUP" --proofs 0 >"$WORK/fill.out" 2>&1 ||
    { cat "$WORK/fill.out" >&2; exit 1; }
echo "  filled in $((SECONDS - START)) s" >&2
LPORT=$(free_port)
LOG_URL=http://127.0.0.1:$LPORT
SEALWAX_LOG_WRITE_RATE=0 RUST_LOG=warn "$LOG" serve --data-dir "$DATA" --listen "127.0.0.1:$LPORT" --origin "$ORIGIN" \
    --mirror "s3://$BUCKET/sealwax" 2>"$WORK/catchup-server.log" &
PIDS+=($!)
for _ in $(seq 300); do curl -fs "$LOG_URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
VKEY=$("$LOG" key --data-dir "$DATA")

# A release to install, published through the real client.
export SEALWAX_HOME=$WORK/publisher
"$CLIENT" init --log "$LOG_URL" --log-key "$VKEY" >/dev/null
"$CLIENT" keys generate --publisher benchpub -W >/dev/null
head -c 100000 /dev/urandom >"$WORK/pkg.tar"
"$CLIENT" publish "$WORK/pkg.tar" --publisher benchpub --package pkg --release-version 1.0.0 >/dev/null
SIZE=$(curl -fs "$LOG_URL/checkpoint" | sed -n 2p)

echo "waiting for the mirror to upload $SIZE entries..." >&2
START=$SECONDS
until [ "$(curl -fs "$S3/$BUCKET/sealwax/checkpoint" 2>/dev/null | sed -n 2p)" = "$SIZE" ]; do
    [ $((SECONDS - START)) -lt 3600 ] || { echo "the mirror never caught up" >&2; exit 1; }
    sleep 1
done
UPLOAD_S=$((SECONDS - START))
echo "mirror upload of $SIZE entries: $UPLOAD_S s" >&2

# nginx with deploy/nginx/mirror.conf, only its upstream, port and cache moved.
NPORT=$(free_port)
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/temp"
sed -e "s/server 127.0.0.1:8333;/server 127.0.0.1:$SP;/" -e "s/listen 8081;/listen 127.0.0.1:$NPORT;/" \
    -e "s#/var/cache/nginx/sealwax-mirror#$WORK/nginx/cache#" "$ROOT/deploy/nginx/mirror.conf" >"$WORK/nginx/mirror.conf"
cat >"$WORK/nginx/nginx.conf" <<NGINX
user root root;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 512; }
http {
    access_log $WORK/nginx/logs/access.log;
    client_body_temp_path $WORK/nginx/temp/body;
    proxy_temp_path $WORK/nginx/temp/proxy;
    fastcgi_temp_path $WORK/nginx/temp/fastcgi;
    uwsgi_temp_path $WORK/nginx/temp/uwsgi;
    scgi_temp_path $WORK/nginx/temp/scgi;
    include $WORK/nginx/mirror.conf;
}
NGINX
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
MIRROR=http://127.0.0.1:$NPORT
for _ in $(seq 100); do curl -fs "$MIRROR/checkpoint" >/dev/null 2>&1 && break; sleep 0.1; done

echo '[[watch]]
publisher = "benchpub"
learn = true' >"$WORK/monitor.toml"
catch_up() { # label, monitor flags... -> seconds
    local label=$1 state=$WORK/mon-$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    "$MONITOR" "$@" --log-key "$VKEY" --state "$state" --config "$WORK/monitor.toml" --once --no-progress \
        >"$WORK/mon-$label.out" 2>"$WORK/mon-$label.err" || [ $? -eq 1 ] || { cat "$WORK/mon-$label.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v n="$SIZE" -v l="$label" 'BEGIN { printf "monitor catch-up over %d entries, %-22s %6.1f s  %8.0f entries/s\n", n, l ":", b - a, n / (b - a) }'
}
catch_up log --log "$LOG_URL"
catch_up mirror-nginx-cold --tiles "$MIRROR"
catch_up mirror-nginx-warm --tiles "$MIRROR"
echo "nginx requests in the two mirror runs: $(wc -l <"$WORK/nginx/logs/access.log")"

# Install one release: from the log, then with --tiles (a fresh home each time).
install_ms() { # extra flags -> ms of the best of 5
    local best=999999 i
    for i in 1 2 3 4 5; do
        rm -rf "$WORK/inst"
        SEALWAX_HOME=$WORK/inst/home "$CLIENT" init --log "$LOG_URL" --log-key "$VKEY" >/dev/null
        local t0 t1
        t0=$(date +%s%N)
        SEALWAX_HOME=$WORK/inst/home "$CLIENT" install benchpub/pkg@1.0.0 --to "$WORK/inst/to" --trust-new-keys "$@" >/dev/null
        t1=$(date +%s%N)
        local ms=$(( (t1 - t0) / 1000000 ))
        [ "$ms" -lt "$best" ] && best=$ms
    done
    echo "$best"
}
BEFORE=$(wc -l <"$WORK/nginx/logs/access.log")
echo "install of a 100 kB release at tree size $SIZE (best of 5, fresh home each):"
echo "  from the log:           $(install_ms) ms"
echo "  with --tiles (nginx):   $(install_ms --tiles "$MIRROR") ms"
echo "  requests to the mirror per install: $(( ($(wc -l <"$WORK/nginx/logs/access.log") - BEFORE) / 5 ))"

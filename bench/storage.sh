#!/usr/bin/env bash
# /storage/v1 benchmark (issue 6), in one run on one server, side by side with nginx:
#   nginx    ../shared/bench/storage-load.sh without URLs: nginx (sendfile) serving /ok (11 bytes
#            from nginx itself), /64k.bin and /1m.bin, wrk -t2 -c32 (THREADS, CONNS)
#   download the same loads against GET /p/<ref>/storage/v1/object/public/bench/{ok,64k.bin,1m.bin}
#            (a public bucket, no key needed; the anon key is sent as apikey, as supabase-js does)
#   upload   wrk -t2 -c32: POST /object/bench/up/<thread>-<n>.bin, 1 MiB body, x-upsert: true,
#            service_role key; 64 rotating names per thread, requests built once
#   disk     the disk's side of uploads (their physical limit here): CONNS writers of 1 MiB
#            files (write, fsync, rename, directory fsync; node) for DUR seconds, and dd of
#            BIG_MB MiB with one fsync
#   big      one 2 GiB upload (curl -T from a sparse file in the temp dir) while VmRSS of the
#            server is sampled every 0.1 s from /proc/<pid>/status
# Prints RESULT lines, then the ratios and PASS/FAIL against the issue's targets:
#   1 MiB download >= 70 % of nginx, 64 KiB >= 40 %, upload >= 200 MB/s, RSS growth < 50 MB.
# Usage: DUR=15 bench/storage.sh      (seconds per run; also accepted as $1)
# Env:   THREADS=2 CONNS=32 (wrk), BIG_MB=2048 (size of the big upload; 0 to skip it),
#        PERF=N (after the measured runs: N more seconds of 1 MiB downloads under
#        `perf record -g -a`, then the top of the report by command and by symbol of the server),
#        NGINX_PORT (58093), BENCH_PORT (18993), SHARED_BENCH (../shared/bench),
#        ALPACA_SERVER_BIN (build/release/bin/alpaca-server).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-${DUR:-15}}
threads=${THREADS:-2}
conns=${CONNS:-32}
big_mb=${BIG_MB:-2048}
shared=${SHARED_BENCH:-../shared/bench}
shared=$(cd "$shared" && pwd)
[ -f "$shared/storage-load.sh" ] || { echo "shared bench scripts not found in $shared" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found (scripts/deps.sh)" >&2; exit 1; }
source bench/server.sh
plugins_dir=$(cd "$(dirname "$bin")/.." && pwd)/lib/alpaca/plugins
for p in database storage; do
  [ -f "$plugins_dir/$p.so" ] || { echo "plugin not found: $plugins_dir/$p.so" >&2; exit 1; }
done

bench_cleanup() { # called by server.sh's exit trap, before the server is stopped
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
  [ -n "${upload_pid:-}" ] && kill "$upload_pid" 2>/dev/null
  return 0
}

# The 2 GiB upload needs both the storage limit and the host's body limit raised.
export ALPACA_STORAGE_MAX_FILE_SIZE=${ALPACA_STORAGE_MAX_FILE_SIZE:-3GB}
export ALPACA_HTTP_MAX_BODY_BYTES=${ALPACA_HTTP_MAX_BODY_BYTES:-3221225472}
export ALPACA_STORAGE_UPLOAD_RATE_LIMIT=${ALPACA_STORAGE_UPLOAD_RATE_LIMIT:-0}  # per-minute cap off
ALPACA_LOG_LEVEL=${ALPACA_LOG_LEVEL:-warn} ALPACA_LOG_REQUESTS=false BENCH_PORT=${BENCH_PORT:-18993} \
  start_server "$plugins_dir/database.so,$plugins_dir/storage.so"
api_keys
st="$base/p/$id/storage/v1"
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
rss_start=$(rss_kb)

# A public bucket and the objects, byte-checked through the public route.
curl -sf -X POST "$st/bucket" -H "apikey: $svc" -H 'Content-Type: application/json' \
  -d '{"name":"bench","public":true}' >/dev/null || { echo "bucket creation failed" >&2; exit 1; }
printf '{"ok":true}' >"$dir/ok"
head -c $((64 * 1024)) /dev/urandom >"$dir/64k.bin"
head -c $((1024 * 1024)) /dev/urandom >"$dir/1m.bin"
for f in ok 64k.bin 1m.bin; do
  curl -sf -X POST "$st/object/bench/$f" -H "apikey: $svc" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$dir/$f" >/dev/null || { echo "upload of $f failed" >&2; exit 1; }
  curl -sf "$st/object/public/bench/$f" -o "$dir/$f.back" && cmp -s "$dir/$f" "$dir/$f.back" ||
    { echo "public download of $f differs or failed" >&2; exit 1; }
done

# wrk script for the uploads: its own RESULT line (load.lua's shape) from done().
cat >"$dir/upload.lua" <<LUA
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
-- The requests are made once (64 names per thread): building a 1 MiB string per request would
-- make wrk, not the server, the bottleneck.
function init(args)
  n = 0
  local body = string.rep("0123456789abcdef", 65536)  -- 1 MiB
  local hdr = { ["apikey"] = "$svc", ["Content-Type"] = "application/octet-stream", ["x-upsert"] = "true" }
  reqs = {}
  for i = 1, 64 do
    reqs[i] = wrk.format("POST", "/p/$id/storage/v1/object/bench/up/" .. tid .. "-" .. i .. ".bin", hdr, body)
  end
end
function request()
  n = n + 1
  return reqs[(n % 64) + 1]
end
function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT|http|alpaca|upload_1m|rps=%.1f|p50_ms=%.2f|p99_ms=%.2f|mb_s=%.1f|non2xx=%d|sockerr=%d|reqs=%d\n",
    summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / secs * 1.048576, e.status, e.connect + e.read + e.write + e.timeout, summary.requests))
end
LUA

# Everything the shared scripts write (nginx's root, scratch files) goes under our temp dir.
export BENCH_OUT="$dir/shared-out" DURATION=$dur THREADS=$threads CONNS=$conns
export NGINX_PORT=${NGINX_PORT:-58093}
export BENCH_ANON_KEY=$anon BENCH_SERVICE_KEY=$svc

echo "alpaca-server $(stat -c '%y' "$bin" | cut -d. -f1), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty tree)')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (compare ratios within one run)"
echo "## nginx (storage-load.sh)"
bash "$shared/storage-load.sh" 2>"$dir/nginx.err" | sed 's/|static:/|nginx:/' | tee "$dir/nginx.txt"
grep '^SMOKE' "$dir/nginx.err" | sed 's/|static:/|nginx:/' | cut -c1-100 >&2 || true
echo "## alpaca /object/public (storage-load.sh URL...)"
bash "$shared/storage-load.sh" "$st/object/public/bench/ok" "$st/object/public/bench/64k.bin" \
  "$st/object/public/bench/1m.bin" 2>"$dir/ours.err" | sed 's/|static:/|alpaca:/' | tee "$dir/ours.txt"
grep '^SMOKE' "$dir/ours.err" | sed 's/|static:/|alpaca:/' | cut -c1-100 >&2 || true

# The disk's side of an upload, the physical limit here (as nginx is for downloads): CONNS
# writers in one process (node, libuv pool of CONNS threads) each writing 1 MiB files as the
# blob store does (write, fsync, rename into place, fsync of the directory), for DUR seconds.
echo "## disk: $conns writers of 1 MiB files (write + fsync + rename + directory fsync)"
mkdir -p "$dir/disk"
disk_1m=$(UV_THREADPOOL_SIZE=$conns node -e '
const fs = require("fs/promises");
const [dir, n, secs, src] = process.argv.slice(1);
const buf = require("fs").readFileSync(src);
let files = 0;
const t0 = Date.now(), end = t0 + secs * 1000;
async function writer(i) {
  for (let k = 0; Date.now() < end; k++) {
    const tmp = `${dir}/${i}.tmp`;
    const fh = await fs.open(tmp, "w");
    await fh.write(buf); await fh.sync(); await fh.close();
    await fs.rename(tmp, `${dir}/${i}.${k % 2}`);
    const d = await fs.open(dir, "r"); await d.sync(); await d.close();
    files++;
  }
}
Promise.all([...Array(+n)].map((_, i) => writer(i)))
  .then(() => console.log((files / ((Date.now() - t0) / 1000)).toFixed(1)));
' "$dir/disk" "$conns" "$dur" "$dir/1m.bin")
rm -rf "$dir/disk"
echo "RESULT|disk|fsync_1m_files|files_s=$disk_1m|mb_s=$(awk -v f="$disk_1m" 'BEGIN { printf "%.1f", f * 1.048576 }')"

echo "## alpaca upload, 1 MiB, x-upsert"
wrk -t"$threads" -c"$conns" -d3s -s "$dir/upload.lua" "$base" >/dev/null 2>&1 || true # warm-up
sleep 1
out=$(wrk -t"$threads" -c"$conns" -d"${dur}s" --latency -s "$dir/upload.lua" "$base" 2>&1) ||
  { echo "$out" >&2; exit 1; }
grep '^RESULT|' <<<"$out" | tee "$dir/upload.txt"
# Rows and blob files after the run: with upserts replacing blobs, both should be the same count.
n_rows=$(curl -sf -X POST "$base/projects/$id/query" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' \
  -d "{\"sql\":\"select count(*) as n from storage.objects where bucket_id = 'bench'\"}" |
  sed -E 's/.*"n":"?([0-9]+).*/\1/') || n_rows='?'
n_blobs=$(find "$dir/storage" -type f 2>/dev/null | wc -l)
echo "objects in the bucket: $n_rows rows (3 + up to $((threads * 64)) uploads), $n_blobs files in $dir/storage"

big_mb_s="" rss_before="" rss_max="" disk_big=""
if [ "$big_mb" -gt 0 ]; then
  echo "## alpaca upload, one ${big_mb} MiB file (curl -T, sparse source), VmRSS every 0.1 s"
  # The disk's side: the same size written sequentially and fsync'd once (dd conv=fsync).
  t0=$(date +%s%N)
  dd if=/dev/zero of="$dir/dd.bin" bs=1M count="$big_mb" conv=fsync status=none
  t1=$(date +%s%N)
  rm -f "$dir/dd.bin"
  disk_big=$(awk -v b=$((big_mb * 1048576)) -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", b / (ns / 1e9) / 1e6 }')
  echo "RESULT|disk|dd_${big_mb}m|mb_s=$disk_big"
  truncate -s "${big_mb}M" "$dir/big.bin"
  rss_before=$(rss_kb)
  echo "$rss_before" >"$dir/rss.max"
  (max=$rss_before; while kill -0 "$pid" 2>/dev/null; do
     r=$(rss_kb) || break
     if [ "$r" -gt "$max" ]; then max=$r; echo "$max" >"$dir/rss.max"; fi
     sleep 0.1
   done) &
  sampler=$!
  curl -sS -o "$dir/big.resp" -w '%{http_code} %{time_total} %{size_upload}\n' -X POST \
    -H "apikey: $svc" -H 'Content-Type: application/octet-stream' -H 'x-upsert: true' -H 'Expect:' \
    -T "$dir/big.bin" "$st/object/bench/big.bin" >"$dir/big.out" &
  upload_pid=$!
  wait "$upload_pid" || true
  upload_pid=""
  sleep 0.3
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  sampler=""
  read -r code secs sent <"$dir/big.out" || true
  rss_max=$(cat "$dir/rss.max")
  big_mb_s=$(awk -v b="${sent:-0}" -v s="${secs:-1}" 'BEGIN { printf "%.1f", b / s / 1e6 }')
  echo "RESULT|http|alpaca|upload_${big_mb}m|status=$code|secs=$secs|bytes=$sent|mb_s=$big_mb_s|rss_before_kb=$rss_before|rss_max_kb=$rss_max"
  [ "$code" = 200 ] || { echo "big upload answered $code: $(head -c 300 "$dir/big.resp")" >&2; big_mb_s=""; }
  rm -f "$dir/big.bin"
  curl -sf -X DELETE "$st/object/bench/big.bin" -H "apikey: $svc" >/dev/null || true
fi
echo "RSS of alpaca-server: $((rss_start / 1024)) MB after start, $(($(rss_kb) / 1024)) MB at the end"

if [ "${PERF:-0}" -gt 0 ] && command -v perf >/dev/null; then
  echo "## perf: ${PERF} s of 1 MiB downloads (not measured)"
  wrk -t"$threads" -c"$conns" -d"$((PERF + 2))s" -s "$shared/lua/load.lua" \
    "$st/object/public/bench/1m.bin" -- raw get >/dev/null 2>&1 &
  wrk_pid=$!
  sleep 1
  perf record -q -g -a -o "$dir/perf.data" -- sleep "$PERF" >/dev/null 2>&1 || true
  wait "$wrk_pid" || true
  echo "CPU by command (whole machine):"
  perf report -i "$dir/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
    awk '/^ +[0-9]/ && n++ < 8' || true
  echo "alpaca-server by library (user space, share of its samples):"
  perf report -i "$dir/perf.data" --no-children --pid "$pid" --percentage relative --sort dso \
    --stdio -g none 2>/dev/null | awk '/^ +[0-9]/ && n++ < 8' || true
  echo "alpaca-server by symbol:"
  perf report -i "$dir/perf.data" --no-children --pid "$pid" --percentage relative --sort dso,sym \
    --stdio -g none 2>/dev/null | awk '/^ +[0-9]/ && n++ < 15' || true
fi

rps() { sed -n "s/.*|$1|get|rps=\([0-9.]*\)|.*/\1/p" "$dir/$2.txt"; }
awk -v n1="$(rps nginx:1m.bin nginx)" -v a1="$(rps alpaca:1m.bin ours)" \
  -v n64="$(rps nginx:64k.bin nginx)" -v a64="$(rps alpaca:64k.bin ours)" \
  -v nok="$(rps nginx:ok nginx)" -v aok="$(rps alpaca:ok ours)" \
  -v up="$(sed -n 's/.*|rps=\([0-9.]*\)|.*/\1/p' "$dir/upload.txt")" \
  -v big="$big_mb_s" -v d1="$disk_1m" -v db="$disk_big" -v rb="$rss_before" -v rm="$rss_max" -v bmb="$big_mb" 'function verdict(ok) { return ok ? "PASS" : "FAIL" }
  BEGIN {
  printf "## summary\n"
  printf "1 MiB download: %s req/s = %.0f%% of nginx (%s req/s; target >= 70%%) %s\n", a1, 100 * a1 / n1, n1, verdict(a1 >= 0.7 * n1)
  printf "64 KiB download: %s req/s = %.0f%% of nginx (%s req/s; target >= 40%%) %s\n", a64, 100 * a64 / n64, n64, verdict(a64 >= 0.4 * n64)
  printf "11-byte object: %s req/s = %.0f%% of nginx /ok (%s req/s; no target: the per-request cost)\n", aok, 100 * aok / nok, nok
  printf "1 MiB uploads: %s req/s = %.0f MB/s (target >= 200 MB/s) %s; the disk: %.0f MB/s of fsync'"'"'d 1 MiB files (%.0f%%)\n", up, up * 1.048576, verdict(up * 1.048576 >= 200), d1 * 1.048576, 100 * up / d1
  if (bmb > 0) {
    if (big == "") print "big upload: FAILED (see above)"
    else printf "%d MiB upload: %s MB/s (dd: %s MB/s); VmRSS %.1f MiB before, max %.1f MiB during: growth %.1f MiB (target < 50 MB) %s\n", bmb, big, db, rb / 1024, rm / 1024, (rm - rb) / 1024, verdict(rm - rb < 50 * 1024)
  }
}'

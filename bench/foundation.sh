#!/usr/bin/env bash
# Foundation benchmark (issue 2): throughput of GET /health vs an authenticated
# GET /projects/:id (personal access token, token cache at work) under wrk -t2 -c32, in the
# same run, and the idle RSS of alpaca-server (PostgreSQL excluded).
# Usage: bench/foundation.sh [seconds per run, default 15]
# Needs: a release build (cmake --preset release && cmake --build --preset release), wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-15}
source bench/server.sh
bench_cleanup() { [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null; true; }
port=${BENCH_PORT:-18999}
BENCH_PORT=$port start_server "$(pwd)/build/release/test-plugins/probe.so"

sleep 2
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "idle RSS: $((rss_kb / 1024)) MB ($rss_kb kB), plugins: core + probe"

run() { # name url [header]
  local out
  if [ -n "${3:-}" ]; then out=$(wrk -t2 -c32 -d"${dur}s" -H "$3" "$2"); else out=$(wrk -t2 -c32 -d"${dur}s" "$2"); fi
  local rps p50 errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '/Latency/ {print $2; exit}' <<<"$out")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ')
  echo "RESULT|$1|rps=$rps|avg_latency=$p50|${errors:-no errors}" >&2
  echo "$rps"
}
wrk -t2 -c32 -d2s "$base/health" >/dev/null  # warm-up
health=$(run health "$base/health")
auth=$(run project_get "$base/projects/$id" "Authorization: Bearer $token")
# The bare HTTP ceiling on this box: nginx answering an 11-byte body itself (as in
# ../shared/bench/storage-load.sh), loaded the same way in the same run.
nginx_rps=""
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  nport=$((port + 1))
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1; daemon on; pid $dir/nginx.pid; error_log $dir/nginx.err;
events { worker_connections 1024; }
http { access_log off;
  server { listen 127.0.0.1:$nport; location /ok { return 200 '{"ok":true}'; } } }
CONF
  "$(command -v nginx || echo /usr/sbin/nginx)" -p "$dir" -c "$dir/nginx.conf"
  sleep 0.3
  nginx_rps=$(run nginx_ok "http://127.0.0.1:$nport/ok")
fi
ratio=$(awk -v a="$auth" -v h="$health" 'BEGIN {printf "%.0f", 100 * a / h}')
rss_after=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "GET /health: $health req/s; authenticated GET /projects/:id: $auth req/s; ratio ${ratio}% (target >= 70%)"
echo "RSS after load: $((rss_after / 1024)) MB"
[ -n "$nginx_rps" ] && awk -v h="$health" -v n="$nginx_rps" \
  'BEGIN {printf "nginx /ok (1 worker): %s req/s; alpaca /health is %.0f%% of it\n", n, 100 * h / n}'
true

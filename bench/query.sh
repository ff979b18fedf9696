#!/usr/bin/env bash
# SQL endpoint benchmark (issue 3): POST /projects/:id/query {"sql":"select 1"} with the admin
# personal access token under wrk -t2 -c32, and in the same run pgbench `select 1;` straight
# against the same server's embedded PostgreSQL (unix socket, the project's database), with
# -M prepared and -M simple (/query uses the simple protocol). Prints RESULT lines and the ratios.
# Usage: DUR=15 bench/query.sh      (seconds per run; also accepted as $1)
# Env:   ALPACA_SERVER_BIN (default build/release/bin/alpaca-server),
#        ALPACA_DATABASE_PLUGIN (default <bin>/../lib/alpaca/plugins/database.so),
#        PG_BIN (default /usr/lib/postgresql/15/bin), BENCH_PORT (default 18997).
# Needs: a release build (cmake --preset release && cmake --build --preset release), wrk, pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-${DUR:-15}}
source bench/server.sh
plugin=${ALPACA_DATABASE_PLUGIN:-$(cd "$(dirname "$bin")/.." && pwd)/lib/alpaca/plugins/database.so}
[ -f "$plugin" ] || { echo "database plugin not found: $plugin" >&2; exit 1; }
BENCH_PORT=${BENCH_PORT:-18997} start_server "$plugin"

# smoke request: the endpoint must answer 200 before it is loaded
smoke=$(curl -s -w ' HTTP %{http_code}' -X POST "$base/projects/$id/query" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"sql":"select 1"}')
echo "smoke: POST /projects/$id/query {\"sql\":\"select 1\"} → $smoke"
[[ $smoke == *' HTTP 200' ]] || { echo "the endpoint does not answer 200" >&2; tail -20 "$dir/server.log" >&2; exit 1; }

cat >"$dir/query.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"sql":"select 1"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the box is shared: compare ratios within one run)"
wrk -t2 -c32 -d2s -s "$dir/query.lua" "$base/projects/$id/query" >/dev/null # warm-up
query_rps=$(wrk_run query_select1 "$base/projects/$id/query" "$dir/query.lua")

printf 'select 1;\n' >"$dir/select1.sql"
chmod 644 "$dir/select1.sql"
pg_prepared=$(pgb_run select1 "$dir/select1.sql" prepared)
pg_simple=$(pgb_run select1 "$dir/select1.sql" simple)

rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
awk -v q="$query_rps" -v p="$pg_prepared" -v s="$pg_simple" -v r="$rss_kb" 'BEGIN {
  printf "POST /query select 1: %s req/s; pgbench select 1: %s tps (-M prepared), %s tps (-M simple)\n", q, p, s
  printf "ratio /query vs pgbench: %.0f%% of prepared, %.0f%% of simple\n", 100 * q / p, 100 * q / s
  printf "vs postgres-meta /query (~180 req/s on this machine): %.0fx (target > 20x, i.e. > 3600 req/s)\n", q / 180
  printf "alpaca-server RSS after load: %.1f MB\n", r / 1024
}'

#!/usr/bin/env bash
# Rows API benchmark (issue 3): GET /projects/:id/tables/bench_rows/rows?id=eq.N (N random in
# 1..10000, admin personal access token) under wrk -t2 -c32, and in the same run pgbench with
# the SQL that request runs (the rows API's {"rows","count"} query, \set id
# random) and a plain `select * ... where id = :id`, against the same embedded PostgreSQL.
# Usage: DUR=15 bench/rows.sh      (seconds per run; also accepted as $1)
# Env:   as bench/query.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-${DUR:-15}}
source bench/server.sh
plugin=${ALPACA_DATABASE_PLUGIN:-$(cd "$(dirname "$bin")/.." && pwd)/lib/alpaca/plugins/database.so}
[ -f "$plugin" ] || { echo "database plugin not found: $plugin" >&2; exit 1; }
BENCH_PORT=${BENCH_PORT:-18996} start_server "$plugin"

sql "create table bench_rows (id bigint primary key, name text not null, n int, created_at timestamptz not null default now()); insert into bench_rows (id, name, n) select g, 'row ' || g, g % 97 from generate_series(1, 10000) g; analyze bench_rows"

smoke=$(curl -s -w ' HTTP %{http_code}' "$base/projects/$id/tables/bench_rows/rows?id=eq.42" \
  -H "Authorization: Bearer $token")
echo "smoke: GET /projects/$id/tables/bench_rows/rows?id=eq.42 → $smoke"
[[ $smoke == *'"count":1} HTTP 200' ]] || { echo "the endpoint does not answer one row" >&2; tail -20 "$dir/server.log" >&2; exit 1; }

cat >"$dir/rows.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $token"
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/projects/$id/tables/bench_rows/rows?id=eq." .. math.random(1, 10000))
end
LUA
# What the route sends for ?id=eq.N (rows_routes.cpp), with N inline.
cat >"$dir/rows.sql" <<'SQL'
\set id random(1, 10000)
SELECT '{"rows":' || coalesce((SELECT json_agg(t) FROM (SELECT r.* FROM "public"."bench_rows" r WHERE (r."id" = :id) LIMIT 100 OFFSET 0) t)::text, '[]') || ',"count":' || (SELECT count(*) FROM "public"."bench_rows" r WHERE (r."id" = :id)) || '}';
SQL
cat >"$dir/plain.sql" <<'SQL'
\set id random(1, 10000)
SELECT * FROM bench_rows WHERE id = :id;
SQL
chmod 644 "$dir"/*.sql

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the box is shared: compare ratios within one run)"
wrk -t2 -c32 -d2s -s "$dir/rows.lua" "$base" >/dev/null # warm-up
rows_rps=$(wrk_run rows_id_eq "$base" "$dir/rows.lua")
pg_same=$(pgb_run rows_sql "$dir/rows.sql" prepared)
pg_plain=$(pgb_run plain_select "$dir/plain.sql" prepared)

rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
awk -v h="$rows_rps" -v s="$pg_same" -v p="$pg_plain" -v r="$rss_kb" 'BEGIN {
  printf "GET rows?id=eq.N: %s req/s; pgbench same SQL: %s tps; pgbench plain select: %s tps\n", h, s, p
  printf "ratio rows API vs pgbench: %.0f%% of the same SQL, %.0f%% of the plain select\n", 100 * h / s, 100 * h / p
  printf "vs postgres-meta /query (~180 req/s on this machine): %.0fx\n", h / 180
  printf "alpaca-server RSS after load: %.1f MB\n", r / 1024
}'

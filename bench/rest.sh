#!/usr/bin/env bash
# /rest/v1 benchmark (issue 4): the shared PostgREST load (../shared/bench/rest-load.sh:
# get_id = GET /items?id=eq.N with the anon key, page = select=*&order=id&limit=100&offset<=1000,
# insert = POST one row with return=minimal and the service_role key) against this server's
# project, and in the same run the shared pgbench scripts on the same cluster and table
# (get_one, pipelined_get, page_agg, insert). The table is the shared seed's `items` (100 000
# rows) in the project's database, RLS on with a `using (true)` read policy as the issue asks.
# Usage: DUR=15 bench/rest.sh      (seconds per run; also accepted as $1)
# Env:   as bench/query.sh; SHARED_BENCH (default ../shared/bench).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-${DUR:-15}}
shared=${SHARED_BENCH:-../shared/bench}
[ -f "$shared/rest-load.sh" ] || { echo "shared bench scripts not found in $shared" >&2; exit 1; }
source bench/server.sh
plugin=${ALPACA_DATABASE_PLUGIN:-$(cd "$(dirname "$bin")/.." && pwd)/lib/alpaca/plugins/database.so}
[ -f "$plugin" ] || { echo "database plugin not found: $plugin" >&2; exit 1; }
ALPACA_LOG_LEVEL=${ALPACA_LOG_LEVEL:-warn} BENCH_PORT=${BENCH_PORT:-18995} start_server "$plugin"

sql "create extension if not exists pgcrypto schema extensions; create table items (id bigint primary key, name text, price numeric, tags text[], created_at timestamptz default now(), owner uuid); insert into items (id, name, price, tags, created_at, owner) select g, 'item ' || g, round((random() * 1000)::numeric, 2), array['t' || (g % 10), 'c' || (g % 7)], now() - make_interval(secs => g), extensions.gen_random_uuid() from generate_series(1, 100000) g; alter table items enable row level security; create policy items_read on items for select using (true); create policy items_write on items for insert to service_role with check (true); analyze items"
# Vacuumed and frozen up front: autovacuum waking up on the 100 000 fresh rows mid-run (and hint
# bits set by the first reads) made the runs differ.
pg_psql "vacuum (freeze, analyze) items"
api_keys

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (compare ratios within one run)"
BENCH_ANON_KEY=$anon BENCH_SERVICE_KEY=$svc DURATION=$dur LABEL=alpaca \
  bash "$shared/rest-load.sh" "$base/p/$id/rest/v1" postgrest 2>"$dir/rest-load.err" | tee "$dir/http.txt"
grep -E '^(smoke|HTTP|\[)' "$dir/rest-load.err" | head -6 >&2 || true

# pgbench on the same cluster and table, the shared scripts (copied: the postgres account reads them)
for f in pgb_get_one pgb_pipelined_get pgb_page_agg pgb_insert; do cp "$shared/sql/$f.sql" "$dir/"; done
chmod 644 "$dir"/*.sql
get_one=$(pgb_run get_one "$dir/pgb_get_one.sql" prepared)
pipelined=$(pgb_run pipelined_get "$dir/pgb_pipelined_get.sql" prepared)
page=$(PGBENCH_EXTRA="-D maxoff=1000" pgb_run page_agg "$dir/pgb_page_agg.sql" prepared)
insert=$(pgb_run insert "$dir/pgb_insert.sql" prepared)

rps() { sed -n "s/.*|alpaca|$1|rps=\([0-9.]*\)|.*/\1/p" "$dir/http.txt"; }
awk -v g="$(rps get_id)" -v p="$(rps page)" -v i="$(rps insert)" -v g1="$get_one" \
  -v gp="$pipelined" -v pa="$page" -v pi="$insert" 'BEGIN {
  printf "GET id=eq.N: %s req/s = %.0f%% of pgbench get_one (%s tps; target >= 40%%), %.0f%% of pipelined_get (%s)\n", g, 100 * g / g1, g1, 100 * g / gp, gp
  printf "page of 100: %s req/s = %.0f%% of pgbench page_agg (%s tps; target >= 80%%)\n", p, 100 * p / pa, pa
  printf "POST return=minimal: %s req/s = %.0f%% of pgbench insert (%s tps; target >= 40%%)\n", i, 100 * i / pi, pi
}'

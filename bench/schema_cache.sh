#!/usr/bin/env bash
# /rest/v1 schema cache (issue 4: "a project with 1,000 tables loads its cache in under 1 s"):
# a project with 1 000 tables (each with a foreign key to the previous one), 100 views over them
# and 100 functions returning their rows; then, ROUNDS times, a DDL-free reload
# (NOTIFY pgrst, 'reload schema') followed by one request that must load the cache, and one that
# finds it warm. Prints the load times the plugin logs and the cold/warm request times.
# Usage: bench/schema_cache.sh        Env: ROUNDS (5), TABLES (1000); as bench/query.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
tables=${TABLES:-1000}
source bench/server.sh
plugin=${ALPACA_DATABASE_PLUGIN:-$(cd "$(dirname "$bin")/.." && pwd)/lib/alpaca/plugins/database.so}
[ -f "$plugin" ] || { echo "database plugin not found: $plugin" >&2; exit 1; }
ALPACA_LOG_LEVEL=info ALPACA_LOG_REQUESTS=false BENCH_PORT=${BENCH_PORT:-18994} start_server "$plugin"

sql "DO \$\$ BEGIN FOR i IN 1..$tables LOOP EXECUTE format('create table t%s (id int primary key, name text, parent_id int %s)', i, CASE WHEN i > 1 THEN format('references t%s (id)', i - 1) ELSE '' END); END LOOP; FOR i IN 1..100 LOOP EXECUTE format('create view v%s as select id, name, parent_id from t%s', i, i); EXECUTE format('create function f%s(x int) returns setof t%s language sql stable as \$f\$ select * from t%s where id = x \$f\$', i, i, i); END LOOP; END \$\$"
api_keys
url="$base/p/$id/rest/v1/t$tables?select=id,t$((tables - 1))(id)&limit=1"
timed() { curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "apikey: $anon" "$url"; }
for r in $(seq "$rounds"); do
  sql "NOTIFY pgrst, 'reload schema'"
  read -r cold_code cold < <(timed)
  read -r warm_code warm < <(timed)
  [ "$cold_code" = 200 ] && [ "$warm_code" = 200 ] || { echo "request failed: $cold_code $warm_code" >&2; exit 1; }
  echo "round $r: first request after the reload $(awk -v t="$cold" 'BEGIN {printf "%.0f", t * 1000}') ms, next $(awk -v t="$warm" 'BEGIN {printf "%.1f", t * 1000}') ms"
done
echo "loads the plugin logged (target < 1000 ms):"
grep -o 'schema cache of .* loaded in .*' "$dir/server.log" | tail -n "$rounds" | sed 's/^/  /'

# Sourced by the bench scripts: start_server PLUGINS starts the release alpaca-server on an
# embedded PostgreSQL in a temp dir with an admin token, creates a project, and sets
#   dir (temp dir), pid, base (http://127.0.0.1:PORT), token, id (project id).
# wrk_run and pgb_run measure one load each for $dur seconds; sql runs SQL in the project and
# api_keys sets anon and svc (its keys).
# Everything it started is stopped, and the dir removed, on exit (define bench_cleanup for more).
bin=${ALPACA_SERVER_BIN:-build/release/bin/alpaca-server}

bench_exit() {
  declare -F bench_cleanup >/dev/null && bench_cleanup
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "${dir:-}" ] && rm -rf "$dir"
}

start_server() { # plugins (ALPACA_PLUGINS)
  local port=${BENCH_PORT:-18999}
  token="bench-admin-token-$(head -c8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  dir=$(mktemp -d /tmp/alpaca-bench.XXXXXX)
  chmod 755 "$dir"  # the embedded PostgreSQL's account must reach it
  trap bench_exit EXIT
  ALPACA_DATA_DIR="$dir" ALPACA_HTTP_PORT=$port ALPACA_ADMIN_TOKEN=$token \
    ALPACA_LOG_REQUESTS=${ALPACA_LOG_REQUESTS:-true} ALPACA_PLUGINS="$1" \
    "$bin" >"$dir/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do curl -sf "localhost:$port/health" >/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$port"
  id=$(curl -sf -X POST "$base/projects" -H "Authorization: Bearer $token" -d '{"name":"bench"}' |
    sed -E 's/.*"id":"([a-z0-9]+)".*/\1/')
  [ -n "$id" ] || { echo "server start or project creation failed" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
}

# wrk -t2 -c32 for $dur seconds (plus $WRK_EXTRA): prints a RESULT line on stderr, the req/s on
# stdout.
wrk_run() { # name url lua
  local out rps lat errors
  out=$(wrk -t2 -c32 -d"${dur}s" ${WRK_EXTRA:-} -s "$3" "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  lat=$(awk '/Latency/ {print $2; exit}' <<<"$out")
  errors=$(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr '\n' ' ')
  echo "RESULT|http|$1|rps=$rps|avg_latency=$lat|${errors:-no errors}" >&2
  echo "$rps"
}

# psql on the project's database of the embedded cluster, as pgb_run reaches it (for what
# /query cannot run, such as VACUUM outside a transaction).
pg_psql() { # sql
  local sock as_pg=()
  sock=$(ls -a "$dir/run" | sed -n 's/^\.s\.PGSQL\.\([0-9]*\)$/\1/p' | head -1)
  if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u "$(stat -c %U "$dir/run")" --); fi
  "${as_pg[@]}" "${PG_BIN:-/usr/lib/postgresql/15/bin}/psql" -X -q -h "$dir/run" -p "$sock" \
    -U postgres -d "proj_$id" -c "$1"
}

# pgbench -c32 -j2 for $dur seconds on the project's database of the embedded cluster (unix
# socket in <data_dir>/run, as the socket's owner when root): RESULT on stderr, tps on stdout.
pgb_run() { # name script mode
  local sock out tps lat as_pg=()
  local pgbench=${PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench
  [ -x "$pgbench" ] || pgbench=$(command -v pgbench)
  sock=$(ls -a "$dir/run" | sed -n 's/^\.s\.PGSQL\.\([0-9]*\)$/\1/p' | head -1)
  [ -n "$sock" ] || { echo "no PostgreSQL socket in $dir/run" >&2; return 1; }
  if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u "$(stat -c %U "$dir/run")" --); fi
  out=$("${as_pg[@]}" "$pgbench" -n -h "$dir/run" -p "$sock" -U postgres -d "proj_$id" \
    -f "$2" -M "$3" -c 32 -j 2 -T "$dur" ${PGBENCH_EXTRA:-} 2>&1) || { echo "$out" >&2; return 1; }
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -1)
  echo "RESULT|pg|$1|unix|-M $3|c=32|tps=$tps|lat_ms=$lat" >&2
  echo "$tps"
}

# POST /projects/$id/query {"sql": $1} (no double quotes or backslashes in $1); exits on failure.
sql() {
  curl -sf -X POST "$base/projects/$id/query" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"sql\":\"$1\"}" >/dev/null ||
    { echo "SQL failed: $1" >&2; exit 1; }
}

# The project's anon and service_role keys, into $anon and $svc.
api_keys() {
  local keys
  keys=$(curl -sf "$base/projects/$id/api-keys" -H "Authorization: Bearer $token")
  anon=$(sed -E 's/.*"name":"anon"[^}]*"api_key":"([^"]+)".*/\1/' <<<"$keys")
  svc=$(sed -E 's/.*"name":"service_role"[^}]*"api_key":"([^"]+)".*/\1/' <<<"$keys")
  [ -n "$anon" ] && [ -n "$svc" ] || { echo "no api keys: $keys" >&2; exit 1; }
}

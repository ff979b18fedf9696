#!/usr/bin/env bash
# /auth/v1 benchmark (issue 5), in one run on one embedded cluster:
#   floor    pgbench `crypt('pw', h) = h` (pgcrypto bcrypt verify at cost 10), both cores
#   signin   POST /auth/v1/token?grant_type=password (bcrypt cost 10), wrk -t2 -c32
#   refresh  POST /auth/v1/token?grant_type=refresh_token, wrk -t2 -c32, each request replays one
#            of 64 sessions' refresh tokens at random (the reuse interval is set long, so every
#            request mints a new token as a rotation does)
#   user     GET /auth/v1/user with the user's access token, wrk -t2 -c32
# Usage: DUR=15 bench/auth.sh      (seconds per run; also accepted as $1)
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-${DUR:-15}}
source bench/server.sh
plugins_dir=$(cd "$(dirname "$bin")/.." && pwd)/lib/alpaca/plugins
export ALPACA_AUTH_BCRYPT_COST=10 ALPACA_AUTH_RATE_LIMIT_PER_IP=100000000
export ALPACA_AUTH_RATE_LIMIT_REFRESH_PER_IP=100000000 ALPACA_AUTH_REFRESH_TOKEN_REUSE_INTERVAL=3600
ALPACA_LOG_LEVEL=${ALPACA_LOG_LEVEL:-warn} ALPACA_LOG_REQUESTS=false BENCH_PORT=${BENCH_PORT:-18994} \
  start_server "$plugins_dir/database.so,$plugins_dir/auth.so"
api_keys
auth="$base/p/$id/auth/v1"
curl -sf -X PATCH "$base/projects/$id/auth/providers" -H "Authorization: Bearer $token" \
  -d '{"autoconfirm":true}' >/dev/null
session=$(curl -sf -X POST "$auth/signup" -H "apikey: $anon" -H 'Content-Type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password"}')
access=$(sed -E 's/.*"access_token":"([^"]+)".*/\1/' <<<"$session")
refresh=$(sed -E 's/.*"refresh_token":"([^"]+)".*/\1/' <<<"$session")
[ -n "$access" ] && [ -n "$refresh" ] || { echo "signup failed: $session" >&2; exit 1; }

sql "create extension if not exists pgcrypto schema extensions; create table bench_pw as select extensions.crypt('pw', extensions.gen_salt('bf', 10)) as h"
printf 'SELECT extensions.crypt(%s, h) = h FROM bench_pw;\n' "'pw'" >"$dir/pgb_bcrypt_verify.sql"
chmod 644 "$dir/pgb_bcrypt_verify.sql"

lua() { # file method path body [header]
  cat >"$dir/$1" <<LUA
wrk.method = "$2"
wrk.path = "$3"
wrk.body = '$4'
wrk.headers["apikey"] = "$anon"
wrk.headers["Content-Type"] = "application/json"
${5:-}
LUA
}
lua signin.lua POST "/p/$id/auth/v1/token?grant_type=password" \
  '{"email":"bench@example.com","password":"bench-password"}'
# 64 sessions without 64 bcrypt sign-ins: admin magic links, verified.
tokens=""
for _ in $(seq 64); do
  link=$(curl -sf -X POST "$auth/admin/generate_link" -H "apikey: $svc" -H 'Content-Type: application/json' \
    -d '{"type":"magiclink","email":"bench@example.com"}')
  hashed=$(sed -E 's/.*"hashed_token":"([^"]+)".*/\1/' <<<"$link")
  s=$(curl -sf -X POST "$auth/verify" -H "apikey: $anon" -H 'Content-Type: application/json' \
    -d "{\"type\":\"magiclink\",\"token_hash\":\"$hashed\"}")
  tokens+="\"$(sed -E 's/.*"refresh_token":"([^"]+)".*/\1/' <<<"$s")\","
done
lua refresh.lua POST "/p/$id/auth/v1/token?grant_type=refresh_token" '' "local tokens = {${tokens%,}}
request = function()
  return wrk.format(nil, nil, nil, '{\"refresh_token\":\"' .. tokens[math.random(#tokens)] .. '\"}')
end"
lua user.lua GET "/p/$id/auth/v1/user" '' "wrk.headers[\"Authorization\"] = \"Bearer $access\""

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (compare ratios within one run)"
floor=$(pgb_run bcrypt_verify_bf10 "$dir/pgb_bcrypt_verify.sql" simple)
# 32 sign-ins in flight on 2 cores wait ~1 s each for bcrypt: more than wrk's 2 s default allows
# for the unlucky ones, so give them 10 s (a timed-out request is not counted, yet costs bcrypt).
signin=$(WRK_EXTRA="--timeout 10s" wrk_run signin "$base" "$dir/signin.lua")
refresh_rps=$(wrk_run refresh "$base" "$dir/refresh.lua")
user=$(wrk_run user "$base" "$dir/user.lua")
awk -v f="$floor" -v s="$signin" -v r="$refresh_rps" -v u="$user" 'BEGIN {
  printf "password sign-in: %s req/s = %.0f%% of the bcrypt floor (pgbench crypt() verify at cost 10: %s/s; target >= 90%%)\n", s, 100 * s / f, f
  printf "refresh_token: %s req/s; GET /user: %s req/s\n", r, u
}'

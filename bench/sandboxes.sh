#!/usr/bin/env bash
# /sandboxes benchmark, in one run, side by side with bare bubblewrap (the physical limit: the same
# namespaces, as the same non-root uid, `setpriv --reuid=65533 --regid=65533 --clear-groups bwrap
# --unshare-user --unshare-pid --unshare-ipc --unshare-uts --unshare-net --die-with-parent
# --ro-bind /usr /usr ... --proc /proc --dev /dev --tmpfs /tmp true`). The release alpaca-server
# with only the sandboxes plugin (embedded PostgreSQL, admin personal access token, each server its
# own temp data dir, execs per minute unlimited) measured by bench/sandboxes-driver.mjs:
#   warm   one server, sandboxes.warm_pool=1 (the default): N × (bare bwrap `true`; POST
#          /sandboxes → running, from the POST answer when the pool served it, else GET every
#          POLL_MS; DELETE; WARM_WAIT_MS so the pool refills). Then exec in one python box:
#          N_EXEC × {command:"echo hi"}; N_PY × ({code:"print(1)"}, python3 -c in bare bwrap,
#          python3 -c on the host, sh -c 'echo hi' in bare bwrap) interleaved. Then parallel:
#          PAR_BOXES boxes × PAR_EXECS execs of PAR_CODE at once (errors, wall, p50/p99), and as
#          many bare-bwrap python3 processes at once for scale.
#   cold   two servers at once, warm_pool=0 with and without the network
#          (sandboxes.network=false), creates interleaved so both see the same load: N × (bare
#          bwrap `true`; the bare pieces of a networked box: bwrap up (--info-fd), + slirp4netns
#          --configure ready, + the blackhole routes (nsenter + ip -batch); bwrap `true` with the
#          driver's mounts; the box's cgroups made, then the plugin's helper + seccomp + bwrap in
#          them, and without cgroups; create → running → DELETE on each server; COLD_WAIT_MS).
# Prints RESULT lines, then a table with the targets and PASS/FAIL:
#   create→running p50 < 1.5× bare bwrap p50 and < 100 ms; exec echo p50 < 30 ms;
#   exec python p50 ≤ 1.3× bare python3-in-bwrap p50; parallel: 0 errors.
# Reports a server that does not exit within STOP_TIMEOUT s of SIGTERM (then kills it), and
# processes left in the sandboxes' cgroups after a server stopped (then kills them).
# Usage: bench/sandboxes.sh       (N also accepted as $1)
# Env:   N=50 (creates per setting), N_EXEC=100, N_PY=50, WARM_WAIT_MS=1000, COLD_WAIT_MS=100,
#        POLL_MS=2, PAR_BOXES=5, PAR_EXECS=10, PAR_CODE='print(sum(range(10**6)))',
#        PHASES="warm cold" (or one of them), BENCH_PORT (18995; the cold servers take the next
#        two), STOP_TIMEOUT=20, ALPACA_SERVER_BIN (build/release/bin/alpaca-server),
#        ALPACA_SANDBOXES_PLUGIN (sandboxes.so; alpaca-sandbox-enter is taken from next to it).
# Needs: a release build with the sandboxes plugin, bwrap, slirp4netns, setpriv, nsenter, ip,
#        node 20, /usr/bin/python3; root (as the server's sandboxes: cgroups, uid 65533).
set -euo pipefail
cd "$(dirname "$0")/.."
export N=${1:-${N:-50}}
phases=${PHASES:-warm cold}
bin=${ALPACA_SERVER_BIN:-build/release/bin/alpaca-server}
plugin=${ALPACA_SANDBOXES_PLUGIN:-$(cd "$(dirname "$bin")/.." && pwd)/lib/alpaca/plugins/sandboxes.so}
[ -x "$bin" ] || { echo "server not found: $bin" >&2; exit 1; }
[ -f "$plugin" ] || { echo "plugin not found: $plugin" >&2; exit 1; }
for c in bwrap slirp4netns setpriv nsenter ip node curl; do
  command -v "$c" >/dev/null || { echo "$c not found" >&2; exit 1; }
done
[ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 not found" >&2; exit 1; }

port0=${BENCH_PORT:-18995}
token="bench-admin-token-$(head -c8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
top="" hung=0 leaked=0
# Per server slot (0 warm, 1 cold, 2 cold without network): pid, data dir, cgroup key, base URL,
# first line of its start in the log.
declare -a pid=("" "" "") ddir=("" "" "") key=("" "" "") base=("" "" "") log_from=(1 1 1)

# The cgroups the plugin makes for a data dir: one directory per controller (v1) or one (v2),
# alpaca-sandboxes/d-<FNV-1a 64 of the data dir's real path>.
cgroup_key() {
  node -e 'let h = 1469598103934665603n;
    for (const c of Buffer.from(require("fs").realpathSync(process.argv[1])))
      h = ((h ^ BigInt(c)) * 1099511628211n) & 0xffffffffffffffffn;
    console.log("d-" + h.toString(16).padStart(16, "0"))' "$1"
}
cgroup_dirs() { # slot
  local k=${key[$1]}
  [[ $k =~ ^d-[0-9a-f]{16}$ ]] || return 0 # never the parent of other servers' cgroups
  ls -d /sys/fs/cgroup/*/alpaca-sandboxes/"$k" /sys/fs/cgroup/alpaca-sandboxes/"$k" 2>/dev/null || true
}
# Processes still in a slot's cgroups once its server has stopped: reported, then killed.
leftovers() { # slot
  local procs
  procs=$(for c in $(cgroup_dirs "$1"); do find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u)
  if [ -n "$procs" ]; then
    echo "WARNING: $(wc -w <<<"$procs") process(es) of sandboxes still running after the server stopped; killed:" \
      "$(ps -o pid=,user=,args= -p "$(tr '\n' ',' <<<"$procs" | sed 's/,$//')" 2>/dev/null | cut -c1-80 | head -3 | tr '\n' ';')" >&2
    leaked=$((leaked + $(wc -w <<<"$procs")))
    kill -9 $procs 2>/dev/null || true
  fi
}
start() { # slot VAR=value... (sandboxes settings of this server)
  local s=$1
  shift
  if [ -z "${ddir[$s]}" ]; then
    ddir[$s]=$top/data$s
    mkdir -m 755 "${ddir[$s]}" # the embedded PostgreSQL's account must reach it
    key[$s]=$(cgroup_key "${ddir[$s]}")
    base[$s]=http://127.0.0.1:$((port0 + s))
  fi
  env "$@" ALPACA_DATA_DIR="${ddir[$s]}" ALPACA_HTTP_HOST=127.0.0.1 ALPACA_HTTP_PORT=$((port0 + s)) \
    ALPACA_ADMIN_TOKEN="$token" ALPACA_PLUGINS="$plugin" ALPACA_LOG_LEVEL=${ALPACA_LOG_LEVEL:-info} \
    ALPACA_LOG_REQUESTS=false ALPACA_SANDBOXES_EXEC_PER_MINUTE=100000 \
    "$bin" >>"${ddir[$s]}/server.log" 2>&1 &
  pid[$s]=$!
  local _
  for _ in $(seq 600); do
    curl -sf --max-time 2 "${base[$s]}/health" >/dev/null && break
    kill -0 "${pid[$s]}" 2>/dev/null || break
    sleep 0.1
  done
  curl -sf --max-time 5 "${base[$s]}/sandboxes" -H "Authorization: Bearer $token" >/dev/null ||
    { echo "server start failed ($*)" >&2; tail -20 "${ddir[$s]}/server.log" >&2; exit 1; }
  echo "server $s: $(grep 'sandboxes: driver' "${ddir[$s]}/server.log" | tail -1 | sed 's/^.*sandboxes: //')"
}
# SIGTERM, then SIGKILL if it has not exited after STOP_TIMEOUT s; prints the warnings and
# errors of this start's log, and checks for leftover processes.
stop() { # slot
  local s=$1 p=${pid[$1]} st="" i
  [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || true
  for i in $(seq $((${STOP_TIMEOUT:-20} * 10))); do
    st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) || st=""
    { [ -z "$st" ] || [ "$st" = Z ]; } && break
    sleep 0.1
  done
  if [ -n "$st" ] && [ "$st" != Z ]; then
    echo "WARNING: alpaca-server $s (pid $p) still running ${STOP_TIMEOUT:-20} s after SIGTERM; killed" >&2
    tail -3 "${ddir[$s]}/server.log" | sed 's/^/  server.log: /' >&2
    hung=$((hung + 1))
    kill -9 "$p" 2>/dev/null || true
  fi
  wait "$p" 2>/dev/null || true
  pid[$s]=""
  if [ -f "${ddir[$s]}/server.log" ]; then
    tail -n +"${log_from[$s]}" "${ddir[$s]}/server.log" | grep -E '^[^ ]+ (warn|error|critical) ' |
      head -10 | sed "s/^/  server $s log: /" >&2 || true
    log_from[$s]=$(($(wc -l <"${ddir[$s]}/server.log") + 1))
  fi
  leftovers "$s"
}
# On any exit: the servers stopped, their cgroups and the temp dir removed.
cleanup() {
  set +e
  local s c
  for s in 0 1 2; do
    stop "$s"
    for c in $(cgroup_dirs "$s"); do find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
  done
  [ -n "$top" ] && rm -rf "$top"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so the EXIT trap runs
top=$(mktemp -d /tmp/alpaca-bench.XXXXXX)
chmod 755 "$top"
# A copy of the plugin and its namespace helper (found next to it), so a rebuild during the run
# changes nothing under it.
mkdir -m 755 "$top/plugins"
cp -p "$plugin" "$(dirname "$plugin")/alpaca-sandbox-enter" "$top/plugins/"
plugin=$top/plugins/sandboxes.so

drive() { TOKEN=$token RESULTS=$top/results.jsonl node bench/sandboxes-driver.mjs "$@"; }
: >"$top/results.jsonl"
echo "alpaca-server $(stat -c '%y' "$bin" | cut -d. -f1), sandboxes.so $(stat -c '%y' "$plugin" | cut -d. -f1), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty tree)')"
echo "$(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (compare ratios within one phase); N=$N"

for ph in $phases; do
  case $ph in
  warm)
    echo "## warm pool 1: create → running ×$N, ${WARM_WAIT_MS:-1000} ms between; exec; parallel"
    start 0 ALPACA_SANDBOXES_WARM_POOL=1
    export BASE=${base[0]} CGROUP_KEY=${key[0]}
    WAIT_MS=${WARM_WAIT_MS:-1000} drive create "create_warm@${base[0]}"
    drive exec
    drive parallel
    stop 0 ;;
  cold)
    echo "## warm pool 0, network on and off (two servers, creates interleaved): create → running ×$N, bare pieces"
    start 1 ALPACA_SANDBOXES_WARM_POOL=0
    start 2 ALPACA_SANDBOXES_WARM_POOL=0 ALPACA_SANDBOXES_NETWORK=false
    export BASE=${base[1]} CGROUP_KEY=${key[1]}
    WAIT_MS=${COLD_WAIT_MS:-100} NET_BREAKDOWN=1 FULL_BWRAP=1 HELPER=$top/plugins/alpaca-sandbox-enter \
      drive create "create_cold@${base[1]}" "create_cold_nonet@${base[2]}"
    stop 1
    stop 2 ;;
  *) echo "unknown phase $ph (warm, cold)" >&2; exit 1 ;;
  esac
done
[ "$hung" = 0 ] || echo "the server hung at exit $hung time(s) (SIGKILL after ${STOP_TIMEOUT:-20} s)"
[ "$leaked" = 0 ] || echo "$leaked sandbox process(es) outlived their server (killed)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
PAR_BOXES=${PAR_BOXES:-5} PAR_EXECS=${PAR_EXECS:-10} drive summary

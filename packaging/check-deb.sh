#!/usr/bin/env bash
# Packs the .debs from an existing build dir, installs them into THIS system,
# checks what they installed, then removes and purges them again.
#
#   packaging/check-deb.sh [BUILD_DIR]     (default: <repo>/build/release; run as root)
#
# Builds nothing: configure and build the release preset first. Refuses to run
# when an alpaca install (package, user or /var/lib/alpaca) is already there,
# since the purge at the end would delete it. Exit 0 only if every check passes.
set -uo pipefail # no -e: every check reports, failures are counted

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(cd "${1:-$REPO/build/release}" 2>/dev/null && pwd) || {
  echo "check-deb: no build dir ${1:-$REPO/build/release}" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
PKGS=(alpaca-server alpaca-sdk)
passed=0 failed=0

pass() { echo "PASS  $1"; passed=$((passed + 1)); }
fail() { echo "FAIL  $1${2:+ ($2)}"; failed=$((failed + 1)); }
check() { # check NAME CMD...: PASS when CMD exits 0
  local name=$1; shift
  if "$@" >"$WORK/out" 2>&1; then pass "$name"; else fail "$name" "$(tail -n 3 "$WORK/out" | tr '\n' ' ')"; fi
}
pkg_state() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | cut -c2; } # i, c (config-files), n
known() { local s; s=$(pkg_state "$1"); [ -n "$s" ] && [ "$s" != n ]; }
not() { ! "$@"; }
owner_mode_is() { [ "$(stat -c %U:%G:%a "$1")" = "$2" ]; }
is_conffile() { dpkg-query -W -f='${Conffiles}\n' "$1" | grep -q "^ *$2 "; }
purge_all() {
  local p
  for p in "${PKGS[@]}"; do
    if known "$p"; then apt-get purge -y -q "$p" >>"$WORK/apt.log" 2>&1; fi
  done
}
cleanup() {
  # Runs on every exit: leave the system as found even after a failure or ^C.
  [ -n "${SERVER_PID:-}" ] && kill -KILL "$SERVER_PID" 2>/dev/null
  [ -n "${RUN_DIR:-}" ] && rm -rf "$RUN_DIR"
  purge_all
  rm -rf "$WORK"
}
summary() { echo "check-deb: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }

# --- Preconditions: these make the script refuse, they are not checks --------
[ "$(id -u)" -eq 0 ] || { echo "check-deb: run as root (it installs packages)" >&2; exit 2; }
[ -f "$BUILD_DIR/CPackConfig.cmake" ] || { echo "check-deb: $BUILD_DIR is not a configured build dir" >&2; exit 2; }
for p in "${PKGS[@]}"; do
  if known "$p"; then echo "check-deb: $p is already installed here; refusing to purge it" >&2; exit 2; fi
done
if getent passwd alpaca >/dev/null || getent group alpaca >/dev/null || [ -e /var/lib/alpaca ]; then
  echo "check-deb: user/group alpaca or /var/lib/alpaca exists; refusing (purge would delete it)" >&2
  exit 2
fi
WORK=$(mktemp -d /tmp/alpaca-check-deb.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Pack ---------------------------------------------------------------------
rm -f "$BUILD_DIR"/alpaca-server_*.deb "$BUILD_DIR"/alpaca-sdk_*.deb
if (cd "$BUILD_DIR" && cpack -G DEB) >"$WORK/cpack.log" 2>&1; then pass "cpack -G DEB"; else
  fail "cpack -G DEB"; cat "$WORK/cpack.log"; summary; exit 1; fi
SERVER_DEB=$(find "$BUILD_DIR" -maxdepth 1 -name 'alpaca-server_*_*.deb' | head -n 1)
SDK_DEB=$(find "$BUILD_DIR" -maxdepth 1 -name 'alpaca-sdk_*_*.deb' | head -n 1)
for deb in "$SERVER_DEB:alpaca-server" "$SDK_DEB:alpaca-sdk"; do
  if [ -n "${deb%%:*}" ]; then pass "made $(basename "${deb%%:*}")"; else fail "made ${deb#*:}_*.deb"; fi
done
if [ -z "$SERVER_DEB" ] || [ -z "$SDK_DEB" ]; then summary; exit 1; fi
VERSION=$(dpkg-deb -f "$SERVER_DEB" Version)
echo "      Depends: $(dpkg-deb -f "$SERVER_DEB" Depends)"
echo "      plugins: $(dpkg-deb -c "$SERVER_DEB" | grep -o 'alpaca/plugins/[^/]*\.so$' | sed 's#.*/##' | tr '\n' ' ')"

# --- Server -------------------------------------------------------------------
if apt-get install -y -q "$SERVER_DEB" >>"$WORK/apt.log" 2>&1; then pass "apt-get install alpaca-server"; else
  fail "apt-get install alpaca-server"; tail -n 30 "$WORK/apt.log"; summary; exit 1; fi

out=$(/usr/bin/alpaca-server --version 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -qF "$VERSION" <<<"$out"; then pass "alpaca-server --version prints $VERSION"; else
  fail "alpaca-server --version prints $VERSION" "exit $rc: $out"; fi
check "/usr/lib/alpaca/plugins is a directory" test -d /usr/lib/alpaca/plugins
check "/etc/alpaca/alpaca.properties exists" test -f /etc/alpaca/alpaca.properties
check "/etc/alpaca/alpaca.properties is a conffile" is_conffile alpaca-server /etc/alpaca/alpaca.properties
check "user alpaca exists" getent passwd alpaca
check "group alpaca exists" getent group alpaca
check "/var/lib/alpaca is alpaca:alpaca 700" owner_mode_is /var/lib/alpaca alpaca:alpaca:700
check "config is root:alpaca 640" owner_mode_is /etc/alpaca/alpaca.properties root:alpaca:640
check "/lib/systemd/system/alpaca.service exists" test -f /lib/systemd/system/alpaca.service
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify alpaca.service" systemd-analyze verify /lib/systemd/system/alpaca.service
fi

# --- SDK ----------------------------------------------------------------------
if apt-get install -y -q "$SDK_DEB" >>"$WORK/apt.log" 2>&1; then pass "apt-get install alpaca-sdk"; else
  fail "apt-get install alpaca-sdk"; tail -n 30 "$WORK/apt.log"; fi
check "/usr/include/alpaca/plugin.h exists" test -f /usr/include/alpaca/plugin.h
check "/usr/include/alpaca/plugin.hpp exists" test -f /usr/include/alpaca/plugin.hpp
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
check "AlpacaSDK cmake config exists" test -f "/usr/lib/$MULTIARCH/cmake/AlpacaSDK/AlpacaSDKConfig.cmake"
# A third party's view: find_package the installed SDK and build a module with it.
mkdir -p "$WORK/probe"
cat >"$WORK/probe/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.22)
project(probe C CXX)
find_package(AlpacaSDK REQUIRED)
alpaca_add_plugin(probe probe.cpp)
EOF
printf '#include <alpaca/plugin.h>\n#include <alpaca/plugin.hpp>\n' >"$WORK/probe/probe.cpp"
check "find_package(AlpacaSDK) + alpaca_add_plugin build" \
  bash -c "cmake -S '$WORK/probe' -B '$WORK/probe/b' && cmake --build '$WORK/probe/b'"

# --- The installed server runs: as the service user, with the packaged config -------------
# (no systemd here, so the unit's essentials by hand: user alpaca, data dir, --config),
# with the hello example built out of tree against the installed SDK as its plugin.
REPO=$(cd "$(dirname "$0")/.." && pwd)
check "hello example builds against the installed SDK" \
  bash -c "cmake -S '$REPO/sdk/examples/hello' -B '$WORK/hello' >/dev/null && cmake --build '$WORK/hello' >/dev/null"
RUN_DIR=$(mktemp -d /tmp/alpaca-deb-run.XXXXXX)
chmod 755 "$RUN_DIR"
chown alpaca:alpaca "$RUN_DIR"
cp "$WORK/hello/hello.so" "$RUN_DIR/hello.so" 2>/dev/null
PORT=$(( (RANDOM % 20000) + 30000 ))
# setpriv execs (no PAM session in between), so SIGTERM reaches the server itself.
setpriv --reuid=alpaca --regid=alpaca --init-groups env -i PATH=/usr/bin:/bin ALPACA_DATA_DIR="$RUN_DIR/data" ALPACA_HTTP_PORT=$PORT \
  ALPACA_PLUGINS="$RUN_DIR/hello.so" /usr/bin/alpaca-server --config /etc/alpaca/alpaca.properties \
  >"$RUN_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
check "installed server answers /health as user alpaca" curl -sf "http://127.0.0.1:$PORT/health"
check "installed server serves the out-of-tree hello plugin" \
  bash -c "curl -sf 'http://127.0.0.1:$PORT/hello/deb' | grep -q 'Hello, deb!'"
kill -TERM "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID"
rc=$?
if [ "$rc" -eq 0 ]; then pass "installed server stops cleanly on SIGTERM"; else
  fail "installed server stops cleanly on SIGTERM" "exit $rc"; tail -n 20 "$RUN_DIR/server.log"; fi
rm -rf "$RUN_DIR"

# --- Remove keeps data, purge deletes everything ------------------------------
apt-get remove -y -q alpaca-server >>"$WORK/apt.log" 2>&1
check "remove: binary gone" test ! -e /usr/bin/alpaca-server
check "remove: user alpaca kept" getent passwd alpaca
check "remove: /var/lib/alpaca kept" test -d /var/lib/alpaca
check "remove: conffile kept" test -f /etc/alpaca/alpaca.properties

if apt-get purge -y -q "${PKGS[@]}" >>"$WORK/apt.log" 2>&1; then pass "apt-get purge alpaca-server alpaca-sdk"; else
  fail "apt-get purge alpaca-server alpaca-sdk"; tail -n 30 "$WORK/apt.log"; fi
check "purge: /usr/bin/alpaca-server gone" test ! -e /usr/bin/alpaca-server
check "purge: alpaca.service gone" test ! -e /lib/systemd/system/alpaca.service
check "purge: user alpaca gone" not getent passwd alpaca
check "purge: group alpaca gone" not getent group alpaca
check "purge: /var/lib/alpaca gone" test ! -e /var/lib/alpaca
check "purge: /etc/alpaca gone" test ! -e /etc/alpaca
check "purge: /usr/include/alpaca gone" test ! -e /usr/include/alpaca
for p in "${PKGS[@]}"; do check "purge: dpkg no longer knows $p" not known "$p"; done

summary

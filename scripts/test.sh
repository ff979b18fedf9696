#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 checkout (README's second command):
#   1. dependencies, release build, unit tests (ctest: gtest + real PostgreSQL)
#   2. the SDK installed to a temp prefix, sdk/examples/hello built out of tree against it
#   3. integration tests (node:test) against the real alpaca-server binary, embedded and
#      external PostgreSQL
#   4. end-to-end tests: the official @supabase/supabase-js (npm) against /rest/v1
#   5. the same unit, integration and end-to-end tests on the ASan+UBSan build (dev preset)
#   6. the .deb: built, installed, run, purged (root only; skipped otherwise)
# Ends with one line "N passed, N failed". Set ALPACA_SKIP_SANITIZE=1 / ALPACA_SKIP_DEB=1 to
# leave a stage out while iterating.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
passed=0
failed=0
log=$(mktemp -d /tmp/alpaca-test.XXXXXX)
trap 'rm -rf "$log"' EXIT

stage() { printf '\n=== %s ===\n' "$*"; }
count_ctest() { # "100% tests passed, 0 tests failed out of 46"
  local line p f
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$1" | tail -1)
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  p=$(( $(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line") - f ))
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
}
count_node() { # "# pass 40" / "# fail 0"
  local p f
  p=$(grep -E '^# pass [0-9]+' "$1" | tail -1 | awk '{print $3}')
  f=$(grep -E '^# fail [0-9]+' "$1" | tail -1 | awk '{print $3}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
}
must() { "$@" || { echo "FAILED: $*" >&2; failed=$((failed + 1)); echo "$passed passed, $failed failed"; exit 1; }; }

stage "dependencies"
must scripts/deps.sh
# The sandboxes' Docker driver is tested against a real engine when this machine can run one.
scripts/start-docker.sh
if [ -f tests/integration/package.json ] && [ ! -d tests/integration/node_modules ]; then
  must npm --prefix tests/integration ci --no-audit --no-fund
fi

run_suite() { # preset
  local preset=$1 bin="$root/build/$1"
  stage "$preset: build"
  must cmake --preset "$preset" >/dev/null
  must cmake --build --preset "$preset"

  stage "$preset: unit tests (ctest)"
  ctest --preset "$preset" 2>&1 | tee "$log/ctest-$preset.txt"
  count_ctest "$log/ctest-$preset.txt"

  stage "$preset: SDK installed to a temp prefix, hello plugin built out of tree"
  local sdk="$log/sdk-$preset" hello="$log/hello-$preset"
  must cmake --install "$bin" --component sdk --prefix "$sdk" >/dev/null
  must cmake -S sdk/examples/hello -B "$hello" -G Ninja -DCMAKE_PREFIX_PATH="$sdk" >/dev/null
  must cmake --build "$hello"

  stage "$preset: integration tests (node:test, real server, real PostgreSQL)"
  ALPACA_SERVER_BIN="$bin/bin/alpaca-server" ALPACA_TEST_PLUGIN_DIR="$bin/test-plugins" \
    ALPACA_HELLO_PLUGIN="$hello/hello.so" \
    node --test --test-concurrency=1 tests/integration/ 2>&1 | tee "$log/node-$preset.txt"
  count_node "$log/node-$preset.txt"

  stage "$preset: end-to-end (@supabase/supabase-js from npm against /rest/v1)"
  ALPACA_SERVER_BIN="$bin/bin/alpaca-server" ALPACA_TEST_PLUGIN_DIR="$bin/test-plugins" \
    bash tests/e2e/run.sh 2>&1 | tee "$log/e2e-$preset.txt"
  count_node "$log/e2e-$preset.txt"
}

run_suite release
if [ "${ALPACA_SKIP_SANITIZE:-0}" != 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite dev
fi

if [ "${ALPACA_SKIP_DEB:-0}" != 1 ] && [ "$(id -u)" -eq 0 ]; then
  stage ".deb: build, install, run, purge"
  bash packaging/check-deb.sh build/release 2>&1 | tee "$log/deb.txt"
  line=$(grep -E 'check-deb: [0-9]+ passed, [0-9]+ failed' "$log/deb.txt" | tail -1)
  if [ -n "$line" ]; then
    passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
  else
    failed=$((failed + 1))
  fi
else
  stage ".deb check skipped (needs root)"
fi

stage "summary"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

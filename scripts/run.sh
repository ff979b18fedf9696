#!/usr/bin/env bash
# From a fresh Debian 12 checkout to a running server: deps, release build, run.
# Arguments go to alpaca-server (e.g. --config config/alpaca.properties).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake --preset release
cmake --build --preset release
exec build/release/bin/alpaca-server "$@"

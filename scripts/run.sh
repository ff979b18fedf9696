#!/usr/bin/env bash
# From a fresh Debian 12 checkout to a running server: deps, release build, run.
# Arguments go to alpaca-server (e.g. --config config/alpaca.properties).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake --preset release
cmake --build --preset release
# As root, the embedded PostgreSQL runs as an unprivileged account, which must be able to reach
# ./data. A checkout under /root (mode 0700) is not reachable: use /var/lib/alpaca-dev then
# (not /var/lib/alpaca, which belongs to the .deb).
if [ "$(id -u)" -eq 0 ] && [ -z "${ALPACA_DATA_DIR:-}" ]; then
  d=$(pwd)
  while [ "$d" != / ]; do
    case "$(stat -c %A "$d")" in
      *x | *t) d=$(dirname "$d") ;;
      *)
        export ALPACA_DATA_DIR=/var/lib/alpaca-dev
        echo "run.sh: $d is not searchable by other users; data goes to $ALPACA_DATA_DIR" >&2
        break
        ;;
    esac
  done
fi
exec build/release/bin/alpaca-server "$@"

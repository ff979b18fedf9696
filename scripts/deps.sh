#!/bin/sh
# Installs every Debian package needed to build, run and test Alpaca.
# Idempotent: when all are installed it touches neither apt nor the network.
# Run as root (or a user with sudo). Debian 12 (bookworm).
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config
libpoco-dev libboost-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libpq-dev
libssl-dev libcrypt-dev
postgresql-15
bubblewrap slirp4netns iproute2 libseccomp-dev python3 docker.io
curl jq wrk dpkg-dev file clang-format"

installed() { # true when dpkg has the package fully installed
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# supabase-js tests need Node >= 18. A newer node from elsewhere (it may ship
# its own npm) is kept; Debian's nodejs/npm only come in when node is missing or old.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 18 ]; then
    PACKAGES="$PACKAGES nodejs npm"
fi

missing=""
for p in $PACKAGES; do
    installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: need root (or sudo) to install:$missing" >&2
    exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the list is intended
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing

# The embedded cluster is ours; the distro's own "15 main" cluster, which the
# postgresql-15 install creates and may start, only costs memory and port 5432.
# Only touched when this run installed it, so a cluster a developer uses stays.
case " $missing " in
    *" postgresql-15 "*)
        if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
            $SUDO systemctl disable --now postgresql.service || true
        fi
        if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql/15/main ]; then
            $SUDO pg_ctlcluster 15 main stop 2>/dev/null || true
            # "manual": pg_ctlcluster still works, nothing starts it at boot.
            echo manual | $SUDO tee /etc/postgresql/15/main/start.conf >/dev/null || true
        fi
        ;;
esac
echo "deps: done"

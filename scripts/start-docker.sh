#!/bin/sh
# Starts Debian's Docker engine (docker.io) for the sandboxes' Docker driver tests, unless one
# already answers. Prints why when it cannot (no dockerd, not root); the tests then skip with
# that reason. Leaves the engine running (log: /tmp/alpaca-dockerd.log).
set -u
sock=/var/run/docker.sock
ping() { curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }
if ping; then
    echo "docker: engine already running"
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker: dockerd is not installed (apt-get install docker.io); Docker driver tests will skip"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "docker: starting dockerd needs root; Docker driver tests will skip"
    exit 0
fi
nohup dockerd >/tmp/alpaca-dockerd.log 2>&1 &
i=0
while [ $i -lt 60 ]; do
    if ping; then
        echo "docker: engine started"
        exit 0
    fi
    i=$((i + 1))
    sleep 0.5
done
echo "docker: dockerd did not come up in 30 s (see /tmp/alpaca-dockerd.log); Docker driver tests will skip"
tail -5 /tmp/alpaca-dockerd.log
exit 0

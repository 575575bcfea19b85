#!/usr/bin/env bash
# Load benchmark of caddy-gameauth: builds Caddy with the module (bench/cmd/caddy,
# bench's own go.mod) and the driver (bench/loadbench), installs wrk if missing,
# then runs the driver. Arguments go to the driver, e.g. `bench/run.sh -quick`.
# Everything listens on 127.0.0.1; the whole run is bounded by a hard timeout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

LIMIT=${LOADBENCH_LIMIT:-590}   # seconds for the whole script (build + run)
if [ -z "${LOADBENCH_UNDER_TIMEOUT:-}" ]; then
	export LOADBENCH_UNDER_TIMEOUT=1
	# --foreground keeps Ctrl-C working; the driver stops its own children on
	# SIGTERM, and they die with it (Pdeathsig) if it is killed.
	exec timeout --foreground -k 15 "$LIMIT" bash "$here/run.sh" "$@"
fi
start=$SECONDS

if ! command -v wrk >/dev/null 2>&1; then
	echo "==> installing wrk" >&2
	sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
	$sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

export GOFLAGS=${GOFLAGS:--buildvcs=false}
echo "==> building bin/caddy and bin/loadbench" >&2
mkdir -p bin
go build -o bin/caddy ./cmd/caddy
go build -o bin/loadbench ./loadbench

left=$((LIMIT - (SECONDS - start) - 20))
[ "$left" -gt 60 ] || { echo "run.sh: no time left after the build" >&2; exit 1; }
echo "==> running (hard limit ${left}s)" >&2
exec ./bin/loadbench -caddy bin/caddy -timeout "${left}s" "$@"

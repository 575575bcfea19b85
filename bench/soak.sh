#!/usr/bin/env bash
# Soak test of caddy-gameauth: 10 minutes (SOAK_DURATION) of mixed traffic —
# valid, invalid, forged identity headers, token issuing — through a Caddy
# built with the module on 127.0.0.1, with a config reload every minute.
# Reports failed requests, RSS and goroutines at start and end; exits
# non-zero on any failed valid request, forwarded invalid one or leaked
# forged identity. Bounded by a hard timeout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
DURATION=${SOAK_DURATION:-10m}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
mkdir -p bin
go build -o bin/caddy ./cmd/caddy
go build -o bin/soak ./soak
exec timeout --foreground -k 10 "${SOAK_LIMIT:-900}" ./bin/soak -caddy bin/caddy -duration "$DURATION" "$@"

#!/usr/bin/env bash
# Throughput of a secured route (bearer JWT + roles + owner) against a bare
# actix route serving the same JSON, from one release build, 64 connections,
# on 127.0.0.1 only. Prints both figures and the ratio.
#
#   scripts/load-bench.sh                  # 3 alternating rounds of 5 s per route
#   ROUNDS=5 DURATION=10s scripts/load-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
SECURED_PORT=${SECURED_PORT:-18181}
BARE_PORT=${BARE_PORT:-18182}

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk from Debian's packages" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -q -p secure-api-runtime --example bench_server
server=target/release/examples/bench_server
tokenfile=$(mktemp)
"$server" "$SECURED_PORT" "$BARE_PORT" >"$tokenfile" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$tokenfile"' EXIT

deadline=$((SECONDS + 30))
until curl -fs -o /dev/null -H "Authorization: Bearer $(head -n1 "$tokenfile")" "http://127.0.0.1:$SECURED_PORT/api/users/42" \
    && curl -fs -o /dev/null "http://127.0.0.1:$BARE_PORT/api/users/42"; do
    [ $SECONDS -lt $deadline ] || { echo "bench_server did not start" >&2; exit 1; }
    sleep 0.1
done
token=$(head -n1 "$tokenfile")

rps() {
    wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "$1" \
        | awk '/^Requests\/sec:/ {print $2} /Non-2xx/ {print "non-2xx answers: " $0 > "/dev/stderr"; exit 1}'
}

# Warm both servers, then measure each in turn.
wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $token" "http://127.0.0.1:$SECURED_PORT/api/users/42" >/dev/null
wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$BARE_PORT/api/users/42" >/dev/null
secured=0
bare=0
for round in $(seq 1 "$ROUNDS"); do
    s=$(rps "http://127.0.0.1:$SECURED_PORT/api/users/42")
    b=$(rps "http://127.0.0.1:$BARE_PORT/api/users/42")
    echo "round $round: secured $s req/s, bare $b req/s" >&2
    secured=$(awk -v a="$secured" -v x="$s" 'BEGIN {print a + x}')
    bare=$(awk -v a="$bare" -v x="$b" 'BEGIN {print a + x}')
done

awk -v s="$secured" -v b="$bare" -v n="$ROUNDS" -v c="$CONNECTIONS" -v d="$DURATION" 'BEGIN {
    printf "connections: %d, %d rounds of %s per route\n", c, n, d
    printf "secured route (JWT + roles + owner): %.0f req/s\n", s / n
    printf "bare actix route:                    %.0f req/s\n", b / n
    printf "ratio: %.1f%% (target: at least 85%%)\n", 100 * s / b
}'

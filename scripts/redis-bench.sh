#!/usr/bin/env bash
# What deciding quotas in Redis costs: the secured route of
# secure-api-runtime/examples/bench_server.rs with a per-user quota (high
# enough never to refuse), decided in memory and then in a Redis on
# loopback. Reports the latency per request at one connection (p50, p99)
# and the throughput at 64 connections, for both. 127.0.0.1 only.
#
#   scripts/redis-bench.sh
#   DURATION=10s scripts/redis-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}

install() {
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
command -v wrk >/dev/null 2>&1 || install wrk
command -v redis-server >/dev/null 2>&1 || install redis-server

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cargo build --release -q -p secure-api-runtime --example bench_server
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)

# Starts bench_server with the given environment; sets `port` and `token`.
serve() {
    local bare
    port=$(free_port)
    bare=$(free_port)
    env "$@" BENCH_QUOTA=100000000 target/release/examples/bench_server "$port" "$bare" >"$work/token-$port" 2>"$work/server-$port.log" &
    pids+=($!)
    local deadline=$((SECONDS + 30))
    until [ -s "$work/token-$port" ] && curl -fs -o /dev/null \
        -H "Authorization: Bearer $(head -n1 "$work/token-$port")" "http://127.0.0.1:$port/api/users/42"; do
        [ $SECONDS -lt $deadline ] || { echo "bench_server did not start" >&2; cat "$work/server-$port.log" >&2; exit 1; }
        sleep 0.1
    done
    token=$(head -n1 "$work/token-$port")
}

measure() {
    local name=$1 port=$2 token=$3
    local url="http://127.0.0.1:$port/api/users/42"
    wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $token" "$url" >/dev/null
    local latency throughput
    latency=$(wrk -t1 -c1 -d"$DURATION" --latency -H "Authorization: Bearer $token" "$url" \
        | awk '/^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {print p50, p99}')
    throughput=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "$url" \
        | awk '/^Requests\/sec:/ {print $2} /Non-2xx/ {print "non-2xx answers" > "/dev/stderr"; exit 1}')
    echo "$name: latency at 1 connection p50 ${latency% *}, p99 ${latency#* }; throughput at $CONNECTIONS connections $throughput req/s"
}

until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
serve
measure "in memory" "$port" "$token"
serve REDIS_URL="redis://127.0.0.1:$redis_port/"
measure "in Redis " "$port" "$token"

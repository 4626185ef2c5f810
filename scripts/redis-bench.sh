#!/usr/bin/env bash
# What deciding quotas in Redis costs: the secured route of
# secure-api-runtime/examples/bench_server.rs with a per-user quota (high
# enough never to refuse), decided in memory and then in a Redis on
# loopback. Reports the latency per request at one connection (p50, p99)
# and the throughput at 64 connections, for both, in alternating rounds,
# then the ratio of the throughputs and the p99 Redis adds. 127.0.0.1 only.
#
# redis-server, wrk and the server share the machine's cores, so on a small
# machine Redis's own work takes time from the server. The server's CPU time
# per request (user and system, from /proc) is reported as well: its ratio is
# the throughput a server keeps when Redis runs on a host of its own. So is
# redis-server's CPU time per request, which is what the fleet's one Redis
# spends on each request of every instance.
#
#   scripts/redis-bench.sh
#   ROUNDS=5 DURATION=10s scripts/redis-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
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
# shellcheck source=scripts/built.sh
. scripts/built.sh
bench_server=$(built release/examples/bench_server)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
store_pid=$!
pids+=("$store_pid")

ticks=$(getconf CLK_TCK)
# A process's CPU time so far, in clock ticks (user + system).
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Starts bench_server with the given environment; sets `port`, `token` and
# `server` (its pid).
serve() {
    local bare
    port=$(free_port)
    bare=$(free_port)
    env "$@" BENCH_QUOTA=100000000 "$bench_server" "$port" "$bare" >"$work/token-$port" 2>"$work/server-$port.log" &
    server=$!
    pids+=("$server")
    local deadline=$((SECONDS + 30))
    until [ -s "$work/token-$port" ] && curl -fs -o /dev/null \
        -H "Authorization: Bearer $(head -n1 "$work/token-$port")" "http://127.0.0.1:$port/api/users/42"; do
        [ $SECONDS -lt $deadline ] || { echo "bench_server did not start" >&2; cat "$work/server-$port.log" >&2; exit 1; }
        sleep 0.1
    done
    token=$(head -n1 "$work/token-$port")
}

# One round against one server (port, token, pid):
# "p50_us p99_us requests_per_second cpu_us_per_request redis_cpu_us_per_request".
measure() {
    local port=$1 token=$2 pid=$3
    local url="http://127.0.0.1:$port/api/users/42"
    local latency throughput before after store_before store_after
    latency=$(wrk -t1 -c1 -d"$DURATION" --latency -H "Authorization: Bearer $token" "$url" \
        | awk 'function us(v) { if (v ~ /ms$/) return v * 1000; if (v ~ /us$/) return v + 0; return v * 1000000 }
               /^ +50%/ {p50 = us($2)} /^ +99%/ {p99 = us($2)} END {print p50, p99}')
    before=$(cpu "$pid")
    store_before=$(cpu "$store_pid")
    throughput=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "$url" \
        | awk '/requests in/ {n = $1} /^Requests\/sec:/ {r = $2}
               /Non-2xx/ {print "non-2xx answers" > "/dev/stderr"; exit 1} END {print r, n}')
    after=$(cpu "$pid")
    store_after=$(cpu "$store_pid")
    read -r throughput requests <<<"$throughput"
    throughput="$throughput $(awk -v b="$before" -v a="$after" -v t="$ticks" -v n="$requests" \
        'BEGIN {printf "%.2f", (a - b) / t * 1e6 / n}')"
    throughput="$throughput $(awk -v b="$store_before" -v a="$store_after" -v t="$ticks" -v n="$requests" \
        'BEGIN {printf "%.2f", (a - b) / t * 1e6 / n}')"
    echo "$latency $throughput"
}

until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done
serve
memory_port=$port memory_token=$token memory_pid=$server
serve REDIS_URL="redis://127.0.0.1:$redis_port/"
redis_port_app=$port redis_token=$token redis_pid=$server
for target in "$memory_port $memory_token" "$redis_port_app $redis_token"; do
    read -r p t <<<"$target"
    wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $t" "http://127.0.0.1:$p/api/users/42" >/dev/null
done
results="$work/results"
for round in $(seq 1 "$ROUNDS"); do
    read -r a b c d _ < <(measure "$memory_port" "$memory_token" "$memory_pid")
    echo "round $round: in memory p50 ${a} µs, p99 ${b} µs, $c req/s, server CPU $d µs a request" >&2
    echo "memory $a $b $c $d" >>"$results"
    read -r a b c d e < <(measure "$redis_port_app" "$redis_token" "$redis_pid")
    echo "round $round: in Redis  p50 ${a} µs, p99 ${b} µs, $c req/s, server CPU $d µs a request, redis-server CPU $e µs a request" >&2
    echo "redis $a $b $c $d $e" >>"$results"
done
awk -v n="$ROUNDS" -v c="$CONNECTIONS" '
    {p50[$1] += $2; p99[$1] += $3; rps[$1] += $4; cpu[$1] += $5; store[$1] += $6}
    END {
        printf "in memory: latency at 1 connection p50 %.0f µs, p99 %.0f µs; throughput at %d connections %.0f req/s\n", p50["memory"] / n, p99["memory"] / n, c, rps["memory"] / n
        printf "in Redis:  latency at 1 connection p50 %.0f µs, p99 %.0f µs; throughput at %d connections %.0f req/s\n", p50["redis"] / n, p99["redis"] / n, c, rps["redis"] / n
        printf "Redis / memory throughput: %.3f; p99 added by Redis: %.0f µs\n", rps["redis"] / rps["memory"], (p99["redis"] - p99["memory"]) / n
        printf "server CPU a request: %.2f µs in memory, %.2f µs in Redis (memory / Redis: %.3f); redis-server CPU a request: %.2f µs\n", cpu["memory"] / n, cpu["redis"] / n, cpu["memory"] / cpu["redis"], store["redis"] / n
    }' "$results"

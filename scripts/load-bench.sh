#!/usr/bin/env bash
# Throughput and server CPU per request of a secured route (bearer JWT +
# roles + owner) against the same JSON from a bare actix route, and from a
# bare route that sends the same security headers (so the two differ only by
# the guard's work). One release build, 64 connections, one worker each, on
# 127.0.0.1 only. With two cores or more, the servers run on one core and wrk
# on another (taskset), so neither takes the other's time; the CPU the server
# spends per request (its log writer's thread included) is reported beside
# the throughput.
#
#   scripts/load-bench.sh                  # 3 alternating rounds of 5 s per route
#   ROUNDS=5 DURATION=10s scripts/load-bench.sh
#   OBSERVE=json scripts/load-bench.sh     # also the secured route with every
#                                          # audit event written as JSON (to a
#                                          # file) and metrics recorded
#   OBSERVE=json OBSERVE_LOG=/dev/null scripts/load-bench.sh
#                                          # the same, the lines written to
#                                          # OBSERVE_LOG instead of a file of
#                                          # their own (no count is then shown)
#   PIN=0 BENCH_WORKERS=2 scripts/load-bench.sh
#                                          # nothing pinned, two workers a
#                                          # server: every process shares every
#                                          # core, as two servers compared side
#                                          # by side with actix's default worker
#                                          # count (one a core) would run; wrk's
#                                          # share then dilutes the ratios
#   AGAINST=5188c10 AGAINST_FEATURES=actix-web/unicode scripts/load-bench.sh
#                                          # also that commit's secured and bare
#                                          # routes, built apart (see
#                                          # scripts/against.sh), in the same
#                                          # rounds
#
# Each round measures the routes in turn, in reverse order every second
# round, so a drift in the machine's speed during a run weighs on every
# route alike.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk from Debian's packages" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

# The servers on the last core, wrk on the first, when there are two
# (unless PIN=0).
server_cpu=() client_cpu=()
if [ "${PIN:-1}" != 0 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    server_cpu=(taskset -c "$(($(nproc) - 1))")
    client_cpu=(taskset -c 0)
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cargo build --release -q -p secure-api-runtime --example bench_server
# shellcheck source=scripts/built.sh
. scripts/built.sh
server=$(built release/examples/bench_server)
if [ -n "${AGAINST:-}" ]; then
    . scripts/against.sh
    against=$(against_server)
fi
secured_port=$(free_port)
bare_port=$(free_port)
headers_port=$(free_port)
tokenfile=$(mktemp)
"${server_cpu[@]}" "$server" "$secured_port" "$bare_port" "$headers_port" >"$tokenfile" &
pid=$!
observed_pid=""
against_pid=""
own_log=$(mktemp)
observed_log=${OBSERVE_LOG:-$own_log}
against_tokenfile=$(mktemp)
trap 'kill $pid $observed_pid $against_pid 2>/dev/null || true; rm -f "$tokenfile" "$own_log" "$against_tokenfile"' EXIT
names="secured bare headers"
if [ -n "${OBSERVE:-}" ]; then
    observed_port=$(free_port)
    BENCH_OBSERVE=$OBSERVE "${server_cpu[@]}" "$server" "$observed_port" "$(free_port)" >/dev/null 2>"$observed_log" &
    observed_pid=$!
    names="secured observed bare headers"
fi
if [ -n "${AGAINST:-}" ]; then
    against_secured_port=$(free_port)
    against_bare_port=$(free_port)
    "${server_cpu[@]}" "$against" "$against_secured_port" "$against_bare_port" >"$against_tokenfile" &
    against_pid=$!
    names="$names against_secured against_bare"
fi

deadline=$((SECONDS + 30))
until [ -s "$tokenfile" ] && curl -fs -o /dev/null -H "Authorization: Bearer $(head -n1 "$tokenfile")" "http://127.0.0.1:$secured_port/api/users/42" \
    && curl -fs -o /dev/null "http://127.0.0.1:$bare_port/api/users/42" \
    && curl -fs -o /dev/null "http://127.0.0.1:$headers_port/api/users/42" \
    && { [ -z "$observed_pid" ] || curl -fs -o /dev/null -H "Authorization: Bearer $(head -n1 "$tokenfile")" "http://127.0.0.1:$observed_port/api/users/42"; } \
    && { [ -z "$against_pid" ] || { [ -s "$against_tokenfile" ] && curl -fs -o /dev/null -H "Authorization: Bearer $(head -n1 "$against_tokenfile")" "http://127.0.0.1:$against_secured_port/api/users/42"; }; }; do
    [ $SECONDS -lt $deadline ] || { echo "bench_server did not start" >&2; exit 1; }
    sleep 0.1
done
token=$(head -n1 "$tokenfile")
against_token=$(head -n1 "$against_tokenfile")
ticks=$(getconf CLK_TCK)

# A server's CPU time so far, in clock ticks: "user system".
cpu() { awk '{print $14, $15}' "/proc/$1/stat"; }

# One measured run of server $2, sending token $3: "requests_per_second
# cpu_microseconds_per_request user_microseconds_per_request".
run() {
    local user_before system_before user_after system_after out
    read -r user_before system_before < <(cpu "$2")
    out=$("${client_cpu[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $3" "$1")
    read -r user_after system_after < <(cpu "$2")
    echo "$out" | awk -v u="$((user_after - user_before))" -v s="$((system_after - system_before))" -v t="$ticks" '
        /Non-2xx/ {print "non-2xx answers: " $0 > "/dev/stderr"; exit 1}
        /requests in/ {n = $1}
        /^Requests\/sec:/ {r = $2}
        END {printf "%s %.2f %.2f\n", r, (u + s) / t * 1e6 / n, u / t * 1e6 / n}'
}

for port in "$secured_port" "$bare_port" "$headers_port" ${observed_port:-}; do
    wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/users/42" >/dev/null
done
for port in ${against_secured_port:-} ${against_bare_port:-}; do
    wrk -t1 -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $against_token" "http://127.0.0.1:$port/api/users/42" >/dev/null
done
reversed=$(echo "$names" | tr ' ' '\n' | tac | tr '\n' ' ')
results=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
    order=$names
    [ $((round % 2)) = 0 ] && order=$reversed
    for name in $order; do
        server_pid=$pid bearer=$token
        case $name in
            secured) port=$secured_port ;;
            observed) port=$observed_port server_pid=$observed_pid ;;
            bare) port=$bare_port ;;
            headers) port=$headers_port ;;
            against_secured) port=$against_secured_port server_pid=$against_pid bearer=$against_token ;;
            against_bare) port=$against_bare_port server_pid=$against_pid bearer=$against_token ;;
        esac
        read -r rps us user < <(run "http://127.0.0.1:$port/api/users/42" "$server_pid" "$bearer")
        echo "round $round: $name $rps req/s, $us µs CPU per request ($user µs in user space)" >&2
        echo "$name $rps $us $user" >>"$results"
    done
done

awk -v n="$ROUNDS" -v c="$CONNECTIONS" -v d="$DURATION" -v a="${AGAINST:-}" '
    {rps[$1] += $2; us[$1] += $3; user[$1] += $4}
    END {
        printf "connections: %d, %d rounds of %s per route\n", c, n, d
        printf "secured route (JWT + roles + owner): %.0f req/s, %.1f µs CPU/request\n", rps["secured"] / n, us["secured"] / n
        printf "bare actix route:                    %.0f req/s, %.1f µs CPU/request\n", rps["bare"] / n, us["bare"] / n
        printf "bare route with the same headers:    %.0f req/s, %.1f µs CPU/request\n", rps["headers"] / n, us["headers"] / n
        printf "secured / bare:                      %.3f of the throughput, %.2fx the CPU per request\n", rps["secured"] / rps["bare"], us["secured"] / us["bare"]
        printf "secured / bare with the same headers: %.3f of the throughput, %.2fx the CPU per request\n", rps["secured"] / rps["headers"], us["secured"] / us["headers"]
        printf "user-space CPU per request:          secured %.1f µs, bare %.1f µs, with the headers %.1f µs\n", user["secured"] / n, user["bare"] / n, user["headers"] / n
        if (rps["observed"] > 0) {
            printf "secured with audit events and metrics: %.0f req/s, %.1f µs CPU/request\n", rps["observed"] / n, us["observed"] / n
            printf "with / without audit events and metrics: %.3f of the throughput, %.2fx the CPU per request\n", rps["observed"] / rps["secured"], us["observed"] / us["secured"]
            printf "user-space CPU per request with them:  %.1f µs (%.1f µs without)\n", user["observed"] / n, user["secured"] / n
        }
        if (rps["against_secured"] > 0) {
            printf "at %s, secured route:               %.0f req/s, %.1f µs CPU/request (%.1f µs in user space)\n", a, rps["against_secured"] / n, us["against_secured"] / n, user["against_secured"] / n
            printf "at %s, bare actix route:            %.0f req/s, %.1f µs CPU/request (%.1f µs in user space)\n", a, rps["against_bare"] / n, us["against_bare"] / n, user["against_bare"] / n
            printf "at %s, secured / bare:              %.3f of the throughput, %.2fx the CPU per request\n", a, rps["against_secured"] / rps["against_bare"], us["against_secured"] / us["against_bare"]
            printf "secured route, this build / %s:    %.3f of the throughput, %.2fx the CPU per request\n", a, rps["secured"] / rps["against_secured"], us["secured"] / us["against_secured"]
        }
    }' "$results"
if [ -n "$observed_pid" ] && [ "$observed_log" = "$own_log" ]; then
    echo "audit events written by the observed server: $(grep -c secure_api::audit "$observed_log")"
fi
rm -f "$results"

#!/usr/bin/env bash
# User-space instructions per request of the secured route, the bare actix
# route, the bare route sending the security headers (so the secured route
# differs from it only by the guard's work), and the secured route with
# audit events (JSON) and metrics on,
# counted by valgrind's callgrind: a figure that does not move with the
# machine's load, unlike `scripts/load-bench.sh`'s throughput. Each figure is
# the difference between a run of LONG and a run of SHORT requests on one
# keep-alive connection to 127.0.0.1, divided by LONG - SHORT, so start-up
# is left out (and the metrics recorder's start-up, which varies, is taken
# off each run). The kernel's share (the sockets) is not counted.
#
#   scripts/instruction-count.sh
#   SHORT=500 LONG=5000 scripts/instruction-count.sh
#
# To see where they go: callgrind_annotate on the `callgrind.out` files it
# leaves in $KEEP (when set).
#
# With SIMULATE=1, callgrind also simulates the caches and the branch
# predictor (`--cache-sim=yes --branch-sim=yes`, about twice as slow) and
# each route's line adds its level-1 instruction and data cache misses and
# its mispredicted branches per request: why a route's instructions can
# cost more time than their count says. The simulated predictor is simpler
# than a real one, so compare the routes with each other, not with a CPU.
#
#   SIMULATE=1 scripts/instruction-count.sh
#
# With AGAINST naming a commit (and AGAINST_FEATURES, see
# scripts/against.sh), the bare and secured routes of that commit's build
# are counted too, after this build's.
#
#   AGAINST=5188c10 AGAINST_FEATURES=actix-web/unicode scripts/instruction-count.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=${SHORT:-500}
LONG=${LONG:-2500}
simulate=()
[ -n "${SIMULATE:-}" ] && simulate=(--cache-sim=yes --branch-sim=yes)

if ! command -v valgrind >/dev/null 2>&1; then
    echo "installing valgrind from Debian's packages" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
fi

cargo build --release -q -p secure-api-runtime --example bench_server
# shellcheck source=scripts/built.sh
. scripts/built.sh
server=$(built release/examples/bench_server)
if [ -n "${AGAINST:-}" ]; then
    . scripts/against.sh
    against=$(against_server)
fi
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Instructions of the whole process after `count` requests to one route.
# $1: secured, bare, headers or observed; $2: the number of requests.
count() {
    local route=$1 requests=$2 secured bare headers out
    secured=$(free_port)
    bare=$(free_port)
    headers=$(free_port)
    out="$work/callgrind.$route.$requests.out"
    if [ "$route" = observed ]; then
        BENCH_OBSERVE=${OBSERVE:-json} valgrind --tool=callgrind "${simulate[@]}" --callgrind-out-file="$out" \
            "$server" "$secured" "$bare" >"$work/token" 2>"$work/audit.log" &
    else
        valgrind --tool=callgrind "${simulate[@]}" --callgrind-out-file="$out" \
            "$server" "$secured" "$bare" "$headers" >"$work/token" 2>/dev/null &
    fi
    pid=$!
    local deadline=$((SECONDS + 60))
    until [ -s "$work/token" ] && curl -fs -o /dev/null "http://127.0.0.1:$bare/api/users/42"; do
        [ $SECONDS -lt $deadline ] || { echo "bench_server did not start" >&2; exit 1; }
        sleep 0.2
    done
    local port=$secured
    [ "$route" = bare ] && port=$bare
    [ "$route" = headers ] && port=$headers
    python3 - "$port" "$requests" "$(head -n1 "$work/token")" <<'PY'
import http.client, sys
port, requests, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
connection = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(requests):
    connection.request("GET", "/api/users/42", headers={"Authorization": f"Bearer {token}"})
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"answer {answer.status}")
PY
    # The audit log's writer flushes every 50 ms.
    sleep 0.2
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    # Less the metrics recorder's start-up, whose clock calibration runs a
    # different number of rounds each time.
    local instructions
    instructions=$(callgrind_annotate --inclusive=yes "$out" 2>/dev/null | awk '
        /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
        /observe::metrics::Metrics::install \[/ && !install { gsub(",", "", $1); install = $1 }
        END { print total - install }')
    # With the simulation: the whole run's misses and mispredictions.
    awk -v instructions="$instructions" '
        /^events:/ { for (i = 2; i <= NF; i++) event[$i] = i }
        /^summary:/ {
            if ("I1mr" in event) {
                print instructions, $event["I1mr"], $event["D1mr"] + $event["D1mw"], $event["Bcm"] + $event["Bim"]
            } else {
                print instructions
            }
        }' "$out"
    if [ -n "${KEEP:-}" ]; then cp "$out" "$KEEP/"; fi
}

declare -A per_request
# Counts route $1 of the build at $server as per_request[$2] and prints its
# line, labelled $2.
count_route() {
    local route=$1 label=$2 counted line short long
    counted=$(count "$route" "$SHORT")
    read -r -a short <<<"$counted"
    counted=$(count "$route" "$LONG")
    read -r -a long <<<"$counted"
    per_request[$label]=$(( (long[0] - short[0]) / (LONG - SHORT) ))
    line="$label: ${per_request[$label]} instructions per request"
    if [ ${#simulate[@]} -gt 0 ]; then
        line+=$(python3 -c '
import sys
short, long, n = sys.argv[1].split(), sys.argv[2].split(), int(sys.argv[3])
i1, d1, branches = ((int(l) - int(s)) / n for s, l in zip(short[1:], long[1:]))
print(f"; level-1 misses {i1:.0f} instruction, {d1:.0f} data; {branches:.0f} mispredicted branches")
' "${short[*]}" "${long[*]}" "$((LONG - SHORT))")
    fi
    echo "$line"
}
for route in bare headers secured observed; do
    count_route "$route" "$route"
done
python3 - "${per_request[bare]}" "${per_request[headers]}" "${per_request[secured]}" "${per_request[observed]}" <<'PY'
import sys
bare, headers, secured, observed = map(int, sys.argv[1:])
print(f"secured / bare: {secured / bare:.2f}x the instructions ({secured - bare} more a request)")
print(f"secured / bare with the headers: {secured / headers:.2f}x ({secured - headers} more a request for the guard)")
print(f"observed / secured: {observed / secured:.2f}x ({observed - secured} more a request for the audit event and metrics)")
PY
if [ -n "${AGAINST:-}" ]; then
    server=$against
    for route in bare secured; do
        count_route "$route" "at $AGAINST, $route"
    done
    python3 - "$AGAINST" "${per_request[at $AGAINST, bare]}" "${per_request[at $AGAINST, secured]}" "${per_request[bare]}" "${per_request[secured]}" <<'PY'
import sys
rev = sys.argv[1]
bare_then, secured_then, bare, secured = map(int, sys.argv[2:])
print(f"at {rev}, secured / bare: {secured_then / bare_then:.2f}x ({secured_then - bare_then} more a request)")
print(f"secured route, this build / {rev}: {secured / secured_then:.2f}x ({secured - secured_then:+d} a request)")
PY
fi

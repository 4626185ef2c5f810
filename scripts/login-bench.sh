#!/usr/bin/env bash
# Logins per second, and whether a login flood starves the rest of the API:
# the p99 latency of /health probed at a steady rate, idle and during a flood
# of logins, against a release build of the example app on 127.0.0.1 only.
#
#   scripts/login-bench.sh                       # 15 s flood, 64 connections
#   FLOOD=30s CONNECTIONS=128 LOGIN_PAUSE_MS=20 scripts/login-bench.sh
#
# The flood comes from many client addresses (X-Forwarded-For, with
# 127.0.0.1 as the trusted proxy), as a distributed attack would, so the
# per-address login limit does not hide the hashing cost.
set -euo pipefail
cd "$(dirname "$0")/.."

FLOOD=${FLOOD:-15s}
CONNECTIONS=${CONNECTIONS:-64}
# Each connection pauses this long between logins: 64 connections offer
# about 640 logins a second, many times what argon2id can serve, without
# the load generator itself taking every core.
export LOGIN_PAUSE_MS=${LOGIN_PAUSE_MS:-100}
PORT=${PORT:-18183}
PROBES=${PROBES:-1000}

if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk from Debian's packages" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

cargo build --release -q -p example-app
# shellcheck source=scripts/built.sh
. scripts/built.sh
app=$(built release/example-app)
work=$(mktemp -d)
SECURE_API_TRUSTED_PROXIES=127.0.0.1 BIND="127.0.0.1:$PORT" \
    DATABASE_URL="sqlite://$work/bench.db" EXAMPLE_DEV_KEY_FILE="$work/dev-key" RUST_LOG=warn \
    "$app" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

deadline=$((SECONDS + 30))
until curl -fs -o /dev/null "http://127.0.0.1:$PORT/health"; do
    [ $SECONDS -lt $deadline ] || { echo "example-app did not start" >&2; exit 1; }
    sleep 0.1
done
curl -fs -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"bench","password":"quiet harbour lights at noon","display_name":"Bench"}' \
    "http://127.0.0.1:$PORT/api/auth/register"

cat >"$work/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"quiet harbour lights at noon"}'
local n = 0
delay = function()
  return tonumber(os.getenv("LOGIN_PAUSE_MS") or "100")
end
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d",
    math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  return wrk.format()
end
LUA

# /health at a steady 100 requests a second on one keep-alive connection;
# prints the p50 and p99 latency in milliseconds.
probe() {
    python3 - "$PORT" "$PROBES" <<'PY'
import http.client, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
samples, statuses = [], {}
for i in range(count):
    start = time.perf_counter()
    # Spread the probe over addresses so the default per-address limit does not answer it.
    conn.request("GET", "/health", headers={"X-Forwarded-For": f"10.200.{i % 100}.1"})
    response = conn.getresponse()
    response.read()
    samples.append((time.perf_counter() - start) * 1000)
    statuses[response.status] = statuses.get(response.status, 0) + 1
    time.sleep(max(0.0, 0.01 - (time.perf_counter() - start)))
samples.sort()
if set(statuses) != {200}:
    print(f"unexpected statuses: {statuses}", file=sys.stderr)
    sys.exit(1)
print(f"{samples[len(samples) // 2]:.3f} {samples[int(len(samples) * 0.99) - 1]:.3f}")
PY
}

read -r idle_p50 idle_p99 < <(probe)
wrk -t1 -c"$CONNECTIONS" -d"$FLOOD" -s "$work/login.lua" "http://127.0.0.1:$PORT/api/auth/login" >"$work/flood.txt" &
flood=$!
sleep 2
read -r flood_p50 flood_p99 < <(probe)
wait $flood

total=$(awk '/requests in/ {print $1}' "$work/flood.txt")
seconds=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' "$work/flood.txt")
refused=$(awk '/Non-2xx/ {print $5}' "$work/flood.txt")
refused=${refused:-0}
awk -v t="$total" -v r="$refused" -v s="$seconds" -v c="$CONNECTIONS" \
    -v ip50="$idle_p50" -v ip99="$idle_p99" -v fp50="$flood_p50" -v fp99="$flood_p99" 'BEGIN {
    printf "login flood: %d connections for %.1f s, %.0f logins/s offered; %d answered, %d of them refused (503 at capacity)\n", c, s, t / s, t, r
    printf "logins per second: %.1f\n", (t - r) / s
    printf "/health idle:           p50 %.2f ms, p99 %.2f ms\n", ip50, ip99
    printf "/health during flood:   p50 %.2f ms, p99 %.2f ms\n", fp50, fp99
    printf "p99 ratio: %.2fx (target: at most 2x)\n", fp99 / ip99
}'

# Sourced by the scripts that drive the running example app: builds it
# (debug) and starts it on a free 127.0.0.1 port with its SQLite database,
# an admin account and a webhook secret, and stops it again.
#
#   . scripts/example-app.sh
#   example_app_start "$scratch_dir"   # sets example_app_url
#   ...
#   example_app_stop

# shellcheck source=scripts/built.sh
. scripts/built.sh

EXAMPLE_APP_ADMIN_PASSWORD="plum tree at dusk, for fuzzing"
EXAMPLE_APP_WEBHOOK_SECRET="whsec_ZnV6eiB3ZWJob29rIHNlY3JldA=="

example_app_start() {
    local work=$1 app port deadline
    cargo build -q --locked -p example-app
    app=$(built debug/example-app)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    (
        cd "$work"
        BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/example.db" \
            EXAMPLE_ADMIN_PASSWORD="$EXAMPLE_APP_ADMIN_PASSWORD" \
            PAYMENT_WEBHOOK_SECRET="$EXAMPLE_APP_WEBHOOK_SECRET" RUST_LOG=warn \
            exec "$app"
    ) >"$work/server.log" 2>&1 &
    example_app_pid=$!
    example_app_url="http://127.0.0.1:$port"
    deadline=$((SECONDS + 30))
    until curl -fs -o /dev/null "$example_app_url/health"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$example_app_pid" 2>/dev/null; then
            echo "example-app did not start" >&2
            cat "$work/server.log" >&2
            return 1
        fi
        sleep 0.1
    done
}

example_app_stop() {
    if [ -n "${example_app_pid:-}" ]; then
        kill "$example_app_pid" 2>/dev/null || true
        wait "$example_app_pid" 2>/dev/null || true
        example_app_pid=
    fi
}

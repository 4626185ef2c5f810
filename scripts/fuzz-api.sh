#!/usr/bin/env bash
# Property-based fuzzing of the example app through its own OpenAPI document
# with schemathesis (PyPI), with a valid admin token: no answer may be a
# server error, and every answer must conform to the document (status,
# content type, problem+json schema of refusals, headers). Bounded: at most
# MAX_EXAMPLES cases per operation, on 127.0.0.1 only.
#
#   scripts/fuzz-api.sh
#   MAX_EXAMPLES=100 scripts/fuzz-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES=${MAX_EXAMPLES:-25}
SCHEMATHESIS_VERSION=4.32.5

venv=target/fuzz-venv
if [ ! -x "$venv/bin/st" ]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION from PyPI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build -q --locked -p example-app
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
    cd "$work"
    BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$work/fuzz.db" \
        EXAMPLE_ADMIN_PASSWORD="plum tree at dusk, for fuzzing" \
        PAYMENT_WEBHOOK_SECRET="whsec_ZnV6eiB3ZWJob29rIHNlY3JldA==" RUST_LOG=warn \
        exec "$OLDPWD/target/debug/example-app"
) >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

deadline=$((SECONDS + 30))
until curl -fs -o /dev/null "http://127.0.0.1:$port/health"; do
    [ $SECONDS -lt $deadline ] || { echo "example-app did not start" >&2; cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
token=$(cd "$work" && target_bin="$OLDPWD/target/debug/example-app" && "$target_bin" token --sub 1 --roles admin --ttl 3600)

# From the scratch directory, so schemathesis keeps its cache out of the tree.
cd "$work"
"$OLDPWD/$venv/bin/st" run "http://127.0.0.1:$port/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --max-examples "$MAX_EXAMPLES" \
    --request-timeout 10 \
    --seed 1

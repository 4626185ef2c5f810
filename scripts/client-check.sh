#!/usr/bin/env bash
# Generates a Python client from the example app's committed OpenAPI
# document with openapi-python-client (PyPI) and calls the running app
# through it (scripts/client/check.py): registration, sign-in, the owner's
# routes, orders through their states with an idempotency key, a signed
# webhook, a second factor, administration, refresh and logout, and the
# refusals between them, each parsed into the document's model for its
# status. A route, body or status the document gets wrong fails here.
#
#   scripts/client-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

GENERATOR_VERSION=0.29.1

venv=target/client-venv
if [ ! -x "$venv/bin/openapi-python-client" ]; then
    echo "installing openapi-python-client $GENERATOR_VERSION from PyPI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "openapi-python-client==$GENERATOR_VERSION"
fi

# shellcheck source=scripts/example-app.sh
. scripts/example-app.sh
work=$(mktemp -d)
trap 'example_app_stop; rm -rf "$work"' EXIT

# The generator formats its output with ruff, installed beside it.
(cd "$work" && PATH="$OLDPWD/$venv/bin:$PATH" "$OLDPWD/$venv/bin/openapi-python-client" \
    generate --path "$OLDPWD/example-app/openapi.json" --meta setup --fail-on-warning >"$work/generate.log" 2>&1) ||
    { cat "$work/generate.log" >&2; exit 1; }
"$venv/bin/pip" install -q --force-reinstall "$work/secure-api-example-client"

example_app_start "$work"
"$venv/bin/python" scripts/client/check.py "$example_app_url" \
    "$EXAMPLE_APP_ADMIN_PASSWORD" "$EXAMPLE_APP_WEBHOOK_SECRET"

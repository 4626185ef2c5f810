#!/usr/bin/env bash
# Runs every test of the workspace: unit and property tests, the trybuild
# compile-error suite, end-to-end tests against the example app on loopback
# ports (on SQLite and on a PostgreSQL server this script starts), the
# example binary's command-line tests, the doctests, the README's first
# app built as a crate of its own, and a Python client generated from the
# example's OpenAPI document calling the running app. Ends with one line
# that totals them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust (https://rustup.rs) first" >&2
    exit 1
fi

# shellcheck source=scripts/services.sh
. scripts/services.sh

log=$(mktemp)
trap 'rm -f "$log"; services_stop' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# The README's first app, as a crate of its own.
scripts/first-app.sh 2>&1 | tee -a "$log" || status=$?
# A client generated from the committed OpenAPI document, calling the app.
scripts/client-check.sh 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ {
        for (i = 2; i <= NF; i++) {
            if ($i ~ /^passed;?$/) passed += $(i - 1)
            if ($i ~ /^failed;?$/) failed += $(i - 1)
        }
    }
    END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
exit "$status"

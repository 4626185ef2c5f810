#!/usr/bin/env bash
# Runs every test of the workspace: unit and property tests, the trybuild
# compile-error suite, end-to-end tests against the example app on loopback
# ports, the example binary's command-line tests, and the doctests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is not installed: install Rust (https://rustup.rs) first" >&2
    exit 1
fi

cargo test --workspace --locked "$@"

#!/usr/bin/env bash
# Builds and tests the README's "Your first app" as a crate of its own: its
# Cargo.toml (with secure-api-runtime taken from this checkout) and its
# src/main.rs, exactly as the README shows them, outside the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

crate=$(mktemp -d)
trap 'rm -rf "$crate"' EXIT
# The block after a marker line, without its fences.
block() {
    awk -v marker="$1" '
        $0 == marker { found = 1; next }
        found && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }
    ' README.md
}
block '<!-- first-app: Cargo.toml -->' |
    sed "s|^secure-api-runtime = \"0.1\"\$|secure-api-runtime = { path = \"$root/secure-api-runtime\" }|" \
        >"$crate/Cargo.toml"
if ! grep -q "path = \"$root/secure-api-runtime\"" "$crate/Cargo.toml"; then
    echo "first-app: the README's Cargo.toml has no \`secure-api-runtime = \"0.1\"\` line" >&2
    exit 1
fi
mkdir "$crate/src"
block '<!-- file: secure-api-runtime/examples/first_app.rs -->' >"$crate/src/main.rs"
# The workspace's versions, so the crate builds from what is already
# downloaded and shares the workspace's compiled dependencies (cargo runs
# in the checkout and reads its .cargo/config.toml: the same profile).
cp Cargo.lock "$crate/"
# shellcheck source=scripts/built.sh
. scripts/built.sh
target_dir=$(built)
CARGO_TARGET_DIR=$target_dir cargo test --manifest-path "$crate/Cargo.toml" "$@"

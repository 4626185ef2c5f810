#!/usr/bin/env bash
# Vendors Swagger UI's browser bundle from the npm registry into
# secure-api-runtime/assets/swagger-ui, checking the package against the
# registry's published integrity, and records each file's SHA-256. The
# application serves these files itself (no CDN); `secure_api_runtime::docs`
# embeds them.
#
#   scripts/vendor-swagger-ui.sh            # the pinned version
#   VERSION=5.35.0 scripts/vendor-swagger-ui.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-5.35.0}
INTEGRITY=${INTEGRITY:-sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==}
out=secure-api-runtime/assets/swagger-ui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

curl -sSfL "https://registry.npmjs.org/swagger-ui-dist/-/swagger-ui-dist-$VERSION.tgz" -o "$work/package.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$work/package.tgz" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
    echo "swagger-ui-dist $VERSION does not match its integrity: $actual" >&2
    exit 1
fi
tar -xzf "$work/package.tgz" -C "$work"
mkdir -p "$out"
for file in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
    cp "$work/package/$file" "$out/$file"
done
echo "$VERSION" > "$out/VERSION"
(cd "$out" && sha256sum swagger-ui-bundle.js swagger-ui.css > SHA256SUMS)
echo "vendored swagger-ui-dist $VERSION into $out"

#!/usr/bin/env bash
# Property-based fuzzing of the example app through its own OpenAPI document
# with schemathesis (PyPI), each operation that needs a token as a user of
# its own (scripts/fuzz/prepare.py), the provider-scoped one with a token
# from a real OpenID provider (scripts/oidc, npm ci when missing): no
# answer may be a server error, and every answer must conform to the
# document (status, content type, problem+json schema of refusals,
# headers). Bounded: at most
# MAX_EXAMPLES cases per operation, on 127.0.0.1 only. Afterwards it reports
# the share of operations that got at least one 2xx answer, from the run's
# HAR log: how far the generated requests reach into the handlers; it fails
# when an operation a token can reach got none.
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

if [ ! -d scripts/oidc/node_modules/oidc-provider ]; then
    echo "installing the OpenID provider (npm ci in scripts/oidc)" >&2
    (cd scripts/oidc && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# shellcheck source=scripts/example-app.sh
. scripts/example-app.sh
work=$(mktemp -d)
provider_pid=
trap 'example_app_stop; exec 7>&-; [ -z "$provider_pid" ] || kill "$provider_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
# A real OpenID provider (scripts/oidc/provider.js, on loopback) that the
# app trusts: its client-credentials token with the `reports:read` scope is
# the token `GET /api/reports/orders` takes. It runs while its standard
# input is open.
audience=https://orders.example.test
mkfifo "$work/provider.in"
node scripts/oidc/provider.js "$audience" <"$work/provider.in" >"$work/provider.out" 2>/dev/null &
provider_pid=$!
exec 7>"$work/provider.in"
deadline=$((SECONDS + 30))
until [ -s "$work/provider.out" ]; do
    [ $SECONDS -lt $deadline ] || { echo "the OpenID provider did not start" >&2; exit 1; }
    sleep 0.1
done
issuer=$(head -n1 "$work/provider.out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["issuer"])')
export SECURE_API_OIDC_ISSUERS="$issuer" SECURE_API_OIDC_AUDIENCE="$audience" \
    SECURE_API_OIDC_ROLES_CLAIM=realm_access.roles
example_app_start "$work"
# Every operation that needs a token runs as a user of its own (quotas are
# counted per user), with the orders and ids some routes need made first:
# scripts/fuzz/prepare.py writes the run's schemathesis.toml.
python3 scripts/fuzz/prepare.py "$example_app_url" "$EXAMPLE_APP_ADMIN_PASSWORD" "$work" "$issuer"
# The document the app serves, read from a file: schemathesis leaves out the
# route it loads its document from, and `/openapi.json` is fuzzed as well.
curl -fs "$example_app_url/openapi.json" -o "$work/openapi.json"

# From the scratch directory, so schemathesis keeps its cache out of the tree.
cd "$work"
# Logging out revokes the token the run uses, so it runs alone, last, and
# without the stateful phase, whose links all lead elsewhere.
status=0
fuzz() {
    "$OLDPWD/$venv/bin/st" --config-file "$work/schemathesis.toml" run "$work/openapi.json" \
        --url "$example_app_url" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        --max-examples "$MAX_EXAMPLES" \
        --request-timeout 10 \
        --seed 1 "$@" || status=$?
}
fuzz --exclude-path /api/auth/logout --report har --report-har-path "$work/run.har"
fuzz --include-path /api/auth/logout --phases examples,coverage,fuzzing --report har --report-har-path "$work/logout.har"

if python3 - "$work/openapi.json" "$work/run.har" "$work/logout.har" <<'PY'
import json, re, sys
from urllib.parse import urlparse

spec = json.load(open(sys.argv[1]))
entries = [e for har in sys.argv[2:] for e in json.load(open(har))["log"]["entries"]]
operations = {}
for path, item in spec["paths"].items():
    pattern = re.compile("^" + re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(path)) + "$")
    for method in item:
        operations[(method.upper(), path)] = (pattern, set())
for entry in entries:
    method = entry["request"]["method"]
    path = urlparse(entry["request"]["url"]).path
    for (m, template), (pattern, statuses) in operations.items():
        if m == method and pattern.match(path):
            statuses.add(entry["response"]["status"])
            break
reached = sorted(op for op, (_, s) in operations.items() if any(200 <= c < 300 for c in s))
missed = sorted(op for op, (_, s) in operations.items() if not any(200 <= c < 300 for c in s))
print(f"operations with a 2xx answer: {len(reached)}/{len(operations)}")
limited = sum(1 for e in entries if e["response"]["status"] == 429)
print(f"requests: {len(entries)}, of which {limited} were over a quota (429)")
# What a generated request cannot carry: a password, a refresh token, a
# second factor's code, a webhook signature, an upstream the app allows.
# Every other operation must have been reached.
NEEDS_WHAT_NO_TOKEN_GIVES = {
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/refresh"),
    ("POST", "/api/auth/totp/confirm"),
    ("POST", "/api/webhooks/payment"),
    ("POST", "/api/fetch-metadata"),
}
unexpected = []
for method, path in missed:
    seen = sorted(operations[(method, path)][1])
    print(f"  no 2xx: {method} {path} (answers seen: {', '.join(map(str, seen)) or 'none'})")
    if (method, path) not in NEEDS_WHAT_NO_TOKEN_GIVES:
        unexpected.append(f"{method} {path}")
if unexpected:
    print(f"reachable with a token, and not reached: {', '.join(unexpected)}")
    sys.exit(1)
PY
then
    :
else
    status=1
fi
exit $status

# Sourced by scripts/test.sh: starts a throw-away PostgreSQL server on
# loopback for the tests, installing it from Debian's packages when it is
# missing, and stops it when the sourcing script exits; installs
# redis-server the same way, which the tests start themselves (one server
# per test, so a test can stop it), and the OpenID provider of
# scripts/oidc (npm ci), which the tests start the same way, and Debian's
# chromium with the script of scripts/browser (npm ci) that drives it.
#
# Exports SECURE_API_TEST_POSTGRES_URL (the admin database; tests create a
# database each), SECURE_API_TEST_REDIS_SERVER (the redis-server binary)
# SECURE_API_TEST_OIDC_PROVIDER (the provider's script),
# SECURE_API_TEST_BROWSER (the browser script) and CHROMIUM (the browser).
# Set them yourself to use your own.

services_dir=$(mktemp -d)
services_stop() {
    if [ -n "${pg_ctl:-}" ] && [ -f "$services_dir/pg/postmaster.pid" ]; then
        as_postgres "$pg_ctl" -D "$services_dir/pg" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$services_dir"
}
trap services_stop EXIT

apt_install() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "installing $* needs root or sudo" >&2; return 1; }
        sudo="sudo"
    fi
    echo "installing $* from Debian's packages" >&2
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL refuses to run as root: as root, run it as the `postgres` user
# the Debian package creates.
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -z "${SECURE_API_TEST_POSTGRES_URL:-}" ]; then
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/pg_ctl" ]; then
        apt_install postgresql
        pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    fi
    pg_ctl="$pg_bin/pg_ctl"
    pg_port=$(free_port)
    mkdir -p "$services_dir/pg"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$services_dir" "$services_dir/pg"
    fi
    as_postgres "$pg_bin/initdb" -D "$services_dir/pg" -U postgres --auth=trust -E UTF8 >/dev/null
    as_postgres "$pg_ctl" -D "$services_dir/pg" -l "$services_dir/pg.log" -w -o \
        "-p $pg_port -k $services_dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off" \
        start >/dev/null
    export SECURE_API_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
    echo "PostgreSQL for the tests on 127.0.0.1:$pg_port" >&2
fi

if [ -z "${SECURE_API_TEST_REDIS_SERVER:-}" ]; then
    if ! command -v redis-server >/dev/null 2>&1; then
        apt_install redis-server
    fi
    SECURE_API_TEST_REDIS_SERVER=$(command -v redis-server)
    export SECURE_API_TEST_REDIS_SERVER
    echo "redis-server for the tests: $SECURE_API_TEST_REDIS_SERVER" >&2
fi

# Installs the npm packages of scripts/$1 (pinned by its lock file) unless
# its package $2 is there already, and Node.js with npm when missing; $3
# says what they are for.
npm_ci_once() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    if [ ! -d "scripts/$1/node_modules/$2" ]; then
        echo "installing $3 for the tests (npm ci in scripts/$1)" >&2
        (cd "scripts/$1" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
}

# A real OpenID provider (oidc-provider on Node.js, pinned by
# scripts/oidc/package-lock.json) that the OpenID tests start, one per test.
if [ -z "${SECURE_API_TEST_OIDC_PROVIDER:-}" ]; then
    npm_ci_once oidc oidc-provider "the OpenID provider"
    SECURE_API_TEST_OIDC_PROVIDER="$PWD/scripts/oidc/provider.js"
    export SECURE_API_TEST_OIDC_PROVIDER
    echo "OpenID provider for the tests: $SECURE_API_TEST_OIDC_PROVIDER" >&2
fi

# A real browser for the page tests: Debian's chromium, headless, driven by
# puppeteer-core (pinned by scripts/browser/package-lock.json).
if [ -z "${SECURE_API_TEST_BROWSER:-}" ]; then
    if [ -z "${CHROMIUM:-}" ]; then
        if ! command -v chromium >/dev/null 2>&1; then
            apt_install --no-install-recommends chromium fonts-liberation
        fi
        CHROMIUM=$(command -v chromium)
        export CHROMIUM
    fi
    npm_ci_once browser puppeteer-core "the browser driver"
    SECURE_API_TEST_BROWSER="$PWD/scripts/browser/explorer.mjs"
    export SECURE_API_TEST_BROWSER
    echo "browser for the tests: $CHROMIUM with $SECURE_API_TEST_BROWSER" >&2
fi

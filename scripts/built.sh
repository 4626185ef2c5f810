# Sourced by the scripts that run a binary they have just built with cargo:
# prints where cargo put it, wherever this checkout's builds go (`target/`,
# CARGO_TARGET_DIR, or a cargo configuration's `build.target-dir`), so a
# script never runs an older build left in `target/`.
#
#   . scripts/built.sh
#   cargo build --release -q -p example-app
#   app=$(built release/example-app)
#   server=$(built release/examples/bench_server)
#   CARGO_TARGET_DIR=$(built) cargo test --manifest-path elsewhere/Cargo.toml

# Prints the path of $1 in cargo's target directory (the directory itself
# without $1).
built() {
    local dir
    dir=$(cargo metadata --no-deps --format-version 1 |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])') || {
        echo "cargo metadata did not say where builds go" >&2
        return 1
    }
    echo "$dir${1:+/$1}"
}

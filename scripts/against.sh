# Sourced by scripts/load-bench.sh and scripts/instruction-count.sh when
# AGAINST names a commit: builds that commit's bench_server, so the two
# builds' secured and bare routes can be measured side by side.
#
#   AGAINST=5188c10 scripts/load-bench.sh
#   AGAINST=5188c10 AGAINST_FEATURES=actix-web/unicode scripts/load-bench.sh
#
# AGAINST_FEATURES is passed to that build's `cargo build --features`: an
# older commit built with the router this one uses (`actix-web/unicode`)
# differs from it by the guard alone.
#
# The commit is checked out in a worktree of its own under target/against
# and built into target/against/target, which is kept, so a second run
# builds nothing.

# Prints the path of AGAINST's release bench_server, building it first.
against_server() {
    local rev dir features=()
    rev=$(git rev-parse --short "$AGAINST^{commit}") || {
        echo "AGAINST=$AGAINST is not a commit of this repository" >&2
        return 1
    }
    dir=target/against/$rev
    if [ ! -d "$dir" ]; then
        # Forgets a checkout whose directory went with the rest of target/.
        git worktree prune
        git worktree add --detach -f "$dir" "$rev" >/dev/null 2>&1 || {
            echo "could not check out $rev in $dir" >&2
            return 1
        }
    fi
    [ -n "${AGAINST_FEATURES:-}" ] && features=(--features "$AGAINST_FEATURES")
    echo "building bench_server at $rev ${features[*]}" >&2
    (cd "$dir" && CARGO_TARGET_DIR=../target cargo build --release -q -p secure-api-runtime \
        --example bench_server "${features[@]}") >&2 || return 1
    echo "target/against/target/release/examples/bench_server"
}

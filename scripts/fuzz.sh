#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (default 20),
# from its committed seed corpus (fuzz/corpus/<target>), with libFuzzer. New
# inputs go to a scratch corpus, so the tree stays clean; a crash leaves its
# input in fuzz/artifacts/<target>/ and fails the run. Installs cargo-fuzz
# from crates.io when it is missing. Stable Rust runs it with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only flags).
#
# By default the targets are built for debugging, with overflow checks and
# debug assertions and no sanitizer (the quickest build, as CI runs it);
# FUZZ_ASAN=1 builds them optimised, with AddressSanitizer, for long runs.
#
#   scripts/fuzz.sh                                  every target, 20 s each
#   FUZZ_ASAN=1 FUZZ_SECONDS=600 scripts/fuzz.sh forwarded   one target, ten minutes
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "installing cargo-fuzz from crates.io" >&2
    cargo install cargo-fuzz --locked --version 0.13.2 >&2
fi

seconds=${FUZZ_SECONDS:-20}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz list)
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export RUSTC_BOOTSTRAP=1
if [ "${FUZZ_ASAN:-0}" = 1 ]; then
    build=(-O -s address)
else
    build=(--dev -s none)
fi
(cd fuzz && cargo fuzz build "${build[@]}")
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    echo "fuzzing $target for ${seconds}s" >&2
    status=0
    (cd fuzz && cargo fuzz run "${build[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds") >"$scratch/$target.log" 2>&1 || status=$?
    grep -E '^Done [0-9]+ runs' "$scratch/$target.log" >&2 || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "$scratch/$target.log" >&2
        echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzz: ${#targets[@]} target(s), ${seconds}s each, no crash"

#!/usr/bin/env bash
# Fuzz every parser for SECONDS each (default 60) and report how many
# inputs each target ran.
#
#   scripts/fuzz.sh [--engine auto|afl|budget] [--install] [SECONDS]
#
# Engines:
#   afl     AFL++ through cargo-afl, coverage-guided, on the stable
#           toolchain: builds fuzz/ instrumented, runs `afl-fuzz -V SECONDS`
#           per target from the seeds in src/fuzzing.rs, and fails on any
#           crash (inputs in fuzz/out/TARGET/default/crashes/).
#   budget  No tools beyond cargo: the same targets, driven by mutated
#           seeds without coverage feedback, as the ignored test
#           `fuzzing::tests::budget` (the test build CI has already made).
#   auto    afl when `cargo afl` is installed, else budget (the default).
# --install installs cargo-afl (`cargo install cargo-afl`) when missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

engine=auto
install=no
seconds=60
while [ $# -gt 0 ]; do
    case "$1" in
        --engine) engine="$2"; shift 2 ;;
        --install) install=yes; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) seconds="$1"; shift ;;
    esac
done
case "$seconds" in
    ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 64 ;;
esac

have_afl() { cargo afl --version >/dev/null 2>&1; }

if [ "$install" = yes ] && ! have_afl; then
    echo "==> cargo install cargo-afl"
    cargo install --locked cargo-afl
fi
if [ "$engine" = auto ]; then
    if have_afl; then engine=afl; else engine=budget; fi
fi

case "$engine" in
budget)
    echo "==> fuzzing every target for ${seconds} s (budget engine: mutated seeds)"
    POPFETCH_FUZZ_SECONDS="$seconds" cargo test --lib fuzzing::tests::budget \
        -- --ignored --nocapture --exact
    ;;
afl)
    if ! have_afl; then
        echo "fuzz.sh: cargo-afl is not installed: run with --install, or use --engine budget" >&2
        exit 69
    fi
    echo "==> cargo afl build --release (fuzz/)"
    (cd fuzz && cargo afl build --release --quiet)
    bin=fuzz/target/release/popfetch-fuzz
    out=fuzz/out
    rm -rf "$out" fuzz/seeds
    mkdir -p "$out"
    "$bin" --seeds fuzz/seeds
    failed=0
    printf '%-12s %12s %8s %6s %6s\n' target executions paths crashes hangs
    for t in $("$bin" --list); do
        # No terminal UI, no CPU pinning (other work shares the machine),
        # and no core_pattern demands: this is a check, not a campaign.
        AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
        AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CRASHES=1 \
            cargo afl fuzz -V "$seconds" -t 5000 -i "fuzz/seeds/$t" -o "$out/$t" \
            -- "$bin" "$t" >"$out/$t.log" 2>&1 || {
            echo "fuzz.sh: afl-fuzz failed for $t; see $out/$t.log" >&2
            tail -20 "$out/$t.log" >&2
            failed=1
            continue
        }
        stats="$out/$t/default/fuzzer_stats"
        get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
        crashes=$(get saved_crashes)
        printf '%-12s %12s %8s %6s %6s\n' "$t" "$(get execs_done)" "$(get corpus_count)" \
            "$crashes" "$(get saved_hangs)"
        if [ "${crashes:-0}" != 0 ]; then
            echo "fuzz.sh: $t crashed; inputs in $out/$t/default/crashes/" >&2
            failed=1
        fi
    done
    exit "$failed"
    ;;
*)
    echo "fuzz.sh: unknown engine '$engine' (auto, afl or budget)" >&2
    exit 64
    ;;
esac

#!/bin/sh
# tests/fuzz/run.sh: build the libFuzzer targets and fuzz each one in turn.
#
#   sh tests/fuzz/run.sh SECONDS [TARGET...]   fuzz every target (or those named) for SECONDS each
#   sh tests/fuzz/run.sh -runs=N [TARGET...]   ... for N inputs each
#
# Builds build-fuzz/ (FUZZ_BUILD_DIR) with clang, AddressSanitizer, UBSan
# and libFuzzer (-DHOOKLINE_FUZZ=ON -DHOOKLINE_SANITIZE=ON), then runs the
# targets one after the other, one process each, niced. A target starts
# from its checked-in corpus tests/fuzz/corpus/<target>/ (read, never
# written) and what earlier runs kept in <build>/fuzz/<target>/corpus/,
# with tests/fuzz/dict/<target>.dict if there is one; FUZZ_ARGS adds
# libFuzzer options. Prints per target the inputs run (libFuzzer's
# stat::number_of_executed_units). A crash, leak, timeout or broken
# contract leaves the input in <build>/fuzz/<target>/crashes/ and the log
# beside it, both printed; minimise it with the target's -minimize_crash=1
# and add it to tests/fuzz/corpus/<target>/, which the suite replays
# (ctest -R unit.fuzz_). Exits 1 if any target failed, 2 on a usage or
# build error. clang and libFuzzer come with deploy/install-deps.sh.
set -u

cd "$(dirname "$0")/../.." || exit 2
root=$(pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
CC=${CC:-clang}
export CC

say() {
    echo "tests/fuzz/run.sh: $*"
}

usage() {
    echo "usage: sh tests/fuzz/run.sh SECONDS|-runs=N [TARGET...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
case $1 in
-runs=*)
    n=${1#-runs=}
    case $n in '' | *[!0-9]*) usage ;; esac
    budget="-runs=$n"
    ;;
'' | *[!0-9]*) usage ;;
*) budget="-max_total_time=$1" ;;
esac
shift

if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
fi

# clang and its libFuzzer runtime (libclang-rt-14-dev on Debian 12)
can_fuzz() {
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
        "$CC" -fsanitize=fuzzer,address,undefined -x c - -o "$build/.probe" >/dev/null 2>&1
}
mkdir -p "$build" || exit 2
if ! can_fuzz; then
    if [ "$(id -u)" -eq 0 ] && sh deploy/install-deps.sh && can_fuzz; then
        :
    else
        say "$CC cannot build libFuzzer targets; install clang and libclang-rt-14-dev (sh deploy/install-deps.sh, as root)"
        exit 2
    fi
fi
rm -f "$build/.probe"

say "building $build/ with $CC, ASan, UBSan and libFuzzer"
# -O1 -g: fast enough, and every stack trace readable
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DHOOKLINE_FUZZ=ON -DHOOKLINE_SANITIZE=ON >"$build/configure.log" 2>&1; then
    cat "$build/configure.log"
    exit 2
fi
# shellcheck disable=SC2086
if ! nice cmake --build "$build" -j"$(nproc)" --target $targets >"$build/build.log" 2>&1; then
    cat "$build/build.log"
    exit 2
fi

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

failed=0
for t in $targets; do
    bin=$build/tests/fuzz/$t
    work=$build/fuzz/$t
    seeds=$root/tests/fuzz/corpus/$t
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        say "$t: no such target (or no corpus $seeds)"
        failed=$((failed + 1))
        continue
    fi
    # the crashers of this run only; those worth keeping belong in the corpus
    rm -rf "$work/crashes"
    mkdir -p "$work/corpus" "$work/crashes"
    dict=
    [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict="-dict=$root/tests/fuzz/dict/$t.dict"
    log=$work/fuzz.log
    # one process, no -jobs: the machine's cores are shared; -timeout: an
    # input that takes 30 s is a hang, reported like a crash
    # shellcheck disable=SC2086
    set -- nice "$bin" $budget -print_final_stats=1 -timeout=30 -artifact_prefix="$work/crashes/" \
        ${dict:+"$dict"} ${FUZZ_ARGS:-} "$work/corpus" "$seeds"
    say "$t: $*"
    "$@" >"$log" 2>&1
    rc=$?
    units=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    [ -n "$units" ] || units=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    crashes=$(find "$work/crashes" -type f | head -n 5)
    if [ "$rc" -eq 0 ] && [ -z "$crashes" ]; then
        say "$t: ${units:-?} inputs, no crash"
    else
        failed=$((failed + 1))
        say "$t: FAILED (status $rc) after ${units:-?} inputs; log $log"
        grep -E "contract broken|ERROR: |SUMMARY: |^artifact_prefix|Test unit written" "$log" | head -n 10 | sed 's/^/    /'
        for c in $crashes; do
            say "$t: crasher $c"
        done
    fi
done

if [ "$failed" -gt 0 ]; then
    say "$failed target(s) failed"
    exit 1
fi
say "every target ran without a crash"

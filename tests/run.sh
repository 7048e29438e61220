#!/bin/sh
# tests/run.sh: the whole test suite, as the README says: `sh tests/run.sh`.
#
# Run as root on Debian 12 (a fresh one needs only apt-get): installs the
# packages (deploy/install-deps.sh), builds build/ (RelWithDebInfo) and
# build-asan/ (AddressSanitizer + UBSan; skipped when HOOKLINE_TEST_SANITIZE=0),
# and runs `ctest --output-on-failure -j2` in each inside a throwaway
# PostgreSQL 15 cluster (pg_virtualenv). It also compiles build-release/
# (Release, -O3) without running anything there: the optimiser's warnings
# differ by level, and -Werror must hold at each. Prints ctest's output and
# summary per build, then one last line "N passed, N failed" (all builds
# together; a build that does not compile counts as one failure). Exits 1
# if anything failed. ctest's full output is kept in <build>/ctest.log, the
# e2e tests' process logs under <build>/tests/artifacts/.
set -u

cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
jobs=2
total_passed=0
total_failed=0

say() {
    echo "tests/run.sh: $*"
}

if ! sh deploy/install-deps.sh; then
    say "installing the dependencies failed"
    echo "0 passed, 1 failed"
    exit 1
fi

# Node packages of the browser test (playwright-core, driving Debian's
# chromium) and of the OpenAPI lint, pinned by their package-lock.json.
for dir in tests/console tests/openapi; do
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
        say "npm ci in $dir failed"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
# everything is installed now: a test that cannot find its tool fails, never skips
HOOKLINE_REQUIRE_BROWSER=1 HOOKLINE_REQUIRE_OPENAPI_LINT=1 HOOKLINE_REQUIRE_COMPOSE=1
export HOOKLINE_REQUIRE_BROWSER HOOKLINE_REQUIRE_OPENAPI_LINT HOOKLINE_REQUIRE_COMPOSE

# build DIR CMAKE-ARGS...: configure (RelWithDebInfo, the build type of the
# image and the local runner, unless CMAKE-ARGS set another: the last -D of
# a variable wins) and build; returns non-zero on failure.
build() {
    dir=$1
    shift
    say "building $dir/"
    mkdir -p "$root/$dir" || return 1
    cmake -S "$root" -B "$root/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$root/$dir/configure.log" 2>&1 ||
        { cat "$root/$dir/configure.log"; return 1; }
    cmake --build "$root/$dir" -j"$(nproc)" || return 1
}

# suite DIR [CTEST-ARGS...]: run ctest in DIR inside pg_virtualenv and add
# up its results.
suite() {
    dir=$root/$1
    name=$1
    shift
    rm -f "$dir/ctest.log" "$dir/ctest.rc"
    # -t: a cluster of its own in a temporary directory, so runs never collide;
    # ctest's status goes to a file: pg_virtualenv itself succeeds, so it
    # does not dump PostgreSQL's logs over the test output
    pg_virtualenv -t -v 15 sh -c '
        cd "$1" || exit 1
        dir=$1 jobs=$2
        shift 2
        { ctest --output-on-failure -j"$jobs" "$@"; echo $? > ctest.rc; } 2>&1 | tee ctest.log
    ' sh "$dir" "$jobs" "$@"
    if [ ! -f "$dir/ctest.rc" ]; then
        say "$name: ctest did not run (pg_virtualenv failed)"
        total_failed=$((total_failed + 1))
        return
    fi
    summary=$(sed -n 's/.*tests passed, \([0-9][0-9]*\) tests\{0,1\} failed out of \([0-9][0-9]*\).*/\1 \2/p' "$dir/ctest.log" | tail -n 1)
    if [ -n "$summary" ]; then
        set -- $summary
        failed=$1
        passed=$(($2 - $1))
    elif grep -q "No tests were found" "$dir/ctest.log"; then
        failed=0
        passed=0
    else
        say "$(basename "$dir"): no ctest summary (status $(cat "$dir/ctest.rc")); counting one failure"
        failed=1
        passed=0
    fi
    say "$(basename "$dir"): $passed passed, $failed failed"
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
}

if build build; then
    suite build
else
    say "build/ does not build"
    total_failed=$((total_failed + 1))
fi

# compile only: the tests run in build/ and build-asan/
if build build-release -DCMAKE_BUILD_TYPE=Release; then
    say "build-release/: compiles"
else
    say "build-release/ does not build"
    total_failed=$((total_failed + 1))
fi

if [ "${HOOKLINE_TEST_SANITIZE:-1}" = "0" ]; then
    say "HOOKLINE_TEST_SANITIZE=0: skipping build-asan/"
elif build build-asan -DHOOKLINE_SANITIZE=ON; then
    ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:print_stacktrace=1"
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
    export ASAN_OPTIONS UBSAN_OPTIONS
    if [ -f "$root/tests/lsan.supp" ]; then
        LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
        export LSAN_OPTIONS
    fi
    # the benchmark's smoke run proves the benchmark works; it has nothing
    # more to say under the sanitizers and would only cost CI time
    suite build-asan -LE bench
    unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
else
    say "build-asan/ does not build"
    total_failed=$((total_failed + 1))
fi

echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]

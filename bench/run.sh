#!/bin/sh
# bench/run.sh: hookline's benchmarks, as the README says: `sh bench/run.sh`
# (root on Debian 12).
#
# Installs the packages (deploy/install-deps.sh), builds build/ (incremental)
# and runs build/hookline-bench inside a throwaway PostgreSQL 15
# (`pg_virtualenv -t -v 15`), or against the server of HOOKLINE_DATABASE_URL
# when it is set (the bench creates and drops its own databases there: the
# role needs CREATEDB). Prints every figure as it is measured, then a
# Markdown table, and writes the same figures as JSON under bench/results/.
#
#   sh bench/run.sh [--smoke] [--sections 1,2,3,4,5,6,7,8,9,10] [--payload BYTES] [--out DIR]
#                   [--build-dir DIR] [--no-pg-virtualenv]
#
# --smoke             tiny sizes, a few seconds per section (the ctest test bench.smoke)
# --build-dir DIR     use the programs already built in DIR (no install, no build)
# --no-pg-virtualenv  the PG* variables already name a server (as inside pg_virtualenv)
set -u

cd "$(dirname "$0")/.." || exit 1
root=$(pwd)
build_dir=""
pgv=1

# keep the options meant for hookline-bench in "$@", in order
n=$#
while [ "$n" -gt 0 ]; do
    a=$1
    shift
    n=$((n - 1))
    case $a in
    --build-dir)
        [ "$n" -gt 0 ] || { echo "bench/run.sh: --build-dir needs a directory" >&2; exit 2; }
        build_dir=$1
        shift
        n=$((n - 1))
        ;;
    --no-pg-virtualenv) pgv=0 ;;
    --help | -h)
        sed -n '2,20s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *) set -- "$@" "$a" ;;
    esac
done

if [ -z "$build_dir" ]; then
    sh deploy/install-deps.sh || { echo "bench/run.sh: installing the dependencies failed" >&2; exit 1; }
    if [ ! -f build/CMakeCache.txt ]; then
        cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
    fi
    cmake --build build -j"$(nproc)" --target hookline-bench >/dev/null || {
        echo "bench/run.sh: the build failed (run: cmake --build build)" >&2
        exit 1
    }
    build_dir=$root/build
fi
HOOKLINE_BIN_DIR=$build_dir
export HOOKLINE_BIN_DIR

if [ -n "${HOOKLINE_DATABASE_URL:-}" ] || [ "$pgv" -eq 0 ]; then
    exec "$build_dir/hookline-bench" "$@"
fi
exec pg_virtualenv -t -v 15 "$build_dir/hookline-bench" "$@"

#!/bin/sh
# deploy/run-local.sh: run hookline on this machine, as the README says:
# `sh deploy/run-local.sh` (root on Debian 12).
#
# Installs the packages, builds build/ (incremental), then runs
# hookline-api and, once built, two hookline-dispatcher processes. Without
# HOOKLINE_DATABASE_URL a throwaway PostgreSQL 15 cluster (pg_virtualenv) is
# used and dropped at exit; without HOOKLINE_KAFKA_BROKERS the in-memory
# hookline-devbroker. When both are throwaway, http:// and private/loopback
# endpoints are allowed and the TLS check at create is off (development
# only). With a throwaway database and no HOOKLINE_SECRETS_KEY a key is
# generated for the run (the secrets sealed with it go with the database);
# a database of your own needs your own key, kept from run to run: without
# one the runner stops. Creates a tenant "demo", prints the console URL and the keys, and
# runs until Ctrl-C or SIGTERM, which stops every process gracefully.
# HOOKLINE_HTTP_PORT defaults to 8080; every other HOOKLINE_* variable is
# passed through.
set -u

cd "$(dirname "$0")/.." || exit 1

say() {
    echo "run-local: $*"
}

# Is 'pid' running (not exited, not a zombie)?
alive() {
    state=$(sed -n 's/^[0-9]* ([^)]*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != "Z" ]
}

if [ "${1:-}" != "--inner" ]; then
    sh deploy/install-deps.sh || { say "installing the dependencies failed"; exit 1; }
    if [ ! -f build/CMakeCache.txt ]; then
        cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 1
    fi
    cmake --build build -j"$(nproc)" || { say "the build failed"; exit 1; }
    if [ -n "${HOOKLINE_DATABASE_URL:-}" ] && [ -z "${HOOKLINE_SECRETS_KEY:-}" ]; then
        # a generated key would go at exit, and the secrets sealed with it
        say "HOOKLINE_DATABASE_URL is set but HOOKLINE_SECRETS_KEY is not: set the key that database's secrets" \
            "are sealed with (a new one: HOOKLINE_SECRETS_KEY=k1:\$(head -c 32 /dev/urandom | base64))"
        exit 1
    fi
    work=$(mktemp -d /tmp/hookline-local.XXXXXX) || exit 1
    if [ -n "${HOOKLINE_DATABASE_URL:-}" ]; then
        exec sh "$0" --inner "$work"
    fi
    say "HOOKLINE_DATABASE_URL is unset: starting a throwaway PostgreSQL 15 (dropped on exit)"
    # pg_virtualenv defers its own signals until its command ends, so Ctrl-C
    # and SIGTERM are forwarded to the inner run, which writes its pid; once
    # that has stopped everything, pg_virtualenv drops the cluster
    pg_virtualenv -t -v 15 sh "$0" --inner "$work" throwaway-db &
    pgv=$!
    trap '[ -s "$work/pid" ] && kill -TERM "$(cat "$work/pid")" 2>/dev/null' INT TERM
    while :; do
        wait "$pgv"
        rc=$?
        alive "$pgv" || break
    done
    rm -rf "$work"
    exit "$rc"
fi

# ---- inner: PostgreSQL is there ------------------------------------------------
work=$2
throwaway_db=0
[ "${3:-}" = "throwaway-db" ] && throwaway_db=1
echo $$ >"$work/pid"
broker_pid=""
api_pid=""
dispatcher_pids=""
stopping=0

# SIGTERM 'pid' and wait for it (20 s, then SIGKILL); prints how it ended.
stop_pid() {
    pid=$1
    name=$2
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    (
        i=0
        while alive "$pid" && [ "$i" -lt 200 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        if alive "$pid"; then
            echo "run-local: $name (pid $pid) did not stop within 20 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    ) &
    watchdog=$!
    wait "$pid" 2>/dev/null
    rc=$?
    wait "$watchdog" 2>/dev/null
    say "$name (pid $pid) stopped, status $rc"
}

stop_all() {
    [ "$stopping" -eq 1 ] && return
    stopping=1
    say "stopping"
    for pid in $dispatcher_pids; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in $dispatcher_pids; do
        stop_pid "$pid" hookline-dispatcher
    done
    stop_pid "$api_pid" hookline-api
    stop_pid "$broker_pid" hookline-devbroker
    rm -f "$work/pid" "$work/bootstrap"
    [ "$throwaway_db" -eq 1 ] || rmdir "$work" 2>/dev/null
}

# a second signal (a process-group kill sends one to the shell as well) must
# not cut the graceful stop short
on_signal() {
    trap '' INT TERM
    stop_all
    exit 0
}
trap on_signal INT TERM
trap 'stop_all' EXIT

if [ "$throwaway_db" -eq 1 ]; then
    if ! psql -qAt -c "CREATE DATABASE hookline" >/dev/null; then
        say "cannot create the database"
        exit 1
    fi
    HOOKLINE_DATABASE_URL="host=$PGHOST port=$PGPORT user=$PGUSER password=$PGPASSWORD dbname=hookline"
    export HOOKLINE_DATABASE_URL
fi

throwaway_kafka=0
if [ -z "${HOOKLINE_KAFKA_BROKERS:-}" ]; then
    throwaway_kafka=1
    say "HOOKLINE_KAFKA_BROKERS is unset: starting hookline-devbroker (in-memory Kafka, development only)"
    build/hookline-devbroker --bootstrap-file "$work/bootstrap" &
    broker_pid=$!
    i=0
    while [ ! -s "$work/bootstrap" ]; do
        i=$((i + 1))
        if ! alive "$broker_pid" || [ "$i" -gt 100 ]; then
            say "hookline-devbroker did not start"
            exit 1
        fi
        sleep 0.1
    done
    HOOKLINE_KAFKA_BROKERS=$(cat "$work/bootstrap")
    export HOOKLINE_KAFKA_BROKERS
fi

: "${HOOKLINE_HTTP_PORT:=8080}"
if [ -z "${HOOKLINE_ADMIN_KEY:-}" ]; then
    HOOKLINE_ADMIN_KEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
fi
if [ -z "${HOOKLINE_SECRETS_KEY:-}" ]; then
    # only for a throwaway database (checked above): its secrets go with it
    HOOKLINE_SECRETS_KEY="local:$(head -c 32 /dev/urandom | base64)"
    say "HOOKLINE_SECRETS_KEY is unset: sealing this run's webhook secrets with a key of its own"
fi
export HOOKLINE_HTTP_PORT HOOKLINE_ADMIN_KEY HOOKLINE_SECRETS_KEY

if [ "$throwaway_db" -eq 1 ] && [ "$throwaway_kafka" -eq 1 ]; then
    : "${HOOKLINE_ALLOW_HTTP:=true}" "${HOOKLINE_ALLOW_PRIVATE_TARGETS:=true}" "${HOOKLINE_TLS_CHECK:=false}"
    export HOOKLINE_ALLOW_HTTP HOOKLINE_ALLOW_PRIVATE_TARGETS HOOKLINE_TLS_CHECK
    say "throwaway local stack: HOOKLINE_ALLOW_HTTP=$HOOKLINE_ALLOW_HTTP" \
        "HOOKLINE_ALLOW_PRIVATE_TARGETS=$HOOKLINE_ALLOW_PRIVATE_TARGETS" \
        "HOOKLINE_TLS_CHECK=$HOOKLINE_TLS_CHECK (development settings: http:// and loopback endpoints accepted)"
fi

build/hookline-api &
api_pid=$!
i=0
until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$HOOKLINE_HTTP_PORT/healthz" 2>/dev/null; do
    i=$((i + 1))
    if ! alive "$api_pid"; then
        say "hookline-api exited during start (port $HOOKLINE_HTTP_PORT in use? see its log above)"
        exit 1
    fi
    if [ "$i" -gt 300 ]; then
        say "hookline-api did not answer /healthz within 30 s"
        exit 1
    fi
    sleep 0.1
done

demo=$(build/hookline-api create-tenant demo)
demo_key=$(printf '%s\n' "$demo" | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
[ -n "$demo_key" ] || say "could not create a key for tenant demo (output: $demo)"

if [ -x build/hookline-dispatcher ]; then
    # two dispatchers on one host need a metrics port each: 9090 and 9091
    : "${HOOKLINE_METRICS_PORT:=9090}"
    if [ "$HOOKLINE_METRICS_PORT" != "0" ]; then
        dispatcher_metrics="and :$HOOKLINE_METRICS_PORT, :$((HOOKLINE_METRICS_PORT + 1)) (dispatchers)"
    fi
    for n in 1 2; do
        if [ "${HOOKLINE_METRICS_PORT:-0}" != "0" ]; then
            # one metrics port each
            HOOKLINE_METRICS_PORT=$((HOOKLINE_METRICS_PORT + n - 1)) build/hookline-dispatcher &
        else
            build/hookline-dispatcher &
        fi
        dispatcher_pids="$dispatcher_pids $!"
    done
else
    say "build/hookline-dispatcher is not built: no deliveries will be made"
fi

cat <<EOF

  hookline is running
  console:      http://127.0.0.1:$HOOKLINE_HTTP_PORT/
  admin key:    $HOOKLINE_ADMIN_KEY
  demo API key: ${demo_key:-(none)}
  kafka:        $HOOKLINE_KAFKA_BROKERS
  metrics:      http://127.0.0.1:$HOOKLINE_HTTP_PORT/metrics ${dispatcher_metrics:-}
  Ctrl-C stops everything.

EOF

wait "$api_pid"
rc=$?
# Ctrl-C reaches the api too, which may exit before our trap runs: exit 0
# after a clean api stop, 1 otherwise
if [ "$stopping" -eq 0 ]; then
    api_pid=""
    say "hookline-api exited with status $rc"
    stop_all
    [ "$rc" -eq 0 ] || exit 1
fi
exit 0

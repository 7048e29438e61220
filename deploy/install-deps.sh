#!/bin/sh
# Install everything hookline needs to build, test and run on Debian 12.
# Idempotent: apt-get skips what is already there. Run as root.
#   deploy/install-deps.sh            build + run + test dependencies (clang and
#                                     libFuzzer too, for tests/fuzz/run.sh)
#   deploy/install-deps.sh --build    compile and run only (deploy/Dockerfile's build stage)
#   deploy/install-deps.sh --runtime  only what the binaries need at run time
#                                     (and curl, for container health checks)
set -eu

runtime="libcurl3-gnutls libjansson4 libpq5 librdkafka1 libulfius2.7 \
  libmicrohttpd12 ca-certificates curl"
compile="build-essential cmake pkg-config \
  libcurl4-gnutls-dev libjansson-dev libpq-dev librdkafka-dev \
  libulfius-dev libmicrohttpd-dev libgnutls28-dev"
build="$compile git \
  postgresql postgresql-common openssl wrk procps \
  chromium nodejs npm docker-compose \
  clang libclang-rt-14-dev"

case "${1:-}" in
--runtime) pkgs="$runtime" ;;
--build) pkgs="$runtime $compile" ;;
*) pkgs="$runtime $build" ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: run as root (apt-get needs it)" >&2
    exit 1
fi

missing=""
for p in $pkgs; do
    # a Node.js from elsewhere (NodeSource's bundles npm and conflicts with
    # Debian's npm package) is kept: the command is what the tests need
    case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    # tests only validate docker-compose.yml: any compose will do
    docker-compose) { command -v docker-compose || docker compose version; } >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests, on loopback, with its data in a fresh folder
# under /tmp (the `postgres` user must reach it, which a checkout under a private folder does not
# allow); the target folder records where.
#   scripts/postgres.sh start   installs Debian's postgresql-15 if it is missing, starts a
#                               server and prints the connection URL the tests read from
#                               GIAOBAN_TEST_POSTGRES
#   scripts/postgres.sh stop    stops it
# The data folder belongs to the `postgres` user (initdb refuses to run as root); fsync is off,
# since the server holds nothing but test databases.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
record="$target_dir/postgres-test.path"
bin=/usr/lib/postgresql/15/bin

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    if [ ! -x "$bin/pg_ctl" ]; then
      echo "installing postgresql-15 (Debian)" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
    fi
    "$0" stop
    mkdir -p "$target_dir"
    data=$(mktemp -d /tmp/giaoban-postgres.XXXXXX)
    echo "$data" >"$record"
    if [ "$(id -u)" = 0 ]; then chown postgres "$data"; fi
    as_postgres "$bin/initdb" -D "$data" -A trust -U postgres --no-sync -E UTF8 >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $data -c fsync=off -c max_connections=200" start >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -f "$record" ]; then
      data=$(cat "$record")
      if [ -f "$data/postmaster.pid" ]; then
        as_postgres "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true
      fi
      rm -rf "$data" "$record"
    fi
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop" >&2
    exit 2
    ;;
esac

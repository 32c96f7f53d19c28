#!/usr/bin/env bash
# Starts, stops or checks a local PostgreSQL cluster for nile_reset.
#   scripts/cluster.sh start|stop|status|psql [DATADIR] [PORT]
# Defaults: target/cluster on port 28815. The socket lives in DATADIR, the
# server listens on 127.0.0.1 only. Under root the cluster is owned and run
# by $PG_OS_USER, because PostgreSQL refuses to run as root.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

cmd=${1:?usage: cluster.sh start|stop|status|psql [DATADIR] [PORT]}
datadir=$(realpath -m "${2:-$PROJECT_ROOT/target/cluster}")
port=${3:-28815}

case "$cmd" in
  start)
    mkdir -p "$datadir"
    ensure_reachable "$datadir"
    if [ ! -s "$datadir/PG_VERSION" ]; then
      [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER" "$datadir"
      chmod 700 "$datadir"
      as_pg "$PG_BIN/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      cat >>"$datadir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$datadir'
fsync = on
max_connections = 200
log_min_messages = warning
CONF
    fi
    sed -i "s/^#\?port = .*/port = $port/" "$datadir/postgresql.conf"
    if ! as_pg "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 start >/dev/null
    fi
    ;;
  stop)
    if [ -s "$datadir/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null
    fi
    ;;
  status)
    as_pg "$PG_BIN/pg_ctl" -D "$datadir" status
    ;;
  psql)
    shift $(( $# < 3 ? $# : 3 ))
    exec psql -h "$datadir" -p "$port" -U postgres "$@"
    ;;
  *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac

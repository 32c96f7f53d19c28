#!/usr/bin/env bash
# Starts, stops or checks a local cluster of the checkout's copy of
# PostgreSQL $NILE_RESET_PG_MAJOR (default 15): the command-line form of
# start_cluster and stop_cluster (scripts/common.sh), for the companion
# crate's tests, tests/sdk/run.sh and use by hand.
#   scripts/cluster.sh start|stop|status|psql [DATADIR] [PORT]
# Defaults: target/cluster on $DEMO_PORT, the demo's.
set -euo pipefail
# shellcheck source=scripts/common.sh
. "$(dirname "$0")/common.sh"

cmd=${1:?usage: cluster.sh start|stop|status|psql [DATADIR] [PORT]}
datadir=$(realpath -m "${2:-$PROJECT_ROOT/target/cluster}")
port=${3:-$DEMO_PORT}

case "$cmd" in
  start) start_cluster "$PG_BIN" "$datadir" "$port" ;;
  stop) stop_cluster "$PG_BIN" "$datadir" ;;
  status) as_pg "$PG_BIN/pg_ctl" -D "$datadir" status ;;
  psql)
    shift $(( $# < 3 ? $# : 3 ))
    exec psql -h "$datadir" -p "$port" -U postgres "$@"
    ;;
  *) echo "unknown command: $cmd" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs one of PostgreSQL's own test drivers against a throwaway cluster,
# of PostgreSQL $NILE_RESET_PG_MAJOR (default 15), with the settings
# `cargo pgrx regress` uses:
#   scripts/pg_suite.sh regress [NAME...]    tests/pg_regress/{sql,expected}
#   scripts/pg_suite.sh isolation [NAME...]  tests/isolation/{specs,expected}:
#                                            sessions interleaved step by step
# Without names, every test of the suite runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

suite=${1:?usage: pg_suite.sh regress|isolation [NAME...]}
shift
case "$suite" in
  regress) dir=tests/pg_regress inputs=sql ext=sql driver=regress/pg_regress port=$((REGRESS_PORT + PG_PORT_OFFSET)) ;;
  isolation) dir=tests/isolation inputs=specs ext=spec driver=isolation/pg_isolation_regress port=$((ISOLATION_PORT + PG_PORT_OFFSET)) ;;
  *) echo "unknown suite: $suite" >&2; exit 2 ;;
esac
datadir=$PROJECT_ROOT/target/$suite-cluster-$PG_MAJOR
# pg_stat_statements counts the statements each call runs (the regress test
# statements_per_call); the PostgreSQL 16 wheel has none.
have_pg_stat_statements=false
preload="shared_preload_libraries = 'pg_stat_statements'"
if [ -f "$("$PG_CONFIG" --pkglibdir)/pg_stat_statements.so" ]; then
  have_pg_stat_statements=true
  if [ -s "$datadir/PG_VERSION" ] && ! grep -q "^$preload" "$datadir/postgresql.conf"; then
    stop_cluster "$PG_BIN" "$datadir"
    echo "$preload" >>"$datadir/postgresql.conf"
  fi
else
  preload=
fi
start_cluster "$PG_BIN" "$datadir" "$port" "$preload"
trap 'stop_cluster "$PG_BIN" "$datadir"' EXIT

# A test without expected output would be skipped silently: an error here.
tests=()
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=("$dir/$inputs"/*."$ext")
# The tests that check hashes with pgcrypto's crypt() need pgcrypto; the
# PostgreSQL 16 and 18 wheels have none (docs/operations.md, "Supported
# versions").
have_pgcrypto=false
[ -f "$("$PG_CONFIG" --sharedir)/extension/pgcrypto.control" ] && have_pgcrypto=true
without_pgcrypto=()
for f in "${names[@]}"; do
  name=$(basename "$f" ."$ext")
  [ -f "$dir/expected/$name.out" ] || { echo "missing expected output for $name" >&2; exit 1; }
  if ! $have_pgcrypto && grep -qi 'CREATE EXTENSION.*pgcrypto' "$dir/$inputs/$name.$ext"; then
    without_pgcrypto+=("$name")
    continue
  fi
  if ! $have_pg_stat_statements && grep -qi 'CREATE EXTENSION.*pg_stat_statements' "$dir/$inputs/$name.$ext"; then
    echo "PostgreSQL $PG_MAJOR has no pg_stat_statements: $name not run here (it runs on 15 and 18)"
    continue
  fi
  # The cross-database tests reach a second database through dblink; the
  # PostgreSQL 16 wheel has none.
  if [ ! -f "$("$PG_CONFIG" --sharedir)/extension/dblink.control" ] &&
    grep -qi 'CREATE EXTENSION.*dblink' "$dir/$inputs/$name.$ext"; then
    echo "PostgreSQL $PG_MAJOR has no dblink: $name not run here (it runs on 15 and 18)"
    continue
  fi
  tests+=("$name")
done
if [ "${#without_pgcrypto[@]}" -gt 0 ]; then
  echo "PostgreSQL $PG_MAJOR has no pgcrypto: not run here (they run on 15): ${without_pgcrypto[*]}"
fi

outdir=$PROJECT_ROOT/target/$suite-$PG_MAJOR
mkdir -p "$outdir"
PGOPTIONS='-c client_min_messages=warning' \
"$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/$driver" \
  --bindir="$PG_BIN" --host=127.0.0.1 --port="$port" --user=postgres \
  --inputdir="$dir" --outputdir="$outdir" \
  --dbname="nile_reset_$suite" "${tests[@]}" || {
    [ -f "$outdir/regression.diffs" ] && cat "$outdir/regression.diffs"
    exit 1
  }

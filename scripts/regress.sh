#!/usr/bin/env bash
# Runs the pg_regress suite (tests/pg_regress/{sql,expected}) against a
# throwaway cluster, with the settings `cargo pgrx regress` uses.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

datadir=$PROJECT_ROOT/target/regress-cluster
port=${NILE_RESET_REGRESS_PORT:-28816}
bash scripts/cluster.sh start "$datadir" "$port"
trap 'bash scripts/cluster.sh stop "$datadir" "$port"' EXIT

outdir=$PROJECT_ROOT/target/pg_regress
mkdir -p "$outdir"
# Every .sql file is a test; one without expected output would be skipped
# silently, so that is an error here.
# Every test, or those named on the command line.
tests=()
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(tests/pg_regress/sql/*.sql)
for f in "${names[@]}"; do
  name=$(basename "$f" .sql)
  [ -f "tests/pg_regress/expected/$name.out" ] || { echo "missing expected output for $name" >&2; exit 1; }
  tests+=("$name")
done

PGOPTIONS='-c client_min_messages=warning' \
"$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
  --bindir="$PG_BIN" --host=127.0.0.1 --port="$port" --user=postgres \
  --inputdir=tests/pg_regress --outputdir="$outdir" \
  --dbname=nile_reset_regress "${tests[@]}" || {
    [ -f "$outdir/regression.diffs" ] && cat "$outdir/regression.diffs"
    exit 1
  }

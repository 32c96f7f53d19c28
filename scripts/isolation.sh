#!/usr/bin/env bash
# Runs the isolation suite (tests/isolation/{specs,expected}): several
# sessions interleaved step by step by PostgreSQL's isolation tester.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

datadir=$PROJECT_ROOT/target/isolation-cluster
port=${NILE_RESET_ISOLATION_PORT:-28817}
bash scripts/cluster.sh start "$datadir" "$port"
trap 'bash scripts/cluster.sh stop "$datadir" "$port"' EXIT

outdir=$PROJECT_ROOT/target/isolation
mkdir -p "$outdir"
tests=()
for f in tests/isolation/specs/*.spec; do
  name=$(basename "$f" .spec)
  [ -f "tests/isolation/expected/$name.out" ] || { echo "missing expected output for $name" >&2; exit 1; }
  tests+=("$name")
done

PGOPTIONS='-c client_min_messages=warning' \
"$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" \
  --bindir="$PG_BIN" --host=127.0.0.1 --port="$port" --user=postgres \
  --inputdir=tests/isolation --outputdir="$outdir" \
  --dbname=nile_reset_isolation "${tests[@]}" || {
    [ -f "$outdir/regression.diffs" ] && cat "$outdir/regression.diffs"
    exit 1
  }

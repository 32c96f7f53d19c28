#!/usr/bin/env bash
# Fuzzes `nile-reset serve` against the OpenAPI document it serves (shim/openapi.yaml) with
# schemathesis: no 5xx, and every status and required header must be documented.
#
#   tests/schemathesis.sh
#
# Starts its own PostgreSQL cluster (target/it/schemathesis, port $SCHEMATHESIS_PG_PORT, default
# $SCHEMATHESIS_PORT of scripts/common.sh) and shim, and stops both on exit. Needs the extension
# installed and schemathesis in $NILE_RESET_VENV (bash scripts/setup.sh). Bounded by
# $SCHEMATHESIS_MAX_EXAMPLES test cases per operation (default 50) and $SCHEMATHESIS_TIME_LIMIT
# seconds overall (default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

pg_port=${SCHEMATHESIS_PG_PORT:-$SCHEMATHESIS_PORT}
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-50}
time_limit=${SCHEMATHESIS_TIME_LIMIT:-600}
datadir=$PROJECT_ROOT/target/it/schemathesis
database=schemathesis
schemathesis=$VENV/bin/schemathesis

if [ ! -x "$schemathesis" ]; then
  log "schemathesis is not installed in $VENV: run bash scripts/setup.sh"
  exit 1
fi

log "building nile-reset"
cargo build --quiet -p nile_reset_shim --bin nile-reset
binary=${CARGO_TARGET_DIR:-$PROJECT_ROOT/target}/debug/nile-reset

work=$(mktemp -d)
shim_pid=
cleanup() {
  if [ -n "$shim_pid" ] && kill -0 "$shim_pid" 2>/dev/null; then
    kill -TERM "$shim_pid"
    wait "$shim_pid" || true
  fi
  stop_cluster "$PG_BIN" "$datadir" || true
  rm -rf "$work"
}
trap cleanup EXIT

log "starting PostgreSQL on port $pg_port"
start_cluster "$PG_BIN" "$datadir" "$pg_port"
psql_db() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
psql_db -d postgres -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"
# Where the extension has to be told where users live (auth.use_nile_users), Nile's tables.
psql_db -d "$database" \
  -c "CREATE EXTENSION nile_reset CASCADE" \
  -c "DO \$\$ BEGIN IF to_regprocedure('auth.use_nile_users()') IS NOT NULL THEN PERFORM auth.use_nile_users(); END IF; END \$\$" \
  -c "SELECT auth.add_trusted_origin('http://localhost:3000')" \
  -c "INSERT INTO users.users (email, name) VALUES ('alice@example.com', 'Alice')" >/dev/null

# Fresh secrets for this run, handed over through the environment (never argv).
secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
api_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
NILE_RESET_SECRET=$secret NILE_RESET_API_KEYS=$api_key RUST_LOG=warn "$binary" serve \
  --listen 127.0.0.1:0 \
  --database "$database=postgres://postgres@127.0.0.1:$pg_port/$database" \
  --rate-limit-per-minute 0 --min-response-time 0 \
  >"$work/stdout" 2>"$work/shim.log" &
shim_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/stdout" && break
  kill -0 "$shim_pid" 2>/dev/null || { cat "$work/shim.log" >&2; exit 1; }
  sleep 0.1
done
base=$(sed -n 's/^listening on //p' "$work/stdout")
[ -n "$base" ] || { log "nile-reset serve did not start"; cat "$work/shim.log" >&2; exit 1; }
log "nile-reset serving at $base"

# A valid CSRF cookie and the API key on every request, so the fuzzer gets past the HTTP
# checks into the SQL functions instead of collecting 404s and 401s.
csrf_cookie=$(curl -fsS -D - -o /dev/null "$base/v2/databases/$database/auth/csrf" |
  tr -d '\r' | sed -n 's/^set-cookie: \([^;]*\);.*/\1/Ip')

# Every generated request targets the served database; unknown names are covered by
# shim/tests/it/http/.
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.database" = "$database"
TOML

log "running schemathesis (at most $max_examples examples per operation, ${time_limit}s)"
# From $work: hypothesis keeps its example database in the working directory.
status=0
(cd "$work" && timeout "$time_limit" "$schemathesis" --config-file "$work/schemathesis.toml" run \
  "$base/openapi.yaml" \
  --url "$base" \
  --checks not_a_server_error,status_code_conformance,response_headers_conformance \
  --max-examples "$max_examples" \
  --exclude-path /healthz --exclude-path /metrics \
  --workers 2 \
  --request-timeout 15 \
  --header "Cookie: $csrf_cookie" \
  --header "Authorization: Bearer $api_key" \
  --report junit --report-junit-path "$work/junit.xml") || status=$?

if [ "$status" -eq 124 ]; then
  log "schemathesis did not finish within ${time_limit}s"
fi
# One line for scripts/test.sh: operations that passed and failed (from the JUnit report).
passed=0 failed=1
if [ -s "$work/junit.xml" ]; then
  read -r passed failed < <(python3 - "$work/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
suite = ET.parse(sys.argv[1]).getroot()
tests, failures, errors, skipped = (int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped"))
print(tests - failures - errors - skipped, failures + errors)
PY
  )
fi
# Database failures are answered with a 400 the fuzzer accepts; they are bugs all the same.
if grep -q '"level":"ERROR"' "$work/shim.log"; then
  log "the shim logged errors during the run:"
  grep '"level":"ERROR"' "$work/shim.log" >&2
  failed=$((failed + 1))
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "schemathesis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

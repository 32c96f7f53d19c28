#!/usr/bin/env bash
# Drives `nile-reset serve` with Nile's own SDK, @niledatabase/server (the exact
# version in package.json, installed from the committed package-lock.json,
# unmodified), on Node's built-in test runner.
#   tests/sdk/run.sh            prepare, start PostgreSQL and the shim, run the tests
#   tests/sdk/run.sh --prepare  only install what the tests need (uses the network)
# The caller installs the extension into the checkout's PostgreSQL first
# (scripts/test.sh does; by hand: `. scripts/common.sh && pgrx_install`).
# Ends with "sdk: N passed, M failed"; exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/common.sh

sdk=$PROJECT_ROOT/tests/sdk
work=$PROJECT_ROOT/target/sdk
pg_port=${NILE_RESET_SDK_PG_PORT:-$SDK_PG_PORT}
http_port=${NILE_RESET_SDK_HTTP_PORT:-$SDK_HTTP_PORT}
db=sdk

# Node.js 18 or later (the SDK's engines field): scripts/setup.sh installs
# Debian's when the machine has none.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Node.js and npm are missing: run scripts/setup.sh" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "Nile's SDK needs Node.js 18 or later; found $(node --version)" >&2
  exit 1
fi

# The SDK, exactly as locked; reinstalled only when the lockfile changes.
stamp=$sdk/node_modules/.nile-reset-lock
if ! cmp -s "$sdk/package-lock.json" "$stamp"; then
  log "installing Nile's SDK (npm ci)"
  (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$sdk/package-lock.json" "$stamp"
fi
cargo build --quiet -p nile_reset_shim --bin nile-reset
[ "${1:-}" = --prepare ] && exit 0

bin=$PROJECT_ROOT/target/debug/nile-reset
# A cluster left running by an interrupted run is stopped before its folder goes.
[ -s "$work/cluster/PG_VERSION" ] && bash scripts/cluster.sh stop "$work/cluster" "$pg_port"
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
shim_pid=
cleanup() {
  if [ -n "$shim_pid" ]; then kill -TERM "$shim_pid" 2>/dev/null || true; wait "$shim_pid" 2>/dev/null || true; fi
  bash scripts/cluster.sh stop "$work/cluster" "$pg_port" || true
}
trap cleanup EXIT

bash scripts/cluster.sh start "$work/cluster" "$pg_port"
psql_as() { psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
psql_as -d postgres -c "CREATE DATABASE $db"
# pgcrypto: the tests check the stored bcrypt hash with crypt().
psql_as -d "$db" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION nile_reset;
CREATE EXTENSION pgcrypto;
SELECT auth.use_nile_users();
SELECT auth.add_trusted_origin('http://localhost:3000');
SQL

# The cookie secret and the API key, in files (never in argv).
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$work/secret"
od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$work/api-key"
dsn="postgres://postgres@127.0.0.1:$pg_port/$db"
# The suite drives the SDK's flow, not the per-address limit (tested in
# shim/tests/it/http/limits.rs): every request comes from 127.0.0.1.
NILE_RESET_DATABASES="$db=$dsn" "$bin" serve --listen "127.0.0.1:$http_port" \
  --rate-limit-per-minute 0 \
  --secret-file "$work/secret" --api-keys-file "$work/api-key" >"$work/shim.log" 2>&1 </dev/null &
shim_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/shim.log" 2>/dev/null && break
  kill -0 "$shim_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q '^listening on ' "$work/shim.log" || { cat "$work/shim.log" >&2; exit 1; }

status=0
NILE_RESET_SDK_API_URL="http://127.0.0.1:$http_port/v2/databases/$db" \
NILE_RESET_SDK_API_KEY=$(cat "$work/api-key") \
NILE_RESET_SDK_DATABASE_URL=$dsn \
  node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$work/results.tap" \
    "$sdk"/test/*.test.mjs || status=$?

# Secrets must never reach the shim's log.
if grep -qF "$(cat "$work/api-key")" "$work/shim.log"; then
  echo "FAILED: the API key appears in $work/shim.log" >&2
  status=1
fi
passed=$(awk '/^# pass /{print $3}' "$work/results.tap")
failed=$(awk '/^# fail /{print $3}' "$work/results.tap")
echo "sdk: ${passed:-0} passed, ${failed:-0} failed"
[ "$status" -eq 0 ] && [ "${failed:-0}" -eq 0 ] && [ "${passed:-0}" -gt 0 ]

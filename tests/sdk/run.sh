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
. tests/lib/node_suite.sh

sdk=$PROJECT_ROOT/tests/sdk
work=$PROJECT_ROOT/target/sdk
pg_port=${NILE_RESET_SDK_PG_PORT:-$SDK_PG_PORT}
http_port=${NILE_RESET_SDK_HTTP_PORT:-$SDK_HTTP_PORT}
db=sdk

# Node.js 18 or later: the SDK's engines field.
require_node "Nile's SDK needs"
npm_ci_when_lock_changed "$sdk" "Nile's SDK"
build_nile_reset
[ "${1:-}" = --prepare ] && exit 0

fresh_work_dir "$work" "$pg_port"
# Trusted: the application's origin, the SDK's default one.
create_suite_database "$db" http://localhost:3000
write_secrets
dsn="postgres://postgres@127.0.0.1:$pg_port/$db"
start_serve "nile-reset serve" "$work/shim.log" "$db=$dsn" "127.0.0.1:$http_port"

status=0
NILE_RESET_SDK_API_URL="http://127.0.0.1:$http_port/v2/databases/$db" \
NILE_RESET_SDK_API_KEY=$(cat "$work/api-key") \
NILE_RESET_SDK_DATABASE_URL=$dsn \
  run_node_tests "$sdk"/test/*.test.mjs || status=$?

# Secrets must never reach the shim's log.
if grep -qF "$(cat "$work/api-key")" "$work/shim.log"; then
  echo "FAILED: the API key appears in $work/shim.log" >&2
  status=1
fi
report_results sdk "$status"

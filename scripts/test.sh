#!/usr/bin/env bash
# Runs every test of nile_reset: Rust unit tests and #[pg_test]s, the
# pg_regress and isolation suites against a real server, the companion
# crate's integration tests (real PostgreSQL, HTTP and SMTP) and a
# schema-driven fuzz run of the HTTP API. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

bash scripts/setup.sh

passed=0
failed=0
failures=()
step() {
  local name=$1; shift
  log "test: $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}

# The test server's data folder must be owned by the unprivileged user.
pgrx_test_data=$PROJECT_ROOT/target/pgrx-test-data
prepare_pgrx_data() {
  mkdir -p "$pgrx_test_data"
  if [ "$(id -u)" -eq 0 ]; then chown "$PG_OS_USER" "$pgrx_test_data"; fi
}

unit_and_pg_tests() {
  prepare_pgrx_data
  local runas=()
  [ "$(id -u)" -eq 0 ] && runas=(--runas "$PG_OS_USER")
  cargo pgrx test "pg$PG_MAJOR" "${runas[@]}" --pgdata "$pgrx_test_data"
}

step "extension unit tests and #[pg_test]s" unit_and_pg_tests

log "installing the extension into PostgreSQL $PG_MAJOR"
cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null

step "pg_regress suite" bash scripts/regress.sh
step "isolation suite" bash scripts/isolation.sh

if [ -d shim/tests ]; then
  step "companion crate tests (HTTP shim, email sender)" cargo test -p nile_reset_shim
fi
if [ -f tests/schemathesis.sh ]; then
  step "schemathesis fuzz of the HTTP API" bash tests/schemathesis.sh
fi

echo
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

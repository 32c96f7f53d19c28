#!/usr/bin/env bash
# Runs every test of nile_reset: Rust unit tests and #[pg_test]s, the
# pg_regress and isolation suites against a real server, the companion
# crate's integration tests (real PostgreSQL, HTTP and SMTP) and a
# schema-driven fuzz run of the HTTP API. Installs what is missing first.
# Ends with one line counting every test: "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

bash scripts/setup.sh

logs=$PROJECT_ROOT/target/test-logs
rm -rf "$logs" && mkdir -p "$logs"
passed=0
failed=0
failures=()

# Adds a suite's own counts (read from its output) to the totals; a suite
# that fails without a count it printed counts as one failure.
count() { # log exit_status
  local log=$1 status=$2 p=0 f=0
  read -r p f < <(awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
    /All [0-9]+ tests passed/ { for (i = 1; i <= NF; i++) if ($(i) == "All") p += $(i+1) }
    /[0-9]+ of [0-9]+ tests failed/ { for (i = 1; i <= NF; i++) if ($(i) == "of") { f += $(i-1); p += $(i+1) - $(i-1) } }
    /^schemathesis: [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4 }
    END { print p + 0, f + 0 }' "$log")
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
}

suite() { # name command...
  local name=$1; shift
  local log="$logs/$(echo "$name" | tr -c 'a-z0-9\n' '-').log"
  log "test: $name"
  local status=0
  "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  count "$log" "$status"
  [ "$status" -eq 0 ] || failures+=("$name")
}

# The #[pg_test] server's data folder must be owned by the unprivileged user.
unit_and_pg_tests() {
  local data=$PROJECT_ROOT/target/pgrx-test-data runas=()
  mkdir -p "$data"
  if [ "$(id -u)" -eq 0 ]; then chown "$PG_OS_USER" "$data"; runas=(--runas "$PG_OS_USER"); fi
  cargo pgrx test "pg$PG_MAJOR" "${runas[@]}" --pgdata "$data"
}

suite "extension unit tests and #[pg_test]s" unit_and_pg_tests

log "installing the extension into PostgreSQL $PG_MAJOR"
pgrx_install

suite "pg_regress suite" bash scripts/pg_suite.sh regress
suite "isolation suite" bash scripts/pg_suite.sh isolation
suite "companion crate: HTTP shim and email sender" cargo test -p nile_reset_shim
suite "schemathesis fuzz of the HTTP API" bash tests/schemathesis.sh

echo
for name in "${failures[@]}"; do echo "FAILED suite: $name (log: $logs)"; done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${#failures[@]}" -eq 0 ]

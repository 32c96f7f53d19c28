#!/usr/bin/env bash
# Runs every test of nile_reset: the lints (rustfmt, clippy, shellcheck,
# links, the benchmark statistics);
# for each tested PostgreSQL major (15, 16 and 18) the Rust unit tests and
# #[pg_test]s and the pg_regress and isolation suites against a real server;
# against 15 the companion crate's integration tests (real PostgreSQL, HTTP
# and SMTP), the frameworks' own password verifiers on reset hashes, and a
# schema-driven fuzz run of the HTTP API; the release
# tests (upgrade, dump and restore, packages); and the whole flow on a
# three-node Citus cluster (PostgreSQL 18); and real-browser tests in headless Chromium (our
# pages and Nile's React forms). Installs what is missing first. Ends with one line counting every test:
# "tests: N passed, M failed".
#
#   scripts/test.sh [GROUP...]   groups: lint extension shim frameworks fuzz release packages citus browser (default: all)
#   NILE_RESET_PG_MAJORS="15 16 18" the majors the extension group covers
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

groups=("$@")
[ "${#groups[@]}" -gt 0 ] || groups=(lint extension shim frameworks fuzz release packages citus browser)
read -r -a majors <<<"${NILE_RESET_PG_MAJORS:-${PG_MAJORS[*]}}"
wanted() { [[ " ${groups[*]} " == *" $1 "* ]]; }

bash scripts/setup.sh

logs=$PROJECT_ROOT/target/test-logs
rm -rf "$logs" && mkdir -p "$logs"
passed=0
failed=0
failures=()

# Adds a suite's own counts (read from its output) to the totals. A suite
# that prints no count is one test: it passed or failed as a whole; one
# that says "NAME: skipped: why" counts nothing.
skipped=()
count() { # log exit_status
  local log=$1 status=$2 p=0 f=0 skip
  if skip=$(grep -m1 -E '^[a-z_]+: skipped: ' "$log"); then
    skipped+=("$skip")
    [ "$status" -eq 0 ] && return 0
  fi
  read -r p f < <(awk '
    /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
    /All [0-9]+ tests passed/ { for (i = 1; i <= NF; i++) if ($(i) == "All") p += $(i+1) }
    /[0-9]+ of [0-9]+ tests failed/ { for (i = 1; i <= NF; i++) if ($(i) == "of") { f += $(i-1); p += $(i+1) - $(i-1) } }
    /^(doc_links|bench_statistics|schemathesis|sdk|sender_recipe|frameworks|schema_check|upgrade|dump_restore|package|citus|browser): [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4 }
    END { print p + 0, f + 0 }' "$log")
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$status" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then p=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
}

suite() { # name command...
  local name=$1 log status=0
  shift
  log="$logs/$(echo "$name" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' '-').log"
  log "test: $name"
  "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  count "$log" "$status"
  [ "$status" -eq 0 ] || failures+=("$name")
}

# The #[pg_test] server's data folder must be owned by the unprivileged user.
unit_and_pg_tests() { # major
  local data=$PROJECT_ROOT/target/pgrx-test-data-$1 runas=()
  mkdir -p "$data"
  if [ "$(id -u)" -eq 0 ]; then
    chown "$PG_OS_USER" "$data"
    runas=(--runas "$PG_OS_USER")
  fi
  cargo pgrx test "pg$1" "${runas[@]}" --pgdata "$data"
}

if wanted lint; then
  suite "rustfmt" cargo fmt --all --check
  suite "clippy (extension with pg15, companion crate)" \
    cargo clippy --workspace --all-targets -- -D warnings
  suite "shellcheck" shellcheck --external-sources scripts/*.sh bench/*.sh tests/*.sh tests/lib/*.sh tests/sdk/*.sh tests/browser/*.sh packaging/*.sh .ci/run
  suite "documentation links" python3 tests/doc_links.py
  suite "benchmark statistics" python3 tests/bench_statistics.py
fi

if wanted extension; then
  for major in "${majors[@]}"; do
    use_pg_major "$major"
    suite "PostgreSQL $major: extension unit tests and #[pg_test]s" unit_and_pg_tests "$major"
    log "installing the extension into the checkout's PostgreSQL $major"
    pgrx_install
    suite "PostgreSQL $major: pg_regress suite" env NILE_RESET_PG_MAJOR="$major" bash scripts/pg_suite.sh regress
    suite "PostgreSQL $major: isolation suite" env NILE_RESET_PG_MAJOR="$major" bash scripts/pg_suite.sh isolation
  done
fi

# The companion crate and the fuzz run talk to PostgreSQL 15.
use_pg_major 15
if wanted shim || wanted frameworks || wanted fuzz || wanted release || wanted browser; then
  log "installing the extension into the checkout's PostgreSQL 15"
  pgrx_install
fi
if wanted shim; then
  suite "companion crate: HTTP shim and email sender" cargo test -p nile_reset_shim
  suite "Nile's SDK against the shim" bash tests/sdk/run.sh
  suite "the sender role's grant recipe (docs/outbox.md)" bash tests/sender_recipe.sh
fi
if wanted frameworks; then
  suite "framework verifiers (PHP, Django, bcrypt, argon2-cffi)" bash tests/frameworks.sh
fi
if wanted fuzz; then
  suite "schemathesis fuzz of the HTTP API" bash tests/schemathesis.sh
fi
if wanted release; then
  suite "SQL surface against the last release" bash tests/schema_check.sh
  suite "upgrade from the last release" bash tests/upgrade.sh
  suite "dump and restore" bash tests/dump_restore.sh
fi
# Installs into the system's PostgreSQL 15 (and removes again): the one
# group that changes the machine outside the checkout.
if wanted packages; then
  suite "Debian packages" bash tests/package.sh
fi
if wanted citus; then
  suite "Citus: coordinator and two workers (PostgreSQL 18)" bash tests/citus.sh
fi
if wanted browser; then
  suite "real browser: our pages and Nile's React forms in Chromium" bash tests/browser/run.sh
fi

echo
for line in "${skipped[@]}"; do echo "SKIPPED $line"; done
for name in "${failures[@]}"; do echo "FAILED suite: $name (log: $logs)"; done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${#failures[@]}" -eq 0 ]

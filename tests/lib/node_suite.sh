# What the Node.js test suites (tests/sdk/run.sh, tests/browser/run.sh) share, sourced by
# each after scripts/common.sh, from the checkout's root: the Node.js check, `npm ci` from the
# committed lockfile, the build of nile-reset, a fresh work folder with its own PostgreSQL
# cluster and database, `nile-reset serve` started in the background, and Node's test runner
# with the closing "<suite>: N passed, M failed" line.
# fresh_work_dir sets suite_work and suite_pg_port, which the later calls use; the background
# servers in suite_pids (append with `suite_pids+=($!)`) are stopped on exit, then the cluster.
# shellcheck shell=bash

nile_reset=$PROJECT_ROOT/target/debug/nile-reset
suite_work=
suite_pg_port=
suite_pids=()

# Node.js 18 or later and npm: scripts/setup.sh installs Debian's when the machine has none.
require_node() { # who needs it, e.g. "Nile's SDK needs"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "Node.js and npm are missing: run scripts/setup.sh" >&2
    exit 1
  fi
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
    echo "$1 Node.js 18 or later; found $(node --version)" >&2
    exit 1
  fi
}

# The packages of dir, exactly as its package-lock.json locks them; reinstalled only when the
# lockfile changes (a copy of it in node_modules stamps the install).
npm_ci_when_lock_changed() { # dir what (for the log line)
  local stamp=$1/node_modules/.nile-reset-lock
  if ! cmp -s "$1/package-lock.json" "$stamp"; then
    log "installing $2 (npm ci)"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$1/package-lock.json" "$stamp"
  fi
}

build_nile_reset() { # into $nile_reset
  cargo build --quiet -p nile_reset_shim --bin nile-reset
}

# An empty work folder (only its owner may read it: it holds the secrets) for a cluster on
# pg_port; a cluster left running by an interrupted run is stopped before its folder goes.
# From here on, exiting stops the background servers and the cluster.
fresh_work_dir() { # work pg_port
  suite_work=$1
  suite_pg_port=$2
  [ -s "$suite_work/cluster/PG_VERSION" ] && bash scripts/cluster.sh stop "$suite_work/cluster" "$suite_pg_port"
  rm -rf "$suite_work"
  mkdir -p "$suite_work"
  chmod 700 "$suite_work"
  trap stop_suite EXIT
}

stop_suite() {
  local pid
  for pid in "${suite_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${suite_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash scripts/cluster.sh stop "$suite_work/cluster" "$suite_pg_port" || true
}

suite_psql() { # psql options: as postgres, quiet, stopping at the first error
  psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$suite_pg_port" -U postgres "$@"
}

# Starts the cluster and creates database db with the extension on Nile's users, and pgcrypto
# (the tests check the stored bcrypt hash with crypt()); the origins are trusted.
create_suite_database() { # db [trusted origins]
  local db=$1 origin
  shift
  bash scripts/cluster.sh start "$suite_work/cluster" "$suite_pg_port"
  suite_psql -d postgres -c "CREATE DATABASE $db"
  {
    echo "SET client_min_messages = warning;"
    echo "CREATE EXTENSION nile_reset;"
    echo "CREATE EXTENSION pgcrypto;"
    echo "SELECT auth.use_nile_users();"
    for origin in "$@"; do echo "SELECT auth.add_trusted_origin('$origin');"; done
  } | suite_psql -d "$db"
}

# The cookie secret and the API key, in files (never in argv): $suite_work/secret, api-key.
write_secrets() {
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$suite_work/secret"
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$suite_work/api-key"
}

# Waits until a background server printed its "listening on" lines (one per address); when it
# dies or takes longer than 15 s, prints its log and exits.
await_listening() { # name pid log [addresses]
  local lines
  for _ in $(seq 150); do
    lines=$(grep -c 'listening on ' "$3" 2>/dev/null) || true
    [ "${lines:-0}" -ge "${4:-1}" ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "$1 did not start:" >&2
  cat "$3" >&2
  exit 1
}

# `nile-reset serve` in the background, with the secrets of write_secrets and no per-client
# limit (every request comes from 127.0.0.1: these suites drive flows, not the limit, which
# shim/tests/it/http/limits.rs tests); returns once it listens.
start_serve() { # name log NILE_RESET_DATABASES listen-address [more serve options]
  local name=$1 log=$2 databases=$3 listen=$4
  shift 4
  NILE_RESET_DATABASES=$databases "$nile_reset" serve --listen "$listen" "$@" \
    --rate-limit-per-minute 0 \
    --secret-file "$suite_work/secret" --api-keys-file "$suite_work/api-key" >"$log" 2>&1 </dev/null &
  suite_pids+=($!)
  await_listening "$name" "$!" "$log"
}

# Node's test runner: the spec report on stdout, the TAP one in $suite_work/results.tap (read
# by report_results). Returns the runner's status.
run_node_tests() { # [node --test options] test files
  node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$suite_work/results.tap" "$@"
}

# Prints "<suite>: N passed, M failed" (scripts/test.sh reads it); fails when status is not 0,
# a test failed or none passed.
report_results() { # suite status
  local passed failed
  passed=$(awk '/^# pass /{print $3}' "$suite_work/results.tap")
  failed=$(awk '/^# fail /{print $3}' "$suite_work/results.tap")
  echo "$1: ${passed:-0} passed, ${failed:-0} failed"
  [ "$2" -eq 0 ] && [ "${failed:-0}" -eq 0 ] && [ "${passed:-0}" -gt 0 ]
}

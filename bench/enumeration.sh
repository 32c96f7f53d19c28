#!/usr/bin/env bash
# Can a client tell which emails have accounts, or which identifiers have a
# live token, by timing the shim? Half of the emails belong to users, half do
# not. First every email gets reset requests (POST), which issue a token for
# each known one; then every identifier gets link checks (GET) with a wrong
# token: the known ones now have a token row, the unknown ones none. All go
# over HTTP to `nile-reset serve`, and for each request a threshold
# classifier trained on the latencies guesses which is which
# (leave-one-out). Near 50% means the timing tells nothing; the target is at
# most 60%. Over single requests it also prints P(a known one is slower) with
# Mann-Whitney's z: finer for a residue of a few microseconds (bench/enumeration.py).
#
#   ENUM_EMAILS    emails, half known             (default 60: with 20 the
#                  leave-one-out accuracy of a timing-blind classifier
#                  ranged from 25% to 75% between runs)
#   ENUM_ROUNDS    requests per email and method  (default 7)
#   BENCH_PROFILE  release or debug binaries      (default release)
#   BENCH_PG_BIN   an installation that already holds the extension (bench/run.sh
#                  passes its own): nothing is built but the shim
#   ENUM_SUMMARY   a file to append the results to, for bench/run.sh's table,
#   ENUM_LABEL     labelled so
#   ENUM_PIN       1 (default): with two or more CPUs the client gets the last
#                  one to itself and the cluster and the shim the others, as a
#                  client on another machine would; 0 shares them all
#   further arguments go to `nile-reset serve`, e.g. --min-response-time 0
#   to see what the latency floor hides.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh
. bench/lib.sh

emails=${ENUM_EMAILS:-60}
rounds=${ENUM_ROUNDS:-7}
profile=${BENCH_PROFILE:-release}
port=${NILE_RESET_ENUM_PORT:-$ENUMERATION_PORT}
http_port=$((port + 1))
admin_port=$((port + 2))
datadir=$PROJECT_ROOT/target/enumeration-cluster
work=$PROJECT_ROOT/target/enumeration
db=enumeration
dsn="postgres://postgres@127.0.0.1:$port/$db"
serve_args="$*"
mkdir -p "$work"

if [ -n "${BENCH_PG_BIN:-}" ]; then
  pg_bin=$BENCH_PG_BIN
else
  # The extension goes into a private copy of PostgreSQL (bench/lib.sh).
  pg_bin=$(bench_bin "$work")
  if [ -x "$pg_bin/pg_ctl" ]; then stop_cluster "$pg_bin" "$datadir"; fi
  log "building $profile binaries"
  bench_installation "$profile" "$work"
fi
if [ "$profile" = release ]; then
  cargo build --release -q -p nile_reset_shim
else
  cargo build -q -p nile_reset_shim
fi
bin=$PROJECT_ROOT/target/$profile/nile-reset

shim_pid=
cleanup() {
  if [ -n "$shim_pid" ]; then kill "$shim_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  stop_cluster "$pg_bin" "$datadir"
}
trap cleanup EXIT

# On the server's CPUs the client is woken sooner or later by the server's
# own work (a commit's flush, above all), and that shows in its timings as if
# the server had answered differently (docs/security.md). From here on this
# shell, and so the cluster and the shim it starts, keeps off the client's CPU.
client_cpu=()
cpus=$(nproc)
if [ "${ENUM_PIN:-1}" = 1 ] && [ "$cpus" -ge 2 ]; then
  taskset -pc "0-$((cpus - 2))" $$ >/dev/null
  client_cpu=(taskset -c "$((cpus - 1))")
fi

start_cluster "$pg_bin" "$datadir" "$port"
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres \
  -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" \
  -v known=$((emails / 2)) <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION nile_reset;
SELECT auth.use_nile_users() \g /dev/null
SELECT auth.add_trusted_origin('http://localhost:3000') \g /dev/null
INSERT INTO users.users (email, name)
  SELECT 'known' || g || '@example.com', 'User ' || g FROM generate_series(1, :known) g;
-- The worst case for the floor: every request for a known email issues a token.
ALTER DATABASE enumeration SET nile_reset.min_resend_interval = 0;
SQL

# No rate limit (one client sends everything); --uniform-status so that only
# the timing is left to tell known from unknown.
NILE_RESET_SECRET=enumeration-secret-enumeration-secret "$bin" serve \
  --listen "127.0.0.1:$http_port" --admin-listen "127.0.0.1:$admin_port" \
  --database "$db=$dsn" --rate-limit-per-minute 0 --uniform-status --log-format text "$@" \
  >"$work/shim.log" 2>&1 &
shim_pid=$!
for _ in $(seq 50); do
  curl -fsS "http://127.0.0.1:$admin_port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

summary=()
if [ -n "${ENUM_SUMMARY:-}" ]; then summary=(--summary "$ENUM_SUMMARY" --label "${ENUM_LABEL:-${serve_args:-defaults}}"); fi
measure() { # post|get
  "${client_cpu[@]}" python3 bench/enumeration.py "http://127.0.0.1:$http_port/v2/databases/$db" --request "$1" \
    --known $((emails / 2)) --unknown $((emails - emails / 2)) --rounds "$rounds" "${summary[@]}"
}
echo "POST /auth/reset-password (reset request), known vs unknown emails:"
measure post
# The GET compares identifiers with a token row against identifiers without
# one: every known email must hold a token now, and no unknown one.
holders=$(psql -X -tA -h 127.0.0.1 -p "$port" -U postgres -d "$db" -c "
  SELECT count(*) FILTER (WHERE identifier LIKE 'known%'), count(*) FILTER (WHERE identifier NOT LIKE 'known%')
    FROM nile_reset.verification_tokens")
if [ "$holders" != "$((emails / 2))|0" ]; then
  echo "expected a token for each of the $((emails / 2)) known emails and none for the others, found (known|other) $holders" >&2
  exit 1
fi
echo "GET /auth/reset-password (link check, wrong token), identifiers with vs without a token:"
measure get

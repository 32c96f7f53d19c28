#!/usr/bin/env bash
# The benchmark behind docs/performance.md (`make bench`).
# Everything is measured in this one run, on this machine, against one local
# cluster: variants are interleaved round by round so drift hits them alike.
#
#   BENCH_SECONDS   seconds per pgbench/wrk run        (default 6)
#   BENCH_ROUNDS    rounds of the interleaved matrix   (default 2)
#   BENCH_EMAILS    emails per sender-throughput run   (default 20000)
#   BENCH_MASS      resets of the breach-response run  (default 100000)
#
# The SMTP server is Postfix's smtp-sink (a fast C one: the sender, not the
# server, is what is measured), installed from Debian's postfix package when
# missing, configured "No configuration" so that no MTA starts.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

seconds=${BENCH_SECONDS:-6}
rounds=${BENCH_ROUNDS:-2}
emails=${BENCH_EMAILS:-20000}
mass=${BENCH_MASS:-100000}
port=${NILE_RESET_BENCH_PORT:-$BENCH_PORT}
datadir=$PROJECT_ROOT/target/bench-cluster
work=$PROJECT_ROOT/target/bench
db=bench
dsn="postgres://postgres@127.0.0.1:$port/$db"
mkdir -p "$work"
results=$work/results.tsv
: > "$results"

bash scripts/setup.sh
if ! command -v smtp-sink >/dev/null; then
  log "installing Postfix's smtp-sink (package postfix, no MTA configured)"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >/dev/null
fi
log "building release binaries"
pgrx_install --release
cargo build --release -q -p nile_reset_shim
bin=$PROJECT_ROOT/target/release/nile-reset

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_cluster "$PG_BIN" "$datadir"
}
trap cleanup EXIT

start_cluster "$PG_BIN" "$datadir" "$port"
q() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"; }
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
log "seeding 100k users"
q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION nile_reset;
SELECT auth.use_nile_users() \g /dev/null
\i bench/peer.sql
SELECT auth.add_trusted_origin('http://localhost:3000') \g /dev/null
INSERT INTO users.users (email, name) SELECT 'u' || g || '@example.com', 'User ' || g FROM generate_series(1, 100000) g;
-- Requests for the same user in quick succession must all do the work.
ALTER DATABASE bench SET nile_reset.min_resend_interval = 0;
VACUUM ANALYZE;
SQL

start_sender() {
  rm -rf "$work/mail"
  "$bin" send --database-url "$dsn" --transport file --outbox-dir "$work/mail" \
    --poll-interval 1s --batch-size 100 >"$work/sender.log" 2>&1 &
  sender_pid=$!
  pids+=("$sender_pid")
}
stop_sender() { kill "$sender_pid" 2>/dev/null || true; wait "$sender_pid" 2>/dev/null || true; }

reset_tables() {
  q -c "TRUNCATE nile_reset.email_outbox, nile_reset.verification_tokens" -c "CHECKPOINT"
}

# One pgbench run; prints tps.
pgbench_tps() { # script clients sync_commit extra_options
  local script=$1 clients=$2 sync=$3 extra=${4:-}
  local threads=$(( clients < 2 ? clients : 2 ))
  PGOPTIONS="-c synchronous_commit=$sync $extra" \
    pgbench -n -h 127.0.0.1 -p "$port" -U postgres -c "$clients" -j "$threads" -T "$seconds" \
      -f "bench/$script.pgbench" "$db" 2>/dev/null | awk '/^tps/ {print $3; exit}'
}

log "throughput matrix: $rounds round(s) x 2 sync modes x 3 client counts x 4 variants x ${seconds}s"
start_sender
for round in $(seq "$rounds"); do
  for sync in on off; do
    for clients in 1 8 32; do
      for variant in nile_reset peer floor nile_reset_no_wakeups; do
        reset_tables
        case $variant in
          nile_reset) tps=$(pgbench_tps nile_reset "$clients" "$sync") ;;
          peer) tps=$(pgbench_tps peer "$clients" "$sync") ;;
          floor) tps=$(pgbench_tps floor "$clients" "$sync") ;;
          nile_reset_no_wakeups) tps=$(pgbench_tps nile_reset "$clients" "$sync" "-c nile_reset.wakeups=off") ;;
        esac
        printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$sync" "$clients" "$variant" "$tps" >>"$results"
        log "round $round sync=$sync clients=$clients $variant: $tps tps"
      done
    done
  done
done

log "wake-up latency with an idle sender: 200 requests at 20/s, commit to sent"
reset_tables
sleep 2
PGOPTIONS="-c synchronous_commit=on" pgbench -n -h 127.0.0.1 -p "$port" -U postgres -c 1 -R 20 -t 200 \
  -f bench/nile_reset.pgbench "$db" >/dev/null 2>&1
sleep 3
latency=$(q -tA -F $'\t' -c "
  WITH waits AS (SELECT 1000 * extract(epoch FROM sent_at - created) AS ms, sent_at FROM nile_reset.email_outbox)
  SELECT round(percentile_cont(0.50) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(percentile_cont(0.90) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(max(ms)::numeric, 1),
         count(sent_at), count(*)
    FROM waits")
stop_sender

smtp_port=$BENCH_SMTP_PORT
smtp-sink -u nobody "127.0.0.1:$smtp_port" 1024 >"$work/smtp-sink.log" 2>&1 &
pids+=("$!")
smtp_flags=(--transport smtp --smtp-url "smtp://127.0.0.1:$smtp_port")
# Throughput settings: big claims, many connections. Logs at warn: one info
# line per email would be part of what is measured.
fast_flags=(--poll-interval 1s --batch-size 1000 --concurrency 16)
now() { date +%s.%N; }
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
wait_drained() {
  until [ "$(q -tA -c "SELECT pending FROM auth.email_outbox_stats()")" = 0 ]; do sleep 0.1; done
}
queue_resets() { # count: one auth.generate_password_tokens statement for u1..u<count>
  q -tA -c "SELECT count(*) FILTER (WHERE created) FROM auth.generate_password_tokens(
      ARRAY(SELECT 'u' || g || '@example.com' FROM generate_series(1, $1) g),
      'http://localhost:3000/', 'http://localhost:3000/r')"
}
# Queues $1 resets with no sender running, then times a sender started with
# the remaining arguments, from its start to an empty outbox: emails/s.
delivery_rate() {
  local count=$1; shift
  reset_tables
  rm -rf "$work/mail"
  [ "$(queue_resets "$count")" = "$count" ] || { echo "not every reset was queued" >&2; exit 1; }
  local start; start=$(now)
  RUST_LOG=warn "$bin" send --database-url "$dsn" "${fast_flags[@]}" "$@" >"$work/sender-rate.log" 2>&1 &
  sender_pid=$!
  pids+=("$sender_pid")
  wait_drained
  local end; end=$(now)
  stop_sender
  local sent; sent=$(q -tA -c "SELECT count(*) FROM nile_reset.email_outbox WHERE sent_at IS NOT NULL")
  [ "$sent" = "$count" ] || { echo "sent $sent of $count" >&2; exit 1; }
  awk -v n="$sent" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }'
}

log "sender throughput: $emails queued emails, SMTP (smtp-sink) and file transport, interleaved"
smtp_runs=()
file_runs=()
for round in $(seq "$rounds"); do
  smtp_runs+=("$(delivery_rate "$emails" "${smtp_flags[@]}")")
  file_runs+=("$(delivery_rate "$emails" --transport file --outbox-dir "$work/mail")")
  log "round $round: SMTP ${smtp_runs[-1]} emails/s, file ${file_runs[-1]} emails/s"
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.0f", s / NR }'; }
smtp_rate=$(mean "${smtp_runs[@]}")
file_rate=$(mean "${file_runs[@]}")

log "breach response: $mass resets in one statement, delivered over SMTP by a running sender"
reset_tables
RUST_LOG=warn "$bin" send --database-url "$dsn" "${fast_flags[@]}" "${smtp_flags[@]}" >"$work/sender-mass.log" 2>&1 &
sender_pid=$!
pids+=("$sender_pid")
sleep 2
start=$(now)
queued=$(queue_resets "$mass")
committed=$(now)
wait_drained
delivered=$(now)
stop_sender
[ "$queued" = "$mass" ] || { echo "queued $queued of $mass" >&2; exit 1; }
mass_queue=$(seconds_between "$start" "$committed")
mass_deliver=$(seconds_between "$committed" "$delivered")
log "queued in ${mass_queue}s, delivered ${mass_deliver}s after the commit"

log "HTTP shim under wrk vs the same call through pgbench, 8 connections"
reset_tables
start_sender
http_port=$BENCH_HTTP_PORT
admin_port=$BENCH_ADMIN_PORT
# Throughput, not the guards: no per-address limit (wrk is one address) and
# no latency floor.
NILE_RESET_SECRET=bench-secret-bench-secret-bench-secret "$bin" serve --listen "127.0.0.1:$http_port" \
  --admin-listen "127.0.0.1:$admin_port" --rate-limit-per-minute 0 --min-response-time 0 \
  --database "$db=$dsn" >"$work/shim.log" 2>&1 &
pids+=("$!")
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$admin_port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
cookie=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$http_port/v2/databases/$db/auth/csrf" \
  | awk -F': ' 'tolower($1) == "set-cookie" { split($2, c, ";"); print c[1]; exit }')
# Interleaved, like the matrix: wrk, pgbench, wrk, pgbench ...
wrk_runs=()
direct_runs=()
for round in $(seq "$rounds"); do
  reset_tables
  COOKIE="$cookie" wrk -t 2 -c 8 -d "${seconds}s" -s bench/reset_password.lua \
    "http://127.0.0.1:$http_port/v2/databases/$db/auth/reset-password" >"$work/wrk.txt"
  # Every answer must be 201 (created) for the comparison to mean anything.
  if grep -q "Non-2xx" "$work/wrk.txt"; then cat "$work/wrk.txt"; echo "wrk saw failed requests" >&2; exit 1; fi
  wrk_runs+=("$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")")
  reset_tables
  direct_runs+=("$(pgbench_tps nile_reset 8 on)")
  log "round $round: shim ${wrk_runs[-1]} req/s, direct ${direct_runs[-1]} tps"
done
wrk_rps=$(mean "${wrk_runs[@]}")
direct_tps=$(mean "${direct_runs[@]}")
stop_sender

python3 bench/report.py "$results" "$latency" "$smtp_rate" "$wrk_rps" "$direct_tps" \
  "$file_rate" "$mass" "$mass_queue" "$mass_deliver" | tee "$work/report.md"

# Account enumeration by timing (docs/security.md): the classifier's
# accuracy with the latency floor, and without it as the same run's baseline.
log "timing: can a client tell known emails from unknown ones?"
BENCH_PROFILE=release bash bench/enumeration.sh | tail -n 1 | sed 's/^/with the latency floor (default 50ms): /'
BENCH_PROFILE=release bash bench/enumeration.sh --min-response-time 0 | tail -n 1 | sed 's/^/without it (--min-response-time 0):   /'

# Scaling out (docs/citus.md): the users table distributed
# over a coordinator and two workers, against single-node PostgreSQL 18.
log "Citus: generate_password_token with the users table distributed, against one node"
bash bench/citus.sh | tail -n 6

#!/usr/bin/env bash
# The benchmark behind docs/performance.md (`make bench`).
# Everything is measured in this one run, on this machine, against one local
# cluster: variants are interleaved round by round so drift hits them alike.
#
#   BENCH_SECONDS     seconds per pgbench/wrk run        (default 6)
#   BENCH_ROUNDS      rounds of the interleaved matrix   (default 2)
#   BENCH_EMAILS      emails per sender-throughput run   (default 20000)
#   BENCH_MASS        resets of the breach-response run  (default 100000)
#   BENCH_CALLS       calls per function counted by pg_stat_statements
#                     (default 200)
#   BENCH_RESET_POOL  tokens issued before each reset run, one per reset
#                     (default 2500 per second of BENCH_SECONDS)
#   BENCH_PAIRS       pairs of short runs behind each target's ratio
#                     (default 6)
#   BENCH_SLICE       seconds per run of a pair                (default 2)
#   BENCH_LEAD        seconds every pgbench/wrk run runs before it is
#                     measured (default 1: the sender's poll interval)
#   BENCH_STEPS       the steps to run, of: matrix calls paired statements
#                     wakeup sender breach shim enumeration citus (default:
#                     all).
#                     Only a run of all of them becomes the "previous run"
#                     of the targets table.
#
# The SMTP server is Postfix's smtp-sink (a fast C one: the sender, not the
# server, is what is measured), installed from Debian's postfix package when
# missing, configured "No configuration" so that no MTA starts.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh
. bench/lib.sh

all_steps="matrix calls paired statements wakeup sender breach shim enumeration citus"
steps=" ${BENCH_STEPS:-$all_steps} "
for step in $steps; do
  case " $all_steps " in *" $step "*) ;; *) echo "unknown step in BENCH_STEPS: $step (steps: $all_steps)" >&2; exit 2 ;; esac
done
has_step() { [[ $steps == *" $1 "* ]]; }
seconds=${BENCH_SECONDS:-6}
rounds=${BENCH_ROUNDS:-2}
emails=${BENCH_EMAILS:-20000}
mass=${BENCH_MASS:-100000}
calls=${BENCH_CALLS:-200}
pairs=${BENCH_PAIRS:-6}
slice=${BENCH_SLICE:-2}
lead=${BENCH_LEAD:-1}
# The users of the verify rows, u1..u<verify_users>, each with a token; the
# reset pools use the users after them.
verify_users=10000
reset_pool=${BENCH_RESET_POOL:-$(((seconds + lead) * 2500))}
if [ $((verify_users + reset_pool)) -gt 100000 ]; then
  echo "BENCH_RESET_POOL is at most $((100000 - verify_users)) (the seeded users after the verify rows' ones)" >&2
  exit 2
fi
port=${NILE_RESET_BENCH_PORT:-$BENCH_PORT}
datadir=$PROJECT_ROOT/target/bench-cluster
work=$PROJECT_ROOT/target/bench
db=bench
dsn="postgres://postgres@127.0.0.1:$port/$db"
mkdir -p "$work"
results=$work/results.tsv
paired=$work/paired.tsv
facts=$work/facts.tsv
statements=$work/statements.tsv
: >"$results"
: >"$paired"
: >"$statements"
fact() { printf '%s\t%s\n' "$1" "$2" >>"$facts"; }
: >"$facts"
fact started "$(date -u '+%Y-%m-%d %H:%M UTC')"
fact pairs "$pairs"
fact slice "$slice"
fact lead "$lead"
fact seconds "$seconds"
fact rounds "$rounds"
fact calls "$calls"
read -ra step_list <<<"$steps"
fact steps "${step_list[*]}"

bash scripts/setup.sh
if ! command -v smtp-sink >/dev/null; then
  log "installing Postfix's smtp-sink (package postfix, no MTA configured)"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >/dev/null
fi
pg_bin=$(bench_bin "$work")
# A cluster left running by an interrupted run uses the installation about
# to be replaced.
if [ -x "$pg_bin/pg_ctl" ]; then stop_cluster "$pg_bin" "$datadir"; fi
log "building release binaries (the extension into a private copy of PostgreSQL $PG_MAJOR)"
bench_installation release "$work"
cargo build --release -q -p nile_reset_shim
bin=$PROJECT_ROOT/target/release/nile-reset

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_cluster "$pg_bin" "$datadir"
}
trap cleanup EXIT

# pg_stat_statements is loaded for the statements-per-call column, but
# tracks nothing unless a session asks (compute_query_id and track are
# superuser settings): the measured sessions run as they would without it.
rm -rf "$datadir"
start_cluster "$pg_bin" "$datadir" "$port" "shared_preload_libraries = 'pg_stat_statements'
compute_query_id = off
pg_stat_statements.track = none"
q() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"; }
psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
log "seeding 100k users, each with a password (bcrypt, cost 4)"
q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION nile_reset;
CREATE EXTENSION pg_stat_statements;
SELECT auth.use_nile_users() \g /dev/null
\i bench/peer.sql
SELECT auth.add_trusted_origin('http://localhost:3000') \g /dev/null
INSERT INTO users.users (email, name) SELECT 'u' || g || '@example.com', 'User ' || g FROM generate_series(1, 100000) g;
-- Users who reset have a password: the resets update their credential.
INSERT INTO auth.credentials (user_id, method, provider, payload)
SELECT u.id, 'EMAIL_PASSWORD', 'nile', jsonb_build_object('crypt', 'crypt-bf/4', 'hash', h.hash, 'email', u.email)
  FROM users.users u, (SELECT bench.crypt('seeded password', bench.gen_salt('bf', 4)) AS hash) h;
-- Requests for the same user in quick succession must all do the work.
ALTER DATABASE bench SET nile_reset.min_resend_interval = 0;
-- Resets measure the work around the hash, not bcrypt's (cost 10 by default).
ALTER DATABASE bench SET nile_reset.bcrypt_cost = 4;
VACUUM ANALYZE;
SQL

# Every sender delivers into smtp-sink, as a production sender into its relay:
# nothing it sends touches the disk. (Until 2026-12-04 the senders running
# beside the measured steps used the file transport: a file per email, whose
# writeback competed with the WAL flushes of every synchronous_commit = on
# row, and how much depended on how many such files the run had written
# before.)
smtp_port=$BENCH_SMTP_PORT
smtp_flags=(--transport smtp --smtp-url "smtp://127.0.0.1:$smtp_port")
smtp-sink -u nobody "127.0.0.1:$smtp_port" 1024 >"$work/smtp-sink.log" 2>&1 &
pids+=("$!")

start_sender() {
  "$bin" send --database-url "$dsn" "${smtp_flags[@]}" \
    --poll-interval 1s --batch-size 100 >"$work/sender.log" 2>&1 &
  sender_pid=$!
  pids+=("$sender_pid")
}
stop_sender() { kill "$sender_pid" 2>/dev/null || true; wait "$sender_pid" 2>/dev/null || true; }

reset_tables() {
  q -c "TRUNCATE nile_reset.email_outbox, nile_reset.verification_tokens, bench.lean_outbox, bench.lean_tokens" -c "CHECKPOINT"
}

# One pgbench run; prints tps. A failed transaction fails the benchmark.
# Only the last $seconds of the run count (its per-second progress lines):
# the first $lead are a lead-in. In it every variant's sessions make their
# first calls (a session's first call loads the configuration and plans its
# statements; the plan cache makes custom plans for the next few), and the
# sender, asleep after the tables were emptied, finds the run's first rows:
# at once when the variant wakes it, at its next poll (every second) when
# not. Counted, that second compares a variant whose emails the sender is
# already sending with one whose emails it has not started on.
pgbench_tps() { # script clients sync_commit [extra PGOPTIONS [pgbench options...]]
  local script=$1 clients=$2 sync=$3 extra=${4:-}
  shift $(($# < 4 ? $# : 4))
  local threads=$((clients < 2 ? clients : 2))
  if ! PGOPTIONS="-c synchronous_commit=$sync $extra" \
    pgbench -n -h 127.0.0.1 -p "$port" -U postgres -c "$clients" -j "$threads" -T "$((lead + seconds))" -P 1 "$@" \
    -f "bench/$script.pgbench" "$db" >"$work/pgbench.txt" 2>&1; then
    tail -n 20 "$work/pgbench.txt" >&2
    echo "pgbench failed: $script, $clients client(s), synchronous_commit=$sync" >&2
    return 1
  fi
  if [ "$lead" = 0 ]; then
    awk '/^tps/ {print $3; exit}' "$work/pgbench.txt"
    return
  fi
  tps_after_lead "$lead" "$seconds" "$work/pgbench.txt"
}
record() { # round sync clients variant tps
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"
  log "round $1 sync=$2 clients=$3 $4: $5 tps"
}

# Tokens for users u<first>..: issued through auth.generate_password_link
# and kept in bench.tokens under purpose. The tables are vacuumed and
# analyzed at once, as autovacuum would soon after: otherwise it does so
# during whichever run comes first after the issue.
issue_tokens() { # purpose first count
  local issued
  issued=$(q -tA -c "SELECT bench.issue_tokens('$1', $2, $3)")
  [ "$issued" = "$3" ] || { echo "issued $issued of $3 $1 tokens" >&2; exit 1; }
  q -c "VACUUM ANALYZE nile_reset.verification_tokens, bench.tokens"
}
# verify_wrong's answer for every user it picks from is 'invalid'.
wrong_token=$(printf '0%.0s' {1..64})
check_wrong_tokens() {
  local others
  others=$(q -tA -c "SELECT count(*) FROM generate_series(1, $verify_users) g,
      auth.verify_password_token('u' || g || '@example.com', '$wrong_token') v WHERE v.status <> 'invalid'")
  [ "$others" = 0 ] || { echo "verify with a wrong token answered other than invalid $others time(s)" >&2; exit 1; }
}

# The generate matrix: sync modes x client counts x variants.
matrix_round() { # round
  local round=$1 sync clients variant tps
  for sync in on off; do
    for clients in 1 8 32; do
      for variant in nile_reset peer lean_peer floor nile_reset_no_wakeups; do
        reset_tables
        case $variant in
          nile_reset_no_wakeups) tps=$(pgbench_tps nile_reset "$clients" "$sync" "-c nile_reset.wakeups=off") ;;
          *) tps=$(pgbench_tps "$variant" "$clients" "$sync") ;;
        esac
        record "$round" "$sync" "$clients" "$variant" "$tps"
      done
    done
  done
}

# Verify and reset, 1 client, synchronous_commit off (the work of the call,
# not the commit's flush), with their baselines, and generate and the floor
# with a new connection for every call: verify with a wrong token
# (u1..u10000 all hold one) against one indexed SELECT on the token table,
# both with the identifier in a literal (pgbench substitutes :id inside
# quotes too), as an application passes it, and each reading one column as
# an application does (verify's answers are checked before the runs, not by
# an expression in the measured statement); verify with u1's right token,
# which it does not consume; reset_password against the PL/pgSQL + pgcrypto
# peer, each with a fresh pool of tokens (one per transaction, handed out in
# order by a sequence).
calls_round() { # round
  local round=$1 variant tps right used
  reset_tables
  issue_tokens verify 1 "$verify_users"
  check_wrong_tokens
  right=$(q -tA -F ' ' -c "SELECT identifier, token FROM bench.tokens WHERE purpose = 'verify' AND n = 1")
  for variant in verify_wrong token_select verify_right reset peer_reset nile_reset_connect floor_connect; do
    case $variant in
      # What the lead-in leaves out, on its own: every call a new
      # connection's first (pgbench -C), the call's own work and the start of
      # a session around it.
      nile_reset_connect | floor_connect)
        reset_tables
        tps=$(pgbench_tps "${variant%_connect}" 1 off "" -C)
        ;;
      verify_right)
        [ "$(q -tA -c "SELECT status FROM auth.verify_password_token('${right% *}', '${right#* }')")" = valid ] ||
          { echo "the verify row's token is not valid" >&2; exit 1; }
        tps=$(pgbench_tps verify_right 1 off "" -D "identifier=${right% *}" -D "token=${right#* }")
        ;;
      reset | peer_reset)
        issue_tokens reset $((verify_users + 1)) "$reset_pool"
        q -c "SELECT setval('bench.reset_next', 1, false)" -c "CHECKPOINT" >/dev/null
        tps=$(pgbench_tps "$variant" 1 off)
        used=$(q -tA -c "SELECT last_value FROM bench.reset_next")
        if [ "$used" -ge "$reset_pool" ]; then
          echo "$variant used up its $reset_pool tokens: raise BENCH_RESET_POOL" >&2
          exit 1
        fi
        ;;
      *) tps=$(pgbench_tps "$variant" 1 off) ;;
    esac
    record "$round" off 1 "$variant" "$tps"
  done
}

if has_step matrix || has_step calls; then
  log "throughput: $rounds round(s) of the generate matrix (2 sync modes x 3 client counts x 5 variants)" \
    "and the verify, reset and new-connection rows (7 at 1 client), as BENCH_STEPS selects, ${seconds}s each"
  start_sender
  for round in $(seq "$rounds"); do
    if has_step matrix; then matrix_round "$round"; fi
    if has_step calls; then calls_round "$round"; fi
  done
  stop_sender
fi

# The targets' ratios, each from $pairs pairs of ${slice}-second runs back to
# back, the order alternating (A B, B A, ...). This machine's speed drifts
# by tens of percent over tens of seconds; the two runs of a pair share
# that drift, so the median of the pairs' ratios holds where a ratio of
# means taken minutes apart (the matrix's) swings with it. The sender runs,
# as in the matrix.
paired_run() { # variant clients sync: calls/s of one short pgbench run
  local variant=$1 clients=$2 sync=$3
  # pgbench_tps runs for $seconds: this call's are the slice's.
  local seconds=$slice
  case $variant in
    verify_wrong | token_select) ;; # they read the tokens issued before
    *) reset_tables ;;
  esac
  case $variant in
    nile_reset_no_wakeups) pgbench_tps nile_reset "$clients" "$sync" "-c nile_reset.wakeups=off" ;;
    *) pgbench_tps "$variant" "$clients" "$sync" ;;
  esac
}
paired_ratio() { # target A B run [run's arguments after the variant]: "$run" A ..., "$run" B ...
  local target=$1 a=$2 b=$3 run=$4 pair ta tb
  shift 4
  for pair in $(seq "$pairs"); do
    if [ $((pair % 2)) = 1 ]; then
      ta=$("$run" "$a" "$@")
      tb=$("$run" "$b" "$@")
    else
      tb=$("$run" "$b" "$@")
      ta=$("$run" "$a" "$@")
    fi
    printf '%s\t%s\t%s\t%s\n' "$target" "$pair" "$ta" "$tb" >>"$paired"
    log "pair $pair of $target: $a $ta, $b $tb"
  done
}
if has_step paired; then
  log "the targets' ratios: $pairs pairs of ${slice}s runs each, back to back"
  start_sender
  paired_ratio generate_peer nile_reset peer paired_run 1 off
  paired_ratio generate_floor nile_reset floor paired_run 1 off
  paired_ratio generate_lean nile_reset lean_peer paired_run 1 off
  paired_ratio generate_32_floor nile_reset floor paired_run 32 off
  paired_ratio wakeups_32 nile_reset nile_reset_no_wakeups paired_run 32 on
  reset_tables
  issue_tokens verify 1 "$verify_users"
  check_wrong_tokens
  paired_ratio verify_wrong verify_wrong token_select paired_run 1 off
  stop_sender
fi

# Statements per call: pg_stat_statements with track = all in one session
# (and nowhere else), $warmup warm-up calls (the plan cache makes custom
# plans for the first five executions of a statement, then a generic one),
# then $calls calls, each its own top-level statement; the statements they
# run inside the database (every entry but the top-level ones) divided by
# $calls. :n in the call is the call's number: 1..$calls, then the
# warm-ups' numbers after them.
warmup=10
count_statements() { # name call
  local name=$1 call=$2 i per_call
  per_call=$({
    echo "SET compute_query_id = on;"
    echo "SET pg_stat_statements.track = 'all';"
    echo "\\o /dev/null"
    for i in $(seq $((calls + 1)) $((calls + warmup))); do echo "${call//:n/$i};"; done
    echo "SELECT pg_stat_statements_reset();"
    for i in $(seq "$calls"); do echo "${call//:n/$i};"; done
    echo "SET pg_stat_statements.track = 'none';"
    echo "\\o"
    echo "SELECT round(coalesce(sum(calls) FILTER (WHERE NOT toplevel), 0)::numeric / $calls, 1) FROM pg_stat_statements;"
  } | q -tA)
  printf '%s\t%s\n' "$name" "$per_call" >>"$statements"
  log "statements per call, $name: $per_call"
}
if has_step statements; then
  log "statements per call: $calls calls of each function, counted by pg_stat_statements"
  start_sender
  reset_tables
  urls="'http://localhost:3000/done', 'http://localhost:3000/reset'"
  count_statements nile_reset "SELECT created FROM auth.generate_password_token('u:n@example.com', $urls)"
  count_statements peer "SELECT created FROM bench.peer_generate_password_token('u:n@example.com', $urls)"
  count_statements lean_peer "SELECT created FROM bench.lean_generate_password_token('u:n@example.com', $urls)"
  count_statements floor "SELECT bench.floor_two_writes('u:n@example.com')"
  reset_tables
  issue_tokens verify 1 "$verify_users"
  count_statements verify_wrong \
    "SELECT status FROM auth.verify_password_token('u:n@example.com', '$wrong_token')"
  count_statements verify_right "SELECT v.status FROM bench.tokens t, auth.verify_password_token(t.identifier, t.token) v
     WHERE t.purpose = 'verify' AND t.n = 1"
  for variant in reset peer_reset; do
    function=auth.reset_password
    if [ "$variant" = peer_reset ]; then function=bench.peer_reset_password; fi
    issue_tokens reset $((verify_users + 1)) $((calls + warmup))
    count_statements "$variant" "SELECT $function(t.identifier, t.token, 'bench password :n')
       FROM bench.tokens t WHERE t.purpose = 'reset' AND t.n = :n"
  done
  stop_sender
fi

if has_step wakeup; then
  log "wake-up latency with an idle sender: 200 requests at 20/s, commit to sent"
  start_sender
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
  fact wakeup "$latency"
fi

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
  local count=$1
  shift
  reset_tables
  rm -rf "$work/mail"
  [ "$(queue_resets "$count")" = "$count" ] || { echo "not every reset was queued" >&2; exit 1; }
  local start
  start=$(now)
  RUST_LOG=warn "$bin" send --database-url "$dsn" "${fast_flags[@]}" "$@" >"$work/sender-rate.log" 2>&1 &
  sender_pid=$!
  pids+=("$sender_pid")
  wait_drained
  local end
  end=$(now)
  stop_sender
  local sent
  sent=$(q -tA -c "SELECT count(*) FROM nile_reset.email_outbox WHERE sent_at IS NOT NULL")
  [ "$sent" = "$count" ] || { echo "sent $sent of $count" >&2; exit 1; }
  awk -v n="$sent" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }'
}
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.0f", s / NR }'; }

if has_step sender; then
  log "sender throughput: $emails queued emails, SMTP (smtp-sink) and file transport, interleaved"
  smtp_runs=()
  file_runs=()
  for round in $(seq "$rounds"); do
    smtp_runs+=("$(delivery_rate "$emails" "${smtp_flags[@]}")")
    file_runs+=("$(delivery_rate "$emails" --transport file --outbox-dir "$work/mail")")
    log "round $round: SMTP ${smtp_runs[-1]} emails/s, file ${file_runs[-1]} emails/s"
  done
  fact smtp_rate "$(mean "${smtp_runs[@]}")"
  fact file_rate "$(mean "${file_runs[@]}")"
fi

if has_step breach; then
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
  fact mass "$mass"
  fact mass_queue "$(seconds_between "$start" "$committed")"
  fact mass_deliver "$(seconds_between "$committed" "$delivered")"
  log "queued in $(seconds_between "$start" "$committed")s, delivered $(seconds_between "$committed" "$delivered")s after the commit"
fi

if has_step shim; then
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
  shim_pid=$!
  pids+=("$shim_pid")
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$admin_port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
  cookie=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$http_port/v2/databases/$db/auth/csrf" |
    awk -F': ' 'tolower($1) == "set-cookie" { split($2, c, ";"); print c[1]; exit }')
  # CPU per request over each measured run: the whole machine's (PostgreSQL,
  # the shim, the load generator, the sender: everything the two cores ran)
  # and the shim's own. When the cores are the limit, the throughput ratio
  # comes to about the inverse of the two sides' machine CPU per request.
  clock_ticks=$(getconf CLK_TCK)
  busy_us() { awk -v hz="$clock_ticks" '/^cpu / { printf "%.0f\n", ($2 + $3 + $4 + $7 + $8) * 1e6 / hz; exit }' /proc/stat; }
  shim_us() { cat /proc/"$shim_pid"/task/*/schedstat | awk '{ ns += $1 } END { printf "%.0f\n", ns / 1000 }'; }
  : >"$work/shim_cpu.tsv"
  cpu_per_request() { # side rate busy_before busy_after shim_before shim_after
    awk -v side="$1" -v rate="$2" -v busy=$(($4 - $3)) -v shim=$(($6 - $5)) -v seconds="$slice" \
      'BEGIN { n = rate * seconds; printf "%s\t%.1f\t%.1f\n", side, busy / n, shim / n }' >>"$work/shim_cpu.tsv"
  }
  # In pairs, like the paired step: the shim under wrk, the call through
  # pgbench (8 clients).
  shim_or_direct_run() { # shim | direct: requests or calls per second
    local busy_before busy_after shim_before shim_after rate
    if [ "$1" = direct ]; then
      reset_tables
      # The measured seconds start after the lead-in: sample then.
      (sleep "$lead" && busy_us >"$work/busy_before" && shim_us >"$work/shim_before") &
      local sampler=$! seconds=$slice
      rate=$(pgbench_tps nile_reset 8 on)
      wait "$sampler"
      busy_after=$(busy_us)
      shim_after=$(shim_us)
      cpu_per_request direct "$rate" "$(cat "$work/busy_before")" "$busy_after" "$(cat "$work/shim_before")" "$shim_after"
      echo "$rate"
      return
    fi
    reset_tables
    # wrk has no lead-in of its own: a run of $lead seconds goes first, the
    # same requests, uncounted (pgbench_tps's lead-in, above).
    local duration
    for duration in $lead $slice; do
      [ "$duration" = 0 ] && continue
      busy_before=$(busy_us)
      shim_before=$(shim_us)
      COOKIE="$cookie" wrk -t 2 -c 8 -d "${duration}s" -s bench/reset_password.lua \
        "http://127.0.0.1:$http_port/v2/databases/$db/auth/reset-password" >"$work/wrk.txt"
      busy_after=$(busy_us)
      shim_after=$(shim_us)
      # Every answer must be 201 (created) for the comparison to mean anything.
      if grep -q "Non-2xx" "$work/wrk.txt"; then cat "$work/wrk.txt"; echo "wrk saw failed requests" >&2; exit 1; fi
    done
    rate=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
    cpu_per_request shim "$rate" "$busy_before" "$busy_after" "$shim_before" "$shim_after"
    echo "$rate"
  }
  paired_ratio shim shim direct shim_or_direct_run
  fact wrk_rps "$(awk -F '\t' '$1 == "shim" { s += $3; n++ } END { printf "%.0f", s / n }' "$paired")"
  fact direct_tps "$(awk -F '\t' '$1 == "shim" { s += $4; n++ } END { printf "%.0f", s / n }' "$paired")"
  fact shim_cpu "$(awk -F '\t' '$1 == "shim" { b += $2; s += $3; n++ } END { printf "%.1f\t%.1f", b / n, s / n }' "$work/shim_cpu.tsv")"
  fact direct_cpu "$(awk -F '\t' '$1 == "direct" { b += $2; n++ } END { printf "%.1f", b / n }' "$work/shim_cpu.tsv")"
  stop_sender
fi

# The targets table compares with the previous complete run.
python3 bench/report.py "$work" | tee "$work/report.md"
if [ "$steps" = " $all_steps " ]; then cp "$work/targets.tsv" "$work/previous.tsv"; fi

# Account enumeration by timing (docs/security.md): for the reset request
# (POST) and the link check (GET), the classifier's accuracy with the
# latency floor, and without it as the same run's baseline.
if has_step enumeration; then
  log "timing: can a client tell known emails from unknown ones, or identifiers with a token from those without?"
  rm -f "$work/enumeration.tsv"
  BENCH_PG_BIN=$pg_bin ENUM_SUMMARY=$work/enumeration.tsv ENUM_LABEL="50 ms (default)" \
    bash bench/enumeration.sh >"$work/enumeration-floor.txt"
  BENCH_PG_BIN=$pg_bin ENUM_SUMMARY=$work/enumeration.tsv ENUM_LABEL="0 (off)" \
    bash bench/enumeration.sh --min-response-time 0 >"$work/enumeration-no-floor.txt"
  python3 bench/enumeration.py --table "$work/enumeration.tsv" | tee -a "$work/report.md"
fi

# Scaling out (docs/citus.md): the users table distributed
# over a coordinator and two workers, against single-node PostgreSQL 18.
if has_step citus; then
  log "Citus: generate_password_token with the users table distributed, against one node"
  # Its table (a blank line, then the rows) joins the report too.
  bash bench/citus.sh | tail -n 6 | tee -a "$work/report.md"
fi

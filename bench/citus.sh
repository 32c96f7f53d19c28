#!/usr/bin/env bash
# The Citus row of `make bench`: auth.generate_password_token calls/s with
# the application's users table distributed over a coordinator and two
# workers, against single-node PostgreSQL, both PostgreSQL 18 from the same
# installation (release build), measured in this run, interleaved round by
# round. Single node: a Devise-style users table with an index on
# lower(email). Citus: the same table distributed by id, and an email lookup
# table distributed by email (docs/citus.md); then the
# lookup as a reference table (a copy on every node, read on the coordinator).
#
#   BENCH_SECONDS  seconds per pgbench run       (default 6)
#   BENCH_ROUNDS   rounds                        (default 2)
#   BENCH_CLIENTS  pgbench clients               (default 8)
# Ports: BENCH_CITUS_PORT and BENCH_SINGLE_PORT of scripts/common.sh.
# Prints a table; says so and exits 0 without Citus.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh
. scripts/citus_lib.sh

seconds=${BENCH_SECONDS:-6}
rounds=${BENCH_ROUNDS:-2}
clients=${BENCH_CLIENTS:-8}
users=100000
use_pg_major 18
work=$PROJECT_ROOT/target/bench-citus
prefix=$work/postgresql
bin=$prefix${PG_BIN#"$PG_PREFIX"}
pg_config=$prefix${PG_CONFIG#"$PG_PREFIX"}
citus_port=$BENCH_CITUS_PORT
single_port=$BENCH_SINGLE_PORT

if ! reason=$(build_citus); then
  echo "Citus: not measured: $reason"
  exit 0
fi
ensure_pg_copy
log "building the extension (release) for PostgreSQL 18"
rm -rf "$work/package"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$work/package" >/dev/null
collect_package "$work/package" "$PG_CONFIG" "$work/files"

if [ -x "$bin/pg_ctl" ]; then
  citus_stop "$bin" "$work/citus"
  stop_cluster "$bin" "$work/single"
fi
rm -rf "$work/citus" "$work/single"
private_installation "$prefix"
install_citus "$pg_config"
install_files "$work/files" "$pg_config"

citus_start "$bin" "$work/citus" "$citus_port"
start_cluster "$bin" "$work/single" "$single_port"
trap 'citus_stop "$bin" "$work/citus"; stop_cluster "$bin" "$work/single"' EXIT
"$bin/psql" -X -q -h 127.0.0.1 -p "$single_port" -U postgres -d postgres -c "CREATE DATABASE $CITUS_DB"

q() { # port: psql on that node, script on stdin
  "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d "$CITUS_DB"
}
seed() { # port distributed(true|false)
  q "$1" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION nile_reset;
CREATE TABLE public.users (
    id                 bigserial PRIMARY KEY,
    email              character varying NOT NULL,
    encrypted_password character varying NOT NULL DEFAULT '');
CREATE TABLE public.user_emails (email text PRIMARY KEY, user_id bigint NOT NULL);
\\if $2
SELECT create_distributed_table('public.users', 'id') \\g /dev/null
SELECT create_distributed_table('public.user_emails', 'email') \\g /dev/null
\\else
CREATE INDEX users_lower_email ON public.users (lower(email));
\\endif
INSERT INTO public.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, $users) g;
SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt') \\g /dev/null
\\if $2
INSERT INTO public.user_emails SELECT lower(email), id FROM public.users;
CREATE TABLE public.user_emails_everywhere (email text PRIMARY KEY, user_id bigint NOT NULL);
SELECT create_reference_table('public.user_emails_everywhere') \\g /dev/null
INSERT INTO public.user_emails_everywhere SELECT email, user_id FROM public.user_emails;
SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id') \\g /dev/null
SELECT * FROM auth.use_citus() \\g /dev/null
\\endif
SELECT auth.add_trusted_origin('http://localhost:3000') \\g /dev/null
-- Requests for the same user in quick succession must all do the work.
ALTER DATABASE $CITUS_DB SET nile_reset.min_resend_interval = 0;
VACUUM ANALYZE;
SQL
}
log "seeding $users users on a single node and on the Citus cluster"
seed "$single_port" false
seed "$citus_port" true

tps() { # port
  echo "TRUNCATE nile_reset.email_outbox, nile_reset.verification_tokens; CHECKPOINT;" | q "$1"
  "$bin/pgbench" -n -h 127.0.0.1 -p "$1" -U postgres -c "$clients" -j 2 -T "$seconds" \
    -f bench/nile_reset.pgbench "$CITUS_DB" 2>/dev/null | awk '/^tps/ {print $3; exit}'
}
lookup() { # table: the Citus cluster's email lookup
  echo "SELECT auth.use_email_lookup('public.$1', 'email', 'user_id') \\g /dev/null" | q "$citus_port"
}
single_runs=()
citus_runs=()
reference_runs=()
for round in $(seq "$rounds"); do
  single_runs+=("$(tps "$single_port")")
  lookup user_emails
  citus_runs+=("$(tps "$citus_port")")
  lookup user_emails_everywhere
  reference_runs+=("$(tps "$citus_port")")
  log "round $round: single node ${single_runs[-1]} calls/s, Citus ${citus_runs[-1]} calls/s, with a reference lookup ${reference_runs[-1]} calls/s"
done
mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.0f", s / NR }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
single=$(mean "${single_runs[@]}")
citus=$(mean "${citus_runs[@]}")
reference=$(mean "${reference_runs[@]}")
ratio=$(ratio "$citus" "$single")
met=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5 ? "met" : "missed") }')
echo
echo "| generate_password_token, $clients clients, PostgreSQL 18 | calls/s | vs single node |"
echo "|---|---|---|"
echo "| single node, index on lower(email) (baseline) | $single | 1.00x |"
echo "| Citus, users distributed by id, lookup distributed by email (target >= 0.5x) | $citus | ${ratio}x ($met) |"
echo "| Citus, users distributed by id, lookup a reference table | $reference | $(ratio "$reference" "$single")x |"

#!/usr/bin/env bash
# Sets everything up and runs nile_reset locally:
#   a PostgreSQL 15 cluster (target/cluster, port 28815) with the extension,
#   a demo user and trusted origin, a reset token generated in SQL and its
#   queued email shown.
# Safe to run again. `scripts/run.sh stop` stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

datadir=$PROJECT_ROOT/target/cluster
port=${NILE_RESET_PORT:-28815}
db=nile_reset_demo
psql_demo() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"; }

if [ "${1:-}" = stop ]; then
  bash scripts/cluster.sh stop "$datadir" "$port"
  log "stopped"
  exit 0
fi

bash scripts/setup.sh
log "building and installing the extension"
cargo pgrx install --pg-config "$PG_CONFIG" >/dev/null
bash scripts/cluster.sh start "$datadir" "$port"

psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db"

log "seeding the demo user and trusted origin"
psql_demo <<'SQL'
-- The demo database is rebuilt on every run, so it always matches the
-- extension just installed.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nile_reset CASCADE;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000') \g /dev/null
INSERT INTO users.users (email, name) VALUES ('demo@example.com', 'Demo User');
SQL

log "generating a reset token in SQL"
psql_demo <<'SQL'
\echo
\echo SELECT * FROM auth.generate_password_token('demo@example.com', 'http://localhost:3000/done', 'http://localhost:3000/reset-password');
SELECT * FROM auth.generate_password_token('demo@example.com', 'http://localhost:3000/done',
                                           'http://localhost:3000/reset-password');
\echo The queued email (auth.email_outbox):
SELECT id, kind, recipient, subject, body FROM auth.email_outbox ORDER BY id DESC LIMIT 1 \gx
SQL

cat <<INFO

PostgreSQL is running on 127.0.0.1:$port (database $db, user postgres):
  psql -h 127.0.0.1 -p $port -U postgres $db
Stop everything with: scripts/run.sh stop
INFO

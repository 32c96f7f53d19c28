#!/usr/bin/env bash
# Sets everything up and runs nile_reset locally:
#   a PostgreSQL 15 cluster (target/cluster, port $DEMO_PORT of
#   scripts/common.sh, or $NILE_RESET_PORT) with the extension,
#   a demo user and trusted origin; the HTTP shim (127.0.0.1:8080, with its
#   reference pages) and the email sender writing .eml files to
#   target/run/mail; then a reset token generated in SQL, its email delivered
#   as a file, and the link in it, which opens the shim's reset page.
# Safe to run again (it restarts what it started). `scripts/run.sh stop`
# stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

datadir=$PROJECT_ROOT/target/cluster
port=${NILE_RESET_PORT:-$DEMO_PORT}
http_port=${NILE_RESET_HTTP_PORT:-8080}
# /healthz and /metrics: on their own port, never the public one.
admin_port=${NILE_RESET_ADMIN_PORT:-8081}
db=nile_reset_demo
dsn="postgres://postgres@127.0.0.1:$port/$db"
run=$PROJECT_ROOT/target/run
# The reference pages (serve --pages) of the demo database.
pages="http://127.0.0.1:$http_port/v2/databases/$db/auth/pages"
psql_demo() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"; }

stop_service() { # name
  local pidfile=$run/$1.pid
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill -TERM "$(cat "$pidfile")"
    for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$pidfile"
}

if [ "${1:-}" = stop ]; then
  stop_service shim
  stop_service sender
  stop_cluster "$PG_BIN" "$datadir"
  log "stopped"
  exit 0
fi

bash scripts/setup.sh
# Release builds, as users run them: a debug build hashes passwords several
# times slower, and takes its time out of serve's request timeout.
log "building (release) and installing the extension and nile-reset"
pgrx_install --release
cargo build --quiet --release -p nile_reset_shim --bin nile-reset
bin=$PROJECT_ROOT/target/release/nile-reset
stop_service shim
stop_service sender
start_cluster "$PG_BIN" "$datadir" "$port"

# The demo database is made anew on every run, so it always matches the
# extension just installed; Nile's user tables are application data that
# DROP EXTENSION keeps, so a kept database would already hold the demo users.
for statement in "DROP DATABASE IF EXISTS $db WITH (FORCE)" "CREATE DATABASE $db"; do
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$statement"
done

log "seeding the demo user and trusted origin"
psql_demo <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000') \g /dev/null
-- The demo keeps its users in Nile's tables (users.users, auth.credentials).
SELECT auth.use_nile_users() \g /dev/null
INSERT INTO users.users (email, name) VALUES ('demo@example.com', 'Demo User'), ('jane@example.com', 'Jane');
SQL
# The shim's own origin, under both names a browser may use: its pages' reset
# links and done page live there.
for origin in "http://127.0.0.1:$http_port" "http://localhost:$http_port"; do
  psql_demo -c "SELECT auth.add_trusted_origin('$origin')" >/dev/null
done

# Demo secrets, made once and kept out of argv: the cookie secret and an API
# key for ?json=true.
mkdir -p "$run"
chmod 700 "$run"
[ -s "$run/secret" ] || od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$run/secret"
[ -s "$run/api-key" ] || od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$run/api-key"

log "starting the email sender (file transport: $run/mail)"
NILE_RESET_DATABASE_URL=$dsn setsid "$bin" send --transport file --outbox-dir "$run/mail" \
  --poll-interval 5s >"$run/sender.log" 2>&1 < /dev/null &
echo $! >"$run/sender.pid"

log "starting the HTTP shim on 127.0.0.1:$http_port"
NILE_RESET_DATABASES="$db=$dsn" NILE_RESET_PAGES=true setsid "$bin" serve --listen "127.0.0.1:$http_port" \
  --admin-listen "127.0.0.1:$admin_port" --secret-file "$run/secret" --api-keys-file "$run/api-key" >"$run/shim.log" 2>&1 < /dev/null &
echo $! >"$run/shim.pid"
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$admin_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$admin_port/healthz" >/dev/null || { cat "$run/shim.log"; exit 1; }

log "generating a reset token in SQL"
# Printed from here, not with psql's \echo (which drops quotes), so that the
# statements can be pasted as shown.
# The link goes to the shim's reset page, and on from there to its done page.
token_sql="SELECT * FROM auth.generate_password_token('demo@example.com', '$pages/done', '$pages/reset-password');"
outbox_sql="SELECT id, kind, recipient, subject, body FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1;"
printf '\n%s\n' "$token_sql"
psql_demo -c "$token_sql"
printf 'The queued email:\n%s\n' "$outbox_sql"
psql_demo -x -c "$outbox_sql"

log "waiting for the sender to deliver it"
for _ in $(seq 100); do
  ls "$run/mail"/*.eml >/dev/null 2>&1 && break
  sleep 0.1
done
eml=$(find "$run/mail" -name '*.eml' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d' ' -f2-)
[ -n "$eml" ] || { echo "no email was delivered; see $run/sender.log" >&2; exit 1; }
echo "The email as delivered ($eml):"
sed 's/^/    /' "$eml"
# The link as the reader sees it: the body decoded (quoted-printable folds
# long lines and escapes '=').
link=$(python3 - "$eml" <<'PY'
import email
import email.policy
import re
import sys

with open(sys.argv[1], "rb") as file:
    message = email.message_from_binary_file(file, policy=email.policy.default)
body = message.get_body(preferencelist=("plain",))
found = re.search(r"https?://\S+[?&]token=\S+", body.get_content() if body else "")
print(found.group(0) if found else "")
PY
)
[ -n "$link" ] || { echo "no reset link found in $eml" >&2; exit 1; }

cat <<INFO

Running:
  PostgreSQL   127.0.0.1:$port, database $db, user postgres
               psql -h 127.0.0.1 -p $port -U postgres $db
  HTTP shim    http://127.0.0.1:$http_port  (log: $run/shim.log)
               /healthz and /metrics on http://127.0.0.1:$admin_port
  sender       .eml files in $run/mail  (log: $run/sender.log)

The reset link of that email (open it in a browser to choose demo@example.com's
new password; it works once):
  $link

The "forgot your password?" page (try jane@example.com; the email lands in
$run/mail, the link in it opens the page above):
  $pages/forgot-password

Ask for a reset over HTTP, as Nile's SDK does (CSRF cookie first, then POST):
  curl -s -c /tmp/nile.jar -w '\\n' http://127.0.0.1:$http_port/v2/databases/$db/auth/csrf
  curl -s -b /tmp/nile.jar -o /dev/null -w '%{http_code}\\n' -H 'content-type: application/json' \\
    -d '{"email":"jane@example.com","callbackUrl":"http://localhost:3000/done","redirectUrl":"http://localhost:3000/reset-password"}' \\
    http://127.0.0.1:$http_port/v2/databases/$db/auth/reset-password
  ls $run/mail

Stop everything with: scripts/run.sh stop
INFO

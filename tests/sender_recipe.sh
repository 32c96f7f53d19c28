#!/usr/bin/env bash
# The sender role's grant recipe in docs/outbox.md works as written: its SQL
# block (between the <!-- sender-recipe --> markers) is run as is, then
# `nile-reset send` runs as that role and nothing else against a real SMTP
# server (tests/smtp_sink.py): it starts, delivers a queued email, serves
# /metrics and /healthz, and stops cleanly on SIGTERM, without a permission
# error on the way.
# Needs the extension installed in the checkout's PostgreSQL and the Python
# test tools (scripts/test.sh); builds the nile-reset binary. Ends with
# "sender_recipe: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh

port=$((SENDER_RECIPE_PORT + PG_PORT_OFFSET))
admin_port=$((SENDER_RECIPE_ADMIN_PORT + PG_PORT_OFFSET))
work=$PROJECT_ROOT/target/sender-recipe-pg$PG_MAJOR
datadir=$work/cluster
stop_cluster "$PG_BIN" "$datadir"
rm -rf "$work"
mkdir -p "$work/mail"

sink_pid=
sender_pid=
cleanup() {
  if [ -n "$sender_pid" ]; then kill "$sender_pid" 2>/dev/null || true; fi
  if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; fi
  stop_cluster "$PG_BIN" "$datadir"
}
trap cleanup EXIT

log "building nile-reset"
cargo build -q -p nile_reset_shim
start_cluster "$PG_BIN" "$datadir" "$port"

sql() { # statement, as postgres in the database app
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d app -c "$1"
}
"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE app"
sql "CREATE EXTENSION nile_reset"
sql "SELECT auth.use_nile_users()" >/dev/null
sql "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
sql "INSERT INTO users.users (id, email, name) VALUES ('00000000-0000-0000-0000-0000000000aa', 'ada@example.com', 'Ada')"

# The recipe: the SQL block between the markers, without its fences.
recipe=$(awk '/^<!-- \/sender-recipe -->/ { inside = 0 }
              inside && !/^```/ { print }
              /^<!-- sender-recipe/ { inside = 1 }' docs/outbox.md)
role=$(sed -n 's/^CREATE ROLE \([a-z_]*\) LOGIN;$/\1/p' <<<"$recipe")
check_eq "docs/outbox.md has the sender recipe, which creates a login role" mailer "$role"
check "the recipe runs as written" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d app -c "$recipe"

check_eq "an email is queued" t "$(sql "SELECT created FROM auth.generate_password_token('ada@example.com',
                                         'https://app.example.com/login', 'https://app.example.com/reset')")"

"$VENV/bin/python" tests/smtp_sink.py --out "$work/mail" >"$work/sink.out" 2>"$work/sink.log" &
sink_pid=$!
for _ in $(seq 100); do
  grep -q '^PORT ' "$work/sink.out" && break
  sleep 0.1
done
smtp_port=$(sed -n 's/^PORT //p' "$work/sink.out")

# As the recipe's role and nothing else: the cluster trusts local
# connections, so the URL names the role and no password.
target/debug/nile-reset send \
  --database-url "postgres://$role@127.0.0.1:$port/app" \
  --transport smtp --smtp-url "smtp://127.0.0.1:$smtp_port" \
  --poll-interval 1s --admin-listen "127.0.0.1:$admin_port" >"$work/sender.log" 2>&1 &
sender_pid=$!
for _ in $(seq 300); do
  compgen -G "$work/mail/*.json" >/dev/null && break
  kill -0 "$sender_pid" 2>/dev/null || break
  sleep 0.1
done
delivered=$("$VENV/bin/python" - "$work/mail" <<'PY'
import json, pathlib, sys
messages = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
print(" ".join(",".join(json.loads(m.read_text())["rcpt_tos"]) for m in messages))
PY
)
check_eq "nile-reset send, as $role, delivers the email" ada@example.com "$delivered"
for _ in $(seq 50); do
  [ "$(sql "SELECT count(*) FROM nile_reset.email_outbox WHERE sent_at IS NOT NULL")" = 1 ] && break
  sleep 0.1
done
check_eq "the outbox records it as sent" "1|0" \
  "$(sql "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL) || '|' || count(*) FILTER (WHERE sent_at IS NULL) FROM nile_reset.email_outbox")"
check_eq "/healthz answers 200" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/healthz" || true)"
metrics=$(curl -s "http://127.0.0.1:$admin_port/metrics" || true)
check "/metrics reports the outbox" grep -q '^nile_reset_outbox_pending 0' <<<"$metrics"

if kill -TERM "$sender_pid" 2>/dev/null; then
  status=0
  wait "$sender_pid" || status=$?
else
  status="not running"
fi
sender_pid=
check_eq "SIGTERM stops the sender cleanly" 0 "$status"
check_eq "the sender logged no permission error" "" "$(grep -i 'permission denied\|42501' "$work/sender.log" || true)"
# The sender logs no secrets, recipients or links: its log can be shown.
[ "$checks_failed" -eq 0 ] || { echo "  the sender's log ($work/sender.log):"; head -n 20 "$work/sender.log" | sed 's/^/    /'; }

finish sender_recipe

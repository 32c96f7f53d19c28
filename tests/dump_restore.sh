#!/usr/bin/env bash
# pg_dump -Fc + pg_restore into a new database loses nothing: a database
# with users and passwords, the user-directory configuration, origins, an
# edited template, a template variable, an administrator (auth.grant_admin),
# a live token, a pending and a sent email is dumped and restored; every table and sequence of the extension
# must come back as it was, the token issued before the dump must reset the
# password after the restore, and the whole flow (request, token from the
# outbox, verify, reset) must work in the restored database, with outbox ids
# that continue after the restored ones.
# Needs the extension installed in the checkout's PostgreSQL (scripts/test.sh
# installs it). Ends with "dump_restore: N passed, M failed". Cluster on
# $DUMP_RESTORE_PORT (scripts/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh

port=$((DUMP_RESTORE_PORT + PG_PORT_OFFSET))
work=$PROJECT_ROOT/target/release-tests/dump-restore-pg$PG_MAJOR
datadir=$work/cluster
stop_cluster "$PG_BIN" "$datadir"
rm -rf "$work"
mkdir -p "$work"
start_cluster "$PG_BIN" "$datadir" "$port"
trap 'stop_cluster "$PG_BIN" "$datadir"' EXIT

sql() { # database statement  -> unaligned, tuples only
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$port" -U postgres -d "$1" -c "$2"
}

jane=00000000-0000-0000-0000-00000000000a
generate="'https://app.example.com/done', 'https://app.example.com/reset'"
log "creating the database to dump"
sql postgres "CREATE DATABASE source"
sql source "CREATE EXTENSION nile_reset"
sql source "SELECT auth.use_nile_users()" >/dev/null
sql source "INSERT INTO users.users (id, email, name) VALUES
  ('$jane', 'Jane@example.com', 'Jane'),
  ('00000000-0000-0000-0000-00000000000b', 'bob@example.com', 'Bob'),
  ('00000000-0000-0000-0000-00000000000c', 'carol@example.com', NULL)"
sql source "INSERT INTO auth.credentials (user_id, method, payload) VALUES
  ('$jane', 'EMAIL_PASSWORD', '{\"crypt\": \"crypt-bf/8\", \"hash\": \"old\", \"email\": \"Jane@example.com\"}')"
sql source "SELECT auth.add_trusted_origin('https://app.example.com'), auth.add_trusted_origin('http://localhost:3000')" >/dev/null
sql source "UPDATE nile_reset.email_templates
               SET subject = 'Reset your \${app_name} password', body = body || E'\nThe \${app_name} team\n'
             WHERE name = 'password_reset'"
sql source "INSERT INTO nile_reset.template_variables (name, value) VALUES ('app_name', 'Acme')"
# An administrator of this database: its record and its grants.
sql postgres "CREATE ROLE restore_admin LOGIN"
sql source "SELECT auth.grant_admin('restore_admin')" >/dev/null
# Bob's email is delivered (sent), Jane's waits in the outbox (pending).
sql source "SELECT created FROM auth.generate_password_token('bob@example.com', $generate)" >/dev/null
sent_id=$(sql source "SELECT id FROM auth.claim_emails('before-dump', 10) WHERE recipient = 'bob@example.com'")
sql source "SELECT auth.mark_email_sent($sent_id, 'before-dump')" >/dev/null
sql source "SELECT created FROM auth.generate_password_token('jane@example.com', $generate)" >/dev/null
token=$(sql source "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox WHERE sent_at IS NULL")
max_id=$(sql source "SELECT max(id) FROM nile_reset.email_outbox")
check_eq "a live token in the source database" valid "$(sql source "SELECT status FROM auth.verify_password_token('jane@example.com', '$token')")"

# What must come back: the extension's configuration tables (extconfig),
# its sequences, and the application tables the user directory points to.
# One line per table: its name and a digest of the rows pg_dump keeps of it
# (a configuration table's filter leaves out rows CREATE EXTENSION makes).
config_tables="SELECT c.oid::regclass::text || E'\\t' || x.condition
                 FROM pg_extension e CROSS JOIN unnest(e.extconfig, e.extcondition) AS x(oid, condition)
                 JOIN pg_class c ON c.oid = x.oid
                WHERE e.extname = 'nile_reset' AND c.relkind IN ('r', 'p') ORDER BY 1"
snapshot() { # database
  local table condition
  while IFS=$'\t' read -r table condition; do
    printf '%s %s\n' "$table" "$(sql "$1" "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text)), '')
                                           FROM $table AS t $condition")"
  done < <( (sql "$1" "$config_tables"; printf '%s\t\n' users.users auth.credentials) | sort -u -t $'\t' -k1,1)
  for table in $(sql "$1" "SELECT d.objid::regclass::text FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                            JOIN pg_class c ON c.oid = d.objid
                           WHERE e.extname = 'nile_reset' AND d.deptype = 'e' AND c.relkind = 'S' ORDER BY 1"); do
    printf '%s %s\n' "$table" "$(sql "$1" "SELECT last_value || ' ' || is_called FROM $table")"
  done
}
snapshot source >"$work/source.snapshot"

unmarked=$(sql source "SELECT string_agg(d.objid::regclass::text, ', ' ORDER BY 1)
                         FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid JOIN pg_class c ON c.oid = d.objid
                        WHERE e.extname = 'nile_reset' AND d.deptype = 'e' AND c.relkind IN ('r', 'p', 'S')
                          AND NOT c.oid = ANY (e.extconfig)")
check_eq "every table and sequence of the extension is marked for pg_dump" "" "$unmarked"

log "pg_dump -Fc and pg_restore into a new database"
"$PG_BIN/pg_dump" -Fc -h 127.0.0.1 -p "$port" -U postgres -f "$work/source.dump" source
sql postgres "CREATE DATABASE restored"
if "$PG_BIN/pg_restore" --exit-on-error -h 127.0.0.1 -p "$port" -U postgres -d restored "$work/source.dump" >"$work/restore.log" 2>&1 &&
  [ ! -s "$work/restore.log" ]; then
  pass "pg_restore succeeds without errors or warnings"
else
  fail "pg_restore succeeds without errors or warnings" "$(head -n 20 "$work/restore.log")"
fi

snapshot restored >"$work/restored.snapshot"
while read -r table digest; do
  check_eq "$table: what pg_dump keeps comes back" "$digest" "$(awk -v t="$table" '$1 == t { $1 = ""; sub(/^ /, ""); print }' "$work/restored.snapshot")"
done <"$work/source.snapshot"

check_eq "the extension version" "$(sql source "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'")" \
  "$(sql restored "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'")"
check_eq "the administrator is recorded" restore_admin "$(sql restored "SELECT string_agg(role::text, ', ') FROM auth.admins()")"
check_eq "and still edits the templates and trusts origins" "https://admin.example.com" \
  "$("$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U restore_admin -d restored \
      -c "UPDATE nile_reset.template_variables SET value = value WHERE name = 'app_name'" \
      -c "SELECT auth.add_trusted_origin('https://admin.example.com')")"
sql restored "SELECT auth.remove_trusted_origin('https://admin.example.com')" >/dev/null
check_eq "the database's owner still names administrators" "t|t" \
  "$(sql restored "SELECT concat_ws('|', has_schema_privilege('pg_database_owner', 'auth', 'USAGE'),
                     has_function_privilege('pg_database_owner', 'auth.grant_admin(regrole)', 'EXECUTE'))")"
check_eq "the origins are trusted" "t|t|f" \
  "$(sql restored "SELECT concat_ws('|', auth.is_trusted_url('https://app.example.com/x'),
                     auth.is_trusted_url('http://localhost:3000/'), auth.is_trusted_url('https://evil.example/'))")"
check_eq "one pending and one sent email" "1|1" "$(sql restored "SELECT pending, sent FROM auth.email_outbox_stats()")"
check_eq "the token issued before the dump verifies" valid \
  "$(sql restored "SELECT status FROM auth.verify_password_token('jane@example.com', '$token')")"
check_eq "the pending email carries that token" "Jane@example.com|$token" \
  "$(sql restored "SELECT string_agg(concat_ws('|', recipient, substring(body FROM 'token=([0-9a-f]{64})')), ' ')
                     FROM auth.claim_emails('after-restore', 10)")"
check_eq "the token issued before the dump resets the password" "$jane" \
  "$(sql restored "SELECT auth.reset_password('jane@example.com', '$token', 'correct horse battery')")"
hash=$(sql restored "SELECT string_agg(payload->>'hash', ' ') FROM auth.credentials
                    WHERE user_id = '$jane' AND method = 'EMAIL_PASSWORD' AND deleted IS NULL")
check "the new password is stored as one bcrypt hash that accepts it" bcrypt_accepts 'correct horse battery' "$hash"

# The whole flow in the restored database; the outbox ids continue.
check_eq "a new request in the restored database" t \
  "$(sql restored "SELECT created FROM auth.generate_password_token('carol@example.com', $generate)")"
IFS=$'\t' read -r carol_id carol_subject carol_token < <(sql restored "
  SELECT concat_ws(E'\\t', id, subject, substring(body FROM 'token=([0-9a-f]{64})'))
    FROM nile_reset.email_outbox WHERE recipient = 'carol@example.com'")
if [ -n "$carol_id" ] && [ "$carol_id" -gt "$max_id" ]; then
  pass "the outbox ids continue after the restored ones"
else
  fail "the outbox ids continue after the restored ones" "new id '$carol_id', last id before the dump $max_id"
fi
check_eq "the email renders the edited template and the variable" "Reset your Acme password" "$carol_subject"
check_eq "the new token verifies" valid "$(sql restored "SELECT status FROM auth.verify_password_token('carol@example.com', '$carol_token')")"
check_eq "the new token resets the password" 00000000-0000-0000-0000-00000000000c \
  "$(sql restored "SELECT auth.reset_password('carol@example.com', '$carol_token', 'another good password')")"

# The same steps in the source database: every email queued since the dump
# must read the same in both (the edited template, the variable, the
# default alert template).
sql source "SELECT auth.reset_password('jane@example.com', '$token', 'correct horse battery')" >/dev/null
sql source "SELECT created FROM auth.generate_password_token('carol@example.com', $generate)" >/dev/null
source_token=$(sql source "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox WHERE recipient = 'carol@example.com'")
sql source "SELECT auth.reset_password('carol@example.com', '$source_token', 'another good password')" >/dev/null
emails_since_dump() { # database
  sql "$1" "SELECT string_agg(concat_ws(' | ', kind, recipient, sender, subject, regexp_replace(body, '[0-9a-f]{64}', '<token>', 'g')),
                              E'\n' ORDER BY kind, recipient)
              FROM nile_reset.email_outbox WHERE id > $max_id"
}
source_emails=$(emails_since_dump source)
check_eq "three emails since the dump (a reset request, two alerts)" 3 "$(grep -c '^password_' <<<"$source_emails")"
check_eq "they read the same as in the source database" "$source_emails" "$(emails_since_dump restored)"

finish dump_restore

#!/usr/bin/env bash
# Upgrading from the last release (sql/releases) keeps every piece of data
# and gives the same extension as a fresh install:
#   1. builds the release from git history and the working tree;
#   2. in a private copy of the checkout's PostgreSQL, installs the release,
#      creates data the release's way (users, a password, an origin, an
#      edited template, a variable, a live token, a pending and a sent
#      email), then lays the new files over it the way a package upgrade
#      does and runs ALTER EXTENSION nile_reset UPDATE;
#   3. checks the data still works (the token issued before the upgrade
#      resets the password after it; emails, template, origin kept; the
#      outbox ids continue);
#   4. compares the schema of an upgraded database with a fresh install
#      (every object, privilege and configuration-table filter);
#   5. runs the whole pg_regress and isolation suites on the upgraded
#      installation;
#   6. removes the new version's install script and checks that CREATE
#      EXTENSION still works by chaining the release's install script and
#      the update (so the library still has every function the release's
#      SQL names, as pg_upgrade and a half-done package upgrade need).
# Ends with "upgrade: N passed, M failed". Cluster on port 28870.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh

port=$((28870 + ${PG_PORT_OFFSET:-0}))
work=$PROJECT_ROOT/target/release-tests/upgrade-pg$PG_MAJOR
prefix=$work/postgresql
bin=$prefix${PG_BIN#"$PG_PREFIX"}
pg_config=$prefix${PG_CONFIG#"$PG_PREFIX"}
datadir=$work/cluster

read -r old_version recorded_commit < <(last_release)
commit=$(release_commit "$old_version" "$recorded_commit")
new_version=$(workspace_version)
if [ "$new_version" = "$old_version" ]; then
  log "the workspace version ($new_version) is the last release's: bump it before changing the extension"
  exit 1
fi

old_files=$(release_files "$old_version" "$commit")
log "building the working tree ($new_version)"
current_files "$work/current-files"
new_files=$work/current-files

# A private installation, so that the checkout's own stays as installed.
if [ -x "$bin/pg_ctl" ]; then stop_cluster "$bin" "$datadir"; fi
rm -rf "$datadir"
private_installation "$prefix"
install_files "$old_files" "$pg_config"

start_cluster "$bin" "$datadir" "$port"
trap 'stop_cluster "$bin" "$datadir"' EXIT

sql() { # database statement  -> unaligned, tuples only
  "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$port" -U postgres -d "$1" -c "$2"
}

jane=00000000-0000-0000-0000-00000000000a
log "creating data with nile_reset $old_version"
sql postgres "CREATE DATABASE upgraded"
sql upgraded "CREATE EXTENSION nile_reset VERSION '$old_version'"
sql upgraded "INSERT INTO users.users (id, email, name) VALUES
  ('$jane', 'Jane@example.com', 'Jane'),
  ('00000000-0000-0000-0000-00000000000b', 'bob@example.com', 'Bob'),
  ('00000000-0000-0000-0000-00000000000c', 'carol@example.com', NULL)"
sql upgraded "INSERT INTO auth.credentials (user_id, method, payload) VALUES
  ('$jane', 'EMAIL_PASSWORD', '{\"crypt\": \"crypt-bf/8\", \"hash\": \"old\", \"email\": \"Jane@example.com\"}')"
sql upgraded "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
sql upgraded "UPDATE auth.email_templates SET subject = 'Reset your \${app_name} password' WHERE name = 'password_reset'"
sql upgraded "INSERT INTO auth.template_variables (name, value) VALUES ('app_name', 'Acme')"
generate="'https://app.example.com/done', 'https://app.example.com/reset'"
# Bob's email is delivered (sent), Jane's waits in the outbox (pending).
sql upgraded "SELECT created FROM auth.generate_password_token('bob@example.com', $generate)" >/dev/null
sent_id=$(sql upgraded "SELECT id FROM auth.claim_emails('before-upgrade', 10) WHERE recipient = 'bob@example.com'")
sql upgraded "SELECT auth.mark_email_sent($sent_id, 'before-upgrade')" >/dev/null
sql upgraded "SELECT created FROM auth.generate_password_token('jane@example.com', $generate)" >/dev/null
read -r pending_id token < <(sql upgraded "SELECT id, substring(body FROM 'token=([0-9a-f]{64})') FROM auth.email_outbox WHERE recipient = 'Jane@example.com'" | tr '|' ' ')

check_eq "release $old_version installed" "$old_version" "$(sql upgraded "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'")"
check_eq "token issued by $old_version" 64 "${#token}"
check_eq "the token verifies before the upgrade" valid "$(sql upgraded "SELECT status FROM auth.verify_password_token('jane@example.com', '$token')")"

log "installing $new_version over $old_version and running ALTER EXTENSION nile_reset UPDATE"
install_files "$new_files" "$pg_config"
# The update creates nile_reset_admin: one made in the meantime by a role
# that can grant it is refused, as a fresh install refuses it.
sql postgres "CREATE ROLE upgrade_squatter CREATEROLE"
sql postgres "SET ROLE upgrade_squatter; CREATE ROLE nile_reset_admin"
sql postgres "GRANT nile_reset_admin TO upgrade_squatter WITH ADMIN OPTION" 2>/dev/null
if squat=$(sql upgraded "ALTER EXTENSION nile_reset UPDATE" 2>&1); then
  fail "the update refuses a nile_reset_admin that another role can grant" "the update succeeded"
else
  check_eq "the update refuses a nile_reset_admin that another role can grant" \
    "ERROR:  nile_reset cannot be installed: role nile_reset_admin already exists and upgrade_squatter can grant it" "$squat"
fi
check_eq "and leaves $old_version in place" "$old_version" "$(sql upgraded "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'")"
sql postgres "DROP ROLE nile_reset_admin"
sql postgres "DROP ROLE upgrade_squatter"
check "ALTER EXTENSION nile_reset UPDATE" sql upgraded "ALTER EXTENSION nile_reset UPDATE"
check_eq "the extension is at $new_version" "$new_version" "$(sql upgraded "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'")"

check_eq "the origin is still trusted" t "$(sql upgraded "SELECT auth.is_trusted_url('https://app.example.com/reset')")"
check_eq "one pending and one sent email" "1|1" "$(sql upgraded "SELECT pending, sent FROM auth.email_outbox_stats()")"
check_eq "the token issued before the upgrade verifies" valid "$(sql upgraded "SELECT status FROM auth.verify_password_token('jane@example.com', '$token')")"
check_eq "the pending email is the one queued before the upgrade" "$pending_id|Jane@example.com|$token" \
  "$(sql upgraded "SELECT string_agg(concat_ws('|', id, recipient, substring(body FROM 'token=([0-9a-f]{64})')), ' ')
                     FROM auth.claim_emails('after-upgrade', 10)")"
check_eq "the pending email can be marked sent" t "$(sql upgraded "SELECT auth.mark_email_sent($pending_id, 'after-upgrade')")"
check_eq "the pre-upgrade token resets the password" "$jane" \
  "$(sql upgraded "SELECT auth.reset_password('jane@example.com', '$token', 'correct horse battery')")"
hash=$(sql upgraded "SELECT string_agg(payload->>'hash', ' ') FROM auth.credentials
                    WHERE user_id = '$jane' AND method = 'EMAIL_PASSWORD' AND deleted IS NULL")
check "the new password is stored as one bcrypt hash that accepts it" bcrypt_accepts 'correct horse battery' "$hash"
check_eq "the token works only once" invalid "$(sql upgraded "SELECT status FROM auth.verify_password_token('jane@example.com', '$token')")"

# A request after the upgrade: the outbox ids continue, the edited template
# and the variable render, and the whole flow works.
check_eq "a new request after the upgrade" t "$(sql upgraded "SELECT created FROM auth.generate_password_token('carol@example.com', $generate)")"
IFS=$'\t' read -r carol_id carol_subject carol_token < <(sql upgraded "
  SELECT concat_ws(E'\\t', id, subject, substring(body FROM 'token=([0-9a-f]{64})'))
    FROM auth.claim_emails('after-upgrade', 10) WHERE recipient = 'carol@example.com'")
if [ -n "$carol_id" ] && [ "$carol_id" -gt "$pending_id" ] && [ "$carol_id" -gt "$sent_id" ]; then
  pass "the outbox ids continue after the upgrade"
else
  fail "the outbox ids continue after the upgrade" "new id '$carol_id', ids before the upgrade $sent_id and $pending_id"
fi
check_eq "the edited template and its variable are kept" "Reset your Acme password" "$carol_subject"
check_eq "the new token verifies" valid "$(sql upgraded "SELECT status FROM auth.verify_password_token('carol@example.com', '$carol_token')")"
check_eq "the new token resets the password" 00000000-0000-0000-0000-00000000000c \
  "$(sql upgraded "SELECT auth.reset_password('carol@example.com', '$carol_token', 'another good password')")"

# The schema of an upgraded database must be a fresh install's. A normal
# pg_dump leaves out an extension's member objects; --binary-upgrade lists
# every one of them (as pg_upgrade needs). What differs between any two
# databases is left out: OIDs and transaction ids, the placeholders of
# dropped columns; the configuration tables, given by OID, are listed by
# name instead.
schema_of() { # database
  "$bin/pg_dump" --schema-only --binary-upgrade -h 127.0.0.1 -p "$port" -U postgres "$1" | python3 -c '
import re, sys
statement = []
for line in sys.stdin:
    if re.match(r"\s+\"\.+pg\.dropped\.[0-9]+\.+\" ", line):
        continue
    statement.append(line)
    if line.startswith("--") or not line.strip() or line.rstrip().endswith(";"):
        text = "".join(statement)
        statement = []
        if not text.strip() or re.search(r"binary_upgrade_set_next_|^UPDATE pg_catalog\.pg_class\b|pg\.dropped\.|^\\(un)?restrict |^-- Dumped (from|by) |^-- For binary upgrade", text, re.M):
            continue
        text = re.sub(r",\n\);", "\n);", text)
        text = re.sub(r"(binary_upgrade_create_empty_extension\([^{]*)\x27\{[0-9,]*\}\x27, \x27\{.*\}\x27,", r"\1<config tables>, <conditions>,", text)
        sys.stdout.write(text)
sys.stdout.write("".join(statement))
'
  sql "$1" "SELECT 'configuration table ' || c::regclass || ' dumped ' || quote_literal(w)
              FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, w)
             WHERE e.extname = 'nile_reset' ORDER BY 1"
}
sql postgres "CREATE DATABASE upgraded_empty"
sql upgraded_empty "CREATE EXTENSION nile_reset VERSION '$old_version'"
sql upgraded_empty "ALTER EXTENSION nile_reset UPDATE"
sql postgres "CREATE DATABASE fresh"
sql fresh "CREATE EXTENSION nile_reset"
# A database created by the release used Nile's users table; the upgrade
# keeps it as the user directory, so the fresh install is configured so too.
sql fresh "SELECT auth.use_nile_users()" >/dev/null
schema_of fresh >"$work/fresh.schema.sql"
schema_of upgraded_empty >"$work/upgraded.schema.sql"
if diff -u "$work/fresh.schema.sql" "$work/upgraded.schema.sql" >"$work/schema.diff"; then
  pass "an upgraded database has the schema of a fresh install"
else
  fail "an upgraded database has the schema of a fresh install" "diff (fresh -> upgraded): $work/schema.diff"
  head -n 80 "$work/schema.diff"
fi

run_suite() { # regress|isolation
  local suite=$1 dir inputs ext driver out status=0 names=() f
  case "$suite" in
    regress) dir=tests/pg_regress inputs=sql ext=sql driver=regress/pg_regress ;;
    isolation) dir=tests/isolation inputs=specs ext=spec driver=isolation/pg_isolation_regress ;;
  esac
  for f in "$dir/$inputs"/*."$ext"; do names+=("$(basename "$f" ."$ext")"); done
  out=$work/$suite
  rm -rf "$out" && mkdir -p "$out"
  PGOPTIONS='-c client_min_messages=warning' \
    "$("$pg_config" --pkglibdir)/pgxs/src/test/$driver" \
    --bindir="$bin" --host=127.0.0.1 --port="$port" --user=postgres \
    --inputdir="$dir" --outputdir="$out" --dbname="nile_reset_$suite" \
    "${names[@]}" >"$out/run.log" 2>&1 || status=$?
  # The driver's own summary is folded into this script's count.
  local all failed_count total
  all=$(sed -nE 's/.*All ([0-9]+) tests passed.*/\1/p' "$out/run.log")
  failed_count=$(sed -nE 's/.* ([0-9]+) of ([0-9]+) tests failed.*/\1/p' "$out/run.log")
  total=$(sed -nE 's/.* ([0-9]+) of ([0-9]+) tests failed.*/\2/p' "$out/run.log")
  if [ "$status" -eq 0 ] && [ -n "$all" ]; then
    checks_passed=$((checks_passed + all))
    echo "  ok   $suite suite on the upgraded installation: $all tests"
  else
    checks_passed=$((checks_passed + ${total:-0} - ${failed_count:-0}))
    checks_failed=$((checks_failed + ${failed_count:-1}))
    echo "  FAIL $suite suite on the upgraded installation (log: $out/run.log)"
    grep -vE 'tests (passed|failed)' "$out/run.log" | sed 's/^/       /'
    if [ -f "$out/regression.diffs" ]; then head -n 100 "$out/regression.diffs"; fi
  fi
}
log "running the pg_regress and isolation suites on the upgraded installation"
run_suite regress
run_suite isolation

# Without the new version's install script, PostgreSQL installs the release
# and applies the update scripts. The suites cannot run that way: a fresh
# install differs from "release, then update" on purpose (the update adopts
# the release's Nile tables as the user directory; install-time checks of
# foreign schemas run before anything exists). One install shows the chain
# works.
rm "$("$pg_config" --sharedir)/extension/nile_reset--$new_version.sql"
sql postgres "CREATE DATABASE chained"
check "CREATE EXTENSION through the release's install script and the update" sql chained "CREATE EXTENSION nile_reset"
check_eq "the chained install is at $new_version" "$new_version" \
  "$(sql chained "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'")"


finish upgrade

#!/usr/bin/env bash
# Upgrading keeps every piece of data and gives the same extension as a
# fresh install. Two updates are tested: from the last release (sql/releases)
# and from 0.1.0, the first one, through every update script since.
#   1. builds both releases from git history and the working tree;
#   2. in a private copy of the checkout's PostgreSQL, installs a release,
#      creates data the release's way, then lays the new files over it the
#      way a package upgrade does and runs ALTER EXTENSION nile_reset UPDATE:
#      - 0.1.0: users in the Nile tables it created, a password, an origin,
#        an edited template, a variable, a live token, a pending and a sent
#        email; the update, which creates nile_reset_admin, refuses a role
#        of that name that another role can grant;
#      - the last release: the same data with its own API (the user
#        directory configured with auth.use_nile_users()), and a second
#        database whose users are the application's own table
#        (auth.use_user_table(), a Devise-like public.users); a member of
#        its cluster-wide nile_reset_admin; the update refuses a
#        nile_reset_admin that can log in, keeps it as each database's
#        administrator (its member still edits templates, pg_dump keeps its
#        grants) until auth.revoke_admin;
#   3. checks the data still works (the token issued before the upgrade
#      resets the password after it; emails, template, origin, user
#      directory kept; the outbox ids continue);
#   4. compares the schema of upgraded databases with fresh installs
#      (every object, privilege and configuration-table filter): as updated,
#      with a fresh install whose owner named nile_reset_admin with
#      auth.grant_admin; after auth.revoke_admin('nile_reset_admin'), with a
#      fresh install;
#   5. runs the whole pg_regress and isolation suites on the upgraded
#      installation;
#   6. removes the new version's install script, then the last release's,
#      and checks that CREATE EXTENSION still works by chaining a release's
#      install script and the updates (so the library still has every
#      function a release's SQL names, as pg_upgrade and a half-done package
#      upgrade need).
# Ends with "upgrade: N passed, M failed". Cluster on $UPGRADE_PORT
# (scripts/common.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh

port=$((UPGRADE_PORT + PG_PORT_OFFSET))
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
# The first release, when it is not the last one: its data is made with its
# own API (users.users without a user directory), which later releases lack.
first_version=0.1.0
first_files=
if [ "$old_version" != "$first_version" ]; then
  first_commit=$(release_commit "$first_version" "$(recorded_commit_of "$first_version")")
  first_files=$(release_files "$first_version" "$first_commit")
fi
old_files=$(release_files "$old_version" "$commit")
log "building the working tree ($new_version)"
current_files "$work/current-files"
new_files=$work/current-files

# A private installation, so that the checkout's own stays as installed.
if [ -x "$bin/pg_ctl" ]; then stop_cluster "$bin" "$datadir"; fi
rm -rf "$datadir"
private_installation "$prefix"
extdir=$("$pg_config" --sharedir)/extension

# pg_stat_statements for the regress test statements_per_call (step 5).
start_cluster "$bin" "$datadir" "$port" "shared_preload_libraries = 'pg_stat_statements'"
trap 'stop_cluster "$bin" "$datadir"' EXIT

sql() { # database statement  -> unaligned, tuples only
  "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$port" -U postgres -d "$1" -c "$2"
}
sql_as() { # role database statement  -> as sql, connected as role
  "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$port" -U "$1" -d "$2" -c "$3"
}
extversion() { # database
  sql "$1" "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'"
}

jane=00000000-0000-0000-0000-00000000000a
carol=00000000-0000-0000-0000-00000000000c
generate="'https://app.example.com/done', 'https://app.example.com/reset'"

# Nile's users with a password, an origin, an edited template and its
# variable; Bob's email delivered (sent), Jane's waiting in the outbox
# (pending) with her live token. Sets sent_id, pending_id and token.
# Table names are the release's: its own schema from 0.2.0 on, auth before.
make_data() { # database state_schema
  local db=$1 state=$2
  sql "$db" "INSERT INTO users.users (id, email, name) VALUES
    ('$jane', 'Jane@example.com', 'Jane'),
    ('00000000-0000-0000-0000-00000000000b', 'bob@example.com', 'Bob'),
    ('$carol', 'carol@example.com', NULL)"
  sql "$db" "INSERT INTO auth.credentials (user_id, method, payload) VALUES
    ('$jane', 'EMAIL_PASSWORD', '{\"crypt\": \"crypt-bf/8\", \"hash\": \"old\", \"email\": \"Jane@example.com\"}')"
  sql "$db" "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
  sql "$db" "UPDATE $state.email_templates SET subject = 'Reset your \${app_name} password' WHERE name = 'password_reset'"
  sql "$db" "INSERT INTO $state.template_variables (name, value) VALUES ('app_name', 'Acme')"
  sql "$db" "SELECT created FROM auth.generate_password_token('bob@example.com', $generate)" >/dev/null
  sent_id=$(sql "$db" "SELECT id FROM auth.claim_emails('before-upgrade', 10) WHERE recipient = 'bob@example.com'")
  sql "$db" "SELECT auth.mark_email_sent($sent_id, 'before-upgrade')" >/dev/null
  sql "$db" "SELECT created FROM auth.generate_password_token('jane@example.com', $generate)" >/dev/null
  read -r pending_id token < <(sql "$db" "SELECT id, substring(body FROM 'token=([0-9a-f]{64})')
                                           FROM $state.email_outbox WHERE recipient = 'Jane@example.com'" | tr '|' ' ')
  check_eq "$db: token issued by $(extversion "$db")" 64 "${#token}"
  check_eq "$db: the token verifies before the upgrade" valid \
    "$(sql "$db" "SELECT status FROM auth.verify_password_token('jane@example.com', '$token')")"
}

# After the update, everything make_data made still works, and so does the
# whole flow.
check_data() { # database sent_id pending_id token
  local db=$1 sent=$2 pending=$3 jane_token=$4 hash carol_id carol_subject carol_token
  check_eq "$db: the origin is still trusted" t "$(sql "$db" "SELECT auth.is_trusted_url('https://app.example.com/reset')")"
  check_eq "$db: one pending and one sent email" "1|1" "$(sql "$db" "SELECT pending, sent FROM auth.email_outbox_stats()")"
  check_eq "$db: the token issued before the upgrade verifies" valid \
    "$(sql "$db" "SELECT status FROM auth.verify_password_token('jane@example.com', '$jane_token')")"
  check_eq "$db: the pending email is the one queued before the upgrade" "$pending|Jane@example.com|$jane_token" \
    "$(sql "$db" "SELECT string_agg(concat_ws('|', id, recipient, substring(body FROM 'token=([0-9a-f]{64})')), ' ')
                    FROM auth.claim_emails('after-upgrade', 10)")"
  check_eq "$db: the pending email can be marked sent" t "$(sql "$db" "SELECT auth.mark_email_sent($pending, 'after-upgrade')")"
  check_eq "$db: the pre-upgrade token resets the password" "$jane" \
    "$(sql "$db" "SELECT auth.reset_password('jane@example.com', '$jane_token', 'correct horse battery')")"
  hash=$(sql "$db" "SELECT string_agg(payload->>'hash', ' ') FROM auth.credentials
                     WHERE user_id = '$jane' AND method = 'EMAIL_PASSWORD' AND deleted IS NULL")
  check "$db: the new password is stored as one bcrypt hash that accepts it" bcrypt_accepts 'correct horse battery' "$hash"
  check_eq "$db: the token works only once" invalid \
    "$(sql "$db" "SELECT status FROM auth.verify_password_token('jane@example.com', '$jane_token')")"

  # A request after the upgrade: the outbox ids continue, the edited
  # template and the variable render, and the whole flow works.
  check_eq "$db: a new request after the upgrade" t \
    "$(sql "$db" "SELECT created FROM auth.generate_password_token('carol@example.com', $generate)")"
  IFS=$'\t' read -r carol_id carol_subject carol_token < <(sql "$db" "
    SELECT concat_ws(E'\\t', id, subject, substring(body FROM 'token=([0-9a-f]{64})'))
      FROM auth.claim_emails('after-upgrade', 10) WHERE recipient = 'carol@example.com'")
  if [ -n "$carol_id" ] && [ "$carol_id" -gt "$pending" ] && [ "$carol_id" -gt "$sent" ]; then
    pass "$db: the outbox ids continue after the upgrade"
  else
    fail "$db: the outbox ids continue after the upgrade" "new id '$carol_id', ids before the upgrade $sent and $pending"
  fi
  check_eq "$db: the edited template and its variable are kept" "Reset your Acme password" "$carol_subject"
  check_eq "$db: the new token verifies" valid \
    "$(sql "$db" "SELECT status FROM auth.verify_password_token('carol@example.com', '$carol_token')")"
  check_eq "$db: the new token resets the password" "$carol" \
    "$(sql "$db" "SELECT auth.reset_password('carol@example.com', '$carol_token', 'another good password')")"
}

# The update runs as a package upgrade would: the new files laid over the
# release's, then ALTER EXTENSION nile_reset UPDATE in each database.
update() { # database from_version
  check "$1: ALTER EXTENSION nile_reset UPDATE from $2" sql "$1" "ALTER EXTENSION nile_reset UPDATE"
  check_eq "$1: the extension is at $new_version" "$new_version" "$(extversion "$1")"
}

# --- From the first release, through every update script ------------------
if [ -n "$first_files" ]; then
  log "creating data with nile_reset $first_version"
  install_files "$first_files" "$pg_config"
  sql postgres "CREATE DATABASE from_first"
  sql from_first "CREATE EXTENSION nile_reset VERSION '$first_version'"
  check_eq "from_first: release $first_version installed" "$first_version" "$(extversion from_first)"
  make_data from_first auth
  first_data=("$sent_id" "$pending_id" "$token")
  sql postgres "CREATE DATABASE from_first_empty"
  sql from_first_empty "CREATE EXTENSION nile_reset VERSION '$first_version'"

  log "installing $new_version over $first_version and running ALTER EXTENSION nile_reset UPDATE"
  install_files "$new_files" "$pg_config"
  # The update creates nile_reset_admin: one made in the meantime by a role
  # that can grant it is refused, as a fresh install refuses it.
  sql postgres "CREATE ROLE upgrade_squatter CREATEROLE"
  sql postgres "SET ROLE upgrade_squatter; CREATE ROLE nile_reset_admin"
  sql postgres "GRANT nile_reset_admin TO upgrade_squatter WITH ADMIN OPTION" 2>/dev/null
  if squat=$(sql from_first "ALTER EXTENSION nile_reset UPDATE" 2>&1); then
    fail "the update refuses a nile_reset_admin that another role can grant" "the update succeeded"
  else
    check_eq "the update refuses a nile_reset_admin that another role can grant" \
      "ERROR:  nile_reset cannot be installed: role nile_reset_admin already exists and upgrade_squatter can grant it" "$squat"
  fi
  check_eq "and leaves $first_version in place" "$first_version" "$(extversion from_first)"
  sql postgres "DROP ROLE nile_reset_admin"
  sql postgres "DROP ROLE upgrade_squatter"
  update from_first "$first_version"
  check_data from_first "${first_data[@]}"
  update from_first_empty "$first_version"
fi

# --- From the last release ------------------------------------------------
log "creating data with nile_reset $old_version"
install_files "$old_files" "$pg_config"
sql postgres "CREATE DATABASE upgraded"
sql upgraded "CREATE EXTENSION nile_reset VERSION '$old_version'"
check_eq "upgraded: release $old_version installed" "$old_version" "$(extversion upgraded)"
sql upgraded "SELECT auth.use_nile_users()" >/dev/null
make_data upgraded nile_reset
old_data=("$sent_id" "$pending_id" "$token")

# An application's own users table (Devise's columns, bigint ids).
sql postgres "CREATE DATABASE app_upgraded"
sql app_upgraded "CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL,
                                             encrypted_password text NOT NULL DEFAULT '')"
sql app_upgraded "CREATE INDEX ON public.users (lower(email))"
sql app_upgraded "INSERT INTO public.users (id, email, encrypted_password) VALUES
  (1, 'Dana@example.com', 'old-hash-1'), (2, 'eve@example.com', 'old-hash-2')"
sql app_upgraded "CREATE EXTENSION nile_reset VERSION '$old_version'"
sql app_upgraded "SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt')" >/dev/null
sql app_upgraded "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
sql app_upgraded "SELECT created FROM auth.generate_password_token('dana@example.com', $generate)" >/dev/null
app_token=$(sql app_upgraded "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox")
check_eq "app_upgraded: the token for the application's user verifies before the upgrade" valid \
  "$(sql app_upgraded "SELECT status FROM auth.verify_password_token('dana@example.com', '$app_token')")"
# The configuration as the release wrote it; an update may add columns, it
# must keep every value.
directory_of() { # database
  sql "$1" "SELECT to_jsonb(d) FROM nile_reset.user_directory d"
}
upgraded_directory=$(directory_of upgraded)
upgraded_directory=${upgraded_directory//\'/\'\'}
app_directory=$(directory_of app_upgraded)
app_directory=${app_directory//\'/\'\'}

sql postgres "CREATE DATABASE upgraded_empty"
sql upgraded_empty "CREATE EXTENSION nile_reset VERSION '$old_version'"

# What default privileges handed out at 0.2.0's install (a BI role's SELECT
# on the outbox) goes with the update; what a recipe granted on functions
# (the app role's EXECUTE) stays.
sql postgres "CREATE ROLE upgrade_bi"
sql postgres "CREATE ROLE upgrade_app"
sql app_upgraded "GRANT USAGE ON SCHEMA nile_reset TO upgrade_bi;
  GRANT SELECT ON nile_reset.email_outbox, nile_reset.verification_tokens TO upgrade_bi;
  GRANT EXECUTE ON FUNCTION auth.generate_password_token(text, text, text) TO upgrade_app"

# The release's administrators: members of its cluster-wide role.
sql postgres "CREATE ROLE upgrade_admin LOGIN IN ROLE nile_reset_admin"

log "installing $new_version over $old_version and running ALTER EXTENSION nile_reset UPDATE"
install_files "$new_files" "$pg_config"
# The update keeps nile_reset_admin as each database's administrator: one
# that can log in is refused, as the release's install refused it.
sql postgres "ALTER ROLE nile_reset_admin LOGIN"
if refused=$(sql upgraded_empty "ALTER EXTENSION nile_reset UPDATE" 2>&1); then
  fail "the update refuses a nile_reset_admin that can log in" "the update succeeded"
else
  check_eq "the update refuses a nile_reset_admin that can log in" \
    "ERROR:  nile_reset cannot be updated: role nile_reset_admin, which administers it here, can log in or has other attributes" "$refused"
fi
check_eq "and leaves $old_version in place" "$old_version" "$(extversion upgraded_empty)"
sql postgres "ALTER ROLE nile_reset_admin NOLOGIN"
update upgraded "$old_version"
update app_upgraded "$old_version"
update upgraded_empty "$old_version"

# Members of nile_reset_admin keep their rights in each database the update
# recorded it in, through grants pg_dump keeps (the release recorded them as
# the extension's initial privileges, which pg_dump leaves out).
for db in upgraded app_upgraded upgraded_empty; do
  check_eq "$db: nile_reset_admin is recorded as this database's administrator" nile_reset_admin \
    "$(sql "$db" "SELECT string_agg(role::text, ', ') FROM auth.admins()")"
  check_eq "$db: a member of nile_reset_admin still edits the templates" "UPDATE 1" \
    "$("$bin/psql" -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U upgrade_admin -d "$db" \
        -c "UPDATE nile_reset.email_templates SET sender = sender WHERE name = 'password_reset'")"
  check_eq "$db: and trusts origins" "https://admin.example.com" \
    "$(sql_as upgrade_admin "$db" "SELECT auth.add_trusted_origin('https://admin.example.com')")"
  sql "$db" "SELECT auth.remove_trusted_origin('https://admin.example.com')" >/dev/null
  check_eq "$db: pg_dump keeps nile_reset_admin's grants" 3 \
    "$("$bin/pg_dump" --schema-only -h 127.0.0.1 -p "$port" -U postgres "$db" |
        grep -cE '^GRANT (USAGE ON SCHEMA nile_reset|SELECT,INSERT,DELETE,UPDATE ON TABLE nile_reset.email_templates|ALL ON FUNCTION auth.add_trusted_origin\(origin text\)) TO nile_reset_admin;$')"
done

check_eq "upgraded: the user directory is kept" t \
  "$(sql upgraded "SELECT to_jsonb(d) @> '$upgraded_directory'::jsonb FROM nile_reset.user_directory d")"
check_data upgraded "${old_data[@]}"

check_eq "app_upgraded: the user directory is kept" t \
  "$(sql app_upgraded "SELECT to_jsonb(d) @> '$app_directory'::jsonb FROM nile_reset.user_directory d")"
check_eq "app_upgraded: the token issued before the upgrade verifies" valid \
  "$(sql app_upgraded "SELECT status FROM auth.verify_password_token('dana@example.com', '$app_token')")"
check_eq "app_upgraded: it resets the password in the application's table" 1 \
  "$(sql app_upgraded "SELECT auth.reset_password('dana@example.com', '$app_token', 'correct horse battery')")"
check "app_upgraded: public.users holds a bcrypt hash that accepts the new password" bcrypt_accepts \
  'correct horse battery' "$(sql app_upgraded "SELECT encrypted_password FROM public.users WHERE id = 1")"
check_eq "app_upgraded: no other user's password changed" old-hash-2 \
  "$(sql app_upgraded "SELECT encrypted_password FROM public.users WHERE id = 2")"
check_eq "app_upgraded: the update revoked the BI role's reads of links and tokens" "f|f|f" \
  "$(sql app_upgraded "SELECT has_table_privilege('upgrade_bi', 'nile_reset.email_outbox', 'SELECT'),
                              has_table_privilege('upgrade_bi', 'nile_reset.verification_tokens', 'SELECT'),
                              has_schema_privilege('upgrade_bi', 'nile_reset', 'USAGE')")"
check_eq "app_upgraded: the app role keeps the EXECUTE its recipe granted" t \
  "$(sql app_upgraded "SELECT has_function_privilege('upgrade_app', 'auth.generate_password_token(text, text, text)', 'EXECUTE')")"

# The schema of an upgraded database must be a fresh install's. A normal
# pg_dump leaves out an extension's member objects; --binary-upgrade lists
# every one of them (as pg_upgrade needs). What differs between any two
# databases is left out: OIDs and transaction ids, the placeholders of
# dropped columns, and ACL entries that restore nothing (a REVOKE in an
# update leaves the default privileges written out where a fresh install
# leaves them implied; both restore to the same, whether grants follow or
# not); the order of an object's grants, which means nothing (an update
# made them in another order than a fresh install); the configuration
# tables, given by OID, are listed by name instead.
schema_of() { # database
  "$bin/pg_dump" --schema-only --binary-upgrade -h 127.0.0.1 -p "$port" -U postgres "$1" | python3 -c '
import re, sys
statement = []
kept = []
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
        kept.append(text)
kept.append("".join(statement))
init_privs = "SELECT pg_catalog.binary_upgrade_set_record_init_privs"
empty_init = re.escape(init_privs) + r"\(true\);\n" + re.escape(init_privs) + r"\(false\);\n"
text = re.sub(r"^-- Name: [^\n]*; Type: ACL; [^\n]*\n--\n" + empty_init + "--\n", "", "".join(kept), flags=re.M)
text = re.sub(r"^" + empty_init, "", text, flags=re.M)
text = re.sub(r"(?:^GRANT [^\n]*\n)+", lambda run: "".join(sorted(run.group(0).splitlines(True))), text, flags=re.M)
sys.stdout.write(text)
'
  sql "$1" "SELECT 'configuration table ' || c::regclass || ' dumped ' || quote_literal(w)
              FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, w)
             WHERE e.extname = 'nile_reset' ORDER BY 1"
}
same_schema() { # fresh_database upgraded_database description
  schema_of "$1" >"$work/$1.schema.sql"
  schema_of "$2" >"$work/$2.schema.sql"
  if diff -u "$work/$1.schema.sql" "$work/$2.schema.sql" >"$work/$1-$2.schema.diff"; then
    pass "$3"
  else
    fail "$3" "diff ($1 -> $2): $work/$1-$2.schema.diff"
    head -n 80 "$work/$1-$2.schema.diff"
  fi
}
sql postgres "CREATE DATABASE fresh_admin"
sql fresh_admin "CREATE EXTENSION nile_reset"
sql fresh_admin "SELECT auth.grant_admin('nile_reset_admin')" >/dev/null
same_schema fresh_admin upgraded_empty \
  "a database updated from $old_version has the schema of a fresh install whose owner named nile_reset_admin"
# revoke_admin ends it: the member loses its rights, and the database is a
# fresh install.
check_eq "upgraded_empty: revoke_admin('nile_reset_admin')" t \
  "$(sql upgraded_empty "SELECT auth.revoke_admin('nile_reset_admin')")"
if out=$(sql_as upgrade_admin upgraded_empty \
  "UPDATE nile_reset.email_templates SET sender = 'evil@example.com' WHERE name = 'password_reset'" 2>&1); then
  fail "upgraded_empty: then the member of nile_reset_admin edits no template" "$out"
else
  check_eq "upgraded_empty: then the member of nile_reset_admin edits no template" \
    "ERROR:  permission denied for schema nile_reset at character 8" "$out"
fi
sql postgres "CREATE DATABASE fresh"
sql fresh "CREATE EXTENSION nile_reset"
same_schema fresh upgraded_empty "after it, a database updated from $old_version has the schema of a fresh install"
if [ -n "$first_files" ]; then
  # A database created by the first release used Nile's users table; the
  # update keeps it as the user directory, so the fresh install is
  # configured so too.
  sql postgres "CREATE DATABASE fresh_nile"
  sql fresh_nile "CREATE EXTENSION nile_reset"
  sql fresh_nile "SELECT auth.use_nile_users()" >/dev/null
  check_eq "from_first_empty: revoke_admin('nile_reset_admin')" t \
    "$(sql from_first_empty "SELECT auth.revoke_admin('nile_reset_admin')")"
  same_schema fresh_nile from_first_empty "a database updated from $first_version has the schema of a fresh install"
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

# Without the new version's install script, PostgreSQL installs a release
# and applies the update scripts. The suites cannot run that way: a fresh
# install differs from "release, then update" on purpose (the update adopts
# the first release's Nile tables as the user directory; install-time checks
# of foreign schemas run before anything exists). One install from each
# release shows the chains work.
chained() { # database from_version
  sql postgres "CREATE DATABASE $1"
  check "CREATE EXTENSION through the install script of $2 and the updates" sql "$1" "CREATE EXTENSION nile_reset"
  check_eq "the install chained from $2 is at $new_version" "$new_version" "$(extversion "$1")"
}
rm "$extdir/nile_reset--$new_version.sql"
chained chained "$old_version"
if [ -n "$first_files" ]; then
  rm "$extdir/nile_reset--$old_version.sql"
  chained chained_first "$first_version"
fi

finish upgrade

#!/usr/bin/env bash
# nile_reset on a real Citus cluster (docs/citus.md): a
# coordinator and two workers on loopback, PostgreSQL 18 with Citus 14.0.1
# built from the vendored source (scripts/citus_lib.sh, cached per user).
#   1. the last release is installed on the cluster (Citus creates it on the
#      workers too), given data, and upgraded there with ALTER EXTENSION
#      UPDATE: every node ends at the new version, the old token still works;
#   2. a Devise-style users table distributed by id and an email lookup
#      table distributed by email; auth.use_citus() accepts the layout;
#   3. the whole flow with every multi-shard statement turned into an error
#      (citus.multi_task_query_log_level): generate, verify, reset writing
#      the distributed users table, the `send` binary claiming and
#      acknowledging, woken by NOTIFY; deleting a user revokes its token;
#      then Nile's shape distributed by user id (credentials, sessions,
#      cascades);
#   4. what would break is refused: calls on a worker (SQL, serve, send), a
#      users table distributed by another column, no email lookup, a table
#      owner that cannot log in, a distributed nile_reset function, an
#      extension table put in Citus's metadata.
# When neither a built Citus nor its source is available it says so and
# passes nothing. Ends with "citus: N passed, M failed". Ports: from
# CITUS_TEST_PORT of scripts/common.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh
. scripts/citus_lib.sh

use_pg_major 18
port=$CITUS_TEST_PORT
work=$PROJECT_ROOT/target/citus-tests
prefix=$work/postgresql
bin=$prefix${PG_BIN#"$PG_PREFIX"}
pg_config=$prefix${PG_CONFIG#"$PG_PREFIX"}
cluster=$work/cluster

if ! reason=$(build_citus); then
  echo "citus: skipped: $reason"
  exit 0
fi
ensure_pg_copy
new_version=$(workspace_version)
log "building the working tree ($new_version) for PostgreSQL 18"
current_files "$work/current-files"
cargo build --quiet -p nile_reset_shim --bin nile-reset
sender_bin=$PROJECT_ROOT/target/debug/nile-reset

# The last release, from git history, when this is a git checkout with it.
old_version="" old_files=""
if read -r old_version recorded_commit < <(last_release) &&
  commit=$(release_commit "$old_version" "$recorded_commit") &&
  old_files=$(release_files "$old_version" "$commit"); then
  :
else
  log "the last release cannot be built here: the upgrade is not tested"
  old_version=
fi

# A private installation: Citus and nile_reset are laid into a copy, so the
# checkout's own PostgreSQL 18 stays as installed.
if [ -x "$bin/pg_ctl" ]; then citus_stop "$bin" "$cluster"; fi
rm -rf "$cluster"
private_installation "$prefix"
install_citus "$pg_config"
if [ -n "$old_version" ]; then
  install_files "$old_files" "$pg_config"
else
  install_files "$work/current-files" "$pg_config"
fi

log "starting a Citus coordinator and two workers (ports $port-$((port + 2)))"
citus_start "$bin" "$cluster" "$port"
sender_pid=
cleanup() {
  if [ -n "$sender_pid" ]; then kill "$sender_pid" 2>/dev/null || true; fi
  citus_stop "$bin" "$cluster"
}
trap cleanup EXIT

# psql on node N (0 = coordinator); unaligned, tuples only.
on() { # node statement
  PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p $((port + $1)) \
    -U postgres -d "$CITUS_DB" -c "$2"
}
# The coordinator, with every multi-shard statement an error: whatever
# passes through here reached each distributed table on one shard.
one_shard() { # statement
  PGOPTIONS='-c citus.multi_task_query_log_level=error' on 0 "$1"
}
# The SQLSTATE a statement fails with on node N (empty when it succeeds).
sqlstate() { # node statement
  "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -h 127.0.0.1 -p $((port + $1)) \
    -U postgres -d "$CITUS_DB" -c "$2" 2>&1 >/dev/null | sed -n 's/^ERROR: *\([0-9A-Z]\{5\}\).*/\1/p' | head -n 1
}
# The message a statement fails with on the coordinator (empty when it succeeds).
error_of() { # statement
  "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$port" \
    -U postgres -d "$CITUS_DB" -c "$1" 2>&1 >/dev/null | sed -n 's/^ERROR: *//p' | head -n 1
}
versions() { # the extension's version on each node, in node order
  on 0 "SELECT string_agg(v, ' ' ORDER BY n) FROM (
          SELECT 0 AS n, (SELECT extversion FROM pg_extension WHERE extname = 'nile_reset') AS v
          UNION ALL
          SELECT nodeport, result FROM run_command_on_workers(
            \$\$SELECT COALESCE((SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'), 'none')\$\$)) s"
}
generate="'https://app.example.com/done', 'https://app.example.com/reset'"

check_eq "a coordinator and two workers" 3 "$(on 0 "SELECT count(*) FROM pg_dist_node WHERE isactive")"

# --- 1. The last release, upgraded on the cluster ---------------------------
if [ -n "$old_version" ]; then
  jane=00000000-0000-0000-0000-00000000000a
  on 0 "CREATE EXTENSION nile_reset VERSION '$old_version'"
  check_eq "release $old_version is on every node" "$old_version $old_version $old_version" "$(versions)"
  on 0 "SELECT auth.use_nile_users()" >/dev/null
  on 0 "INSERT INTO users.users (id, email, name) VALUES ('$jane', 'Jane@example.com', 'Jane')"
  on 0 "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
  on 0 "SELECT created FROM auth.generate_password_token('jane@example.com', $generate)" >/dev/null
  old_token=$(on 0 "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox")
  install_files "$work/current-files" "$pg_config"
  check "ALTER EXTENSION nile_reset UPDATE on the coordinator" on 0 "ALTER EXTENSION nile_reset UPDATE"
  check_eq "every node is at $new_version" "$new_version $new_version $new_version" "$(versions)"
  check_eq "the token issued by $old_version resets the password" "$jane" \
    "$(on 0 "SELECT auth.reset_password('jane@example.com', '$old_token', 'correct horse battery')")"
  hash=$(on 0 "SELECT payload->>'hash' FROM auth.credentials WHERE user_id = '$jane' AND deleted IS NULL")
  check "the new password is a bcrypt hash that accepts it" bcrypt_accepts 'correct horse battery' "$hash"
  on 0 "DELETE FROM nile_reset.email_outbox"
else
  on 0 "CREATE EXTENSION nile_reset"
  on 0 "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
  check_eq "nile_reset is on every node" "$new_version $new_version $new_version" "$(versions)"
fi

# --- 2. The app's tables, distributed ---------------------------------------
on 0 "CREATE ROLE rails"
on 0 "CREATE TABLE public.users (
        id                 bigserial PRIMARY KEY,
        email              character varying NOT NULL,
        encrypted_password character varying NOT NULL DEFAULT '',
        created_at         timestamp(6) NOT NULL DEFAULT now())"
on 0 "SELECT create_distributed_table('public.users', 'id')" >/dev/null
on 0 "CREATE TABLE public.user_emails (email text PRIMARY KEY, user_id bigint NOT NULL)"
on 0 "SELECT create_distributed_table('public.user_emails', 'email')" >/dev/null
on 0 "ALTER TABLE public.users OWNER TO rails"
on 0 "ALTER TABLE public.user_emails OWNER TO rails"
on 0 "INSERT INTO public.users (email) SELECT 'User' || g || '@example.com' FROM generate_series(1, 200) g"
on 0 "INSERT INTO public.user_emails SELECT lower(email), id FROM public.users"
on 0 "SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt')" >/dev/null

check_eq "auth.use_citus() refuses a distributed users table without an email lookup" 55000 \
  "$(sqlstate 0 "SELECT * FROM auth.use_citus()")"
if one_shard "SELECT created FROM auth.generate_password_token('user1@example.com', $generate)" >/dev/null 2>&1; then
  fail "without the lookup, finding a user by email searches every shard"
else
  pass "without the lookup, finding a user by email searches every shard"
fi
on 0 "SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id')" >/dev/null
check_eq "auth.use_citus() refuses tables whose owner cannot log in (55000)" 55000 \
  "$(sqlstate 0 "SELECT * FROM auth.use_citus()")"
on 0 "ALTER ROLE rails LOGIN"
check_eq "auth.use_citus() describes the supported layout" \
  "nile_reset's state and configuration|ordinary tables on the coordinator
workers|2 with nile_reset $new_version
users: public.users|distributed by id
email lookup: public.user_emails|distributed by email" \
  "$(on 0 "SELECT part, layout FROM auth.use_citus()")"

# --- 3. The flow, one shard at a time ---------------------------------------
outbox=$work/mail
rm -rf "$outbox"
mkdir -p "$outbox"
check_eq "a token for a user of the distributed table" t \
  "$(one_shard "SELECT created FROM auth.generate_password_token(' USER42@example.com', $generate)")"
check_eq "bound to the user's id" "user42@example.com|42" \
  "$(on 0 "SELECT identifier, user_id FROM nile_reset.verification_tokens")"
# Read before the sender runs: a sent email keeps no link.
token=$(on 0 "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox WHERE lower(recipient) = 'user42@example.com'")
check_eq "an address nobody has gets no token" f \
  "$(one_shard "SELECT created FROM auth.generate_password_token('nobody@example.com', $generate)")"

check_eq "a listener is notified by a request" 1 "$(
  "$bin/psql" -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d "$CITUS_DB" 2>&1 <<SQL | grep -c 'notification "nile_reset_email"'
LISTEN nile_reset_email;
SELECT created FROM auth.generate_password_token('user7@example.com', $generate);
SQL
)"

# The sender: its first batch is claimed at start; later ones only when a
# NOTIFY wakes it, since it would otherwise poll once an hour.
"$sender_bin" send --database-url "postgresql://postgres@127.0.0.1:$port/$CITUS_DB" \
  --transport file --outbox-dir "$outbox" --poll-interval 1h >"$work/sender.log" 2>&1 &
sender_pid=$!
wait_sent() { # recipient: waits up to 15 s for its email to be marked sent
  local i
  for i in $(seq 150); do
    [ "$(on 0 "SELECT count(*) FROM nile_reset.email_outbox WHERE lower(recipient) = '$1' AND sent_at IS NOT NULL")" -ge 1 ] && return 0
    sleep 0.1
  done
  return 1
}
check "the sender claims, delivers and acknowledges the queued email" wait_sent user42@example.com
check "the email file names the recipient" grep -rqi "^To: .*user42@example.com" "$outbox"
check "the sender delivers the email queued before it started" wait_sent user7@example.com
sleep 0.5
one_shard "SELECT created FROM auth.generate_password_token('user8@example.com', $generate)" >/dev/null
check "the NOTIFY of a later request wakes the sender, which delivers it" wait_sent user8@example.com

check_eq "the token verifies" valid \
  "$(one_shard "SELECT status FROM auth.verify_password_token('user42@example.com', '$token')")"
check_eq "the token resets the password in the distributed table" 42 \
  "$(PGOPTIONS='-c citus.multi_task_query_log_level=error -c nile_reset.bcrypt_cost=4' on 0 \
      "SELECT auth.reset_password('user42@example.com', '$token', 'correct horse battery')")"
check "the distributed row holds a bcrypt hash that accepts the new password" \
  bcrypt_accepts 'correct horse battery' "$(on 0 "SELECT encrypted_password FROM public.users WHERE id = 42")"
check_eq "no other user's password changed" 0 \
  "$(on 0 "SELECT count(*) FROM public.users WHERE encrypted_password <> '' AND id <> 42")"
check_eq "the token works once" invalid \
  "$(one_shard "SELECT status FROM auth.verify_password_token('user42@example.com', '$token')")"

kill "$sender_pid" 2>/dev/null || true
wait "$sender_pid" 2>/dev/null || true
sender_pid=
check "the sender logged no secret" bash -c "! grep -qE '[0-9a-f]{64}|token=' '$work/sender.log'"

one_shard "SELECT created FROM auth.generate_password_token('user9@example.com', $generate)" >/dev/null
token9=$(on 0 "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox WHERE lower(recipient) = 'user9@example.com'")
on 0 "DELETE FROM public.users WHERE id = 9"
check_eq "deleting the user revokes the token (the lookup row left behind)" invalid \
  "$(one_shard "SELECT status FROM auth.verify_password_token('user9@example.com', '$token9')")"
check_eq "and the token is gone" 0 \
  "$(on 0 "SELECT count(*) FROM nile_reset.verification_tokens WHERE identifier = 'user9@example.com'")"
check_eq "the extension's tables stay on the coordinator" 0 \
  "$(on 0 "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid::text LIKE 'nile_reset.%'")"
check_eq "no queued email was lost" 0 \
  "$(on 0 "SELECT count(*) FROM nile_reset.email_outbox WHERE sent_at IS NULL AND lower(recipient) IN ('user42@example.com', 'user7@example.com', 'user8@example.com')")"

# --- 3b. Nile's shape, distributed -----------------------------------------
# users.users by id, auth.credentials and auth.sessions by user_id, colocated,
# so that their foreign keys (and ON DELETE CASCADE) hold across the cluster.
# Citus needs every unique constraint to include the distribution column:
# the recipe in docs/citus.md.
nina=00000000-0000-0000-0000-0000000000b1
on 0 "SELECT auth.use_nile_users()" >/dev/null
on 0 "INSERT INTO users.users (id, email, name) VALUES ('$nina', 'Nina@example.com', 'Nina')"
on 0 "INSERT INTO auth.sessions (user_id, session_token, expires_at) VALUES ('$nina', 'nina-session', now() + interval '1 day')"
on 0 "ALTER TABLE auth.credentials DROP CONSTRAINT credentials_user_id_fkey"
on 0 "ALTER TABLE auth.sessions DROP CONSTRAINT sessions_user_id_fkey"
on 0 "DROP INDEX users.users_email_live"
on 0 "SELECT create_distributed_table('users.users', 'id')" >/dev/null
on 0 "CREATE TABLE public.nile_emails (email text PRIMARY KEY, user_id uuid NOT NULL)"
on 0 "SELECT create_distributed_table('public.nile_emails', 'email')" >/dev/null
on 0 "INSERT INTO public.nile_emails SELECT lower(email), id FROM users.users WHERE deleted IS NULL"
on 0 "SELECT auth.use_email_lookup('public.nile_emails', 'email', 'user_id')" >/dev/null
check_eq "credentials left local next to distributed users are refused (0A000)" 0A000 \
  "$(sqlstate 0 "SELECT * FROM auth.use_citus()")"
on 0 "ALTER TABLE auth.credentials DROP CONSTRAINT credentials_pkey, ADD PRIMARY KEY (user_id, id)"
on 0 "ALTER TABLE auth.sessions DROP CONSTRAINT sessions_pkey, ADD PRIMARY KEY (user_id, id)"
on 0 "ALTER TABLE auth.sessions DROP CONSTRAINT sessions_session_token_key, ADD UNIQUE (user_id, session_token)"
on 0 "SELECT create_distributed_table('auth.credentials', 'user_id', colocate_with => 'users.users')" >/dev/null
on 0 "SELECT create_distributed_table('auth.sessions', 'user_id', colocate_with => 'users.users')" >/dev/null
on 0 "ALTER TABLE auth.credentials ADD FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE"
on 0 "ALTER TABLE auth.sessions ADD FOREIGN KEY (user_id) REFERENCES users.users (id) ON DELETE CASCADE"
check_eq "auth.use_citus() accepts Nile's tables distributed by user id" \
  "users: users.users|distributed by id
auth.credentials|distributed by user_id
auth.sessions|distributed by user_id
email lookup: public.nile_emails|distributed by email" \
  "$(on 0 "SELECT part, layout FROM auth.use_citus() OFFSET 2")"
check_eq "a token for a user of Nile's distributed table" t \
  "$(one_shard "SELECT created FROM auth.generate_password_token('nina@example.com', $generate)")"
nina_token=$(on 0 "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox WHERE lower(recipient) = 'nina@example.com'")
check_eq "the token resets Nina's password" "$nina" \
  "$(PGOPTIONS='-c citus.multi_task_query_log_level=error -c nile_reset.bcrypt_cost=4' on 0 \
      "SELECT auth.reset_password('nina@example.com', '$nina_token', 'correct horse battery')")"
check "the distributed credential holds a bcrypt hash that accepts it" bcrypt_accepts 'correct horse battery' \
  "$(on 0 "SELECT payload->>'hash' FROM auth.credentials WHERE user_id = '$nina' AND deleted IS NULL")"
check_eq "and her sessions ended" 0 "$(on 0 "SELECT count(*) FROM auth.sessions WHERE user_id = '$nina'")"
on 0 "DELETE FROM users.users WHERE id = '$nina'"
check_eq "deleting her cascades to her distributed credentials" 0 \
  "$(on 0 "SELECT count(*) FROM auth.credentials WHERE user_id = '$nina'")"
on 0 "SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt')" >/dev/null
on 0 "SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id')" >/dev/null

# --- 4. What would break is refused -----------------------------------------
check_eq "a request on a worker is refused (0A000)" 0A000 \
  "$(sqlstate 1 "SELECT created FROM auth.generate_password_token('user1@example.com', $generate)")"
check_eq "a token check on a worker is refused (0A000)" 0A000 \
  "$(sqlstate 2 "SELECT status FROM auth.verify_password_token('user1@example.com', repeat('a', 64))")"
check_eq "auth.use_citus() on a worker is refused (0A000)" 0A000 \
  "$(sqlstate 1 "SELECT * FROM auth.use_citus()")"
worker_url="postgresql://postgres@127.0.0.1:$((port + 1))/$CITUS_DB"
if out=$(timeout 30 "$sender_bin" send --database-url "$worker_url" --transport file \
  --outbox-dir "$outbox" 2>&1); then
  fail "the sender refuses to start on a worker" "it exited 0"
else
  check "the sender refuses to start on a worker" grep -q "is a Citus worker" <<<"$out"
fi
if out=$(NILE_RESET_SECRET=citus-test-secret-citus-test-secret timeout 30 "$sender_bin" serve \
  --listen 127.0.0.1:0 --database "$CITUS_DB=$worker_url" 2>&1); then
  fail "the HTTP shim refuses to serve a worker" "it exited 0"
else
  check "the HTTP shim refuses to serve a worker" grep -q "is a Citus worker" <<<"$out"
fi
check_eq "configuring the directory on a worker is refused (0A000)" 0A000 \
  "$(sqlstate 2 "SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt')")"

on 0 "CREATE TABLE public.users_by_email (id bigint NOT NULL, email text NOT NULL, password text NOT NULL DEFAULT '')"
on 0 "SELECT create_distributed_table('public.users_by_email', 'email')" >/dev/null
on 0 "SELECT auth.use_user_table('public.users_by_email', 'id', 'email', 'password', 'bcrypt')" >/dev/null
on 0 "SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id')" >/dev/null
check_eq "a users table distributed by another column than the id is refused (0A000)" 0A000 \
  "$(sqlstate 0 "SELECT * FROM auth.use_citus()")"
on 0 "SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt')" >/dev/null
on 0 "SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id')" >/dev/null
check_eq "the supported layout is accepted again" 4 "$(on 0 "SELECT count(*) FROM auth.use_citus()")"
check_eq "Citus itself refuses to make nile_reset a distributed schema" \
  "schema nile_reset, which is owned by an extension, cannot be distributed" \
  "$(error_of "SELECT citus_schema_distribute('nile_reset')")"
# Last, since neither can be undone: one of nile_reset's functions made a
# distributed function (Citus would run it on a worker), and one of its
# tables put in Citus's metadata.
on 0 "SELECT create_distributed_function('auth.verify_password_token(text, text)', '\$1')" >/dev/null
check_eq "a distributed nile_reset function is refused (0A000)" 0A000 \
  "$(sqlstate 0 "SELECT * FROM auth.use_citus()")"
check_eq "naming it" \
  "auth.verify_password_token(text,text) is a distributed function: Citus would run it on a worker, which has none of nile_reset's state" \
  "$(error_of "SELECT * FROM auth.use_citus()")"
# (The configuration tables carry the cache's triggers, which Citus itself
# refuses to distribute; the token table has none.)
on 0 "SELECT create_reference_table('nile_reset.verification_tokens')" >/dev/null
check_eq "an extension table in Citus's metadata is refused (0A000)" 0A000 \
  "$(sqlstate 0 "SELECT * FROM auth.use_citus()")"
check_eq "naming it" \
  "nile_reset.verification_tokens is in Citus's metadata: nile_reset's tables must stay ordinary tables on the coordinator" \
  "$(error_of "SELECT * FROM auth.use_citus()")"

finish citus

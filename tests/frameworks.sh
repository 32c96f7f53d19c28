#!/usr/bin/env bash
# The frameworks' own password verifiers accept what auth.reset_password
# writes into their tables, through a real server: for each framework a
# hash made by the framework itself is the user's current password, a reset
# goes the SQL way (request, token read from the queued email, reset), and
# the framework then refuses the old password, accepts the new one and finds
# the new hash as strong as the old (same scheme, no lower cost):
#   - Laravel: PHP's password_hash/password_verify ($2y$, cost 12), a
#     Laravel-like users table (tests/frameworks/laravel.php);
#   - Django: make_password/check_password with PBKDF2 at 1,200,000
#     iterations and with Argon2PasswordHasher, in an auth_user table;
#   - Python's bcrypt ($2b$, and Devise's $2a$) and argon2-cffi's
#     PasswordHasher (tests/frameworks/verifiers.py);
#   - an unusable current hash (Django's "!...") gets the settings;
#   - password lengths: bcrypt refuses 73 bytes (22001), PBKDF2 takes 200;
#   - a reset at Django's PBKDF2 iteration count takes well under 3 s:
#     hashing must run optimized, also in the debug build the tests install.
# Needs the extension installed in the checkout's PostgreSQL, php-cli and
# the Python test tools (scripts/setup.sh, scripts/test.sh). Ends with
# "frameworks: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh

port=$((FRAMEWORKS_PORT + PG_PORT_OFFSET))
work=$PROJECT_ROOT/target/frameworks-pg$PG_MAJOR
datadir=$work/cluster
stop_cluster "$PG_BIN" "$datadir"
rm -rf "$work"
mkdir -p "$work"
start_cluster "$PG_BIN" "$datadir" "$port"
trap 'stop_cluster "$PG_BIN" "$datadir"' EXIT
# Passwords with non-ASCII characters go through psql as UTF-8 whatever the
# locale.
export PGCLIENTENCODING=UTF8

python=$VENV/bin/python
py() { "$python" tests/frameworks/verifiers.py "$@"; }
php_laravel() { php tests/frameworks/laravel.php "$@"; }

# Runs a statement; name=value arguments become psql variables, so values
# go in as :'name' and are quoted by psql, never spliced into the SQL.
sql() { # database statement [name=value...]
  local db=$1 statement=$2 vars=() v
  shift 2
  for v in "$@"; do vars+=(-v "$v"); done
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -h 127.0.0.1 -p "$port" -U postgres \
    -d "$db" "${vars[@]}" <<<"$statement"
}

# The SQLSTATE a statement raises, or "ok".
sqlstate() { # database statement [name=value...]
  local err
  if err=$(sql "$@" 2>&1 >/dev/null); then echo ok; else grep -o '[0-9A-Z]\{5\}$' <<<"$err" | tail -n 1; fi
}

# A database with the extension, pointed at the application's table.
app_database() { # name table_ddl use_user_table_arguments
  sql postgres "CREATE DATABASE $1"
  sql "$1" "CREATE EXTENSION nile_reset"
  sql "$1" "$2"
  sql "$1" "SELECT auth.use_user_table($3)" >/dev/null
  sql "$1" "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
}

# The token of a new reset request, as the emailed link carries it.
request_token() { # database email
  local created
  created=$(sql "$1" "SELECT created FROM auth.generate_password_token(:'email',
                        'https://app.example.com/login', 'https://app.example.com/reset-password')" email="$2")
  if [ "$created" != t ]; then
    echo "no token was created for $2" >&2
    return 1
  fi
  sql "$1" "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox
             WHERE recipient = :'email' AND kind = 'password_reset' ORDER BY id DESC LIMIT 1" email="$2"
}

# The whole SQL flow; prints the user's id that auth.reset_password returns.
reset_via_sql() { # database email new_password
  local token
  token=$(request_token "$1" "$2") || return 1
  sql "$1" "SELECT auth.reset_password(:'email', :'token', :'password')" email="$2" token="$token" password="$3"
}

stored() { # database table password_column email
  sql "$1" "SELECT $3 FROM $2 WHERE email = :'email'" email="$4"
}

# Resets a user's password and checks the returned id; sets $hash to the
# new stored hash.
reset_and_read() { # label database table password_column email new_password expected_id
  local id
  hash=
  if id=$(reset_via_sql "$2" "$5" "$6"); then
    check_eq "$1: auth.reset_password resets the password" "$7" "$id"
    hash=$(stored "$2" "$3" "$4" "$5")
  else
    fail "$1: auth.reset_password resets the password"
  fi
}

# The settings a reset writes when the current hash gives nothing to keep
# (the library defines them when it is loaded).
setting() { # name
  sql postgres "LOAD 'nile_reset'; SELECT setting FROM pg_settings WHERE name = 'nile_reset.' || :'name'" name="$1"
}
pbkdf2_iterations=$(setting pbkdf2_iterations)
argon2_m=$(setting argon2_memory_kib)
argon2_t=$(setting argon2_iterations)
argon2_p=$(setting argon2_parallelism)
max() { if [ "$1" -ge "$2" ]; then echo "$1"; else echo "$2"; fi; }

old='old laravel secret'
new='new laravel secret'
log "Laravel: PHP's password_hash, a Laravel-like users table"
app_database laravel "
  CREATE TABLE public.users (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name varchar(255) NOT NULL,
    email varchar(255) NOT NULL UNIQUE,
    email_verified_at timestamp(0),
    password varchar(255) NOT NULL,
    remember_token varchar(100),
    created_at timestamp(0),
    updated_at timestamp(0));
  CREATE INDEX ON public.users (lower(email))" \
  "'public.users', 'id', 'email', 'password', 'bcrypt', 'name'"
for email in taylor@example.com long@example.com; do
  sql laravel "INSERT INTO users (name, email, password, created_at, updated_at)
               VALUES (split_part(:'email', '@', 1), :'email', :'hash', now(), now())" \
    email="$email" hash="$(php_laravel hash "$old")"
done
taylor=$(sql laravel "SELECT id FROM users WHERE email = 'taylor@example.com'")
check_eq "Laravel: the current hash is PHP's \$2y\$12\$" "\$2y\$12\$" "$(stored laravel users password taylor@example.com | cut -c1-7)"
reset_and_read Laravel laravel users password taylor@example.com "$new" "$taylor"
check_eq "Laravel: password_verify refuses the old password" refused "$(php_laravel check "$old" "$hash")"
check_eq "Laravel: password_verify accepts the new password" accepted "$(php_laravel check "$new" "$hash")"
check_eq "Laravel: the new hash keeps \$2y\$ and cost 12" "\$2y\$12\$" "${hash:0:7}"
check_eq "Laravel: password_get_info says bcrypt, password_needs_rehash says no" "bcrypt needs_rehash=no" \
  "$(php_laravel info "$hash")"

# bcrypt reads 72 bytes; a 73rd would be ignored, so it is refused before
# the token is used.
long_ok=$(printf 'x%.0s' {1..72})
token=$(request_token laravel long@example.com) || token=
check_eq "bcrypt: a 73-byte password is refused with 22001" 22001 \
  "$(sqlstate laravel "SELECT auth.reset_password('long@example.com', :'token', :'password')" token="$token" password="${long_ok}y")"
check_eq "bcrypt: the refused password leaves the token valid" valid \
  "$(sql laravel "SELECT status FROM auth.verify_password_token('long@example.com', :'token')" token="$token")"
sql laravel "SELECT auth.reset_password('long@example.com', :'token', :'password')" token="$token" password="$long_ok" >/dev/null || true
check_eq "bcrypt: a 72-byte password is taken, and password_verify accepts it" accepted \
  "$(php_laravel check "$long_ok" "$(stored laravel users password long@example.com)")"

old='old django secret'
new='new django secret'
django_table="
  CREATE TABLE public.auth_user (
    id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    password varchar(128) NOT NULL,
    last_login timestamptz,
    is_superuser boolean NOT NULL DEFAULT false,
    username varchar(150) NOT NULL UNIQUE,
    first_name varchar(150) NOT NULL DEFAULT '',
    last_name varchar(150) NOT NULL DEFAULT '',
    email varchar(254) NOT NULL,
    is_staff boolean NOT NULL DEFAULT false,
    is_active boolean NOT NULL DEFAULT true,
    date_joined timestamptz NOT NULL DEFAULT now());
  CREATE INDEX ON public.auth_user (lower(email))"
django_user() { # database username hash
  sql "$1" "INSERT INTO auth_user (username, email, first_name, password) VALUES (:'u', :'u' || '@example.com', :'u', :'h')" \
    u="$2" h="$3"
  sql "$1" "SELECT id FROM auth_user WHERE username = :'u'" u="$2"
}

log "Django: PBKDF2PasswordHasher at 1,200,000 iterations"
app_database django_pbkdf2 "$django_table" "'public.auth_user', 'id', 'email', 'password', 'django_pbkdf2_sha256', 'first_name'"
ada=$(django_user django_pbkdf2 ada "$(py django_pbkdf2 hash "$old")")
grace=$(django_user django_pbkdf2 grace "$(py django_unusable hash -)")
long=$(django_user django_pbkdf2 long "$(py django_pbkdf2 hash "$old")")
check_eq "Django PBKDF2: the current hash has 1,200,000 iterations" "pbkdf2_sha256 iterations=1200000 must_update=False" \
  "$(py django_pbkdf2 params "$(stored django_pbkdf2 auth_user password ada@example.com)")"
# The reset statement is timed alone (its one hash dominates it).
token=$(request_token django_pbkdf2 ada@example.com) || token=
started=$(date +%s%N)
id=$(sql django_pbkdf2 "SELECT auth.reset_password('ada@example.com', :'token', :'password')" token="$token" password="$new") || id=
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
check_eq "Django PBKDF2: auth.reset_password resets the password" "$ada" "$id"
hash=$(stored django_pbkdf2 auth_user password ada@example.com)
check_eq "Django PBKDF2: check_password refuses the old password" refused "$(py django_pbkdf2 check "$old" "$hash")"
check_eq "Django PBKDF2: check_password accepts the new password" accepted "$(py django_pbkdf2 check "$new" "$hash")"
iterations=$(max 1200000 "$pbkdf2_iterations")
must_update=$([ "$iterations" -eq 1200000 ] && echo False || echo True)
check_eq "Django PBKDF2: the iterations stay 1,200,000, so the hasher wants no update" \
  "pbkdf2_sha256 iterations=$iterations must_update=$must_update" "$(py django_pbkdf2 params "$hash")"
# Optimized, 1,200,000 iterations take well under a second (OpenSSL about
# 0.3 s); unoptimized code takes 6 to 15 s.
printf '  ..   the reset at 1,200,000 PBKDF2 iterations took %d.%03d s\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
if [ -n "$id" ] && [ "$elapsed_ms" -lt 3000 ]; then
  pass "Django PBKDF2: a reset at 1,200,000 iterations takes under 3 s"
else
  fail "Django PBKDF2: a reset at 1,200,000 iterations takes under 3 s" "took ${elapsed_ms} ms"
fi

reset_and_read "Django unusable password" django_pbkdf2 auth_user password grace@example.com "$new" "$grace"
check_eq "Django unusable password: check_password accepts the new password" accepted "$(py django_pbkdf2 check "$new" "$hash")"
check_eq "Django unusable password: the new hash has nile_reset.pbkdf2_iterations" \
  "pbkdf2_sha256 iterations=$pbkdf2_iterations" "$(py django_pbkdf2 params "$hash" | cut -d' ' -f1-2)"

# 200 bytes in 100 characters: PBKDF2 hashes every byte, as Django does.
long_password=$(printf 'é%.0s' {1..100})
check_eq "PBKDF2: the long password is 200 bytes" 200 "$(printf %s "$long_password" | wc -c)"
reset_and_read "PBKDF2 200-byte password" django_pbkdf2 auth_user password long@example.com "$long_password" "$long"
check_eq "PBKDF2: check_password accepts the 200-byte password" accepted "$(py django_pbkdf2 check "$long_password" "$hash")"
check_eq "PBKDF2: check_password refuses it without its last character" refused \
  "$(py django_pbkdf2 check "${long_password%é}" "$hash")"

log "Django: Argon2PasswordHasher"
app_database django_argon2 "$django_table" "'public.auth_user', 'id', 'email', 'password', 'django_argon2', 'first_name'"
ada=$(django_user django_argon2 ada "$(py django_argon2 hash "$old")")
grace=$(django_user django_argon2 grace "$(py django_unusable hash -)")
check_eq "Django Argon2: the current hash has Django's parameters" \
  "argon2 memory_cost=102400 time_cost=2 parallelism=8 must_update=False" \
  "$(py django_argon2 params "$(stored django_argon2 auth_user password ada@example.com)")"
reset_and_read "Django Argon2" django_argon2 auth_user password ada@example.com "$new" "$ada"
check_eq "Django Argon2: check_password refuses the old password" refused "$(py django_argon2 check "$old" "$hash")"
check_eq "Django Argon2: check_password accepts the new password" accepted "$(py django_argon2 check "$new" "$hash")"
check_eq "Django Argon2: each parameter is the larger of Django's and the setting's" \
  "argon2 memory_cost=$(max 102400 "$argon2_m") time_cost=$(max 2 "$argon2_t") parallelism=$(max 8 "$argon2_p")" \
  "$(py django_argon2 params "$hash" | cut -d' ' -f1-4)"
reset_and_read "Django Argon2 unusable password" django_argon2 auth_user password grace@example.com "$new" "$grace"
check_eq "Django Argon2 unusable password: check_password accepts the new password" accepted \
  "$(py django_argon2 check "$new" "$hash")"
check_eq "Django Argon2 unusable password: the new hash has the settings" \
  "argon2 memory_cost=$argon2_m time_cost=$argon2_t parallelism=$argon2_p" \
  "$(py django_argon2 params "$hash" | cut -d' ' -f1-4)"

old='old bcrypt secret'
new='new bcrypt secret'
log "Python bcrypt: \$2b\$ (the bcrypt package) and \$2a\$ (Devise)"
app_database pybcrypt "
  CREATE TABLE public.members (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, encrypted_password text NOT NULL)" \
  "'public.members', 'id', 'email', 'encrypted_password', 'bcrypt'"
sql pybcrypt "INSERT INTO members VALUES (1, 'py@example.com', :'b'), (2, 'devise@example.com', :'a')" \
  b="$(py bcrypt_2b hash "$old")" a="$(py bcrypt_2a hash "$old")"
reset_and_read "bcrypt \$2b\$" pybcrypt members encrypted_password py@example.com "$new" 1
check_eq "bcrypt \$2b\$: the new hash keeps \$2b\$ and cost 12" "\$2b\$12\$" "${hash:0:7}"
check_eq "bcrypt \$2b\$: bcrypt.checkpw refuses the old password" refused "$(py bcrypt_2b check "$old" "$hash")"
check_eq "bcrypt \$2b\$: bcrypt.checkpw accepts the new password" accepted "$(py bcrypt_2b check "$new" "$hash")"
reset_and_read "bcrypt \$2a\$" pybcrypt members encrypted_password devise@example.com "$new" 2
check_eq "bcrypt \$2a\$: the new hash keeps \$2a\$ and cost 11" "\$2a\$11\$" "${hash:0:7}"
check_eq "bcrypt \$2a\$: bcrypt.checkpw refuses the old password" refused "$(py bcrypt_2a check "$old" "$hash")"
check_eq "bcrypt \$2a\$: bcrypt.checkpw accepts the new password" accepted "$(py bcrypt_2a check "$new" "$hash")"

old='old argon2 secret'
new='new argon2 secret'
log "argon2-cffi: PasswordHasher() in an argon2id table"
app_database argon2cffi "
  CREATE TABLE public.accounts (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text NOT NULL UNIQUE, password_hash text)" \
  "'public.accounts', 'id', 'email', 'password_hash', 'argon2id'"
sql argon2cffi "INSERT INTO accounts (email, password_hash) VALUES ('hynek@example.com', :'h')" h="$(py argon2 hash "$old")"
hynek=$(sql argon2cffi "SELECT id FROM accounts WHERE email = 'hynek@example.com'")
reset_and_read "argon2-cffi" argon2cffi accounts password_hash hynek@example.com "$new" "$hynek"
check_eq "argon2-cffi: PasswordHasher().verify refuses the old password" refused "$(py argon2 check "$old" "$hash")"
check_eq "argon2-cffi: PasswordHasher().verify accepts the new password" accepted "$(py argon2 check "$new" "$hash")"
check_eq "argon2-cffi: argon2id with its defaults, so check_needs_rehash is False" \
  "argon2id m=$(max 65536 "$argon2_m") t=$(max 3 "$argon2_t") p=$(max 4 "$argon2_p") salt_len=16 hash_len=32 needs_rehash=False" \
  "$(py argon2 params "$hash")"

finish frameworks

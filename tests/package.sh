#!/usr/bin/env bash
# The Debian packages install and work on this machine: builds them
# (packaging/build.sh, for the system's PostgreSQL 15), installs them with
# apt-get into the system, runs CREATE EXTENSION and one password reset on a
# throwaway cluster of the system's own PostgreSQL binaries, checks
# `nile-reset --version`, that the packaged `nile-reset serve` answers
# /healthz against it, and the systemd units, then purges the packages
# (and the system user, if the packages created it) so that the system is
# left as it was. Needs root or passwordless sudo.
# Ends with "package: N passed, M failed". Ports: PACKAGE_*_PORT of
# scripts/common.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh

# The system's PostgreSQL, from Debian's packages.
major=15
system_bin=/usr/lib/postgresql/$major/bin
port=$PACKAGE_PORT
work=$PROJECT_ROOT/target/release-tests/package
datadir=$work/cluster
ext_package=postgresql-$major-nile-reset

if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
  log "installing packages needs root or passwordless sudo"
  exit 1
fi
if [ ! -x "$system_bin/initdb" ]; then
  log "PostgreSQL $major is not installed on this system (run scripts/setup.sh)"
  exit 1
fi
for package in "$ext_package" nile-reset; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
    log "$package is already installed on this system; this test installs and removes it, so it stops here"
    exit 1
  fi
done

bash packaging/build.sh "$major"
version=$(workspace_version)
arch=$(dpkg --print-architecture)
ext_deb=target/packages/${ext_package}_${version}_$arch.deb
bin_deb=target/packages/nile-reset_${version}_$arch.deb

# What the packages say, before anything is installed: every extension
# package built (one per PostgreSQL major) lays its files under that major's
# system folders and depends on that major's server.
for deb in target/packages/postgresql-*-nile-reset_"${version}_$arch".deb; do
  deb_major=$(basename "$deb" | sed -E 's/^postgresql-([0-9]+)-.*/\1/')
  stray=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -v '/$' | sed 's|^\./|/|' |
    grep -vE "^/usr/(lib/postgresql/$deb_major/lib|share/postgresql/$deb_major/extension|share/doc/postgresql-$deb_major-nile-reset)/[^/]+$" || true)
  check_eq "$(basename "$deb"): files only under PostgreSQL $deb_major's system folders" "" "$stray"
  check_eq "$(basename "$deb"): ships the library, control file and install script" 3 \
    "$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -cE "/lib/nile_reset\.so$|/extension/nile_reset\.control$|/extension/nile_reset--$version\.sql$")"
  if dpkg-deb -f "$deb" Depends | grep -qE "(^|, )postgresql-$deb_major(,|$| )"; then
    pass "$(basename "$deb"): depends on postgresql-$deb_major"
  else
    fail "$(basename "$deb"): depends on postgresql-$deb_major" "Depends: $(dpkg-deb -f "$deb" Depends)"
  fi
done

user_existed=false
if getent passwd nile-reset >/dev/null; then user_existed=true; fi
serve_pid=
cleanup() {
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
  fi
  stop_cluster "$system_bin" "$datadir" || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$ext_package" nile-reset >/dev/null 2>&1 || true
  if ! $user_existed && getent passwd nile-reset >/dev/null; then
    as_root deluser --system --quiet nile-reset >/dev/null 2>&1 || true
    if getent group nile-reset >/dev/null; then as_root delgroup --system --quiet nile-reset >/dev/null 2>&1 || true; fi
  fi
}
trap cleanup EXIT

mkdir -p "$work"
log "installing $ext_deb and $bin_deb"
if as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "./$ext_deb" "./$bin_deb" >"$work/apt.log" 2>&1; then
  pass "apt-get install ./$ext_deb ./$bin_deb"
else
  fail "apt-get install ./$ext_deb ./$bin_deb" "$(tail -n 20 "$work/apt.log")"
  finish package
fi

libdir=/usr/lib/postgresql/$major/lib
extdir=/usr/share/postgresql/$major/extension
check "the library is in $libdir" test -f "$libdir/nile_reset.so"
check "the control file and install script are in $extdir" test -f "$extdir/nile_reset.control" -a -f "$extdir/nile_reset--$version.sql"
check_eq "nile-reset --version" "nile-reset $version" "$(/usr/bin/nile-reset --version 2>&1)"
check "the system user nile-reset exists" getent passwd nile-reset
check_eq "the environment file is private to root and the nile-reset group" "640 root nile-reset" \
  "$(stat -c '%a %U %G' /etc/nile-reset/nile-reset.env)"
if dpkg-query -W -f='${Conffiles}' nile-reset | grep -q '/etc/nile-reset/nile-reset.env'; then
  pass "the environment file is a conffile"
else
  fail "the environment file is a conffile" "$(dpkg-query -W -f='${Conffiles}' nile-reset)"
fi
if command -v systemd-analyze >/dev/null; then
  check "systemd-analyze verify accepts the units" \
    systemd-analyze verify /lib/systemd/system/nile-reset-serve.service /lib/systemd/system/nile-reset-send.service
else
  log "systemd-analyze is not installed: the units are not verified"
fi

# One reset on a cluster of the system's own binaries.
stop_cluster "$system_bin" "$datadir"
rm -rf "$datadir"
start_cluster "$system_bin" "$datadir" "$port"
sql() { # statement  -> unaligned, tuples only
  "$system_bin/psql" -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "$1"
}
check "CREATE EXTENSION nile_reset" sql "CREATE EXTENSION nile_reset"
check_eq "the installed version" "$version" "$(sql "SELECT extversion FROM pg_extension WHERE extname = 'nile_reset'")"
check "SELECT auth.use_nile_users()" sql "SELECT auth.use_nile_users()"
sql "INSERT INTO users.users (id, email, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'jane@example.com', 'Jane')"
sql "SELECT auth.add_trusted_origin('https://app.example.com')" >/dev/null
check_eq "a reset request" t \
  "$(sql "SELECT created FROM auth.generate_password_token('jane@example.com', 'https://app.example.com/', 'https://app.example.com/reset')")"
token=$(sql "SELECT substring(body FROM 'token=([0-9a-f]{64})') FROM nile_reset.email_outbox WHERE recipient = 'jane@example.com'")
check_eq "the reset email carries a token" 64 "${#token}"
check_eq "the token resets the password" 00000000-0000-0000-0000-00000000000a \
  "$(sql "SELECT auth.reset_password('jane@example.com', '$token', 'correct horse battery')")"
check_eq "a password is stored" 1 \
  "$(sql "SELECT count(*) FROM auth.credentials WHERE user_id = '00000000-0000-0000-0000-00000000000a' AND method = 'EMAIL_PASSWORD' AND deleted IS NULL")"

# The packaged binary serves the packaged extension.
serve_port=$PACKAGE_SERVE_PORT
admin_port=$PACKAGE_ADMIN_PORT
/usr/bin/nile-reset serve --listen "127.0.0.1:$serve_port" --admin-listen "127.0.0.1:$admin_port" --log-format text \
  --database "app=postgres://postgres@127.0.0.1:$port/postgres" >"$work/serve.log" 2>&1 &
serve_pid=$!
status=000
for _ in $(seq 50); do
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$admin_port/healthz" || true)
  [ "$status" = 000 ] || break
  sleep 0.2
done
check_eq "nile-reset serve answers /healthz with the packaged extension" 200 "$status"
kill -TERM "$serve_pid"
wait "$serve_pid" || true
serve_pid=
stop_cluster "$system_bin" "$datadir"

log "purging the packages"
check "apt-get purge" as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "$ext_package" nile-reset
check "the extension's files are gone" test ! -e "$libdir/nile_reset.so" -a ! -e "$extdir/nile_reset.control"
check "the binary, units and configuration are gone" \
  test ! -e /usr/bin/nile-reset -a ! -e /lib/systemd/system/nile-reset-serve.service -a ! -e /etc/nile-reset

finish package

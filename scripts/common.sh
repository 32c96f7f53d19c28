# Shared settings and helpers for the scripts in this folder (sourced).
PG_MAJOR=15
PGRX_VERSION=0.18.1
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
# Debian's /usr/bin/pg_config picks the newest major; pin ours.
PG_CONFIG=$PG_BIN/pg_config
# The OS user that owns local clusters when the scripts run as root.
PG_OS_USER=${NILE_RESET_PG_USER:-postgres}
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '\033[1m[nile_reset]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Runs a command as the cluster owner: ourselves, or $PG_OS_USER under root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}
# Python tools the tests drive (an SMTP server, schemathesis), kept per machine.
VENV=${NILE_RESET_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nile_reset/venv}

# Builds the extension and installs it into the system PostgreSQL; a
# non-root user needs sudo to write there.
pgrx_install() {
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(--sudo)
  cargo pgrx install "${sudo[@]}" --pg-config "$PG_CONFIG" "$@" >/dev/null
}

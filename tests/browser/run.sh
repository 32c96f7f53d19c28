#!/usr/bin/env bash
# Real-browser tests: Debian's chromium, headless, driven over the DevTools protocol by
# playwright-core (the exact versions in package.json, installed from the committed
# package-lock.json), on Node's built-in test runner:
#  (a) our own pages (`nile-reset serve --pages`): forgot password, the email from
#      `nile-reset send`'s file transport, its link, a password the policy refuses, a good
#      one, the link refused once spent, forms posted from other origins refused, no framing
#      by another site, German; and over HTTPS (a TLS proxy in front of a second `serve`
#      with --public-url https://...), where the cookies are the __Secure- ones;
#  (b) Nile's own React forms (@niledatabase/react, bundled with esbuild) served with
#      @niledatabase/server's route handlers by a small Node app pointed at the shim.
# Screenshots of every step go to target/browser/screenshots (each named in the output).
#   tests/browser/run.sh                  prepare, start PostgreSQL, the shim, the sender and the app, run the tests
#   tests/browser/run.sh --prepare        only install what the tests need (uses the network)
#   tests/browser/run.sh --readme-image   also write docs/images/reset-page.png (our reset page)
# The caller installs the extension into the checkout's PostgreSQL first
# (scripts/test.sh does; by hand: `. scripts/common.sh && pgrx_install`).
# Ends with "browser: N passed, M failed"; exits non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/common.sh

here=$PROJECT_ROOT/tests/browser
work=$PROJECT_ROOT/target/browser
pg_port=${NILE_RESET_BROWSER_PG_PORT:-$BROWSER_PG_PORT}
http_port=${NILE_RESET_BROWSER_HTTP_PORT:-$BROWSER_HTTP_PORT}
node_port=${NILE_RESET_BROWSER_NODE_PORT:-$BROWSER_NODE_PORT}
tls_port=${NILE_RESET_BROWSER_TLS_PORT:-$BROWSER_TLS_PORT}
tls_http_port=${NILE_RESET_BROWSER_TLS_HTTP_PORT:-$BROWSER_TLS_HTTP_PORT}
chromium=${NILE_RESET_BROWSER_CHROMIUM:-/usr/bin/chromium}
db=browser

# Node.js 18 or later and Debian's chromium: scripts/setup.sh installs both.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "Node.js and npm are missing: run scripts/setup.sh" >&2
  exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
  echo "the browser tests need Node.js 18 or later; found $(node --version)" >&2
  exit 1
fi
if [ ! -x "$chromium" ]; then
  echo "$chromium is missing: run scripts/setup.sh (Debian's chromium package)" >&2
  exit 1
fi

# The packages, exactly as locked; reinstalled only when the lockfile changes.
stamp=$here/node_modules/.nile-reset-lock
if ! cmp -s "$here/package-lock.json" "$stamp"; then
  log "installing the browser tests' packages (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$stamp"
fi
cargo build --quiet -p nile_reset_shim --bin nile-reset
[ "${1:-}" = --prepare ] && exit 0

bin=$PROJECT_ROOT/target/debug/nile-reset
app=http://127.0.0.1:$node_port
# The app once more, its SDK configured for secure cookies (127.0.0.3), and another site for
# the browser than all of these (127.0.0.2): every 127.x address is loopback.
app_secure=http://127.0.0.3:$node_port
other_site=http://127.0.0.2:$node_port
shim=http://127.0.0.1:$http_port
shim_tls=https://127.0.0.1:$tls_port
# A cluster left running by an interrupted run is stopped before its folder goes.
[ -s "$work/cluster/PG_VERSION" ] && bash scripts/cluster.sh stop "$work/cluster" "$pg_port"
rm -rf "$work"
mkdir -p "$work/screenshots"
chmod 700 "$work"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  bash scripts/cluster.sh stop "$work/cluster" "$pg_port" || true
}
trap cleanup EXIT

# Waits until a background server printed its "listening on" lines (one per address).
await_listening() { # name pid log [addresses]
  local lines
  for _ in $(seq 150); do
    lines=$(grep -c 'listening on ' "$3" 2>/dev/null) || true
    [ "${lines:-0}" -ge "${4:-1}" ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "$1 did not start:" >&2
  cat "$3" >&2
  exit 1
}

bash scripts/cluster.sh start "$work/cluster" "$pg_port"
psql_as() { psql -X -q -o /dev/null -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
psql_as -d postgres -c "CREATE DATABASE $db"
# pgcrypto: the tests check the stored bcrypt hash with crypt(). Trusted: the app (Nile's
# forms, both cookie modes) and the shim itself, both ways (the links of its own pages).
psql_as -d "$db" <<SQL
SET client_min_messages = warning;
CREATE EXTENSION nile_reset;
CREATE EXTENSION pgcrypto;
SELECT auth.use_nile_users();
SELECT auth.add_trusted_origin('$app');
SELECT auth.add_trusted_origin('$app_secure');
SELECT auth.add_trusted_origin('$shim');
SELECT auth.add_trusted_origin('$shim_tls');
SQL

# The cookie secret and the API key, in files (never in argv).
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$work/secret"
od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$work/api-key"
dsn="postgres://postgres@127.0.0.1:$pg_port/$db"

"$bin" send --database-url "$dsn" --transport file --outbox-dir "$work/mail" \
  --poll-interval 1s >"$work/sender.log" 2>&1 </dev/null &
pids+=($!)

# The pages are opt-in (--pages). Every request comes from 127.0.0.1: the per-client limit is
# not what is tested here.
NILE_RESET_DATABASES="$db=$dsn" "$bin" serve --listen "127.0.0.1:$http_port" --pages \
  --rate-limit-per-minute 0 \
  --secret-file "$work/secret" --api-keys-file "$work/api-key" >"$work/shim.log" 2>&1 </dev/null &
pids+=($!)
await_listening "nile-reset serve" "${pids[-1]}" "$work/shim.log"

# The pages over HTTPS, as in production: a second serve, whose public URL is the TLS proxy's,
# behind that proxy (a throwaway self-signed certificate; the browser is told to accept it).
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null
NILE_RESET_DATABASES="$db=$dsn" "$bin" serve --listen "127.0.0.1:$tls_http_port" --pages \
  --public-url "$shim_tls" --rate-limit-per-minute 0 \
  --secret-file "$work/secret" --api-keys-file "$work/api-key" >"$work/shim-tls.log" 2>&1 </dev/null &
pids+=($!)
await_listening "nile-reset serve (behind TLS)" "${pids[-1]}" "$work/shim-tls.log"
NILE_RESET_BROWSER_TLS_LISTEN="127.0.0.1:$tls_port" \
NILE_RESET_BROWSER_TLS_UPSTREAM="http://127.0.0.1:$tls_http_port" \
NILE_RESET_BROWSER_TLS_CERT="$work/tls/cert.pem" \
NILE_RESET_BROWSER_TLS_KEY="$work/tls/key.pem" \
  node "$here/tls-proxy.mjs" >"$work/tls-proxy.log" 2>&1 </dev/null &
pids+=($!)
await_listening "the TLS proxy" "${pids[-1]}" "$work/tls-proxy.log"

log "bundling the React app (esbuild)"
node "$here/build.mjs" "$work/app"
NILE_RESET_BROWSER_API_URL="$shim/v2/databases/$db" \
NILE_RESET_BROWSER_APP_DIR="$work/app" \
NILE_RESET_BROWSER_LISTEN="127.0.0.1:$node_port 127.0.0.3:$node_port/secure 127.0.0.2:$node_port" \
  node "$here/server.mjs" >"$work/app.log" 2>&1 </dev/null &
pids+=($!)
await_listening "the Node app" "${pids[-1]}" "$work/app.log" 3

echo "browser: $("$chromium" --version 2>/dev/null | sed 's/ built on .*//') ($chromium), driven by playwright-core $(node -p "require('$here/node_modules/playwright-core/package.json').version")"
echo "screenshots: $work/screenshots"
readme_image=
[ "${1:-}" = --readme-image ] && readme_image=$PROJECT_ROOT/docs/images/reset-page.png
status=0
NILE_RESET_BROWSER_SHIM=$shim \
NILE_RESET_BROWSER_SHIM_TLS=$shim_tls \
NILE_RESET_BROWSER_DATABASE=$db \
NILE_RESET_BROWSER_APP=$app \
NILE_RESET_BROWSER_APP_SECURE=$app_secure \
NILE_RESET_BROWSER_OTHER_SITE=$other_site \
NILE_RESET_BROWSER_MAIL_DIR=$work/mail \
NILE_RESET_BROWSER_SCREENSHOTS=$work/screenshots \
NILE_RESET_BROWSER_DATABASE_URL=$dsn \
NILE_RESET_BROWSER_CHROMIUM=$chromium \
NILE_RESET_BROWSER_README_SCREENSHOT=$readme_image \
  node --test --test-concurrency=1 --test-timeout=120000 --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$work/results.tap" \
    "$here"/test/*.test.mjs || status=$?

# Secrets never reach the servers' logs: the API key, and no token of any link.
for file in "$work"/*.log; do
  if grep -qF "$(cat "$work/api-key")" "$file" || grep -qE 'token=[A-Za-z0-9_-]{16,}' "$file"; then
    echo "FAILED: a secret appears in $file" >&2
    status=1
  fi
done
passed=$(awk '/^# pass /{print $3}' "$work/results.tap")
failed=$(awk '/^# fail /{print $3}' "$work/results.tap")
echo "browser: ${passed:-0} passed, ${failed:-0} failed"
[ "$status" -eq 0 ] && [ "${failed:-0}" -eq 0 ] && [ "${passed:-0}" -gt 0 ]

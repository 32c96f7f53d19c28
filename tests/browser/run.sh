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
. tests/lib/node_suite.sh

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
require_node "the browser tests need"
if [ ! -x "$chromium" ]; then
  echo "$chromium is missing: run scripts/setup.sh (Debian's chromium package)" >&2
  exit 1
fi
npm_ci_when_lock_changed "$here" "the browser tests' packages"
build_nile_reset
[ "${1:-}" = --prepare ] && exit 0

app=http://127.0.0.1:$node_port
# The app once more, its SDK configured for secure cookies (127.0.0.3), and another site for
# the browser than all of these (127.0.0.2): every 127.x address is loopback.
app_secure=http://127.0.0.3:$node_port
other_site=http://127.0.0.2:$node_port
shim=http://127.0.0.1:$http_port
shim_tls=https://127.0.0.1:$tls_port

fresh_work_dir "$work" "$pg_port"
mkdir -p "$work/screenshots"
# Trusted: the app (Nile's forms, both cookie modes) and the shim itself, both ways (the links
# of its own pages).
create_suite_database "$db" "$app" "$app_secure" "$shim" "$shim_tls"
write_secrets
dsn="postgres://postgres@127.0.0.1:$pg_port/$db"

"$nile_reset" send --database-url "$dsn" --transport file --outbox-dir "$work/mail" \
  --poll-interval 1s >"$work/sender.log" 2>&1 </dev/null &
suite_pids+=($!)

# The pages are opt-in (--pages).
start_serve "nile-reset serve" "$work/shim.log" "$db=$dsn" "127.0.0.1:$http_port" --pages

# The pages over HTTPS, as in production: a second serve, whose public URL is the TLS proxy's,
# behind that proxy (a throwaway self-signed certificate; the browser is told to accept it).
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null
start_serve "nile-reset serve (behind TLS)" "$work/shim-tls.log" "$db=$dsn" "127.0.0.1:$tls_http_port" \
  --pages --public-url "$shim_tls"
NILE_RESET_BROWSER_TLS_LISTEN="127.0.0.1:$tls_port" \
NILE_RESET_BROWSER_TLS_UPSTREAM="http://127.0.0.1:$tls_http_port" \
NILE_RESET_BROWSER_TLS_CERT="$work/tls/cert.pem" \
NILE_RESET_BROWSER_TLS_KEY="$work/tls/key.pem" \
  node "$here/tls-proxy.mjs" >"$work/tls-proxy.log" 2>&1 </dev/null &
suite_pids+=($!)
await_listening "the TLS proxy" "$!" "$work/tls-proxy.log"

log "bundling the React app (esbuild)"
node "$here/build.mjs" "$work/app"
NILE_RESET_BROWSER_API_URL="$shim/v2/databases/$db" \
NILE_RESET_BROWSER_APP_DIR="$work/app" \
NILE_RESET_BROWSER_LISTEN="127.0.0.1:$node_port 127.0.0.3:$node_port/secure 127.0.0.2:$node_port" \
  node "$here/server.mjs" >"$work/app.log" 2>&1 </dev/null &
suite_pids+=($!)
await_listening "the Node app" "$!" "$work/app.log" 3

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
  run_node_tests --test-concurrency=1 --test-timeout=120000 "$here"/test/*.test.mjs || status=$?

# Secrets never reach the servers' logs: the API key, and no token of any link.
for file in "$work"/*.log; do
  if grep -qF "$(cat "$work/api-key")" "$file" || grep -qE 'token=[A-Za-z0-9_-]{16,}' "$file"; then
    echo "FAILED: a secret appears in $file" >&2
    status=1
  fi
done
report_results browser "$status"

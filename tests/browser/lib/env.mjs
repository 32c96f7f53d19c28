// What every browser test shares: the servers tests/browser/run.sh started (read from the
// environment) and the database reads that check what the browser did.
import pg from 'pg';
import { databaseChecks, envReader } from '../../lib/env.mjs';

const required = envReader('tests/browser/run.sh');

/// `nile-reset serve`, e.g. http://127.0.0.1:28847, and the database it serves.
export const SHIM = required('NILE_RESET_BROWSER_SHIM');
/// A second `nile-reset serve` (--public-url this URL) behind a TLS proxy: the pages over HTTPS.
export const SHIM_TLS = required('NILE_RESET_BROWSER_SHIM_TLS');
export const DATABASE = required('NILE_RESET_BROWSER_DATABASE');
/// The Node app (server.mjs): Nile's React forms and @niledatabase/server's handlers.
export const APP = required('NILE_RESET_BROWSER_APP');
/// The same app with the SDK configured for secure cookies (secureCookies: true, as in
/// production): the shim's cookies are then __Secure-nile.csrf-token and __Secure-nile.reset.
/// Chromium keeps Secure cookies from http://127.0.0.x, which it counts as a secure context.
export const APP_SECURE = required('NILE_RESET_BROWSER_APP_SECURE');
/// The same Node server on another loopback address: another site than all of the above.
export const OTHER_SITE = required('NILE_RESET_BROWSER_OTHER_SITE');
/// Where `nile-reset send` (file transport) writes one .eml per email.
export const MAIL_DIR = required('NILE_RESET_BROWSER_MAIL_DIR');
export const SCREENSHOT_DIR = required('NILE_RESET_BROWSER_SCREENSHOTS');
export const DATABASE_URL = required('NILE_RESET_BROWSER_DATABASE_URL');
/// Where the README's screenshot of our reset page is written, when set.
export const README_SCREENSHOT = process.env.NILE_RESET_BROWSER_README_SCREENSHOT ?? '';

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });

/// The database reads of tests/lib/env.mjs.
const checks = databaseChecks(pool);
export const { addUser, closeDatabase, passwordIs, tokensOf } = checks;

/// How many reset emails were queued for `email`.
export async function resetEmailsTo(email) {
  return checks.emailsTo(email, 'password_reset');
}

/// The shortest password the database's policy takes.
export async function minPasswordLength() {
  const { rows } = await pool.query("SELECT current_setting('nile_reset.min_password_length', true) AS n");
  return Number(rows[0].n || 8);
}

// What every browser test shares: the servers tests/browser/run.sh started (read from the
// environment) and the database reads that check what the browser did.
import pg from 'pg';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through tests/browser/run.sh`);
  }
  return value;
}

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

export async function closeDatabase() {
  await pool.end();
}

/// A user of its own for one flow.
export async function addUser(email) {
  await pool.query('INSERT INTO users.users (email, name) VALUES ($1, $2)', [email, email]);
}

/// Whether `password` is the user's password now: the bcrypt hash in Nile's credentials row,
/// checked with pgcrypto's crypt().
export async function passwordIs(email, password) {
  const { rows } = await pool.query(
    `SELECT (c.payload->>'hash') = crypt($2::text, c.payload->>'hash') AS matches
       FROM auth.credentials c JOIN users.users u ON u.id = c.user_id
      WHERE u.email = $1 AND c.method = 'EMAIL_PASSWORD' AND c.deleted IS NULL`,
    [email, password],
  );
  return rows.length === 1 && rows[0].matches === true;
}

/// How many reset tokens exist for `email` (issued and not yet used).
export async function tokensOf(email) {
  const { rows } = await pool.query(
    'SELECT count(*)::int AS n FROM nile_reset.verification_tokens WHERE identifier = auth.normalize_identifier($1)',
    [email],
  );
  return rows[0].n;
}

/// How many reset emails were queued for `email`.
export async function resetEmailsTo(email) {
  const { rows } = await pool.query(
    "SELECT count(*)::int AS n FROM nile_reset.email_outbox WHERE recipient = $1 AND kind = 'password_reset'",
    [email],
  );
  return rows[0].n;
}

/// The shortest password the database's policy takes.
export async function minPasswordLength() {
  const { rows } = await pool.query("SELECT current_setting('nile_reset.min_password_length', true) AS n");
  return Number(rows[0].n || 8);
}

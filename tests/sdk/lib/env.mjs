// What every SDK test shares: the servers tests/sdk/run.sh started (read from the
// environment), Nile's SDK configured the way an application configures it, and the database
// reads that check what the SDK did.
import { Server } from '@niledatabase/server';
import pg from 'pg';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the tests through tests/sdk/run.sh`);
  }
  return value;
}

/// e.g. http://127.0.0.1:28845/v2/databases/sdk: what an application sets as NILEDB_API_URL.
export const API_URL = required('NILE_RESET_SDK_API_URL');
export const API_KEY = required('NILE_RESET_SDK_API_KEY');
export const DATABASE_URL = required('NILE_RESET_SDK_DATABASE_URL');
/// The application's origin, trusted in the database (the SDK's default origin too).
export const APP_ORIGIN = 'http://localhost:3000';
export const REDIRECT_URL = `${APP_ORIGIN}/reset-password`;
export const CALLBACK_URL = `${APP_ORIGIN}/welcome`;
/// The cookie a backend gives the SDK so that its `?json=true` request carries the API key.
export const KEY_COOKIE = `nile-reset.api-key=${API_KEY}`;

/// Keeps the SDK quiet: its info logs print whole responses, reset links included.
const quiet = () => ({
  info() {},
  debug() {},
  silly() {},
  warn() {},
  error() {},
});

/// A new SDK instance (the `Nile()` export is a process-wide singleton).
export function nile(extra = {}) {
  return new Server({
    apiUrl: API_URL,
    databaseName: 'sdk',
    user: 'postgres',
    password: 'unused',
    secureCookies: false,
    logger: quiet,
    ...extra,
  });
}

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });

export async function closeDatabase() {
  await pool.end();
}

/// A user of its own for one test (a fresh user is outside every resend interval).
export async function addUser(email) {
  await pool.query('INSERT INTO users.users (email, name) VALUES ($1, $2)', [email, email]);
}

/// Whether `password` is the user's password now: the bcrypt hash in Nile's credentials row.
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

/// How many emails were queued for `email`, of `kind` (password_reset, password_alert).
export async function emailsTo(email, kind) {
  const { rows } = await pool.query(
    'SELECT count(*)::int AS n FROM nile_reset.email_outbox WHERE recipient = $1 AND kind = $2',
    [email, kind],
  );
  return rows[0].n;
}

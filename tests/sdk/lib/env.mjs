// What every SDK test shares: the servers tests/sdk/run.sh started (read from the
// environment), Nile's SDK configured the way an application configures it, and the database
// reads that check what the SDK did.
import { Server } from '@niledatabase/server';
import pg from 'pg';
import { databaseChecks, envReader } from '../../lib/env.mjs';

const required = envReader('tests/sdk/run.sh');

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

/// The database reads of tests/lib/env.mjs: emailsTo(email, kind) counts the queued emails.
export const { addUser, closeDatabase, emailsTo, passwordIs, tokensOf } = databaseChecks(
  new pg.Pool({ connectionString: DATABASE_URL, max: 2 }),
);

// What the Node.js test suites' lib/env.mjs (tests/sdk, tests/browser) share: reading the
// settings their run.sh passes in the environment, and the database reads that check what a
// test did. It imports no package (it lies outside both suites' node_modules): each suite
// hands in a pg.Pool of its own.

/// A reader of the environment variables that `runner` (e.g. tests/sdk/run.sh) sets: the value,
/// or an error saying to run the tests through `runner` when it is not set.
export function envReader(runner) {
  return function required(name) {
    const value = process.env[name];
    if (!value) {
      throw new Error(`${name} is not set: run the tests through ${runner}`);
    }
    return value;
  };
}

/// The database reads over `pool`, the suite's database.
export function databaseChecks(pool) {
  return {
    async closeDatabase() {
      await pool.end();
    },

    /// A user of its own for one test (a fresh user is outside every resend interval).
    async addUser(email) {
      await pool.query('INSERT INTO users.users (email, name) VALUES ($1, $2)', [email, email]);
    },

    /// Whether `password` is the user's password now: the bcrypt hash in Nile's credentials
    /// row, checked with pgcrypto's crypt().
    async passwordIs(email, password) {
      const { rows } = await pool.query(
        `SELECT (c.payload->>'hash') = crypt($2::text, c.payload->>'hash') AS matches
           FROM auth.credentials c JOIN users.users u ON u.id = c.user_id
          WHERE u.email = $1 AND c.method = 'EMAIL_PASSWORD' AND c.deleted IS NULL`,
        [email, password],
      );
      return rows.length === 1 && rows[0].matches === true;
    },

    /// How many reset tokens exist for `email` (issued and not yet used).
    async tokensOf(email) {
      const { rows } = await pool.query(
        'SELECT count(*)::int AS n FROM nile_reset.verification_tokens WHERE identifier = auth.normalize_identifier($1)',
        [email],
      );
      return rows[0].n;
    },

    /// How many emails were queued for `email`, of `kind` (password_reset, password_alert).
    async emailsTo(email, kind) {
      const { rows } = await pool.query(
        'SELECT count(*)::int AS n FROM nile_reset.email_outbox WHERE recipient = $1 AND kind = $2',
        [email, kind],
      );
      return rows[0].n;
    },
  };
}

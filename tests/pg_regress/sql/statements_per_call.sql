-- How many statements each call runs, counted by pg_stat_statements (every
-- nested statement, track = all), once the backend's cache (src/cache.rs)
-- holds the directory, the origins and the templates. The numbers are
-- pinned here so that they cannot creep back up: a call that issues a
-- token runs 2 (at most 4 allowed), one that issues none 2 as well.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SET pg_stat_statements.track = 'all';
SET nile_reset.bcrypt_cost = 4;
INSERT INTO users.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 5) g;
\set nested 'SELECT coalesce(sum(calls), 0)::int AS statements FROM pg_stat_statements WHERE NOT toplevel AND dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())'
\set forget 'SELECT count(*) AS forgotten FROM pg_stat_statements_reset()'

-- The first call of the backend reads the configuration: directory,
-- origins, template (three statements more).
:forget;
SELECT created FROM auth.generate_password_token('u1@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
:nested;

-- Issuing a token: the user, then token (its resend check included),
-- email and wake-up in one statement.
:forget;
SELECT created FROM auth.generate_password_token('u2@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
:nested;

-- No such user: the lookup and the same write statement, which writes
-- nothing, as for a known one inside the resend interval.
:forget;
SELECT created FROM auth.generate_password_token('nobody@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
:nested;

-- Inside the resend interval: the same two, and nothing written.
:forget;
SELECT created FROM auth.generate_password_token('u2@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
:nested;

-- A link instead of an email: the user, the token.
:forget;
SELECT created FROM auth.generate_password_link('u3@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
:nested;

-- The link check's origin test reads nothing.
:forget;
SELECT auth.is_trusted_url('http://localhost:3000/after');
:nested;

-- A wrong token: the token row only.
:forget;
SELECT status FROM auth.verify_password_token('u1@example.com', repeat('0', 64));
:nested;

-- The right token: the token row and its user.
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox
 WHERE recipient = 'u1@example.com' \gset
:forget;
SELECT status FROM auth.verify_password_token('u1@example.com', :'token');
:nested;

-- A reset on Nile's shape, the user's first: the token row, its lock, the
-- user, the credential (no row to update, so inserted, with its foreign
-- key checked), the sessions ended, the alert's template read, then token
-- consumed, alert queued and sender woken in one statement.
:forget;
SELECT auth.reset_password('u1@example.com', :'token', 'correct horse battery staple') IS NOT NULL AS reset;
:nested;

-- The next reset of that user: the credential is updated, the template cached.
SELECT substring(link FROM 'token=([0-9a-f]{64})') AS token
  FROM auth.generate_password_link('u1@example.com', 'http://localhost:3000/', 'http://localhost:3000/r') \gset
:forget;
SELECT auth.reset_password('u1@example.com', :'token', 'another horse battery staple') IS NOT NULL AS reset;
:nested;

-- A change to any configuration table (here the origins) makes the next
-- call read the configuration again, and only the next.
SELECT auth.add_trusted_origin('https://app.example.com');
:forget;
SELECT created FROM auth.generate_password_token('u4@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
:nested;
:forget;
SELECT created FROM auth.generate_password_token('u5@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
:nested;

DROP EXTENSION pg_stat_statements;
DROP EXTENSION nile_reset CASCADE;
DROP TABLE auth.sessions, auth.credentials, users.users;

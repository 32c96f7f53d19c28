-- Nile's shape ends a user's sessions on every reset. When the configured
-- auth.sessions is dropped (or dropped and created again by a migration: a
-- new table, not the one configured), resets could no longer end them, so
-- every call refuses with 55000, as for a dropped users or credentials
-- table, until auth.use_nile_users() adopts the table there is now. A table
-- of that name that is not Nile's (user_id not uuid) is not adopted, with a
-- WARNING saying that resets will not end its sessions.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
SET nile_reset.bcrypt_cost = 4;
SET nile_reset.min_resend_interval = 0;
\i tests/pg_regress/common/sqlstate_of.sql
INSERT INTO users.users (id, email) VALUES ('00000000-0000-0000-0000-00000000000a', 'nile@example.com');
-- Resets nile@example.com with a fresh token.
CREATE FUNCTION pg_temp.reset() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    token text;
BEGIN
    PERFORM auth.generate_password_token('nile@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
    SELECT substring(o.body FROM 'token=([0-9a-f]{64})') INTO token FROM nile_reset.email_outbox o
     WHERE o.kind = 'password_reset' ORDER BY o.id DESC LIMIT 1;
    RETURN auth.reset_password('nile@example.com', token, 'a new password');
END
$$;
CREATE FUNCTION pg_temp.add_session(token text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO auth.sessions (user_id, session_token, expires_at)
    VALUES ('00000000-0000-0000-0000-00000000000a', token, now() + interval '1 day')
$$;

-- The configured table: the reset ends the session.
SELECT pg_temp.add_session('first');
SELECT pg_temp.reset();
SELECT count(*) AS sessions_left FROM auth.sessions;

-- A token issued before the migration below.
SELECT created FROM auth.generate_password_token('nile@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox
 WHERE kind = 'password_reset' ORDER BY id DESC LIMIT 1 \gset

-- A migration drops auth.sessions and creates it again: the new table is
-- not the configured one. Nothing is reset, checked or issued (55000): a
-- reset now would leave the session in the new table alive.
DROP TABLE auth.sessions;
CREATE TABLE auth.sessions (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    session_token text        NOT NULL UNIQUE,
    expires_at    timestamptz NOT NULL
);
SELECT pg_temp.add_session('second');
SELECT pg_temp.sqlstate_of(format('SELECT auth.reset_password(%L, %L, %L)', 'nile@example.com', :'token', 'a new password'));
SELECT pg_temp.sqlstate_of(format('SELECT status FROM auth.verify_password_token(%L, %L)', 'nile@example.com', :'token'));
SELECT pg_temp.sqlstate_of('SELECT created FROM auth.generate_password_token(''nile@example.com'', ''http://localhost:3000/'', ''http://localhost:3000/r'')');
SELECT count(*) AS queued FROM nile_reset.email_outbox WHERE kind IN ('password_reset', 'password_alert');
SELECT count(*) AS sessions_left FROM auth.sessions;

-- Adopted again: the reset ends the new table's session.
SELECT auth.use_nile_users();
SELECT pg_temp.reset();
SELECT count(*) AS sessions_left FROM auth.sessions;

-- Dropped for good: refused; auth.use_nile_users() creates the table anew,
-- as on a first install, and resets work.
DROP TABLE auth.sessions;
SELECT pg_temp.sqlstate_of('SELECT created FROM auth.generate_password_token(''nile@example.com'', ''http://localhost:3000/'', ''http://localhost:3000/r'')');
SELECT auth.use_nile_users();
SELECT pg_temp.add_session('third');
SELECT pg_temp.reset();
SELECT count(*) AS sessions_left FROM auth.sessions;

-- Not Nile's table: a WARNING, no sessions table configured, and a reset
-- that leaves its rows alone.
DROP TABLE auth.sessions;
CREATE TABLE auth.sessions (user_id text NOT NULL, session_token text NOT NULL);
INSERT INTO auth.sessions VALUES ('00000000-0000-0000-0000-00000000000a', 'fourth');
SELECT auth.use_nile_users();
SELECT sessions_table FROM nile_reset.user_directory;
SELECT pg_temp.reset();
SELECT count(*) AS sessions_left FROM auth.sessions;

DROP EXTENSION nile_reset;
DROP TABLE IF EXISTS auth.sessions, auth.credentials, users.users;

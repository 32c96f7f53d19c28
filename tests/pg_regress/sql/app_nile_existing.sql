-- A Nile database already has a `users` schema, users.users and
-- auth.credentials: the install leaves them alone, auth.use_nile_users()
-- adopts them, and DROP EXTENSION leaves every account and credential.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS auth.sessions, auth.credentials, users.users;
DROP SCHEMA IF EXISTS users;
DROP SCHEMA IF EXISTS auth;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE SCHEMA users;
CREATE SCHEMA auth;
CREATE TABLE users.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), created timestamp NOT NULL DEFAULT now(),
    updated timestamp NOT NULL DEFAULT now(), deleted timestamp, name text, family_name text,
    given_name text, email text NOT NULL, picture text, email_verified timestamp);
CREATE TABLE auth.credentials (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid NOT NULL REFERENCES users.users (id),
    created timestamp NOT NULL DEFAULT now(), updated timestamp NOT NULL DEFAULT now(),
    deleted timestamp, method text NOT NULL, provider text NOT NULL DEFAULT 'nile',
    payload jsonb, provider_account_id text);
INSERT INTO users.users (id, email, name) VALUES ('00000000-0000-0000-0000-00000000000a', 'nina@example.com', 'Nina');
INSERT INTO auth.credentials (user_id, method, payload) VALUES
  ('00000000-0000-0000-0000-00000000000a', 'EMAIL_PASSWORD', '{"crypt": "crypt-bf/8", "hash": "old", "email": "nina@example.com"}');

CREATE EXTENSION nile_reset;
SELECT auth.use_nile_users();
SELECT shape, user_table, credentials_table, sessions_table FROM nile_reset.user_directory;
SELECT auth.add_trusted_origin('http://localhost:3000');
SELECT created FROM auth.generate_password_token('nina@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SET nile_reset.bcrypt_cost = 8;
SELECT auth.reset_password('nina@example.com', :'token', 'correct horse battery') AS user_id;
SELECT count(*) AS credentials, payload->>'crypt' AS crypt,
       crypt('correct horse battery', payload->>'hash') = payload->>'hash' AS bcrypt_accepts_new_password
  FROM auth.credentials WHERE deleted IS NULL GROUP BY 2, 3;

-- Neither table is a member of the extension: DROP leaves them.
SELECT count(*) AS member_tables FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE e.extname = 'nile_reset' AND d.deptype = 'e'
   AND d.objid IN ('users.users'::regclass, 'auth.credentials'::regclass);
DROP EXTENSION nile_reset;
SELECT (SELECT count(*) FROM users.users) AS users, (SELECT count(*) FROM auth.credentials) AS credentials;
-- use_nile_users() created the missing auth.sessions, also as application data.
SELECT count(*) AS sessions FROM auth.sessions;
DROP TABLE auth.sessions, auth.credentials, users.users;
DROP SCHEMA users;

-- An email lookup table the application keeps (lower-cased email -> user
-- id): the user directory finds users through it, one row by its key
-- (one shard on Citus), and confirms each in the users table by id.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
-- An `auth` the install creates, which administrators may use.
DROP SCHEMA IF EXISTS auth CASCADE;
DROP TABLE IF EXISTS public.users, public.user_emails, public.user_emails_by_uuid;
DROP ROLE IF EXISTS regress_app_owner;
CREATE TABLE public.users (
    id                 bigserial PRIMARY KEY,
    email              text NOT NULL,
    encrypted_password text NOT NULL DEFAULT ''
);
CREATE TABLE public.user_emails (
    email   text PRIMARY KEY,
    user_id bigint NOT NULL
);
INSERT INTO public.users (email) VALUES ('Jane@Example.com'), ('bob@example.com'), ('carol@example.com');
-- Carol is missing from the lookup; 'old@example.com' is a stale key that
-- still points at Jane's id.
INSERT INTO public.user_emails VALUES ('jane@example.com', 1), ('bob@example.com', 2), ('old@example.com', 1);

CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
-- Without a user directory there is nothing to put a lookup in front of (55000).
SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt');
SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id');
SELECT lookup_table, lookup_email_column, lookup_id_column FROM nile_reset.user_directory;

-- Found through the lookup, confirmed by id (the address is normalized first).
SELECT created FROM auth.generate_password_token(' JANE@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT identifier, user_id FROM nile_reset.verification_tokens;
-- Not in the lookup: not found, even though the users table has her.
SELECT created FROM auth.generate_password_token('carol@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
-- A stale key finds Jane's id, but Jane's email is not that address: nobody.
SELECT created FROM auth.generate_password_token('old@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT count(*) AS tokens, count(*) FILTER (WHERE identifier = 'old@example.com') AS for_the_stale_key
  FROM nile_reset.verification_tokens;

-- The flow completes: the token verifies and resets Jane's row.
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SET nile_reset.bcrypt_cost = 4;
SELECT auth.reset_password('jane@example.com', :'token', 'correct horse battery') AS user_id;
SELECT id, encrypted_password LIKE '$2a$04$%' AS reset FROM public.users ORDER BY id;

-- Deleting the user revokes the token, whatever the lookup still says.
SELECT created FROM auth.generate_password_token('bob@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox
 WHERE recipient = 'bob@example.com' \gset
DELETE FROM public.users WHERE id = 2;
SELECT status FROM auth.verify_password_token('bob@example.com', :'token');
SELECT count(*) AS bobs_tokens FROM nile_reset.verification_tokens WHERE identifier = 'bob@example.com';

-- Two ids under one key (a lookup without a unique key): nobody gets a token.
ALTER TABLE public.user_emails DROP CONSTRAINT user_emails_pkey;
INSERT INTO public.users (id, email) VALUES (4, 'jane@example.com');
INSERT INTO public.user_emails VALUES ('jane@example.com', 4);
DELETE FROM nile_reset.verification_tokens;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
DELETE FROM public.user_emails WHERE user_id = 4;
DELETE FROM public.users WHERE id = 4;

-- Checked names and types: a missing column (42703), an id of another type
-- than the user table's (42804), an email column that is not text (42804),
-- the user table itself (22023), NULL names (22004).
SELECT auth.use_email_lookup('public.user_emails', 'mail', 'user_id');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE public.user_emails_by_uuid (email text PRIMARY KEY, user_id uuid, n integer, id bigint);
SELECT auth.use_email_lookup('public.user_emails_by_uuid', 'email', 'user_id');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.use_email_lookup('public.user_emails_by_uuid', 'n', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.use_email_lookup('public.users', 'email', 'id');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.use_email_lookup('public.user_emails', NULL, 'user_id');
\echo :LAST_ERROR_SQLSTATE
-- Only the lookup table's owner (or a superuser) may name it (42501), even
-- as an administrator; the refused calls changed nothing.
CREATE ROLE regress_app_owner;
SELECT auth.grant_admin('regress_app_owner');
SET ROLE regress_app_owner;
SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT lookup_table, lookup_email_column, lookup_id_column FROM nile_reset.user_directory;

-- Without Citus, auth.use_citus() says so (55000).
SELECT * FROM auth.use_citus();
\echo :LAST_ERROR_SQLSTATE

-- NULL removes the lookup; so does configuring the directory again.
SELECT auth.use_email_lookup(NULL);
SELECT lookup_table IS NULL AS removed FROM nile_reset.user_directory;
SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id');
SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt');
SELECT lookup_table IS NULL AS removed FROM nile_reset.user_directory;
-- Without the lookup, Carol is found in the users table again.
SELECT created FROM auth.generate_password_token('carol@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');

-- A dropped lookup table is reported, not ignored (55000).
SELECT auth.use_email_lookup('public.user_emails', 'email', 'user_id');
DROP TABLE public.user_emails;
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE

SELECT auth.revoke_admin('regress_app_owner');
DROP EXTENSION nile_reset;
DROP TABLE public.users, public.user_emails_by_uuid;
DROP ROLE regress_app_owner;

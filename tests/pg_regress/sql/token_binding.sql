-- A token belongs to the user it was issued to, not only to the address:
-- deleting the user or changing the email revokes it, and whoever holds
-- the address next cannot use it. (Here: a text id, a timestamp meaning
-- "deleted", and argon2id hashes.)
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.accounts;
CREATE TABLE public.accounts (
    id            text PRIMARY KEY,
    email         text NOT NULL,
    password_hash text,
    deleted_at    timestamptz
);
INSERT INTO public.accounts (id, email) VALUES ('acct-1', 'ann@example.com'), ('acct-2', 'ben@example.com');
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
SELECT auth.use_user_table('accounts', 'id', 'email', 'password_hash', 'argon2id', NULL, 'deleted_at');
SET nile_reset.min_resend_interval = 0;

-- A reset writes an argon2id PHC string, at least as strong as argon2-cffi's
-- defaults (the nile_reset.argon2_* settings).
SELECT created FROM auth.generate_password_token('ann@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
SELECT auth.reset_password('ann@example.com', :'token', 'correct horse battery') AS user_id;
SELECT id, password_hash ~ '^\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' AS is_argon2id_phc
  FROM public.accounts WHERE id = 'acct-1';

-- Deleted (soft): the token is invalid, and it is dropped.
SELECT created FROM auth.generate_password_token('ann@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
UPDATE public.accounts SET deleted_at = now() WHERE id = 'acct-1';
SELECT status FROM auth.verify_password_token('ann@example.com', :'token');
SELECT count(*) AS tokens_left FROM nile_reset.verification_tokens;
UPDATE public.accounts SET deleted_at = NULL WHERE id = 'acct-1';
SELECT status FROM auth.verify_password_token('ann@example.com', :'token');

-- Email changed: the old address's token no longer works.
SELECT created FROM auth.generate_password_token('ann@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
UPDATE public.accounts SET email = 'ann@new.example.com' WHERE id = 'acct-1';
SELECT auth.reset_password('ann@example.com', :'token', 'another password');
\echo :LAST_ERROR_SQLSTATE

-- A new holder of the address cannot use a token issued to the old one.
SELECT created FROM auth.generate_password_token('ben@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS ben_token FROM nile_reset.email_outbox ORDER BY id DESC LIMIT 1 \gset
DELETE FROM public.accounts WHERE id = 'acct-2';
INSERT INTO public.accounts (id, email) VALUES ('acct-3', 'ben@example.com');
SELECT status FROM auth.verify_password_token('ben@example.com', :'ben_token');
SELECT auth.reset_password('ben@example.com', :'ben_token', 'a takeover password');
\echo :LAST_ERROR_SQLSTATE
SELECT id, password_hash IS NULL AS untouched FROM public.accounts WHERE id = 'acct-3';
-- The new holder asks for their own token, which works.
SELECT created FROM auth.generate_password_token('ben@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT user_id FROM nile_reset.verification_tokens WHERE identifier = 'ben@example.com';

DROP EXTENSION nile_reset;
DROP TABLE public.accounts;

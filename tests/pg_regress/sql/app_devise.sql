-- A Rails/Devise database: public.users with a bigint id and a bcrypt
-- `encrypted_password`. nile_reset installs next to it, resets into it,
-- changes none of its privileges, and DROP EXTENSION leaves its rows.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.users;
DROP ROLE IF EXISTS regress_rails;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE ROLE regress_rails;
CREATE TABLE public.users (
    id                 bigserial PRIMARY KEY,
    email              character varying DEFAULT '' NOT NULL,
    encrypted_password character varying DEFAULT '' NOT NULL,
    created_at         timestamp(6) NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX index_users_on_lower_email ON public.users (lower(email));
GRANT SELECT, INSERT, UPDATE ON public.users TO regress_rails;
INSERT INTO public.users (email, encrypted_password)
VALUES ('Jane@Example.com', crypt('old password', gen_salt('bf', 4))), ('bob@example.com', '');
SELECT relacl AS acl_before FROM pg_class WHERE oid = 'public.users'::regclass \gset

CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
-- Before a directory is configured, the functions say so (55000).
SELECT auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
\echo :LAST_ERROR_SQLSTATE
SELECT auth.use_user_table('public.users', 'id', 'email', 'encrypted_password', 'bcrypt');

SELECT created FROM auth.generate_password_token('JANE@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT identifier, user_id FROM nile_reset.verification_tokens;
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SET nile_reset.bcrypt_cost = 4;
SELECT auth.reset_password('jane@example.com', :'token', 'correct horse battery') AS user_id;

-- The app's column holds a bcrypt hash that bcrypt (here pgcrypto's crypt) accepts;
-- Bob, who reset nothing, keeps his (empty) password.
SELECT email, encrypted_password LIKE '$2a$04$%' AS is_bcrypt_2a,
       crypt('correct horse battery', encrypted_password) = encrypted_password AS new_password_accepted,
       crypt('old password', encrypted_password) = encrypted_password AS old_password_accepted
  FROM public.users WHERE encrypted_password <> '' ORDER BY id;
SELECT email, encrypted_password FROM public.users WHERE encrypted_password = '';
SELECT kind, recipient FROM nile_reset.email_outbox ORDER BY id;

-- The lookup is an index scan on lower(email) (among enough rows for it to matter).
INSERT INTO public.users (email) SELECT 'filler' || g || '@example.com' FROM generate_series(1, 5000) g;
ANALYZE public.users;
SELECT pg_stat_force_next_flush();
SELECT idx_scan AS scans_before FROM pg_stat_user_indexes WHERE indexrelname = 'index_users_on_lower_email' \gset
SELECT created FROM auth.generate_password_token('filler42@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT pg_stat_force_next_flush();
SELECT idx_scan > :scans_before AS used_the_lower_email_index
  FROM pg_stat_user_indexes WHERE indexrelname = 'index_users_on_lower_email';
DELETE FROM public.users WHERE email LIKE 'filler%';

-- The app's privileges are as they were.
SELECT relacl = :'acl_before'::aclitem[] AS acl_unchanged FROM pg_class WHERE oid = 'public.users'::regclass;

-- DROP EXTENSION leaves the application's table and rows.
DROP EXTENSION nile_reset;
SELECT count(*) AS users_left FROM public.users;
DROP TABLE public.users;
DROP ROLE regress_rails;

-- A Supabase-like database: a superuser-owned `auth` schema with
-- auth.users, auth.sessions and auth.uid(), and an RLS policy calling
-- auth.uid() that a non-superuser role relies on. The install keeps all of
-- it working and touches none of its privileges.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.todos;
DROP SCHEMA IF EXISTS auth CASCADE;
DROP ROLE IF EXISTS regress_authenticated;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE ROLE regress_authenticated;
CREATE SCHEMA auth;
CREATE TABLE auth.users (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email              varchar(255),
    encrypted_password varchar(255),
    deleted_at         timestamptz
);
CREATE TABLE auth.sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL REFERENCES auth.users (id));
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
GRANT USAGE ON SCHEMA auth TO regress_authenticated;
CREATE TABLE public.todos (id serial PRIMARY KEY, owner uuid NOT NULL, task text);
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_todos ON public.todos FOR SELECT TO regress_authenticated USING (owner = auth.uid());
GRANT SELECT ON public.todos TO regress_authenticated;
INSERT INTO auth.users (id, email, encrypted_password) VALUES
  ('00000000-0000-0000-0000-0000000000a1', 'alice@example.com', crypt('old', gen_salt('bf', 4)));
INSERT INTO public.todos (owner, task) VALUES
  ('00000000-0000-0000-0000-0000000000a1', 'alice''s task'), (gen_random_uuid(), 'someone else''s');
SELECT coalesce(n.nspacl::text, 'none') AS schema_acl, coalesce(p.proacl::text, 'none') AS uid_acl
  FROM pg_namespace n, pg_proc p WHERE n.nspname = 'auth' AND p.oid = 'auth.uid'::regproc \gset

CREATE EXTENSION nile_reset;

-- The policy still works for the non-superuser role.
SET ROLE regress_authenticated;
SET request.jwt.claim.sub = '00000000-0000-0000-0000-0000000000a1';
SELECT task FROM public.todos;
RESET request.jwt.claim.sub;
RESET ROLE;
SELECT coalesce(n.nspacl::text, 'none') = :'schema_acl' AS schema_acl_unchanged,
       coalesce(p.proacl::text, 'none') = :'uid_acl' AS uid_acl_unchanged
  FROM pg_namespace n, pg_proc p WHERE n.nspname = 'auth' AND p.oid = 'auth.uid'::regproc;

-- Resets write Supabase's bcrypt column.
SELECT auth.add_trusted_origin('http://localhost:3000');
SELECT auth.use_user_table('auth.users', 'id', 'email', 'encrypted_password', 'bcrypt', NULL, 'deleted_at');
SELECT created FROM auth.generate_password_token('alice@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SET nile_reset.bcrypt_cost = 4;
SELECT auth.reset_password('alice@example.com', :'token', 'correct horse battery') AS user_id;
SELECT crypt('correct horse battery', encrypted_password) = encrypted_password AS bcrypt_accepts_new_password
  FROM auth.users;

-- DROP EXTENSION leaves Supabase's objects.
DROP EXTENSION nile_reset;
SELECT count(*) AS users_left FROM auth.users;
SELECT auth.uid() IS NULL AS uid_still_works;
DROP TABLE public.todos;
DROP SCHEMA auth CASCADE;
DROP OWNED BY regress_authenticated;
DROP ROLE regress_authenticated;

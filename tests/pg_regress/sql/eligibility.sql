-- Who may reset: a boolean disabled column (true = disabled, NULL = not)
-- and a timestamp one (disabled once set). A disabled user gets no token,
-- and a token issued before they were disabled is refused at verify and
-- reset.
\set VERBOSITY terse
DROP EXTENSION IF EXISTS nile_reset CASCADE;
DROP TABLE IF EXISTS public.accounts;
CREATE EXTENSION nile_reset;
SELECT auth.add_trusted_origin('http://localhost:3000');
SET nile_reset.bcrypt_cost = 4;
SET nile_reset.min_resend_interval = 0;
CREATE TABLE public.accounts (
    id        bigint PRIMARY KEY,
    email     text NOT NULL,
    password  text,
    banned    boolean,
    closed_at timestamptz
);
INSERT INTO public.accounts VALUES
  (1, 'active@example.com', NULL, false, NULL),
  (2, 'unknown@example.com', NULL, NULL, NULL),
  (3, 'banned@example.com', NULL, true, NULL),
  (4, 'closed@example.com', NULL, false, now() - interval '1 day');

CREATE FUNCTION pg_temp.tokens_for(emails text[]) RETURNS TABLE (email text, created boolean)
LANGUAGE sql AS $$
    SELECT e, (auth.generate_password_token(e, 'http://localhost:3000/', 'http://localhost:3000/r')).created
      FROM unnest(emails) WITH ORDINALITY AS t(e, n) ORDER BY n
$$;

-- Boolean: false and NULL may reset, true may not.
SELECT auth.use_user_table('public.accounts', 'id', 'email', 'password', 'bcrypt', disabled_column => 'banned');
SELECT * FROM pg_temp.tokens_for(ARRAY['active@example.com', 'unknown@example.com', 'banned@example.com']);

-- Disabled after the token was sent: refused at verify and reset.
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token
  FROM nile_reset.email_outbox WHERE recipient = 'active@example.com' \gset
UPDATE public.accounts SET banned = true WHERE id = 1;
SELECT status FROM auth.verify_password_token('active@example.com', :'token');
SELECT auth.reset_password('active@example.com', :'token', 'a new password');
\echo :LAST_ERROR_SQLSTATE
SELECT password IS NULL AS password_unchanged FROM public.accounts WHERE id = 1;

-- Timestamp: set means disabled.
SELECT auth.use_user_table('public.accounts', 'id', 'email', 'password', 'bcrypt', disabled_column => 'closed_at');
SELECT * FROM pg_temp.tokens_for(ARRAY['banned@example.com', 'closed@example.com']);

DROP EXTENSION nile_reset;
DROP TABLE public.accounts;

-- generate_password_token, generate_password_link and verify_password_token
-- answer one row per call wherever a set-returning function may be called:
-- in FROM (also WITH ORDINALITY and LATERAL over several rows), in a select
-- list, in PL/pgSQL's FOR and RETURN QUERY, and in a SQL function.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 3) g;
SET nile_reset.min_resend_interval = 0;

SELECT created, outbox_id IS NOT NULL AS queued, ordinality
  FROM auth.generate_password_token('u1@example.com', 'http://localhost:3000/', 'http://localhost:3000/r') WITH ORDINALITY;
SELECT g, t.created, t.link LIKE 'http://localhost:3000/r?%' AS link
  FROM generate_series(1, 4) g,
       LATERAL auth.generate_password_link('u' || g || '@example.com', 'http://localhost:3000/', 'http://localhost:3000/r') t
 ORDER BY g;
SELECT g, (auth.generate_password_token('u' || g || '@example.com', 'http://localhost:3000/', 'http://localhost:3000/r')).created
  FROM generate_series(1, 4) g ORDER BY g;
SELECT auth.verify_password_token('u' || g || '@example.com', repeat('0', 64)) FROM generate_series(1, 3) g;
SELECT count(*) AS rows, count(DISTINCT status) AS statuses
  FROM generate_series(1, 50) g, auth.verify_password_token('u2@example.com', repeat('0', 64) || g);

-- A right token, through PL/pgSQL and a SQL function.
SELECT substring(link FROM 'token=([0-9a-f]{64})') AS token
  FROM auth.generate_password_link('u3@example.com', 'http://localhost:3000/', 'http://localhost:3000/r') \gset
CREATE FUNCTION pg_temp.statuses(identifier text, token text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM auth.verify_password_token(identifier, token) LOOP
    RETURN NEXT r.status;
  END LOOP;
  RETURN QUERY SELECT v.status FROM auth.verify_password_token(identifier, 'wrong') v;
END $$;
SELECT pg_temp.statuses('u3@example.com', :'token');
CREATE FUNCTION pg_temp.checked(identifier text, token text) RETURNS TABLE (status text, expires timestamptz)
LANGUAGE sql AS $$ SELECT * FROM auth.verify_password_token(identifier, token) $$;
SELECT status, expires > now() AS live FROM pg_temp.checked('u3@example.com', :'token');

-- Bad input still raises before any row.
SELECT * FROM auth.verify_password_token(NULL, 'x');
SELECT * FROM auth.generate_password_token('u1@example.com', NULL, 'http://localhost:3000/r');

-- No lockout: wrong tokens change nothing. No state a stranger can set
-- delays the owner's link (guessing a 256-bit token is hopeless; the shim's
-- per-client rate limits bound the traffic), and a wrong-token check writes
-- nothing, so a check for an identifier that has a token costs the same as
-- one for an identifier that has none.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) VALUES ('jane@example.com');
SELECT created FROM auth.generate_password_token('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SELECT xmin AS token_row_version FROM nile_reset.verification_tokens \gset

-- 25 wrong checks and 25 wrong resets, then the right token still works.
SELECT count(*) FILTER (WHERE v.status = 'invalid') AS refused
  FROM generate_series(1, 25) g, LATERAL auth.verify_password_token('jane@example.com', lpad(g::text, 64, '0')) v;
DO $$
BEGIN
    FOR i IN 1..25 LOOP
        BEGIN
            PERFORM auth.reset_password('jane@example.com', lpad(i::text, 64, '7'), 'a new password');
        EXCEPTION WHEN invalid_authorization_specification THEN NULL;
        END;
    END LOOP;
END
$$;
SELECT xmin = :'token_row_version' AS token_row_untouched FROM nile_reset.verification_tokens;
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');

-- A wrong-token check writes nothing: no transaction id is assigned, for
-- an identifier with a token and for one without.
BEGIN;
SELECT status FROM auth.verify_password_token('jane@example.com', repeat('e', 64));
SELECT pg_current_xact_id_if_assigned() IS NULL AS wrote_nothing;
COMMIT;
BEGIN;
SELECT status FROM auth.verify_password_token('nobody@example.com', repeat('e', 64));
SELECT pg_current_xact_id_if_assigned() IS NULL AS wrote_nothing;
COMMIT;
-- Nor does a right one (verify never consumes).
BEGIN;
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');
SELECT pg_current_xact_id_if_assigned() IS NULL AS wrote_nothing;
COMMIT;

-- The victim completes the reset with the link from the email.
SET nile_reset.bcrypt_cost = 4;
SELECT auth.reset_password('jane@example.com', :'token', 'a new password') IS NOT NULL AS reset_done;
SELECT count(*) AS token_rows FROM nile_reset.verification_tokens;
SELECT status FROM auth.verify_password_token('jane@example.com', :'token');

-- Many tokens in one transaction on a token table last analyzed while
-- empty (as after a quiet week, or a fresh install): the statement is
-- planned again as the transaction grows the table, so the resend check
-- probes the index instead of scanning every token issued before it (a
-- scan per email made a breach response quadratic: 100,000 took minutes).
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 3000) g;
ANALYZE users.users;
ANALYZE nile_reset.verification_tokens;
SELECT reltuples FROM pg_class WHERE oid = 'nile_reset.verification_tokens'::regclass;

BEGIN;
SELECT count(*) FILTER (WHERE created) AS created
  FROM auth.generate_password_tokens(
         ARRAY(SELECT 'u' || g || '@example.com' FROM generate_series(1, 3000) g),
         'http://localhost:3000/', 'http://localhost:3000/r');
-- Scans of the token table in this transaction: at most those before the
-- plan that finds the index (at most one per email up to a few hundred).
SELECT seq_scan < 1500 AS probes_the_index
  FROM pg_stat_xact_user_tables WHERE relid = 'nile_reset.verification_tokens'::regclass;
COMMIT;

-- The same through the single call, once per row of one query.
TRUNCATE nile_reset.verification_tokens, nile_reset.email_outbox;
ANALYZE nile_reset.verification_tokens;
BEGIN;
SELECT count(*) AS created
  FROM generate_series(1, 3000) g,
       LATERAL auth.generate_password_token('u' || g || '@example.com', 'http://localhost:3000/', 'http://localhost:3000/r') t
 WHERE t.created;
SELECT seq_scan < 1500 AS probes_the_index
  FROM pg_stat_xact_user_tables WHERE relid = 'nile_reset.verification_tokens'::regclass;
COMMIT;

DROP EXTENSION nile_reset;
DROP TABLE auth.sessions, auth.credentials, users.users;

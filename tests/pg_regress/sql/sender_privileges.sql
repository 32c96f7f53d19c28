-- The sender's functions are not callable by PUBLIC, and a role granted
-- EXECUTE on them needs no privilege on the outbox table itself.
CREATE EXTENSION IF NOT EXISTS nile_reset CASCADE;

-- One transaction rolled back at the end (see sender_contract.sql); the test
-- roles are rolled back with it.
\set ON_ERROR_ROLLBACK on
BEGIN;
DELETE FROM nile_reset.email_outbox;

\i tests/pg_regress/common/sqlstate_of.sql

-- No sender function grants EXECUTE to PUBLIC.
SELECT p.oid::regprocedure AS executable_by_public
FROM pg_proc AS p
WHERE p.pronamespace = 'auth'::regnamespace
  AND p.proname IN ('claim_emails', 'mark_email_sent', 'mark_email_failed', 'release_emails',
                    'requeue_dead_emails', 'email_outbox_stats', 'email_outbox_check_worker')
  AND has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY 1;

SELECT count(*) AS sender_functions
FROM pg_proc AS p
WHERE p.pronamespace = 'auth'::regnamespace
  AND p.proname IN ('claim_emails', 'mark_email_sent', 'mark_email_failed', 'release_emails',
                    'requeue_dead_emails', 'email_outbox_stats', 'email_outbox_check_worker')
  AND p.prosecdef;

INSERT INTO nile_reset.email_outbox (kind, recipient, sender, subject, body)
VALUES ('password_reset', 'user@example.com', 'support@example.com', 'Reset', 'body');

-- A role that may see the schema but was granted nothing else gets 42501
-- from every function.
CREATE ROLE regress_sender_nobody NOLOGIN;
GRANT USAGE ON SCHEMA auth TO regress_sender_nobody;
SET ROLE regress_sender_nobody;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w')$q$) AS claim;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_sent(1, 'w')$q$) AS mark_sent;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(1, 'w', 'e')$q$) AS mark_failed;
SELECT pg_temp.sqlstate_of($q$SELECT auth.release_emails('w')$q$) AS release;
SELECT pg_temp.sqlstate_of($q$SELECT auth.requeue_dead_emails()$q$) AS requeue;
SELECT pg_temp.sqlstate_of($q$SELECT auth.email_outbox_stats()$q$) AS stats;
RESET ROLE;

-- A sender role with EXECUTE only: it works through the functions and
-- cannot read the table (which holds reset links) directly.
CREATE ROLE regress_sender_worker NOLOGIN;
GRANT USAGE ON SCHEMA auth TO regress_sender_worker;
GRANT EXECUTE ON FUNCTION
    auth.claim_emails(text, integer, interval),
    auth.mark_email_sent(bigint, text),
    auth.mark_email_failed(bigint, text, text, boolean, integer, interval),
    auth.release_emails(text),
    auth.email_outbox_stats()
TO regress_sender_worker;
SET ROLE regress_sender_worker;
SELECT recipient, body FROM auth.claim_emails('worker-a');
SELECT auth.release_emails('worker-a') AS released;
SELECT pending, in_flight FROM auth.email_outbox_stats();
SELECT pg_temp.sqlstate_of($q$SELECT body FROM nile_reset.email_outbox$q$) AS read_table;
SELECT pg_temp.sqlstate_of($q$SELECT auth.requeue_dead_emails()$q$) AS requeue_not_granted;
RESET ROLE;

ROLLBACK;

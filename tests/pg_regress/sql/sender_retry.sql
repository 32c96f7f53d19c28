-- The sender's failure protocol: retry with backoff, dead rows, requeueing.
CREATE EXTENSION IF NOT EXISTS nile_reset CASCADE;

-- One transaction rolled back at the end (see sender_contract.sql).
\set ON_ERROR_ROLLBACK on
BEGIN;
DELETE FROM nile_reset.email_outbox;

\i tests/pg_regress/common/sqlstate_of.sql

-- Makes a row due now, as if its backoff had elapsed.
CREATE FUNCTION pg_temp.make_due(who text) RETURNS void
LANGUAGE sql AS $$
    UPDATE nile_reset.email_outbox SET next_attempt_at = clock_timestamp() - interval '1 millisecond'
    WHERE recipient = who;
$$;

-- Delay until the row is due again, in seconds.
CREATE FUNCTION pg_temp.delay_of(who text) RETURNS double precision
LANGUAGE sql AS $$
    SELECT extract(epoch FROM next_attempt_at - clock_timestamp())
    FROM nile_reset.email_outbox WHERE recipient = who;
$$;

INSERT INTO nile_reset.email_outbox (kind, recipient, sender, subject, body)
VALUES ('password_reset', 'flaky@example.com', 'support@example.com', 'Reset', 'flaky body'),
       ('password_reset', 'bounce@example.com', 'support@example.com', 'Reset', 'bounce body'),
       ('password_reset', 'tired@example.com', 'support@example.com', 'Reset', 'tired body');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-a', 10);

-- A transient failure schedules a retry after backoff_base (default 5 s)
-- times a jitter in [0.5, 1], and gives the lease back.
SELECT auth.mark_email_failed(id, 'worker-a', '451 4.3.0 try again later') AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT attempts, last_error, dead_at IS NULL AS not_dead, body IS NOT NULL AS body_kept,
       claimed_by IS NULL AND claimed_until IS NULL AS lease_cleared,
       pg_temp.delay_of(recipient) BETWEEN 2.4 AND 5.0 AS first_backoff_in_bounds
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';

-- Not due during its backoff; due again afterwards.
SELECT count(*) AS claimed FROM auth.claim_emails('worker-a', 10);
SELECT pg_temp.make_due('flaky@example.com');
SELECT recipient, attempts FROM auth.claim_emails('worker-a', 10);

-- The backoff doubles with every failure: the third try waits base * 2^1.
SELECT auth.mark_email_failed(id, 'worker-a', 'timeout', false, 8, '1 second') AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT attempts, pg_temp.delay_of(recipient) BETWEEN 0.9 AND 2.0 AS second_backoff_in_bounds
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT pg_temp.make_due('flaky@example.com');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-a', 10);
SELECT auth.mark_email_failed(id, 'worker-a', 'timeout', false, 8, '1 second') AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT attempts, pg_temp.delay_of(recipient) BETWEEN 1.9 AND 4.0 AS third_backoff_in_bounds
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';

-- The backoff is capped at an hour, whatever the number of attempts.
UPDATE nile_reset.email_outbox SET attempts = 500 WHERE recipient = 'flaky@example.com';
SELECT pg_temp.make_due('flaky@example.com');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-a', 10);
SELECT auth.mark_email_failed(id, 'worker-a', 'timeout', false, 1000) AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT attempts, pg_temp.delay_of(recipient) BETWEEN 1799 AND 3600 AS capped_backoff_in_bounds
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';

-- Errors are kept, cut to 1000 characters.
SELECT pg_temp.make_due('flaky@example.com');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-a', 10);
SELECT auth.mark_email_failed(id, 'worker-a', repeat('x', 5000), false, 1000) AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT length(last_error) AS error_length FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';

-- A permanent failure makes the row dead at once; it keeps its body so that
-- it can be requeued.
SELECT auth.mark_email_failed(id, 'worker-a', '550 5.1.1 no such user', true) AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'bounce@example.com';
SELECT attempts, last_error, dead_at IS NOT NULL AS dead, body IS NOT NULL AS body_kept,
       sent_at IS NULL AS not_sent, claimed_by IS NULL AND claimed_until IS NULL AS lease_cleared
FROM nile_reset.email_outbox WHERE recipient = 'bounce@example.com';

-- Reaching max_attempts makes the row dead too.
SELECT auth.mark_email_failed(id, 'worker-a', 'timeout', false, 3) AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'tired@example.com';
SELECT pg_temp.make_due('tired@example.com');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-a', 10);
SELECT auth.mark_email_failed(id, 'worker-a', 'timeout', false, 3) AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'tired@example.com';
SELECT pg_temp.make_due('tired@example.com');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-a', 10);
SELECT auth.mark_email_failed(id, 'worker-a', 'still timing out', false, 3) AS outcome
FROM nile_reset.email_outbox WHERE recipient = 'tired@example.com';
SELECT attempts, last_error, dead_at IS NOT NULL AS dead, body IS NOT NULL AS body_kept
FROM nile_reset.email_outbox WHERE recipient = 'tired@example.com';

-- Dead rows are never claimed, and only the lease holder reports failures:
-- anything else changes nothing and answers NULL.
UPDATE nile_reset.email_outbox SET next_attempt_at = clock_timestamp() - interval '1 second';
SELECT recipient FROM auth.claim_emails('worker-b', 10);
SELECT auth.mark_email_failed(id, 'worker-a', 'late', true) IS NULL AS not_holder
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT auth.mark_email_failed(id, 'worker-b', 'again') IS NULL AS already_dead
FROM nile_reset.email_outbox WHERE recipient = 'bounce@example.com';
SELECT auth.mark_email_sent(id, 'worker-b') AS sent FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT auth.mark_email_failed(id, 'worker-b', 'after sent') IS NULL AS already_sent
FROM nile_reset.email_outbox WHERE recipient = 'flaky@example.com';
SELECT auth.mark_email_failed(-1, 'worker-b', 'unknown row') IS NULL AS unknown_id;
SELECT recipient, attempts, sent_at IS NOT NULL AS sent, dead_at IS NOT NULL AS dead
FROM nile_reset.email_outbox ORDER BY id;

SELECT pending, in_flight, dead, sent, oldest_pending IS NULL AS no_oldest_pending
FROM auth.email_outbox_stats();

-- Requeueing chosen dead rows puts them back as never tried, due now, with
-- their body; sent rows and pending rows are not touched.
SELECT auth.requeue_dead_emails(array_agg(id)) AS requeued
FROM nile_reset.email_outbox WHERE recipient IN ('bounce@example.com', 'flaky@example.com');
SELECT recipient, attempts, dead_at IS NULL AS not_dead, body IS NOT NULL AS body_kept,
       last_error, next_attempt_at <= clock_timestamp() AS due
FROM nile_reset.email_outbox WHERE recipient = 'bounce@example.com';
SELECT recipient FROM auth.claim_emails('worker-c', 10);
SELECT pending, in_flight, dead, sent FROM auth.email_outbox_stats();

-- Without ids every dead row is requeued.
SELECT auth.requeue_dead_emails() AS requeued;
SELECT auth.requeue_dead_emails() AS requeued_again;
SELECT auth.requeue_dead_emails('{}') AS requeued_none;
SELECT pending, in_flight, dead, sent FROM auth.email_outbox_stats();

-- Bad arguments are refused with precise SQLSTATEs.
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(NULL, 'w', 'e')$q$) AS null_id;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(1, NULL, 'e')$q$) AS null_worker;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(1, 'w', NULL)$q$) AS null_error;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(1, 'w', 'e', NULL)$q$) AS null_permanent;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(1, 'w', 'e', false, 0)$q$) AS zero_max_attempts;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(1, 'w', 'e', false, 8, '0 seconds')$q$) AS zero_backoff;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_failed(1, 'w', 'e', false, 8, '2 hours')$q$) AS huge_backoff;

ROLLBACK;

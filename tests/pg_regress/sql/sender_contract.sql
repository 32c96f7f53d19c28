-- The sender's claim protocol: leases, lease expiry, marking sent, releasing.
CREATE EXTENSION IF NOT EXISTS nile_reset CASCADE;

-- Everything runs in one transaction rolled back at the end, so the outbox
-- rows of other test files are neither seen nor disturbed. ON_ERROR_ROLLBACK
-- turns each statement into a savepoint, so errors do not end the transaction.
\set ON_ERROR_ROLLBACK on
BEGIN;
DELETE FROM nile_reset.email_outbox;

\i tests/pg_regress/common/sqlstate_of.sql

INSERT INTO nile_reset.email_outbox (kind, recipient, sender, subject, body)
SELECT 'password_reset', 'user' || g || '@example.com', 'Support <support@example.com>',
       'Reset ' || g, 'body ' || g
FROM generate_series(1, 5) AS g;

-- Claims due rows oldest first, at most batch_size of them.
SELECT recipient, kind, sender, subject, body, attempts, created IS NOT NULL AS has_created
FROM auth.claim_emails('worker-a', 3, '1 minute');

-- Leased rows are not claimed again: another worker gets only the rest.
SELECT recipient FROM auth.claim_emails('worker-b', 10, '1 minute');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-c');

SELECT recipient, claimed_by,
       claimed_until BETWEEN clock_timestamp() + interval '50 seconds'
                         AND clock_timestamp() + interval '60 seconds' AS lease_of_a_minute
FROM nile_reset.email_outbox ORDER BY id;

-- Rows that are not due yet are not claimed.
INSERT INTO nile_reset.email_outbox (kind, recipient, sender, subject, body, next_attempt_at)
VALUES ('password_alert', 'later@example.com', 'support@example.com', 'Later', 'body',
        clock_timestamp() + interval '1 hour');
SELECT count(*) AS claimed FROM auth.claim_emails('worker-c');

-- An expired lease makes the row claimable again (the clock moves by moving
-- the lease end into the past).
UPDATE nile_reset.email_outbox SET claimed_until = clock_timestamp() - interval '1 second'
WHERE recipient = 'user1@example.com';
SELECT recipient FROM auth.claim_emails('worker-c', 10, '30 seconds');

-- Only the current lease holder can mark a row sent, and only once.
SELECT auth.mark_email_sent(id, 'worker-a') AS sent_by_former_holder
FROM nile_reset.email_outbox WHERE recipient = 'user1@example.com';
SELECT auth.mark_email_sent(id, 'worker-c') AS sent_by_holder
FROM nile_reset.email_outbox WHERE recipient = 'user1@example.com';
SELECT auth.mark_email_sent(id, 'worker-c') AS sent_again
FROM nile_reset.email_outbox WHERE recipient = 'user1@example.com';
SELECT auth.mark_email_sent(-1, 'worker-c') AS sent_unknown_id;

-- Sending scrubs the body (it holds the reset link) and the lease, and keeps
-- the metadata.
SELECT recipient, kind, sender, subject, sent_at IS NOT NULL AS sent, body IS NULL AS body_scrubbed,
       claimed_by IS NULL AND claimed_until IS NULL AS lease_cleared, last_error IS NULL AS no_error
FROM nile_reset.email_outbox WHERE recipient = 'user1@example.com';

-- A sent row is never claimed again, even with every lease expired.
UPDATE nile_reset.email_outbox SET claimed_until = clock_timestamp() - interval '1 second'
WHERE claimed_until IS NOT NULL;
SELECT recipient FROM auth.claim_emails('worker-d', 10);

-- Releasing gives back every lease of one worker and only of that worker.
SELECT auth.release_emails('worker-e') AS released_by_stranger;
SELECT auth.release_emails('worker-d') AS released;
SELECT auth.release_emails('worker-d') AS released_again;
SELECT count(*) AS unclaimed_pending FROM nile_reset.email_outbox
WHERE sent_at IS NULL AND claimed_by IS NULL AND claimed_until IS NULL;
SELECT recipient FROM auth.claim_emails('worker-e', 2);
SELECT recipient FROM auth.claim_emails('worker-f', 10);
SELECT auth.release_emails('worker-e') AS released;
SELECT recipient, claimed_by FROM nile_reset.email_outbox WHERE sent_at IS NULL ORDER BY id;

-- Statistics: pending includes the rows in flight.
SELECT pending, in_flight, dead, sent, oldest_pending IS NOT NULL AS has_oldest_pending
FROM auth.email_outbox_stats();

-- Bad arguments are refused with precise SQLSTATEs.
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails(NULL)$q$) AS null_worker;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('')$q$) AS empty_worker;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('two words')$q$) AS worker_with_space;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('wörker')$q$) AS non_ascii_worker;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails(repeat('w', 201))$q$) AS long_worker;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w', NULL)$q$) AS null_batch;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w', 0)$q$) AS zero_batch;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w', 1001)$q$) AS huge_batch;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w', 1, NULL)$q$) AS null_lease;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w', 1, '0 seconds')$q$) AS zero_lease;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w', 1, '-5 seconds')$q$) AS negative_lease;
SELECT pg_temp.sqlstate_of($q$SELECT auth.claim_emails('w', 1, '2 days')$q$) AS huge_lease;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_sent(NULL, 'w')$q$) AS sent_null_id;
SELECT pg_temp.sqlstate_of($q$SELECT auth.mark_email_sent(1, NULL)$q$) AS sent_null_worker;
SELECT pg_temp.sqlstate_of($q$SELECT auth.release_emails(NULL)$q$) AS release_null_worker;
SELECT pg_temp.sqlstate_of($q$SELECT auth.release_emails(E'w\n')$q$) AS release_bad_worker;

ROLLBACK;

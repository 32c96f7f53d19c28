-- Emails whose link expired before they could be sent are marked expired,
-- never returned by auth.claim_emails; auth.defer_emails gives rows back
-- for later without spending an attempt (the relay could not be reached).
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 4) g;
SELECT count(*) FILTER (WHERE (r).created) AS created
  FROM (SELECT auth.generate_password_token('u' || g || '@example.com', 'http://localhost:3000/', 'http://localhost:3000/r') AS r
          FROM generate_series(1, 4) g) s;
SELECT recipient, link_expires = (SELECT expires FROM nile_reset.verification_tokens WHERE identifier = recipient) AS carries_token_expiry
  FROM nile_reset.email_outbox ORDER BY id;

-- u1 and u2's links expired while they waited; the batch of 2 still
-- returns 2 rows (it looks past the expired ones), with html_body last.
UPDATE nile_reset.email_outbox SET link_expires = now() - interval '1 second'
 WHERE recipient IN ('u1@example.com', 'u2@example.com');
SELECT id, recipient, html_body FROM auth.claim_emails('w1', 2);
SELECT recipient, expired_at IS NOT NULL AS expired, body IS NULL AS body_scrubbed, claimed_by
  FROM nile_reset.email_outbox ORDER BY id;
SELECT pending, in_flight, dead, sent, expired FROM auth.email_outbox_stats();
-- An expired row is final: it cannot be marked sent, failed or claimed.
SELECT auth.mark_email_sent(id, 'w1') FROM nile_reset.email_outbox WHERE recipient = 'u1@example.com';
SELECT auth.mark_email_failed(id, 'w1', 'x') FROM nile_reset.email_outbox WHERE recipient = 'u1@example.com';
UPDATE nile_reset.email_outbox SET sent_at = now() WHERE recipient = 'u1@example.com';

-- The relay is down: deferring spends no attempt and keeps the row pending.
SELECT auth.defer_emails(array_agg(id), 'w1', interval '30 seconds', 'connect: connection refused')
  FROM nile_reset.email_outbox WHERE recipient IN ('u3@example.com', 'u4@example.com');
SELECT recipient, attempts, claimed_by, next_attempt_at > now() + interval '29 seconds' AS later, last_error
  FROM nile_reset.email_outbox WHERE expired_at IS NULL ORDER BY id;
SELECT count(*) AS claimable_now FROM auth.claim_emails('w1', 10);
-- Only the lease holder defers; a second call finds nothing of its own.
SELECT auth.defer_emails(array_agg(id), 'w1', interval '1 second') FROM nile_reset.email_outbox;
-- Bounds.
SELECT auth.defer_emails(ARRAY[1], 'w1', interval '2 hours');
SELECT auth.defer_emails(ARRAY[1], 'w1', interval '-1 second');
SELECT auth.defer_emails(NULL, 'w1', interval '1 second');
SELECT auth.defer_emails(ARRAY[1], 'bad worker', interval '1 second');
SELECT pending, in_flight, dead, sent, expired FROM auth.email_outbox_stats();

DROP EXTENSION nile_reset;
DROP TABLE auth.sessions, auth.credentials, users.users;

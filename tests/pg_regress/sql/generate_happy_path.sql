-- The happy path: a token is created, stored only hashed, and the reset
-- email with Nile's link is queued in the outbox.
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
INSERT INTO users.users (email, name) VALUES ('Jane@Example.com', 'Jane Doe');

-- The email is matched case-insensitively.
SELECT created, expires > now() + interval '59 minutes' AND expires <= now() + interval '1 hour' AS expires_in_one_hour,
       outbox_id
  FROM auth.generate_password_token('jane@example.COM', 'http://localhost:3000/done?from=mail',
                                    'http://localhost:3000/reset-password');

-- One token per identifier (the lower-cased email), stored as a SHA-256 hex digest.
SELECT identifier, length(token) AS digest_length, token ~ '^[0-9a-f]{64}$' AS is_hex
  FROM nile_reset.verification_tokens;

-- The queued email: recipient, sender and subject from the template.
SELECT id, kind, recipient, sender, subject, attempts, sent_at IS NULL AS pending
  FROM nile_reset.email_outbox;

-- The link is Nile's: redirect URL, then token, identifier, callbackUrl, form-encoded.
SELECT regexp_replace(substring(body FROM 'http://\S+'), 'token=[0-9a-f]{64}', 'token=<64 hex>') AS link
  FROM nile_reset.email_outbox;

-- The token in the email is never stored: only its hash is.
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
SELECT count(*) AS rows_holding_the_plain_token FROM nile_reset.verification_tokens WHERE token = :'token';
SELECT token = encode(sha256(convert_to(:'token', 'UTF8')), 'hex') AS stored_is_sha256_of_token
  FROM nile_reset.verification_tokens;

-- A new token (once the resend interval allows) replaces the old one.
UPDATE nile_reset.verification_tokens SET created = now() - interval '2 minutes';
SELECT created FROM auth.generate_password_token('JANE@example.com', 'http://localhost:3000/done',
                                                 'http://localhost:3000/reset-password');
SELECT count(*) AS tokens, bool_and(token <> encode(sha256(convert_to(:'token', 'UTF8')), 'hex')) AS old_token_gone
  FROM nile_reset.verification_tokens;
SELECT count(*) AS queued_emails FROM nile_reset.email_outbox;

-- The trusted no-email mode returns the link and queues nothing.
UPDATE nile_reset.verification_tokens SET created = now() - interval '2 minutes';
SELECT created, link AS json_link
  FROM auth.generate_password_link('jane@example.com', 'http://localhost:3000/', 'http://localhost:3000/r?lang=fr') \gset
SELECT :'created' AS created, regexp_replace(:'json_link', 'token=[0-9a-f]{64}', 'token=<64 hex>') AS link;
SELECT count(*) AS queued_emails FROM nile_reset.email_outbox;
SELECT token = encode(sha256(convert_to(substring(:'json_link' FROM 'token=([0-9a-f]{64})'), 'UTF8')), 'hex')
       AS link_token_is_the_live_one
  FROM nile_reset.verification_tokens;

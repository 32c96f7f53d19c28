-- One normalization of identifiers, the database's: auth.normalize_identifier
-- is what every function uses, so a caller never lower-cases on its own
-- (Rust's to_lowercase turns a final 'Σ' into 'ς', lower() into 'σ').
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
SELECT auth.normalize_identifier('  Jane@Example.COM '), auth.normalize_identifier('ΟΔΥΣΣΕΥΣ@Example.com'),
       auth.normalize_identifier(NULL) IS NULL AS null_stays_null;

INSERT INTO users.users (email) VALUES ('ΟΔΥΣΣΕΥΣ@example.com');
SELECT created FROM auth.generate_password_token(' ΟΔΥΣΣΕΥΣ@EXAMPLE.com', 'http://localhost:3000/', 'http://localhost:3000/r');
SELECT identifier, identifier = auth.normalize_identifier('ΟΔΥΣΣΕΥΣ@example.com') AS normalized
  FROM nile_reset.verification_tokens;
SELECT substring(body FROM 'token=([0-9a-f]{64})') AS token FROM nile_reset.email_outbox \gset
-- The email as the user typed it, and its normalized form, both work; a
-- differently lower-cased one is another identifier.
SELECT status FROM auth.verify_password_token('ΟΔΥΣΣΕΥΣ@example.com', :'token');
SELECT status FROM auth.verify_password_token('οδυσσευσ@example.com', :'token');
SELECT status FROM auth.verify_password_token('οδυσσευς@example.com', :'token');
SET nile_reset.bcrypt_cost = 4;
SELECT auth.reset_password('ΟΔΥΣΣΕΥΣ@example.com ', :'token', 'a new password') IS NOT NULL AS reset_done;

DROP EXTENSION nile_reset;
DROP TABLE auth.sessions, auth.credentials, users.users;

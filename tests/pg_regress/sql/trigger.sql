-- Database-side callers: a trigger on users.users that sends a reset email
-- (here: an "invite" when an account is created without a password).
\set VERBOSITY terse
\i tests/pg_regress/common/nile_users.sql
SELECT auth.add_trusted_origin('https://app.example.com');

CREATE FUNCTION public.invite_new_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM auth.generate_password_token(NEW.email, 'https://app.example.com/welcome',
                                       'https://app.example.com/set-password');
  RETURN NEW;
END $$;
CREATE TRIGGER invite AFTER INSERT ON users.users FOR EACH ROW EXECUTE FUNCTION public.invite_new_user();

INSERT INTO users.users (email, name) VALUES ('ann@example.com', 'Ann'), ('bob@example.com', 'Bob');
SELECT recipient, kind FROM nile_reset.email_outbox ORDER BY recipient;
SELECT identifier FROM nile_reset.verification_tokens ORDER BY identifier;

-- The insert fails later in the same transaction: the invitation is gone with it.
BEGIN;
INSERT INTO users.users (email) VALUES ('carl@example.com');
SELECT count(*) AS emails_inside FROM nile_reset.email_outbox;
ROLLBACK;
SELECT count(*) AS emails_after_rollback FROM nile_reset.email_outbox;

-- A bad input in the trigger aborts the insert with the function's error.
INSERT INTO users.users (email) VALUES (E'dan@example.com\n');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS users FROM users.users;

DROP EXTENSION nile_reset CASCADE;
DROP FUNCTION public.invite_new_user();

-- nile_reset schema: Nile-shaped tables plus the token store, the email
-- outbox and the origin allow-list. The extension's schema is `auth`.

CREATE SCHEMA IF NOT EXISTS users;

-- Nile's users table. Emails are unique among live users, case-insensitively.
CREATE TABLE users.users (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    created        timestamptz NOT NULL DEFAULT now(),
    updated        timestamptz NOT NULL DEFAULT now(),
    deleted        timestamptz,
    name           text,
    family_name    text,
    given_name     text,
    email          text        NOT NULL,
    picture        text,
    email_verified timestamptz
);
CREATE UNIQUE INDEX users_email_live ON users.users (lower(email)) WHERE deleted IS NULL;

-- Nile's credentials table; the reset writes the EMAIL_PASSWORD row.
CREATE TABLE auth.credentials (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid        NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    created             timestamptz NOT NULL DEFAULT now(),
    updated             timestamptz NOT NULL DEFAULT now(),
    deleted             timestamptz,
    method              text        NOT NULL,
    provider            text        NOT NULL DEFAULT 'nile',
    payload             jsonb,
    provider_account_id text
);
CREATE UNIQUE INDEX credentials_one_live_per_method
    ON auth.credentials (user_id, method, provider) WHERE deleted IS NULL;

-- Nile's sessions table; a password reset ends every session of the user.
CREATE TABLE auth.sessions (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_token text        NOT NULL UNIQUE,
    user_id       uuid        NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
    expires_at    timestamptz NOT NULL,
    created       timestamptz NOT NULL DEFAULT now(),
    updated       timestamptz NOT NULL DEFAULT now(),
    deleted       timestamptz
);
CREATE INDEX sessions_user ON auth.sessions (user_id);

-- One live token per identifier (the user's lower-cased email). `token`
-- holds the hex SHA-256 of the secret, never the secret itself.
CREATE TABLE auth.verification_tokens (
    identifier      text        PRIMARY KEY,
    token           text        NOT NULL CHECK (token ~ '^[0-9a-f]{64}$'),
    expires         timestamptz NOT NULL,
    created         timestamptz NOT NULL DEFAULT now(),
    failed_attempts integer     NOT NULL DEFAULT 0
);

-- Origins that reset links and callbacks may point to.
CREATE TABLE auth.trusted_origins (
    origin text PRIMARY KEY CHECK (origin ~ '^https?://[^/?#@[:space:]]+$'),
    added  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth.email_templates (
    name    text PRIMARY KEY,
    subject text NOT NULL,
    body    text NOT NULL,
    sender  text NOT NULL
);

CREATE TABLE auth.template_variables (
    name  text PRIMARY KEY CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    value text NOT NULL
);

-- The transactional outbox: a row is queued in the same transaction as the
-- token, so a rolled-back reset sends nothing. An external sender claims
-- rows under a lease and records the outcome; see README "Outbox contract".
CREATE TABLE auth.email_outbox (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    sender          text        NOT NULL,
    subject         text        NOT NULL,
    body            text,
    created         timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    claimed_by      text,
    claimed_until   timestamptz,
    sent_at         timestamptz,
    dead_at         timestamptz,
    last_error      text
);
CREATE INDEX email_outbox_pending ON auth.email_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND dead_at IS NULL;

INSERT INTO auth.email_templates (name, subject, body, sender) VALUES
('password_reset',
 'Reset your password',
 E'Hello ${username},\n\n'
 'Someone asked to reset the password of the account ${email}.\n'
 'To choose a new password, open this link:\n\n'
 '${api_url}\n\n'
 'The link works once and expires soon. If you did not ask for this, ignore this email.\n',
 'no-reply@localhost'),
('password_alert',
 'Your password was changed',
 E'Hello ${username},\n\n'
 'The password of the account ${email} was just changed, and every session was signed out.\n'
 'If this was not you, reset your password now and contact support.\n',
 'no-reply@localhost');

-- pg_dump keeps the data of extension tables only when they are marked.
SELECT pg_catalog.pg_extension_config_dump('users.users', '');
SELECT pg_catalog.pg_extension_config_dump('auth.credentials', '');
SELECT pg_catalog.pg_extension_config_dump('auth.sessions', '');
SELECT pg_catalog.pg_extension_config_dump('auth.verification_tokens', '');
SELECT pg_catalog.pg_extension_config_dump('auth.trusted_origins', '');
SELECT pg_catalog.pg_extension_config_dump('auth.template_variables', '');
SELECT pg_catalog.pg_extension_config_dump('auth.email_outbox', '');

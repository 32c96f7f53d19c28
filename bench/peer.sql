-- The peer: what a user would write instead of nile_reset, in PL/pgSQL with
-- pgcrypto, doing the same work: look the user up, make a random token,
-- hash it, upsert the token, render and queue the email, NOTIFY every time.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA bench;

CREATE OR REPLACE FUNCTION bench.peer_generate_password_token(p_email text, p_callback text, p_redirect text)
RETURNS TABLE (created boolean, expires timestamptz, outbox_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user_id text;
    v_email text;
    v_name text;
    v_token text;
    v_expires timestamptz;
    v_subject text;
    v_body text;
    v_sender text;
    v_link text;
    v_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM nile_reset.trusted_origins o
                    WHERE o.origin = substring(p_redirect FROM '^https?://[^/?#]+')) THEN
        RAISE EXCEPTION 'redirect_url origin is not trusted' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT u.id::text, u.email, u.name INTO v_user_id, v_email, v_name
      FROM users.users u WHERE lower(u.email) = lower(p_email) AND u.deleted IS NULL;
    IF NOT FOUND THEN
        RETURN QUERY SELECT false, NULL::timestamptz, NULL::bigint;
        RETURN;
    END IF;
    v_token := encode(bench.gen_random_bytes(32), 'hex');
    INSERT INTO nile_reset.verification_tokens AS t (identifier, user_id, token, expires, created)
    VALUES (lower(v_email), v_user_id, encode(bench.digest(v_token, 'sha256'), 'hex'), now() + interval '1 hour', now())
    ON CONFLICT (identifier) DO UPDATE
       SET user_id = excluded.user_id, token = excluded.token, expires = excluded.expires,
           created = excluded.created
    RETURNING t.expires INTO v_expires;
    v_link := p_redirect || '?token=' || v_token || '&identifier=' || replace(lower(v_email), '@', '%40')
              || '&callbackUrl=' || replace(replace(p_callback, ':', '%3A'), '/', '%2F');
    SELECT t.subject, t.body, t.sender INTO v_subject, v_body, v_sender
      FROM nile_reset.email_templates t WHERE t.name = 'password_reset' AND t.locale = 'en'
     ORDER BY t.is_default LIMIT 1;
    v_body := replace(replace(replace(v_body, '${username}', coalesce(v_name, v_email)),
                              '${email}', v_email), '${api_url}', v_link);
    INSERT INTO nile_reset.email_outbox (kind, recipient, sender, subject, body, link_expires)
    VALUES ('password_reset', v_email, v_sender, v_subject, v_body, v_expires)
    RETURNING id INTO v_id;
    PERFORM pg_notify('nile_reset_email', v_id::text);
    RETURN QUERY SELECT true, v_expires, v_id;
END
$$;

-- The floor: the same two writes, with no lookup, no randomness, no hashing.
CREATE OR REPLACE FUNCTION bench.floor_two_writes(p_email text)
RETURNS bigint
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO nile_reset.verification_tokens AS t (identifier, user_id, token, expires)
    VALUES (p_email, p_email, '0000000000000000000000000000000000000000000000000000000000000000', now() + interval '1 hour')
    ON CONFLICT (identifier) DO UPDATE SET token = excluded.token, expires = excluded.expires;
    INSERT INTO nile_reset.email_outbox (kind, recipient, sender, subject, body)
    VALUES ('password_reset', p_email, 'no-reply@localhost', 'Reset your password', 'body')
    RETURNING id;
$$;

-- The lean peer: the same steps as the peer (origin check, user lookup,
-- random token, SHA-256, token upsert, rendered outbox row, NOTIFY) on its
-- own plain tables: no extension, no configuration read, the template in
-- the function. Its NOTIFY goes to a channel no sender listens on.
CREATE TABLE IF NOT EXISTS bench.lean_origins (origin text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS bench.lean_tokens (
    identifier text        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    token      text        NOT NULL,
    expires    timestamptz NOT NULL,
    created    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS bench.lean_outbox (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient text        NOT NULL,
    subject   text        NOT NULL,
    body      text        NOT NULL,
    created   timestamptz NOT NULL DEFAULT now(),
    sent_at   timestamptz
);
INSERT INTO bench.lean_origins VALUES ('http://localhost:3000') ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION bench.lean_generate_password_token(p_email text, p_callback text, p_redirect text)
RETURNS TABLE (created boolean, outbox_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user_id uuid;
    v_email text;
    v_name text;
    v_token text;
    v_link text;
    v_id bigint;
BEGIN
    PERFORM 1 FROM bench.lean_origins o WHERE o.origin = substring(p_redirect FROM '^https?://[^/?#]+');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'redirect_url origin is not trusted' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT u.id, u.email, u.name INTO v_user_id, v_email, v_name
      FROM users.users u WHERE lower(u.email) = lower(p_email) AND u.deleted IS NULL;
    IF NOT FOUND THEN
        RETURN QUERY SELECT false, NULL::bigint;
        RETURN;
    END IF;
    v_token := encode(bench.gen_random_bytes(32), 'hex');
    INSERT INTO bench.lean_tokens AS t (identifier, user_id, token, expires)
    VALUES (lower(v_email), v_user_id, encode(bench.digest(v_token, 'sha256'), 'hex'), now() + interval '1 hour')
    ON CONFLICT (identifier) DO UPDATE
       SET user_id = excluded.user_id, token = excluded.token, expires = excluded.expires,
           created = excluded.created;
    v_link := p_redirect || '?token=' || v_token || '&identifier=' || replace(lower(v_email), '@', '%40')
              || '&callbackUrl=' || replace(replace(p_callback, ':', '%3A'), '/', '%2F');
    INSERT INTO bench.lean_outbox (recipient, subject, body)
    VALUES (v_email, 'Reset your password',
            'Hello ' || coalesce(v_name, v_email) || E',\n\nSomeone asked to reset the password of the account '
            || v_email || E'.\nTo choose a new password, open this link:\n\n' || v_link
            || E'\n\nThe link works once and expires soon. If you did not ask for this, ignore this email.\n')
    RETURNING id INTO v_id;
    PERFORM pg_notify('bench_lean_outbox', v_id::text);
    RETURN QUERY SELECT true, v_id;
END
$$;

-- The reset peer: what a user would write instead of auth.reset_password
-- for Nile's tables, in PL/pgSQL with pgcrypto, doing the same steps: check
-- the password, lock the identifier's token row and compare SHA-256
-- digests, check the user still holds the address, write the bcrypt hash
-- (crypt() with gen_salt('bf', 4): the cost bench/run.sh gives
-- nile_reset.bcrypt_cost) into the EMAIL_PASSWORD credential, end the
-- sessions, delete the token, queue the rendered password_alert email,
-- NOTIFY. Its tokens are the extension's (the same table, the same digest).
CREATE OR REPLACE FUNCTION bench.peer_reset_password(p_identifier text, p_token text, p_password text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_identifier text := lower(btrim(p_identifier));
    v_user_id text;
    v_digest text;
    v_expires timestamptz;
    v_email text;
    v_name text;
    v_payload jsonb;
    v_subject text;
    v_body text;
    v_sender text;
    v_id bigint;
BEGIN
    IF length(p_password) < 8 OR octet_length(p_password) > 72 OR p_password ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'new_password does not meet the policy' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT t.user_id, t.token, t.expires INTO v_user_id, v_digest, v_expires
      FROM nile_reset.verification_tokens t WHERE t.identifier = v_identifier FOR UPDATE;
    IF NOT FOUND OR v_digest <> encode(bench.digest(p_token, 'sha256'), 'hex') THEN
        RAISE EXCEPTION 'reset token is invalid or has already been used' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    IF v_expires <= now() THEN
        RAISE EXCEPTION 'reset token has expired' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    SELECT u.email, u.name INTO v_email, v_name
      FROM users.users u
     WHERE u.id = v_user_id::uuid AND lower(u.email) = v_identifier AND u.deleted IS NULL;
    IF NOT FOUND THEN
        DELETE FROM nile_reset.verification_tokens WHERE identifier = v_identifier;
        RAISE EXCEPTION 'reset token is invalid or has already been used' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    v_payload := jsonb_build_object('crypt', 'crypt-bf/4', 'hash', bench.crypt(p_password, bench.gen_salt('bf', 4)),
                                    'email', v_email);
    UPDATE auth.credentials c SET payload = v_payload, updated = now()
     WHERE c.user_id = v_user_id::uuid AND c.method = 'EMAIL_PASSWORD' AND c.provider = 'nile'
       AND c.deleted IS NULL;
    IF NOT FOUND THEN
        INSERT INTO auth.credentials (user_id, method, provider, payload)
        VALUES (v_user_id::uuid, 'EMAIL_PASSWORD', 'nile', v_payload);
    END IF;
    DELETE FROM auth.sessions s WHERE s.user_id = v_user_id::uuid;
    DELETE FROM nile_reset.verification_tokens WHERE identifier = v_identifier;
    SELECT t.subject, t.body, t.sender INTO v_subject, v_body, v_sender
      FROM nile_reset.email_templates t WHERE t.name = 'password_alert' AND t.locale = 'en'
     ORDER BY t.is_default LIMIT 1;
    v_body := replace(replace(replace(v_body, '${username}', coalesce(v_name, v_email)),
                              '${email}', v_email), '${sessions_note}', ' Every session was signed out.');
    INSERT INTO nile_reset.email_outbox (kind, recipient, sender, subject, body)
    VALUES ('password_alert', v_email, v_sender, v_subject, v_body)
    RETURNING id INTO v_id;
    PERFORM pg_notify('nile_reset_email', v_id::text);
    RETURN v_user_id;
END
$$;

-- Tokens for the rows that need real ones, made by auth.generate_password_link
-- (bench/run.sh): the right token of the verify row, and a pool of one token
-- per reset (a reset consumes its token), handed out in order by
-- bench.reset_next so that no two transactions use the same one.
CREATE TABLE IF NOT EXISTS bench.tokens (
    purpose    text NOT NULL,
    n          integer NOT NULL,
    identifier text NOT NULL,
    token      text NOT NULL CHECK (token ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (purpose, n)
);
CREATE SEQUENCE IF NOT EXISTS bench.reset_next;

-- Issues tokens for users u<first>..u<first + count - 1> through the
-- documented API and keeps them as (purpose, 1..count). Returns how many.
CREATE OR REPLACE FUNCTION bench.issue_tokens(p_purpose text, p_first integer, p_count integer)
RETURNS bigint
LANGUAGE sql
AS $$
    DELETE FROM bench.tokens WHERE purpose = p_purpose;
    WITH issued AS (
        INSERT INTO bench.tokens (purpose, n, identifier, token)
        SELECT p_purpose, g - p_first + 1, 'u' || g || '@example.com',
               substring(l.link FROM '[?&]token=([0-9a-f]{64})')
          FROM generate_series(p_first, p_first + p_count - 1) g,
               LATERAL auth.generate_password_link('u' || g || '@example.com',
                                                   'http://localhost:3000/done', 'http://localhost:3000/reset') l
         WHERE l.created
        RETURNING 1)
    SELECT count(*) FROM issued;
$$;

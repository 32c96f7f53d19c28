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

-- The email sender's database contract: how `nile-reset send` (or any other
-- sender) claims rows of nile_reset.email_outbox, reports the outcome of each
-- delivery, and reads queue statistics.
--
-- Delivery is at-least-once: a sender claims rows under a time-limited lease
-- (claimed_by, claimed_until). A sender that dies mid-send leaves its lease to
-- expire, after which another sender claims the row again; only the rows that
-- were in flight at that moment can be delivered twice.
--
-- Every function is SECURITY DEFINER with a pinned search_path, so a sender's
-- role needs EXECUTE on these functions and no privilege on the table itself.
-- EXECUTE is revoked from PUBLIC; grant it to the sender's role explicitly.

-- The sender's limits, in one place: these functions enforce them and
-- `nile-reset send` reads them (auth.sender_limits) at start-up, so the two
-- sides cannot disagree. The channel rule is also nile_reset.notify_channel's.
CREATE FUNCTION nile_reset.sender_limits(
    OUT default_channel text,
    OUT channel_pattern text,
    OUT worker_pattern text,
    OUT worker_max_length integer,
    OUT max_attempts_limit integer,
    OUT backoff_base_limit interval,
    OUT lease_min interval,
    OUT lease_max interval,
    OUT batch_size_limit integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'nile_reset_email', '^[A-Za-z0-9_]{1,63}$', '^[!-~]+$', 200, 1000,
           interval '1 hour', interval '1 second', interval '1 day', 1000
$$;

CREATE FUNCTION auth.sender_limits(
    OUT default_channel text,
    OUT channel_pattern text,
    OUT worker_pattern text,
    OUT worker_max_length integer,
    OUT max_attempts_limit integer,
    OUT backoff_base_limit interval,
    OUT lease_min interval,
    OUT lease_max interval,
    OUT batch_size_limit integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM nile_reset.sender_limits() $$;

-- Shared argument checks, so that every function reports a bad worker id
-- the same way.
CREATE FUNCTION nile_reset.check_worker(worker text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    limits record := nile_reset.sender_limits();
BEGIN
    IF worker IS NULL THEN
        RAISE EXCEPTION 'worker must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(worker) > limits.worker_max_length THEN
        RAISE EXCEPTION 'worker must be at most % characters', limits.worker_max_length
            USING ERRCODE = 'string_data_right_truncation';
    END IF;
    IF worker !~ limits.worker_pattern THEN
        RAISE EXCEPTION 'worker must be non-empty printable ASCII without spaces'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Claims up to batch_size due rows for `worker` for the duration of `lease`.
-- Rows another transaction is claiming right now are skipped, not waited for,
-- so concurrent senders never block each other nor claim the same row.
-- A due row whose link has expired is never returned: it is marked expired
-- (body scrubbed) instead, and the claim looks further, so a batch shorter
-- than batch_size still means nothing else is due. `html_body` (NULL when
-- the template has none) is the last column, so callers that read the
-- first eight columns by position keep working.
CREATE FUNCTION auth.claim_emails(
    worker text,
    batch_size integer DEFAULT 20,
    lease interval DEFAULT '60 seconds'
)
RETURNS TABLE (
    id bigint,
    kind text,
    recipient text,
    sender text,
    subject text,
    body text,
    attempts integer,
    created timestamptz,
    html_body text
)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    limits record;
    expired integer;
BEGIN
    PERFORM nile_reset.check_worker(worker);
    limits := nile_reset.sender_limits();
    IF batch_size IS NULL THEN
        RAISE EXCEPTION 'batch_size must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF batch_size < 1 OR batch_size > limits.batch_size_limit THEN
        RAISE EXCEPTION 'batch_size must be between 1 and %', limits.batch_size_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease IS NULL THEN
        RAISE EXCEPTION 'lease must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF lease < limits.lease_min OR lease > limits.lease_max THEN
        RAISE EXCEPTION 'lease must be between % and % seconds',
                extract(epoch FROM limits.lease_min)::bigint, extract(epoch FROM limits.lease_max)::bigint
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Expire the stale rows among the next batch first, as often as that
    -- finds some: a backlog of expired links costs one pass per batch, and
    -- a claim never scans more than it could return.
    LOOP
        WITH due AS (
            SELECT o.id
            FROM nile_reset.email_outbox AS o
            WHERE o.sent_at IS NULL
              AND o.dead_at IS NULL
              AND o.expired_at IS NULL
              AND o.next_attempt_at <= clock_timestamp()
              AND (o.claimed_until IS NULL OR o.claimed_until < clock_timestamp())
            ORDER BY o.next_attempt_at, o.id
            LIMIT batch_size
            FOR UPDATE SKIP LOCKED
        )
        UPDATE nile_reset.email_outbox AS o
        SET expired_at = clock_timestamp(),
            body = NULL,
            html_body = NULL,
            claimed_by = NULL,
            claimed_until = NULL
        FROM due
        WHERE o.id = due.id
          AND o.link_expires <= clock_timestamp();
        GET DIAGNOSTICS expired = ROW_COUNT;
        EXIT WHEN expired = 0;
    END LOOP;

    RETURN QUERY
    WITH due AS (
        SELECT o.id
        FROM nile_reset.email_outbox AS o
        WHERE o.sent_at IS NULL
          AND o.dead_at IS NULL
          AND o.expired_at IS NULL
          AND (o.link_expires IS NULL OR o.link_expires > clock_timestamp())
          AND o.next_attempt_at <= clock_timestamp()
          AND (o.claimed_until IS NULL OR o.claimed_until < clock_timestamp())
        ORDER BY o.next_attempt_at, o.id
        LIMIT batch_size
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        UPDATE nile_reset.email_outbox AS o
        SET claimed_by = worker,
            claimed_until = clock_timestamp() + lease
        FROM due
        WHERE o.id = due.id
        RETURNING o.id, o.kind, o.recipient, o.sender, o.subject, o.body, o.attempts, o.created,
                  o.html_body, o.next_attempt_at
    )
    SELECT c.id, c.kind, c.recipient, c.sender, c.subject, c.body, c.attempts, c.created, c.html_body
    FROM claimed AS c
    ORDER BY c.next_attempt_at, c.id;
END
$$;
REVOKE ALL ON FUNCTION auth.claim_emails(text, integer, interval) FROM PUBLIC;

-- Records a delivery. Only the lease holder may do so, and only once: false
-- means the row was not ours (anymore) or was already sent. The body holds
-- the reset link, so it is scrubbed as soon as it is no longer needed.
CREATE FUNCTION auth.mark_email_sent(id bigint, worker text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
    IF id IS NULL THEN
        RAISE EXCEPTION 'id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM nile_reset.check_worker(worker);

    UPDATE nile_reset.email_outbox AS o
    SET sent_at = clock_timestamp(),
        claimed_by = NULL,
        claimed_until = NULL,
        body = NULL,
        html_body = NULL,
        last_error = NULL
    WHERE o.id = id
      AND o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL;
    RETURN FOUND;
END
$$;
REVOKE ALL ON FUNCTION auth.mark_email_sent(bigint, text) FROM PUBLIC;

-- Records a failed delivery attempt by the lease holder and returns what
-- happens next: 'retry' (due again after an exponential backoff with jitter)
-- or 'dead' (permanent error, or max_attempts reached). NULL means the row was
-- not ours (anymore), or already sent or dead; nothing was changed.
-- A dead row keeps its body so that auth.requeue_dead_emails can retry it.
CREATE FUNCTION auth.mark_email_failed(
    id bigint,
    worker text,
    error text,
    permanent boolean DEFAULT false,
    max_attempts integer DEFAULT 8,
    backoff_base interval DEFAULT '5 seconds'
)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    limits record := nile_reset.sender_limits();
    failures integer;
    delay_seconds double precision;
    outcome nile_reset.delivery_outcome;
BEGIN
    IF id IS NULL OR error IS NULL OR permanent IS NULL OR max_attempts IS NULL OR backoff_base IS NULL THEN
        RAISE EXCEPTION 'id, error, permanent, max_attempts and backoff_base must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM nile_reset.check_worker(worker);
    IF max_attempts < 1 OR max_attempts > limits.max_attempts_limit THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and %', limits.max_attempts_limit
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF backoff_base <= interval '0' OR backoff_base > limits.backoff_base_limit THEN
        RAISE EXCEPTION 'backoff_base must be positive and at most % seconds',
                extract(epoch FROM limits.backoff_base_limit)::bigint
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    SELECT o.attempts + 1 INTO failures
    FROM nile_reset.email_outbox AS o
    WHERE o.id = id
      AND o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF permanent OR failures >= max_attempts THEN
        outcome := 'dead';
        delay_seconds := 0;
    ELSE
        outcome := 'retry';
        -- backoff_base, 2x, 4x, ... capped at an hour, then scaled into
        -- [50%, 100%] so that rows failing together do not retry together.
        -- The exponent is capped too: 2^30 times any base is past the cap.
        delay_seconds := least(
                power(2::double precision, least(failures - 1, 30)) * extract(epoch FROM backoff_base),
                3600)
            * (0.5 + random() * 0.5);
    END IF;

    UPDATE nile_reset.email_outbox AS o
    SET attempts = failures,
        last_error = left(error, 1000),
        dead_at = CASE WHEN outcome = 'dead' THEN clock_timestamp() END,
        next_attempt_at = CASE WHEN outcome = 'retry'
                               THEN clock_timestamp() + make_interval(secs => delay_seconds)
                               ELSE o.next_attempt_at END,
        claimed_by = NULL,
        claimed_until = NULL
    WHERE o.id = id;
    RETURN outcome::text;
END
$$;
REVOKE ALL ON FUNCTION auth.mark_email_failed(bigint, text, text, boolean, integer, interval) FROM PUBLIC;

-- Gives back every lease `worker` holds on unsent rows, so that a sender
-- shutting down cleanly does not leave its unsent claims to expire.
-- Returns the number of rows released.
CREATE FUNCTION auth.release_emails(worker text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    released integer;
BEGIN
    PERFORM nile_reset.check_worker(worker);

    UPDATE nile_reset.email_outbox AS o
    SET claimed_by = NULL,
        claimed_until = NULL
    WHERE o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL;
    GET DIAGNOSTICS released = ROW_COUNT;
    RETURN released;
END
$$;
REVOKE ALL ON FUNCTION auth.release_emails(text) FROM PUBLIC;

-- Gives back the leases `worker` holds on `ids` and makes those rows due
-- again after `delay`, WITHOUT counting an attempt: for failures to reach
-- the relay at all (connect, greeting, TLS), which say nothing about the
-- message, so that an SMTP outage of any length marks nothing dead. The
-- delay is at most backoff_base_limit (auth.sender_limits); `error`, when
-- given, is kept in last_error. Returns the number of rows deferred.
CREATE FUNCTION auth.defer_emails(
    ids bigint[],
    worker text,
    delay interval,
    error text DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    limits record := nile_reset.sender_limits();
    deferred integer;
BEGIN
    IF ids IS NULL OR delay IS NULL THEN
        RAISE EXCEPTION 'ids and delay must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM nile_reset.check_worker(worker);
    IF delay < interval '0' OR delay > limits.backoff_base_limit THEN
        RAISE EXCEPTION 'delay must be between 0 and % seconds',
                extract(epoch FROM limits.backoff_base_limit)::bigint
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    UPDATE nile_reset.email_outbox AS o
    SET claimed_by = NULL,
        claimed_until = NULL,
        next_attempt_at = clock_timestamp() + delay,
        last_error = coalesce(left(error, 1000), o.last_error)
    WHERE o.id = ANY (ids)
      AND o.claimed_by = worker
      AND o.sent_at IS NULL
      AND o.dead_at IS NULL
      AND o.expired_at IS NULL;
    GET DIAGNOSTICS deferred = ROW_COUNT;
    RETURN deferred;
END
$$;
REVOKE ALL ON FUNCTION auth.defer_emails(bigint[], text, interval, text) FROM PUBLIC;

-- Puts dead rows (all of them, or those of `ids`) back in the queue as if
-- never tried, and wakes the senders. last_error is kept until the next
-- attempt overwrites or clears it. Returns the number of rows requeued.
CREATE FUNCTION auth.requeue_dead_emails(ids bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    requeued integer;
BEGIN
    UPDATE nile_reset.email_outbox AS o
    SET dead_at = NULL,
        attempts = 0,
        next_attempt_at = clock_timestamp(),
        claimed_by = NULL,
        claimed_until = NULL
    WHERE o.dead_at IS NOT NULL
      AND o.sent_at IS NULL
      AND (ids IS NULL OR o.id = ANY (ids));
    GET DIAGNOSTICS requeued = ROW_COUNT;

    IF requeued > 0 THEN
        PERFORM pg_notify(
            coalesce(nullif(current_setting('nile_reset.notify_channel', true), ''),
                     (nile_reset.sender_limits()).default_channel),
            '');
    END IF;
    RETURN requeued;
END
$$;
REVOKE ALL ON FUNCTION auth.requeue_dead_emails(bigint[]) FROM PUBLIC;

-- Queue statistics for monitoring. `pending` counts every row not yet sent,
-- dead nor expired, `in_flight` the part of those under a live lease right
-- now; `oldest_pending` is the creation time of the oldest pending row;
-- `expired` counts emails not sent because their link expired first (the
-- last column, so positional readers of the first five keep working).
CREATE FUNCTION auth.email_outbox_stats()
RETURNS TABLE (
    pending bigint,
    in_flight bigint,
    dead bigint,
    sent bigint,
    oldest_pending timestamptz,
    expired bigint
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT
        count(*) FILTER (WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.expired_at IS NULL),
        count(*) FILTER (WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.expired_at IS NULL
                           AND o.claimed_until >= clock_timestamp()),
        count(*) FILTER (WHERE o.dead_at IS NOT NULL),
        count(*) FILTER (WHERE o.sent_at IS NOT NULL),
        min(o.created) FILTER (WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.expired_at IS NULL),
        count(*) FILTER (WHERE o.expired_at IS NOT NULL)
    FROM nile_reset.email_outbox AS o
$$;
REVOKE ALL ON FUNCTION auth.email_outbox_stats() FROM PUBLIC;

-- Coalesced wake-ups. A committing transaction that NOTIFYs takes a
-- cluster-wide lock and holds it through its WAL flush, so notifying commits
-- run one at a time. nile_reset therefore notifies only when a sender is
-- asleep, told by an advisory lock:
--   * a sender about to sleep takes the channel's advisory lock exclusively
--     (auth.sender_sleep), drains once more, then waits for a notification;
--     on waking it releases the lock (auth.sender_awake) and drains;
--   * a transaction that queues email tries to take the same lock shared
--     until it commits: if it gets it, no sender is asleep (one is draining,
--     or none runs), so it skips the NOTIFY; and while it holds the lock no
--     sender can fall asleep, so the sender's drain after taking the lock sees
--     its row. If it cannot get it, a sender sleeps: it NOTIFYs.
-- Either way no row waits longer than the sender's poll interval.

-- The advisory lock key of a channel (the Rust side computes the same).
CREATE FUNCTION nile_reset.wakeup_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('x' || left(encode(sha256(convert_to('nile_reset wakeup:' || channel, 'UTF8')), 'hex'), 16))::bit(64)::bigint
$$;

CREATE FUNCTION auth.wakeup_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nile_reset.wakeup_lock_key(channel) $$;

-- A sender announces it is going to sleep. False when it cannot (queued
-- transactions are still committing, or another sender already sleeps): the
-- caller drains again shortly instead of sleeping for long.
CREATE FUNCTION auth.sender_sleep(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_try_advisory_lock(nile_reset.wakeup_lock_key(channel)) $$;

-- A sender woke up (or stops): it no longer needs notifications. Called
-- only after a successful auth.sender_sleep.
CREATE FUNCTION auth.sender_awake(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT pg_advisory_unlock(nile_reset.wakeup_lock_key(channel)) $$;

-- Wake-ups. Anyone may `LISTEN nile_reset_email` (nile_reset.notify_channel):
-- after every commit that queued email a NOTIFY carrying the outbox id
-- arrives, except while a coalescing sender is awake and draining, which
-- then answers for the row itself. Why coalesce at all: a committing
-- transaction that NOTIFYs takes a cluster-wide lock and holds it through its
-- WAL flush, so notifying commits run one at a time.
--
-- Two advisory locks per channel tell a queuing transaction what it needs:
--   * the sleep lock (nile_reset.wakeup_lock_key): held exclusively by the
--     one coalescing sender that sleeps, waiting for a notification
--     (auth.sender_sleep takes it, auth.sender_awake gives it back);
--   * the presence lock (nile_reset.presence_lock_key): held exclusively by
--     one coalescing sender while it is awake (auth.sender_start and
--     auth.sender_awake take it, auth.sender_sleep and auth.sender_stop
--     give it back; a closed session gives back both).
-- A transaction that queues email, in one statement (src/outbox.rs):
--   1. tries the sleep lock shared, held until it ends. Not granted: a
--      sender sleeps: NOTIFY.
--   2. otherwise tries the presence lock shared and at once gives it back.
--      Granted: no coalescing sender is awake (none runs, or all of them are
--      between two locks): NOTIFY. Not granted: one is awake: skip.
-- Why a skipped NOTIFY loses nothing: the skip needs (1) granted, so until
-- the transaction ends no sender can take the sleep lock; and it needs (2)
-- refused, so at that moment a sender holding the presence lock was awake.
-- That sender keeps draining until it sleeps, and it can only sleep by taking
-- the sleep lock -- after this transaction ended -- and draining once more
-- afterwards, which sees the row. (A sender that dies instead leaves the
-- row to the next one's start-up drain or poll.) A sender that holds both
-- locks at once (between auth.sender_sleep's two steps, or auth.sender_awake's)
-- makes step 1 fail, so the NOTIFY is sent: the overlap errs on the side of
-- waking. Step 2 keeps the presence lock only for an instant, so a waking
-- sender's try for it almost never collides; when it does, the sender is
-- awake without it and queuing transactions just keep notifying until its
-- next auth.sender_awake or auth.sender_start.
-- Cost: one shared advisory lock per transaction, plus a lock and unlock
-- when no sender sleeps; no table, no catalog read.

-- The advisory lock keys of a channel (the Rust side computes the same).
CREATE FUNCTION nile_reset.wakeup_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('x' || left(encode(sha256(convert_to('nile_reset wakeup:' || channel, 'UTF8')), 'hex'), 16))::bit(64)::bigint
$$;

CREATE FUNCTION nile_reset.presence_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ('x' || left(encode(sha256(convert_to('nile_reset sender:' || channel, 'UTF8')), 'hex'), 16))::bit(64)::bigint
$$;

CREATE FUNCTION auth.wakeup_lock_key(channel text) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT nile_reset.wakeup_lock_key(channel) $$;

-- Which of the channel's two locks this session holds, in one pg_locks
-- scan (a bigint key shows there as its two halves, objsubid 1). Only the
-- senders' own calls read it, once per sleep or wake-up.
CREATE FUNCTION nile_reset.sender_locks(channel text, OUT asleep boolean, OUT present boolean)
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(bool_or(k.key = nile_reset.wakeup_lock_key(channel)), false),
           coalesce(bool_or(k.key = nile_reset.presence_lock_key(channel)), false)
      FROM pg_locks l,
           LATERAL (SELECT (l.classid::bigint << 32) | l.objid::bigint AS key) k
     WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted
       AND l.mode = 'ExclusiveLock' AND l.objsubid = 1
       AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
$$;

-- A coalescing sender starts (or connects again): it is awake and will
-- drain, so queuing transactions may skip their NOTIFY. True when this
-- session holds the presence lock (false: another sender holds it, and
-- transactions keep notifying for this one). Calling it again is harmless.
CREATE FUNCTION auth.sender_start(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE sql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (nile_reset.sender_locks(channel)).present
           OR pg_try_advisory_lock(nile_reset.presence_lock_key(channel))
$$;

-- A sender announces it is going to sleep; it must drain once more after a
-- true answer, then wait for a notification. False when it cannot (queued
-- transactions are still committing, or another sender already sleeps):
-- the caller drains again shortly instead of sleeping for long. Going to
-- sleep gives back the presence lock (after taking the sleep lock).
CREATE FUNCTION auth.sender_sleep(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held record := nile_reset.sender_locks(channel);
BEGIN
    IF held.asleep THEN
        RETURN true;
    END IF;
    IF NOT pg_try_advisory_lock(nile_reset.wakeup_lock_key(channel)) THEN
        RETURN false;
    END IF;
    IF held.present THEN
        PERFORM pg_advisory_unlock(nile_reset.presence_lock_key(channel));
    END IF;
    RETURN true;
END
$$;

-- A sender woke up: it takes the presence lock (when free) before giving
-- back the sleep lock, then drains. True when it was asleep (held the
-- sleep lock).
CREATE FUNCTION auth.sender_awake(channel text DEFAULT 'nile_reset_email') RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    held record := nile_reset.sender_locks(channel);
BEGIN
    IF NOT held.present THEN
        PERFORM pg_try_advisory_lock(nile_reset.presence_lock_key(channel));
    END IF;
    IF held.asleep THEN
        RETURN pg_advisory_unlock(nile_reset.wakeup_lock_key(channel));
    END IF;
    RETURN false;
END
$$;

-- A sender stops: it gives back both locks, so queuing transactions
-- notify again (closing the session does the same).
CREATE FUNCTION auth.sender_stop(channel text DEFAULT 'nile_reset_email') RETURNS void
LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    WHILE (nile_reset.sender_locks(channel)).asleep LOOP
        PERFORM pg_advisory_unlock(nile_reset.wakeup_lock_key(channel));
    END LOOP;
    WHILE (nile_reset.sender_locks(channel)).present LOOP
        PERFORM pg_advisory_unlock(nile_reset.presence_lock_key(channel));
    END LOOP;
END
$$;

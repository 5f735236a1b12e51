--------------------------------------------------------------------------
-- Reservations: two-phase charges for work done outside the transaction
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@._hold(account text, kind @extschema@.credit_kind, amount integer,
                                  image text, idempotency_key text, at timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_hold_1_7'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@._hold(text, @extschema@.credit_kind, integer, text, text, timestamptz) IS
'internal: credits_consume that records a hold (ledger entry hold) instead of a charge';

CREATE FUNCTION @extschema@.credits_reserve(account text,
                                            kind @extschema@.credit_kind,
                                            amount integer DEFAULT 1,
                                            image text DEFAULT NULL,
                                            idempotency_key text DEFAULT NULL,
                                            ttl interval DEFAULT '15 minutes',
                                            at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    hold_id bigint;
    c @extschema@.ledger;
BEGIN
    PERFORM @extschema@._check_writable('reserve credits');
    IF ttl IS NULL THEN
        RAISE EXCEPTION 'ttl must not be null' USING ERRCODE = '22004',
            HINT = 'Leave it out for 15 minutes.';
    END IF;
    IF ttl <= interval '0' OR NOT isfinite(at + ttl) THEN
        RAISE EXCEPTION 'ttl must be a positive, finite interval'
            USING ERRCODE = '22023', DETAIL = format('The ttl given is %s.', ttl);
    END IF;
    -- Read-outs look for an account's held reservations only once it has
    -- reserved (src/account.c, fc_account_may_hold): mark it first, in this
    -- transaction, so that whoever sees the hold sees the mark.  The
    -- account's row is locked before the hold locks its slot, in the order
    -- every writer takes them; only an account's first reservation writes.
    UPDATE @extschema@.accounts a SET has_reserved = true
     WHERE a.account = credits_reserve.account AND NOT a.has_reserved;
    hold_id := @extschema@._hold(account, kind, amount, image, idempotency_key, at);
    SELECT * INTO c FROM @extschema@.ledger l
     WHERE l.account = credits_reserve.account AND l.id = hold_id;
    IF c.entry = 'hold' THEN
        -- No conflict target: the key is (id) on a single node, (account, id)
        -- once distribute() ran.
        INSERT INTO @extschema@.reservations (id, account, kind, period_start, monthly, topup, expires_at)
        VALUES (c.id, c.account, c.kind, c.period_start, c.monthly, -c.topup, at + ttl)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN hold_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_reserve(text, @extschema@.credit_kind, integer, text, text, interval, timestamptz) IS
'holds credits for ttl (they count as used) without charging them yet; returns the reservation id';

-- The held reservation of the account, locked, for credits_commit and
-- credits_release.  An id that is not a reservation's is refused before
-- anything is locked: a charge (credits_reserve returns one for an AI image
-- a charge already covers, or for a key a charge used) has nothing held to
-- commit or release.  An id of another account's reservation is as unknown
-- as one that does not exist.
CREATE FUNCTION @extschema@._lock_reservation(account text, reservation bigint, at timestamptz,
                                              OUT r @extschema@.reservations,
                                              OUT c @extschema@.ledger,
                                              OUT plan text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
BEGIN
    PERFORM @extschema@._check_text(account, 'account', 256);
    IF reservation IS NULL THEN
        RAISE EXCEPTION 'reservation must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT * INTO c FROM @extschema@.ledger l
     WHERE l.account = _lock_reservation.account AND l.id = reservation;
    IF FOUND AND c.entry = 'consume' AND c.charge IS NULL THEN
        RAISE EXCEPTION 'ledger entry % is a charge, not a reservation', reservation
            USING ERRCODE = 'FC009',
                  DETAIL = 'Only a held reservation can be committed or released.',
                  HINT = 'credits_reserve() returns a charge''s id when the charge already covers the AI image, or used the idempotency key: nothing is held then.  Refund a charge with fluxcredits.credits_refund().';
    END IF;
    IF NOT FOUND OR c.entry <> 'hold' OR c.charge IS NOT NULL THEN
        RAISE EXCEPTION 'reservation % does not exist', reservation
            USING ERRCODE = 'FC009',
                  HINT = 'Pass the id that credits_reserve() returned.';
    END IF;
    IF c.kind = 'ai' AND c.image IS NOT NULL THEN
        PERFORM @extschema@._lock_image(c.account, c.image, c.period_start);
    END IF;
    PERFORM @extschema@._lock_account_slots(c.account, c.kind, c.period_start);
    acc := @extschema@._lock_account(c.account);
    plan := acc.plan;
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);
    SELECT * INTO r FROM @extschema@.reservations v
     WHERE v.account = c.account AND v.id = reservation FOR UPDATE;
    IF r.state <> 'held' THEN
        RAISE EXCEPTION 'reservation % was already %', reservation, r.state
            USING ERRCODE = 'FC009',
                  DETAIL = format('It was %s at %s.', r.state, r.resolved_at);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_reservation(text, bigint, timestamptz) IS
'internal: a held reservation of the account, with the image, account and reservation locks taken in order';

-- The account of a reservation given by its id alone, for the id forms of
-- credits_commit and credits_release, which then call the account forms
-- (as credits_refund(charge) does, and for the same reason: on Citus the
-- lookup reads every node, the account form runs on the account's).
CREATE FUNCTION @extschema@._reservation_account(reservation bigint, at timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    held text;
BEGIN
    IF reservation IS NULL THEN
        RAISE EXCEPTION 'reservation must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT l.account INTO held FROM @extschema@.ledger l WHERE l.id = reservation;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'reservation % does not exist', reservation
            USING ERRCODE = 'FC009',
                  HINT = 'Pass the id that credits_reserve() returned.';
    END IF;
    RETURN held;
END
$$;
COMMENT ON FUNCTION @extschema@._reservation_account(bigint, timestamptz) IS
'internal: the account of the ledger entry reservation (raises FC009 when there is none), for the id forms of credits_commit and credits_release';

CREATE FUNCTION @extschema@.credits_commit_for(account text, reservation bigint,
                                               amount integer DEFAULT NULL,
                                               at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    lr record;
    held bigint;
    give_topup bigint;
    give_monthly bigint;
BEGIN
    PERFORM @extschema@._check_writable('commit a reservation');
    lr := @extschema@._lock_reservation(account, reservation, at);
    IF at >= (lr.r).expires_at THEN
        RAISE EXCEPTION 'reservation % expired at %', reservation, (lr.r).expires_at
            USING ERRCODE = 'FC009',
                  DETAIL = format('Its credits went back when its ttl ran out; the commit came at %s.', at),
                  HINT = 'Reserve again, or charge with fluxcredits.credits_consume().';
    END IF;
    held := (lr.r).monthly + (lr.r).topup;
    IF amount IS NULL THEN
        amount := held;
    END IF;
    IF amount < 1 OR amount > held THEN
        RAISE EXCEPTION 'amount must be between 1 and the % credits held', held
            USING ERRCODE = '22023',
                  DETAIL = format('The amount given is %s.', amount),
                  HINT = 'Release the whole reservation with fluxcredits.credits_release().';
    END IF;
    IF amount < held THEN
        -- The unused part goes back, top-up credits first (they were drawn last).
        give_topup := least((lr.r).topup, held - amount);
        give_monthly := held - amount - give_topup;
        PERFORM @extschema@._give_back('release', lr.c, give_monthly, give_topup, at, lr.plan);
    END IF;
    INSERT INTO @extschema@.ledger (at, account, entry, kind, period_start, image, charge)
    VALUES (at, credits_commit_for.account, 'commit', (lr.c).kind, (lr.c).period_start, (lr.c).image, reservation);
    UPDATE @extschema@.reservations v
       SET state = 'committed', committed = amount, resolved_at = at
     WHERE v.account = credits_commit_for.account AND v.id = reservation;
    RETURN reservation;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_commit_for(text, bigint, integer, timestamptz) IS
'turns a reservation of the account into a charge (of amount, releasing the rest); returns the charge id, which is the reservation id';

CREATE FUNCTION @extschema@.credits_commit(reservation bigint, amount integer DEFAULT NULL,
                                           at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    held text;
    charge_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('commit a reservation');
    held := @extschema@._reservation_account(reservation, at);
    SELECT c INTO charge_id FROM @extschema@.credits_commit_for(held, reservation, amount, at) c;
    RETURN charge_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_commit(bigint, integer, timestamptz) IS
'turns a reservation into a charge (of amount, releasing the rest); returns the charge id, which is the reservation id';

CREATE FUNCTION @extschema@.credits_release_for(account text, reservation bigint,
                                                at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    lr record;
    entry_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('release a reservation');
    lr := @extschema@._lock_reservation(account, reservation, at);
    entry_id := @extschema@._give_back('release', lr.c, (lr.r).monthly, (lr.r).topup, at, lr.plan);
    UPDATE @extschema@.reservations v SET state = 'released', resolved_at = at
     WHERE v.account = credits_release_for.account AND v.id = reservation;
    RETURN entry_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_release_for(text, bigint, timestamptz) IS
'gives a reservation of the account''s credits back; returns the ledger id of the release';

CREATE FUNCTION @extschema@.credits_release(reservation bigint, at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    held text;
    entry_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('release a reservation');
    held := @extschema@._reservation_account(reservation, at);
    SELECT e INTO entry_id FROM @extschema@.credits_release_for(held, reservation, at) e;
    RETURN entry_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_release(bigint, timestamptz) IS
'gives a reservation''s credits back; returns the ledger id of the release';

-- Internal helpers of reservations: not for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@._hold(text, @extschema@.credit_kind, integer, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_reservation(text, bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._reservation_account(bigint, timestamptz) FROM PUBLIC;

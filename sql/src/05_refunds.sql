--------------------------------------------------------------------------
-- Refunds, and the giving back that releases and expired holds share
--------------------------------------------------------------------------

-- Gives credits back: writes the ledger row (entry refund or release, the
-- negated amounts, pointing at charge), takes them off the period's counter
-- slots (fullest first), returns the top-up part to the balance and shares
-- out the caps again.  The caller holds the account's row lock.
CREATE FUNCTION @extschema@._give_back(entry @extschema@.ledger_entry, c @extschema@.ledger,
                                       monthly bigint, topup bigint, at timestamptz, plan text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    slot_row @extschema@.counters;
    monthly_left bigint := monthly;
    topup_left bigint := topup;
    entry_id bigint;
BEGIN
    INSERT INTO @extschema@.ledger AS l (at, account, entry, kind, period_start, monthly, topup, image, charge)
    VALUES (_give_back.at, c.account, _give_back.entry, c.kind, c.period_start,
            -_give_back.monthly, _give_back.topup, c.image, c.id)
    RETURNING l.id INTO entry_id;
    PERFORM FROM (SELECT FROM @extschema@.counters x
                   WHERE x.account = c.account AND x.period_start = c.period_start AND x.kind = c.kind
                   ORDER BY x.slot FOR UPDATE) locked;
    FOR slot_row IN SELECT * FROM @extschema@.counters x
                     WHERE x.account = c.account AND x.period_start = c.period_start AND x.kind = c.kind
                     ORDER BY x.used + x.topup_used DESC, x.slot
    LOOP
        EXIT WHEN monthly_left = 0 AND topup_left = 0;
        UPDATE @extschema@.counters x
           SET used = x.used - least(x.used, monthly_left),
               topup_used = x.topup_used - least(x.topup_used, topup_left)
         WHERE x.account = slot_row.account AND x.period_start = slot_row.period_start
           AND x.kind = slot_row.kind AND x.slot = slot_row.slot;
        monthly_left := monthly_left - least(slot_row.used, monthly_left);
        topup_left := topup_left - least(slot_row.topup_used, topup_left);
    END LOOP;
    PERFORM @extschema@._rebalance(c.account, c.kind, c.period_start, NULL,
                                   @extschema@._plan_limit(plan, c.kind), false);
    IF topup <> 0 THEN
        UPDATE @extschema@.accounts a SET topup_balance = a.topup_balance + _give_back.topup
         WHERE a.account = c.account;
    END IF;
    RETURN entry_id;
END
$$;
COMMENT ON FUNCTION @extschema@._give_back(@extschema@.ledger_entry, @extschema@.ledger, bigint, bigint, timestamptz, text) IS
'internal: gives a charge''s credits back to its period''s counter and the top-up balance (caller holds the account lock)';

-- Releases the account's holds that expired by "at" (the lazy expiry of
-- reservations).  The caller holds the account's row lock.
CREATE FUNCTION @extschema@._release_expired(account text, at timestamptz, plan text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    r @extschema@.reservations;
    c @extschema@.ledger;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM @extschema@.reservations v
              WHERE v.account = _release_expired.account AND v.state = 'held'
                AND v.expires_at <= _release_expired.at
              ORDER BY v.id FOR UPDATE
    LOOP
        SELECT * INTO c FROM @extschema@.ledger l WHERE l.account = r.account AND l.id = r.id;
        PERFORM @extschema@._give_back('release', c, r.monthly, r.topup, r.expires_at, plan);
        UPDATE @extschema@.reservations v SET state = 'expired', resolved_at = r.expires_at
         WHERE v.account = r.account AND v.id = r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@._release_expired(text, timestamptz, text) IS
'internal: releases the account''s holds past their ttl (caller holds the account lock)';

-- A charge is refunded under its account: credits_refund_for(account, charge)
-- finds it by both (an id of another account's charge is as unknown as one
-- that does not exist), and every statement it runs names the account, so
-- that on Citus it runs where the account's shards are.
CREATE FUNCTION @extschema@.credits_refund_for(account text, charge bigint,
                                               at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
    c @extschema@.ledger;
    hold @extschema@.reservations;
    net_monthly bigint;
    net_topup bigint;
    refund_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('refund a charge');
    PERFORM @extschema@._check_text(account, 'account', 256);
    IF charge IS NULL THEN
        RAISE EXCEPTION 'charge must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT * INTO c FROM @extschema@.ledger l
     WHERE l.account = credits_refund_for.account AND l.id = credits_refund_for.charge;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'charge % does not exist', charge
            USING ERRCODE = 'FC005',
                  HINT = 'Pass the id that credits_consume() returned.';
    END IF;
    -- The same lock order as credits_consume: the image's lock, then the account's.
    IF c.entry IN ('consume', 'hold') AND c.kind = 'ai' AND c.image IS NOT NULL THEN
        PERFORM @extschema@._lock_image(c.account, c.image, c.period_start);
    END IF;
    -- The slots it gives back to first: a transaction that charged the account
    -- may hold one while waiting for the account (src/under_account.c).
    PERFORM @extschema@._lock_account_slots(c.account, c.kind, c.period_start);
    acc := @extschema@._lock_account(c.account);
    IF c.entry NOT IN ('consume', 'hold') OR c.charge IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % is not a charge', charge
            USING ERRCODE = 'FC005',
                  DETAIL = CASE WHEN c.entry IN ('refund', 'release', 'commit')
                                    THEN format('It records the %s of charge %s.', c.entry, c.charge)
                                    WHEN c.charge IS NOT NULL
                                    THEN format('It records a call that charge %s already covered.', c.charge)
                                    ELSE format('It records a %s.', replace(c.entry::text, '_', ' ')) END,
                  HINT = 'Only charges made by credits_consume() or committed reservations can be refunded.';
    END IF;
    IF c.entry = 'hold' THEN
        SELECT * INTO hold FROM @extschema@.reservations v
         WHERE v.account = c.account AND v.id = c.id;
        IF hold.state <> 'committed' THEN
            RAISE EXCEPTION 'charge % is a reservation that was not committed', charge
                USING ERRCODE = 'FC005',
                      DETAIL = format('The reservation is %s.', hold.state),
                      HINT = CASE WHEN hold.state = 'held'
                                  THEN 'Release it with fluxcredits.credits_release().'
                                  ELSE 'Its credits were given back already.' END;
        END IF;
    END IF;
    IF at < c.at THEN
        RAISE EXCEPTION 'a refund cannot be dated before its charge'
            USING ERRCODE = '22023',
                  DETAIL = format('Charge %s was made at %s; the refund is dated %s.', c.id, c.at, at);
    END IF;
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);
    SELECT l.id INTO refund_id FROM @extschema@.ledger l
     WHERE l.account = c.account AND l.entry = 'refund' AND l.charge = c.id;
    IF FOUND THEN
        RAISE EXCEPTION 'charge % was already refunded', charge
            USING ERRCODE = 'FC005',
                  DETAIL = format('Ledger entry %s refunded it.', refund_id);
    END IF;

    -- What the charge still holds: a committed reservation may have released a part.
    SELECT sum(l.monthly), -sum(l.topup) INTO net_monthly, net_topup
      FROM @extschema@.ledger l
     WHERE l.account = c.account AND (l.id = c.id OR (l.charge = c.id AND l.entry = 'release'));
    RETURN @extschema@._give_back('refund', c, net_monthly, net_topup, at, acc.plan);
END
$$;
COMMENT ON FUNCTION @extschema@.credits_refund_for(text, bigint, timestamptz) IS
'returns a charge of the account to where it came from (the monthly counter of its period, or the top-up balance), once; returns the ledger id of the refund';

-- The id alone: the charge's account is looked up, then the account form
-- does the work.  On Citus the lookup reads every node (the ledger is
-- spread by account), and the account form, called in a FROM clause, is
-- delegated to the node holding the account (Citus does not delegate a
-- call that PL/pgSQL evaluates as a simple expression).
CREATE FUNCTION @extschema@.credits_refund(charge bigint, at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    charged text;
    refund_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('refund a charge');
    IF charge IS NULL THEN
        RAISE EXCEPTION 'charge must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT l.account INTO charged FROM @extschema@.ledger l WHERE l.id = credits_refund.charge;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'charge % does not exist', charge
            USING ERRCODE = 'FC005',
                  HINT = 'Pass the id that credits_consume() returned.';
    END IF;
    SELECT r INTO refund_id FROM @extschema@.credits_refund_for(charged, charge, at) r;
    RETURN refund_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_refund(bigint, timestamptz) IS
'returns a charge to where it came from (the monthly counter of its period, or the top-up balance), once; returns the ledger id of the refund';

-- Internal helpers of refunds: not for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@._give_back(@extschema@.ledger_entry, @extschema@.ledger, bigint, bigint, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._release_expired(text, timestamptz, text) FROM PUBLIC;

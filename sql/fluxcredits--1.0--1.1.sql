/* sql/fluxcredits--1.0--1.1.sql: fluxcredits 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.1'" to load this file. \quit

-- 1.1: the writers that change every counter slot of a period (refunds, the
-- resolution of a reservation, plan changes, a DBA's edit of a plan) take
-- the account's lock without ever holding it while they wait for a slot.
-- A transaction that charged the account keeps its slot while its next
-- charge waits for the account's lock; in 1.0 such a writer, holding the
-- account's lock and waiting for that slot, closed a deadlock.  (The exact
-- path of a charge does the same in the library, src/account_lock.c.)

CREATE FUNCTION @extschema@._lock_account_slots(account text, kind @extschema@.credit_kind,
                                                period_start timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_lock_account_slots'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@._lock_account_slots(text, @extschema@.credit_kind, timestamptz) IS
'internal: the account''s row and its counter slots of kind in the period (NULL: all), never holding the account while waiting for a slot (src/account_lock.c)';
REVOKE ALL ON FUNCTION @extschema@._lock_account_slots(text, @extschema@.credit_kind, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@._plans_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@._lock_account_slots(a.account, NULL, NULL),
            @extschema@._lock_account(a.account), @extschema@._recap_account(a.account, a.plan)
       FROM (SELECT a.account, a.plan
               FROM @extschema@.accounts a
               JOIN new_plans n ON n.name = a.plan
               JOIN old_plans o ON o.name = n.name
              WHERE (n.compression_limit, n.ai_monthly) IS DISTINCT FROM (o.compression_limit, o.ai_monthly)
              ORDER BY a.account) a;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.credits_refund(charge bigint, at timestamptz DEFAULT now())
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
    IF charge IS NULL THEN
        RAISE EXCEPTION 'charge must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT * INTO c FROM @extschema@.ledger l WHERE l.id = credits_refund.charge;
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
    -- may hold one while waiting for the account (src/account_lock.c).
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
        SELECT * INTO hold FROM @extschema@.reservations v WHERE v.id = c.id;
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
    SELECT l.id INTO refund_id FROM @extschema@.ledger l
     WHERE l.entry = 'refund' AND l.charge = c.id;
    IF FOUND THEN
        RAISE EXCEPTION 'charge % was already refunded', charge
            USING ERRCODE = 'FC005',
                  DETAIL = format('Ledger entry %s refunded it.', refund_id);
    END IF;

    -- What the charge still holds: a committed reservation may have released a part.
    SELECT sum(l.monthly), -sum(l.topup) INTO net_monthly, net_topup
      FROM @extschema@.ledger l
     WHERE l.id = c.id OR (l.charge = c.id AND l.entry = 'release');
    RETURN @extschema@._give_back('refund', c, net_monthly, net_topup, at, acc.plan);
END
$$;

CREATE OR REPLACE FUNCTION @extschema@._lock_reservation(reservation bigint, at timestamptz,
                                              OUT r @extschema@.reservations,
                                              OUT c @extschema@.ledger,
                                              OUT plan text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF reservation IS NULL THEN
        RAISE EXCEPTION 'reservation must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT * INTO c FROM @extschema@.ledger l WHERE l.id = reservation;
    IF NOT FOUND OR c.entry NOT IN ('hold', 'consume') OR c.charge IS NOT NULL THEN
        RAISE EXCEPTION 'reservation % does not exist', reservation
            USING ERRCODE = 'FC009',
                  HINT = 'Pass the id that credits_reserve() returned.';
    END IF;
    IF c.kind = 'ai' AND c.image IS NOT NULL THEN
        PERFORM @extschema@._lock_image(c.account, c.image, c.period_start);
    END IF;
    PERFORM @extschema@._lock_account_slots(c.account, c.kind, c.period_start);
    plan := (@extschema@._lock_account(c.account)).plan;
    IF c.entry = 'consume' THEN
        r := NULL;
        RETURN;
    END IF;
    SELECT * INTO r FROM @extschema@.reservations v WHERE v.id = reservation FOR UPDATE;
    IF r.state <> 'held' THEN
        RAISE EXCEPTION 'reservation % was already %', reservation, r.state
            USING ERRCODE = 'FC009',
                  DETAIL = format('It was %s at %s.', r.state, r.resolved_at);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.credits_set_plan(account text, plan text,
                                             at timestamptz DEFAULT now(),
                                             new_anchor timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
    entry_id bigint;
    ps timestamptz;
BEGIN
    PERFORM @extschema@._check_text(account, 'account', 256);
    PERFORM @extschema@._check_text(plan, 'plan', 64);
    PERFORM @extschema@._check_at(at);
    IF new_anchor IS NOT NULL THEN
        PERFORM @extschema@._check_anchor(new_anchor, 'new_anchor');
    END IF;
    -- Every slot: the new plan re-shares the caps of every period.
    PERFORM @extschema@._lock_account_slots(account, NULL, NULL);
    acc := @extschema@._lock_account(account);
    IF NOT EXISTS (SELECT FROM @extschema@.plans p WHERE p.name = credits_set_plan.plan) THEN
        RAISE EXCEPTION 'plan "%" does not exist', plan
            USING ERRCODE = 'FC003',
                  HINT = 'The plans are the rows of fluxcredits.plans.';
    END IF;
    IF acc.anchor_since IS NOT NULL AND at < acc.anchor_since THEN
        RAISE EXCEPTION 'at % is before the account''s current billing anchor took effect', at
            USING ERRCODE = '22023',
                  DETAIL = format('The anchor took effect at %s; it does not describe earlier times.',
                                  acc.anchor_since);
    END IF;
    IF new_anchor IS NOT NULL THEN
        PERFORM @extschema@.billing_period(new_anchor, at, acc.tz);
    END IF;

    UPDATE @extschema@.accounts a
       SET plan = credits_set_plan.plan,
           anchor = coalesce(new_anchor, a.anchor),
           anchor_since = CASE WHEN new_anchor IS NULL THEN a.anchor_since ELSE at END
     WHERE a.account = credits_set_plan.account;
    INSERT INTO @extschema@.ledger (at, account, entry, period_start, reference)
    SELECT credits_set_plan.at, credits_set_plan.account, 'plan_change', u.period_start,
           credits_set_plan.plan
      FROM @extschema@.credits_usage(credits_set_plan.account, credits_set_plan.at) u
    RETURNING id, period_start INTO entry_id, ps;
    -- The new limits apply at once, to every charge from now on, whatever
    -- period it is dated in: share out the caps of all the account's periods.
    PERFORM @extschema@._recap_account(credits_set_plan.account, credits_set_plan.plan);
    RETURN entry_id;
END
$$;


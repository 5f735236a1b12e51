--------------------------------------------------------------------------
-- Accounts and plans: opening, charging, top-ups, plan changes
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.credits_open_account(account text,
                                                 plan text DEFAULT 'Free',
                                                 anchor timestamptz DEFAULT now(),
                                                 tz text DEFAULT 'UTC')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@._check_writable('open an account');
    PERFORM @extschema@._check_text(account, 'account', 256);
    PERFORM @extschema@._check_text(plan, 'plan', 64);
    PERFORM @extschema@._check_anchor(anchor, 'anchor');
    -- An account's periods must not depend on the session: only names that
    -- pg_timezone_names lists, read as zones of the time zone database
    -- (never as abbreviations, which timezone_abbreviations decides), and
    -- not the leap-second zones (right/...), whose periods would be off by
    -- the leap seconds that timestamptz does not count.
    PERFORM @extschema@._check_time_zone(tz);
    IF NOT EXISTS (SELECT FROM @extschema@.plans p WHERE p.name = credits_open_account.plan) THEN
        RAISE EXCEPTION 'plan "%" does not exist', plan
            USING ERRCODE = 'FC003',
                  HINT = 'The plans are the rows of fluxcredits.plans.';
    END IF;
    -- The periods must be computable from this anchor now.
    PERFORM @extschema@.billing_period(anchor, now(), tz);
    INSERT INTO @extschema@.accounts (account, plan, anchor, tz)
    VALUES (account, plan, anchor, tz)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" already exists', account
            USING ERRCODE = 'FC008',
                  HINT = 'Use fluxcredits.credits_set_plan() to change its plan.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_open_account(text, text, timestamptz, text) IS
'opens an account on a plan, with its billing anchor and time zone';

CREATE FUNCTION @extschema@.credits_consume(account text,
                                            kind @extschema@.credit_kind,
                                            amount integer DEFAULT 1,
                                            image text DEFAULT NULL,
                                            idempotency_key text DEFAULT NULL,
                                            at timestamptz DEFAULT now())
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_credits_consume_1_7'
LANGUAGE C VOLATILE SECURITY DEFINER;
-- No SET search_path on the three charge functions written in C
-- (credits_consume, credits_try_consume, charge()): while a charge runs, the
-- library puts the path pg_catalog, and nothing else, in force itself
-- (src/spi_plans.c, fc_safe_path_push), for its SQL statements and for
-- anything they run; the clause would cost every charge a setting change
-- and two catalog lookups of the path.
-- Their C names (and _hold's) end in _1_7, _lock_image's in _1_6: the version
-- that last changed what the library must do for them, so that a session
-- still running an older library cannot call them: the 1.1 library does
-- not set the path, the 1.2 library's direct slot update crashed on the
-- expression index that 1.3 adds to counters (see
-- sql/fluxcredits--1.2--1.3.sql), and up to 1.5 an AI image's lock is taken
-- without the shared lock on all the account's images of the period that
-- a statement of the 1.6 charge() trigger takes whole, and up to 1.6 "at"
-- is not bounded to the account's life.
COMMENT ON FUNCTION @extschema@.credits_consume(text, @extschema@.credit_kind, integer, text, text, timestamptz) IS
'charges credits, all or nothing; returns the charge id; raises FC001 when they do not fit';

CREATE FUNCTION @extschema@.credits_try_consume(account text,
                                                kind @extschema@.credit_kind,
                                                amount integer DEFAULT 1,
                                                image text DEFAULT NULL,
                                                idempotency_key text DEFAULT NULL,
                                                at timestamptz DEFAULT now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'fc_credits_try_consume_1_7'
LANGUAGE C VOLATILE SECURITY DEFINER;
COMMENT ON FUNCTION @extschema@.credits_try_consume(text, @extschema@.credit_kind, integer, text, text, timestamptz) IS
'credits_consume that returns false instead of raising FC001';

CREATE FUNCTION @extschema@.credits_topup(account text, amount integer, reference text,
                                          at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
    prior record;
    entry_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('add a top-up');
    PERFORM @extschema@._check_text(account, 'account', 256);
    IF amount IS NULL THEN
        RAISE EXCEPTION 'amount must not be null' USING ERRCODE = '22004';
    END IF;
    IF amount <= 0 THEN
        RAISE EXCEPTION 'amount must be positive'
            USING ERRCODE = '22023', DETAIL = format('The amount given is %s.', amount);
    END IF;
    PERFORM @extschema@._check_text(reference, 'reference', 256);
    PERFORM @extschema@._check_at(at);
    acc := @extschema@._lock_account(account);
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);

    -- The only unique rule a top-up row can break is the payment
    -- reference's: unique in the database on a single node, unique per
    -- account once distribute() ran (Citus enforces no unique rule without
    -- the account).  No conflict target, so that either index serves.
    INSERT INTO @extschema@.ledger AS l (at, account, entry, kind, topup, reference)
    VALUES (credits_topup.at, credits_topup.account, 'topup', 'ai',
            credits_topup.amount, credits_topup.reference)
    ON CONFLICT DO NOTHING
    RETURNING id INTO entry_id;
    IF entry_id IS NULL THEN
        -- The payment was credited before: once is enough.  Looked for in
        -- the account first (all there is to find on Citus, and a query
        -- that stays on the account's node), then, on a single node, in
        -- the other accounts.
        SELECT l.id, l.account, l.topup INTO prior FROM @extschema@.ledger l
         WHERE l.account = credits_topup.account AND l.entry = 'topup'
           AND l.reference = credits_topup.reference;
        IF NOT FOUND THEN
            SELECT l.id, l.account, l.topup INTO prior FROM @extschema@.ledger l
             WHERE l.entry = 'topup' AND l.reference = credits_topup.reference;
        END IF;
        IF NOT FOUND THEN
            -- Not the reference: the ledger's key, with an id sequence set
            -- back below the ids in use (what the INSERT raised up to 1.7).
            RAISE EXCEPTION 'the ledger already holds the id the top-up was given'
                USING ERRCODE = '23505',
                      HINT = 'Set fluxcredits.ledger_id_seq past the largest id in fluxcredits.ledger.';
        END IF;
        IF prior.account <> account OR prior.topup <> amount THEN
            RAISE EXCEPTION 'payment reference "%" was already credited with other arguments', reference
                USING ERRCODE = 'FC006',
                      DETAIL = format('Ledger entry %s credited %s AI credits to account "%s".',
                                      prior.id, prior.topup, prior.account);
        END IF;
        RETURN prior.id;
    END IF;
    UPDATE @extschema@.accounts a SET topup_balance = a.topup_balance + amount
     WHERE a.account = credits_topup.account;
    RETURN entry_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_topup(text, integer, text, timestamptz) IS
'adds non-expiring AI credits bought with a payment; the same reference is credited once; returns the ledger id';
CREATE FUNCTION @extschema@.credits_set_plan(account text, plan text,
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
    PERFORM @extschema@._check_writable('change an account''s plan');
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
    -- not before the account's anchor, or the time its current one took effect
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);
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
COMMENT ON FUNCTION @extschema@.credits_set_plan(text, text, timestamptz, timestamptz) IS
'moves an account to another plan at once (used stays used); a new anchor restarts its billing periods at "at"; returns the ledger id';

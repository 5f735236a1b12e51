/* sql/fluxcredits--1.6--1.7.sql: fluxcredits 1.6 to 1.7 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.7'" to load this file. \quit

-- 1.7 is at home with real clients: alerts are data (thresholds per plan,
-- every alert a row written with its charge, NOTIFY at commit, so that
-- two-phase commit works), writers refuse a read-only transaction before
-- they lock anything, "at" is bounded to the account's life, and an
-- account's time zone must be a name pg_timezone_names lists.
--
-- The charge functions written in C get new C names (_1_7): under them the
-- 1.7 library bounds "at" to the account's life.  A session still running
-- the 1.6 library gets "could not find function" (42883) on a charge
-- instead of charging without the bound; reconnect the app's pools after
-- the update.  The 1.7 library serves a 1.6 install's charges as 1.6 did
-- until this update runs.
CREATE OR REPLACE FUNCTION @extschema@.credits_consume(account text,
                                            kind @extschema@.credit_kind,
                                            amount integer DEFAULT 1,
                                            image text DEFAULT NULL,
                                            idempotency_key text DEFAULT NULL,
                                            at timestamptz DEFAULT now())
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_credits_consume_1_7'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@.credits_try_consume(account text,
                                                kind @extschema@.credit_kind,
                                                amount integer DEFAULT 1,
                                                image text DEFAULT NULL,
                                                idempotency_key text DEFAULT NULL,
                                                at timestamptz DEFAULT now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'fc_credits_try_consume_1_7'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@._hold(account text, kind @extschema@.credit_kind, amount integer,
                                  image text, idempotency_key text, at timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_hold_1_7'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.charge()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fc_charge_trigger_1_7'
LANGUAGE C SECURITY DEFINER;

--------------------------------------------------------------------------
-- Usage alerts: thresholds per plan, every alert recorded with its figures
-- and readable in the view alerts, NOTIFY at commit (1.7)
--------------------------------------------------------------------------

-- The thresholds were the session setting fluxcredits.alert_thresholds,
-- which one client of a pooler could set for the others; they are now the
-- plan's.  The 1.7 library reads this column (an earlier database gets 80 and
-- 100), records every alert in alerts_sent with the charge, and sends
-- NOTIFY when the charge's transaction commits, not from inside the
-- charge: PREPARE TRANSACTION refuses a transaction that ran NOTIFY.
ALTER TABLE @extschema@.plans
    ADD COLUMN alert_thresholds integer[] NOT NULL DEFAULT '{80,100}'
        CHECK ((1 <= ALL (alert_thresholds) AND 100 >= ALL (alert_thresholds)) IS TRUE
               AND coalesce(pg_catalog.array_ndims(alert_thresholds), 1) = 1);
COMMENT ON COLUMN @extschema@.plans.alert_thresholds IS
'percentages of a monthly limit at which a charge raises a usage alert (fluxcredits.alerts, NOTIFY fluxcredits_alert); empty: none';

-- The figures of the payload, kept with the alert.  The rows of 1.6 have
-- no used or limit; their period's end is the one its counters have.
ALTER TABLE @extschema@.alerts_sent
    ADD COLUMN used bigint,
    ADD COLUMN "limit" bigint,
    ADD COLUMN period_end timestamptz;
UPDATE @extschema@.alerts_sent s
   SET period_end = (SELECT pg_catalog.max(c.period_end) FROM @extschema@.counters c
                      WHERE c.account = s.account AND c.kind = s.kind
                        AND c.period_start = s.period_start);

CREATE VIEW @extschema@.alerts AS
SELECT s.account, s.kind, s.threshold, s.used, s."limit", s.period_start, s.period_end,
       s.sent_at AS raised_at
  FROM @extschema@.alerts_sent s;
COMMENT ON VIEW @extschema@.alerts IS
'the usage alerts raised: one row per account, kind, billing period and threshold reached, with the usage and limit of the charge that reached it';
REVOKE ALL ON @extschema@.alerts FROM PUBLIC;

-- A restore brings a changed seeded plan back with its thresholds too.
CREATE OR REPLACE FUNCTION @extschema@._plans_insert_seeded() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The seed of the plans table, as inserted at the top of this script.
    UPDATE @extschema@.plans p
       SET compression_limit = NEW.compression_limit, ai_monthly = NEW.ai_monthly,
           alert_thresholds = NEW.alert_thresholds
      FROM (VALUES ('Free', 20, 0), ('Starter', 200, 200),
                   ('Pro', NULL, 1000), ('Agency', NULL, 10000)) AS s(name, compression_limit, ai_monthly)
     WHERE p.name = NEW.name AND s.name = p.name
       AND (p.compression_limit, p.ai_monthly, p.alert_thresholds)
           IS NOT DISTINCT FROM (s.compression_limit, s.ai_monthly, '{80,100}'::integer[]);
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@._plans_insert_seeded() IS
'internal: an INSERT of a seeded plan still at its seeded limits and alert thresholds sets them (how a restore brings back a changed seeded plan)';

-- The app and the readers read the alerts.
CREATE OR REPLACE FUNCTION @extschema@._role_privileges(role_kind text)
RETURNS TABLE (privilege text, object_type text, object text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'USAGE', 'SCHEMA', '@extschema@'
    UNION ALL
    SELECT 'SELECT', 'TABLE', v::regclass::text
      FROM unnest(CASE role_kind
                      WHEN 'app' THEN ARRAY['@extschema@.usage', '@extschema@.alerts']
                      WHEN 'reader' THEN ARRAY['@extschema@.usage', '@extschema@.usage_history',
                                               '@extschema@.near_limit', '@extschema@.plan_summary',
                                               '@extschema@.alerts']
                  END) v
    UNION ALL
    SELECT 'EXECUTE', 'FUNCTION', p.oid::regprocedure::text
      FROM pg_proc p
     WHERE p.pronamespace = '@extschema@'::regnamespace
       AND p.proname = ANY (CASE role_kind
                                WHEN 'app' THEN ARRAY['credits_open_account', 'credits_consume',
                                    'credits_try_consume', 'credits_topup', 'credits_refund',
                                    'credits_set_plan', 'credits_usage', 'credits_usage_json',
                                    'credits_reserve', 'credits_commit', 'credits_release',
                                    'billing_period']
                                -- The views call these with the reader's rights.
                                WHEN 'reader' THEN ARRAY['credits_usage', 'near_limit']
                            END)
$$;
COMMENT ON FUNCTION @extschema@.grant_app(regrole) IS
'lets role use the credit functions and read the views usage and alerts; it can change no table directly';
COMMENT ON FUNCTION @extschema@.grant_reader(regrole) IS
'lets role read the DBA views usage, usage_history, near_limit, plan_summary and alerts, and nothing else';

-- Roles given grant_app() or grant_reader() under 1.6 read the usage view:
-- they get the alerts too, as those functions now give them.  (Not PUBLIC,
-- if a DBA gave it the usage view: PUBLIC gets nothing from the extension.)
DO $$
DECLARE
    r regrole;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::regrole
               FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
              WHERE c.oid = '@extschema@.usage'::regclass AND a.privilege_type = 'SELECT'
                AND a.grantee <> c.relowner AND a.grantee <> 0
              ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON @extschema@.alerts TO %s', r);
    END LOOP;
END
$$;

--------------------------------------------------------------------------
-- Writers refuse a read-only transaction first; the clock; account time
-- zones; commit and release take held reservations only (1.7)
--------------------------------------------------------------------------

-- On a hot standby, or in a READ ONLY transaction, every function that
-- writes now refuses with 25006 before it locks anything or takes a
-- transaction id (credits_refund, credits_set_plan, credits_commit and
-- credits_release failed on a standby with "cannot assign TransactionIds
-- during recovery", and in a READ ONLY transaction locked the account's
-- row first).  Every function that takes "at" refuses (22023) a time
-- before the account's anchor (or before its current anchor took effect)
-- or after the current time plus fluxcredits.max_clock_skew, a superuser's
-- setting (5 minutes by default; -1: no upper bound, for test clocks).
-- An account's time zone must be a name pg_timezone_names lists, and not a
-- leap-second zone (right/...): the check was "contains a slash", which
-- let in right/ zones, POSIX specifications and names that are no zone.
-- credits_commit and credits_release refuse (FC009) an id that is not a
-- held reservation: credits_commit returned a charge's id unchanged.

-- What every writer checks first (src/writer_checks.c): that it may write,
-- before it takes any lock or a transaction id; and, once it has read the
-- account, that at lies within the account's life.
CREATE FUNCTION @extschema@._check_writable(action text)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_writable_sql'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_writable(text) IS
'internal: raises 25006 on a hot standby or in a read-only transaction (action: what was refused)';

CREATE FUNCTION @extschema@._check_clock(account text, at timestamptz, anchor timestamptz,
                                         anchor_since timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_clock_sql'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_clock(text, timestamptz, timestamptz, timestamptz) IS
'internal: raises 22023 unless at lies from the account''s anchor (anchor_since, once set) to the current time plus fluxcredits.max_clock_skew';

CREATE OR REPLACE FUNCTION @extschema@._check_time_zone(tz text)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_time_zone_sql_1_7'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_time_zone(text) IS
'internal: raises 22023 unless tz may be an account''s time zone: a name pg_timezone_names lists, not a leap-second (right/) zone';

REVOKE ALL ON FUNCTION @extschema@._check_writable(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_clock(text, timestamptz, timestamptz, timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.credits_open_account(account text,
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

CREATE OR REPLACE FUNCTION @extschema@.credits_topup(account text, amount integer, reference text,
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

    INSERT INTO @extschema@.ledger AS l (at, account, entry, kind, topup, reference)
    VALUES (credits_topup.at, credits_topup.account, 'topup', 'ai',
            credits_topup.amount, credits_topup.reference)
    ON CONFLICT (reference) WHERE entry = 'topup' DO NOTHING
    RETURNING id INTO entry_id;
    IF entry_id IS NULL THEN
        -- The payment was credited before: once is enough.
        SELECT l.id, l.account, l.topup INTO prior FROM @extschema@.ledger l
         WHERE l.entry = 'topup' AND l.reference = credits_topup.reference;
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
    PERFORM @extschema@._check_writable('refund a charge');
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
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);
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

CREATE OR REPLACE FUNCTION @extschema@.credits_reserve(account text,
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
    SELECT * INTO c FROM @extschema@.ledger l WHERE l.id = hold_id;
    IF c.entry = 'hold' THEN
        INSERT INTO @extschema@.reservations (id, account, kind, period_start, monthly, topup, expires_at)
        VALUES (c.id, c.account, c.kind, c.period_start, c.monthly, -c.topup, at + ttl)
        ON CONFLICT (id) DO NOTHING;
    END IF;
    RETURN hold_id;
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
DECLARE
    acc @extschema@.accounts;
BEGIN
    IF reservation IS NULL THEN
        RAISE EXCEPTION 'reservation must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT * INTO c FROM @extschema@.ledger l WHERE l.id = reservation;
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
    SELECT * INTO r FROM @extschema@.reservations v WHERE v.id = reservation FOR UPDATE;
    IF r.state <> 'held' THEN
        RAISE EXCEPTION 'reservation % was already %', reservation, r.state
            USING ERRCODE = 'FC009',
                  DETAIL = format('It was %s at %s.', r.state, r.resolved_at);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.credits_commit(reservation bigint, amount integer DEFAULT NULL,
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
    lr := @extschema@._lock_reservation(reservation, at);
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
    VALUES (at, (lr.c).account, 'commit', (lr.c).kind, (lr.c).period_start, (lr.c).image, reservation);
    UPDATE @extschema@.reservations v
       SET state = 'committed', committed = amount, resolved_at = at
     WHERE v.id = reservation;
    RETURN reservation;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.credits_release(reservation bigint, at timestamptz DEFAULT now())
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
    lr := @extschema@._lock_reservation(reservation, at);
    entry_id := @extschema@._give_back('release', lr.c, (lr.r).monthly, (lr.r).topup, at, lr.plan);
    UPDATE @extschema@.reservations v SET state = 'released', resolved_at = at
     WHERE v.id = reservation;
    RETURN entry_id;
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

--------------------------------------------------------------------------
-- The C file names the comments give (1.7 splits the C by path)
--------------------------------------------------------------------------

COMMENT ON FUNCTION @extschema@._lock_account_slots(text, @extschema@.credit_kind, timestamptz) IS
'internal: the account''s row and its counter slots of kind in the period (NULL: all), never holding the account while waiting for a slot (src/under_account.c)';

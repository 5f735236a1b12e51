/* fluxcredits: usage-credit metering.  The install script of the newest
   version, built by make from the files of sql/src, in name order. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION fluxcredits" to load this file. \quit

--------------------------------------------------------------------------
-- Billing periods (src/billing_period.c)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.billing_period(anchor timestamptz, at timestamptz,
                                           tz text DEFAULT 'UTC')
RETURNS pg_catalog.tstzrange
AS 'MODULE_PATHNAME', 'fc_billing_period_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- No SET search_path here: the C code runs no SQL, so the path cannot matter,
-- and a SET clause would cost a GUC save and restore on every call.
COMMENT ON FUNCTION @extschema@.billing_period(timestamptz, timestamptz, text) IS
'the billing period [start, next start) containing at, for an account anchored at anchor in time zone tz';
--------------------------------------------------------------------------
-- Types and tables
--------------------------------------------------------------------------

CREATE TYPE @extschema@.credit_kind AS ENUM ('compression', 'ai');
COMMENT ON TYPE @extschema@.credit_kind IS
'compression: one processed image; ai: AI alt text or SEO rename';

CREATE TYPE @extschema@.ledger_entry AS ENUM ('consume', 'refund', 'topup', 'plan_change',
                                              'hold', 'commit', 'release');
COMMENT ON TYPE @extschema@.ledger_entry IS 'what a ledger row records';

-- Plans are data: a DBA may add one with INSERT.
CREATE TABLE @extschema@.plans (
    name              text PRIMARY KEY
                      CHECK (name <> '' AND pg_catalog.octet_length(name) <= 64),
    compression_limit integer CHECK (compression_limit >= 0),
    ai_monthly        integer NOT NULL CHECK (ai_monthly >= 0),
    -- 1.7: which usage alerts fire is the plan's, not a session's setting
    alert_thresholds  integer[] NOT NULL DEFAULT '{80,100}'
                      CHECK ((1 <= ALL (alert_thresholds) AND 100 >= ALL (alert_thresholds)) IS TRUE
                             AND coalesce(pg_catalog.array_ndims(alert_thresholds), 1) = 1)
);
COMMENT ON TABLE @extschema@.plans IS
'plans and their monthly allocations; compression_limit NULL means unlimited';
COMMENT ON COLUMN @extschema@.plans.alert_thresholds IS
'percentages of a monthly limit at which a charge raises a usage alert (fluxcredits.alerts, NOTIFY fluxcredits_alert); empty: none';

INSERT INTO @extschema@.plans (name, compression_limit, ai_monthly) VALUES
    ('Free',    20,   0),
    ('Starter', 200,  200),
    ('Pro',     NULL, 1000),
    ('Agency',  NULL, 10000);

CREATE TABLE @extschema@.accounts (
    account       text PRIMARY KEY
                  CHECK (account <> '' AND pg_catalog.octet_length(account) <= 256),
    plan          text NOT NULL REFERENCES @extschema@.plans (name),
    anchor        timestamptz NOT NULL CHECK (pg_catalog.isfinite(anchor)),
    tz            text NOT NULL,
    topup_balance bigint NOT NULL DEFAULT 0 CHECK (topup_balance >= 0),
    opened_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    anchor_since  timestamptz,
    has_reserved  boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE @extschema@.accounts IS
'one row per account of the app: plan, billing anchor and zone, top-up balance';
COMMENT ON COLUMN @extschema@.accounts.anchor_since IS
'when a new anchor given to credits_set_plan took effect (NULL: since the account opened)';
COMMENT ON COLUMN @extschema@.accounts.has_reserved IS
'true once the account has reserved credits (set by credits_reserve, never reset): read-outs look for its held reservations only then';

-- The per-period counters: a cache of the ledger.  One account's counter of
-- one kind in one billing period is split into slots (rows) that are summed
-- on read, so that concurrent charges of one busy account lock different
-- rows.  A limited kind never overspends because every slot may only count up
-- to its own cap, and the caps of a period never add up to more than what
-- the plan leaves (they are set only under the account's row lock with every
-- slot row locked: see _rebalance).  An unlimited kind has no caps.
CREATE TABLE @extschema@.counters (
    account      text NOT NULL REFERENCES @extschema@.accounts (account),
    kind         @extschema@.credit_kind NOT NULL,
    period_start timestamptz NOT NULL,
    slot         smallint NOT NULL DEFAULT 0 CHECK (slot >= 0),
    period_end   timestamptz NOT NULL,
    used         bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    topup_used   bigint NOT NULL DEFAULT 0 CHECK (topup_used >= 0),
    cap          bigint,
    PRIMARY KEY (account, period_start, kind, slot)
);
COMMENT ON TABLE @extschema@.counters IS
'credits used per account, billing period, kind and slot (slots are summed): used from the monthly allocation, topup_used from the top-up balance';
COMMENT ON COLUMN @extschema@.counters.cap IS
'how far this slot''s used may grow (NULL: unlimited kind); the caps of a period add up to at most the plan''s limit';

-- Usage alerts already sent (src/alerts.c): each threshold of each account,
-- kind and period fires once.  The row is written with the charge that
-- raised the alert, in its transaction (so a prepared transaction can hold
-- one), and NOTIFY follows at commit.  used, limit and period_end are
-- 1.7's: rows written before have no used and limit (NULL), and the update
-- to 1.7 gives them the period_end of their period's counters.
CREATE TABLE @extschema@.alerts_sent (
    account      text NOT NULL,
    kind         @extschema@.credit_kind NOT NULL,
    period_start timestamptz NOT NULL,
    threshold    integer NOT NULL CHECK (threshold BETWEEN 1 AND 100),
    sent_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    used         bigint,
    "limit"      bigint,
    period_end   timestamptz,
    PRIMARY KEY (account, kind, period_start, threshold)
);
COMMENT ON TABLE @extschema@.alerts_sent IS
'the usage alerts (NOTIFY fluxcredits_alert) sent: one row per account, kind, billing period and threshold';

-- The append-only ledger: every change of a balance is one row.
CREATE TABLE @extschema@.ledger (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL,
    account         text NOT NULL,
    entry           @extschema@.ledger_entry NOT NULL,
    kind            @extschema@.credit_kind,
    period_start    timestamptz,
    monthly         integer NOT NULL DEFAULT 0,
    topup           integer NOT NULL DEFAULT 0,
    image           text,
    idempotency_key text,
    reference       text,
    charge          bigint
);
COMMENT ON TABLE @extschema@.ledger IS
'append-only audit ledger; the counters and top-up balances are sums of it';
COMMENT ON COLUMN @extschema@.ledger.monthly IS
'change of the monthly counter of (account, kind, period_start): +n for a charge, -n for its refund';
COMMENT ON COLUMN @extschema@.ledger.topup IS
'change of the account''s top-up balance: +n for a top-up, -n for AI credits drawn from it, +n for their refund';
COMMENT ON COLUMN @extschema@.ledger.reference IS
'topup: the payment reference; plan_change: the new plan';
COMMENT ON COLUMN @extschema@.ledger.charge IS
'refund: the charge refunded; a consume that an earlier charge of the same image covered: that charge';

CREATE UNIQUE INDEX ledger_idempotency_key ON @extschema@.ledger (account, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX ledger_ai_image ON @extschema@.ledger (account, image, period_start)
    WHERE entry IN ('consume', 'hold') AND kind = 'ai' AND image IS NOT NULL;
CREATE UNIQUE INDEX ledger_refund_once ON @extschema@.ledger (charge)
    WHERE entry = 'refund';
CREATE INDEX ledger_charge ON @extschema@.ledger (charge) WHERE charge IS NOT NULL;
CREATE UNIQUE INDEX ledger_payment_reference ON @extschema@.ledger (reference)
    WHERE entry = 'topup';

CREATE FUNCTION @extschema@._ledger_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the fluxcredits ledger is append-only'
        USING ERRCODE = 'FC007',
              DETAIL = format('%s on fluxcredits.ledger is refused: ledger rows are never changed or removed.', TG_OP),
              HINT = 'Record a correction as a new entry, for example with fluxcredits.credits_refund().';
END
$$;
COMMENT ON FUNCTION @extschema@._ledger_append_only() IS 'internal: refuses UPDATE, DELETE and TRUNCATE on the ledger';

CREATE TRIGGER ledger_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON @extschema@.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._ledger_append_only();

-- Reservations (two-phase charges): the state of each hold.  The hold's
-- credits are counted like a charge from the start (ledger entry 'hold');
-- credits_commit() makes it final (entry 'commit', and 'release' for the
-- part not used), credits_release() and expiry give it back ('release').
CREATE TABLE @extschema@.reservations (
    id           bigint PRIMARY KEY,
    account      text NOT NULL,
    kind         @extschema@.credit_kind NOT NULL,
    period_start timestamptz NOT NULL,
    monthly      bigint NOT NULL,
    topup        bigint NOT NULL,
    expires_at   timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'held'
                 CHECK (state IN ('held', 'committed', 'released', 'expired')),
    committed    bigint,
    resolved_at  timestamptz
);
COMMENT ON TABLE @extschema@.reservations IS
'holds made by credits_reserve(): what each holds (monthly, top-up), until when, and how it ended';
CREATE INDEX reservations_held ON @extschema@.reservations (account) WHERE state = 'held';
--------------------------------------------------------------------------
-- Internal checks shared with the C code (src/args.c)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@._check_text(value text, what text, maxlen integer)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_text_sql'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_text(text, text, integer) IS
'internal: raises unless value is a non-empty string of at most maxlen bytes';

CREATE FUNCTION @extschema@._check_time_zone(tz text)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_time_zone_sql_1_7'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_time_zone(text) IS
'internal: raises 22023 unless tz may be an account''s time zone: a name pg_timezone_names lists, not a leap-second (right/) zone';

CREATE FUNCTION @extschema@._check_at(at timestamptz, what text DEFAULT 'at')
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF at IS NULL THEN
        RAISE EXCEPTION '% must not be null', what
            USING ERRCODE = '22004',
                  HINT = CASE WHEN what = 'at' THEN 'Leave it out to use now().'
                              ELSE format('Give the %s as a finite timestamp.', what) END;
    END IF;
    IF NOT isfinite(at) THEN
        RAISE EXCEPTION '% must be a finite timestamp', what USING ERRCODE = '22008';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_at(timestamptz, text) IS
'internal: raises unless at is a finite timestamp';

CREATE FUNCTION @extschema@._check_anchor(anchor timestamptz, what text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@._check_at(anchor, what);
    IF anchor > now() + interval '1 year' THEN
        RAISE EXCEPTION '% is too far in the future', what
            USING ERRCODE = '22008',
                  DETAIL = format('The %s is %s; it may be at most one year after now().', what, anchor),
                  HINT = 'The anchor is when the account subscribed.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_anchor(timestamptz, text) IS
'internal: raises unless anchor is finite and at most one year ahead';

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

CREATE FUNCTION @extschema@._lock_account(account text)
RETURNS @extschema@.accounts
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
BEGIN
    PERFORM @extschema@._check_text(account, 'account', 256);
    SELECT * INTO acc FROM @extschema@.accounts a
     WHERE a.account = _lock_account.account FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'FC002',
                  HINT = 'Open it first with fluxcredits.credits_open_account().';
    END IF;
    RETURN acc;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_account(text) IS
'internal: the account''s row, locked FOR NO KEY UPDATE (the first lock of every writer)';

CREATE FUNCTION @extschema@._lock_image(account text, image text, period_start timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_lock_image_sql_1_6'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@._lock_image(text, text, timestamptz) IS
'internal: the transaction-level advisory lock that serialises AI charges and refunds of one image in one period';

CREATE FUNCTION @extschema@._lock_account_slots(account text, kind @extschema@.credit_kind,
                                                period_start timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_lock_account_slots'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@._lock_account_slots(text, @extschema@.credit_kind, timestamptz) IS
'internal: the account''s row and its counter slots of kind in the period (NULL: all), never holding the account while waiting for a slot (src/under_account.c)';

CREATE FUNCTION @extschema@._plan_limit(plan text, kind @extschema@.credit_kind)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE kind WHEN 'compression' THEN p.compression_limit ELSE p.ai_monthly END
      FROM @extschema@.plans p WHERE p.name = plan
$$;
COMMENT ON FUNCTION @extschema@._plan_limit(text, @extschema@.credit_kind) IS
'internal: the monthly limit of a kind on a plan (NULL: unlimited)';

-- Sets the caps of one account's counter slots of one kind and period so
-- that they share what the limit leaves evenly; with grow, doubles the slots
-- (up to fluxcredits.counter_slots).  The caller holds the account's row lock.
CREATE FUNCTION @extschema@._rebalance(account text, kind @extschema@.credit_kind,
                                       period_start timestamptz, period_end timestamptz,
                                       lim bigint, grow boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    n integer;
    total bigint;
    room bigint;
    max_slots integer := coalesce(nullif(current_setting('fluxcredits.counter_slots', true), '')::integer, 16);
BEGIN
    SELECT count(*), coalesce(sum(c.used), 0) INTO n, total
      FROM (SELECT c.used FROM @extschema@.counters c
             WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
               AND c.period_start = _rebalance.period_start
             ORDER BY c.slot FOR UPDATE) c;
    IF lim IS NULL THEN
        UPDATE @extschema@.counters c SET cap = NULL
         WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
           AND c.period_start = _rebalance.period_start AND c.cap IS NOT NULL;
        RETURN;
    END IF;
    IF n = 0 AND NOT grow THEN
        RETURN;
    END IF;
    IF grow AND n < max_slots THEN
        INSERT INTO @extschema@.counters (account, kind, period_start, slot, period_end, used, cap)
        SELECT _rebalance.account, _rebalance.kind, _rebalance.period_start, g.slot,
               _rebalance.period_end, 0, 0
          FROM generate_series(0, max_slots - 1) AS g(slot)
         WHERE NOT EXISTS (SELECT FROM @extschema@.counters c
                            WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
                              AND c.period_start = _rebalance.period_start AND c.slot = g.slot)
         ORDER BY g.slot
         LIMIT least(max_slots, greatest(2 * n, 2)) - n;   -- double, to reach the clients soon
    END IF;
    room := greatest(lim - total, 0);
    UPDATE @extschema@.counters c
       SET cap = c.used + r.room / r.n + CASE WHEN r.rn <= r.room % r.n THEN 1 ELSE 0 END
      FROM (SELECT c2.slot, row_number() OVER (ORDER BY c2.slot) AS rn,
                   count(*) OVER () AS n, room AS room
              FROM @extschema@.counters c2
             WHERE c2.account = _rebalance.account AND c2.kind = _rebalance.kind
               AND c2.period_start = _rebalance.period_start) r
     WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
       AND c.period_start = _rebalance.period_start AND c.slot = r.slot;
END
$$;
COMMENT ON FUNCTION @extschema@._rebalance(text, @extschema@.credit_kind, timestamptz, timestamptz, bigint, boolean) IS
'internal: shares what the limit leaves among the counter slots of a period (caller holds the account lock)';

-- Shares out the caps of every counter period of an account again for plan
-- (after a plan change, or a change of the plan's limits).  The caller holds
-- the account's row lock.
CREATE FUNCTION @extschema@._recap_account(account text, plan text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM @extschema@._rebalance(_recap_account.account, p.kind, p.period_start, p.period_end,
                                   @extschema@._plan_limit(_recap_account.plan, p.kind), false)
       FROM (SELECT DISTINCT c.kind, c.period_start, c.period_end
               FROM @extschema@.counters c
              WHERE c.account = _recap_account.account
              ORDER BY c.period_start, c.kind) p;
END
$$;
COMMENT ON FUNCTION @extschema@._recap_account(text, text) IS
'internal: shares out the caps of all of an account''s counter periods for plan (caller holds the account lock)';

-- A DBA may change a plan's limits: the caps of every account on it follow.
CREATE FUNCTION @extschema@._plans_changed() RETURNS trigger
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
COMMENT ON FUNCTION @extschema@._plans_changed() IS
'internal: re-shares the counter caps of the accounts of plans whose limits changed';

-- The internal helpers are called by the extension's own functions, which
-- run as the extension's owner; nobody else needs them.
REVOKE ALL ON FUNCTION @extschema@._check_text(text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_time_zone(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_at(timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_anchor(timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_writable(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_clock(text, timestamptz, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_account(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_image(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_account_slots(text, @extschema@.credit_kind, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._plan_limit(text, @extschema@.credit_kind) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._rebalance(text, @extschema@.credit_kind, timestamptz, timestamptz, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._ledger_append_only() FROM PUBLIC;
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
        SELECT * INTO c FROM @extschema@.ledger l WHERE l.id = r.id;
        PERFORM @extschema@._give_back('release', c, r.monthly, r.topup, r.expires_at, plan);
        UPDATE @extschema@.reservations v SET state = 'expired', resolved_at = r.expires_at
         WHERE v.id = r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@._release_expired(text, timestamptz, text) IS
'internal: releases the account''s holds past their ttl (caller holds the account lock)';

CREATE FUNCTION @extschema@.credits_refund(charge bigint, at timestamptz DEFAULT now())
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
COMMENT ON FUNCTION @extschema@.credits_refund(bigint, timestamptz) IS
'returns a charge to where it came from (the monthly counter of its period, or the top-up balance), once; returns the ledger id of the refund';

-- Internal helpers of refunds: not for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@._give_back(@extschema@.ledger_entry, @extschema@.ledger, bigint, bigint, timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._release_expired(text, timestamptz, text) FROM PUBLIC;
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
    SELECT * INTO c FROM @extschema@.ledger l WHERE l.id = hold_id;
    IF c.entry = 'hold' THEN
        INSERT INTO @extschema@.reservations (id, account, kind, period_start, monthly, topup, expires_at)
        VALUES (c.id, c.account, c.kind, c.period_start, c.monthly, -c.topup, at + ttl)
        ON CONFLICT (id) DO NOTHING;
    END IF;
    RETURN hold_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_reserve(text, @extschema@.credit_kind, integer, text, text, interval, timestamptz) IS
'holds credits for ttl (they count as used) without charging them yet; returns the reservation id';

-- The held reservation, locked, for credits_commit and credits_release.  An
-- id that is not a reservation's is refused before anything is locked: a
-- charge (credits_reserve returns one for an AI image a charge already
-- covers, or for a key a charge used) has nothing held to commit or release.
CREATE FUNCTION @extschema@._lock_reservation(reservation bigint, at timestamptz,
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
COMMENT ON FUNCTION @extschema@._lock_reservation(bigint, timestamptz) IS
'internal: a held reservation, with the image, account and reservation locks taken in order';

CREATE FUNCTION @extschema@.credits_commit(reservation bigint, amount integer DEFAULT NULL,
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
COMMENT ON FUNCTION @extschema@.credits_commit(bigint, integer, timestamptz) IS
'turns a reservation into a charge (of amount, releasing the rest); returns the charge id, which is the reservation id';

CREATE FUNCTION @extschema@.credits_release(reservation bigint, at timestamptz DEFAULT now())
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
COMMENT ON FUNCTION @extschema@.credits_release(bigint, timestamptz) IS
'gives a reservation''s credits back; returns the ledger id of the release';

-- Internal helpers of reservations: not for PUBLIC.
REVOKE ALL ON FUNCTION @extschema@._hold(text, @extschema@.credit_kind, integer, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_reservation(bigint, timestamptz) FROM PUBLIC;
--------------------------------------------------------------------------
-- Charging from the app's own tables (src/trigger.c)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.charge()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fc_charge_trigger_1_7'
LANGUAGE C SECURITY DEFINER;
-- No SET search_path: see credits_consume.
COMMENT ON FUNCTION @extschema@.charge() IS
'AFTER INSERT ... REFERENCING NEW TABLE ... FOR EACH STATEMENT trigger charging one credit per inserted row: charge(kind, account_column [, image_column [, idempotency_key_column [, charge_id_column]]]); with a charge id column, also BEFORE INSERT FOR EACH ROW with the same arguments';

CREATE FUNCTION @extschema@._charge_trigger_check(trigger oid)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_charge_trigger_check'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@._charge_trigger_check(oid) IS
'internal: raises the error that the charge() trigger would raise at its first insert (form, arguments, columns, column types)';

-- A statement trigger on a partitioned table fires for the rows inserted
-- through it (routed into its partitions), not for rows inserted into a
-- partition directly; and PostgreSQL copies only row triggers to
-- partitions.  So each partition of a table with a charge() statement
-- trigger gets one of its own, of the same name and arguments: attach()
-- makes them for the partitions there are, and the event trigger below for
-- each partition created or attached later.  (Not for a hand-written
-- CREATE TRIGGER on a partitioned table: pg_dump saves the partitions'
-- triggers too, and a restore would then make each twice.)
CREATE FUNCTION @extschema@._charge_partitions(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT p.relid::regclass AS part, tg.tgname, tg.tgenabled,
               substring(pg_get_triggerdef(tg.oid) FROM 'EXECUTE FUNCTION (.*)$') AS call
          FROM pg_partition_tree(coalesce(pg_partition_root(tbl), tbl)) p,
               LATERAL pg_partition_ancestors(p.relid) a
          JOIN pg_trigger tg ON tg.tgrelid = a.relid
         WHERE a.relid <> p.relid
           AND tg.tgfoid = '@extschema@.charge()'::regprocedure
           AND tg.tgtype & 1 = 0                      -- FOR EACH STATEMENT
           AND NOT EXISTS (SELECT FROM pg_trigger x
                            WHERE x.tgrelid = p.relid AND x.tgname = tg.tgname)
         ORDER BY p.level, p.relid, tg.tgname
    LOOP
        -- a partition below two charged levels: the first one made wins
        CONTINUE WHEN EXISTS (SELECT FROM pg_trigger x
                               WHERE x.tgrelid = t.part AND x.tgname = t.tgname);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s'
                       ' REFERENCING NEW TABLE AS fluxcredits_inserted'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s',
                       t.tgname, t.part, t.call);
        IF t.tgenabled <> 'O' THEN
            EXECUTE format('ALTER TABLE %s %s TRIGGER %I', t.part,
                           CASE t.tgenabled WHEN 'D' THEN 'DISABLE'
                                            WHEN 'R' THEN 'ENABLE REPLICA'
                                            ELSE 'ENABLE ALWAYS' END,
                           t.tgname);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._charge_partitions(regclass) IS
'internal: gives every partition in tbl''s partition tree the charge() statement triggers of its ancestors that it lacks';

-- Runs as the extension's owner: the DDL of any role passes through it,
-- and PUBLIC has no privilege on the extension's functions.
CREATE FUNCTION @extschema@._charge_ddl()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cmd record;
    tg oid;
BEGIN
    -- most databases' DDL: no charge() trigger anywhere
    IF NOT EXISTS (SELECT FROM pg_trigger
                    WHERE tgfoid = '@extschema@.charge()'::regprocedure) THEN
        RETURN;
    END IF;
    FOR cmd IN SELECT c.command_tag, c.objid
                 FROM pg_event_trigger_ddl_commands() c
                WHERE c.classid IN ('pg_trigger'::regclass, 'pg_class'::regclass)
    LOOP
        IF cmd.command_tag = 'CREATE TRIGGER' THEN
            IF EXISTS (SELECT FROM pg_trigger
                        WHERE oid = cmd.objid
                          AND tgfoid = '@extschema@.charge()'::regprocedure) THEN
                PERFORM @extschema@._charge_trigger_check(cmd.objid);
                -- A statement trigger of a partition does not fire for the
                -- rows inserted through its parent: alone, it would leave
                -- those free.  A copy of its parent's is what it may be.
                IF EXISTS (SELECT FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                            WHERE t.oid = cmd.objid AND t.tgtype & 1 = 0 AND c.relispartition
                              AND NOT EXISTS (
                                  SELECT FROM pg_partition_ancestors(t.tgrelid) a
                                    JOIN pg_trigger p ON p.tgrelid = a.relid
                                   WHERE a.relid <> t.tgrelid AND p.tgname = t.tgname
                                     AND p.tgfoid = t.tgfoid AND p.tgargs = t.tgargs
                                     AND p.tgtype & 1 = 0)) THEN
                    RAISE EXCEPTION 'trigger "%" on partition % would not charge the rows inserted through its partitioned table',
                                    (SELECT tgname FROM pg_trigger WHERE oid = cmd.objid),
                                    (SELECT tgrelid::regclass FROM pg_trigger WHERE oid = cmd.objid)
                        USING ERRCODE = '0A000',
                              DETAIL = 'A statement trigger fires for the table a statement names; rows routed into a partition fire the partitioned table''s.',
                              HINT = 'Attach the trigger to the partitioned table: fluxcredits.attach() gives each partition a copy too.';
                END IF;
            END IF;
        ELSIF EXISTS (SELECT FROM pg_class
                       WHERE oid = cmd.objid AND relkind IN ('r', 'p')) THEN
            -- a partition created or attached under a charged table (first:
            -- a charge id step cloned to it needs its statement trigger)
            PERFORM @extschema@._charge_partitions(cmd.objid::regclass);
            -- a column renamed, dropped or retyped under a charge() trigger
            FOR tg IN SELECT oid FROM pg_trigger
                       WHERE tgrelid = cmd.objid
                         AND tgfoid = '@extschema@.charge()'::regprocedure
            LOOP
                PERFORM @extschema@._charge_trigger_check(tg);
            END LOOP;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._charge_ddl() IS
'internal: the event trigger fluxcredits_charge_ddl: checks charge() triggers when they are created and when their table is altered, and gives new partitions of a charged table their statement trigger';

CREATE EVENT TRIGGER fluxcredits_charge_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER', 'CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION @extschema@._charge_ddl();

CREATE FUNCTION @extschema@.attach("table" regclass, kind @extschema@.credit_kind,
                                   account_column name, image_column name DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trigger_name text := format('fluxcredits_charge_%s', kind);
BEGIN
    IF "table" IS NULL OR kind IS NULL OR account_column IS NULL THEN
        RAISE EXCEPTION 'table, kind and account_column must not be null' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute
                    WHERE attrelid = "table" AND attname = account_column
                      AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', account_column, "table"
            USING ERRCODE = '42703';
    END IF;
    IF image_column IS NOT NULL AND NOT EXISTS (
           SELECT FROM pg_attribute
            WHERE attrelid = "table" AND attname = image_column
              AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', image_column, "table"
            USING ERRCODE = '42703';
    END IF;
    -- the column types are checked by the event trigger fluxcredits_charge_ddl
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS fluxcredits_inserted'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.charge(%L, %L, %L)',
                   trigger_name, "table", kind, account_column, coalesce(image_column, ''));
    PERFORM @extschema@._charge_partitions("table");
    RETURN trigger_name;
END
$$;
COMMENT ON FUNCTION @extschema@.attach(regclass, @extschema@.credit_kind, name, name) IS
'creates the trigger fluxcredits_charge_<kind> that charges a credit of kind for every row a statement inserts into table (and into each of its partitions); returns its name';

CREATE FUNCTION @extschema@.detach("table" regclass, kind @extschema@.credit_kind)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trigger_name text := format('fluxcredits_charge_%s', kind);
    t record;
BEGIN
    IF "table" IS NULL OR kind IS NULL THEN
        RAISE EXCEPTION 'table and kind must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, "table");
    -- and the copies attach() gave its partitions
    FOR t IN SELECT p.relid::regclass AS part
               FROM pg_partition_tree("table") p
               JOIN pg_trigger tg ON tg.tgrelid = p.relid
              WHERE p.relid <> "table" AND tg.tgname = trigger_name
                AND tg.tgfoid = '@extschema@.charge()'::regprocedure AND tg.tgparentid = 0
              ORDER BY p.level, p.relid
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, t.part);
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.detach(regclass, @extschema@.credit_kind) IS
'drops the trigger that attach() created for kind on table, and on its partitions';

REVOKE ALL ON FUNCTION @extschema@._charge_trigger_check(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._charge_partitions(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._charge_ddl() FROM PUBLIC;
--------------------------------------------------------------------------
-- Hash indexes for the lookups of every charge and read-out (1.3,
-- src/relscan.c)
--------------------------------------------------------------------------

-- A charge and a read-out find the account's row, and the counter slots of
-- its kind's billing period, by equality only.  A btree descends from its
-- root, which every backend pins and locks, comparing text on each level; a
-- hash index finds the entries in one bucket page and shares no page
-- between lookups (its metapage is cached in each backend), so busy
-- clients do not queue on one root page (docs/performance.md has the
-- measurements).  The primary keys stay: they enforce uniqueness (hash
-- indexes cannot), and the extension's SQL and a DBA's queries may use them.

-- The value counters_account_period indexes: a 64-bit hash of the
-- account's bytes seeded with the period start (hash indexes have one
-- column).  Rows of other accounts or periods that share it are told apart
-- by their columns.
CREATE FUNCTION @extschema@._counters_key(account text, period_start timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_counters_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._counters_key(text, timestamptz) IS
'internal: the key of the hash index counters_account_period';

CREATE INDEX accounts_account ON @extschema@.accounts USING hash (account);
CREATE INDEX counters_account_period ON @extschema@.counters
    USING hash (@extschema@._counters_key(account, period_start));
--------------------------------------------------------------------------
-- Usage read-out (src/usage.c)
--------------------------------------------------------------------------

CREATE TYPE @extschema@.credits_usage AS (
    plan                 text,
    compressor_used      bigint,
    compressor_limit     bigint,
    ia_credits_used      bigint,
    ia_credits_monthly   bigint,
    ia_topup_credits     bigint,
    ia_credits_remaining bigint,
    "canCompress"        boolean,
    "canUseIA"           boolean,
    period_start         timestamptz,
    period_end           timestamptz,
    compressor_reserved  bigint,
    ia_credits_reserved  bigint
);
COMMENT ON TYPE @extschema@.credits_usage IS 'the dashboard''s read-out of one account';

CREATE FUNCTION @extschema@.credits_usage(account text, at timestamptz DEFAULT now())
RETURNS @extschema@.credits_usage
AS 'MODULE_PATHNAME', 'fc_credits_usage'
LANGUAGE C STABLE PARALLEL RESTRICTED;
-- Neither SECURITY DEFINER nor SET search_path: the C code runs no SQL (it
-- reads the tables through their indexes, src/relscan.c, which names them
-- by schema and checks no table privilege), so the caller's path cannot
-- matter and EXECUTE on this function is the whole access control; the two
-- clauses would cost a user switch and a GUC save and restore per call.
COMMENT ON FUNCTION @extschema@.credits_usage(text, timestamptz) IS
'the usage read-out of an account for the billing period containing at';

CREATE FUNCTION @extschema@.credits_usage_json(account text, at timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT to_jsonb(u) FROM @extschema@.credits_usage(account, at) u
$$;
COMMENT ON FUNCTION @extschema@.credits_usage_json(text, timestamptz) IS
'credits_usage as the dashboard''s JSON, with the same keys';

CREATE VIEW @extschema@.usage AS
SELECT a.account, u.*
  FROM @extschema@.accounts a
 CROSS JOIN LATERAL @extschema@.credits_usage(a.account) u;
COMMENT ON VIEW @extschema@.usage IS 'the current usage read-out of every account';
--------------------------------------------------------------------------
-- Consistency check
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.credits_check()
RETURNS TABLE (account text, kind @extschema@.credit_kind, period_start timestamptz,
               item text, stored bigint, from_ledger bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH l AS (
        SELECT l.account, l.kind, l.period_start,
               sum(l.monthly)::bigint AS used, (-sum(l.topup))::bigint AS topup_used
          FROM @extschema@.ledger l
         WHERE l.entry IN ('consume', 'refund', 'hold', 'release')
         GROUP BY 1, 2, 3
    ), c AS (
        SELECT c.account, c.kind, c.period_start,
               sum(c.used)::bigint AS used, sum(c.topup_used)::bigint AS topup_used
          FROM @extschema@.counters c
         GROUP BY 1, 2, 3
    ), j AS (
        SELECT coalesce(c.account, l.account) AS account,
               coalesce(c.kind, l.kind) AS kind,
               coalesce(c.period_start, l.period_start) AS period_start,
               coalesce(c.used, 0) AS c_used, coalesce(l.used, 0) AS l_used,
               coalesce(c.topup_used, 0) AS c_topup, coalesce(l.topup_used, 0) AS l_topup
          FROM c FULL JOIN l
            ON c.account = l.account AND c.kind = l.kind AND c.period_start = l.period_start
    ), b AS (
        -- one pass over the ledger, not one sum per account
        SELECT a.account, a.topup_balance AS stored, coalesce(t.topup, 0)::bigint AS from_ledger
          FROM @extschema@.accounts a
          LEFT JOIN (SELECT l.account, sum(l.topup) AS topup
                       FROM @extschema@.ledger l
                      GROUP BY l.account) t ON t.account = a.account
    )
    SELECT j.account, j.kind, j.period_start, 'used', j.c_used, j.l_used
      FROM j WHERE j.c_used <> j.l_used
    UNION ALL
    SELECT j.account, j.kind, j.period_start, 'topup_used', j.c_topup, j.l_topup
      FROM j WHERE j.c_topup <> j.l_topup
    UNION ALL
    SELECT b.account, NULL, NULL, 'topup_balance', b.stored, b.from_ledger
      FROM b WHERE b.stored <> b.from_ledger
    UNION ALL
    SELECT v.account, v.kind, v.period_start, format('reservation %s %s', v.id, v.state), NULL, NULL
      FROM @extschema@.reservations v
      LEFT JOIN @extschema@.ledger h ON h.id = v.id AND h.entry = 'hold'
      CROSS JOIN LATERAL (
          SELECT EXISTS (SELECT FROM @extschema@.ledger x WHERE x.charge = v.id AND x.entry = 'commit') AS has_commit,
                 EXISTS (SELECT FROM @extschema@.ledger x WHERE x.charge = v.id AND x.entry = 'release') AS has_release) e
     WHERE h.id IS NULL OR h.monthly <> v.monthly OR -h.topup <> v.topup
        OR CASE v.state WHEN 'held' THEN e.has_commit OR e.has_release
                        WHEN 'committed' THEN NOT e.has_commit
                        ELSE e.has_commit OR NOT e.has_release END
    UNION ALL
    SELECT a.account, NULL, NULL, 'held reservations, has_reserved false', NULL, count(*)
      FROM @extschema@.accounts a
      JOIN @extschema@.reservations r ON r.account = a.account AND r.state = 'held'
     WHERE NOT a.has_reserved
     GROUP BY a.account
    UNION ALL
    SELECT l.account, NULL, NULL, 'unknown account', NULL, count(*)
      FROM @extschema@.ledger l
     WHERE NOT EXISTS (SELECT FROM @extschema@.accounts a WHERE a.account = l.account)
     GROUP BY l.account
    ORDER BY 1, 3, 2, 4
$$;
COMMENT ON FUNCTION @extschema@.credits_check() IS
'recomputes every counter and top-up balance from the ledger; one row per disagreement, none when healthy';

CREATE TRIGGER plans_limits_changed
    AFTER UPDATE ON @extschema@.plans
    REFERENCING OLD TABLE AS old_plans NEW TABLE AS new_plans
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@._plans_changed();
REVOKE ALL ON FUNCTION @extschema@._recap_account(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._plans_changed() FROM PUBLIC;
--------------------------------------------------------------------------
-- Operations: DBA views, privileges, dump (the operations issue)
--------------------------------------------------------------------------

-- The ledger read in time order per account ("the last 50 entries of an
-- account") without reading the whole ledger.
CREATE INDEX ledger_account_id ON @extschema@.ledger (account, id);

-- Every account's billing periods with charges, the figures of the usage
-- read-out per period.  Like credits_usage(), a hold past its ttl that no
-- writer has released yet reads as released.
CREATE VIEW @extschema@.usage_history AS
WITH c AS (
    SELECT c.account, c.period_start, max(c.period_end) AS period_end,
           coalesce(sum(c.used) FILTER (WHERE c.kind = 'compression'), 0) AS compression_used,
           coalesce(sum(c.used) FILTER (WHERE c.kind = 'ai'), 0) AS ai_monthly_used,
           coalesce(sum(c.topup_used) FILTER (WHERE c.kind = 'ai'), 0) AS ai_topup_used
      FROM @extschema@.counters c
     GROUP BY c.account, c.period_start
), expired AS (
    SELECT r.account, r.period_start,
           coalesce(sum(r.monthly) FILTER (WHERE r.kind = 'compression'), 0) AS compression_used,
           coalesce(sum(r.monthly) FILTER (WHERE r.kind = 'ai'), 0) AS ai_monthly_used,
           coalesce(sum(r.topup) FILTER (WHERE r.kind = 'ai'), 0) AS ai_topup_used
      FROM @extschema@.reservations r
     WHERE r.state = 'held' AND r.expires_at <= pg_catalog.now()
     GROUP BY r.account, r.period_start
)
SELECT a.account,
       c.period_start,
       c.period_end,
       a.plan,
       (c.compression_used - coalesce(x.compression_used, 0))::bigint AS compressor_used,
       p.compression_limit::bigint AS compressor_limit,
       (c.ai_monthly_used + c.ai_topup_used
        - coalesce(x.ai_monthly_used + x.ai_topup_used, 0))::bigint AS ia_credits_used,
       p.ai_monthly::bigint AS ia_credits_monthly,
       (c.ai_topup_used - coalesce(x.ai_topup_used, 0))::bigint AS ia_topup_used
  FROM c
  JOIN @extschema@.accounts a ON a.account = c.account
  JOIN @extschema@.plans p ON p.name = a.plan
  LEFT JOIN expired x ON x.account = c.account AND x.period_start = c.period_start;
COMMENT ON VIEW @extschema@.usage_history IS
'one row per account and billing period with charges: used credits of the period, limits of the account''s current plan';

-- Accounts at or past a share of a monthly limit (the limits alerts watch:
-- compression, and the monthly AI allocation; unlimited and zero limits have
-- no share), in their current periods, worst first.  Built on the views, so
-- a caller sees through it only what the views show them.
CREATE FUNCTION @extschema@.near_limit(share numeric DEFAULT 0.8)
RETURNS TABLE (account text, plan text, kind @extschema@.credit_kind, used bigint,
               monthly_limit bigint, percent numeric,
               period_start timestamptz, period_end timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF share IS NULL THEN
        RAISE EXCEPTION 'share must not be null' USING ERRCODE = '22004',
            HINT = 'Leave it out for 0.8 (80%).';
    END IF;
    IF share <= 0 OR share = 'NaN' THEN
        RAISE EXCEPTION 'share must be positive'
            USING ERRCODE = '22023',
                  DETAIL = format('The share given is %s.', share),
                  HINT = 'A share is a fraction of the limit: 0.8 is 80%, 1 is the limit itself.';
    END IF;
    RETURN QUERY
    SELECT u.account, u.plan, k.kind, k.used, k.lim,
           round(100.0 * k.used / k.lim, 1), u.period_start, u.period_end
      FROM @extschema@.usage u
      LEFT JOIN LATERAL (SELECT h.ia_credits_used - h.ia_topup_used AS ai_monthly_used
                           FROM @extschema@.usage_history h
                          WHERE h.account = u.account AND h.period_start = u.period_start) h ON true
     CROSS JOIN LATERAL (VALUES ('compression'::@extschema@.credit_kind, u.compressor_used, u.compressor_limit),
                                ('ai', coalesce(h.ai_monthly_used, 0), u.ia_credits_monthly)) k(kind, used, lim)
     WHERE k.lim > 0 AND k.used >= near_limit.share * k.lim
     ORDER BY k.used::numeric / k.lim DESC, u.account, k.kind;
END
$$;
COMMENT ON FUNCTION @extschema@.near_limit(numeric) IS
'accounts whose current-period use of a monthly limit (compression, monthly AI) is at least share of it, worst first';

CREATE VIEW @extschema@.near_limit AS
SELECT n.* FROM @extschema@.near_limit() n
 ORDER BY n.used::numeric / n.monthly_limit DESC, n.account, n.kind;
COMMENT ON VIEW @extschema@.near_limit IS
'accounts at or past 80% of a monthly limit in their current periods, worst first (near_limit(share) for another share)';

CREATE VIEW @extschema@.plan_summary AS
SELECT p.name AS plan,
       p.compression_limit::bigint AS compressor_limit,
       p.ai_monthly::bigint AS ia_credits_monthly,
       count(u.account) AS accounts,
       coalesce(sum(u.compressor_used), 0)::bigint AS compressor_used,
       coalesce(sum(u.ia_credits_used), 0)::bigint AS ia_credits_used,
       coalesce(sum(u.ia_topup_credits), 0)::bigint AS ia_topup_credits
  FROM @extschema@.plans p
  LEFT JOIN @extschema@.usage u ON u.plan = p.name
 GROUP BY p.name, p.compression_limit, p.ai_monthly
 ORDER BY p.ai_monthly, p.compression_limit NULLS LAST, p.name;
COMMENT ON VIEW @extschema@.plan_summary IS
'per plan: its limits, its accounts, and their compression and AI credits used in their current periods';

-- The alerts, for the app: what a listener that missed a NOTIFY (it was
-- disconnected, its pooler drops them, the charge was in a prepared
-- transaction) reads to catch up.  Read with the view owner's rights.
CREATE VIEW @extschema@.alerts AS
SELECT s.account, s.kind, s.threshold, s.used, s."limit", s.period_start, s.period_end,
       s.sent_at AS raised_at
  FROM @extschema@.alerts_sent s;
COMMENT ON VIEW @extschema@.alerts IS
'the usage alerts raised: one row per account, kind, billing period and threshold reached, with the usage and limit of the charge that reached it';
--------------------------------------------------------------------------
-- Dump and restore
--------------------------------------------------------------------------

-- Dump and restore.  pg_dump saves the rows of the tables registered below,
-- and a restore runs CREATE EXTENSION (which seeds the four plans) before it
-- loads them.  Every plan row is dumped, so that a seeded plan a DBA changed
-- comes back as changed: a row inserted with the name of a seeded plan whose
-- row still holds its seeded limits replaces those limits instead of
-- colliding with it.  Any other duplicate plan name is still an error.
CREATE FUNCTION @extschema@._plans_insert_seeded() RETURNS trigger
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

CREATE TRIGGER plans_insert_seeded
    BEFORE INSERT ON @extschema@.plans
    FOR EACH ROW EXECUTE FUNCTION @extschema@._plans_insert_seeded();

-- The user data pg_dump saves: every table the extension's functions or a
-- DBA write, and the ledger's id sequence, so that ids after a restore do
-- not collide with restored ones.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.plans', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.counters', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ledger_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.reservations', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alerts_sent', '');
--------------------------------------------------------------------------
-- Privileges
--------------------------------------------------------------------------

-- Privileges.  The two roles an installation grants, with what each gets.
CREATE FUNCTION @extschema@._role_privileges(role_kind text)
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
COMMENT ON FUNCTION @extschema@._role_privileges(text) IS
'internal: the privileges grant_app (role_kind app) and grant_reader (reader) give';

-- Grants or revokes one set.  Revoking one set leaves what the other set
-- also gives (USAGE on the schema, the views usage and alerts) to a role
-- that holds the whole other set.
CREATE FUNCTION @extschema@._set_role_privileges(role regrole, role_kind text, granted boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    priv record;
    other text := CASE role_kind WHEN 'app' THEN 'reader' ELSE 'app' END;
    keep_shared boolean;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = '22004';
    END IF;
    keep_shared := NOT granted AND NOT EXISTS (
        SELECT FROM @extschema@._role_privileges(other) o
         WHERE NOT CASE o.object_type
                   WHEN 'SCHEMA' THEN has_schema_privilege(role, o.object, o.privilege)
                   WHEN 'TABLE' THEN has_table_privilege(role, o.object, o.privilege)
                   ELSE has_function_privilege(role, o.object, o.privilege) END);
    FOR priv IN SELECT r.privilege, r.object_type, r.object
                  FROM @extschema@._role_privileges(role_kind) r
                 ORDER BY r.object_type, r.object
    LOOP
        IF keep_shared AND EXISTS (SELECT FROM @extschema@._role_privileges(other) o
                                    WHERE (o.privilege, o.object_type, o.object)
                                        = (priv.privilege, priv.object_type, priv.object)) THEN
            CONTINUE;
        END IF;
        IF granted THEN
            EXECUTE format('GRANT %s ON %s %s TO %s', priv.privilege, priv.object_type, priv.object, role);
        ELSE
            EXECUTE format('REVOKE %s ON %s %s FROM %s', priv.privilege, priv.object_type, priv.object, role);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._set_role_privileges(regrole, text, boolean) IS
'internal: grants (granted) or revokes the privileges of grant_app (role_kind app) or grant_reader (reader)';

CREATE FUNCTION @extschema@.grant_app(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'app', true) $$;
COMMENT ON FUNCTION @extschema@.grant_app(regrole) IS
'lets role use the credit functions and read the views usage and alerts; it can change no table directly';

CREATE FUNCTION @extschema@.revoke_app(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'app', false) $$;
COMMENT ON FUNCTION @extschema@.revoke_app(regrole) IS 'takes back what grant_app gave';

CREATE FUNCTION @extschema@.grant_reader(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'reader', true) $$;
COMMENT ON FUNCTION @extschema@.grant_reader(regrole) IS
'lets role read the DBA views usage, usage_history, near_limit, plan_summary and alerts, and nothing else';

CREATE FUNCTION @extschema@.revoke_reader(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'reader', false) $$;
COMMENT ON FUNCTION @extschema@.revoke_reader(regrole) IS 'takes back what grant_reader gave';

-- PUBLIC gets nothing: the installation decides who may do what, with the
-- functions above or its own GRANTs.  PUBLIC has no privilege on the new
-- schema, nor on new tables and sequences, but may execute new functions
-- and use new types (in a column or argument; calls and casts need no
-- privilege on a type).  These statements must come after every object
-- the script creates.
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA @extschema@ FROM PUBLIC;
DO $$
DECLARE
    t regtype;
BEGIN
    -- Array types follow their element type.  Not the row types of tables
    -- and views: nobody can use them without USAGE on the schema, and
    -- pg_dump, which does not dump them apart from their relation, warns
    -- of an initial privilege recorded on one ("unsupported pg_init_privs
    -- entry", up to 1.5).
    FOR t IN SELECT ty.oid FROM pg_catalog.pg_type ty
              WHERE ty.typnamespace = '@extschema@'::regnamespace AND ty.typcategory <> 'A'
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                                 WHERE c.oid = ty.typrelid AND c.relkind <> 'c')
              ORDER BY ty.oid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON TYPE %s FROM PUBLIC', t);
    END LOOP;
END
$$;

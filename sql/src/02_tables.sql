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

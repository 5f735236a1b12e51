-- bench/tables.sql: the floor's and the peer's own tables, in schema :schema
-- (psql -v schema=NAME).  The same shapes as fluxcredits 1.0 (plans,
-- accounts, counters, ledger with its four partial indexes), so that the
-- floor and the peer write what a credit meter with this ledger must write.
-- Kept as a fixed copy on purpose: the yardsticks do not move when the
-- extension's own tables change.

CREATE SCHEMA :schema;
CREATE TYPE :schema.credit_kind AS ENUM ('compression', 'ai');
CREATE TYPE :schema.ledger_entry AS ENUM ('consume', 'refund', 'topup', 'plan_change');

CREATE TABLE :schema.plans (
    name              text PRIMARY KEY,
    compression_limit integer CHECK (compression_limit >= 0),
    ai_monthly        integer NOT NULL CHECK (ai_monthly >= 0)
);
-- The SPEC's seed, as data.
INSERT INTO :schema.plans VALUES
    ('Free', 20, 0), ('Starter', 200, 200), ('Pro', NULL, 1000), ('Agency', NULL, 10000);

CREATE TABLE :schema.accounts (
    account       text PRIMARY KEY,
    plan          text NOT NULL REFERENCES :schema.plans (name),
    anchor        timestamptz NOT NULL,
    tz            text NOT NULL,
    topup_balance bigint NOT NULL DEFAULT 0 CHECK (topup_balance >= 0),
    opened_at     timestamptz NOT NULL DEFAULT now(),
    anchor_since  timestamptz
);

CREATE TABLE :schema.counters (
    account      text NOT NULL REFERENCES :schema.accounts (account),
    kind         :schema.credit_kind NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz NOT NULL,
    used         bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    topup_used   bigint NOT NULL DEFAULT 0 CHECK (topup_used >= 0),
    PRIMARY KEY (account, period_start, kind)
);

CREATE TABLE :schema.ledger (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL,
    account         text NOT NULL,
    entry           :schema.ledger_entry NOT NULL,
    kind            :schema.credit_kind,
    period_start    timestamptz,
    monthly         integer NOT NULL DEFAULT 0,
    topup           integer NOT NULL DEFAULT 0,
    image           text,
    idempotency_key text,
    reference       text,
    charge          bigint
);
CREATE UNIQUE INDEX ON :schema.ledger (account, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX ON :schema.ledger (account, image, period_start)
    WHERE entry = 'consume' AND kind = 'ai' AND image IS NOT NULL;
CREATE UNIQUE INDEX ON :schema.ledger (charge) WHERE entry = 'refund';
CREATE UNIQUE INDEX ON :schema.ledger (reference) WHERE entry = 'topup';

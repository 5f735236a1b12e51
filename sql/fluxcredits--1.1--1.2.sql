/* sql/fluxcredits--1.1--1.2.sql: fluxcredits 1.1 to 1.2 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.2'" to load this file. \quit

-- 1.2: the three charge functions written in C no longer carry SET
-- search_path.  The clause made every charge set the search_path setting
-- and restore the caller's, each time looking the new path up in the
-- catalogs; the library now puts the path pg_catalog, and nothing else, in
-- force itself while a charge runs (src/spi_plans.c, fc_safe_path_push), so
-- a caller's schemas still change nothing a charge does.  The other
-- SECURITY DEFINER functions keep the clause.

-- CREATE OR REPLACE keeps their privileges and comments; without a SET
-- clause it leaves none.  Their C names end in _1_2: a session that loaded
-- the 1.1 library before this update keeps it until it reconnects, and that
-- library does not set the path; it has no function of these names, so
-- such a session's charge is refused instead of running with its caller's
-- path.
CREATE OR REPLACE FUNCTION @extschema@.credits_consume(account text,
                                            kind @extschema@.credit_kind,
                                            amount integer DEFAULT 1,
                                            image text DEFAULT NULL,
                                            idempotency_key text DEFAULT NULL,
                                            at timestamptz DEFAULT now())
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_credits_consume_1_2'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@.credits_try_consume(account text,
                                                kind @extschema@.credit_kind,
                                                amount integer DEFAULT 1,
                                                image text DEFAULT NULL,
                                                idempotency_key text DEFAULT NULL,
                                                at timestamptz DEFAULT now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'fc_credits_try_consume_1_2'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@.charge()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fc_charge_trigger_1_2'
LANGUAGE C SECURITY DEFINER;

-- The exact path of a charge reads its plan's limit with a subquery instead
-- of _plan_limit(), a SQL function that was parsed and planned on every call
-- (the first charge of a period in the library does the same since the
-- 1.1 library).
CREATE OR REPLACE FUNCTION @extschema@._charge_slow(account text, kind @extschema@.credit_kind,
                                         period_start timestamptz, period_end timestamptz,
                                         amount integer, at timestamptz,
                                         OUT ok boolean, OUT monthly bigint, OUT topup bigint,
                                         OUT used bigint, OUT lim bigint, OUT balance bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
    contended boolean;
    settled boolean;            -- every slot's cap is what it has used
BEGIN
    acc := @extschema@._lock_account(account);
    -- Holds past their ttl give their credits back first (lazy expiry).
    IF @extschema@._release_expired(account, at, acc.plan) > 0 THEN
        SELECT * INTO acc FROM @extschema@.accounts a WHERE a.account = _charge_slow.account;
    END IF;
    -- (not _plan_limit(): a SQL function is parsed and planned on every call)
    lim := (SELECT CASE kind WHEN 'compression' THEN p.compression_limit ELSE p.ai_monthly END
              FROM @extschema@.plans p WHERE p.name = acc.plan);
    balance := acc.topup_balance;
    SELECT coalesce(sum(c.used), 0), coalesce(bool_or(c.cap IS NULL OR c.used + amount <= c.cap), false),
           coalesce(bool_and(c.cap IS NOT NULL AND c.cap = c.used), false)
      INTO used, contended, settled
      FROM (SELECT c.used, c.cap FROM @extschema@.counters c
             WHERE c.account = _charge_slow.account AND c.kind = _charge_slow.kind
               AND c.period_start = _charge_slow.period_start
             ORDER BY c.slot FOR UPDATE) c;
    IF lim IS NULL THEN
        monthly := amount;
        topup := 0;
    ELSE
        monthly := least(amount, greatest(lim - used, 0));
        topup := amount - monthly;
        IF topup > 0 AND (kind = 'compression' OR topup > balance) THEN
            ok := false;
            RETURN;
        END IF;
    END IF;
    UPDATE @extschema@.counters c
       SET used = c.used + _charge_slow.monthly, topup_used = c.topup_used + _charge_slow.topup
     WHERE c.account = _charge_slow.account AND c.kind = _charge_slow.kind
       AND c.period_start = _charge_slow.period_start
       AND c.slot = (SELECT c2.slot FROM @extschema@.counters c2
                      WHERE c2.account = _charge_slow.account AND c2.kind = _charge_slow.kind
                        AND c2.period_start = _charge_slow.period_start
                      ORDER BY c2.cap - c2.used DESC NULLS FIRST, c2.slot LIMIT 1);
    IF NOT FOUND THEN
        INSERT INTO @extschema@.counters (account, kind, period_start, slot, period_end, used, topup_used)
        VALUES (account, kind, period_start, 0, period_end, monthly, topup);
    END IF;
    IF topup > 0 THEN
        UPDATE @extschema@.accounts a SET topup_balance = a.topup_balance - _charge_slow.topup
         WHERE a.account = _charge_slow.account;
    END IF;
    -- Past the monthly limit, with every slot already capped at what it
    -- used, sharing out the caps again would write the same caps: an AI
    -- charge drawn wholly from the top-up skips it.
    IF NOT (monthly = 0 AND settled AND NOT contended) THEN
        PERFORM @extschema@._rebalance(account, kind, period_start, period_end, lim, contended);
    END IF;
    ok := true;
END
$$;

/* sql/fluxcredits--1.4--1.5.sql: fluxcredits 1.4 to 1.5 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.5'" to load this file. \quit

-- Which accounts have ever reserved: a read-out (and a charge's exact path)
-- looks for an account's held reservations only if it has.  Up to 1.4 the
-- library asked whether any reservation was ever held in the database, and
-- once one was, every read-out of every account probed the reservations.
-- A library from before 1.5 does not read the column and keeps working.
ALTER TABLE @extschema@.accounts ADD COLUMN has_reserved boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN @extschema@.accounts.has_reserved IS
'true once the account has reserved credits (set by credits_reserve, never reset): read-outs look for its held reservations only then';
UPDATE @extschema@.accounts a SET has_reserved = true
 WHERE EXISTS (SELECT FROM @extschema@.reservations r WHERE r.account = a.account);

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

CREATE OR REPLACE FUNCTION @extschema@.credits_check()
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

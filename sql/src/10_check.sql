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
    -- Every join names the account (on Citus each then stays within one
    -- node's colocated shards), and the commits and releases of each
    -- reservation are one grouped pass, not a subquery per reservation.
    SELECT v.account, v.kind, v.period_start, format('reservation %s %s', v.id, v.state), NULL, NULL
      FROM @extschema@.reservations v
      LEFT JOIN @extschema@.ledger h ON h.account = v.account AND h.id = v.id AND h.entry = 'hold'
      LEFT JOIN (SELECT x.account, x.charge,
                        bool_or(x.entry = 'commit') AS has_commit,
                        bool_or(x.entry = 'release') AS has_release
                   FROM @extschema@.ledger x
                  WHERE x.entry IN ('commit', 'release')
                  GROUP BY x.account, x.charge) e ON e.account = v.account AND e.charge = v.id
     WHERE h.id IS NULL OR h.monthly <> v.monthly OR -h.topup <> v.topup
        OR CASE v.state WHEN 'held' THEN coalesce(e.has_commit OR e.has_release, false)
                        WHEN 'committed' THEN NOT coalesce(e.has_commit, false)
                        ELSE coalesce(e.has_commit, false) OR NOT coalesce(e.has_release, false) END
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

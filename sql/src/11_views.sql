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
      -- a plain join (usage_history has one row per account and period):
      -- Citus plans no lateral outer join over distributed views
      LEFT JOIN @extschema@.usage_history h
        ON h.account = u.account AND h.period_start = u.period_start
     CROSS JOIN LATERAL (VALUES ('compression'::@extschema@.credit_kind, u.compressor_used, u.compressor_limit),
                                ('ai', coalesce(h.ia_credits_used - h.ia_topup_used, 0), u.ia_credits_monthly)) k(kind, used, lim)
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

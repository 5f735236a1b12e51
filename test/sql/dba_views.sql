-- dba_views: the views a DBA reads with psql (usage_history, near_limit,
-- plan_summary) and the ledger's per-account index.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- The columns of the new views.
SELECT c.relname AS view, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
 WHERE c.relnamespace = 'fluxcredits'::regnamespace
   AND c.relname IN ('usage_history', 'near_limit', 'plan_summary') AND a.attnum > 0
 ORDER BY c.relname, a.attnum;

-- A plan a DBA added.
INSERT INTO fluxcredits.plans (name, compression_limit, ai_monthly) VALUES ('Team', 500, 2000);

SELECT fluxcredits.credits_open_account('shop-1', 'Starter', '2025-06-10 03:17+00');
SELECT fluxcredits.credits_open_account('shop-2', 'Free', '2025-03-01 00:00+00');
SELECT fluxcredits.credits_open_account('shop-3', 'Pro', '2025-05-05 12:00+00');
SELECT fluxcredits.credits_open_account('shop-4', 'Starter', '2025-02-28 00:00+00');
SELECT fluxcredits.credits_open_account('shop-5', 'Agency', '2025-07-01 00:00+00');
SELECT fluxcredits.credits_open_account('shop-6', 'Team', '2025-04-15 08:00+00');
SELECT fluxcredits.credits_open_account('shop-7', 'Starter', '2025-01-20 00:00+00');

-- Past periods, at explicit times.  shop-1: two periods, the second one
-- with AI credits split between the monthly allocation and a top-up.
-- shop-1 and shop-5: a hold that expired and that no charge has released
-- yet (an exact-path charge of the account would).
SELECT fluxcredits.credits_consume('shop-1', 'compression', 50, at => '2025-06-20 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-1', 'ai', 30, at => '2025-06-20 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_topup('shop-1', 20, 'pay-shop-1', at => '2025-08-01 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('shop-1', 'compression', 200, at => '2025-08-20 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-1', 'ai', 210, at => '2025-08-20 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_reserve('shop-1', 'ai', 3, at => '2025-09-01 00:00+00') > 0 AS held;
SELECT fluxcredits.credits_consume('shop-5', 'ai', 5, at => '2025-07-05 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_reserve('shop-5', 'ai', 2, at => '2025-07-05 00:00+00') > 0 AS held;

-- The current periods (now()): the views show these.
SELECT fluxcredits.credits_consume('shop-1', 'compression', 170) > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-1', 'ai', 100) > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-2', 'compression', 20) > 0 AS charged;
SELECT fluxcredits.credits_topup('shop-2', 5, 'pay-shop-2') > 0 AS credited;
SELECT fluxcredits.credits_consume('shop-2', 'ai', 2) > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-3', 'compression', 5000) > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-3', 'ai', 790) > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-4', 'compression', 155) > 0 AS charged;
SELECT fluxcredits.credits_reserve('shop-4', 'compression', 5, ttl => '1 day') > 0 AS held;
SELECT fluxcredits.credits_consume('shop-4', 'ai', 10) > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-6', 'compression', 100) > 0 AS charged;
SELECT fluxcredits.credits_consume('shop-6', 'ai', 1900) > 0 AS charged;
-- shop-7 used 150 compressions on Starter, then moved down to Free (limit 20).
SELECT fluxcredits.credits_consume('shop-7', 'compression', 150) > 0 AS charged;
SELECT fluxcredits.credits_set_plan('shop-7', 'Free') > 0 AS changed;

--------------------------------------------------------------------------
-- usage_history: one row per account and billing period with charges
--------------------------------------------------------------------------

-- The past periods.  shop-5's expired hold is off ia_credits_used, as in
-- the usage read-out, although its counter still holds it.
SELECT * FROM fluxcredits.usage_history
 WHERE period_start < '2026-01-01' ORDER BY account, period_start;
SELECT sum(used) AS counter_used FROM fluxcredits.counters WHERE account = 'shop-5';
SELECT account, kind, monthly, topup, expires_at, state FROM fluxcredits.reservations
 WHERE expires_at < '2026-01-01' ORDER BY account;

-- The current periods.
SELECT account, plan, compressor_used, compressor_limit, ia_credits_used,
       ia_credits_monthly, ia_topup_used,
       period_start <= now() AND now() < period_end AS current_period
  FROM fluxcredits.usage_history
 WHERE period_start >= '2026-01-01' ORDER BY account;

-- The same figures as the read-out: every past period against
-- credits_usage() at the period's last instant, every current one against
-- the usage view.  No disagreement.
SELECT h.account, h.period_start
  FROM fluxcredits.usage_history h
 CROSS JOIN LATERAL fluxcredits.credits_usage(h.account, h.period_end - interval '1 microsecond') u
 WHERE h.period_start < '2026-01-01'
   AND (h.plan, h.period_start, h.period_end, h.compressor_used, h.compressor_limit,
        h.ia_credits_used, h.ia_credits_monthly)
       IS DISTINCT FROM
       (u.plan, u.period_start, u.period_end, u.compressor_used, u.compressor_limit,
        u.ia_credits_used, u.ia_credits_monthly);
SELECT coalesce(u.account, h.account) AS account
  FROM (SELECT * FROM fluxcredits.usage
         WHERE compressor_used > 0 OR ia_credits_used > 0) u
  FULL JOIN (SELECT * FROM fluxcredits.usage_history
              WHERE period_start <= now() AND now() < period_end) h
    ON h.account = u.account
 WHERE (h.plan, h.period_start, h.period_end, h.compressor_used, h.compressor_limit,
        h.ia_credits_used, h.ia_credits_monthly)
       IS DISTINCT FROM
       (u.plan, u.period_start, u.period_end, u.compressor_used, u.compressor_limit,
        u.ia_credits_used, u.ia_credits_monthly);

--------------------------------------------------------------------------
-- near_limit: accounts at or past a share of a monthly limit, worst first
--------------------------------------------------------------------------

-- 80% by default.  Unlimited kinds (Pro's compression) and zero limits
-- (Free's AI) have no share; held credits count (shop-4: 155 + 5 held);
-- a downgraded account can be far past its new limit (shop-7).
SELECT account, plan, kind, used, monthly_limit, percent,
       period_start <= now() AND now() < period_end AS current_period
  FROM fluxcredits.near_limit;
-- The view is the function with its default: no row in one and not the other.
(TABLE fluxcredits.near_limit EXCEPT ALL SELECT * FROM fluxcredits.near_limit())
UNION ALL
(SELECT * FROM fluxcredits.near_limit() EXCEPT ALL TABLE fluxcredits.near_limit);
SELECT account, kind, used, monthly_limit, percent FROM fluxcredits.near_limit(0.75);
SELECT account, kind, used, monthly_limit, percent FROM fluxcredits.near_limit(share => 1);
SELECT count(*) FROM fluxcredits.near_limit(8);
-- The share is a positive number.
SELECT * FROM fluxcredits.near_limit(NULL);
SELECT * FROM fluxcredits.near_limit(0);
SELECT * FROM fluxcredits.near_limit(-0.5);
SELECT * FROM fluxcredits.near_limit('NaN');

--------------------------------------------------------------------------
-- plan_summary: per plan, in the accounts' current periods
--------------------------------------------------------------------------

SELECT * FROM fluxcredits.plan_summary;
SELECT sum(accounts) = (SELECT count(*) FROM fluxcredits.accounts) AS every_account
  FROM fluxcredits.plan_summary;

SELECT * FROM fluxcredits.credits_check();

--------------------------------------------------------------------------
-- The ledger in time order per account: ledger_account_id
--------------------------------------------------------------------------

-- 100 accounts with 180 charges each, interleaved in time as on a busy
-- server.
SELECT count(fluxcredits.credits_open_account(format('bulk-%s', i), 'Pro', '2025-01-01 00:00+00'))
  FROM generate_series(0, 99) i;
SELECT count(fluxcredits.credits_consume(format('bulk-%s', a), 'compression',
                                         at => '2025-07-01 00:00+00'::timestamptz + (g * 100 + a) * interval '1 second'))
  FROM (SELECT a, g FROM generate_series(0, 99) a, generate_series(1, 180) g ORDER BY g, a) s;
ANALYZE fluxcredits.ledger;

\d fluxcredits.ledger_account_id

-- The last 50 entries of an account, as the app asks for them (a prepared
-- statement: its generic plan, then a plan for the account given): a
-- backward scan of the index that stops after 50 entries.
PREPARE last50(text) AS
SELECT id, at, entry, kind, monthly, topup, image
  FROM fluxcredits.ledger WHERE account = $1 ORDER BY id DESC LIMIT 50;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (costs off) EXECUTE last50('bulk-7');
RESET plan_cache_mode;
EXPLAIN (costs off) EXECUTE last50('bulk-7');
EXPLAIN (analyze, costs off, timing off, summary off) EXECUTE last50('bulk-7');

-- It returns the account's 50 newest entries.
CREATE TEMP TABLE last50 AS EXECUTE last50('bulk-7');
SELECT count(*) AS entries,
       max(id) = (SELECT max(id) FROM fluxcredits.ledger WHERE account = 'bulk-7') AS has_newest,
       (SELECT count(*) FROM fluxcredits.ledger
         WHERE account = 'bulk-7' AND id > (SELECT min(id) FROM last50)) AS newer_than_oldest
  FROM last50;
DROP TABLE last50;
DEALLOCATE last50;

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

-- usage: the dashboard read-out, its JSON form and the usage view.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- The type has exactly the page's fields, in its case, plus the period.
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'fluxcredits.credits_usage'::regclass AND attnum > 0
 ORDER BY attnum;

-- The seeded plans, exactly as the product page says.
SELECT * FROM fluxcredits.plans ORDER BY ai_monthly;

SELECT fluxcredits.credits_open_account('starter', 'Starter', '2026-01-31 08:00+00');
SELECT fluxcredits.credits_open_account('pro', 'Pro', '2026-01-31 08:00+00');
SELECT fluxcredits.credits_consume('starter', 'compression', 199, at => '2026-02-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('starter', 'ai', 120, at => '2026-02-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_topup('starter', 30, 'pay-1', '2026-02-10 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('pro', 'compression', 5000, at => '2026-02-10 00:00+00') > 0 AS charged;

SELECT * FROM fluxcredits.credits_usage('starter', '2026-02-10 00:00+00');
SELECT * FROM fluxcredits.credits_usage('pro', '2026-02-10 00:00+00');
-- The last compression of the period flips canCompress.
SELECT fluxcredits.credits_consume('starter', 'compression', at => '2026-02-10 00:00+00') > 0 AS charged;
SELECT compressor_used, "canCompress" FROM fluxcredits.credits_usage('starter', '2026-02-10 00:00+00');
-- The anchor is Jan 31: the period is clipped to Feb 28, then back to Mar 31.
SELECT period_start, period_end FROM fluxcredits.credits_usage('starter', '2026-03-15 00:00+00');

-- JSON with the same keys; compressor_limit is JSON null when unlimited.
SELECT jsonb_pretty(fluxcredits.credits_usage_json('starter', '2026-02-10 00:00+00'));
SELECT fluxcredits.credits_usage_json('pro', '2026-02-10 00:00+00') -> 'compressor_limit' AS compressor_limit,
       jsonb_typeof(fluxcredits.credits_usage_json('pro', '2026-02-10 00:00+00') -> 'compressor_limit') AS json_type;
SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(fluxcredits.credits_usage_json('pro')) k;

-- The usage view: one row per account, the current period (now()).
SELECT account, plan, compressor_limit, ia_credits_monthly, ia_topup_credits,
       period_start <= now() AND now() < period_end AS current_period
  FROM fluxcredits.usage ORDER BY account;

-- Reading takes no lock and writes nothing.
SELECT count(*) FROM fluxcredits.counters;
SELECT * FROM fluxcredits.credits_usage('starter', '2030-01-01 00:00+00');
SELECT count(*) FROM fluxcredits.counters;

-- A DBA's change of a plan shows at once, also to a session that read the
-- plan before (a read-out reuses the plan row it read while that version
-- is visible), and not when rolled back.
SELECT compressor_limit, ia_credits_monthly FROM fluxcredits.credits_usage('starter', '2026-02-10 00:00+00');
BEGIN;
UPDATE fluxcredits.plans SET compression_limit = 250, ai_monthly = 150 WHERE name = 'Starter';
SELECT compressor_limit, ia_credits_monthly FROM fluxcredits.credits_usage('starter', '2026-02-10 00:00+00');
ROLLBACK;
SELECT compressor_limit, ia_credits_monthly FROM fluxcredits.credits_usage('starter', '2026-02-10 00:00+00');
UPDATE fluxcredits.plans SET compression_limit = 250 WHERE name = 'Starter';
SELECT compressor_limit, ia_credits_monthly FROM fluxcredits.credits_usage('starter', '2026-02-10 00:00+00');
UPDATE fluxcredits.plans SET compression_limit = 200 WHERE name = 'Starter';
SELECT compressor_limit, ia_credits_monthly FROM fluxcredits.credits_usage('starter', '2026-02-10 00:00+00');

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

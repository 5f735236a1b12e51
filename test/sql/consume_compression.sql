-- consume_compression: compression credits, the Free limit, the lazy monthly
-- reset on the anchor day, and unlimited plans.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- Free: 20 compressions a month.  The anchor is the 15th at 09:30 UTC, so
-- periods run from the 15th 09:30 to the next 15th 09:30, not from the 1st.
SELECT fluxcredits.credits_open_account('free-1', 'Free', '2026-01-15 09:30+00');

-- 20 charges fit, each one credit, each with its own charge id.
SELECT count(DISTINCT fluxcredits.credits_consume('free-1', 'compression', at => '2026-03-01 12:00+00'))
  FROM generate_series(1, 20);
SELECT plan, compressor_used, compressor_limit, "canCompress", period_start, period_end
  FROM fluxcredits.credits_usage('free-1', '2026-03-01 12:00+00');

-- The 21st is refused and charges nothing.
SELECT fluxcredits.credits_consume('free-1', 'compression', at => '2026-03-01 12:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('free-1', 'compression', at => '2026-03-01 12:00+00');
SELECT compressor_used FROM fluxcredits.credits_usage('free-1', '2026-03-01 12:00+00');
SELECT count(*) AS ledger_rows FROM fluxcredits.ledger WHERE account = 'free-1';

-- Not reset on the 1st of the month ...
SELECT fluxcredits.credits_try_consume('free-1', 'compression', at => '2026-03-01 00:00+00');
-- ... nor one microsecond before the anchor day's boundary ...
SELECT fluxcredits.credits_try_consume('free-1', 'compression', at => '2026-03-15 09:29:59.999999+00');
SELECT compressor_used, period_end FROM fluxcredits.credits_usage('free-1', '2026-03-15 09:29:59.999999+00');
-- ... but exactly at it: a new period, a fresh counter.
SELECT compressor_used, "canCompress", period_start, period_end
  FROM fluxcredits.credits_usage('free-1', '2026-03-15 09:30+00');
SELECT fluxcredits.credits_try_consume('free-1', 'compression', at => '2026-03-15 09:30+00');
SELECT compressor_used FROM fluxcredits.credits_usage('free-1', '2026-03-15 09:30+00');
-- The earlier period stays as history.
SELECT kind, period_start, period_end, used, topup_used
  FROM fluxcredits.counters WHERE account = 'free-1' ORDER BY period_start;

-- An amount larger than one: all or nothing.
SELECT fluxcredits.credits_try_consume('free-1', 'compression', 19, at => '2026-03-16 00:00+00');
SELECT fluxcredits.credits_try_consume('free-1', 'compression', 2, at => '2026-03-16 00:00+00');
SELECT compressor_used, "canCompress" FROM fluxcredits.credits_usage('free-1', '2026-03-16 00:00+00');

-- Compressing the same image again costs again.
SELECT fluxcredits.credits_open_account('starter-1', 'Starter', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_consume('starter-1', 'compression', image => 'img-1', at => '2026-02-02 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('starter-1', 'compression', image => 'img-1', at => '2026-02-02 00:00+00') > 0 AS charged;
SELECT compressor_used FROM fluxcredits.credits_usage('starter-1', '2026-02-02 00:00+00');

-- Unlimited plans never refuse compression and still count it.
SELECT fluxcredits.credits_open_account('pro-1', 'Pro', '2026-01-01 00:00+00');
SELECT count(fluxcredits.credits_consume('pro-1', 'compression', 1000, at => '2026-02-02 00:00+00'))
  FROM generate_series(1, 50);
SELECT plan, compressor_used, compressor_limit, "canCompress"
  FROM fluxcredits.credits_usage('pro-1', '2026-02-02 00:00+00');
SELECT fluxcredits.credits_open_account('agency-1', 'Agency', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_consume('agency-1', 'compression', 2147483647, at => '2026-02-02 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('agency-1', 'compression', 2147483647, at => '2026-02-02 00:00+00') > 0 AS charged;
SELECT compressor_used, compressor_limit, "canCompress"
  FROM fluxcredits.credits_usage('agency-1', '2026-02-02 00:00+00');

-- Time zones: an anchor at local midnight in New York resets at local
-- midnight, across the change to daylight saving time.
SELECT fluxcredits.credits_open_account('ny-1', 'Free', '2026-01-10 00:00-05', 'America/New_York');
SELECT period_start, period_end FROM fluxcredits.credits_usage('ny-1', '2026-03-10 03:59:59.999999+00');
SELECT period_start, period_end FROM fluxcredits.credits_usage('ny-1', '2026-03-10 04:00+00');

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

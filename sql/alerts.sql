-- alerts: NOTIFY fluxcredits_alert when a committed charge takes monthly
-- usage to a threshold (80 and 100 percent by default), once per account,
-- kind and period, never for a rolled-back charge.  What fired is shown by
-- fluxcredits.alerts_sent here; the isolation spec race_alerts shows the
-- notifications themselves (psql would print the backend's PID).
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('free', 'Free', '2026-01-05 00:00+00');
-- 15 of 20 (75%): no alert.
SELECT fluxcredits.credits_consume('free', 'compression', 15, at => '2026-01-10 00:00+00') > 0 AS charged;
-- 16 of 20 (80%): the 80% alert.
SELECT fluxcredits.credits_consume('free', 'compression', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
-- 17: no new alert; 80% fired already this period.
SELECT fluxcredits.credits_consume('free', 'compression', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
-- A rolled-back charge to 100% sends nothing and leaves the threshold unused.
BEGIN;
SELECT fluxcredits.credits_consume('free', 'compression', 3, at => '2026-01-10 00:00+00') > 0 AS charged;
ROLLBACK;
SELECT threshold FROM fluxcredits.alerts_sent ORDER BY threshold;
-- The committed one does.
SELECT fluxcredits.credits_consume('free', 'compression', 3, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT account, kind, period_start, threshold FROM fluxcredits.alerts_sent ORDER BY threshold;
-- Both thresholds at once: a new period, one charge from 0 to 100%.
SELECT fluxcredits.credits_consume('free', 'compression', 20, at => '2026-02-10 00:00+00') > 0 AS charged;
SELECT period_start, threshold FROM fluxcredits.alerts_sent ORDER BY period_start, threshold;

-- AI: thresholds of the monthly allocation (top-up spending adds none).
SELECT fluxcredits.credits_open_account('st', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('st', 50, 'pay-1', '2026-01-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('st', 'ai', 170, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('st', 'ai', 40, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('st', 'ai', 5, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT kind, threshold FROM fluxcredits.alerts_sent WHERE account = 'st' ORDER BY threshold;

-- Unlimited plans send none for compression.
SELECT fluxcredits.credits_open_account('pro', 'Pro', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('pro', 'compression', 1000000, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT count(*) FROM fluxcredits.alerts_sent WHERE account = 'pro';

-- The thresholds are a setting.
SET fluxcredits.alert_thresholds = '50';
SELECT fluxcredits.credits_open_account('free-2', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('free-2', 'compression', 10, at => '2026-01-10 00:00+00') > 0 AS charged;
SET fluxcredits.alert_thresholds = '';
SELECT fluxcredits.credits_consume('free-2', 'compression', 10, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT threshold FROM fluxcredits.alerts_sent WHERE account = 'free-2' ORDER BY threshold;
-- Given in any order and with repeats, the thresholds are kept ascending and
-- once: a charge records the ones it reached lowest first (ctid shows the
-- order of the inserts), as every other session does.
SET fluxcredits.alert_thresholds = '100,50,50';
SHOW fluxcredits.alert_thresholds;
SELECT fluxcredits.credits_open_account('free-3', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('free-3', 'compression', 20, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT threshold FROM fluxcredits.alerts_sent WHERE account = 'free-3' ORDER BY ctid;
SET fluxcredits.alert_thresholds = '80,101';
SET fluxcredits.alert_thresholds = 'eighty';
RESET fluxcredits.alert_thresholds;
SHOW fluxcredits.alert_thresholds;

SELECT * FROM fluxcredits.credits_check();

-- A load of the library that an error interrupts must not break the
-- session.  In a new session, a bad value SET for a setting before the
-- library is loaded makes the load raise a WARNING, which checks for a
-- pending cancel: with a 1 ms statement timeout (and a long value, slow to
-- check) the load fails halfway, after one setting is defined.  PostgreSQL
-- then loads the library again on its next use, and the settings must not
-- be defined twice ("attempt to redefine parameter" on every call after,
-- before the fix).  The bad value is not kept.
\c
SELECT set_config('fluxcredits.alert_thresholds', string_agg('80', ','), false) IS NOT NULL AS set
  FROM generate_series(1, 300000);
SET client_min_messages = error;
SET statement_timeout = '1ms';
LOAD 'fluxcredits';
RESET statement_timeout;
RESET client_min_messages;
LOAD 'fluxcredits';
SHOW fluxcredits.counter_slots;
SHOW fluxcredits.alert_thresholds;
SELECT fluxcredits.billing_period('2024-01-31 00:00+00', '2024-02-15 00:00+00', 'UTC')
       = '[2024-01-31 00:00+00,2024-02-29 00:00+00)'::tstzrange AS ok;
DROP EXTENSION fluxcredits;

-- plan_change: a new plan applies at once to the current period; what was
-- used stays used; the anchor stays unless a new one is given.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('acct', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('acct', 'compression', 20, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_try_consume('acct', 'compression', at => '2026-01-10 00:00+00');
-- Upgrade mid-period: the 20 stay used, the Starter limit applies at once.
SELECT fluxcredits.credits_set_plan('acct', 'Starter', '2026-01-11 00:00+00') > 0 AS changed;
SELECT plan, compressor_used, compressor_limit, ia_credits_monthly, ia_credits_remaining, "canCompress", period_start
  FROM fluxcredits.credits_usage('acct', '2026-01-11 00:00+00');
SELECT fluxcredits.credits_try_consume('acct', 'compression', 180, at => '2026-01-11 00:00+00');
SELECT fluxcredits.credits_try_consume('acct', 'compression', at => '2026-01-11 00:00+00');
-- Downgrade below what was used: nothing more fits this period.
SELECT fluxcredits.credits_consume('acct', 'ai', 150, at => '2026-01-12 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_set_plan('acct', 'Free', '2026-01-12 00:00+00') > 0 AS changed;
SELECT plan, compressor_used, compressor_limit, ia_credits_used, ia_credits_monthly, ia_credits_remaining, "canCompress", "canUseIA"
  FROM fluxcredits.credits_usage('acct', '2026-01-12 00:00+00');
-- The anchor stayed: the next period still starts on the 5th.
SELECT period_start, period_end, compressor_used FROM fluxcredits.credits_usage('acct', '2026-02-05 00:00+00');
-- Unknown plans are refused; a DBA can add a plan as data.
SELECT fluxcredits.credits_set_plan('acct', 'Enterprise', '2026-02-06 00:00+00');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO fluxcredits.plans (name, compression_limit, ai_monthly) VALUES ('Enterprise', 100000, 50000);
SELECT fluxcredits.credits_set_plan('acct', 'Enterprise', '2026-02-06 00:00+00') > 0 AS changed;
SELECT plan, compressor_limit, ia_credits_monthly FROM fluxcredits.credits_usage('acct', '2026-02-06 00:00+00');

-- A new anchor restarts the billing periods at "at": the period of the change
-- runs from then to the new anchor's next boundary; new_anchor => at gives a
-- full month from now.
SELECT fluxcredits.credits_consume('acct', 'compression', 7, at => '2026-02-20 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_set_plan('acct', 'Starter', '2026-02-20 12:00+00', new_anchor => '2026-02-20 12:00+00') > 0 AS changed;
SELECT plan, compressor_used, period_start, period_end FROM fluxcredits.credits_usage('acct', '2026-02-20 12:00+00');
SELECT fluxcredits.credits_consume('acct', 'compression', at => '2026-02-21 00:00+00') > 0 AS charged;
SELECT compressor_used, period_start, period_end FROM fluxcredits.credits_usage('acct', '2026-03-20 11:00+00');
SELECT compressor_used, period_start, period_end FROM fluxcredits.credits_usage('acct', '2026-03-20 12:00+00');
-- A new anchor earlier than "at": the period of the change is a short one.
SELECT fluxcredits.credits_set_plan('acct', 'Starter', '2026-04-10 00:00+00', new_anchor => '2026-01-01 00:00+00') > 0 AS changed;
SELECT period_start, period_end FROM fluxcredits.credits_usage('acct', '2026-04-10 00:00+00');
SELECT period_start, period_end FROM fluxcredits.credits_usage('acct', '2026-05-01 00:00+00');
-- Times before the anchor change are refused for new charges.
SELECT fluxcredits.credits_consume('acct', 'compression', at => '2026-04-09 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- The ledger records each change with the new plan.
SELECT at, entry, period_start, reference FROM fluxcredits.ledger
 WHERE account = 'acct' AND entry = 'plan_change' ORDER BY id;
SELECT plan, anchor, anchor_since FROM fluxcredits.accounts WHERE account = 'acct';

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

-- topups: non-expiring AI credits; a payment reference is credited once.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('acct', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('acct', 100, 'pi_001', '2026-01-20 00:00+00') AS first \gset
-- The same payment again (a webhook retried): credited once, same entry.
SELECT fluxcredits.credits_topup('acct', 100, 'pi_001', '2026-01-21 00:00+00') = :first AS same_entry;
SELECT ia_topup_credits FROM fluxcredits.credits_usage('acct', '2026-01-21 00:00+00');
-- The same reference with another amount or for another account: refused.
SELECT fluxcredits.credits_topup('acct', 101, 'pi_001');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('other', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('other', 100, 'pi_001');
\echo :LAST_ERROR_SQLSTATE
-- A second payment adds up.
SELECT fluxcredits.credits_topup('acct', 20, 'pi_002', '2026-01-22 00:00+00') > :first AS credited;
SELECT ia_topup_credits, ia_credits_remaining FROM fluxcredits.credits_usage('acct', '2026-01-22 00:00+00');

-- Top-ups survive the monthly reset: spend the month and some top-up ...
SELECT fluxcredits.credits_consume('acct', 'ai', 230, at => '2026-01-25 00:00+00') > 0 AS charged;
SELECT ia_credits_used, ia_topup_credits, ia_credits_remaining
  FROM fluxcredits.credits_usage('acct', '2026-01-25 00:00+00');
-- ... and in the next periods the top-up balance is still there, the monthly
-- allocation is back, and monthly credits are used before the top-up again.
SELECT period_start, ia_credits_used, ia_topup_credits, ia_credits_remaining
  FROM fluxcredits.credits_usage('acct', '2026-02-05 00:00+00');
SELECT fluxcredits.credits_consume('acct', 'ai', 5, at => '2026-07-05 00:00+00') > 0 AS charged;
SELECT period_start, ia_credits_used, ia_topup_credits, ia_credits_remaining
  FROM fluxcredits.credits_usage('acct', '2026-07-05 00:00+00');
SELECT entry, period_start, monthly, topup, reference FROM fluxcredits.ledger
 WHERE account = 'acct' ORDER BY id;

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

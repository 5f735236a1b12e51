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

-- The caps of the counter slots when AI credits come from the top-up.  A
-- Free account (no monthly AI credits): its first AI charge of a period
-- makes slot 0 with the cap 0, so that no fast-path charge can take a
-- monthly credit; later charges drawn wholly from the top-up leave the caps
-- as they are (the exact path then skips sharing them out again, which
-- would write the same caps).
SELECT fluxcredits.credits_open_account('free-topup', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('free-topup', 10, 'pi_free_1', '2026-01-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('free-topup', 'ai', 2, at => '2026-01-06 00:00+00') > 0 AS charged;
SELECT slot, used, topup_used, cap FROM fluxcredits.counters
 WHERE account = 'free-topup' AND kind = 'ai' ORDER BY period_start, slot;
SELECT fluxcredits.credits_consume('free-topup', 'ai', 3, at => '2026-01-07 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('free-topup', 'ai', at => '2026-01-07 00:00+00') > 0 AS charged;
SELECT slot, used, topup_used, cap FROM fluxcredits.counters
 WHERE account = 'free-topup' AND kind = 'ai' ORDER BY period_start, slot;
-- 4 left: a charge of 5 is refused, one of 4 empties the balance.
SELECT fluxcredits.credits_try_consume('free-topup', 'ai', 5, at => '2026-01-07 00:00+00') AS charged;
SELECT fluxcredits.credits_consume('free-topup', 'ai', 4, at => '2026-01-07 00:00+00') > 0 AS charged;
SELECT ia_credits_used, ia_credits_monthly, ia_topup_credits, ia_credits_remaining, "canUseIA"
  FROM fluxcredits.credits_usage('free-topup', '2026-01-07 00:00+00');
-- On a Starter account (200 a month) past its allocation: the charge that
-- crosses it shares the caps out (all of them end at what their slot
-- used), the next ones, from the top-up only, keep them.
SELECT fluxcredits.credits_open_account('starter-topup', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('starter-topup', 50, 'pi_starter_1', '2026-01-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('starter-topup', 'ai', 190, at => '2026-01-06 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('starter-topup', 'ai', 20, at => '2026-01-06 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('starter-topup', 'ai', 5, at => '2026-01-06 00:00+00') > 0 AS charged;
SELECT slot, used, topup_used, cap FROM fluxcredits.counters
 WHERE account = 'starter-topup' AND kind = 'ai' ORDER BY period_start, slot;
SELECT monthly, topup FROM fluxcredits.ledger
 WHERE account = 'starter-topup' AND entry = 'consume' ORDER BY id;

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

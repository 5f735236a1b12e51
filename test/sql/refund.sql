-- refund: a charge goes back where it came from, at most once.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- A compression charge goes back to the monthly counter of its own period,
-- even when refunded in a later period.
SELECT fluxcredits.credits_open_account('free', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('free', 'compression', 20, at => '2026-01-10 00:00+00') AS big \gset
SELECT "canCompress" FROM fluxcredits.credits_usage('free', '2026-01-10 00:00+00');
SELECT fluxcredits.credits_consume('free', 'compression', 3, at => '2026-02-10 00:00+00') AS feb \gset
SELECT fluxcredits.credits_refund(:big, '2026-02-11 00:00+00') > :big AS refunded;
SELECT period_start, compressor_used, "canCompress" FROM fluxcredits.credits_usage('free', '2026-01-10 00:00+00')
UNION ALL
SELECT period_start, compressor_used, "canCompress" FROM fluxcredits.credits_usage('free', '2026-02-10 00:00+00');
-- At most once.
SELECT fluxcredits.credits_refund(:big, '2026-02-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- The refund is a ledger row of its own, pointing at the charge.
SELECT entry, period_start, monthly, topup, charge = :big AS of_big
  FROM fluxcredits.ledger WHERE account = 'free' ORDER BY id;

-- An AI charge split across monthly and top-up returns each part to its source.
SELECT fluxcredits.credits_open_account('st', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('st', 10, 'pay-st', '2026-01-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('st', 'ai', 195, at => '2026-01-06 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('st', 'ai', 8, at => '2026-01-06 00:00+00') AS split \gset
SELECT ia_credits_used, ia_topup_credits, ia_credits_remaining FROM fluxcredits.credits_usage('st', '2026-01-06 00:00+00');
SELECT fluxcredits.credits_refund(:split, '2026-01-07 00:00+00') > :split AS refunded;
SELECT ia_credits_used, ia_topup_credits, ia_credits_remaining FROM fluxcredits.credits_usage('st', '2026-01-07 00:00+00');
-- A charge drawn from the top-up alone, refunded after the reset, still
-- returns to the top-up balance.
SELECT fluxcredits.credits_consume('st', 'ai', 5, at => '2026-01-08 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('st', 'ai', 10, at => '2026-01-08 00:00+00') AS topup_only \gset
SELECT monthly, topup FROM fluxcredits.ledger WHERE id = :topup_only;
SELECT ia_credits_used, ia_topup_credits FROM fluxcredits.credits_usage('st', '2026-01-08 00:00+00');
SELECT fluxcredits.credits_refund(:topup_only, '2026-03-01 00:00+00') > 0 AS refunded;
SELECT ia_credits_used, ia_topup_credits FROM fluxcredits.credits_usage('st', '2026-01-08 00:00+00');
SELECT ia_credits_used, ia_topup_credits FROM fluxcredits.credits_usage('st', '2026-03-01 00:00+00');

-- A refunded AI image may be charged again in the same period.
SELECT fluxcredits.credits_consume('st', 'ai', image => 'broken.png', at => '2026-01-09 00:00+00') AS img \gset
SELECT fluxcredits.credits_refund(:img, '2026-01-09 00:00+00') > 0 AS refunded;
SELECT fluxcredits.credits_consume('st', 'ai', image => 'broken.png', at => '2026-01-09 00:01+00') <> :img AS charged_again;

-- Only charges can be refunded.
SELECT fluxcredits.credits_refund(-1);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(id) FROM fluxcredits.ledger WHERE reference = 'pay-st';
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(max(id)) FROM fluxcredits.ledger WHERE entry = 'refund';
\echo :LAST_ERROR_SQLSTATE

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

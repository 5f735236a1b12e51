-- consume_ai: AI credits: one credit per image and period whatever features
-- run on it, image-less calls always charge, monthly first then top-up.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('st', 'Starter', '2026-01-05 00:00+00');

-- Alt text, then SEO rename, on the same image: one credit, one charge id.
SELECT fluxcredits.credits_consume('st', 'ai', image => 'photo-1', at => '2026-02-10 00:00+00') AS alt_text \gset
SELECT fluxcredits.credits_consume('st', 'ai', image => 'photo-1', at => '2026-02-11 00:00+00') AS seo_rename \gset
SELECT :alt_text = :seo_rename AS same_charge;
SELECT ia_credits_used FROM fluxcredits.credits_usage('st', '2026-02-11 00:00+00');
SELECT entry, kind, monthly, topup, image FROM fluxcredits.ledger WHERE account = 'st' ORDER BY id;
-- A different image costs its own credit.
SELECT fluxcredits.credits_consume('st', 'ai', image => 'photo-2', at => '2026-02-11 00:00+00') <> :alt_text AS new_charge;
-- Calls with no image reference always charge.
SELECT fluxcredits.credits_consume('st', 'ai', at => '2026-02-11 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('st', 'ai', at => '2026-02-11 00:00+00') > 0 AS charged;
SELECT ia_credits_used FROM fluxcredits.credits_usage('st', '2026-02-11 00:00+00');
-- The same image in the next period is charged again (one credit per period).
SELECT fluxcredits.credits_consume('st', 'ai', image => 'photo-1', at => '2026-03-05 00:00+00') <> :alt_text AS charged_again;
SELECT ia_credits_used, period_start FROM fluxcredits.credits_usage('st', '2026-03-05 00:00+00');
-- The image dedupe is per account.
SELECT fluxcredits.credits_open_account('st-2', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('st-2', 'ai', image => 'photo-1', at => '2026-02-11 00:00+00') <> :alt_text AS charged;

-- Monthly first, then top-up; one call may split across both.
SELECT fluxcredits.credits_open_account('split', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('split', 50, 'pay-split-1', '2026-02-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('split', 'ai', 190, at => '2026-02-06 00:00+00') > 0 AS charged;
SELECT ia_credits_used, ia_credits_monthly, ia_topup_credits, ia_credits_remaining, "canUseIA"
  FROM fluxcredits.credits_usage('split', '2026-02-06 00:00+00');
-- 10 left in the month, 50 in the top-up: 25 takes 10 + 15.
SELECT fluxcredits.credits_consume('split', 'ai', 25, at => '2026-02-06 00:00+00') > 0 AS charged;
SELECT entry, monthly, topup FROM fluxcredits.ledger WHERE account = 'split' ORDER BY id;
SELECT ia_credits_used, ia_topup_credits, ia_credits_remaining
  FROM fluxcredits.credits_usage('split', '2026-02-06 00:00+00');
-- Asking for more than is left (35) charges nothing.
SELECT fluxcredits.credits_consume('split', 'ai', 36, at => '2026-02-06 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('split', 'ai', 36, at => '2026-02-06 00:00+00');
SELECT ia_credits_used, ia_topup_credits FROM fluxcredits.credits_usage('split', '2026-02-06 00:00+00');
-- Exactly what is left fits; then nothing is left.
SELECT fluxcredits.credits_try_consume('split', 'ai', 35, at => '2026-02-06 00:00+00');
SELECT ia_credits_used, ia_topup_credits, ia_credits_remaining, "canUseIA"
  FROM fluxcredits.credits_usage('split', '2026-02-06 00:00+00');
SELECT fluxcredits.credits_try_consume('split', 'ai', at => '2026-02-06 00:00+00');

-- A Free account has no monthly AI credits ...
SELECT fluxcredits.credits_open_account('free', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_try_consume('free', 'ai', at => '2026-02-06 00:00+00');
SELECT ia_credits_monthly, ia_credits_remaining, "canUseIA" FROM fluxcredits.credits_usage('free', '2026-02-06 00:00+00');
-- ... but can spend a top-up.
SELECT fluxcredits.credits_topup('free', 3, 'pay-free-1', '2026-02-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_try_consume('free', 'ai', 2, at => '2026-02-06 00:00+00');
SELECT ia_credits_used, ia_topup_credits, ia_credits_remaining, "canUseIA"
  FROM fluxcredits.credits_usage('free', '2026-02-06 00:00+00');

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

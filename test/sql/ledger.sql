-- ledger: append-only, one row per balance change, and credits_check()
-- finds counters that disagree with it.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('acct', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('acct', 'compression', 2, 'img-1', 'k-1', '2026-01-10 00:00+00') AS c1 \gset
SELECT fluxcredits.credits_topup('acct', 5, 'pay-1', '2026-01-10 00:01+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('acct', 'ai', 3, at => '2026-01-10 00:02+00') > 0 AS charged;
SELECT fluxcredits.credits_refund(:c1, '2026-01-10 00:03+00') > 0 AS refunded;
SELECT fluxcredits.credits_set_plan('acct', 'Pro', '2026-01-10 00:04+00') > 0 AS changed;
-- Every kind of entry, with its time, period, kind, amounts, source columns,
-- image and key.
SELECT at, account, entry, kind, period_start, monthly, topup, image, idempotency_key, reference,
       charge IS NOT NULL AS has_charge
  FROM fluxcredits.ledger ORDER BY id;

-- Rows are never updated or deleted, and the table cannot be truncated.
UPDATE fluxcredits.ledger SET monthly = 0;
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.ledger SET monthly = 0 WHERE false;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM fluxcredits.ledger WHERE entry = 'refund';
\echo :LAST_ERROR_SQLSTATE
TRUNCATE fluxcredits.ledger;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.ledger;

-- Healthy: no disagreement.
SELECT * FROM fluxcredits.credits_check();
-- Someone alters a counter and a balance by hand: the check reports both.
UPDATE fluxcredits.counters SET used = used + 7 WHERE kind = 'ai';
UPDATE fluxcredits.accounts SET topup_balance = 100;
SELECT * FROM fluxcredits.credits_check();
-- A counter row with no ledger behind it is reported too.
INSERT INTO fluxcredits.counters (account, kind, period_start, period_end, used)
VALUES ('acct', 'compression', '2025-01-05 00:00+00', '2025-02-05 00:00+00', 4);
SELECT * FROM fluxcredits.credits_check();
-- Put it right again.
DELETE FROM fluxcredits.counters WHERE period_start = '2025-01-05 00:00+00';
UPDATE fluxcredits.counters SET used = used - 7 WHERE kind = 'ai';
UPDATE fluxcredits.accounts SET topup_balance = 5;
SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

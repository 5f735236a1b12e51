-- idempotency: a retried call with the same key charges nothing more and
-- returns the first call's charge id, across billing periods too.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('acct', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('acct', 'compression', 2, 'img-9', 'req-1', '2026-01-10 00:00+00') AS first \gset
SELECT fluxcredits.credits_consume('acct', 'compression', 2, 'img-9', 'req-1', '2026-01-10 00:00:01+00') = :first AS same_id;
SELECT fluxcredits.credits_try_consume('acct', 'compression', 2, 'img-9', 'req-1', '2026-01-10 00:00:02+00');
SELECT compressor_used FROM fluxcredits.credits_usage('acct', '2026-01-10 00:00+00');
-- Keys survive period changes: a replay next month charges nothing there.
SELECT fluxcredits.credits_consume('acct', 'compression', 2, 'img-9', 'req-1', '2026-02-10 00:00+00') = :first AS same_id;
SELECT compressor_used FROM fluxcredits.credits_usage('acct', '2026-02-10 00:00+00');
-- A replay succeeds even when the credits it would need are gone now.
SELECT fluxcredits.credits_consume('acct', 'compression', 18, at => '2026-01-11 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('acct', 'compression', 2, 'img-9', 'req-1', '2026-01-12 00:00+00') = :first AS same_id;
-- The same key with other arguments is an error (kind, amount or image).
SELECT fluxcredits.credits_consume('acct', 'compression', 3, 'img-9', 'req-1', '2026-01-12 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acct', 'compression', 2, 'img-10', 'req-1', '2026-01-12 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acct', 'ai', 2, NULL, 'req-1', '2026-01-12 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- Keys belong to one account: another account may use the same key.
SELECT fluxcredits.credits_open_account('acct-2', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('acct-2', 'compression', 2, 'img-9', 'req-1', '2026-01-10 00:00+00') <> :first AS own_charge;
-- A refused call leaves no key behind: once credits are back, it charges.
SELECT fluxcredits.credits_try_consume('acct', 'compression', 1, NULL, 'req-2', '2026-01-12 00:00+00');
SELECT count(*) FROM fluxcredits.ledger WHERE idempotency_key = 'req-2';
SELECT fluxcredits.credits_try_consume('acct', 'compression', 1, NULL, 'req-2', '2026-02-12 00:00+00');
SELECT count(*) FROM fluxcredits.ledger WHERE idempotency_key = 'req-2';
-- A rolled-back call leaves no key either.
BEGIN;
SELECT fluxcredits.credits_consume('acct', 'compression', 1, NULL, 'req-3', '2026-02-12 00:00+00') > 0 AS charged;
ROLLBACK;
SELECT count(*) FROM fluxcredits.ledger WHERE idempotency_key = 'req-3';

-- AI on an image already covered, with a key: the key remembers the covering
-- charge, so a replay in a later period still charges nothing.
SELECT fluxcredits.credits_open_account('ai', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('ai', 'ai', 1, 'photo', 'alt-1', '2026-01-10 00:00+00') AS cover \gset
SELECT fluxcredits.credits_consume('ai', 'ai', 1, 'photo', 'seo-1', '2026-01-10 00:00+00') = :cover AS covered;
SELECT fluxcredits.credits_consume('ai', 'ai', 1, 'photo', 'seo-1', '2026-02-10 00:00+00') = :cover AS replayed;
SELECT period_start, ia_credits_used FROM fluxcredits.credits_usage('ai', '2026-01-10 00:00+00')
UNION ALL
SELECT period_start, ia_credits_used FROM fluxcredits.credits_usage('ai', '2026-02-10 00:00+00');
SELECT entry, monthly, topup, image, idempotency_key, charge = :cover AS covered_by_first
  FROM fluxcredits.ledger WHERE account = 'ai' ORDER BY id;

SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

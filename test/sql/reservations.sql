-- reservations: two-phase charges for work done outside the transaction.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('acct', 'Free', '2026-01-05 00:00+00');

-- A hold counts as used for every limit check and read-out.
SELECT fluxcredits.credits_reserve('acct', 'compression', 5, at => '2026-01-10 00:00+00') AS r1 \gset
SELECT compressor_used, compressor_reserved, "canCompress"
  FROM fluxcredits.credits_usage('acct', '2026-01-10 00:00+00');
SELECT fluxcredits.credits_try_consume('acct', 'compression', 16, at => '2026-01-10 00:00+00');
SELECT fluxcredits.credits_try_consume('acct', 'compression', 15, at => '2026-01-10 00:00+00');
-- Nothing is left: a new hold is refused like a charge.
SELECT fluxcredits.credits_reserve('acct', 'compression', 1, at => '2026-01-10 00:00+00');
\echo :LAST_ERROR_SQLSTATE

-- Commit a smaller amount: 3 are charged, 2 go back.
SELECT fluxcredits.credits_commit(:r1, 3, '2026-01-10 00:05+00') = :r1 AS committed;
SELECT compressor_used, compressor_reserved FROM fluxcredits.credits_usage('acct', '2026-01-10 00:05+00');
SELECT state, committed, resolved_at FROM fluxcredits.reservations WHERE id = :r1;
-- Each reservation is resolved once.
SELECT fluxcredits.credits_commit(:r1, at => '2026-01-10 00:06+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_release(:r1, '2026-01-10 00:06+00');
\echo :LAST_ERROR_SQLSTATE
-- A committed reservation is a charge: it can be refunded (what it kept: 3).
SELECT fluxcredits.credits_refund(:r1, '2026-01-10 00:07+00') > 0 AS refunded;
SELECT compressor_used FROM fluxcredits.credits_usage('acct', '2026-01-10 00:07+00');

-- Release gives everything back.
SELECT fluxcredits.credits_reserve('acct', 'compression', 4, at => '2026-01-11 00:00+00') AS r2 \gset
SELECT compressor_used, compressor_reserved FROM fluxcredits.credits_usage('acct', '2026-01-11 00:00+00');
SELECT fluxcredits.credits_release(:r2, '2026-01-11 00:01+00') > :r2 AS released;
SELECT compressor_used, compressor_reserved FROM fluxcredits.credits_usage('acct', '2026-01-11 00:01+00');
-- A released hold cannot be committed or refunded.
SELECT fluxcredits.credits_commit(:r2, at => '2026-01-11 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:r2, '2026-01-11 00:02+00');
\echo :LAST_ERROR_SQLSTATE

-- A held reservation is not refunded: it is released.
SELECT fluxcredits.credits_reserve('acct', 'compression', 2, at => '2026-01-12 00:00+00') AS r3 \gset
SELECT fluxcredits.credits_refund(:r3, '2026-01-12 00:01+00');
\echo :LAST_ERROR_SQLSTATE

-- Expiry: past its ttl a hold reads as released, a late commit is refused,
-- and the next charge that needs the credits releases it for good (r3 above
-- expired the same way: this hold needs its credits).
SELECT fluxcredits.credits_reserve('acct', 'compression', 5, ttl => '10 minutes', at => '2026-01-13 00:00+00') AS r4 \gset
SELECT state FROM fluxcredits.reservations WHERE id = :r3;
SELECT compressor_used, compressor_reserved FROM fluxcredits.credits_usage('acct', '2026-01-13 00:09:59+00');
SELECT compressor_used, compressor_reserved FROM fluxcredits.credits_usage('acct', '2026-01-13 00:10+00');
SELECT fluxcredits.credits_commit(:r4, at => '2026-01-13 00:10+00');
\echo :LAST_ERROR_SQLSTATE
SELECT state FROM fluxcredits.reservations WHERE id = :r4;
SELECT fluxcredits.credits_consume('acct', 'compression', 5, at => '2026-01-13 00:11+00') > 0 AS charged;
SELECT state, resolved_at FROM fluxcredits.reservations WHERE id = :r4;
SELECT compressor_used, compressor_reserved FROM fluxcredits.credits_usage('acct', '2026-01-13 00:11+00');

-- AI holds draw monthly credits first, then the top-up; a partial commit
-- gives the top-up part back first.
SELECT fluxcredits.credits_open_account('st', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('st', 10, 'pay-1', '2026-01-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('st', 'ai', 195, at => '2026-01-06 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_reserve('st', 'ai', 8, at => '2026-01-06 00:00+00') AS r5 \gset
SELECT monthly, topup FROM fluxcredits.reservations WHERE id = :r5;
SELECT ia_credits_used, ia_topup_credits, ia_credits_reserved FROM fluxcredits.credits_usage('st', '2026-01-06 00:00+00');
SELECT fluxcredits.credits_commit(:r5, 6, '2026-01-06 00:01+00') = :r5 AS committed;
SELECT ia_credits_used, ia_topup_credits, ia_credits_reserved FROM fluxcredits.credits_usage('st', '2026-01-06 00:01+00');
-- Idempotency keys work for holds too.
SELECT fluxcredits.credits_reserve('st', 'ai', 1, NULL, 'job-1', at => '2026-01-06 00:02+00') AS r6 \gset
SELECT fluxcredits.credits_reserve('st', 'ai', 1, NULL, 'job-1', at => '2026-01-06 00:03+00') = :r6 AS same_hold;
-- Bad input.
SELECT fluxcredits.credits_reserve('st', 'ai', ttl => '-1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_reserve('st', 'ai', ttl => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_commit(:r6, 2, '2026-01-06 00:04+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_commit(-5);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_release(NULL);
\echo :LAST_ERROR_SQLSTATE

-- The ledger tells the story of each hold.
SELECT l.id = :r5 AS is_r5, l.entry, l.monthly, l.topup
  FROM fluxcredits.ledger l WHERE l.id = :r5 OR l.charge = :r5 ORDER BY l.id;
SELECT * FROM fluxcredits.credits_check();
-- credits_check() covers holds: a reservation whose state disagrees with the
-- ledger is reported.
UPDATE fluxcredits.reservations SET state = 'held' WHERE id = :r1;
SELECT account, kind, item FROM fluxcredits.credits_check();
UPDATE fluxcredits.reservations SET state = 'committed' WHERE id = :r1;
SELECT * FROM fluxcredits.credits_check();
-- A read-out looks for an account's holds only once the account has
-- reserved: credits_reserve marks it (has_reserved) in the hold's
-- transaction.  'acct' reserved above; 'marks' not yet.
SELECT fluxcredits.credits_open_account('marks', 'Free', '2026-01-05 00:00+00');
SELECT account, has_reserved FROM fluxcredits.accounts ORDER BY account;
SELECT fluxcredits.credits_reserve('marks', 'compression', 4, at => '2026-01-10 00:00+00') AS r9 \gset
SELECT account, has_reserved FROM fluxcredits.accounts ORDER BY account;
SELECT compressor_used, compressor_reserved
  FROM fluxcredits.credits_usage('marks', '2026-01-10 00:00+00');
-- The mark is what a read-out goes by: cleared by hand, the live hold is
-- not seen (4 used, none reserved), and credits_check() reports it.
UPDATE fluxcredits.accounts SET has_reserved = false WHERE account = 'marks';
SELECT compressor_used, compressor_reserved
  FROM fluxcredits.credits_usage('marks', '2026-01-10 00:00+00');
SELECT account, kind, item, stored, from_ledger FROM fluxcredits.credits_check();
UPDATE fluxcredits.accounts SET has_reserved = true WHERE account = 'marks';
SELECT compressor_used, compressor_reserved
  FROM fluxcredits.credits_usage('marks', '2026-01-10 00:00+00');
SELECT * FROM fluxcredits.credits_check();

-- credits_commit and credits_release take a held reservation's id and
-- nothing else (FC009), writing nothing: not a charge's (credits_reserve
-- returns one when a charge already covers the AI image), not a refund's,
-- not an id that does not exist.
SELECT fluxcredits.credits_open_account('ids', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('ids', 'ai', image => 'cover.png', at => '2026-01-10 00:00+00') AS charge \gset
SELECT fluxcredits.credits_reserve('ids', 'ai', image => 'cover.png', at => '2026-01-10 00:00+00') = :charge AS covered_by_the_charge;
SELECT fluxcredits.credits_refund(:charge, '2026-01-10 00:01+00') AS refund \gset
SELECT count(*) AS ledger_rows FROM fluxcredits.ledger WHERE account = 'ids';
SELECT fluxcredits.credits_commit(:charge, at => '2026-01-10 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_release(:charge, '2026-01-10 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_commit(:refund, at => '2026-01-10 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_release(:refund, '2026-01-10 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_commit(999999, at => '2026-01-10 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS ledger_rows FROM fluxcredits.ledger WHERE account = 'ids';
SELECT * FROM fluxcredits.credits_check();
DROP EXTENSION fluxcredits;

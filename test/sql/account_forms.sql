-- account_forms: credits_refund, credits_commit and credits_release with
-- the account (1.8): they act on the account's own charges and
-- reservations, and refuse another account's id exactly as an unknown one.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never
\set VERBOSITY default

SELECT fluxcredits.credits_open_account('ann', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_open_account('bob', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('ann', 'compression', 5, at => '2026-01-10 00:00+00') AS ann_charge \gset
SELECT fluxcredits.credits_consume('bob', 'compression', 7, at => '2026-01-10 00:00+00') AS bob_charge \gset

--------------------------------------------------------------------------
-- credits_refund_for(account, charge, at)
--------------------------------------------------------------------------

-- Another account's charge: the same error as a charge that does not exist.
SELECT fluxcredits.credits_refund_for('ann', :bob_charge, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund_for('ann', 999999, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- An account that does not exist has no charge either.
SELECT fluxcredits.credits_refund_for('nobody', :ann_charge, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund_for(NULL, :ann_charge, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund_for('ann', NULL, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- Nothing changed.
SELECT account, compressor_used FROM fluxcredits.usage_history ORDER BY account;
-- Its own charge: refunded, once, and the argument names are the documented ones.
SELECT fluxcredits.credits_refund_for(account => 'ann', charge => :ann_charge,
                                  at => '2026-01-11 00:00+00') > :ann_charge AS refunded;
SELECT fluxcredits.credits_refund_for('ann', :ann_charge, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- The id form still refunds any account's charge, through the account's form.
SELECT fluxcredits.credits_refund(:bob_charge, '2026-01-11 00:00+00') > :bob_charge AS refunded;
SELECT fluxcredits.credits_refund(:bob_charge, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT account, compressor_used FROM fluxcredits.usage_history ORDER BY account;
SELECT l.account, l.entry, l.monthly, l.charge = c.id AS of_charge
  FROM fluxcredits.ledger l
  JOIN fluxcredits.ledger c ON c.id IN (:ann_charge, :bob_charge) AND c.account = l.account AND c.entry = 'consume'
 WHERE l.entry = 'refund'
 ORDER BY l.account;

--------------------------------------------------------------------------
-- credits_commit_for(account, reservation, amount, at)
--------------------------------------------------------------------------

SELECT fluxcredits.credits_reserve('ann', 'compression', 4, at => '2026-01-12 00:00+00') AS ann_hold \gset
SELECT fluxcredits.credits_reserve('bob', 'compression', 6, at => '2026-01-12 00:00+00') AS bob_hold \gset
SELECT fluxcredits.credits_consume('ann', 'compression', 1, at => '2026-01-12 00:00+00') AS ann_plain \gset
-- Another account's reservation, and an unknown one: the same error.
SELECT fluxcredits.credits_commit_for('ann', :bob_hold, 2, '2026-01-12 00:01+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_commit_for('ann', 999999, 2, '2026-01-12 00:01+00');
\echo :LAST_ERROR_SQLSTATE
-- The account's own charge is not a reservation (as with the id form).
SELECT fluxcredits.credits_commit_for('ann', :ann_plain, 1, '2026-01-12 00:01+00');
\echo :LAST_ERROR_SQLSTATE
-- Its own reservation: committed in part, the rest released.
SELECT fluxcredits.credits_commit_for(account => 'ann', reservation => :ann_hold, amount => 3,
                                  at => '2026-01-12 00:01+00') = :ann_hold AS committed;
SELECT fluxcredits.credits_commit_for('ann', :ann_hold, 3, '2026-01-12 00:01+00');
\echo :LAST_ERROR_SQLSTATE
SELECT id = :ann_hold AS ann_hold, state, committed FROM fluxcredits.reservations WHERE account = 'ann';

--------------------------------------------------------------------------
-- credits_release_for(account, reservation, at)
--------------------------------------------------------------------------

SELECT fluxcredits.credits_release_for('ann', :bob_hold, '2026-01-12 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_release_for('ann', 999999, '2026-01-12 00:02+00');
\echo :LAST_ERROR_SQLSTATE
SELECT state FROM fluxcredits.reservations WHERE id = :bob_hold;
SELECT fluxcredits.credits_release_for(account => 'bob', reservation => :bob_hold,
                                   at => '2026-01-12 00:02+00') > :bob_hold AS released;
SELECT fluxcredits.credits_release_for('bob', :bob_hold, '2026-01-12 00:02+00');
\echo :LAST_ERROR_SQLSTATE
-- The id forms go through the account forms: the same results.
SELECT fluxcredits.credits_reserve('bob', 'compression', 2, at => '2026-01-12 00:03+00') AS bob_hold2 \gset
SELECT fluxcredits.credits_commit(:bob_hold2, NULL, '2026-01-12 00:04+00') = :bob_hold2 AS committed;
SELECT fluxcredits.credits_release(:bob_hold2, '2026-01-12 00:04+00');
\echo :LAST_ERROR_SQLSTATE
SELECT account, state, committed FROM fluxcredits.reservations ORDER BY id;
SELECT account, compressor_used FROM fluxcredits.usage_history ORDER BY account;
SELECT * FROM fluxcredits.credits_check();

-- A committed reservation is refunded under its account too.
SELECT fluxcredits.credits_refund_for('bob', :ann_hold, '2026-01-13 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund_for('ann', :ann_hold, '2026-01-13 00:00+00') > :ann_hold AS refunded;
SELECT account, compressor_used FROM fluxcredits.usage_history ORDER BY account;
SELECT * FROM fluxcredits.credits_check();

-- The account forms have names of their own: a client that sends its
-- parameters untyped (as node-postgres does) still reaches the id forms,
-- with the types they had before 1.8.
PREPARE refund_untyped AS SELECT fluxcredits.credits_refund($1, $2);
PREPARE commit_untyped AS SELECT fluxcredits.credits_commit($1, $2, $3);
PREPARE release_untyped AS SELECT fluxcredits.credits_release($1, $2);
SELECT name, parameter_types FROM pg_prepared_statements ORDER BY name;
DEALLOCATE ALL;

DROP EXTENSION fluxcredits;

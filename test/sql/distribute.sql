-- distribute: without Citus, fluxcredits.distribute() refuses and changes
-- nothing; the payment reference is unique across the database; and the
-- writers work with the keys distribute() gives the tables on Citus.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never
\set VERBOSITY default

SELECT fluxcredits.distribute();
\echo :LAST_ERROR_SQLSTATE
-- Not for PUBLIC.
CREATE ROLE regress_fc_distribute;
SET ROLE regress_fc_distribute;
SELECT fluxcredits.distribute();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_fc_distribute;
SELECT fluxcredits._on_citus();

--------------------------------------------------------------------------
-- Payment references on a single node: unique across the database
--------------------------------------------------------------------------

SELECT fluxcredits.credits_open_account('ann', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_open_account('bob', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('ann', 10, 'pay-1', '2026-01-06 00:00+00') AS pay1 \gset
-- the same payment again: credited once, the same ledger id
SELECT fluxcredits.credits_topup('ann', 10, 'pay-1', '2026-01-06 00:00+00') = :pay1 AS replayed;
-- with another amount, or for another account: refused
SELECT fluxcredits.credits_topup('ann', 11, 'pay-1', '2026-01-06 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('bob', 10, 'pay-1', '2026-01-06 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT account, topup_balance FROM fluxcredits.accounts ORDER BY account;

--------------------------------------------------------------------------
-- The keys distribute() makes (each includes the account), by hand
--------------------------------------------------------------------------

ALTER TABLE fluxcredits.ledger DROP CONSTRAINT ledger_pkey,
    ADD CONSTRAINT ledger_pkey PRIMARY KEY (account, id);
CREATE INDEX ledger_id ON fluxcredits.ledger (id);
DROP INDEX fluxcredits.ledger_refund_once;
CREATE UNIQUE INDEX ledger_refund_once ON fluxcredits.ledger (account, charge) WHERE entry = 'refund';
DROP INDEX fluxcredits.ledger_payment_reference;
CREATE UNIQUE INDEX ledger_payment_reference ON fluxcredits.ledger (account, reference) WHERE entry = 'topup';
ALTER TABLE fluxcredits.reservations DROP CONSTRAINT reservations_pkey,
    ADD CONSTRAINT reservations_pkey PRIMARY KEY (account, id);
CREATE INDEX reservations_id ON fluxcredits.reservations (id);

-- A payment reference is now unique per account.
SELECT fluxcredits.credits_topup('ann', 10, 'pay-1', '2026-01-06 00:00+00') = :pay1 AS replayed;
SELECT fluxcredits.credits_topup('ann', 11, 'pay-1', '2026-01-06 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('bob', 10, 'pay-1', '2026-01-06 00:00+00') AS bob_pay1 \gset
SELECT :bob_pay1 <> :pay1 AS credited;
SELECT fluxcredits.credits_topup('bob', 10, 'pay-1', '2026-01-06 00:00+00') = :bob_pay1 AS replayed;
SELECT account, topup_balance FROM fluxcredits.accounts ORDER BY account;

-- Charges, refunds, reservations under these keys.
SELECT fluxcredits.credits_consume('ann', 'ai', 205, at => '2026-01-10 00:00+00') AS split \gset
SELECT fluxcredits.credits_refund_for('bob', :split, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:split, '2026-01-11 00:00+00') > :split AS refunded;
SELECT fluxcredits.credits_refund_for('ann', :split, '2026-01-11 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_reserve('bob', 'compression', 5, at => '2026-01-12 00:00+00') AS hold \gset
SELECT fluxcredits.credits_reserve('bob', 'compression', 5, idempotency_key => 'k1',
                                   at => '2026-01-12 00:00+00') AS keyed \gset
SELECT fluxcredits.credits_reserve('bob', 'compression', 5, idempotency_key => 'k1',
                                   at => '2026-01-12 00:00+00') = :keyed AS replayed;
SELECT fluxcredits.credits_commit_for('bob', :hold, 2, '2026-01-12 00:01+00') = :hold AS committed;
SELECT fluxcredits.credits_release(:keyed, '2026-01-12 00:01+00') > :keyed AS released;
SELECT fluxcredits.credits_reserve('bob', 'compression', 1, ttl => '1 minute',
                                   at => '2026-01-12 00:02+00') AS expiring \gset
SELECT fluxcredits.credits_consume('bob', 'compression', at => '2026-01-12 00:10+00') > 0 AS charged;
SELECT state, count(*) FROM fluxcredits.reservations GROUP BY state ORDER BY state;
SELECT account, ia_credits_used, ia_topup_used, compressor_used FROM fluxcredits.usage_history ORDER BY account;
SELECT * FROM fluxcredits.credits_check();

DROP EXTENSION fluxcredits;

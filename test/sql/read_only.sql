-- read_only: in a READ ONLY transaction (as on a hot standby, where
-- t/008_standby.pl runs the same calls) every function that writes refuses
-- with 25006 before it takes a lock or a transaction id; every read works.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT fluxcredits.credits_open_account('st', 'Starter', '2026-01-15 00:00+00');
SELECT fluxcredits.credits_topup('st', 10, 'pay-1', '2026-01-20 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('st', 'ai', 1, 'img-1', at => '2026-01-20 00:00+00') AS c1 \gset
SELECT fluxcredits.credits_reserve('st', 'compression', 5, at => '2026-01-20 00:00+00') AS r1 \gset
CREATE TABLE images (id serial PRIMARY KEY, account text NOT NULL);
SELECT fluxcredits.attach('images', 'compression', 'account');
CREATE TEMP TABLE before_ledger AS SELECT * FROM fluxcredits.ledger;

-- Each writer in its own savepoint; the transaction has no id at the end:
-- none of them took one (a row lock would have needed one).
BEGIN READ ONLY;
SAVEPOINT s;
SELECT fluxcredits.credits_open_account('new', 'Free', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_consume('st', 'compression', at => '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_try_consume('st', 'compression', at => '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_topup('st', 10, 'pay-2', '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_refund(:c1, '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_set_plan('st', 'Pro', '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_reserve('st', 'compression', at => '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_commit(:r1, at => '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT fluxcredits.credits_release(:r1, '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
-- (an INSERT into a table with the charge trigger is refused by PostgreSQL
-- itself, before the trigger)
INSERT INTO images (account) VALUES ('st');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT s;
SELECT txid_current_if_assigned() IS NULL AS no_transaction_id;
-- Every read works.
SELECT plan, compressor_used, compressor_reserved, ia_credits_used, ia_topup_credits
  FROM fluxcredits.credits_usage('st', '2026-01-20 00:00+00');
SELECT fluxcredits.credits_usage_json('st', '2026-01-20 00:00+00') ->> 'ia_credits_used' AS ia_used;
SELECT account, plan FROM fluxcredits.usage;
SELECT count(*) > 0 AS has_rows FROM fluxcredits.usage_history;
SELECT count(*) FROM fluxcredits.near_limit;
SELECT plan, accounts FROM fluxcredits.plan_summary ORDER BY plan;
SELECT count(*) FROM fluxcredits.alerts;
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '2026-02-20 00:00+00');
SELECT * FROM fluxcredits.credits_check();
SELECT txid_current_if_assigned() IS NULL AS no_transaction_id;
COMMIT;

-- The message, once whole.
BEGIN READ ONLY;
SELECT fluxcredits.credits_consume('st', 'compression', at => '2026-01-20 00:00+00');
ROLLBACK;
-- default_transaction_read_only (a pooler's read-only pool) is the same.
SET default_transaction_read_only = on;
SELECT fluxcredits.credits_set_plan('st', 'Pro', '2026-01-20 00:00+00');
\echo :LAST_ERROR_SQLSTATE
RESET default_transaction_read_only;

-- Nothing was written.
SELECT count(*) AS changed_rows
  FROM ((SELECT * FROM fluxcredits.ledger EXCEPT SELECT * FROM before_ledger)
        UNION ALL (SELECT * FROM before_ledger EXCEPT SELECT * FROM fluxcredits.ledger)) d;

SELECT fluxcredits.detach('images', 'compression');
DROP TABLE images, before_ledger;
DROP EXTENSION fluxcredits;

-- alerts: a charge that takes monthly usage to a threshold of the account's
-- plan (fluxcredits.plans.alert_thresholds, 80 and 100 percent by default)
-- records the alert with the charge, once per account, kind and period, in
-- fluxcredits.alerts_sent (read through the view fluxcredits.alerts), and
-- NOTIFY fluxcredits_alert goes out when its transaction commits.  A
-- rolled-back charge, or savepoint, leaves neither; a prepared transaction
-- prepares, and its alerts are in the view once it is committed.  No session
-- setting changes which alerts fire.
--
-- The notifications are received by a second connection (dblink) that
-- LISTENs; received() shows what it got, without the sender's PID (psql
-- would print it).  A round trip through it first: a listener sends the
-- notifications it was signalled before it answers a query.
CREATE EXTENSION fluxcredits;
CREATE EXTENSION dblink;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

SELECT dblink_connect('listener',
                      format('host=%s port=%s dbname=%s',
                             split_part(current_setting('unix_socket_directories'), ',', 1),
                             current_setting('port'), current_database()));
SELECT dblink_exec('listener', 'LISTEN fluxcredits_alert');
CREATE FUNCTION received() RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM * FROM dblink('listener', 'SELECT 1') AS t(one integer);
    RETURN QUERY SELECT n.notify_name || ': ' || n.extra FROM dblink_get_notify('listener') n;
END
$$;

SELECT fluxcredits.credits_open_account('free', 'Free', '2026-01-05 00:00+00');
-- 15 of 20 (75%): no alert.
SELECT fluxcredits.credits_consume('free', 'compression', 15, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT * FROM received();
-- 16 of 20 (80%): the 80% alert, notified at commit.
SELECT fluxcredits.credits_consume('free', 'compression', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT * FROM received();
-- 17: no new alert; 80% fired already this period.
SELECT fluxcredits.credits_consume('free', 'compression', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT * FROM received();
-- A rolled-back charge to 100% sends nothing and leaves the threshold unused.
BEGIN;
SELECT fluxcredits.credits_consume('free', 'compression', 3, at => '2026-01-10 00:00+00') > 0 AS charged;
ROLLBACK;
SELECT * FROM received();
SELECT threshold FROM fluxcredits.alerts ORDER BY threshold;
-- The committed one does, at its commit and not before.
BEGIN;
SELECT fluxcredits.credits_consume('free', 'compression', 3, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT * FROM received();
COMMIT;
SELECT * FROM received();
-- The view: the alert with the figures of the charge that raised it.
SELECT account, kind, threshold, used, "limit", period_start, period_end,
       raised_at <= now() AS raised
  FROM fluxcredits.alerts ORDER BY threshold;
-- Both thresholds at once: a new period, one charge from 0 to 100%; the
-- notifications in the order of the thresholds.
SELECT fluxcredits.credits_consume('free', 'compression', 20, at => '2026-02-10 00:00+00') > 0 AS charged;
SELECT * FROM received();
SELECT period_start, threshold, used FROM fluxcredits.alerts ORDER BY period_start, threshold;

-- AI: thresholds of the monthly allocation (top-up spending adds none).
SELECT fluxcredits.credits_open_account('st', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('st', 50, 'pay-1', '2026-01-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('st', 'ai', 170, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('st', 'ai', 40, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('st', 'ai', 5, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT kind, threshold, used, "limit" FROM fluxcredits.alerts WHERE account = 'st' ORDER BY threshold;
SELECT * FROM received();

-- Unlimited plans send none for compression.
SELECT fluxcredits.credits_open_account('pro', 'Pro', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('pro', 'compression', 1000000, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT count(*) FROM fluxcredits.alerts WHERE account = 'pro';

--------------------------------------------------------------------------
-- Subtransactions: an alert recorded in one that rolls back is gone
--------------------------------------------------------------------------

SELECT fluxcredits.credits_open_account('sp', 'Free', '2026-01-05 00:00+00');
BEGIN;
SAVEPOINT a;
SELECT fluxcredits.credits_consume('sp', 'compression', 16, at => '2026-01-10 00:00+00') > 0 AS charged;
ROLLBACK TO SAVEPOINT a;
-- a subtransaction that commits keeps its alert: 10 of 20 is no alert yet,
-- then a nested one reaches 80% and is released, its parent too
SAVEPOINT b;
SELECT fluxcredits.credits_consume('sp', 'compression', 10, at => '2026-01-10 00:00+00') > 0 AS charged;
SAVEPOINT c;
SELECT fluxcredits.credits_consume('sp', 'compression', 6, at => '2026-01-10 00:00+00') > 0 AS charged;
RELEASE SAVEPOINT c;
RELEASE SAVEPOINT b;
-- and one that a PL/pgSQL handler rolls back after it reached 100% goes
DO $$
BEGIN
    PERFORM fluxcredits.credits_consume('sp', 'compression', 4, at => '2026-01-10 00:00+00');
    RAISE EXCEPTION 'the job failed';
EXCEPTION WHEN raise_exception THEN
    NULL;
END
$$;
COMMIT;
SELECT * FROM received();
SELECT threshold, used FROM fluxcredits.alerts WHERE account = 'sp' ORDER BY threshold;
-- An alert rolled back with its savepoint is recorded again by a later
-- charge of the same transaction, and notified once.
BEGIN;
SAVEPOINT a;
SELECT fluxcredits.credits_consume('sp', 'compression', 4, at => '2026-01-10 00:00+00') > 0 AS charged;
ROLLBACK TO SAVEPOINT a;
SELECT fluxcredits.credits_consume('sp', 'compression', 4, at => '2026-01-10 00:00+00') > 0 AS charged;
COMMIT;
SELECT * FROM received();

--------------------------------------------------------------------------
-- The thresholds are the plan's
--------------------------------------------------------------------------

-- The seeded plans have the default.
SELECT name, alert_thresholds FROM fluxcredits.plans ORDER BY ai_monthly, name;
-- A DBA adds a plan with its own thresholds (in any order, repeated: a
-- set), and one that raises no alert.
INSERT INTO fluxcredits.plans (name, compression_limit, ai_monthly, alert_thresholds)
VALUES ('Half', 10, 0, '{100,50,50}'), ('Quiet', 10, 0, '{}');
SELECT fluxcredits.credits_open_account('half', 'Half', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_open_account('quiet', 'Quiet', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('half', 'compression', 4, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('half', 'compression', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('half', 'compression', 5, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('quiet', 'compression', 10, at => '2026-01-10 00:00+00') > 0 AS charged;
-- lowest first (ctid: the order of the inserts), as in every session
SELECT account, threshold, used FROM fluxcredits.alerts_sent
 WHERE account IN ('half', 'quiet') ORDER BY ctid;
SELECT * FROM received();
-- A DBA changes a plan's thresholds: the next charge of its accounts, in
-- this very session (the plan is read again once changed), follows them;
-- a threshold added below the usage fires at once, once.
SELECT fluxcredits.credits_open_account('free-2', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('free-2', 'compression', 12, at => '2026-01-10 00:00+00') > 0 AS charged;
UPDATE fluxcredits.plans SET alert_thresholds = '{25,50,75}' WHERE name = 'Free';
SELECT fluxcredits.credits_consume('free-2', 'compression', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('free-2', 'compression', 3, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT threshold, used FROM fluxcredits.alerts WHERE account = 'free-2' ORDER BY threshold;
SELECT * FROM received();
UPDATE fluxcredits.plans SET alert_thresholds = DEFAULT WHERE name = 'Free';
-- Changing thresholds re-shares no counter caps (only limits do).
SELECT * FROM fluxcredits.credits_check();
-- Thresholds are percentages from 1 to 100, a list, never NULL.
UPDATE fluxcredits.plans SET alert_thresholds = '{0,80}' WHERE name = 'Half';
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.plans SET alert_thresholds = '{80,101}' WHERE name = 'Half';
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.plans SET alert_thresholds = '{80,NULL}' WHERE name = 'Half';
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.plans SET alert_thresholds = '{{80},{100}}' WHERE name = 'Half';
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.plans SET alert_thresholds = NULL WHERE name = 'Half';
\echo :LAST_ERROR_SQLSTATE

-- No setting changes which alerts fire: a client behind a pooler that
-- sets fluxcredits.alert_thresholds (which chose them up to 1.6) changes
-- nothing for the next client of the same session, nor for itself.
SET fluxcredits.alert_thresholds = '5,10';
SELECT fluxcredits.credits_open_account('free-3', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('free-3', 'compression', 3, at => '2026-01-10 00:00+00') > 0 AS charged;
SET fluxcredits.alert_thresholds = '';
SELECT fluxcredits.credits_consume('free-3', 'compression', 13, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT threshold, used FROM fluxcredits.alerts WHERE account = 'free-3' ORDER BY threshold;
SELECT * FROM received();
-- The setting is still defined, so that a configuration or a client that
-- sets it keeps working, and its values are checked as before.
SHOW fluxcredits.alert_thresholds;
SET fluxcredits.alert_thresholds = '80,101';
SET fluxcredits.alert_thresholds = 'eighty';
RESET fluxcredits.alert_thresholds;
SHOW fluxcredits.alert_thresholds;

--------------------------------------------------------------------------
-- Two-phase commit
--------------------------------------------------------------------------

-- PREPARE TRANSACTION works for a transaction whose charges cross
-- thresholds, with every function and the trigger.  The prepared
-- transaction's alerts are in the view once COMMIT PREPARED has run; no
-- notification is sent for them (COMMIT PREPARED runs no code of the
-- extension): a listener reads them from the view.
SELECT fluxcredits.credits_open_account('tp', 'Starter', '2026-01-05 00:00+00');
CREATE TABLE images (id serial PRIMARY KEY, account text NOT NULL);
SELECT fluxcredits.attach('images', 'compression', 'account');
BEGIN;
-- 170 of 200 AI (85%): 80
SELECT fluxcredits.credits_consume('tp', 'ai', 170, at => '2026-01-10 00:00+00') > 0 AS charged;
-- 30 more (100%), reserved: 100
SELECT fluxcredits.credits_reserve('tp', 'ai', 30, at => '2026-01-10 00:00+00') > 0 AS held;
-- compression, in the current period (the trigger charges at now()): 159
-- (79.5%), then the trigger's row to 160: 80
SELECT fluxcredits.credits_try_consume('tp', 'compression', 159) AS charged;
INSERT INTO images (account) VALUES ('tp');
PREPARE TRANSACTION 'fc_alerts_1';
SELECT count(*) FROM fluxcredits.alerts WHERE account = 'tp';
COMMIT PREPARED 'fc_alerts_1';
SELECT kind, threshold, used, "limit" FROM fluxcredits.alerts WHERE account = 'tp' ORDER BY kind, threshold;
SELECT * FROM received();
-- The other functions prepare too; ROLLBACK PREPARED leaves no alert.
BEGIN;
SELECT fluxcredits.credits_consume('free-3', 'compression', 4, at => '2026-01-10 00:00+00') > 0 AS charged;
PREPARE TRANSACTION 'fc_alerts_2';
ROLLBACK PREPARED 'fc_alerts_2';
SELECT threshold FROM fluxcredits.alerts WHERE account = 'free-3' ORDER BY threshold;
BEGIN;
SELECT fluxcredits.credits_open_account('tp-2', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_topup('tp-2', 10, 'pay-tp-2', '2026-01-06 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('tp-2', 'ai', 205, at => '2026-01-10 00:00+00') AS c \gset
SELECT fluxcredits.credits_reserve('tp-2', 'compression', 200, at => '2026-01-10 00:00+00') AS r \gset
PREPARE TRANSACTION 'fc_alerts_3';
COMMIT PREPARED 'fc_alerts_3';
BEGIN;
SELECT fluxcredits.credits_refund(:c, '2026-01-10 00:05+00') > 0 AS refunded;
SELECT fluxcredits.credits_commit(:r, 190, '2026-01-10 00:05+00') = :r AS committed;
SELECT fluxcredits.credits_set_plan('tp-2', 'Pro', '2026-01-10 00:10+00') > 0 AS changed;
SELECT fluxcredits.credits_reserve('tp-2', 'ai', 1000, at => '2026-01-10 00:20+00') AS r \gset
SELECT fluxcredits.credits_release(:r, '2026-01-10 00:25+00') > 0 AS released;
PREPARE TRANSACTION 'fc_alerts_4';
COMMIT PREPARED 'fc_alerts_4';
SELECT kind, threshold, used, "limit" FROM fluxcredits.alerts WHERE account = 'tp-2' ORDER BY kind, threshold;
SELECT * FROM received();
SELECT count(*) AS prepared FROM pg_prepared_xacts;
SELECT fluxcredits.detach('images', 'compression');
DROP TABLE images;

SELECT * FROM fluxcredits.credits_check();
SELECT dblink_disconnect('listener');
DROP FUNCTION received();
DROP EXTENSION dblink;

--------------------------------------------------------------------------
-- The update from 1.6
--------------------------------------------------------------------------

-- Under a 1.6 script the library records 1.6's rows with the thresholds
-- 80 and 100, whatever the session sets.  The update keeps them, gives
-- them their period's end (used and limit were not recorded), adds the
-- plans' thresholds, and gives the alerts to the roles that had
-- grant_app() or grant_reader().
DROP EXTENSION fluxcredits;
CREATE EXTENSION fluxcredits VERSION '1.6';
CREATE ROLE regress_fc_alerts_app;
SELECT fluxcredits.grant_app('regress_fc_alerts_app');
SET fluxcredits.alert_thresholds = '5';
SELECT fluxcredits.credits_open_account('old', 'Free', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('old', 'compression', 16, at => '2026-01-10 00:00+00') > 0 AS charged;
RESET fluxcredits.alert_thresholds;
SELECT account, threshold FROM fluxcredits.alerts_sent;
ALTER EXTENSION fluxcredits UPDATE TO '1.7';
SELECT account, threshold, used, "limit", period_start, period_end FROM fluxcredits.alerts;
SELECT name, alert_thresholds FROM fluxcredits.plans ORDER BY ai_monthly, name;
-- In this same session, the library now reads the plan's thresholds.
UPDATE fluxcredits.plans SET alert_thresholds = '{85,90}' WHERE name = 'Free';
SELECT fluxcredits.credits_consume('old', 'compression', 2, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT account, threshold, used, "limit", period_end FROM fluxcredits.alerts ORDER BY threshold;
SET ROLE regress_fc_alerts_app;
SELECT count(*) FROM fluxcredits.alerts;
RESET ROLE;
SELECT * FROM fluxcredits.credits_check();
DROP OWNED BY regress_fc_alerts_app;
DROP ROLE regress_fc_alerts_app;

-- A load of the library that an error interrupts must not break the
-- session.  In a new session, a bad value SET for a setting before the
-- library is loaded makes the load raise a WARNING, which checks for a
-- pending cancel: with a 1 ms statement timeout (and a long value, slow to
-- check) the load fails halfway, after one setting is defined.  PostgreSQL
-- then loads the library again on its next use, and the settings must not
-- be defined twice ("attempt to redefine parameter" on every call after,
-- before the fix).  The bad value is not kept.
\c
SELECT set_config('fluxcredits.alert_thresholds', string_agg('80', ','), false) IS NOT NULL AS set
  FROM generate_series(1, 300000);
SET client_min_messages = error;
SET statement_timeout = '1ms';
LOAD 'fluxcredits';
RESET statement_timeout;
RESET client_min_messages;
LOAD 'fluxcredits';
SHOW fluxcredits.counter_slots;
SHOW fluxcredits.alert_thresholds;
SELECT fluxcredits.billing_period('2024-01-31 00:00+00', '2024-02-15 00:00+00', 'UTC')
       = '[2024-01-31 00:00+00,2024-02-29 00:00+00)'::tstzrange AS ok;
DROP EXTENSION fluxcredits;

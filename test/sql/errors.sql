--
-- errors: every bad input of every function, one statement each.  Each call
-- that must fail is followed by its SQLSTATE; at the end, a comparison with a
-- snapshot taken before the first case shows that none of them changed
-- anything.  Calls whose outcome may be a result (time zones that AT TIME
-- ZONE accepts, times at the ends of the timestamp range) run in a
-- transaction that is rolled back, so that the snapshot stays comparable.
--
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY default
\set SHOW_CONTEXT never

--------------------------------------------------------------------------
-- Set-up: three accounts, one of each kind of ledger entry, all in the
-- billing period [2026-01-15, 2026-02-15) of acme.
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('acme', 'Starter', '2026-01-15 00:00+00');
SELECT fluxcredits.credits_open_account('zenith', 'Pro', '2026-01-15 00:00+00');
SELECT fluxcredits.credits_open_account('moved', 'Starter', '2026-01-15 00:00+00');
SELECT fluxcredits.credits_consume('acme', 'compression', 1, NULL, 'key-c', '2026-02-01 12:00+00') AS charge_c \gset
SELECT fluxcredits.credits_consume('acme', 'ai', 1, 'img-1', 'key-ai', '2026-02-01 12:01+00') AS charge_ai \gset
-- the same image again: covered by charge_ai; the key makes it a ledger row
SELECT fluxcredits.credits_consume('acme', 'ai', 1, 'img-1', 'key-ai-again', '2026-02-01 12:02+00') = :charge_ai AS covered_by_first;
SELECT id AS covered_entry FROM fluxcredits.ledger WHERE idempotency_key = 'key-ai-again' \gset
SELECT fluxcredits.credits_topup('acme', 100, 'pay-1', '2026-02-01 12:03+00') AS topup_entry \gset
SELECT fluxcredits.credits_consume('acme', 'compression', 1, NULL, NULL, '2026-02-01 12:04+00') AS charge_refunded \gset
SELECT fluxcredits.credits_refund(:charge_refunded, '2026-02-01 12:05+00') AS refund_entry \gset
-- moved gets a new anchor on 2026-03-01: earlier times are no longer its own
SELECT fluxcredits.credits_set_plan('moved', 'Starter', '2026-03-01 00:00+00', '2026-03-01 00:00+00') AS plan_entry \gset
SELECT id, at, account, entry, kind, period_start, monthly, topup, image,
       idempotency_key, reference, charge
  FROM fluxcredits.ledger ORDER BY id;
SELECT * FROM fluxcredits.credits_usage('acme', '2026-02-01 12:30+00');

-- The snapshot: every row of every table, and a summary.
CREATE TEMP TABLE before_plans AS SELECT * FROM fluxcredits.plans;
CREATE TEMP TABLE before_accounts AS SELECT * FROM fluxcredits.accounts;
CREATE TEMP TABLE before_counters AS SELECT * FROM fluxcredits.counters;
CREATE TEMP TABLE before_ledger AS SELECT * FROM fluxcredits.ledger;
CREATE TEMP VIEW state AS
SELECT (SELECT count(*) FROM fluxcredits.ledger) AS ledger_rows,
       (SELECT count(*) FROM fluxcredits.counters) AS counter_rows,
       (SELECT sum(used) FROM fluxcredits.counters) AS used,
       (SELECT sum(topup_used) FROM fluxcredits.counters) AS topup_used,
       (SELECT count(*) FROM fluxcredits.accounts) AS accounts,
       (SELECT sum(topup_balance) FROM fluxcredits.accounts) AS topup_balances,
       (SELECT count(*) FROM fluxcredits.plans) AS plans;
CREATE TEMP TABLE before_state AS SELECT * FROM state;
SELECT * FROM before_state;

--------------------------------------------------------------------------
-- credits_open_account(account, plan, anchor, tz)
--------------------------------------------------------------------------
-- NULL in each argument
SELECT fluxcredits.credits_open_account(NULL, 'Starter', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', NULL, '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', NULL);
\echo :LAST_ERROR_SQLSTATE
-- empty and 10 kB account
SELECT fluxcredits.credits_open_account('', 'Starter', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account(repeat('x', 10000), 'Starter', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- empty, 10 kB and unknown plan (names are case-sensitive)
SELECT fluxcredits.credits_open_account('newco', '', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', repeat('x', 10000), '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Platinum', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'starter', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- account opened twice, with the same or another plan
SELECT fluxcredits.credits_open_account('acme', 'Starter', '2026-01-15 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('acme', 'Pro', '2026-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- anchor infinite or in the far future
SELECT fluxcredits.credits_open_account('newco', 'Starter', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', '-infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2100-01-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- anchor at the lowest timestamp, in a zone west of UTC: its local time
-- lies before the range of timestamp
SELECT fluxcredits.credits_open_account('newco', 'Starter', '4714-11-24 00:00+00 BC', 'America/New_York');
\echo :LAST_ERROR_SQLSTATE
-- time zones: an account's zone is a name that pg_timezone_names lists,
-- and not a leap-second zone (right/...), whatever AT TIME ZONE accepts
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', '');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', 'Mars/Olympus');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', repeat('x', 10000));
\echo :LAST_ERROR_SQLSTATE
-- 'UTC+25' is a POSIX specification (25 hours west of UTC), 'GMT0/x' one
-- too (a slash does not make a name), 'right/Europe/Paris' the leap-second
-- zone (its local times are 27 s off): AT TIME ZONE accepts all three
-- (billing_period too), pg_timezone_names lists none of them.
SELECT '2026-01-15 00:00+00'::timestamptz AT TIME ZONE 'UTC+25' AS utc_plus_25,
       '2026-01-15 00:00+00'::timestamptz AT TIME ZONE 'GMT0/x' AS gmt0_x,
       '2026-01-15 00:00+00'::timestamptz AT TIME ZONE 'right/Europe/Paris' AS right_paris;
SELECT count(*) FROM pg_timezone_names
 WHERE name IN ('UTC+25', 'GMT0/x', 'right/Europe/Paris', 'europe/paris');
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', 'UTC+25');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', 'GMT0/x');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', 'right/Europe/Paris');
\echo :LAST_ERROR_SQLSTATE
-- names are case-sensitive in pg_timezone_names
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', 'europe/paris');
\echo :LAST_ERROR_SQLSTATE
-- Listed names are accepted, with or without a slash.  'EST' is a zone of
-- the database (-05:00 all year) and an abbreviation that
-- timezone_abbreviations may define otherwise (Australia: +10:00): the
-- account's periods read the zone, whatever the session's abbreviations.
SELECT name, utc_offset FROM pg_timezone_names
 WHERE name IN ('EST', 'posix/Europe/Paris') ORDER BY name;
BEGIN;
SET LOCAL timezone_abbreviations = 'Australia';
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00-05', 'EST');
SELECT period_start, period_end FROM fluxcredits.credits_usage('newco', '2026-02-01 12:00+00');
ROLLBACK;
BEGIN;
SELECT fluxcredits.credits_open_account('newco', 'Starter', '2026-01-15 00:00+00', 'posix/Europe/Paris');
SELECT period_start, period_end FROM fluxcredits.credits_usage('newco', '2026-02-01 12:00+00');
ROLLBACK;

--------------------------------------------------------------------------
-- credits_consume(account, kind, amount, image, idempotency_key, at)
--------------------------------------------------------------------------
-- NULL in each argument that must not be NULL (image and key may be)
SELECT fluxcredits.credits_consume(NULL, 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', NULL, 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', NULL, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 1, at => NULL);
\echo :LAST_ERROR_SQLSTATE
-- empty, 10 kB and unknown account
SELECT fluxcredits.credits_consume('', 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume(repeat('x', 10000), 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('nobody', 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- empty and 10 kB image and idempotency key
SELECT fluxcredits.credits_consume('acme', 'ai', 1, '', at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'ai', 1, repeat('x', 10000), at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 1, NULL, '', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 1, NULL, repeat('x', 10000), '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- unknown kind
SELECT fluxcredits.credits_consume('acme', 'video'::fluxcredits.credit_kind, 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- amount 0, -1, the largest integer on a limited plan (both kinds), and
-- one more than the largest integer
SELECT fluxcredits.credits_consume('acme', 'compression', 0, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', -1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 2147483647, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'ai', 2147483647, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 2147483648, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- an AI call with an image costs one credit, never more
SELECT fluxcredits.credits_consume('acme', 'ai', 2, 'img-2', at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- at infinite, and at both ends of the range of timestamptz (the start: before
-- the anchor, 22023; the end: no period, 22008, as the tests set no upper
-- bound: fluxcredits.max_clock_skew = -1)
SELECT fluxcredits.credits_consume('acme', 'compression', 1, at => 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 1, at => '-infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 1, at => '4714-11-24 00:00+00 BC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'compression', 1, at => '294276-12-31 23:59:59.999999+00');
\echo :LAST_ERROR_SQLSTATE
-- at in 4713 BC, inside the range, is still before the anchor (22023); in
-- 294276 AD a period exists
BEGIN;
SELECT fluxcredits.credits_consume('acme', 'compression', 1, at => '4713-06-01 00:00+00 BC') > 0 AS charged;
ROLLBACK;
BEGIN;
SELECT fluxcredits.credits_consume('acme', 'compression', 1, at => '294276-06-01 00:00+00') > 0 AS charged;
ROLLBACK;
-- at before the account's new anchor took effect
SELECT fluxcredits.credits_consume('moved', 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- idempotency key reused with another amount, kind or image
SELECT fluxcredits.credits_consume('acme', 'compression', 2, NULL, 'key-c', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'ai', 1, NULL, 'key-c', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'ai', 1, 'img-2', 'key-ai', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme', 'ai', 1, NULL, 'key-ai', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- the same key with the same arguments, in a later period: the first
-- charge's id, and nothing charged
SELECT fluxcredits.credits_consume('acme', 'compression', 1, NULL, 'key-c', '2026-05-01 13:00+00') = :charge_c AS replayed;

--------------------------------------------------------------------------
-- credits_try_consume(account, kind, amount, image, idempotency_key, at):
-- false only when the credits do not fit; every other error is raised
--------------------------------------------------------------------------
SELECT fluxcredits.credits_try_consume(NULL, 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', NULL, 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', NULL, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', 1, at => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('', 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume(repeat('x', 10000), 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('nobody', 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'ai', 1, '', at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', 1, NULL, repeat('x', 10000), '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'video'::fluxcredits.credit_kind, 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', 0, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', -1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- the largest integer on a limited plan: false, for both kinds
SELECT fluxcredits.credits_try_consume('acme', 'compression', 2147483647, at => '2026-02-01 13:00+00');
SELECT fluxcredits.credits_try_consume('acme', 'ai', 2147483647, at => '2026-02-01 13:00+00');
SELECT fluxcredits.credits_try_consume('acme', 'ai', 2, 'img-2', at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', 1, at => 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', 1, at => '4714-11-24 00:00+00 BC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', 1, at => '294276-12-31 23:59:59.999999+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('moved', 'compression', 1, at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('acme', 'compression', 2, NULL, 'key-c', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- credits_topup(account, amount, reference, at)
--------------------------------------------------------------------------
SELECT fluxcredits.credits_topup(NULL, 100, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', NULL, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 100, NULL, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 100, 'pay-2', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('', 100, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup(repeat('x', 10000), 100, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('nobody', 100, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 0, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', -1, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 2147483648, 'pay-2', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 100, '', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 100, repeat('x', 10000), '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 100, 'pay-2', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('acme', 100, 'pay-2', '-infinity');
\echo :LAST_ERROR_SQLSTATE
-- at at both ends of the range: a top-up has no period; its at must still be
-- in the account's life (from the anchor on)
BEGIN;
SELECT fluxcredits.credits_topup('acme', 100, 'pay-2', '4714-11-24 00:00+00 BC') > 0 AS credited;
ROLLBACK;
BEGIN;
SELECT fluxcredits.credits_topup('acme', 100, 'pay-2', '294276-12-31 23:59:59.999999+00') > 0 AS credited;
ROLLBACK;
-- payment reference reused with another amount, or for another account
SELECT fluxcredits.credits_topup('acme', 200, 'pay-1', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('zenith', 100, 'pay-1', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- the same payment again: the first entry's id, and nothing credited
SELECT fluxcredits.credits_topup('acme', 100, 'pay-1', '2026-02-01 13:00+00') = :topup_entry AS replayed;

--------------------------------------------------------------------------
-- credits_refund(charge, at)
--------------------------------------------------------------------------
SELECT fluxcredits.credits_refund(NULL, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:charge_c, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:charge_c, 'infinity');
\echo :LAST_ERROR_SQLSTATE
-- an unknown charge
SELECT fluxcredits.credits_refund(999999, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(-1, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- entries that are not charges: a top-up, a refund, a plan change, and a
-- consume that an earlier charge covered
SELECT fluxcredits.credits_refund(:topup_entry, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:refund_entry, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:plan_entry, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:covered_entry, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- a charge refunded twice
SELECT fluxcredits.credits_refund(:charge_refunded, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- at at both ends of the range
BEGIN;
SELECT fluxcredits.credits_refund(:charge_c, '4714-11-24 00:00+00 BC') > 0 AS refunded;
ROLLBACK;
BEGIN;
SELECT fluxcredits.credits_refund(:charge_c, '294276-12-31 23:59:59.999999+00') > 0 AS refunded;
ROLLBACK;

--------------------------------------------------------------------------
-- credits_set_plan(account, plan, at, new_anchor)
--------------------------------------------------------------------------
-- NULL in each argument that must not be NULL (new_anchor may be)
SELECT fluxcredits.credits_set_plan(NULL, 'Pro', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', NULL, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', 'Pro', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('', 'Pro', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan(repeat('x', 10000), 'Pro', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('nobody', 'Pro', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', '', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', repeat('x', 10000), '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', 'Platinum', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
-- new anchor infinite or in the far future
SELECT fluxcredits.credits_set_plan('acme', 'Pro', '2026-02-01 13:00+00', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', 'Pro', '2026-02-01 13:00+00', '-infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', 'Pro', '2026-02-01 13:00+00', '2100-01-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- at infinite, at both ends of the range
SELECT fluxcredits.credits_set_plan('acme', 'Pro', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', 'Pro', '4714-11-24 00:00+00 BC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('acme', 'Pro', '294276-12-31 23:59:59.999999+00');
\echo :LAST_ERROR_SQLSTATE
-- at before the account's new anchor took effect
SELECT fluxcredits.credits_set_plan('moved', 'Pro', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- credits_usage(account, at) and credits_usage_json(account, at)
--------------------------------------------------------------------------
SELECT * FROM fluxcredits.credits_usage(NULL, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage('acme', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage('', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage(repeat('x', 10000), '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage('nobody', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage('acme', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage('acme', '-infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage('acme', '4714-11-24 00:00+00 BC');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM fluxcredits.credits_usage('acme', '294276-12-31 23:59:59.999999+00');
\echo :LAST_ERROR_SQLSTATE
-- a read dated before the account's new anchor took effect is not an error:
-- the new anchor's period, cut at the change
SELECT * FROM fluxcredits.credits_usage('moved', '2026-02-01 13:00+00');
SELECT fluxcredits.credits_usage_json(NULL, '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('acme', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json(repeat('x', 10000), '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('nobody', '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('acme', 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('acme', '4714-11-24 00:00+00 BC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('acme', '294276-12-31 23:59:59.999999+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('moved', '2026-02-01 13:00+00');

--------------------------------------------------------------------------
-- billing_period(anchor, at, tz): STRICT, so a NULL argument gives NULL
--------------------------------------------------------------------------
SELECT fluxcredits.billing_period(NULL, '2026-02-01 13:00+00', 'UTC') IS NULL AS is_null;
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', NULL, 'UTC') IS NULL AS is_null;
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '2026-02-01 13:00+00', NULL) IS NULL AS is_null;
-- anchor infinite; in the far future it is a result (the period before it)
SELECT fluxcredits.billing_period('infinity', '2026-02-01 13:00+00', 'UTC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('-infinity', '2026-02-01 13:00+00', 'UTC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2100-01-01 00:00+00', '2026-02-01 13:00+00', 'UTC');
-- at infinite
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', 'infinity', 'UTC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '-infinity', 'UTC');
\echo :LAST_ERROR_SQLSTATE
-- at the ends of the range: a period that would start before the lowest or
-- end after the highest timestamp is out of range; inside, a result
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '4714-11-24 00:00+00 BC', 'UTC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '294276-12-31 23:59:59.999999+00', 'UTC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '4713-06-01 00:00+00 BC', 'UTC');
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '294276-06-01 00:00+00', 'UTC');
SELECT fluxcredits.billing_period('4714-11-24 00:00+00 BC', '294276-06-01 00:00+00', 'UTC');
SELECT fluxcredits.billing_period('294276-12-01 00:00+00', '4714-12-01 00:00+00 BC', 'UTC');
-- out of the range of timestamptz already as a literal
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '294277-01-01 00:00+00', 'UTC');
\echo :LAST_ERROR_SQLSTATE
-- time zones
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '2026-02-01 13:00+00', '');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '2026-02-01 13:00+00', 'Mars/Olympus');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '2026-02-01 13:00+00', 'UTC+25');
SELECT fluxcredits.billing_period('2026-01-15 00:00+00', '2026-02-01 13:00+00', 'posix/Europe/Paris');

--------------------------------------------------------------------------
-- Unlimited plan: the largest integer twice is allowed, the counter is a
-- bigint (rolled back, to keep the snapshot)
--------------------------------------------------------------------------
BEGIN;
SELECT fluxcredits.credits_consume('zenith', 'compression', 2147483647, at => '2026-02-01 13:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('zenith', 'compression', 2147483647, at => '2026-02-01 13:01+00') > 0 AS charged;
SELECT fluxcredits.credits_try_consume('zenith', 'compression', 2147483647, at => '2026-02-01 13:02+00');
SELECT plan, compressor_used, compressor_limit, "canCompress"
  FROM fluxcredits.credits_usage('zenith', '2026-02-01 13:03+00');
SELECT * FROM fluxcredits.credits_check();
ROLLBACK;

--------------------------------------------------------------------------
-- The ledger is append-only
--------------------------------------------------------------------------
UPDATE fluxcredits.ledger SET monthly = 0 WHERE id = :charge_c;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM fluxcredits.ledger WHERE id = :charge_c;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE fluxcredits.ledger;
\echo :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- A read-only transaction: a charge is refused before it locks anything,
-- though acme's counter slots of the period have room (no transaction id
-- was assigned)
--------------------------------------------------------------------------
BEGIN READ ONLY;
SAVEPOINT s;
SELECT fluxcredits.credits_consume('acme', 'compression', at => '2026-02-01 13:00+00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT fluxcredits.credits_try_consume('acme', 'ai', at => '2026-02-01 13:00+00');
ROLLBACK TO s;
SELECT pg_current_xact_id_if_assigned() IS NULL AS nothing_locked;
ROLLBACK;

--------------------------------------------------------------------------
-- A refund dated before its charge
--------------------------------------------------------------------------
SELECT fluxcredits.credits_refund(:charge_c, '2026-02-01 11:00+00');
\echo :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- The internal helpers: not granted to PUBLIC, and NULL-safe for those who
-- may call them
--------------------------------------------------------------------------
SELECT proname, proacl FROM pg_proc
 WHERE pronamespace = 'fluxcredits'::regnamespace AND proname LIKE '\_%' ORDER BY proname;
SELECT fluxcredits._check_text('x', NULL, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits._check_text('x', 'what', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits._check_text(NULL, 'what', 1);
\echo :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- None of the calls above changed anything
--------------------------------------------------------------------------
SELECT * FROM state;
SELECT (SELECT count(*) FROM state s NATURAL JOIN before_state b) = 1 AS state_unchanged;
SELECT 'plans' AS "table", count(*) AS differences
  FROM ((TABLE fluxcredits.plans EXCEPT ALL TABLE before_plans)
        UNION ALL (TABLE before_plans EXCEPT ALL TABLE fluxcredits.plans)) d
UNION ALL
SELECT 'accounts', count(*)
  FROM ((TABLE fluxcredits.accounts EXCEPT ALL TABLE before_accounts)
        UNION ALL (TABLE before_accounts EXCEPT ALL TABLE fluxcredits.accounts)) d
UNION ALL
SELECT 'counters', count(*)
  FROM ((TABLE fluxcredits.counters EXCEPT ALL TABLE before_counters)
        UNION ALL (TABLE before_counters EXCEPT ALL TABLE fluxcredits.counters)) d
UNION ALL
SELECT 'ledger', count(*)
  FROM ((TABLE fluxcredits.ledger EXCEPT ALL TABLE before_ledger)
        UNION ALL (TABLE before_ledger EXCEPT ALL TABLE fluxcredits.ledger)) d;
SELECT * FROM fluxcredits.credits_usage('acme', '2026-02-01 12:30+00');
SELECT * FROM fluxcredits.credits_check();

DROP VIEW state;
DROP TABLE before_plans, before_accounts, before_counters, before_ledger, before_state;
DROP EXTENSION fluxcredits;

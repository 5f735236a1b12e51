-- clock: every function that takes "at" accepts it only within the
-- account's life: from the account's anchor (or from when its current
-- anchor took effect) to the current time plus fluxcredits.max_clock_skew
-- (5 minutes by default; a superuser's setting).  Anything else is refused
-- with 22023 and changes nothing.  Reads take any at.  The test
-- configuration sets -1 (no upper bound); this test sets the bound back.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- The setting: 5 minutes by default, only a superuser can change it.
SELECT name, boot_val, unit, context FROM pg_settings WHERE name = 'fluxcredits.max_clock_skew';
SET fluxcredits.max_clock_skew = '5min';
SHOW fluxcredits.max_clock_skew;
CREATE ROLE regress_fc_clock_app;
SELECT fluxcredits.grant_app('regress_fc_clock_app');
SET ROLE regress_fc_clock_app;
SET fluxcredits.max_clock_skew = -1;
\echo :LAST_ERROR_SQLSTATE
SET fluxcredits.max_clock_skew = '1h';
\echo :LAST_ERROR_SQLSTATE
SHOW fluxcredits.max_clock_skew;
RESET ROLE;

-- Accounts opened in January; the ledger before the refusals.
SELECT fluxcredits.credits_open_account('free', 'Free', '2026-01-15 00:00+00');
SELECT fluxcredits.credits_open_account('st', 'Starter', '2026-01-15 00:00+00');
SELECT fluxcredits.credits_topup('st', 10, 'pay-1', '2026-01-20 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('st', 'ai', 2, at => '2026-01-20 00:00+00') AS c1 \gset
SELECT fluxcredits.credits_reserve('st', 'ai', 2, at => '2026-01-20 00:00+00') AS r1 \gset
CREATE TEMP TABLE before_ledger AS SELECT * FROM fluxcredits.ledger;

-- The error in full, its upper bound (the current time plus the skew)
-- shown as <now + 5min>.
CREATE FUNCTION refusal(call text) RETURNS TABLE (state text, message text, detail text, hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE call;
    RAISE EXCEPTION 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    detail := regexp_replace(detail, 'to [0-9: .+-]+ \(the current time', 'to <now + 5min> (the current time');
    RETURN NEXT;
END
$$;
\x on
-- Before the anchor: refused, the range in the detail.
SELECT * FROM refusal($$SELECT fluxcredits.credits_consume('free', 'compression', at => '2026-01-14 23:59:59+00')$$);
-- Ahead of the clock.
SELECT * FROM refusal($$SELECT fluxcredits.credits_consume('free', 'compression', at => '2200-01-01 00:00+00')$$);
\x off
-- the anchor itself is the first time allowed
BEGIN;
SELECT fluxcredits.credits_consume('free', 'compression', at => '2026-01-15 00:00+00') > 0 AS charged;
ROLLBACK;
-- and every other writer that takes at (the same message, shown once)
\set VERBOSITY terse
SELECT fluxcredits.credits_try_consume('free', 'compression', at => '2025-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_reserve('free', 'compression', at => '2025-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('st', 10, 'pay-2', '2025-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('free', 'Pro', '2025-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- (a refund, commit or release is also refused before its charge or hold)
SELECT fluxcredits.credits_commit(:r1, at => '2025-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_release(:r1, '2025-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE

-- Ahead of the clock by more than the skew: refused, every writer.
SELECT fluxcredits.credits_consume('free', 'compression', at => now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_try_consume('free', 'compression', at => now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('free', 'compression', at => '2200-01-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_reserve('free', 'compression', at => now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('st', 10, 'pay-2', now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_refund(:c1, now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_set_plan('free', 'Pro', now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_commit(:r1, at => now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_release(:r1, now() + interval '1 hour');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
-- Nothing was written by any of them.
SELECT count(*) AS changed_rows
  FROM ((SELECT * FROM fluxcredits.ledger EXCEPT SELECT * FROM before_ledger)
        UNION ALL (SELECT * FROM before_ledger EXCEPT SELECT * FROM fluxcredits.ledger)) d;

-- Within the skew, ahead of the clock: allowed.
BEGIN;
SELECT fluxcredits.credits_consume('free', 'compression', at => now() + interval '4 minutes') > 0 AS charged;
SELECT fluxcredits.credits_topup('st', 10, 'pay-3', now() + interval '4 minutes') > 0 AS credited;
ROLLBACK;

-- Late events: a charge dated in an earlier period of the account lands in
-- that period, within its limit (Free: 20 a month).
SELECT fluxcredits.credits_consume('free', 'compression', 20, at => '2026-03-01 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('free', 'compression', at => '2026-03-02 00:00+00');
\echo :LAST_ERROR_SQLSTATE
SELECT period_start, compressor_used, "canCompress"
  FROM fluxcredits.credits_usage('free', '2026-03-01 00:00+00');
SELECT compressor_used FROM fluxcredits.credits_usage('free');

-- Reads take any time: before the anchor, far ahead.
SELECT period_start, period_end, compressor_used
  FROM fluxcredits.credits_usage('free', '2025-06-01 00:00+00');
SELECT period_start, period_end, compressor_used
  FROM fluxcredits.credits_usage('free', '2200-01-01 00:00+00');
SELECT fluxcredits.credits_usage_json('free', '2200-01-01 00:00+00') ->> 'period_start' AS period_start;

-- A new anchor: from then on, times before it took effect are refused.
SELECT fluxcredits.credits_open_account('moved', 'Free', '2026-01-15 00:00+00');
SELECT fluxcredits.credits_set_plan('moved', 'Starter', '2026-03-01 00:00+00',
                                    new_anchor => '2026-03-01 00:00+00') > 0 AS changed;
\x on
SELECT * FROM refusal($$SELECT fluxcredits.credits_consume('moved', 'compression', at => '2026-02-20 00:00+00')$$);
\x off

-- An anchor ahead of now (up to a year is allowed): the account can be
-- charged from then on, not before; not even by the trigger, which charges
-- at now().
SELECT fluxcredits.credits_open_account('later', 'Free', now() + interval '1 day');
\set VERBOSITY terse
SELECT fluxcredits.credits_consume('later', 'compression');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE images (id serial PRIMARY KEY, account text NOT NULL);
SELECT fluxcredits.attach('images', 'compression', 'account');
INSERT INTO images (account) VALUES ('free'), ('later');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT count(*) FROM images;
INSERT INTO images (account) VALUES ('free');
SELECT count(*) FROM images;

-- The superuser lifts the bound for a session (how a test suite or a
-- backfill dates writes ahead); the lower bound stays.
SET fluxcredits.max_clock_skew = -1;
BEGIN;
SELECT fluxcredits.credits_consume('free', 'compression', at => '2200-01-01 00:00+00') > 0 AS charged;
ROLLBACK;
SELECT fluxcredits.credits_consume('free', 'compression', at => '2025-06-01 00:00+00');
\echo :LAST_ERROR_SQLSTATE
-- A role the superuser configured so (ALTER ROLE ... SET) gets it too.
ALTER ROLE regress_fc_clock_app SET fluxcredits.max_clock_skew = -1;
SELECT setrole.setconfig FROM pg_db_role_setting setrole
 WHERE setrole.setrole = 'regress_fc_clock_app'::regrole;
ALTER ROLE regress_fc_clock_app RESET fluxcredits.max_clock_skew;

SELECT * FROM fluxcredits.credits_check();
SELECT fluxcredits.detach('images', 'compression');
DROP TABLE images, before_ledger;
DROP FUNCTION refusal(text);
DROP OWNED BY regress_fc_clock_app;
DROP ROLE regress_fc_clock_app;
DROP EXTENSION fluxcredits;

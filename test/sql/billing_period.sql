--
-- billing_period: hand-picked vectors with their expected ranges written
-- out, errors with their SQLSTATE, and the function's declaration.
--
-- Each vector gives the expected range with explicit UTC offsets, so that
-- DST overlaps are unambiguous; "ok" compares it with the result, and the
-- local columns show the period's start and end in the account's zone.
--
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

CREATE FUNCTION check_period(label text, anchor timestamptz, at timestamptz,
                             tz text, expected tstzrange)
RETURNS TABLE (label text, period tstzrange, local_start timestamp,
               local_end timestamp, ok boolean)
LANGUAGE sql IMMUTABLE
AS $$
  SELECT label, r, lower(r) AT TIME ZONE tz, upper(r) AT TIME ZONE tz,
         r = expected
  FROM fluxcredits.billing_period(anchor, at, tz) r
$$;

-- Anchor Jan 31 (UTC): Feb 29 in a leap year, back to Mar 31, Apr 30, the
-- last microsecond of a period and the exact boundary microsecond, then
-- before the anchor (negative k).
SELECT v.* FROM (VALUES
  ('mid February',        '2024-02-15 00:00+00', '[2024-01-31 10:00+00,2024-02-29 10:00+00)'),
  ('last us of period 0', '2024-02-29 09:59:59.999999+00', '[2024-01-31 10:00+00,2024-02-29 10:00+00)'),
  ('boundary us',         '2024-02-29 10:00+00', '[2024-02-29 10:00+00,2024-03-31 10:00+00)'),
  ('back to Mar 31',      '2024-03-31 10:00+00', '[2024-03-31 10:00+00,2024-04-30 10:00+00)'),
  ('Apr 30',              '2024-05-01 00:00+00', '[2024-04-30 10:00+00,2024-05-31 10:00+00)'),
  ('Feb 28, no leap',     '2025-02-28 10:00+00', '[2025-02-28 10:00+00,2025-03-31 10:00+00)'),
  ('before Feb 28',       '2025-02-28 09:59:59.999999+00', '[2025-01-31 10:00+00,2025-02-28 10:00+00)'),
  ('us before anchor',    '2024-01-31 09:59:59.999999+00', '[2023-12-31 10:00+00,2024-01-31 10:00+00)'),
  ('k = -2',              '2023-12-01 00:00+00', '[2023-11-30 10:00+00,2023-12-31 10:00+00)')
) AS t(label, at, expected),
LATERAL check_period(label, '2024-01-31 10:00+00', at::timestamptz, 'UTC', expected::tstzrange) v;

-- Anchor Feb 29: the 29th where it exists, Feb 28 otherwise.
SELECT v.* FROM (VALUES
  ('next month',          '2024-03-29 00:00+00', '[2024-03-29 00:00+00,2024-04-29 00:00+00)'),
  ('Feb 28, no leap',     '2025-02-28 12:00+00', '[2025-02-28 00:00+00,2025-03-29 00:00+00)'),
  ('Feb 29 again',        '2028-02-29 00:00+00', '[2028-02-29 00:00+00,2028-03-29 00:00+00)'),
  ('a year before',       '2023-03-01 00:00+00', '[2023-02-28 00:00+00,2023-03-29 00:00+00)')
) AS t(label, at, expected),
LATERAL check_period(label, '2024-02-29 00:00+00', at::timestamptz, 'UTC', expected::tstzrange) v;

-- Anchor Mar 31 and Jan 30; the two-argument form uses UTC.
SELECT v.* FROM (VALUES
  ('Mar 31 -> Apr 30',    '2023-03-31 12:00+00', '2023-04-30 12:00+00', '[2023-04-30 12:00+00,2023-05-31 12:00+00)'),
  ('Mar 31, us before',   '2023-03-31 12:00+00', '2023-04-30 11:59:59.999999+00', '[2023-03-31 12:00+00,2023-04-30 12:00+00)'),
  ('Jan 30 -> Feb 28',    '2023-01-30 08:00+00', '2023-03-01 00:00+00', '[2023-02-28 08:00+00,2023-03-30 08:00+00)'),
  ('Jan 30 -> Feb 29',    '2024-01-30 08:00+00', '2024-03-01 00:00+00', '[2024-02-29 08:00+00,2024-03-30 08:00+00)')
) AS t(label, anchor, at, expected),
LATERAL check_period(label, anchor::timestamptz, at::timestamptz, 'UTC', expected::tstzrange) v;
SELECT fluxcredits.billing_period('2023-03-31 12:00+00', '2023-05-01 00:00+00');

-- Year boundaries, in UTC and east of UTC (Asia/Kolkata, +05:30).
SELECT v.* FROM (VALUES
  ('Dec 31 23:00 anchor', '2023-12-31 23:00+00', '2024-01-01 00:00+00', 'UTC', '[2023-12-31 23:00+00,2024-01-31 23:00+00)'),
  ('last us of the year', '2023-01-31 00:00+00', '2023-12-31 23:59:59.999999+00', 'UTC', '[2023-12-31 00:00+00,2024-01-31 00:00+00)'),
  ('Kolkata New Year',    '2024-01-01 00:00+05:30', '2023-12-31 18:30+00', 'Asia/Kolkata', '[2023-12-31 18:30+00,2024-01-31 18:30+00)'),
  ('Kolkata, us before',  '2024-01-01 00:00+05:30', '2023-12-31 18:29:59.999999+00', 'Asia/Kolkata', '[2023-11-30 18:30+00,2023-12-31 18:30+00)')
) AS t(label, anchor, at, tz, expected),
LATERAL check_period(label, anchor::timestamptz, at::timestamptz, tz, expected::tstzrange) v;

-- America/New_York.  Spring gap: anchor 02:30 EST on Jan 10; 2024-03-10
-- 02:30 does not exist and PostgreSQL reads it with the offset before the
-- change, which is 03:30 EDT.  Fall overlap: anchor 01:30 EDT on Oct 3;
-- 2024-11-03 01:30 happens twice and PostgreSQL takes the second one (EST),
-- so the first 01:30 (EDT) is still in the October period.
SELECT v.* FROM (VALUES
  ('gap: us before',      '2024-01-10 02:30-05', '2024-03-10 03:29:59.999999-04', '[2024-02-10 02:30-05,2024-03-10 03:30-04)'),
  ('gap: 02:30 -> 03:30', '2024-01-10 02:30-05', '2024-03-10 03:30-04', '[2024-03-10 03:30-04,2024-04-10 02:30-04)'),
  ('gap: after, EDT',     '2024-01-10 02:30-05', '2024-04-10 02:30-04', '[2024-04-10 02:30-04,2024-05-10 02:30-04)'),
  ('gap: back to EST',    '2024-01-10 02:30-05', '2024-11-10 02:30-05', '[2024-11-10 02:30-05,2024-12-10 02:30-05)'),
  ('overlap: first 01:30','2024-10-03 01:30-04', '2024-11-03 01:30-04', '[2024-10-03 01:30-04,2024-11-03 01:30-05)'),
  ('overlap: second 01:30','2024-10-03 01:30-04', '2024-11-03 01:30-05', '[2024-11-03 01:30-05,2024-12-03 01:30-05)'),
  ('02:30 anchor in Nov', '2024-10-03 02:30-04', '2024-11-03 02:30-05', '[2024-11-03 02:30-05,2024-12-03 02:30-05)'),
  ('02:30 anchor, us before','2024-10-03 02:30-04', '2024-11-03 02:29:59.999999-05', '[2024-10-03 02:30-04,2024-11-03 02:30-05)')
) AS t(label, anchor, at, expected),
LATERAL check_period(label, anchor::timestamptz, at::timestamptz, 'America/New_York', expected::tstzrange) v;

-- Australia/Sydney (+10, DST +11 from October to April).  2024-04-07 02:30
-- happens twice (AEDT, then AEST): PostgreSQL takes the second.
-- 2024-10-06 02:30 does not exist: read with +10, it is 03:30 AEDT.
SELECT v.* FROM (VALUES
  ('overlap: first 02:30','2024-03-07 02:30+11', '2024-04-07 02:30+11', '[2024-03-07 02:30+11,2024-04-07 02:30+10)'),
  ('overlap: second 02:30','2024-03-07 02:30+11', '2024-04-07 02:30+10', '[2024-04-07 02:30+10,2024-05-07 02:30+10)'),
  ('gap: 02:30 -> 03:30', '2024-09-06 02:30+10', '2024-10-06 03:30+11', '[2024-10-06 03:30+11,2024-11-06 02:30+11)'),
  ('gap: us before',      '2024-09-06 02:30+10', '2024-10-06 03:29:59.999999+11', '[2024-09-06 02:30+10,2024-10-06 03:30+11)')
) AS t(label, anchor, at, expected),
LATERAL check_period(label, anchor::timestamptz, at::timestamptz, 'Australia/Sydney', expected::tstzrange) v;

-- Half-hour zones: Asia/Kolkata (+05:30, no DST) and Australia/Adelaide
-- (+09:30, DST +10:30 until 2024-04-07 03:00).
SELECT v.* FROM (VALUES
  ('Kolkata, Feb 29 end', '2024-01-31 00:00+05:30', '2024-02-29 23:59:59.999999+05:30', 'Asia/Kolkata', '[2024-02-29 00:00+05:30,2024-03-31 00:00+05:30)'),
  ('Kolkata boundary',    '2024-01-31 00:00+05:30', '2024-02-29 00:00+05:30', 'Asia/Kolkata', '[2024-02-29 00:00+05:30,2024-03-31 00:00+05:30)'),
  ('Adelaide DST ends',   '2024-03-31 09:00+10:30', '2024-04-15 00:00+09:30', 'Australia/Adelaide', '[2024-03-31 09:00+10:30,2024-04-30 09:00+09:30)'),
  ('Adelaide us before',  '2024-03-31 09:00+10:30', '2024-04-30 08:59:59.999999+09:30', 'Australia/Adelaide', '[2024-03-31 09:00+10:30,2024-04-30 09:00+09:30)')
) AS t(label, anchor, at, tz, expected),
LATERAL check_period(label, anchor::timestamptz, at::timestamptz, tz, expected::tstzrange) v;

-- Decades away: a 1970 anchor and at in 2026 (k = 673), and at long before
-- the anchor (k = -313).
SELECT v.* FROM (VALUES
  ('1970 -> 2026, UTC',   '1970-01-31 00:00+00', '2026-03-15 00:00+00', 'UTC', '[2026-02-28 00:00+00,2026-03-31 00:00+00)'),
  ('1970 -> 2026, NY',    '1970-01-31 00:00-05', '2026-03-15 00:00+00', 'America/New_York', '[2026-02-28 00:00-05,2026-03-31 00:00-04)'),
  ('2026 anchor, 1999 at','2026-01-31 00:00+00', '1999-12-31 23:59:59.999999+00', 'UTC', '[1999-12-31 00:00+00,2000-01-31 00:00+00)')
) AS t(label, anchor, at, tz, expected),
LATERAL check_period(label, anchor::timestamptz, at::timestamptz, tz, expected::tstzrange) v;

-- Zone spellings: a fixed-offset abbreviation ('EST' is -05:00 all year)
-- against the full zone (EDT in July), a POSIX zone, a POSIX offset (as in
-- AT TIME ZONE, '+05' means five hours WEST of UTC), names in lower case.
SELECT v.* FROM (VALUES
  ('EST, July',           'EST', '[2024-07-15 07:00-05,2024-08-15 07:00-05)'),
  ('America/New_York',    'America/New_York', '[2024-07-15 07:00-04,2024-08-15 07:00-04)'),
  ('EST5EDT',             'EST5EDT', '[2024-07-15 07:00-04,2024-08-15 07:00-04)'),
  ('america/new_york',    'america/new_york', '[2024-07-15 07:00-04,2024-08-15 07:00-04)'),
  ('+05',                 '+05', '[2024-07-15 07:00-05,2024-08-15 07:00-05)'),
  ('utc',                 'utc', '[2024-07-15 12:00+00,2024-08-15 12:00+00)')
) AS t(label, tz, expected),
LATERAL check_period(label, '2024-01-15 12:00+00', '2024-07-20 00:00+00', tz, expected::tstzrange) v;

-- Resolved zones are cached per session: a change of timezone_abbreviations
-- (SET, SET LOCAL and its rollback, a function's SET clause, RESET) must be
-- seen at once.  'EST' is -05 in the Default set and +10 in Australia's:
-- the anchor falls on Jan 30 or Jan 31 in local time, and the periods differ.
CREATE FUNCTION bp_est_australia() RETURNS tstzrange
  LANGUAGE sql SET timezone_abbreviations = 'Australia'
  AS $$ SELECT fluxcredits.billing_period('2024-01-30 20:00+00', '2024-02-29 10:00+00', 'EST') $$;
SELECT fluxcredits.billing_period('2024-01-30 20:00+00', '2024-02-29 10:00+00', 'EST') AS default_set;
SELECT bp_est_australia() AS in_function,
       fluxcredits.billing_period('2024-01-30 20:00+00', '2024-02-29 10:00+00', 'EST') AS after_it;
SET timezone_abbreviations = 'Australia';
SELECT fluxcredits.billing_period('2024-01-30 20:00+00', '2024-02-29 10:00+00', 'EST') AS australia,
       '2024-01-30 20:00+00'::timestamptz AT TIME ZONE 'EST' AS anchor_local;
BEGIN;
SET LOCAL timezone_abbreviations = 'Default';
SELECT fluxcredits.billing_period('2024-01-30 20:00+00', '2024-02-29 10:00+00', 'EST') AS set_local_default;
ROLLBACK;
SELECT fluxcredits.billing_period('2024-01-30 20:00+00', '2024-02-29 10:00+00', 'EST') AS after_rollback;
RESET timezone_abbreviations;
SELECT fluxcredits.billing_period('2024-01-30 20:00+00', '2024-02-29 10:00+00', 'EST') AS after_reset,
       '2024-01-30 20:00+00'::timestamptz AT TIME ZONE 'EST' AS anchor_local;
DROP FUNCTION bp_est_australia();

-- Errors.  Unknown zone: 22023, as AT TIME ZONE raises it.
SELECT fluxcredits.billing_period('2024-01-31', '2024-02-15', 'Mars/Olympus_Mons');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2024-01-31', '2024-02-15', '');
\echo :LAST_ERROR_SQLSTATE
-- Infinite anchor or time: 22008.
SELECT fluxcredits.billing_period('infinity', '2024-02-15', 'UTC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2024-01-31', '-infinity', 'UTC');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period('2024-01-31', 'infinity', 'America/New_York');
\echo :LAST_ERROR_SQLSTATE
-- A period ending after the last timestamp: 22008.
SELECT fluxcredits.billing_period('294276-12-15 00:00+00', '294276-12-20 00:00+00', 'UTC');
\echo :LAST_ERROR_SQLSTATE
-- ... while the last period that fits is returned.
SELECT fluxcredits.billing_period('294276-11-01 00:00+00', '294276-11-20 00:00+00', 'UTC');

-- NULL in, NULL out (STRICT).
\pset null '(null)'
SELECT fluxcredits.billing_period(NULL, '2024-02-15', 'UTC') AS null_anchor,
       fluxcredits.billing_period('2024-01-31', NULL, 'UTC') AS null_at,
       fluxcredits.billing_period('2024-01-31', '2024-02-15', NULL) AS null_tz;
\pset null ''

-- Declared IMMUTABLE, STRICT, PARALLEL SAFE, returning tstzrange.
SELECT p.oid::regprocedure AS function, p.provolatile, p.proisstrict,
       p.proparallel, p.prorettype::regtype,
       pg_get_function_arguments(p.oid) AS arguments
FROM pg_proc p
WHERE p.pronamespace = 'fluxcredits'::regnamespace AND p.proname = 'billing_period';

-- clean up
DROP FUNCTION check_period(text, timestamptz, timestamptz, text, tstzrange);
DROP EXTENSION fluxcredits;

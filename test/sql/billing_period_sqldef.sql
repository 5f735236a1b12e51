--
-- billing_period_sqldef: the C function against its SQL definition
--
--   start_k = ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz
--   billing_period(anchor, at, tz) = [start_k, start_(k+1)) with start_k <= at < start_(k+1)
--
-- on generated, deterministic cases (no random()).  The output is counts
-- only, and every count of differences must be 0.
--
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
-- this test's own tables and functions live in a schema dropped at the end
CREATE SCHEMA bp_sqldef;
SET search_path = bp_sqldef, public;

-- The definition, evaluated by PostgreSQL itself.
CREATE FUNCTION sqldef_start(anchor timestamptz, k int, tz text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz $$;

-- Zones: UTC, west and east of UTC with DST, half- and quarter-hour
-- offsets, a 30-minute DST shift (Lord_Howe), a zone with seconds in its old
-- offsets (New York LMT before 1883), POSIX specifications, a fixed-offset
-- abbreviation and dynamic abbreviations (VET, MSK: their offsets changed).
CREATE TABLE zones (tz text PRIMARY KEY);
INSERT INTO zones VALUES
  ('UTC'), ('America/New_York'), ('Europe/London'), ('Australia/Sydney'),
  ('Asia/Kolkata'), ('Pacific/Chatham'), ('America/St_Johns'), ('EST5EDT'),
  ('EST'), ('Australia/Adelaide'), ('Australia/Lord_Howe'), ('Asia/Kathmandu'),
  ('CET-1CEST,M3.5.0,M10.5.0/3'), ('<+0330>-03:30'), ('VET'), ('MSK');

-- Anchors given as local wall-clock times (days 28-31, times around DST
-- changes, the last microsecond of a day, a leap day, far past and future).
CREATE TABLE local_anchors (local timestamp);
INSERT INTO local_anchors VALUES
  ('2023-01-31 00:00'), ('2023-01-30 02:30'), ('2023-01-29 01:30'),
  ('2023-01-28 23:59:59.999999'), ('2024-02-29 12:00'), ('2023-08-31 02:00'),
  ('2023-10-30 01:30:00.5'), ('2023-03-31 03:15'), ('1999-12-31 23:30'),
  ('1970-01-31 00:00'), ('1880-01-31 12:00'), ('2037-12-31 02:30'),
  ('2090-05-31 02:30');

-- Plus, per zone, the UTC offset changes of 2024 (found on a 15-minute grid)
-- and the microsecond before each, taken as anchors directly.
CREATE TABLE anchors (tz text, anchor timestamptz);
INSERT INTO anchors
SELECT z.tz, a.local AT TIME ZONE z.tz FROM zones z, local_anchors a;
INSERT INTO anchors
SELECT tz, t + d
FROM (SELECT z.tz, g AS t,
             (g AT TIME ZONE z.tz) - g::timestamp AS off,
             ((g - interval '15 minutes') AT TIME ZONE z.tz)
               - (g - interval '15 minutes')::timestamp AS prev_off
      FROM zones z,
           generate_series(timestamptz '2024-01-01 00:00+00',
                           timestamptz '2024-12-31 23:45+00',
                           interval '15 minutes') g) s,
     (VALUES (interval '0'), (interval '-1 microsecond')) v(d)
WHERE off <> prev_off;

SELECT tz, count(*) AS anchors FROM anchors GROUP BY tz ORDER BY tz;

-- Every anchor, k from -30 to 400, and four times per period: the start,
-- the last microsecond, the microsecond before the start, and a time in
-- between (an uneven fraction of the way through).
CREATE TABLE starts AS
SELECT a.tz, a.anchor, k,
       sqldef_start(a.anchor, k, a.tz) AS s0,
       sqldef_start(a.anchor, k + 1, a.tz) AS s1,
       sqldef_start(a.anchor, k - 1, a.tz) AS sm
FROM anchors a, generate_series(-30, 400) k;

CREATE TABLE cases AS
SELECT tz, anchor, at, lo, hi
FROM starts,
     LATERAL (VALUES (s0, s0, s1),
                     (s1 - interval '1 microsecond', s0, s1),
                     (s0 - interval '1 microsecond', sm, s0),
                     (s0 + (s1 - s0) * 0.377, s0, s1)) v(at, lo, hi);

SELECT tz, count(*) AS cases,
       count(*) FILTER (WHERE fluxcredits.billing_period(anchor, at, tz)
                        IS DISTINCT FROM tstzrange(lo, hi)) AS differences
FROM cases GROUP BY ROLLUP (tz) ORDER BY tz NULLS LAST;

-- Times not derived from the definition: a grid of "at" every 307 hours and 13
-- minutes over 40 years, against the local anchors of 1990-2030 in every
-- zone (144 anchors, 1142 times each).  The definition's k is found
-- by brute force in a window around a local month-count estimate; the C
-- range must contain at and be exactly [start_k, start_(k+1)) for that k.
CREATE TABLE grid_anchors AS
SELECT tz, anchor FROM anchors a
WHERE EXISTS (SELECT FROM local_anchors l
              WHERE l.local AT TIME ZONE a.tz = a.anchor
                AND l.local BETWEEN '1990-01-01' AND '2030-01-01');

CREATE TABLE grid AS
SELECT a.tz, a.anchor, g AS at,
       fluxcredits.billing_period(a.anchor, g, a.tz) AS r,
       ((extract(year FROM g AT TIME ZONE a.tz)
         - extract(year FROM a.anchor AT TIME ZONE a.tz)) * 12
        + extract(month FROM g AT TIME ZONE a.tz)
        - extract(month FROM a.anchor AT TIME ZONE a.tz))::int AS k_est
FROM grid_anchors a,
     generate_series(timestamptz '2000-01-01 00:00+00',
                     timestamptz '2040-01-01 00:00+00',
                     interval '307 hours 13 minutes') g;

SELECT count(*) AS grid_cases,
       count(*) FILTER (WHERE NOT (lower(r) <= at AND at < upper(r))) AS not_containing,
       count(*) FILTER (WHERE (SELECT count(*)
                               FROM (SELECT sqldef_start(anchor, k, tz) AS s0,
                                            sqldef_start(anchor, k + 1, tz) AS s1
                                     FROM generate_series(k_est - 2, k_est + 2) k
                                     OFFSET 0) s
                               WHERE s0 <= at AND at < s1
                                 AND s0 = lower(r) AND s1 = upper(r)) <> 1)
         AS differences
FROM grid;

-- The C helpers behind the SQL function cache zones per statement and the
-- last anchor: interleaving zones and anchors row by row must not matter.
SELECT count(*) AS interleaved_cases,
       count(*) FILTER (WHERE fluxcredits.billing_period(anchor, at, tz)
                        IS DISTINCT FROM tstzrange(lo, hi)) AS differences
FROM (SELECT * FROM cases ORDER BY at, tz LIMIT 20000) c;

-- Near both ends of the timestamp range, where starts, ends or the local
-- anchor fall out of range: the C function must give the same range, or
-- the same error (22008), as the definition.  The definition's answer is
-- found from each start_k computed on its own, out-of-range ones as NULL.
CREATE FUNCTION start_or_null(anchor timestamptz, k int, tz text)
RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  RETURN sqldef_start(anchor, k, tz);
EXCEPTION WHEN datetime_field_overflow THEN  -- 22008
  RETURN NULL;
END $$;

CREATE FUNCTION def_or_sqlstate(anchor timestamptz, at timestamptz, tz text)
RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  s timestamptz;
  prev timestamptz;
  seen boolean := false;
BEGIN
  -- the anchors below are within a few months of at: k in -8..8 suffices
  FOR k IN -8..8 LOOP
    s := start_or_null(anchor, k, tz);
    IF s IS NULL THEN
      IF seen THEN                              -- the period's end is out of range
        RETURN CASE WHEN at >= prev THEN '22008' ELSE 'unreachable' END;
      END IF;
    ELSIF NOT seen THEN
      IF at < s THEN                            -- the period's start is out of range
        RETURN CASE WHEN k = -8 THEN 'window too small' ELSE '22008' END;
      END IF;
      seen := true;
    ELSIF prev <= at AND at < s THEN
      RETURN tstzrange(prev, s)::text;
    END IF;
    prev := s;
  END LOOP;
  RETURN CASE WHEN seen THEN 'window too small' ELSE '22008' END;
END $$;

CREATE FUNCTION c_or_sqlstate(anchor timestamptz, at timestamptz, tz text)
RETURNS text LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
  RETURN fluxcredits.billing_period(anchor, at, tz)::text;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

CREATE TABLE limit_cases AS
SELECT z.tz, a.anchor, t.at
FROM unnest(ARRAY['UTC', 'America/New_York', 'Pacific/Kiritimati', 'Etc/GMT+12',
                  'EST', 'Australia/Lord_Howe', 'VET']) z(tz),
     (VALUES ('low', timestamptz '4714-11-24 00:00:00+00 BC'),
             ('low', '4714-11-24 12:00+00 BC'), ('low', '4714-11-30 00:00+00 BC'),
             ('low', '4714-12-31 23:00+00 BC'), ('low', '4713-01-31 05:00+00 BC'),
             ('high', '294276-12-31 23:59:59.999999+00'), ('high', '294276-12-15 00:00+00'),
             ('high', '294276-11-30 10:00+00'), ('high', '294276-10-31 00:00+00'),
             ('high', '294276-08-31 23:00+00')) a(side, anchor),
     LATERAL (SELECT CASE a.side
                       WHEN 'low' THEN timestamptz '4714-11-24 00:00:00+00 BC'
                                       + i * interval '11 hours 3 minutes'
                       ELSE timestamptz '294276-12-31 23:59:59.999999+00'
                            - i * interval '11 hours 3 minutes'
                     END AS at
              FROM generate_series(0, 100) i) t;

SELECT count(*) AS limit_cases,
       count(*) FILTER (WHERE d = '22008') AS out_of_range,
       count(*) FILTER (WHERE d LIKE '[%') AS ranges,
       count(*) FILTER (WHERE d IS DISTINCT FROM c) AS differences
FROM (SELECT c_or_sqlstate(anchor, at, tz) AS c, def_or_sqlstate(anchor, at, tz) AS d
      FROM limit_cases) s;

-- clean up
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA bp_sqldef CASCADE;
RESET client_min_messages;
DROP EXTENSION fluxcredits;

#!/usr/bin/env bash
# bench/billing_period.sh: fluxcredits.billing_period in C against its SQL
# definition.
#
# Starts a throwaway cluster (initdb in a temp dir, a free port, the unix
# socket in that dir, no TCP), creates the extension (it must be installed:
# `make install`), and times one million evaluations per query:
#
#   base     the same query without the call (generate_series, the at expression)
#   C        fluxcredits.billing_period(anchor, at, tz)
#   SQL      bench_sqldef_period(anchor, at, tz): the same range from the
#            definition
#              start_k = ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz
#            with k estimated from the local year and month and corrected, as
#            SQL functions the planner inlines into the query
#   plpgsql  the same in PL/pgSQL, each value computed once
#   2st      the bare definition for a known k: two starts, no search (a
#            floor for any SQL formulation)
#
# Each query runs REPEAT times (default 3), the queries taking turns; the
# fastest run of each counts.  ns/call
# is (query - base) / rows.  Before timing, the C function and both SQL
# versions are checked against each other on 100,000 rows.
#
# Run as root (the cluster then runs as the `postgres` OS user) or as any
# user allowed to run initdb.  Works from any directory.
#   PG_CONFIG   pg_config to use (default /usr/lib/postgresql/15/bin/pg_config)
#   ROWS        evaluations per query (default 1000000)
#   REPEAT      runs per query (default 3)

set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-1000000}
REPEAT=${REPEAT:-3}
BINDIR=$("$PG_CONFIG" --bindir)

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[ -f "$("$PG_CONFIG" --sharedir)/extension/fluxcredits.control" ] ||
    { echo "error: fluxcredits is not installed for $PG_CONFIG (run make install)" >&2; exit 2; }

bench_tmpdir
STARTED=""

cleanup() {
    if [ -n "$STARTED" ]; then
        as_runner "$BINDIR/pg_ctl" stop -D "$TMP/data" -m fast >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_port 55400 55499

echo "==> initdb in $TMP (port $PORT, socket in $TMP)"
as_runner "$BINDIR/initdb" -D "$TMP/data" -A trust -U bench --no-sync >"$TMP/initdb.log" 2>&1 ||
    { cat "$TMP/initdb.log" >&2; exit 2; }
# jit off and enough work_mem for generate_series: measure the calls, not
# compilation or a spill to disk.
as_runner "$BINDIR/pg_ctl" start -w -D "$TMP/data" -l "$TMP/server.log" \
    -o "-p $PORT -k $TMP -c listen_addresses='' -c jit=off -c work_mem=256MB -c max_parallel_workers_per_gather=0" \
    >/dev/null || { cat "$TMP/server.log" >&2; exit 2; }
STARTED=1

psql_run() {
    as_runner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$TMP" -p "$PORT" -U bench -d postgres "$@"
}

psql_run <<'SQL'
CREATE EXTENSION fluxcredits;

-- The definition, as SQL functions that the planner inlines into the query
-- (each is a single SELECT of an expression), so no SQL-function executor
-- runs per row.  The price of an expression language: k and the starts are
-- recomputed wherever they appear.
CREATE FUNCTION bench_start(anchor timestamptz, k int, tz text)
RETURNS timestamptz LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz $$;

CREATE FUNCTION bench_k(anchor timestamptz, at timestamptz, tz text)
RETURNS int LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ((date_part('year', at AT TIME ZONE tz) - date_part('year', anchor AT TIME ZONE tz)) * 12
              + date_part('month', at AT TIME ZONE tz) - date_part('month', anchor AT TIME ZONE tz))::int $$;

-- k from the local year and month; the period is k - 1 when at is before
-- that month's start (a day or time earlier than the anchor's), k + 1 when
-- a UTC offset change puts at past the next start.  Not STRICT: a strict
-- function whose body has a CASE is not inlined.
CREATE FUNCTION bench_sqldef_period(anchor timestamptz, at timestamptz, tz text)
RETURNS tstzrange LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE
       WHEN at < bench_start(anchor, bench_k(anchor, at, tz), tz)
         THEN tstzrange(bench_start(anchor, bench_k(anchor, at, tz) - 1, tz),
                        bench_start(anchor, bench_k(anchor, at, tz), tz))
       WHEN at < bench_start(anchor, bench_k(anchor, at, tz) + 1, tz)
         THEN tstzrange(bench_start(anchor, bench_k(anchor, at, tz), tz),
                        bench_start(anchor, bench_k(anchor, at, tz) + 1, tz))
       ELSE tstzrange(bench_start(anchor, bench_k(anchor, at, tz) + 1, tz),
                      bench_start(anchor, bench_k(anchor, at, tz) + 2, tz))
     END $$;

-- The same in PL/pgSQL.
CREATE FUNCTION bench_plpgsql_period(anchor timestamptz, at timestamptz, tz text)
RETURNS tstzrange LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  la timestamp := anchor AT TIME ZONE tz;
  lt timestamp := at AT TIME ZONE tz;
  k int := (date_part('year', lt) - date_part('year', la)) * 12
           + date_part('month', lt) - date_part('month', la);
  s0 timestamptz := (la + k * interval '1 month') AT TIME ZONE tz;
  s1 timestamptz;
BEGIN
  IF at < s0 THEN
    RETURN tstzrange((la + (k - 1) * interval '1 month') AT TIME ZONE tz, s0);
  END IF;
  s1 := (la + (k + 1) * interval '1 month') AT TIME ZONE tz;
  IF at >= s1 THEN
    RETURN tstzrange(s1, (la + (k + 2) * interval '1 month') AT TIME ZONE tz);
  END IF;
  RETURN tstzrange(s0, s1);
END $$;
SQL

ANCHOR="timestamptz '2019-01-31 10:00:00+00'"
AT="(timestamptz '2019-01-31 10:00:00+00' + g * interval '17 minutes')"

# One run of a query, in ms.
time_once() {
    local t
    t=$(printf '\\timing on\n%s\n' "$1" | psql_run -At 2>&1 |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    [ -n "$t" ] || { echo "error: query failed: $1" >&2; exit 1; }
    echo "$t"
}

# The fastest of REPEAT runs of each query, in ms, in the order given.  The
# queries take turns (one run of each per round), so that a query and the
# baseline it is compared with see the machine alike: a per-call figure is
# a small difference of two large times, and a slower minute during one
# query's runs only would move it far.
time_queries() {
    local -a best=()
    local i q t
    for i in $(seq "$REPEAT"); do
        for q in $(seq 0 $(($# - 1))); do
            t=$(time_once "${@:$((q + 1)):1}") || exit 1
            if [ -z "${best[$q]:-}" ] || awk -v a="$t" -v b="${best[$q]}" 'BEGIN { exit !(a < b) }'; then
                best[$q]=$t
            fi
        done
    done
    echo "${best[*]}"
}

echo "==> checking the C function against both SQL versions on 100000 rows"
for tz in UTC America/New_York; do
    diffs=$(psql_run -At -c "SELECT count(*) FROM generate_series(1, 100000) g
        WHERE fluxcredits.billing_period($ANCHOR, $AT, '$tz')
              IS DISTINCT FROM bench_sqldef_period($ANCHOR, $AT, '$tz')
           OR fluxcredits.billing_period($ANCHOR, $AT, '$tz')
              IS DISTINCT FROM bench_plpgsql_period($ANCHOR, $AT, '$tz')")
    echo "    $tz: $diffs differences"
    [ "$diffs" = 0 ] || { echo "error: the C and SQL versions disagree" >&2; exit 1; }
done
# The SQL version must really be inlined: no call to it left in the plan.
plan=$(psql_run -At -c "EXPLAIN (VERBOSE, COSTS OFF)
    SELECT bench_sqldef_period($ANCHOR, $AT, 'UTC') FROM generate_series(1, 10) g")
case $plan in
    *bench_*)
        echo "error: bench_sqldef_period was not inlined:" >&2; echo "$plan" >&2; exit 1 ;;
esac

echo "==> timing $ROWS evaluations per query, fastest of $REPEAT runs"
TABLE=""
for tz in UTC America/New_York; do
    read -r base c s p base2 two < <(time_queries \
        "SELECT count(*) FROM generate_series(1, $ROWS) g WHERE $AT IS NOT NULL" \
        "SELECT count(*) FROM generate_series(1, $ROWS) g
            WHERE fluxcredits.billing_period($ANCHOR, $AT, '$tz') IS NOT NULL" \
        "SELECT count(*) FROM generate_series(1, $ROWS) g
            WHERE bench_sqldef_period($ANCHOR, $AT, '$tz') IS NOT NULL" \
        "SELECT count(*) FROM generate_series(1, $ROWS) g
            WHERE bench_plpgsql_period($ANCHOR, $AT, '$tz') IS NOT NULL" \
        "SELECT count(*) FROM generate_series(1, $ROWS) g WHERE (g % 400) IS NOT NULL" \
        "SELECT count(*) FROM generate_series(1, $ROWS) g
            WHERE tstzrange(bench_start($ANCHOR, g % 400, '$tz'), bench_start($ANCHOR, g % 400 + 1, '$tz'))
                  IS NOT NULL")
    [ -n "${two:-}" ] || { echo "error: the timing of $tz failed" >&2; exit 1; }
    TABLE+="$tz $base $c $s $p $base2 $two"$'\n'
done

echo
printf '%s' "$TABLE" | awk -v n="$ROWS" '
    BEGIN {
        printf "%-17s %8s %8s %7s %8s %7s %8s %7s\n", "zone", "C ns", "SQL ns", "ratio",
               "plpgsql", "ratio", "2st ns", "ratio"
    }
    NF == 7 {
        c = ($3 - $2) * 1e6 / n; s = ($4 - $2) * 1e6 / n; p = ($5 - $2) * 1e6 / n
        t = ($7 - $6) * 1e6 / n
        printf "%-17s %8.0f %8.0f %6.1fx %8.0f %6.1fx %8.0f %6.1fx\n", $1, c, s, s / c, p, p / c, t, t / c
    }'
cat <<'NOTE'

ns: nanoseconds per call (the query's time minus the same query without the
call, over the rows).  C: fluxcredits.billing_period.  SQL: the definition as
inlined SQL functions (bench_sqldef_period).  plpgsql: the same in PL/pgSQL.
2st: only the two starts of the definition for a known k, no search (a floor
for any SQL formulation).  ratio: that column / C.
NOTE

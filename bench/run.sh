#!/usr/bin/env bash
# bench/run.sh: fluxcredits' benchmarks in one run (`make bench`).
#
# Starts a throwaway PostgreSQL cluster with default durability (fsync and
# synchronous_commit on), loads ACCOUNTS accounts spread over the plans, and
# runs pgbench (-M prepared; 1, 4 and 16 clients; -T BENCH_SECONDS; each run
# BENCH_REPEAT times, interleaved) over these workloads:
#
#   floor         one statement: a counter row of a random Pro account
#                 updated, a ledger row inserted (the least a meter writes)
#   peer          a hand-written PL/pgSQL meter (bench/peer_setup.sql), compression
#   consume       fluxcredits.credits_consume, compression, random Pro account
#   peer_ai       the PL/pgSQL meter, one AI credit, random Agency account
#   consume_ai    credits_consume, one AI credit, random Agency account
#   peer_hot      the PL/pgSQL meter, every client on one Pro account
#   consume_hot   credits_consume, every client on one Pro account (unlimited)
#   peer_hot_ai   the PL/pgSQL meter, every client on one account, AI, on a
#                 plan with 2,000,000,000 AI credits a month (limited, enough)
#   consume_hot_ai credits_consume, same
#   peer_topup    the PL/pgSQL meter, one AI credit, random Free account with
#                 a top-up (no monthly AI credits: every credit from the top-up)
#   consume_topup credits_consume, same: fluxcredits' exact path (context
#                 figures: the issue's targets name none for it)
#   pk_select     a primary-key SELECT of an account row
#   usage         fluxcredits.credits_usage of a random account
#   insert_bulk_plain  one INSERT of 10,000 rows into an app table (id text
#                 PRIMARY KEY, account_id text, image text) with no trigger
#   insert_bulk_compression  the same INSERT into an identical table with the
#                 compression trigger (fluxcredits.attach(table, 'compression',
#                 'account_id')), every row of a statement on one account (one
#                 of 8) of a plan 'Bulk' whose limits (2,000,000,000) are
#                 limited but enough
#   insert_bulk_ai  the same with the AI trigger and an image column
#                 (attach(table, 'ai', 'account_id', 'image')), a distinct
#                 image per row
#   insert_one    a one-row INSERT into an app table with the compression
#                 trigger (attach), random Pro account, 16 clients: in two
#                 databases set up alike, one with the current build and one
#                 with fluxcredits 1.5 (BENCH_BASE_REF), runs alternating
#                 (1.5, current, 1.5, current, ...); 1.5's row is insert_one_1.5
#
# then bench/billing_period.sh (the C billing period against its SQL
# definition, on its own cluster; each query 7 times, the fastest counts:
# with 3, the C function's per-call figure, a difference of two timings,
# swung between 63 and 195 ns in UTC with one library, with 7 between 75
# and 87), and the ledger's bytes per charge: in a
# fresh database, CHARGES compression charges with a 36-character image
# reference, pg_total_relation_size(ledger, indexes included) / rows.
#
# The bulk workloads run with 1 client, -t BENCH_BULK_TX transactions (not
# -T), each run into its table emptied by TRUNCATE just before, so that the
# plain and the triggered runs insert the same rows into tables of the same
# size (the ledger the triggers write is never emptied: it grows as it would).
# insert_one runs with 16 clients only, the other workloads with BENCH_CLIENTS.
#
# fluxcredits 1.5 beside the current build (insert_one only): 1.5's src/ and
# sql/ (git archive BENCH_BASE_REF) are built in the temp dir as a library
# fluxcredits15.so, and installed as an extension of another name,
# fluxcredits15 (SHAREDIR/extension/fluxcredits15.control and
# fluxcredits15--1.5.sql; the control file points at the library in the
# temp dir, with schema fluxcredits, which 1.5's C code names in its
# queries); a second database runs CREATE EXTENSION fluxcredits15.  Both
# files are removed on exit, whatever happens; the installed fluxcredits is
# not touched.  Writing them needs root (or a writable SHAREDIR); without,
# insert_one_1.5 is not measured and the report says why.
#
# Prints the figures and the issue's targets as PASS/FAIL, and writes them to
# bench/results/last-run.md.  The floor's and the peer's tables have the
# shapes of fluxcredits 1.0 (bench/tables.sql).
#
# Needs the extension installed (`make install`), and left as it is while
# it runs: every pgbench run opens new connections, which load whatever
# library is installed at that moment.  As root the cluster runs
# as the `postgres` OS user; otherwise as the current user.  The cluster is
# removed on exit, whatever happens.
#
#   PG_CONFIG        pg_config (default /usr/lib/postgresql/15/bin/pg_config)
#   BENCH_SECONDS    -T of each pgbench run (default 10)
#   BENCH_REPEAT     runs of each (workload, clients); the best TPS counts (default 2)
#   BENCH_READ_REPEAT  runs of pk_select and usage (default twice BENCH_REPEAT):
#                    the shortest transactions, so the noisiest (their spread
#                    was 19-35% in three runs of three); read-only, so their
#                    extra runs change nothing for the other workloads
#   BENCH_CLIENTS    client counts (default "1 4 16"; not the bulk workloads' 1
#                    nor insert_one's 16)
#   BENCH_WORKLOADS  a subset of the workloads above (default all), e.g.
#                    "insert_bulk_plain insert_bulk_compression insert_bulk_ai insert_one"
#   BENCH_BULK_TX    -t of each bulk run: INSERTs of 10,000 rows (default 10)
#   BENCH_BULK_REPEAT  runs of each bulk workload (default BENCH_REPEAT + 1;
#                    BENCH_QUICK: 1)
#   BENCH_ONE_REPEAT runs of insert_one on each build (default twice BENCH_REPEAT;
#                    BENCH_QUICK: 1)
#   BENCH_BASE_REF   the git commit of the build insert_one is compared with
#                    (default cfeb3d8, fluxcredits 1.5)
#   BENCH_ONE_AA=1   an A/A check of insert_one's comparison: its "current"
#                    database gets the base build too, so that the ratio
#                    shows the harness' own bias and noise (about 1.0 expected)
#   BENCH_MAX_LOCKS  max_locks_per_transaction of the cluster (default: the
#                    server's, 64).  1.5's AI trigger takes an advisory lock
#                    per image: insert_bulk_ai's 10,000 in one transaction
#                    overflow the lock table of this cluster (64 x about 72
#                    backends with max_connections 50): "out of shared
#                    memory" (with max_connections 100 they fit, just).  256
#                    lets 1.5 finish it; the report then says it was set
#   BENCH_QUICK=1    smoke test: T=3, one run, 10,000 accounts, 100,000 ledger
#                    charges, 3 bulk transactions a run
#   BENCH_PROFILE=1  also load pg_stat_statements (track = all) and write the
#                    top statements of each run to bench/results/last-profile.txt
#                    (it costs time inside the functions: ratios are then skewed)
#   BENCH_SKIP_BP=1  skip bench/billing_period.sh
#   BENCH_CHECKPOINT=0  no CHECKPOINT before each run (default: one before
#                    each, so that every run starts alike; a short run right
#                    after a CHECKPOINT writes a full-page image for every
#                    page it touches first, which production, with
#                    checkpoints minutes apart, pays far less often)

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    T=${BENCH_SECONDS:-3}; REPEAT=${BENCH_REPEAT:-1}; READ_REPEAT=${BENCH_READ_REPEAT:-$REPEAT}
    ACCOUNTS=${BENCH_ACCOUNTS:-10000}; CHARGES=${BENCH_CHARGES:-100000}
    BP_ROWS=200000; BP_REPEAT=1; WARMUP=1
    BULK_TX=${BENCH_BULK_TX:-3}; BULK_REPEAT=${BENCH_BULK_REPEAT:-$REPEAT}; ONE_REPEAT=${BENCH_ONE_REPEAT:-$REPEAT}
else
    T=${BENCH_SECONDS:-10}; REPEAT=${BENCH_REPEAT:-2}; READ_REPEAT=${BENCH_READ_REPEAT:-$((2 * REPEAT))}
    ACCOUNTS=${BENCH_ACCOUNTS:-100000}; CHARGES=${BENCH_CHARGES:-1000000}
    BP_ROWS=1000000; BP_REPEAT=7; WARMUP=2
    BULK_TX=${BENCH_BULK_TX:-10}; BULK_REPEAT=${BENCH_BULK_REPEAT:-$((REPEAT + 1))}; ONE_REPEAT=${BENCH_ONE_REPEAT:-$((2 * REPEAT))}
fi
CLIENTS=${BENCH_CLIENTS:-"1 4 16"}
BULK_WORKLOADS="insert_bulk_plain insert_bulk_compression insert_bulk_ai"
ALL_WORKLOADS="floor peer consume peer_ai consume_ai peer_hot consume_hot peer_hot_ai consume_hot_ai peer_topup consume_topup pk_select usage $BULK_WORKLOADS insert_one"
BULK_ROWS=10000   # rows of one bulk INSERT (bench/insert_bulk_*.sql)
ONE_CLIENTS=16    # insert_one's clients
BASE_REF=${BENCH_BASE_REF:-cfeb3d8}
WORKLOADS=${BENCH_WORKLOADS:-$ALL_WORKLOADS}
PROFILE=${BENCH_PROFILE:-0}
CHECKPOINT=${BENCH_CHECKPOINT:-1}
RESULTS_DIR=$BENCH_DIR/results
[ $((ACCOUNTS % 4)) -eq 0 ] || { echo "error: the number of accounts must be a multiple of 4" >&2; exit 2; }
MAXR=$((ACCOUNTS / 4 - 1))

die() { echo "error: $*" >&2; exit 2; }
say() { printf '==> %s\n' "$*"; }
contains() { case " $1 " in *" $2 "*) return 0 ;; *) return 1 ;; esac; }
for w in $WORKLOADS; do
    contains "$ALL_WORKLOADS" "$w" || die "unknown workload $w (one of: $ALL_WORKLOADS)"
    [ -f "$BENCH_DIR/$w.sql" ] || die "missing bench/$w.sql"
done

[ -x "$PG_CONFIG" ] || command -v "$PG_CONFIG" >/dev/null 2>&1 ||
    die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
BINDIR=$("$PG_CONFIG" --bindir)
SHAREDIR=$("$PG_CONFIG" --sharedir)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
if [ ! -f "$SHAREDIR/extension/fluxcredits.control" ] || [ ! -f "$PKGLIBDIR/fluxcredits.so" ]; then
    die "fluxcredits is not installed for $PG_CONFIG; install it first:
    make PG_CONFIG=$PG_CONFIG && sudo make PG_CONFIG=$PG_CONFIG install"
fi
PGBENCH=$BINDIR/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || die "pgbench not found"
if [ "$PROFILE" = 1 ] && [ ! -f "$SHAREDIR/extension/pg_stat_statements.control" ]; then
    die "BENCH_PROFILE=1 needs pg_stat_statements (Debian: postgresql-contrib / postgresql-15)"
fi

. "$BENCH_DIR/lib.sh"

# Figures that the machine and the build give.
ENV_NPROC=$(nproc)
ENV_MEM=$(free -g | awk '/^Mem:/ { printf "%s GiB total, %s GiB available", $2, $7 }')
ENV_CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
ENV_GIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
if [ -n "$(git -C "$ROOT" status --porcelain -- src sql 2>/dev/null)" ]; then
    ENV_GIT="$ENV_GIT + uncommitted changes in src/ or sql/"
fi
CMD="$(for v in BENCH_QUICK BENCH_SECONDS BENCH_REPEAT BENCH_READ_REPEAT BENCH_CLIENTS BENCH_WORKLOADS BENCH_PROFILE \
                 BENCH_BULK_TX BENCH_BULK_REPEAT BENCH_ONE_REPEAT BENCH_BASE_REF BENCH_ONE_AA BENCH_MAX_LOCKS; do
          if [ -n "${!v:-}" ]; then printf '%s=%q ' "$v" "${!v}"; fi; done)bash bench/run.sh"
START_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# The build insert_one is compared with (BASE_REF, 1.5): its version, and the
# name of its row and of the extension it is installed as.
BASE_VERSION=$(git -C "$ROOT" show "$BASE_REF:fluxcredits.control" 2>/dev/null |
               sed -n "s/^default_version = '\([0-9.]*\)'.*/\1/p" || true)
BASE_LABEL=insert_one_${BASE_VERSION:-$BASE_REF}
BASE_EXT=fluxcredits$(tr -d . <<<"${BASE_VERSION:-base}")
BASE_FILES=""   # what this run installed for it, removed on exit
BASE_NOTE=""    # why it was not measured, if it was not

bench_tmpdir
STARTED=""

cleanup() {
    local rc=$? f
    if [ -n "$STARTED" ]; then
        as_runner "$BINDIR/pg_ctl" stop -D "$TMP/data" -m immediate >/dev/null 2>&1 || true
        STARTED=""
    fi
    for f in $BASE_FILES; do
        rm -f "$f" || echo "warning: could not remove $f" >&2
    done
    BASE_FILES=""
    if [ "$rc" -ne 0 ] && [ -f "$TMP/server.log" ]; then
        echo "--- last lines of the server log ---" >&2
        tail -n 20 "$TMP/server.log" >&2 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# fluxcredits BASE_VERSION (1.5) beside the current build, for insert_one:
# built from git in the temp dir as the library BASE_EXT.so and installed as
# the extension BASE_EXT (a control file and the install script, removed on
# exit; the control file points at the library in the temp dir).  Nothing in
# 1.5 depends on the extension's name: its C code names the schema
# fluxcredits (kept: schema = fluxcredits, one extension per database), its
# SQL says @extschema@ and MODULE_PATHNAME.  A backend loads one of the two
# libraries only: each database has one of the extensions, and pgbench and
# psql connect to one database.
# ---------------------------------------------------------------------------
build_base() {
    local src=$TMP/base ext_dir=$SHAREDIR/extension f
    local control=$ext_dir/$BASE_EXT.control script=$ext_dir/$BASE_EXT--$BASE_VERSION.sql
    [ -n "$BASE_VERSION" ] || { BASE_NOTE="no fluxcredits.control with a default_version at $BASE_REF in git"; return 1; }
    [ -w "$ext_dir" ] || { BASE_NOTE="$ext_dir is not writable (run as root to compare with $BASE_VERSION)"; return 1; }
    for f in "$control" "$script"; do
        if [ -e "$f" ] && ! grep -q 'installed by bench/run.sh' "$f"; then
            BASE_NOTE="$f exists and is not the bench's: left alone"; return 1
        fi
    done
    mkdir -p "$src"
    if ! git -C "$ROOT" archive "$BASE_REF" src sql fluxcredits.control | tar -x -C "$src"; then
        BASE_NOTE="git archive $BASE_REF failed"; return 1
    fi
    [ -f "$src/sql/fluxcredits--$BASE_VERSION.sql" ] ||
        { BASE_NOTE="no sql/fluxcredits--$BASE_VERSION.sql at $BASE_REF"; return 1; }
    cat >"$src/Makefile" <<EOF
MODULE_big = $BASE_EXT
OBJS = \$(patsubst %.c,%.o,\$(sort \$(wildcard src/*.c)))
PG_CONFIG = $PG_CONFIG
PGXS := \$(shell \$(PG_CONFIG) --pgxs)
PG_CPPFLAGS = -isystem \$(shell \$(PG_CONFIG) --includedir-server)
include \$(PGXS)
EOF
    if ! make -C "$src" -j "$ENV_NPROC" with_llvm=no >"$TMP/base-build.log" 2>&1; then
        BASE_NOTE="the build of $BASE_REF failed: $(grep -m 1 -E 'error' "$TMP/base-build.log" || tail -n 1 "$TMP/base-build.log")"
        return 1
    fi
    chmod -R a+rX "$src"
    BASE_FILES="$control $script"
    sed -e "s|^module_pathname = .*|module_pathname = '$src/$BASE_EXT.so'|" \
        -e "s|^comment = .*|comment = 'fluxcredits $BASE_VERSION ($BASE_REF), installed by bench/run.sh, removed when it exits'|" \
        "$src/fluxcredits.control" >"$control"
    { echo "-- installed by bench/run.sh: fluxcredits $BASE_VERSION ($BASE_REF) as $BASE_EXT; removed when it exits"
      cat "$src/sql/fluxcredits--$BASE_VERSION.sql"; } >"$script"
    grep -q "^module_pathname = '$src/$BASE_EXT.so'" "$control" ||
        { BASE_NOTE="could not point $control at $src/$BASE_EXT.so"; return 1; }
    return 0
}
BASE_OK=0
if contains "$WORKLOADS" insert_one; then
    say "fluxcredits ${BASE_VERSION:-?} ($BASE_REF) as the extension $BASE_EXT, for insert_one"
    if build_base; then
        BASE_OK=1
    else
        echo "warning: $BASE_LABEL not measured: $BASE_NOTE" >&2
    fi
fi

# ---------------------------------------------------------------------------
# billing_period first, on its own cluster, while nothing else runs.
# ---------------------------------------------------------------------------
BP_STATUS="skipped"
: >"$TMP/bp.out"
if [ "${BENCH_SKIP_BP:-0}" != 1 ]; then
    if [ -f "$BENCH_DIR/billing_period.sh" ]; then
        say "bench/billing_period.sh (ROWS=$BP_ROWS REPEAT=$BP_REPEAT)"
        if PG_CONFIG=$PG_CONFIG ROWS=$BP_ROWS REPEAT=$BP_REPEAT \
            bash "$BENCH_DIR/billing_period.sh" >"$TMP/bp.out" 2>&1; then
            BP_STATUS="ok"
        else
            BP_STATUS="failed"
            echo "warning: bench/billing_period.sh failed; its output:" >&2
            tail -n 20 "$TMP/bp.out" >&2
        fi
    else
        BP_STATUS="missing"
        echo "warning: bench/billing_period.sh not found; no billing_period figures" >&2
    fi
fi

# ---------------------------------------------------------------------------
# The cluster.
# ---------------------------------------------------------------------------
bench_port 55500 55599

say "initdb in $TMP (port $PORT, socket in $TMP, no TCP)"
as_runner "$BINDIR/initdb" -D "$TMP/data" -A trust -U bench -E UTF8 --locale=C.UTF-8 \
    >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; exit 2; }
{
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$TMP'"
    echo "port = $PORT"
    echo "shared_buffers = 256MB"
    echo "max_connections = 50"
    echo "timezone = 'UTC'"
    if [ -n "${BENCH_MAX_LOCKS:-}" ]; then echo "max_locks_per_transaction = $BENCH_MAX_LOCKS"; fi
    # fsync, synchronous_commit, full_page_writes, wal_level: defaults.
    if [ "$PROFILE" = 1 ]; then
        echo "shared_preload_libraries = 'pg_stat_statements'"
        echo "pg_stat_statements.track = all"
    fi
} >>"$TMP/data/postgresql.conf"
as_runner "$BINDIR/pg_ctl" start -w -D "$TMP/data" -l "$TMP/server.log" >/dev/null ||
    { cat "$TMP/server.log" >&2; exit 2; }
STARTED=1

# What one WAL flush costs here: the ceiling of one client's commits.
FSYNC_RATE=$(as_runner "$BINDIR/pg_test_fsync" -s 1 -f "$TMP/fsync.test" 2>/dev/null |
             awk '/^Compare file sync methods using one 8kB write/ { t = 1 } t && $1 == "fdatasync" { print $2; exit }' || true)
rm -f "$TMP/fsync.test"
say "fdatasync of one 8kB write: ${FSYNC_RATE:-?} per second (pg_test_fsync)"

psql_db() {
    local db=$1; shift
    as_runner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$TMP" -p "$PORT" -U bench -d "$db" "$@"
}
psql_run() { psql_db bench "$@"; }
psql_val() { psql_run -At -c "$1"; }

psql_db postgres -c "CREATE DATABASE bench"
SERVER_VERSION=$(psql_val "SHOW server_version")
FC_VERSION="?"
say "PostgreSQL $SERVER_VERSION; fsync=$(psql_val 'SHOW fsync'), synchronous_commit=$(psql_val 'SHOW synchronous_commit'), shared_buffers=$(psql_val 'SHOW shared_buffers')"

# Workload files, readable by the runner.
mkdir -p "$TMP/w"
cp "$BENCH_DIR"/*.sql "$TMP/w/"
chmod -R a+rX "$TMP/w"

# ---------------------------------------------------------------------------
# Set-up: the extension, ACCOUNTS accounts, the floor's and the peer's tables.
# ---------------------------------------------------------------------------
say "loading $ACCOUNTS accounts (a1..a$ACCOUNTS; i % 4: 0 Free, 1 Starter, 2 Pro, 3 Agency)"
SECONDS=0
psql_run -f "$TMP/w/tables.sql" -v schema=bench_floor
psql_run -f "$TMP/w/tables.sql" -v schema=bench_peer
psql_run -f "$TMP/w/peer_setup.sql"
psql_run -c "CREATE EXTENSION fluxcredits"
FC_VERSION=$(psql_val "SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits'")
psql_run -v n="$ACCOUNTS" -f "$TMP/w/accounts.sql"
psql_run <<'SQL'
SET timezone = 'UTC';
INSERT INTO bench_peer.accounts (account, plan, anchor, tz)
SELECT account, plan, anchor, tz FROM bench_accounts ORDER BY i;
INSERT INTO bench_floor.accounts (account, plan, anchor, tz)
SELECT account, plan, anchor, tz FROM bench_accounts ORDER BY i;
-- The floor updates an existing counter row of the current period.
INSERT INTO bench_floor.counters (account, kind, period_start, period_end)
SELECT b.account, k.kind, lower(p), upper(p)
  FROM bench_accounts b,
       LATERAL fluxcredits.billing_period(b.anchor, now(), b.tz) p,
       (VALUES ('compression'::bench_floor.credit_kind), ('ai')) k(kind)
 ORDER BY b.i, k.kind;

-- The hot accounts: every client on one account.  The hot AI account is on
-- a plan (plans are data) whose monthly AI allocation the runs cannot use
-- up: a limited kind with enough credits, as the issue asks.  (Credits
-- drawn from a top-up always take fluxcredits' exact path, which locks the
-- account like the peer does.)
INSERT INTO fluxcredits.plans VALUES ('Bench Hot', NULL, 2000000000);
INSERT INTO bench_peer.plans VALUES ('Bench Hot', NULL, 2000000000);
SELECT fluxcredits.credits_open_account('hot_pro', 'Pro', now() - interval '10 days');
SELECT fluxcredits.credits_open_account('hot_agency', 'Bench Hot', now() - interval '10 days');
INSERT INTO bench_peer.accounts (account, plan, anchor, tz) VALUES
    ('hot_pro', 'Pro', now() - interval '10 days', 'UTC'),
    ('hot_agency', 'Bench Hot', now() - interval '10 days', 'UTC');

-- Every Free account (no monthly AI credits) buys a top-up, so that an AI
-- charge on it comes wholly from the top-up (peer_topup, consume_topup).
SELECT count(fluxcredits.credits_topup(account, 1000000, 'bench-topup-' || account))
  FROM bench_accounts WHERE plan = 'Free' \g /dev/null
UPDATE bench_peer.accounts SET topup_balance = 1000000 WHERE plan = 'Free';
SQL

# The bulk workloads' tables: one shape, one index; a trigger on two of them,
# made by attach() (the trigger's own form may change between versions).
# Their accounts are on a plan whose limits are limited (so that every row's
# limit check runs) but enough.
if contains "$WORKLOADS" insert_bulk_plain || contains "$WORKLOADS" insert_bulk_compression ||
   contains "$WORKLOADS" insert_bulk_ai; then
    psql_run <<'SQL'
INSERT INTO fluxcredits.plans (name, compression_limit, ai_monthly) VALUES ('Bulk', 2000000000, 2000000000);
SELECT count(fluxcredits.credits_open_account('bulk' || i, 'Bulk', now() - interval '10 days'))
  FROM generate_series(1, 8) i \g /dev/null
CREATE SCHEMA bench_bulk;
CREATE SEQUENCE bench_bulk.batch;
CREATE TABLE bench_bulk.plain (id text PRIMARY KEY, account_id text, image text);
CREATE TABLE bench_bulk.compression (id text PRIMARY KEY, account_id text, image text);
CREATE TABLE bench_bulk.ai (id text PRIMARY KEY, account_id text, image text);
SELECT fluxcredits.attach('bench_bulk.compression', 'compression', 'account_id') \g /dev/null
SELECT fluxcredits.attach('bench_bulk.ai', 'ai', 'account_id', 'image') \g /dev/null
SQL
fi

# insert_one: two databases set up alike (the accounts above, an app table
# with the compression trigger made by attach()), one with the current
# build, one with BASE_VERSION's.
ONE_DBS=""
setup_one_db() { # database extension (each step checked: errexit is off in an if)
    psql_db postgres -c "CREATE DATABASE $1" || return 1
    psql_db "$1" -c "CREATE EXTENSION $2" || return 1
    psql_db "$1" -v n="$ACCOUNTS" -f "$TMP/w/accounts.sql" || return 1
    psql_db "$1" <<'SQL' || return 1
CREATE SCHEMA bench_one;
CREATE SEQUENCE bench_one.ids;
CREATE TABLE bench_one.images (id text PRIMARY KEY, account_id text, image text);
SELECT fluxcredits.attach('bench_one.images', 'compression', 'account_id') \g /dev/null
SQL
    psql_db "$1" -c "VACUUM ANALYZE"
}
if contains "$WORKLOADS" insert_one; then
    if [ "$BASE_OK" = 1 ]; then
        if setup_one_db one_base "$BASE_EXT"; then
            ONE_DBS="one_base"
            BASE_SHOWN=$(psql_db one_base -At -c "SELECT extname || ' ' || extversion FROM pg_extension WHERE extname = '$BASE_EXT'")
            say "one_base: $BASE_SHOWN ($BASE_REF), library $(psql_db one_base -At -c "SELECT probin FROM pg_proc WHERE oid = 'fluxcredits.charge()'::regprocedure")"
        else
            BASE_NOTE="its database could not be set up (CREATE EXTENSION $BASE_EXT)"
            echo "warning: $BASE_LABEL not measured: $BASE_NOTE" >&2
        fi
    fi
    if [ "${BENCH_ONE_AA:-0}" = 1 ]; then
        [ "$BASE_OK" = 1 ] || die "BENCH_ONE_AA=1 needs the base build: $BASE_NOTE"
        say "BENCH_ONE_AA=1: insert_one's current database gets $BASE_EXT too (an A/A check)"
        setup_one_db one_cur "$BASE_EXT"
    else
        setup_one_db one_cur fluxcredits
    fi
    ONE_DBS="$ONE_DBS one_cur"
fi

psql_run -c "VACUUM ANALYZE"
say "loaded in ${SECONDS}s"

# Warn when the extension's ledger no longer has the bench copy's columns.
FC_COLS=$(psql_val "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                     WHERE attrelid = 'fluxcredits.ledger'::regclass AND attnum > 0 AND NOT attisdropped")
BENCH_COLS=$(psql_val "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
                        WHERE attrelid = 'bench_peer.ledger'::regclass AND attnum > 0 AND NOT attisdropped")
LEDGER_NOTE=""
if [ "$FC_COLS" != "$BENCH_COLS" ]; then
    LEDGER_NOTE="fluxcredits.ledger's columns ($FC_COLS) differ from the floor's and peer's 1.0 copy ($BENCH_COLS)"
    echo "note: $LEDGER_NOTE" >&2
fi
# ... and when its indexes differ in number (the floor's and peer's copy has 1.0's five).
FC_IDX=$(psql_val "SELECT string_agg(c.relname, ', ' ORDER BY c.relname) FROM pg_index i
                    JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'fluxcredits.ledger'::regclass")
FC_NIDX=$(psql_val "SELECT count(*) FROM pg_index WHERE indrelid = 'fluxcredits.ledger'::regclass")
BENCH_NIDX=$(psql_val "SELECT count(*) FROM pg_index WHERE indrelid = 'bench_peer.ledger'::regclass")
if [ "$FC_NIDX" != "$BENCH_NIDX" ]; then
    note="fluxcredits.ledger has $FC_NIDX indexes ($FC_IDX); the floor's and peer's 1.0 copy has $BENCH_NIDX"
    echo "note: $note" >&2
    LEDGER_NOTE="${LEDGER_NOTE:+$LEDGER_NOTE; }$note"
fi

# ---------------------------------------------------------------------------
# pgbench runs.
# ---------------------------------------------------------------------------
# What a run is measured by: its label (the row of the report: the workload,
# or BASE_LABEL for insert_one on the base build), and for a label its
# database, its ledger and the ledger rows one transaction writes.
db_of() {
    case $1 in
        insert_one) echo one_cur ;;
        "$BASE_LABEL") echo one_base ;;
        *) echo bench ;;
    esac
}
ledger_of() {
    case $1 in
        floor) echo bench_floor.ledger ;;
        peer*) echo bench_peer.ledger ;;
        consume*|insert_bulk_compression|insert_bulk_ai|insert_one|"$BASE_LABEL") echo fluxcredits.ledger ;;
        *) echo "" ;;
    esac
}
rows_per_tx() { if contains "$BULK_WORKLOADS" "$1"; then echo "$BULK_ROWS"; else echo 1; fi; }
clients_of() {
    if contains "$BULK_WORKLOADS" "$1"; then echo 1
    elif [ "$1" = insert_one ]; then echo "$ONE_CLIENTS"
    else echo "$CLIENTS"; fi
}
READ_WORKLOADS="pk_select usage"
repeat_of() {
    if contains "$READ_WORKLOADS" "$1"; then echo "$READ_REPEAT"
    elif contains "$BULK_WORKLOADS" "$1"; then echo "$BULK_REPEAT"
    elif [ "$1" = insert_one ]; then echo "$ONE_REPEAT"
    else echo "$REPEAT"; fi
}
# The labels (rows) of the selected workloads, and every client count run.
LABELS=""
for w in $WORKLOADS; do
    if [ "$w" = insert_one ]; then LABELS+=" insert_one $BASE_LABEL"; else LABELS+=" $w"; fi
done
RUN_CLIENTS=$(for w in $WORKLOADS; do clients_of "$w"; done | tr ' ' '\n' | grep . | sort -n -u | tr '\n' ' ')
RUN_CLIENTS=${RUN_CLIENTS% }

pgbench_run() { # db workload clients logfile -T seconds | -t transactions
    local db=$1 w=$2 c=$3 log=$4 j
    shift 4
    j=$(( c < 2 ? c : 2 ))
    as_runner "$PGBENCH" -h "$TMP" -p "$PORT" -U bench -n -M prepared \
        -c "$c" -j "$j" "$@" -D maxr="$MAXR" -D naccounts="$ACCOUNTS" \
        -f "$TMP/w/$w.sql" "$db" >"$log" 2>&1
}

say "warm-up: ${WARMUP}s of each workload at 4 clients (insert_one: 16; bulk: one transaction at 1)"
for w in $WORKLOADS; do
    if contains "$BULK_WORKLOADS" "$w"; then
        pgbench_run bench "$w" 1 "$TMP/warmup.log" -t 1 ||
            echo "warning: the warm-up of $w failed: $(grep -m 1 -E 'error|ERROR' "$TMP/warmup.log" || true)" >&2
        continue
    fi
    if [ "$w" = insert_one ]; then
        for db in $ONE_DBS; do
            pgbench_run "$db" "$w" "$ONE_CLIENTS" "$TMP/warmup.log" -T "$WARMUP" ||
                echo "warning: the warm-up of $w in $db failed: $(grep -m 1 -E 'error|ERROR' "$TMP/warmup.log" || true)" >&2
        done
        continue
    fi
    pgbench_run bench "$w" 4 "$TMP/warmup.log" -T "$WARMUP" ||
        echo "warning: the warm-up of $w failed: $(grep -m 1 -E 'error|ERROR' "$TMP/warmup.log" || true)" >&2
done

RUNS=$TMP/runs.tsv
: >"$RUNS"
mkdir -p "$RESULTS_DIR"
PROFILE_FILE=$RESULTS_DIR/last-profile.txt
rm -f "$PROFILE_FILE"
if [ "$PROFILE" = 1 ]; then
    psql_run -c "CREATE EXTENSION pg_stat_statements"
    echo "pg_stat_statements (track = all) per run, top statements by total time; $START_DATE" >"$PROFILE_FILE"
fi

# One run of label (workload w) in its database: a line of the table, a line
# of RUNS.
run_one() { # label workload clients rep
    local label=$1 w=$2 c=$3 rep=$4 db ledger per before after charged log logsize problem
    local wal tps lat done_tx failed why wal_tx fpi
    db=$(db_of "$label"); ledger=$(ledger_of "$label"); per=$(rows_per_tx "$w")
    before=0
    [ -n "$ledger" ] && before=$(psql_db "$db" -At -c "SELECT count(*) FROM $ledger")
    # A bulk run inserts into its table emptied: every run the same rows
    # into a table of the same size.
    contains "$BULK_WORKLOADS" "$w" && psql_run -c "TRUNCATE bench_bulk.${w#insert_bulk_}"
    [ "$CHECKPOINT" = 1 ] && psql_run -c "CHECKPOINT"
    psql_run -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
    [ "$PROFILE" = 1 ] && psql_run -c "SELECT pg_stat_statements_reset()" >/dev/null
    log=$TMP/run-$label-$c-$rep.log
    logsize=$(stat -c %s "$TMP/server.log")
    problem=""
    if contains "$BULK_WORKLOADS" "$w"; then
        pgbench_run "$db" "$w" "$c" "$log" -t "$BULK_TX" || problem="pgbench exited with status $?"
    else
        pgbench_run "$db" "$w" "$c" "$log" -T "$T" || problem="pgbench exited with status $?"
    fi
    if [ "$PROFILE" = 1 ]; then
        {
            echo
            echo "== $label, $c clients, run $rep: $(grep -m 1 '^tps' "$log" || echo 'no tps')"
            psql_run -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
                                round((total_exec_time / calls * 1000)::numeric, 1) AS mean_us,
                                toplevel AS top, left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS query
                           FROM pg_stat_statements
                          WHERE query NOT LIKE '%pg_stat_statements%' AND calls > 0
                          ORDER BY total_exec_time DESC LIMIT 8"
        } >>"$PROFILE_FILE"
    fi
    # WAL of the run (pg_stat_wal: every process, the run's own
    # writes nearly all of it): bytes and full-page images.
    wal=$(psql_val "SELECT wal_bytes || ' ' || wal_fpi FROM pg_stat_wal")
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$log" | tail -n 1)
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$log")
    done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
    if [ -z "$problem" ] && { [ -z "$tps" ] || [ -z "$lat" ] || [ -z "$done_tx" ]; }; then
        problem="no figures in pgbench's output"
    fi
    if [ -z "$problem" ] && [ "${failed:-0}" != 0 ]; then
        problem="$failed failed transactions"
    fi
    charged="-"
    if [ -n "$ledger" ]; then
        after=$(psql_db "$db" -At -c "SELECT count(*) FROM $ledger")
        charged=$((after - before))
        # Every processed transaction must have written its ledger rows (one
        # in flight when -T ends may add its own, per client).
        if [ -z "$problem" ] && { [ "$charged" -lt $((done_tx * per)) ] || [ "$charged" -gt $(((done_tx + c) * per)) ]; }; then
            problem="$done_tx transactions ($per charges each) but $charged new ledger rows"
        fi
    fi
    if [ -n "$problem" ]; then
        # Keep going: one broken workload must not lose the others.
        why=$( { grep -h -m 3 -E 'error|ERROR' "$log" || true
                 tail -c +$((logsize + 1)) "$TMP/server.log" | grep -m 3 'ERROR:' || true; } |
               sed 's/^[0-9-]* [0-9:.]* [A-Z]* \[[0-9]*\] //' | awk '!seen[$0]++' | head -n 3 | tr '\n' ' ')
        printf '    %-23s %7s %4s %12s   FAILED: %s\n' "$label" "$c" "$rep" "${tps:--}" "$problem"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s: %s\n' "$label" "$c" "$rep" "${tps:-0}" "${lat:-0}" "$charged" \
            "$problem" "$why" >>"$RUNS"
        return 0
    fi
    wal_tx=$(awk -v b="${wal% *}" -v n="$done_tx" 'BEGIN { printf "%.0f", (n > 0 ? b / n : 0) }')
    fpi=${wal#* }
    printf '    %-23s %7s %4s %12.1f %10.3f %10s %9s %7s\n' "$label" "$c" "$rep" "$tps" "$lat" "$charged" "$wal_tx" "$fpi"
    printf '%s\t%s\t%s\t%s\t%s\t%s\tok\t%s\t%s\n' "$label" "$c" "$rep" "$tps" "$lat" "$charged" \
        "$wal_tx" "$fpi" >>"$RUNS"
}

# The estimate: -T runs at T + 2 s (insert_one: two builds); bulk runs not counted.
est=0; maxrep=1; nbulk=0
for w in $WORKLOADS; do
    n=$(( $(clients_of "$w" | wc -w) * $(repeat_of "$w") ))
    [ "$(repeat_of "$w")" -gt "$maxrep" ] && maxrep=$(repeat_of "$w")
    if contains "$BULK_WORKLOADS" "$w"; then nbulk=$((nbulk + 1)); continue; fi
    [ "$w" = insert_one ] && n=$((n * 2))
    est=$((est + n * (T + 2)))
done
nother=0; for w in $WORKLOADS; do contains "$BULK_WORKLOADS insert_one" "$w" || nother=$((nother + 1)); done
say "runs: $nother workloads x clients ($CLIENTS) x $REPEAT, reads x $READ_REPEAT, ${T}s each (about $((est / 60 + 1)) min with insert_one's)"
[ "$nbulk" -gt 0 ] && say "  and $nbulk bulk workloads x 1 client x $BULK_REPEAT, $BULK_TX INSERTs of $BULK_ROWS rows each"
contains "$WORKLOADS" insert_one &&
    say "  and insert_one x $ONE_CLIENTS clients x $ONE_REPEAT on each build, alternating ($BASE_LABEL first)"
printf '    %-23s %7s %4s %12s %10s %10s %9s %7s\n' workload clients run tps "lat ms" charged "WAL B/tx" FPI
for rep in $(seq "$maxrep"); do
    for c in $RUN_CLIENTS; do
        for w in $WORKLOADS; do
            contains "$(clients_of "$w")" "$c" || continue
            [ "$rep" -le "$(repeat_of "$w")" ] || continue
            if [ "$w" = insert_one ]; then
                # The base build first, then the current one: A B A B.
                [ "$BASE_OK" = 1 ] && contains "$ONE_DBS" one_base && run_one "$BASE_LABEL" "$w" "$c" "$rep"
                run_one insert_one "$w" "$c" "$rep"
            else
                run_one "$w" "$w" "$c" "$rep"
            fi
        done
    done
done

# Checks after the runs: the peer computed the same periods as the
# extension, and the extension's counters agree with its ledger.
say "checks"
CHECK_NOTES=""
PEER_BAD=$(psql_val "SELECT count(*) FROM bench_peer.ledger l JOIN bench_peer.accounts a USING (account)
                      WHERE l.entry = 'consume'
                        AND l.period_start <> lower(fluxcredits.billing_period(a.anchor, l.at, a.tz))")
if [ "$PEER_BAD" = 0 ]; then
    CHECK_NOTES+="- the peer's billing periods agree with fluxcredits.billing_period on all its charges"$'\n'
else
    CHECK_NOTES+="- **the peer's billing periods disagree with fluxcredits.billing_period on $PEER_BAD charges**"$'\n'
fi
# credits_check() reads the whole ledger: bounded, so that a slow check
# cannot hold up the rest of the run.
CHECK_TIMEOUT=${BENCH_CHECK_TIMEOUT:-120}
CHECK_SIZE=$(psql_val "SELECT format('%s accounts, %s ledger rows', (SELECT count(*) FROM fluxcredits.accounts),
                                     (SELECT count(*) FROM fluxcredits.ledger))")
SECONDS=0
if CHECK_ROWS=$(psql_val "SET statement_timeout = '${CHECK_TIMEOUT}s';
                         SELECT count(*) FROM fluxcredits.credits_check()" 2>"$TMP/check.err"); then
    if [ "$CHECK_ROWS" = 0 ]; then
        CHECK_NOTES+="- fluxcredits.credits_check() after the runs: no disagreement (${SECONDS}s on $CHECK_SIZE)"$'\n'
    else
        CHECK_NOTES+="- **fluxcredits.credits_check() after the runs: $CHECK_ROWS disagreements**"$'\n'
    fi
else
    if grep -q 'statement timeout' "$TMP/check.err"; then
        CHECK_NOTES+="- **fluxcredits.credits_check() did not finish in ${CHECK_TIMEOUT}s on $CHECK_SIZE (BENCH_CHECK_TIMEOUT)**"$'\n'
    else
        CHECK_NOTES+="- **fluxcredits.credits_check() failed: $(head -n 1 "$TMP/check.err")**"$'\n'
    fi
fi
printf '%s' "$CHECK_NOTES" | sed 's/^- /    /; s/\*\*//g'

# ---------------------------------------------------------------------------
# Ledger bytes per charge, in a fresh database.
# ---------------------------------------------------------------------------
say "ledger bytes per charge: $CHARGES compression charges with a 36-character image, fresh database"
psql_db postgres -c "CREATE DATABASE ledgerbytes"
psql_db ledgerbytes -c "CREATE EXTENSION fluxcredits"
psql_db ledgerbytes -f "$TMP/w/tables.sql" -v schema=bench_peer
PRO=$(( CHARGES < 100000 ? CHARGES / 4 : 25000 ))
psql_db ledgerbytes -v n="$PRO" <<'SQL'
SELECT count(fluxcredits.credits_open_account('a' || (4 * i + 2), 'Pro',
                                               now() - ((i::bigint * 7919) % 31536000) * interval '1 second'))
  FROM generate_series(0, :n - 1) i \g /dev/null
CREATE TABLE size_before AS
SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
  FROM pg_class c WHERE c.relnamespace = 'fluxcredits'::regnamespace AND c.relkind IN ('r', 'm');
SQL
BATCH=100000
SECONDS=0
done_charges=0
LEDGER_FAIL=""
while [ "$done_charges" -lt "$CHARGES" ]; do
    n=$(( CHARGES - done_charges < BATCH ? CHARGES - done_charges : BATCH ))
    if ! psql_db ledgerbytes -At -c "SELECT count(fluxcredits.credits_consume('a' || (4 * (g % $PRO) + 2), 'compression',
                                                    image => gen_random_uuid()::text))
                                  FROM generate_series($done_charges + 1, $done_charges + $n) g" \
            >/dev/null 2>"$TMP/charges.err"; then
        LEDGER_FAIL=$(grep -m 1 ERROR "$TMP/charges.err" || head -n 1 "$TMP/charges.err")
        echo "warning: the charges failed after $done_charges: $LEDGER_FAIL" >&2
        break
    fi
    done_charges=$((done_charges + n))
done
CHARGE_SECS=$SECONDS
# The same rows in the 1.0-shaped copy, for comparison.
psql_db ledgerbytes -c "INSERT INTO bench_peer.ledger (at, account, entry, kind, period_start, monthly, image)
                        SELECT now(), 'a' || (4 * (g % $PRO) + 2), 'consume', 'compression', now(), 1,
                               gen_random_uuid()::text
                          FROM generate_series(1, $CHARGES) g"
psql_db ledgerbytes -c "VACUUM ANALYZE"
LEDGER_SIZES=$(psql_db ledgerbytes -At -F '|' <<'SQL'
-- The ledger, or every partition of it if it is partitioned.
WITH t AS (SELECT relid FROM pg_partition_tree('fluxcredits.ledger')
           UNION SELECT 'fluxcredits.ledger'::regclass)
SELECT (SELECT count(*) FROM fluxcredits.ledger),
       (SELECT sum(pg_total_relation_size(relid)) FROM t),
       (SELECT sum(pg_table_size(relid)) FROM t),
       (SELECT sum(pg_indexes_size(relid)) FROM t),
       (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
          FROM pg_class c WHERE c.relnamespace = 'fluxcredits'::regnamespace AND c.relkind IN ('r', 'm'))
         - (SELECT bytes FROM size_before),
       (SELECT count(*) FROM bench_peer.ledger),
       pg_total_relation_size('bench_peer.ledger')
SQL
)
IFS='|' read -r L_ROWS L_TOTAL L_TABLE L_INDEXES L_SCHEMA P_ROWS P_TOTAL <<<"$LEDGER_SIZES"
echo "    ledger: $L_ROWS rows, $L_TOTAL bytes with indexes; 1.0-shaped copy: $P_ROWS rows, $P_TOTAL bytes"
LEDGER_INDEXES=$(psql_db ledgerbytes -At -F ' ' -c "
    SELECT c.relname, pg_relation_size(i.indexrelid)
      FROM (SELECT relid FROM pg_partition_tree('fluxcredits.ledger')
            UNION SELECT 'fluxcredits.ledger'::regclass) t
      JOIN pg_index i ON i.indrelid = t.relid JOIN pg_class c ON c.oid = i.indexrelid
     ORDER BY 2 DESC, 1")
say "done: $L_ROWS charges in ${CHARGE_SECS}s"

as_runner "$BINDIR/pg_ctl" stop -D "$TMP/data" -m fast >/dev/null
STARTED=""
# The server's errors (deadlocks and the like), with their context.
SERVER_ERRORS=$RESULTS_DIR/last-server-errors.txt
if grep -q -E '(ERROR|FATAL|PANIC):' "$TMP/server.log"; then
    awk '/ (ERROR|FATAL|PANIC): / { keep = 1; print; next }
         keep && (/^\t/ || / (DETAIL|HINT|CONTEXT|STATEMENT): /) { print; next }
         { keep = 0 }' "$TMP/server.log" >"$SERVER_ERRORS"
    SERVER_ERROR_COUNT=$(grep -c -E ' (ERROR|FATAL|PANIC): ' "$SERVER_ERRORS" || true)
else
    rm -f "$SERVER_ERRORS"
    SERVER_ERROR_COUNT=0
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
# Best (highest-TPS) run of each (workload, clients), its latency, and the
# spread (best - worst) / best over the repetitions.
BEST=$TMP/best.tsv
awk -F'\t' '
    $7 != "ok" { next }
    { k = $1 "\t" $2
      if (!(k in best) || $4 > best[k]) { best[k] = $4; lat[k] = $5 }
      if (!(k in worst) || $4 < worst[k]) worst[k] = $4 }
    END { for (k in best) printf "%s\t%s\t%s\t%.1f\n", k, best[k], lat[k],
                                 (best[k] > 0 ? 100 * (best[k] - worst[k]) / best[k] : 0) }' "$RUNS" >"$BEST"

describe() {
    case $1 in
        floor) echo "one statement: update a counter row, insert a ledger row (random Pro account)" ;;
        peer) echo "PL/pgSQL peer_consume, compression, random Pro account" ;;
        consume) echo "credits_consume, compression, random Pro account" ;;
        peer_ai) echo "PL/pgSQL peer_consume, 1 AI credit, random Agency account" ;;
        consume_ai) echo "credits_consume, 1 AI credit, random Agency account" ;;
        peer_hot) echo "PL/pgSQL peer_consume, compression, one Pro account for all" ;;
        consume_hot) echo "credits_consume, compression (unlimited), one Pro account for all" ;;
        peer_hot_ai) echo "PL/pgSQL peer_consume, AI (2e9 a month, limited), one account for all" ;;
        consume_hot_ai) echo "credits_consume, AI (2e9 a month, limited), one account for all" ;;
        peer_topup) echo "PL/pgSQL peer_consume, 1 AI credit from the top-up, random Free account" ;;
        consume_topup) echo "credits_consume, 1 AI credit from the top-up (exact path), random Free account" ;;
        pk_select) echo "SELECT * FROM accounts WHERE account = \$1" ;;
        usage) echo "SELECT * FROM credits_usage(random account)" ;;
        insert_bulk_plain) echo "one INSERT of $BULK_ROWS rows, no trigger" ;;
        insert_bulk_compression) echo "the same INSERT, compression trigger (attach), one account of the Bulk plan (limit 2e9)" ;;
        insert_bulk_ai) echo "the same INSERT, AI trigger with an image column (attach), an image per row, one Bulk account (2e9 a month)" ;;
        insert_one) echo "one-row INSERT, compression trigger (attach), random Pro account: the current build" ;;
        "$BASE_LABEL") echo "the same on fluxcredits ${BASE_VERSION:-?} ($BASE_REF, as the extension $BASE_EXT, in its own database)" ;;
    esac
}

tps_of() { awk -F'\t' -v w="$1" -v c="$2" '$1 == w && $2 == c { print $3 }' "$BEST"; }
ratio_of() { # a b clients: tps(a) / tps(b), or empty
    local a b
    a=$(tps_of "$1" "$3"); b=$(tps_of "$2" "$3")
    if [ -n "$a" ] && [ -n "$b" ]; then
        awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
    fi
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

REPORT=$TMP/report.md
{
    echo "# fluxcredits benchmark"
    echo
    echo "- command: \`$CMD\` (\`make bench\`)"
    echo "- date: $START_DATE; fluxcredits at $ENV_GIT"
    echo "- machine: $ENV_NPROC CPUs (\`nproc\`), $ENV_CPU; memory (\`free -g\`): $ENV_MEM;"
    echo "  fdatasync of one 8kB write: ${FSYNC_RATE:-?}/s (pg_test_fsync); load average before: $LOAD_BEFORE, after: $LOAD_AFTER"
    echo "- PostgreSQL $SERVER_VERSION, throwaway cluster: fsync and synchronous_commit on (defaults),"
    echo "  shared_buffers 256MB, max_connections 50, unix socket only; pgbench on the same machine"
    [ -n "${BENCH_MAX_LOCKS:-}" ] && echo "- **max_locks_per_transaction = $BENCH_MAX_LOCKS** (BENCH_MAX_LOCKS; the server's default is 64)"
    echo "- the installed fluxcredits measured: $FC_VERSION (CREATE EXTENSION fluxcredits in the throwaway cluster)"
    echo "- $ACCOUNTS accounts (a quarter on each plan, anchors spread over the last year,"
    echo "  20% in DST zones); pgbench -n -M prepared -T $T, -j min(clients, 2), each (workload,"
    if [ "$CHECKPOINT" = 1 ]; then ck="CHECKPOINT before each"; else ck="**no CHECKPOINT between runs** (BENCH_CHECKPOINT=0)"; fi
    echo "  clients) run $REPEAT time(s) (pk_select and usage: $READ_REPEAT), runs interleaved, $ck;"
    echo "  **best run counts** (highest TPS; its mean latency); spread = (best - worst) / best"
    [ "$PROFILE" = 1 ] && echo "- **BENCH_PROFILE=1: pg_stat_statements loaded (track = all): figures are skewed**"
    [ -n "$LEDGER_NOTE" ] && echo "- note: $LEDGER_NOTE"
    nb=""; for w in $BULK_WORKLOADS; do contains "$WORKLOADS" "$w" && nb+=" $w"; done
    if [ -n "$nb" ]; then
        echo "- bulk (${nb# }): 1 client, -t $BULK_TX (INSERTs of $BULK_ROWS rows) instead of -T, each run into"
        echo "  its table emptied by TRUNCATE (same rows, same table size, same index for each), $BULK_REPEAT run(s) of each;"
        echo "  their ratios below are TPS(plain) / TPS(triggered): the triggered INSERT's time over the plain one's"
    fi
    if contains "$WORKLOADS" insert_one; then
        echo "- insert_one: $ONE_CLIENTS clients, -T $T, $ONE_REPEAT run(s) on each build, alternating ($BASE_LABEL first); each"
        echo "  build in its own database of the cluster, set up alike ($ACCOUNTS accounts, an app table with attach()'s trigger)"
        [ "${BENCH_ONE_AA:-0}" = 1 ] &&
            echo "  **BENCH_ONE_AA=1: an A/A check: insert_one's row is $BASE_EXT too, not the current build**"
        if [ "$BASE_OK" = 1 ] && contains "$ONE_DBS" one_base; then
            echo "  $BASE_LABEL: fluxcredits ${BASE_VERSION} at $BASE_REF, built from git by this run as the library"
            echo "  $BASE_EXT.so and installed as the extension $BASE_EXT (schema fluxcredits) for the run only"
        else
            echo "  **$BASE_LABEL not measured: $BASE_NOTE**"
        fi
    fi
    echo
    echo "## Throughput"
    echo
    hdr="| workload |"; sep="|---|"
    for c in $RUN_CLIENTS; do hdr+=" TPS $c cl. | ms |"; sep+="---:|---:|"; done
    echo "$hdr spread | what |"
    echo "$sep---:|---|"
    for w in $LABELS; do
        row="| $w |"; spread=0
        for c in $RUN_CLIENTS; do
            line=$(awk -F'\t' -v w="$w" -v c="$c" '$1 == w && $2 == c' "$BEST")
            if [ -n "$line" ]; then
                # Below 100 TPS (the bulk runs) with two decimals.
                row+=$(awk -F'\t' '{ printf ($3 < 100 ? " %.2f | %.3f |" : " %.0f | %.3f |"), $3, $4 }' <<<"$line")
                s=$(cut -f5 <<<"$line"); ge "$s" "$spread" && spread=$s
            else
                row+=" - | - |"
            fi
        done
        echo "$row ${spread}% | $(describe "$w") |"
    done
    echo
    echo "## Ratios and targets"
    echo
    hdr="| ratio (TPS / TPS) |"; sep="|---|"
    for c in $RUN_CLIENTS; do hdr+=" $c cl. |"; sep+="---:|"; done
    echo "$hdr target | result |"
    echo "$sep---|---|"
    # a b min target-clients ("all": every client count); a min written
    # <=N is a most: the bulk rows' TPS(plain) / TPS(triggered) is the
    # triggered INSERT's time over the plain one's.
    while read -r a b min at; do
        contains "$LABELS" "$a" && contains "$LABELS" "$b" || continue
        row="| $a / $b |"; verdict="PASS"; judged=0
        for c in $RUN_CLIENTS; do
            r=$(ratio_of "$a" "$b" "$c")
            row+=" ${r:--} |"
            if [ -n "$r" ] && { [ "$at" = all ] || [ "$at" = "$c" ]; }; then
                judged=1
                case $min in
                    "<="*) le "$r" "${min#<=}" || verdict="FAIL" ;;
                    *) ge "$r" "$min" || verdict="FAIL" ;;
                esac
            fi
        done
        [ "$judged" = 1 ] || verdict="FAIL (no figure)"
        case $min in
            "<="*) target="<= ${min#<=}x at $at cl. (time: triggered / plain)" ;;
            *) if [ "$at" = all ]; then target=">= ${min}x at every count"; else target=">= ${min}x at $at cl."; fi ;;
        esac
        [ "$min" = 0 ] && { target="(context)"; verdict=""; }
        echo "$row $target | $verdict |"
    done <<EOF
consume floor 0.9 16
consume_ai floor 0.9 16
consume peer 1.3 16
consume_ai peer_ai 1.3 16
consume_hot peer_hot 2 16
consume_hot_ai peer_hot_ai 2 16
usage pk_select 0.8 all
peer floor 0 -
consume_hot consume 0 -
consume_topup peer_topup 0 -
consume_topup floor 0 -
consume_topup consume_ai 0 -
insert_bulk_plain insert_bulk_compression <=5 1
insert_bulk_plain insert_bulk_ai <=8 1
insert_one $BASE_LABEL 0.95 $ONE_CLIENTS
EOF
    if contains "$WORKLOADS" usage && contains "$WORKLOADS" pk_select; then
        echo
        echo "usage / pk_select run by run (each usage run against the pk_select run just"
        echo "before it, in the order they ran; the median after the list):"
        echo
        for c in $CLIENTS; do
            awk -F'\t' -v c="$c" '$2 == c && $7 == "ok" && $1 == "pk_select" { pk[$3] = $4 }
                $2 == c && $7 == "ok" && $1 == "usage" { u[$3] = $4 }
                END { n = 0
                      for (r = 1; r <= 1000; r++) if ((r in pk) && (r in u) && pk[r] > 0) { x[++n] = u[r] / pk[r] }
                      if (!n) exit
                      line = ""
                      for (i = 1; i <= n; i++) line = line sprintf(" %.2f", x[i])
                      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
                      med = (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
                      printf "- %s cl.:%s (median %.2f)\n", c, line, med }' "$RUNS"
        done
    fi
    if contains "$LABELS" insert_one && grep -q "^$BASE_LABEL"$'\t' "$RUNS"; then
        echo
        echo "insert_one / $BASE_LABEL run by run (each run of the current build against the"
        echo "$BASE_LABEL run just before it; the median after the list; the target is judged on"
        echo "the best runs above):"
        echo
        awk -F'\t' -v c="$ONE_CLIENTS" -v b="$BASE_LABEL" '$2 == c && $7 == "ok" && $1 == b { base[$3] = $4 }
            $2 == c && $7 == "ok" && $1 == "insert_one" { cur[$3] = $4 }
            END { n = 0
                  for (r = 1; r <= 1000; r++) if ((r in base) && (r in cur) && base[r] > 0) { x[++n] = cur[r] / base[r] }
                  if (!n) exit
                  line = ""
                  for (i = 1; i <= n; i++) line = line sprintf(" %.2f", x[i])
                  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
                  med = (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
                  printf "- %s cl.:%s (median %.2f)\n", c, line, med }' "$RUNS"
    fi
    echo
    echo "## WAL per transaction"
    echo
    echo "Mean over the runs at the most clients of each workload (pg_stat_wal, reset before"
    echo "each run): bytes per transaction and full-page images per run."
    echo
    echo "| workload | WAL bytes / tx | full-page images / run |"
    echo "|---|---:|---:|"
    for w in $LABELS; do
        cmax=$(awk -F'\t' -v w="$w" '$1 == w && $7 == "ok" && $2 + 0 > m { m = $2 + 0 } END { print m + 0 }' "$RUNS")
        awk -F'\t' -v w="$w" -v c="$cmax" '$1 == w && $2 == c && $7 == "ok" && $8 != "" { b += $8; f += $9; n++ }
            END { if (n) printf "| %s | %.0f | %.0f |\n", w, b / n, f / n }' "$RUNS"
    done
    echo
    if awk -F'\t' '$7 != "ok" { found = 1 } END { exit !found }' "$RUNS"; then
        echo "## Failed runs (not counted above)"
        echo
        echo "| workload | clients | run | problem |"
        echo "|---|---:|---:|---|"
        awk -F'\t' '$7 != "ok" { gsub(/\|/, "\\|", $7); printf "| %s | %s | %s | %s |\n", $1, $2, $3, $7 }' "$RUNS"
        echo
    fi
    echo "## Checks"
    echo
    printf '%s' "$CHECK_NOTES"
    if [ "$SERVER_ERROR_COUNT" -gt 0 ]; then
        echo "- the server logged $SERVER_ERROR_COUNT errors: bench/results/last-server-errors.txt"
    else
        echo "- the server logged no error"
    fi
    echo
    echo "## billing_period: the C function against its SQL definition"
    echo
    if [ "$BP_STATUS" = ok ]; then
        echo "\`bench/billing_period.sh\` (ROWS=$BP_ROWS, REPEAT=$BP_REPEAT; its own throwaway cluster, run first):"
        echo
        echo '```'
        sed -n '/^zone /,$p' "$TMP/bp.out"
        echo '```'
        echo
        BP_MIN=$(awk '/^zone /{ t = 1; next } t && NF >= 4 && $4 ~ /x$/ { r = $4; sub(/x$/, "", r);
                      if (m == "" || r + 0 < m) m = r + 0 } END { print m }' "$TMP/bp.out")
        if [ -n "$BP_MIN" ]; then
            v=FAIL; ge "$BP_MIN" 10 && v=PASS
            echo "| target | measured | result |"
            echo "|---|---:|---|"
            echo "| billing_period >= 10x the SQL definition (worst zone) | ${BP_MIN}x | $v |"
        else
            echo "(could not read the ratio from its output)"
        fi
    else
        echo "not measured: bench/billing_period.sh $BP_STATUS"
    fi
    echo
    echo "## Ledger bytes per charge"
    echo
    echo "$L_ROWS compression charges (\`credits_consume(..., image => gen_random_uuid()::text)\`,"
    echo "$PRO Pro accounts, batches of $BATCH, ${CHARGE_SECS}s in one session) in a fresh database, then VACUUM:"
    echo
    if [ -n "$LEDGER_FAIL" ]; then
        echo "**The charges failed after $done_charges of $CHARGES: $LEDGER_FAIL**"
        echo
    fi
    [ "${L_ROWS:-0}" -gt 0 ] && [ "${P_ROWS:-0}" -gt 0 ] && awk -v rows="$L_ROWS" -v tot="$L_TOTAL" -v tab="$L_TABLE" -v idx="$L_INDEXES" -v sch="$L_SCHEMA" \
        -v prows="$P_ROWS" -v ptot="$P_TOTAL" 'BEGIN {
        v = (tot / rows <= 200) ? "PASS" : "FAIL"
        print "| what | bytes | bytes per charge | target | result |"
        print "|---|---:|---:|---|---|"
        printf "| fluxcredits.ledger, indexes included | %d | **%.1f** | <= 200 | %s |\n", tot, tot / rows, v
        printf "| of which the table (heap, TOAST, FSM, VM) | %d | %.1f | | |\n", tab, tab / rows
        printf "| of which its indexes | %d | %.1f | | |\n", idx, idx / rows
        printf "| growth of every fluxcredits table (counters too; batched charges leave dead versions) | %d | %.1f | | |\n", sch, sch / rows
        printf "| the 1.0 ledger shape (bench copy), same rows by INSERT | %d | %.1f | | |\n", ptot, ptot / prows
        print "| pgledger, reference figure | | 743 | | |"
    }'
    echo
    [ "${L_ROWS:-0}" -gt 0 ] && echo "Indexes of the ledger: $(awk '{ printf "%s%s %.1f B/charge", (NR > 1 ? ", " : ""), $1, $2 / r }' r="$L_ROWS" <<<"$LEDGER_INDEXES")."
    true
} >"$REPORT"

cp "$REPORT" "$RESULTS_DIR/last-run.md"
cp "$RUNS" "$RESULTS_DIR/last-runs.tsv"
echo
cat "$REPORT"
echo
say "written to bench/results/last-run.md (every run: bench/results/last-runs.tsv)"

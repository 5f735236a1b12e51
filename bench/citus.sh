#!/usr/bin/env bash
# bench/citus.sh: charges on a single node against charges on Citus, in one
# run (issue 21; `make bench` runs it after bench/run.sh).
#
# Starts four throwaway clusters on this machine, all alike (default
# durability: fsync and synchronous_commit on; TCP on 127.0.0.1, which
# Citus's nodes use to reach each other, and which pgbench uses for every
# cluster alike):
#
#   single   fluxcredits without Citus
#   coord    a Citus coordinator (citus_set_coordinator_host: it holds no
#            hash shards), with
#   w1, w2   two workers; CREATE EXTENSION fluxcredits on the coordinator,
#            then SELECT fluxcredits.distribute()
#
# ACCOUNTS accounts c1 .. cN on Pro (unlimited compression) on the single
# node and on Citus (opened one statement each through the coordinator, so
# that each is delegated to its worker). Then pgbench (CLIENTS clients, -T
# BENCH_SECONDS, bench/citus_consume.sql: credits_consume of one compression
# credit on a random account), each run BENCH_REPEAT times, interleaved:
#
#   single        pgbench on the single node
#   coordinator   pgbench on the coordinator (each charge delegated to the
#                 worker holding the account)
#   worker        pgbench on worker w1 as the entry node (a charge of an
#                 account on w2 is delegated there)
#   local         pgbench on worker w1, each charge for an account w1 holds
#                 (bench/citus_consume_local.sql: the account by number from
#                 a local table of w1's accounts, then credits_consume run
#                 on w1 itself): an app that connects to the account's node
#   single_local  pgbench on the single node with the same statement (its
#                 accounts numbered in its own bench_local): the local mode's
#                 baseline
#
# and measures, for each run and each cluster, the CPU time its processes
# spent: utime + stime (and cutime + cstime: the backends that exited and
# were reaped, counted by their postmaster) of the postmaster and of every
# child, from /proc, at rest just before pgbench starts and at rest after it
# ends (every backend of the run gone), divided by the charges of the run
# (pgbench's transactions; checked against the ledger's growth). All nodes
# share this machine's cores, so the TPS of the Citus runs is not what
# separate machines would give; CPU per charge on each node is the figure
# that carries over. The target (issue 21): the workers spend at most 1.5x
# the CPU per charge of the single node.
#
# Writes the figures to bench/results/citus-last-run.md (and every run to
# bench/results/citus-last-runs.tsv). Without Citus (no citus.so in
# `pg_config --pkglibdir`) it says so and exits 0: nothing to measure.
#
# Needs fluxcredits installed (`make install`) and, as root, runs the
# clusters as the `postgres` OS user. Everything it starts is stopped and
# removed on exit, whatever happens.
#
#   PG_CONFIG              pg_config (default /usr/lib/postgresql/15/bin/pg_config)
#   BENCH_SECONDS          -T of each pgbench run (default 10)
#   BENCH_REPEAT           runs of each mode (default 2)
#   BENCH_CITUS_CLIENTS    pgbench clients (default 16)
#   BENCH_CITUS_ACCOUNTS   accounts (default 10000)
#   BENCH_CITUS_PROTOCOL   pgbench -M (default prepared)
#   BENCH_PORT_RANGE       "FIRST LAST": the ports the four clusters may take
#                          (default "55600 55699")
#   BENCH_CITUS_SETUP_SQL  a file of SQL run on the coordinator instead of
#                          SELECT fluxcredits.distribute() (to try another
#                          distribution by hand); the report names it
#   BENCH_QUICK=1          smoke test: T=3, one run, 2,000 accounts

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    T=${BENCH_SECONDS:-3}; REPEAT=${BENCH_REPEAT:-1}; ACCOUNTS=${BENCH_CITUS_ACCOUNTS:-2000}; WARMUP=1
else
    T=${BENCH_SECONDS:-10}; REPEAT=${BENCH_REPEAT:-2}; ACCOUNTS=${BENCH_CITUS_ACCOUNTS:-10000}; WARMUP=3
fi
CLIENTS=${BENCH_CITUS_CLIENTS:-16}
PROTOCOL=${BENCH_CITUS_PROTOCOL:-prepared}
read -r PORT_FIRST PORT_LAST <<<"${BENCH_PORT_RANGE:-55600 55699}"
SETUP_SQL=${BENCH_CITUS_SETUP_SQL:-}
TARGET=1.5
RESULTS_DIR=$BENCH_DIR/results
REPORT_NAME=citus-last-run.md

die() { echo "error: $*" >&2; exit 2; }
say() { printf '==> %s\n' "$*"; }

[ -x "$PG_CONFIG" ] || command -v "$PG_CONFIG" >/dev/null 2>&1 ||
    die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
BINDIR=$("$PG_CONFIG" --bindir)
SHAREDIR=$("$PG_CONFIG" --sharedir)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
if [ ! -f "$PKGLIBDIR/citus.so" ]; then
    echo "bench/citus.sh: skipped: Citus is not installed ($PKGLIBDIR/citus.so);"
    echo "  bash ../shared/citus/install.sh installs it (make test does when the script is there)"
    exit 0
fi
if [ ! -f "$SHAREDIR/extension/fluxcredits.control" ] || [ ! -f "$PKGLIBDIR/fluxcredits.so" ]; then
    die "fluxcredits is not installed for $PG_CONFIG; install it first:
    make PG_CONFIG=$PG_CONFIG && sudo make PG_CONFIG=$PG_CONFIG install"
fi
[ -z "$SETUP_SQL" ] || [ -r "$SETUP_SQL" ] || die "BENCH_CITUS_SETUP_SQL: cannot read $SETUP_SQL"
PGBENCH=$BINDIR/pgbench
[ -x "$PGBENCH" ] || die "pgbench not found in $BINDIR"
HZ=$(getconf CLK_TCK)

. "$BENCH_DIR/lib.sh"

NODES="single coord w1 w2"
declare -A PORT_OF
STARTED=""
bench_tmpdir
cleanup() {
    local rc=$? n
    for n in $STARTED; do
        as_runner "$BINDIR/pg_ctl" stop -D "$TMP/$n" -m immediate >/dev/null 2>&1 || true
    done
    STARTED=""
    if [ "$rc" -ne 0 ]; then
        for n in $NODES; do
            if [ -f "$TMP/$n.log" ]; then
                echo "--- last lines of the $n server log ---" >&2
                tail -n 8 "$TMP/$n.log" >&2 || true
            fi
        done
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# The clusters.
# ---------------------------------------------------------------------------
start_node() { # name [citus]
    local n=$1 p
    bench_port "$PORT_FIRST" "$PORT_LAST"
    p=$PORT
    as_runner "$BINDIR/initdb" -D "$TMP/$n" -A trust -U bench -E UTF8 --locale=C.UTF-8 \
        >"$TMP/initdb-$n.log" 2>&1 || { cat "$TMP/initdb-$n.log" >&2; exit 2; }
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$TMP'"
        echo "port = $p"
        echo "shared_buffers = 256MB"
        echo "max_connections = 100"
        echo "max_prepared_transactions = 100"
        echo "timezone = 'UTC'"
        # Off on every cluster alike, so that the CPU measured is the
        # charges': what autovacuum does in a run depends on the tables'
        # sizes and history (with it on, one run: single node 154 µs per
        # charge instead of 120, the workers 422 instead of 405).
        echo "autovacuum = off"
        # fsync, synchronous_commit, full_page_writes, wal_level: defaults.
        if [ "${2:-}" = citus ]; then echo "shared_preload_libraries = 'citus'"; fi
    } >>"$TMP/$n/postgresql.conf"
    as_runner "$BINDIR/pg_ctl" start -w -D "$TMP/$n" -l "$TMP/$n.log" >/dev/null ||
        { cat "$TMP/$n.log" >&2; exit 2; }
    STARTED="$STARTED $n"
    PORT_OF[$n]=$p
}

psql_on() { # node [psql args...]
    local n=$1; shift
    as_runner "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT_OF[$n]}" -U bench -d postgres "$@"
}
val_on() { psql_on "$1" -At -c "$2"; }

say "four clusters in $TMP (ports $PORT_FIRST-$PORT_LAST): single, and Citus coord + w1 + w2"
start_node single
start_node coord citus
start_node w1 citus
start_node w2 citus

mkdir -p "$TMP/w"
cp "$BENCH_DIR/citus_consume.sql" "$BENCH_DIR/citus_consume_local.sql" "$TMP/w/"
chmod -R a+rX "$TMP/w"

say "single: CREATE EXTENSION fluxcredits, $ACCOUNTS accounts on Pro"
psql_on single -c "CREATE EXTENSION fluxcredits"
psql_on single -c "SELECT count(fluxcredits.credits_open_account('c' || i, 'Pro', now() - interval '10 days'))
                     FROM generate_series(1, $ACCOUNTS) i" >/dev/null

say "Citus: extension, coordinator, workers, fluxcredits distributed"
for n in coord w1 w2; do psql_on "$n" -c "CREATE EXTENSION citus"; done
psql_on coord -c "SELECT citus_set_coordinator_host('127.0.0.1', ${PORT_OF[coord]})" >/dev/null
psql_on coord -c "SELECT citus_add_node('127.0.0.1', ${PORT_OF[w1]})" >/dev/null
psql_on coord -c "SELECT citus_add_node('127.0.0.1', ${PORT_OF[w2]})" >/dev/null
psql_on coord -c "CREATE EXTENSION fluxcredits"
if [ -n "$SETUP_SQL" ]; then
    DIST_HOW="BENCH_CITUS_SETUP_SQL=$SETUP_SQL (by hand, not fluxcredits.distribute())"
    cp "$SETUP_SQL" "$TMP/w/setup.sql"; chmod a+r "$TMP/w/setup.sql"
    psql_on coord -f "$TMP/w/setup.sql" >"$TMP/setup.out" 2>&1 ||
        { cat "$TMP/setup.out" >&2; die "BENCH_CITUS_SETUP_SQL failed"; }
else
    DIST_HOW="SELECT fluxcredits.distribute()"
    if ! DIST_OUT=$(psql_on coord -At -c "SELECT fluxcredits.distribute()" 2>&1); then
        die "SELECT fluxcredits.distribute() failed on the coordinator (is the Citus support of issue 21 built?):
$DIST_OUT"
    fi
    say "distribute(): $DIST_OUT"
fi
# One statement an account, so that each is delegated to its worker.
for i in $(seq 1 "$ACCOUNTS"); do
    echo "SELECT fluxcredits.credits_open_account('c$i', 'Pro', now() - interval '10 days');"
done >"$TMP/w/open.sql"
chmod a+r "$TMP/w/open.sql"
psql_on coord -f "$TMP/w/open.sql" >/dev/null
SPLIT=$(val_on coord "SELECT string_agg(n.nodeport || ': ' || x.c, ', ' ORDER BY n.nodeport)
                        FROM (SELECT p.groupid, count(*) AS c FROM fluxcredits.accounts a
                                JOIN pg_dist_placement p
                                  ON p.shardid = get_shard_id_for_distribution_column('fluxcredits.accounts', a.account)
                               GROUP BY p.groupid) x JOIN pg_dist_node n USING (groupid)")
say "accounts per worker (port: accounts): $SPLIT"
# w1's own accounts, numbered, in a table of w1 alone (not distributed).
W1_ACCOUNTS=$(val_on coord "SELECT string_agg(quote_literal(a.account), ',')
                             FROM fluxcredits.accounts a
                            WHERE get_shard_id_for_distribution_column('fluxcredits.accounts', a.account)
                                  IN (SELECT p.shardid FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
                                       WHERE n.nodeport = ${PORT_OF[w1]})")
psql_on w1 -c "CREATE TABLE bench_local (n integer PRIMARY KEY, account text NOT NULL)" >/dev/null
psql_on w1 -c "INSERT INTO bench_local SELECT row_number() OVER (), a FROM unnest(ARRAY[$W1_ACCOUNTS]) a" >/dev/null
NLOCAL=$(val_on w1 "SELECT count(*) FROM bench_local")
psql_on single -c "CREATE TABLE bench_local (n integer PRIMARY KEY, account text NOT NULL)" >/dev/null
psql_on single -c "INSERT INTO bench_local SELECT i, 'c' || i FROM generate_series(1, $ACCOUNTS) i" >/dev/null

# A charge through each entry node before measuring anything.
for n in single coord w1; do
    id=$(val_on "$n" "SELECT fluxcredits.credits_consume('c1', 'compression')" 2>&1) ||
        die "a charge through $n failed: $id"
done

VERSIONS="PostgreSQL $(val_on single 'SHOW server_version'), Citus $(val_on coord "SELECT extversion FROM pg_extension WHERE extname = 'citus'"), fluxcredits $(val_on coord "SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits'")"
NODE_CONNINFO=$(val_on coord "SHOW citus.node_conninfo")
SHARDS=$(val_on coord "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'fluxcredits.accounts'::regclass")

# ---------------------------------------------------------------------------
# CPU time of a cluster, from /proc: the postmaster's own and its reaped
# children's (utime stime cutime cstime), plus each live child's.
# ---------------------------------------------------------------------------
pm_pid() { head -n 1 "$TMP/$1/postmaster.pid"; }
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -c . || true; }
ticks_of() { # pid: utime+stime+cutime+cstime (the fields after the command's closing parenthesis)
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }' || echo 0
}
cpu_ticks() { # node
    local pm c t=0 x
    pm=$(pm_pid "$1")
    for c in $(cat /proc/"$pm"/task/*/children 2>/dev/null); do
        x=$(ticks_of "$c"); t=$((t + ${x:-0}))
    done
    x=$(ticks_of "$pm")
    echo $((t + ${x:-0}))
}
declare -A REST
for n in $NODES; do REST[$n]=$(children "$(pm_pid "$n")"); done
# Wait (at most 15 s) until no cluster has more children than at rest:
# every backend of the last run exited and was reaped into its postmaster's
# cutime/cstime.
settle() {
    local n i busy
    for i in $(seq 1 150); do
        busy=0
        for n in $NODES; do
            [ "$(children "$(pm_pid "$n")")" -le "${REST[$n]}" ] || busy=1
        done
        [ "$busy" = 0 ] && return 0
        sleep 0.1
    done
    echo "note: a cluster still had more processes than at rest after 15 s" >&2
}
ledger_count() { # entry node -> its ledger (single) or the distributed one (coord)
    case $1 in single) val_on single "SELECT count(*) FROM fluxcredits.ledger" ;;
               *) val_on coord "SELECT count(*) FROM fluxcredits.ledger" ;; esac
}

node_of_mode() { case $1 in single|single_local) echo single ;; coordinator) echo coord ;; worker|local) echo w1 ;; esac; }
pgbench_on() { # mode clients log pgbench-args...
    local m=$1 c=$2 log=$3 script=citus_consume.sql nlocal=$NLOCAL
    shift 3
    case $m in local) script=citus_consume_local.sql ;;
               single_local) script=citus_consume_local.sql; nlocal=$ACCOUNTS ;; esac
    as_runner "$PGBENCH" -h 127.0.0.1 -p "${PORT_OF[$(node_of_mode "$m")]}" -U bench -n -M "$PROTOCOL" \
        -c "$c" -j 2 -D naccounts="$ACCOUNTS" -D nlocal="$nlocal" -f "$TMP/w/$script" "$@" postgres >"$log" 2>&1
}

MODES="single coordinator worker single_local local"
say "warm-up: ${WARMUP}s of each mode"
for m in $MODES; do
    pgbench_on "$m" "$CLIENTS" "$TMP/warmup.log" -T "$WARMUP" ||
        die "the warm-up of $m failed: $(grep -m 3 -E 'error|ERROR' "$TMP/warmup.log")"
done

RUNS=$TMP/runs.tsv
printf 'mode\trun\ttps\tcharges\tledger_rows\tticks_single\tticks_coord\tticks_w1\tticks_w2\n' >"$RUNS"
declare -A BEFORE
for rep in $(seq 1 "$REPEAT"); do
    for m in $MODES; do
        n=$(node_of_mode "$m")
        for x in $NODES; do psql_on "$x" -c CHECKPOINT; done
        rows_before=$(ledger_count "$n")
        settle
        for x in $NODES; do BEFORE[$x]=$(cpu_ticks "$x"); done
        log=$TMP/run-$m-$rep.log
        pgbench_on "$m" "$CLIENTS" "$log" -T "$T" ||
            die "pgbench ($m, run $rep) failed: $(grep -m 3 -E 'error|ERROR' "$log")"
        settle
        line="$m	$rep"
        tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$log" | tail -n 1)
        charges=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
        failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
        ticks=""
        for x in $NODES; do ticks+="	$(( $(cpu_ticks "$x") - ${BEFORE[$x]} ))"; done
        rows=$(( $(ledger_count "$n") - rows_before ))
        [ "${failed:-0}" = 0 ] || die "pgbench ($m, run $rep): $failed failed transactions"
        [ "$rows" = "$charges" ] ||
            echo "warning: $m run $rep: pgbench counted $charges charges, the ledger grew by $rows" >&2
        printf '%s\t%s\t%s\t%s%s\n' "$line" "$tps" "$charges" "$rows" "$ticks" >>"$RUNS"
        say "$m run $rep: $(printf '%.0f' "$tps") TPS, $charges charges; CPU ticks (1/$HZ s) single coord w1 w2:$(tr '\t' ' ' <<<"$ticks")"
    done
done

# ---------------------------------------------------------------------------
# The report: the mean over the runs of each mode; CPU in microseconds per
# charge.
# ---------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
REPORT=$TMP/report.md
SUMMARY=$(awk -F'\t' -v hz="$HZ" 'NR > 1 {
        m = $1; n[m]++; tps[m] += $3; ch[m] += $4
        s[m] += $6; c[m] += $7; a[m] += $8; b[m] += $9 }
    END { for (m in n) {
            us = 1000000 / hz
            printf "%s\t%.0f\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", m, tps[m] / n[m], ch[m],
                s[m] * us / ch[m], c[m] * us / ch[m], a[m] * us / ch[m], b[m] * us / ch[m],
                (a[m] + b[m]) * us / ch[m], (s[m] + c[m] + a[m] + b[m]) * us / ch[m] } }' "$RUNS")
field() { awk -F'\t' -v m="$1" -v f="$2" '$1 == m { print $f }' <<<"$SUMMARY"; }
SINGLE_US=$(field single 4)
ratio() { awk -v a="$1" -v b="$SINGLE_US" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
verdict() { awk -v r="$1" -v t="$TARGET" 'BEGIN { print (r != "-" && r <= t) ? "PASS" : "FAIL" }'; }
{
    echo "# fluxcredits on Citus: charges against a single node"
    echo
    echo "\`$(for v in BENCH_QUICK BENCH_SECONDS BENCH_REPEAT BENCH_CITUS_CLIENTS BENCH_CITUS_ACCOUNTS BENCH_CITUS_PROTOCOL BENCH_CITUS_SETUP_SQL; do
               if [ -n "${!v:-}" ]; then printf '%s=%q ' "$v" "${!v}"; fi; done)bash bench/citus.sh\`, $(date -u '+%Y-%m-%d %H:%M UTC'),"
    echo "git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$([ -n "$(git -C "$ROOT" status --porcelain -- src sql 2>/dev/null)" ] && echo ' + uncommitted changes in src/ or sql/'),"
    echo "$(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo '?')), load before $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "- $VERSIONS; four clusters on this machine: a single node without Citus, a Citus coordinator"
    echo "  (no hash shards) and two workers; distributed by $DIST_HOW; $SHARDS shards of fluxcredits.accounts."
    echo "- $ACCOUNTS accounts on Pro (unlimited compression), per worker (port: accounts): $SPLIT."
    echo "- pgbench -M $PROTOCOL, $CLIENTS clients, -T $T, $REPEAT run(s) of each mode, interleaved, TCP on 127.0.0.1;"
    echo "  bench/citus_consume.sql: credits_consume of one compression credit on a random account; the local mode:"
    echo "  bench/citus_consume_local.sql on w1, one of its $NLOCAL accounts by number from a local table (one index probe more)."
    echo "  fsync and synchronous_commit on, shared_buffers 256MB on each cluster; citus.node_conninfo '$NODE_CONNINFO'."
    echo "- CPU: utime + stime of every process of a cluster (and of its exited backends), from /proc at rest"
    echo "  before and after each run, over the charges of the run; the mean over the runs. The nodes share"
    echo "  the machine's cores: TPS of the Citus modes is not what separate machines would give; CPU per charge is."
    echo
    echo "| mode (pgbench on) | TPS | charges | single µs/charge | coordinator | worker w1 | worker w2 | workers w1+w2 | all nodes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for m in $MODES; do
        awk -F'\t' -v m="$m" '$1 == m {
            if (m == "single" || m == "single_local") printf "| %s | %s | %s | **%s** | - | - | - | - | %s |\n", (m == "single" ? "single node" : "single node, the local statement"), $2, $3, $4, $9
            else printf "| %s | %s | %s | - | %s | %s | %s | **%s** | %s |\n", (m == "coordinator" ? "Citus, coordinator as entry" : m == "worker" ? "Citus, worker w1 as entry" : "Citus, worker w1, its own accounts"), $2, $3, $5, $6, $7, $8, $9 }' <<<"$SUMMARY"
    done
    echo
    echo "| ratio (CPU per charge) | measured | target | result |"
    echo "|---|---:|---|---|"
    r=$(ratio "$(field coordinator 8)"); echo "| workers (w1+w2) / single node, coordinator as entry | ${r}x | <= ${TARGET}x | $(verdict "$r") |"
    r=$(ratio "$(field worker 8)"); echo "| workers (w1+w2) / single node, worker w1 as entry (w1 also routes) | ${r}x | <= ${TARGET}x | $(verdict "$r") |"
    r=$(awk -v a="$(field local 8)" -v b="$(field single_local 4)" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    echo "| workers (w1+w2) / single node, the same statement on w1 with w1's accounts (an app that connects to the account's node) | ${r}x | <= ${TARGET}x | $(verdict "$r") |"
    r=$(ratio "$(field coordinator 5)"); echo "| coordinator / single node, coordinator as entry | ${r}x | (context) | |"
    r=$(ratio "$(field coordinator 9)"); echo "| all three nodes / single node, coordinator as entry | ${r}x | (context) | |"
    echo
    echo "Every run (CPU in ticks of 1/$HZ s):"
    echo
    echo "| mode | run | TPS | charges | ledger rows | single | coord | w1 | w2 |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' 'NR > 1 { printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$RUNS"
} >"$REPORT"

cp "$REPORT" "$RESULTS_DIR/$REPORT_NAME"
cp "$RUNS" "$RESULTS_DIR/citus-last-runs.tsv"
echo
cat "$REPORT"
echo
say "written to bench/results/$REPORT_NAME (every run: bench/results/citus-last-runs.tsv)"

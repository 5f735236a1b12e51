#!/usr/bin/env bash
# scripts/test.sh: `make test`.
#
# Sets up (installs what is missing), builds with -Wall -Wextra -Werror,
# installs, then runs every suite on throwaway clusters owned by the runner
# (the `postgres` OS user when we are root): pg_regress, isolation, TAP.
# Every suite is reported even when an earlier one fails; regression.diffs are
# printed on failure; the server logs of the whole run are checked for
# crashes; every server started is stopped. Ends with `N passed, M failed`
# (tests, not suites) and exits non-zero when M > 0 or nothing ran.
#
# The Citus suite (test/t/*citus*.pl: a coordinator and two workers) runs
# where Citus is installed, or after ../shared/citus/install.sh installed
# it; without either it is reported as skipped, and counts neither way.
#
#   PG_CONFIG   the PostgreSQL 15 to build, install and test with (default:
#               pg_config on the PATH, else Debian's)
#   FC_SUITES   the suites to run (default "regress isolation tap citus")
#   FC_KEEP=1   keep the scratch copy (and the suites' logs) at the end

. "$(dirname "$0")/common.sh"

fc_ensure_deps test
fc_build_install

FC_SUITES=${FC_SUITES:-regress isolation tap citus}
suite_on() { case " $FC_SUITES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
if suite_on citus; then
    fc_citus_ensure
fi

WORK=$(fc_scratch_copy test)
export WORK

fc_cleanup() {
    # Stop any server a suite left behind, then drop the scratch copy.
    local pidfile
    while IFS= read -r pidfile; do
        fc_as_runner "$FC_BINDIR/pg_ctl" stop -D "$(dirname "$pidfile")" -m immediate >/dev/null 2>&1 || true
    done < <(find "$WORK" -name postmaster.pid 2>/dev/null)
    # and a pgbouncer of test/t/009_pgbouncer.pl's (its tempdir is under $WORK)
    while IFS= read -r pidfile; do
        kill "$(cat "$pidfile")" 2>/dev/null || true
    done < <(find "$WORK" -name pgbouncer.pid 2>/dev/null)
    if [ -n "${FC_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap fc_cleanup EXIT

passed=0
failed=0
suite_note=""

run_suite() {        # run_suite NAME MAKE-TARGET [make args...]
    local name=$1 target=$2 log
    shift 2
    log="$WORK/$name.log"
    fc_say "suite: $name"
    fc_as_runner make -C "$WORK" --no-print-directory PG_CONFIG="$PG_CONFIG" "$target" "$@" >"$log" 2>&1
    echo $? >"$WORK/$name.rc"
}

# pg_regress and pg_isolation_regress print one line per test:
#   test NAME ... ok | FAILED | failed (ignored)
count_regress() {    # count_regress NAME
    local name=$1 log="$WORK/$1.log" p f rc
    rc=$(cat "$WORK/$name.rc")
    grep -E '^(test | +)[^ ].* \.\.\. ' "$log" | sed 's/^/    /'
    p=$(grep -cE '\.\.\. +ok( |$)' "$log")
    f=$(grep -cE '\.\.\. +FAILED' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # The suite broke before or between tests: show why, count it failed.
        tail -20 "$log" | sed 's/^/    | /'
        f=1
    fi
    if [ "$f" -gt 0 ]; then
        local d
        case $name in
            regress) d="$WORK/regression.diffs" ;;
            isolation) d="$WORK/output_iso/regression.diffs" ;;
        esac
        if [ -f "$d" ]; then
            echo "    ---- $d ----"
            sed 's/^/    /' "$d" | head -400
        fi
    fi
    passed=$((passed + p)); failed=$((failed + f))
    suite_note="$suite_note $name=$p/$((p + f))"
}

# prove -v prints "ok N - ..." / "not ok N - ..." for every assertion.
count_tap() {        # count_tap NAME
    local name=$1 log="$WORK/$1.log" p f rc
    rc=$(cat "$WORK/$name.rc")
    # each TAP file, then its assertions (their names carry the run's figures)
    grep -E '^test/t/.*\.pl \.+|^(not )?ok [0-9]+ - ' "$log" | sed -e 's|^test/t/|    test/t/|' -e 's/^\(not \)\{0,1\}ok/      &/'
    p=$(grep -cE '^ok [0-9]+' "$log")
    f=$(grep -E '^not ok [0-9]+' "$log" | grep -vc '# TODO')
    if [ "$rc" -ne 0 ]; then
        grep -E '^not ok|^#|Failed|Dubious|Parse errors|Wstat' "$log" | grep -v '^# Subtest\|^#   \(at\|in\)' | head -80 | sed 's/^/    | /'
        [ "$f" -eq 0 ] && f=1    # a script died without a failed assertion
    fi
    passed=$((passed + p)); failed=$((failed + f))
    suite_note="$suite_note $name=$p/$((p + f))"
}

if suite_on regress; then
    run_suite regress regress-temp
    count_regress regress
fi
if suite_on isolation; then
    run_suite isolation isolation-temp
    count_regress isolation
fi
# The TAP scripts, but the Citus ones (their own suite, below).
if suite_on tap; then
    run_suite tap tap-temp PROVE_FLAGS=-v \
        PROVE_TESTS="$(cd "$WORK" && ls test/t/*.pl | grep -v citus | tr '\n' ' ')"
    count_tap tap
    # Each run of the TAP target starts by removing tmp_check: keep this
    # one's server logs for the crash check at the end.
    [ -d "$WORK/tmp_check" ] && mv "$WORK/tmp_check" "$WORK/tmp_check_tap"
fi
if suite_on citus; then
    case $FC_CITUS in
        yes)
            run_suite citus tap-temp PROVE_FLAGS=-v \
                PROVE_TESTS="$(cd "$WORK" && ls test/t/*citus*.pl | tr '\n' ' ')"
            count_tap citus ;;
        no)
            fc_say "suite: citus"
            echo "    skipped: $FC_CITUS_WHY"
            suite_note="$suite_note citus=skipped" ;;
        *)
            fc_say "suite: citus"
            echo "    Citus could not be installed, so the suite did not run:"
            echo "$FC_CITUS_WHY" | sed 's/^/    | /'
            failed=$((failed + 1))
            suite_note="$suite_note citus=install-failed" ;;
    esac
fi

# The server logs of the whole run: no crash, no failed assertion.
fc_say "server logs of this run"
logs=$(find "$WORK" -path '*log*' -name '*.log' -newer "$WORK/Makefile" 2>/dev/null | grep -v "^$WORK/[a-z]*\.log$")
bad=$(cat /dev/null $logs 2>/dev/null | grep -E 'terminated by signal|TRAP:|Assert|was terminated by|PANIC|server process .* exited with exit code [1-9]' || true)
if [ -n "$bad" ]; then
    echo "    server logs show a crash or failed assertion:"
    echo "$bad" | head -20 | sed 's/^/    | /'
    failed=$((failed + 1))
else
    echo "    $(echo $logs | wc -w) server logs, no crash or assertion failure"
    passed=$((passed + 1))
fi

echo "suites:$suite_note"
total=$((passed + failed))
if [ "$total" -le 1 ]; then
    echo "no test ran"
    echo "$passed passed, $((failed + 1)) failed"
    exit 1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# scripts/demo.sh: `make demo` and `make demo-stop`.
#
# `make demo` sets up (installs what is missing), builds, installs, starts a
# throwaway PostgreSQL 15 cluster in /tmp/fluxcredits-demo, creates the
# extension and walks through the product's story (scripts/demo.sql) with real
# calls.  The cluster stays up so you can look around; `make demo-stop` stops
# it and removes it.

. "$(dirname "$0")/common.sh"

DEMO_DIR=${FC_DEMO_DIR:-/tmp/fluxcredits-demo}
DEMO_PORT=${FC_DEMO_PORT:-54329}
DEMO_DB=fluxdemo

demo_stop() {
    if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
        fc_say "stopping the demo cluster in $DEMO_DIR"
        fc_as_runner "$FC_BINDIR/pg_ctl" stop -D "$DEMO_DIR/data" -m fast -w >/dev/null
    fi
    rm -rf "$DEMO_DIR"
}

if [ "${1:-}" = stop ]; then
    PG_CONFIG=${PG_CONFIG:-$FC_DEBIAN_PG_CONFIG}
    FC_BINDIR=$(dirname "$FC_DEBIAN_PG_CONFIG")
    command -v "$PG_CONFIG" >/dev/null 2>&1 && FC_BINDIR=$("$PG_CONFIG" --bindir)
    demo_stop
    exit 0
fi

fc_ensure_deps
fc_build_install
demo_stop

runner=$(fc_runner)
mkdir -p "$DEMO_DIR"
[ "$(id -u)" -eq 0 ] && chown "$runner": "$DEMO_DIR"
fc_say "starting a throwaway cluster in $DEMO_DIR (port $DEMO_PORT)"
fc_as_runner "$FC_BINDIR/initdb" -D "$DEMO_DIR/data" -U postgres --auth=trust --no-instructions >/dev/null ||
    fc_die "initdb failed"
fc_as_runner "$FC_BINDIR/pg_ctl" start -D "$DEMO_DIR/data" -w -l "$DEMO_DIR/server.log" \
    -o "-p $DEMO_PORT -k $DEMO_DIR -c listen_addresses=''" >/dev/null ||
    { cat "$DEMO_DIR/server.log"; fc_die "the demo cluster did not start"; }

PSQL=("$FC_BINDIR/psql" -X -q -h "$DEMO_DIR" -p "$DEMO_PORT" -U postgres)
fc_as_runner "${PSQL[@]}" -d postgres -c "CREATE DATABASE $DEMO_DB" >/dev/null
fc_say "walking through the story (scripts/demo.sql)"
echo
fc_as_runner "${PSQL[@]}" -d "$DEMO_DB" -v ON_ERROR_STOP=1 <"$FC_ROOT/scripts/demo.sql" ||
    fc_die "the demo script failed"
cat <<MSG

The demo cluster is still running. Connect with:
    psql -h $DEMO_DIR -p $DEMO_PORT -U postgres $DEMO_DB
Stop and remove it with:
    make demo-stop
MSG

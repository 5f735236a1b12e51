# scripts/common.sh: set-up shared by `make test`, `make demo` and `make bench`.
#
# Installs what is missing from Debian (only when it is missing), picks the
# PostgreSQL 15 pg_config, builds with warnings as errors, installs the
# extension, and knows which OS user runs the throwaway clusters: PostgreSQL
# refuses to run as root, so root runs them as `postgres`.

set -u

FC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FC_PG_MAJOR=15
FC_DEBIAN_PG_CONFIG=/usr/lib/postgresql/$FC_PG_MAJOR/bin/pg_config

fc_say() { printf '==> %s\n' "$*"; }
fc_die() { printf 'error: %s\n' "$*" >&2; exit 2; }

# sudo when we are not root and need to be; empty when root.
fc_sudo() {
    if [ "$(id -u)" -eq 0 ]; then "$@";
    elif command -v sudo >/dev/null 2>&1; then sudo "$@";
    else fc_die "need root for: $* (run as root, or install sudo)"; fi
}

# Does this pg_config belong to a PostgreSQL 15 with server headers?
fc_pg_config_ok() {
    local pgc=$1 ver inc
    command -v "$pgc" >/dev/null 2>&1 || return 1
    ver=$("$pgc" --version 2>/dev/null) || return 1
    case "$ver" in "PostgreSQL $FC_PG_MAJOR."*) ;; *) return 1 ;; esac
    inc=$("$pgc" --includedir-server 2>/dev/null) || return 1
    [ -f "$inc/postgres.h" ] && [ -f "$("$pgc" --pgxs 2>/dev/null)" ]
}

# Debian packages the suites need, installed only when missing.
fc_missing_packages() {
    local missing=""
    fc_pg_config_ok "${PG_CONFIG:-pg_config}" || fc_pg_config_ok "$FC_DEBIAN_PG_CONFIG" ||
        missing="$missing postgresql-$FC_PG_MAJOR postgresql-server-dev-$FC_PG_MAJOR"
    perl -MIPC::Run -e 1 >/dev/null 2>&1 || missing="$missing libipc-run-perl"
    # the test suites also run a connection pooler (test/t/009_pgbouncer.pl)
    if [ "${1:-}" = test ]; then
        [ -x /usr/sbin/pgbouncer ] || missing="$missing pgbouncer"
    fi
    command -v make >/dev/null 2>&1 || missing="$missing make"
    command -v gcc >/dev/null 2>&1 || missing="$missing gcc"
    echo "$missing"
}

fc_ensure_deps() {    # fc_ensure_deps [test]
    local missing
    missing=$(fc_missing_packages "${1:-}")
    if [ -n "$missing" ]; then
        command -v apt-get >/dev/null 2>&1 ||
            fc_die "missing:$missing; install them (this script knows Debian's apt-get only)"
        fc_say "installing from Debian:$missing"
        fc_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
            fc_die "apt-get update failed"
        # shellcheck disable=SC2086
        fc_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing ||
            fc_die "apt-get install$missing failed"
        # Debian starts the pgbouncer service it installs (on port 6432);
        # the tests start their own, and nothing may be left running.
        case " $missing " in
            *" pgbouncer "*)
                if command -v systemctl >/dev/null 2>&1; then
                    fc_sudo systemctl disable --now pgbouncer >/dev/null 2>&1 || true
                fi
                fc_sudo service pgbouncer stop >/dev/null 2>&1 || true ;;
        esac
    fi
    if fc_pg_config_ok "${PG_CONFIG:-pg_config}"; then
        PG_CONFIG=$(command -v "${PG_CONFIG:-pg_config}")
    elif fc_pg_config_ok "$FC_DEBIAN_PG_CONFIG"; then
        PG_CONFIG=$FC_DEBIAN_PG_CONFIG
    else
        fc_die "no PostgreSQL $FC_PG_MAJOR pg_config with server headers found (set PG_CONFIG)"
    fi
    export PG_CONFIG
    FC_BINDIR=$("$PG_CONFIG" --bindir)
    export FC_BINDIR
}

# The OS user that owns throwaway clusters.
fc_runner() {
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || fc_die "no 'postgres' OS user: install Debian's postgresql-$FC_PG_MAJOR"
        echo postgres
    else
        id -un
    fi
}

# Run a command as the runner, keeping the environment we need.
fc_as_runner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- env HOME=/var/lib/postgresql PATH="$FC_BINDIR:$PATH" PG_CONFIG="$PG_CONFIG" "$@"
    else
        env PATH="$FC_BINDIR:$PATH" "$@"
    fi
}

# Build with warnings as errors and install into the server.
fc_build_install() {
    fc_say "building with -Wall -Wextra -Werror ($PG_CONFIG)"
    make -s -C "$FC_ROOT" PG_CONFIG="$PG_CONFIG" PG_CFLAGS='-Wall -Wextra -Werror' >/dev/null ||
        fc_die "build failed"
    local libdir sharedir
    libdir=$("$PG_CONFIG" --pkglibdir)
    sharedir=$("$PG_CONFIG" --sharedir)
    fc_say "installing into $libdir and $sharedir/extension"
    if [ -w "$libdir" ] && [ -w "$sharedir/extension" ]; then
        make -s -C "$FC_ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null || fc_die "install failed"
    else
        fc_sudo make -s -C "$FC_ROOT" PG_CONFIG="$PG_CONFIG" install >/dev/null || fc_die "install failed"
    fi
}

# A scratch copy of the source tree that the runner may write in.
fc_scratch_copy() {
    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/fluxcredits-$1.XXXXXX")
    tar -C "$FC_ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
        --exclude=results --exclude=tmp_check --exclude='tmp_check_*' --exclude=output_iso \
        -cf - . | tar -C "$dir" -xf -
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
    echo "$dir"
}

# Citus, for the suite of test/t/*citus*.pl: there when its library is in
# `pg_config --pkglibdir`; else installed now by ../shared/citus/install.sh
# (beside the repository; idempotent, about 5 minutes the first time, needs
# root) when that script exists. Sets FC_CITUS to yes, no (then
# FC_CITUS_WHY says why: the suite is skipped) or failed (the install
# failed: FC_CITUS_WHY has the end of its output).
# FC_CITUS_INSTALL names another install script (one that does not exist:
# the skip path).
fc_citus_ensure() {
    local libdir inst log
    FC_CITUS=no; FC_CITUS_WHY=""
    libdir=$("$PG_CONFIG" --pkglibdir)
    if [ -f "$libdir/citus.so" ]; then
        FC_CITUS=yes; return 0
    fi
    inst=${FC_CITUS_INSTALL:-$FC_ROOT/../shared/citus/install.sh}
    if [ ! -f "$inst" ]; then
        FC_CITUS_WHY="Citus is not installed ($libdir/citus.so) and there is no $inst to install it with"
        return 0
    fi
    fc_say "Citus is not installed in $libdir: bash $inst (about 5 minutes)"
    log=$(mktemp "${TMPDIR:-/tmp}/fluxcredits-citus-install.XXXXXX")
    if fc_sudo env PG_CONFIG="$PG_CONFIG" bash "$inst" >"$log" 2>&1 && [ -f "$libdir/citus.so" ]; then
        FC_CITUS=yes
        sed 's/^/    /' "$log" | tail -n 3
    else
        FC_CITUS=failed
        FC_CITUS_WHY="bash $inst failed: $(tail -n 15 "$log")"
    fi
    rm -f "$log"
}

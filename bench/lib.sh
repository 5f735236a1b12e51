# bench/lib.sh: what bench/run.sh and bench/billing_period.sh share (sourced
# by both): the OS user that runs their throwaway cluster (PostgreSQL
# refuses to run as root, so root runs it as `postgres`), a temp dir that
# user owns, and a free port.

if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 ||
        { echo "error: running as root needs a 'postgres' OS user" >&2; exit 2; }
    RUNNER=postgres
    as_runner() { runuser -u postgres -- env HOME=/tmp "$@"; }
else
    RUNNER=$(id -un)
    as_runner() { "$@"; }
fi

# A temp dir for the cluster, owned by the runner, in $TMP.
bench_tmpdir() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/fluxcredits-bench.XXXXXX")
    chmod 755 "$TMP"
    if [ "$RUNNER" != "$(id -un)" ]; then chown "$RUNNER" "$TMP"; fi
}

# A port nobody listens on and nobody has a socket for in the usual places.
port_free() {
    local p=$1
    [ -e "/tmp/.s.PGSQL.$p" ] && return 1
    [ -e "/var/run/postgresql/.s.PGSQL.$p" ] && return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 1
    return 0
}

# The first free port from FIRST to LAST, in $PORT.
bench_port() {
    local p
    PORT=""
    for p in $(seq "$1" "$2"); do
        if port_free "$p"; then PORT=$p; return 0; fi
    done
    echo "error: no free port in $1-$2" >&2
    exit 2
}

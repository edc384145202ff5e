#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for the transcript store tests.
#
#   scripts/pg_test_server.sh start [DIR]  initdb a cluster in DIR (default: a new temp dir), start
#                                          it on a free 127.0.0.1 port, print its URL on stdout
#   scripts/pg_test_server.sh stop DIR     stop that cluster and delete DIR
#   scripts/pg_test_server.sh run CMD...   start, run CMD with INTERPRETER_TEST_PG_URL set, stop;
#                                          exits with CMD's status
#
# Needs the PostgreSQL server binaries (Debian: apt-get install postgresql). Trust auth, no
# fsync: for tests only, never for data. As root, the cluster runs as the 'postgres' user
# (PostgreSQL refuses to run as root).
set -euo pipefail

die() { echo "pg_test_server: $*" >&2; exit 1; }

find_bindir() {
    local d
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$d/pg_ctl" && -x "$d/initdb" ]]; then echo "$d"; return; fi
    done
    die "PostgreSQL server binaries not found (apt-get install postgresql)"
}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=${1:-} bindir port attempt
    bindir=$(find_bindir)
    if [[ -z "$dir" ]]; then dir=$(mktemp -d "${TMPDIR:-/tmp}/pgtest.XXXXXX"); fi
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user"
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    for attempt in 1 2 3; do
        port=$(free_port)
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off \
                -c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
            start >/dev/null; then
            echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres" | tee "$dir/url" >/dev/null
            cat "$dir/url"
            return 0
        fi
    done
    cat "$dir/server.log" >&2 || true
    die "the cluster did not start"
}

stop() {
    local dir=${1:?usage: $0 stop DIR}
    [[ -d "$dir/data" ]] || die "$dir is not a test cluster"
    as_owner "$(find_bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

run() {
    [[ $# -gt 0 ]] || die "usage: $0 run CMD..."
    local dir url status=0
    dir=$(mktemp -d "${TMPDIR:-/tmp}/pgtest.XXXXXX")
    # shellcheck disable=SC2064  # expand $dir now: it is local
    trap "stop '$dir'" EXIT
    trap 'exit 130' INT TERM
    url=$(start "$dir")
    INTERPRETER_TEST_PG_URL=$url "$@" || status=$?
    return "$status"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    run) shift; run "$@" ;;
    *) die "usage: $0 {start [DIR]|stop DIR|run CMD...}" ;;
esac

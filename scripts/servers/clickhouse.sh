# shellcheck shell=bash
# ClickHouse from Debian's packages (18.16 on bookworm); sourced by scripts/servers.sh.
# The package does not start a server here: we run our own with a private config whose
# ports, paths and listen address are ours, as the `clickhouse` user when we are root.

CH_STATE="$STATE_DIR/clickhouse"
CH_LOG="$CH_STATE/log/stdout.log"
CH_PID="$CH_STATE/clickhouse.pid"

ch_bin() {
    if [ -n "${EI_CLICKHOUSE_BIN:-}" ]; then echo "$EI_CLICKHOUSE_BIN"; return; fi
    PATH="$PATH:/usr/sbin:/sbin" command -v clickhouse-server || true
}
ch_user() { if is_root; then echo clickhouse; else id -un; fi; }
ch_ping() { [ "$(curl -sf --max-time 2 "http://127.0.0.1:$CH_HTTP_PORT/ping")" = "Ok." ]; }

clickhouse_install() {
    if [ -z "$(ch_bin)" ]; then
        is_root || die "clickhouse: not installed; run as root, or: sudo apt-get install --no-install-recommends clickhouse-server clickhouse-client"
        local t0; t0="$(now)"
        # An empty or stale package list has no candidate: refresh it only then.
        if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
            say "clickhouse: apt-get update"
            apt-get update -q >/dev/null
        fi
        say "clickhouse: apt-get install clickhouse-server clickhouse-client"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            clickhouse-server clickhouse-client >"$STATE_DIR/clickhouse-apt.log" 2>&1 \
            || fail_with_log clickhouse "apt-get install failed" "$STATE_DIR/clickhouse-apt.log"
        say "clickhouse: apt-get install in $(since "$t0")s"
    fi
    if is_root && ! id -u clickhouse >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin clickhouse
    fi
    say "clickhouse: installed ($(ch_bin))"
}

# The private server config: 127.0.0.1 only, our ports, everything under $CH_STATE.
ch_write_config() {
    cat >"$CH_STATE/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Written by scripts/servers.sh: a test server on 127.0.0.1 only. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_STATE/log/clickhouse-server.log</log>
        <errorlog>$CH_STATE/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <interserver_http_port>$CH_INTERSERVER_PORT</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$CH_STATE/data/</path>
    <tmp_path>$CH_STATE/tmp/</tmp_path>
    <user_files_path>$CH_STATE/user_files/</user_files_path>
    <format_schema_path>$CH_STATE/format_schemas/</format_schema_path>
    <users_config>$CH_STATE/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
    cat >"$CH_STATE/users.xml" <<'EOF'
<?xml version="1.0"?>
<!-- Written by scripts/servers.sh: user `default`, no password, loopback only. -->
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
EOF
}

clickhouse_start() {
    local bin; bin="$(ch_bin)"
    [ -n "$bin" ] || die "clickhouse: not installed (run scripts/servers.sh install)"
    if pid_alive "$CH_PID" && ch_ping; then say "clickhouse: already running on 127.0.0.1:$CH_HTTP_PORT"; return 0; fi
    pid_alive "$CH_PID" && stop_pid clickhouse "$CH_PID" # alive but not answering: restart
    ports_free clickhouse "$CH_HTTP_PORT" "$CH_TCP_PORT" "$CH_INTERSERVER_PORT"
    local user d; user="$(ch_user)"
    for d in "" data tmp log user_files format_schemas; do own_dir "$user" "$CH_STATE/$d"; done
    ch_write_config
    say "clickhouse: starting on 127.0.0.1:$CH_HTTP_PORT (native $CH_TCP_PORT)"
    # Its working directory must be one it may write (it drops files there on a crash).
    (cd "$CH_STATE" && spawn "$CH_PID" "$CH_LOG" "$user" "$bin" --config-file="$CH_STATE/config.xml")
    wait_ready clickhouse "$CH_PID" ch_ping "$CH_LOG" "$CH_STATE/log/clickhouse-server.err.log"
}

clickhouse_stop() { stop_pid clickhouse "$CH_PID"; }

clickhouse_status() {
    if [ -z "$(ch_bin)" ]; then echo "clickhouse: not installed"; return 1; fi
    if pid_alive "$CH_PID" && ch_ping; then
        echo "clickhouse: running on 127.0.0.1:$CH_HTTP_PORT (pid $(cat "$CH_PID"), data $CH_STATE/data)"
    else
        echo "clickhouse: stopped"; return 1
    fi
}

clickhouse_env() {
    echo "export CLICKHOUSE_HOST=127.0.0.1 CLICKHOUSE_PORT=$CH_HTTP_PORT CLICKHOUSE_USERNAME=default CLICKHOUSE_DATABASE=default"
}

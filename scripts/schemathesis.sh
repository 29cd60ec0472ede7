#!/usr/bin/env bash
# Contract test: schemathesis (PyPI) against the real server's /openapi.json, every check,
# on a fresh data dir with the embedded stores. Any finding fails.
#
#   bash scripts/schemathesis.sh install   # a venv outside the clone (cached); idempotent
#   bash scripts/schemathesis.sh test      # install, start `eng-intel serve`, run, stop
#
# BIN names the eng-intel binary (default: the debug build in CARGO_TARGET_DIR or target/);
# ST_MAX_EXAMPLES bounds the generated cases per operation (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="4.32.5"
if [ "$(id -u)" = 0 ]; then default_venv=/var/tmp/eng-intel-schemathesis
else default_venv="${XDG_CACHE_HOME:-$HOME/.cache}/eng-intel-schemathesis"; fi
VENV="${ST_VENV:-$default_venv}"

install() {
  if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null | awk '{print $NF}')" = "$VERSION" ]; then
    return
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION"
}

run() {
  install
  local bin="${BIN:-${CARGO_TARGET_DIR:-target}/debug/eng-intel}"
  [ -x "$bin" ] || { echo "no eng-intel binary at $bin (cargo build first, or set BIN)" >&2; exit 1; }
  local data port key pid
  data="$(mktemp -d)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  key="schemathesis-$RANDOM$RANDOM"
  # The embedded stores and the offline model only: other variables are not this test's.
  env -u POSTGRES_HOST -u CLICKHOUSE_HOST -u NEO4J_URI -u API_KEYS -u API_KEYS_FILE \
    -u OPENAI_API_KEY -u FEATHERLESS_API_KEY -u EMBEDDING_API_KEY -u PINECONE_API_KEY \
    DATA_DIR="$data" API_KEY="$key" LOG_LEVEL=warning \
    "$bin" serve --host 127.0.0.1 --port "$port" >"$data/serve.log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064
  trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf '$data'" EXIT
  local base="http://127.0.0.1:$port"
  for _ in $(seq 1 120); do
    curl -fsS "$base/api/health" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$data/serve.log" >&2; exit 1; }
    sleep 0.5
  done
  "$VENV/bin/schemathesis" --version
  # From the temporary dir: schemathesis keeps a cache (.schemathesis/) where it runs.
  cd "$data"
  "$VENV/bin/schemathesis" run "$base/openapi.json" \
    --checks all \
    --header "Authorization: Bearer $key" \
    --max-examples "${ST_MAX_EXAMPLES:-60}" \
    --seed "${ST_SEED:-1}" \
    --workers 2 \
    --request-timeout 60 \
    --suppress-health-check too_slow \
    --report-dir "$data/report" \
    --no-color
}

case "${1:-test}" in
  install) install ;;
  test) run ;;
  *) echo "usage: $0 [install|test]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Browser tests of the web console (console-tests/): Debian's chromium driven by
# playwright-core from Node, against the real server (`cargo run -- serve`).
#
#   bash scripts/console-tests.sh install   # chromium, sqlite3 (apt) and the npm deps; idempotent
#   bash scripts/console-tests.sh test      # runs them (install first); screenshots → docs/console/
#
# Nothing is skipped: a missing browser, Node older than 20 or a failed install fails.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

install() {
  local need=()
  [ -x "$CHROMIUM" ] || need+=(chromium)
  command -v sqlite3 >/dev/null || need+=(sqlite3)
  command -v node >/dev/null || need+=(nodejs npm)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} (apt)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
  fi
  [ -x "$CHROMIUM" ] || { echo "no browser at $CHROMIUM (set CHROMIUM)" >&2; exit 1; }
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$major" -ge 20 ] || { echo "Node $major is too old for playwright-core: 20 or later is needed" >&2; exit 1; }
  # Exactly what the lock file pins (playwright-core only; it drives the system browser).
  (cd console-tests && npm ci --no-audit --no-fund)
}

case "${1:-test}" in
  install) install ;;
  test)
    install
    "$CHROMIUM" --version
    (cd console-tests && npm test)
    ;;
  *) echo "usage: $0 [install|test]" >&2; exit 2 ;;
esac

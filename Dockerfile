# syntax=docker/dockerfile:1
# livebot's image: the caller page built with Node, the Python dependencies installed
# from uv.lock with uv, and a slim runtime that runs the bot as a non-root user.
#
#   docker build -t livebot .         (docker compose builds it: see README "Deploy")
#
# Debian (bookworm) images throughout. aiortc's codecs come from PyAV's manylinux
# wheel, which bundles libopus and libvpx, so the runtime needs no extra apt packages.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- 1. The caller's page: web/ -> dist (npm ci from the lockfile, then esbuild) -------
FROM ${NODE_IMAGE} AS page
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
COPY web/stubs/ ./stubs/
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run --silent build -- --outdir /src/dist

# --- 2. Python dependencies from uv.lock into /app/.venv (no dev dependencies) ---------
FROM ${PYTHON_IMAGE} AS builder
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
# The same uv as ./livebot's bootstrap (scripts/bootstrap.py UV_VERSION).
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# --- 3. The runtime: interpreter, venv, code and page; no compilers, no Node -----------
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid "${UID}" livebot \
 && useradd --system --uid "${UID}" --gid livebot --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin livebot \
 && mkdir -p /data \
 && chown livebot:livebot /data
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
COPY bot/ ./bot/
COPY tools/ ./tools/
# The offline echo mode (no API key) runs the built-in Live emulator.
COPY gemini_emulator/ ./gemini_emulator/
COPY --from=page /src/dist/ ./bot/web/dist/
COPY deploy/healthcheck.py ./healthcheck.py
# HOST=0.0.0.0 so the port can be published; docker-compose.yml runs the bot on the
# host's network and sets HOST=127.0.0.1 there (only caddy reaches it).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LIVEBOT_DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=7860
# Rooms, the link secret of development mode, the calendar and lights state.
VOLUME ["/data"]
USER ${UID}:${UID}
EXPOSE 7860
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/app/healthcheck.py"]
# SIGTERM drains: /readyz turns 503, new calls are refused, callers are told, calls get
# SHUTDOWN_GRACE_SECONDS (compose's stop_grace_period must be longer).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "serve"]

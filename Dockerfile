# Pinyard gateway image: slim, non-root, `pinyard serve` on :8080.
#   docker build -t pinyard .
#   docker run -p 8080:8080 -e PINYARD_ADMIN_TOKEN=... -v pinyard-data:/data pinyard
# The same image runs the release step: `docker run ... pinyard pinyard db upgrade`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # litellm reads its packaged model map instead of fetching one at import.
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    PATH=/opt/pinyard/venv/bin:$PATH

WORKDIR /opt/pinyard/src

# Dependencies first (a layer that survives code changes): install the project
# editable over an empty package, then put the real code in place. Editable,
# because the gateway finds its Alembic migrations beside the `app` package.
COPY pyproject.toml README.md ./
RUN python -m venv /opt/pinyard/venv \
    && mkdir app && touch app/__init__.py \
    && pip install -e . \
    && rm -rf app
COPY app ./app
COPY migrations ./migrations
RUN python -m compileall -q app migrations

# Runtime state (the embedded SQLite file, eval suites) lives in /data, owned
# by an unprivileged user; the code stays read-only to it.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin pinyard \
    && mkdir -p /data && chown pinyard /data
USER 10001
WORKDIR /data

EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["pinyard", "serve", "--host", "0.0.0.0", "--port", "8080"]

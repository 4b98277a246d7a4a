# Kennel's production image: the product only (no sandbox, no tests, no dev tools), run as a
# non-root user. Build: docker build -t kennel . — run with compose.yaml (web, worker, migrate).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY kennel ./kennel
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=kennel.settings \
    STATIC_ROOT=/app/static \
    MEDIA_ROOT=/app/media \
    PROMETHEUS_MULTIPROC_DIR=/app/prometheus
RUN useradd --system --uid 10001 --home-dir /app --create-home kennel
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /app
# Static files are collected into the image, each also under a name carrying a hash of its
# content, which the pages use (kennel/core/staticfiles.py); whitenoise serves those with a
# far-future, immutable Cache-Control (a new image's CSS has a new name) and the plain names
# for 60 s.
RUN SECRET_KEY=build-only-not-secret python -m kennel collectstatic --noinput -v0 \
    && mkdir -p /app/media /app/prometheus && chown -R kennel:kennel /app
USER kennel
EXPOSE 8000
# The same server options as `python -m kennel serve` (kennel/ops/management/commands/serve.py).
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", \
     "--workers", "2", "--blocking-threads", "12", "--backpressure", "32", \
     "--http1-header-read-timeout", "5000", "--workers-kill-timeout", "10", \
     "--respawn-failed-workers", "--no-ws", \
     "kennel.wsgi:application"]

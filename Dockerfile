# syntax=docker/dockerfile:1
# Takedown Tracker: one image for the API (`takedown serve`) and the workers (`takedown worker`).

# --- build: compile wheels (pdqhash needs a C++ compiler) -----------------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ \
 && rm -rf /var/lib/apt/lists/*
# The code stays at /app (installed in editable mode at the same path in both stages):
# service/notify/compose.py finds templates/ next to the package, not inside site-packages.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY templates ./templates
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir -e . \
 && find /app -name '__pycache__' -prune -exec rm -rf {} +

# --- runtime: no compiler, no root ------------------------------------------------------------
FROM python:3.11-slim AS runtime
RUN groupadd --system takedown \
 && useradd --system --gid takedown --home-dir /var/lib/takedown --create-home takedown
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TAKEDOWN_DATA_DIR=/var/lib/takedown \
    TAKEDOWN_LISTEN=0.0.0.0:8080
WORKDIR /app
USER takedown
EXPOSE 8080
# For the API (the default command). Worker and one-shot containers have no HTTP server and
# must turn it off (docker-compose.yml does: healthcheck: disable: true).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3).status != 200)"
ENTRYPOINT ["takedown", "--log-format", "json"]
CMD ["serve", "--stages", ""]

# syntax=docker/dockerfile:1
# Takedown Tracker: one image for the API (`takedown serve`) and the workers (`takedown worker`).

# --- build: compile wheels (pdqhash needs a C++ compiler) -----------------------------------
FROM python:3.11-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ \
 && rm -rf /var/lib/apt/lists/*
# A normal (non-editable) install, as users install it: the package carries its templates
# (templates/ is installed as service.templates), SQL and data files; /app is not needed after.
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY service ./service
COPY templates ./templates
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir . \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# --- runtime: no compiler, no root ------------------------------------------------------------
FROM python:3.11-slim AS runtime
RUN groupadd --system takedown \
 && useradd --system --gid takedown --home-dir /var/lib/takedown --create-home takedown
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TAKEDOWN_DATA_DIR=/var/lib/takedown \
    TAKEDOWN_LISTEN=0.0.0.0:8080
WORKDIR /var/lib/takedown
USER takedown
EXPOSE 8080
# For the API (the default command). Worker and one-shot containers have no HTTP server and
# must turn it off (docker-compose.yml does: healthcheck: disable: true).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3).status != 200)"
ENTRYPOINT ["takedown", "--log-format", "json"]
CMD ["serve", "--stages", ""]

# mockserver: the OpenAI streaming mock as a container.
#   docker build -t mockserver .
#   docker run --rm -p 8000:8000 mockserver
#   docker run --rm -p 8000:8000 -v ./my-scenarios:/scenarios mockserver
# Every `mockserver serve` option is also an environment variable (MOCKSERVER_SPEED=0, ...): see docs/deploy.md.
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}

LABEL org.opencontainers.image.title="mockserver" \
      org.opencontainers.image.description="An offline, wire-exact imitation of the OpenAI API's streaming endpoints." \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/mockserver \
    PATH=/opt/mockserver/bin:$PATH \
    MOCKSERVER_HOST=0.0.0.0 \
    MOCKSERVER_PORT=8000

# The source is bind-mounted rather than copied, so no layer keeps it. pip_cert is an optional CA bundle for
# builds behind a TLS-intercepting proxy; without it pip uses its own defaults. pip and setuptools go once the
# package is in: the server needs neither.
RUN --mount=type=bind,target=/src,rw \
    --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
 && python3 -m venv "$VIRTUAL_ENV" \
 && pip install --no-cache-dir --disable-pip-version-check /src \
 && pip uninstall --yes --quiet pip setuptools \
 && install -m 0755 /src/deploy/docker-entrypoint.sh /usr/local/bin/mockserver-entrypoint \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent mockserver \
 && mkdir /scenarios

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
    CMD python -c "import os, urllib.request; \
        port = os.environ.get('MOCKSERVER_PORT') or 8000; \
        urllib.request.urlopen(f'http://127.0.0.1:{port}/_mock/health', timeout=2)"

# sh runs the entrypoint script, which then execs mockserver: mockserver is PID 1 and gets SIGTERM itself.
ENTRYPOINT ["/bin/sh", "/usr/local/bin/mockserver-entrypoint"]

# agui-proxy: the package and its CLI, run as an unprivileged user.
#   docker build -t agui-proxy .
#   docker run -p 8000:8000 -v $PWD/agui.yaml:/etc/agui-proxy/config.yaml:ro \
#     -e OPENAI_API_KEY -e AGUI_PROXY_TOKEN agui-proxy
# `docker run -p 8000:8000 agui-proxy --workers 1` (any command without --config) serves the embedded demo.
# The image holds the extras a real deployment uses: redis (store.url: quotas and resumable runs
# shared by replicas) and otel (tracing).  `--build-arg EXTRAS=` builds it without them, and
# `--build-arg EXTRAS=redis` with one of them.
FROM python:3.12-slim

ARG EXTRAS=redis,otel

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY agui_proxy ./agui_proxy
RUN pip install ".${EXTRAS:+[$EXTRAS]}" \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin agui

WORKDIR /
USER 10001:10001
EXPOSE 8000

# The liveness probe, for plain Docker (an orchestrator calls /healthz and /readyz itself).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

# --host 0.0.0.0: reachable from outside the container (the CLI's default is loopback only).
ENTRYPOINT ["agui-proxy", "--host", "0.0.0.0", "--port", "8000"]
CMD ["--config", "/etc/agui-proxy/config.yaml"]

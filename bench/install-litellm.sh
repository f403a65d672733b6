#!/usr/bin/env bash
# Install LiteLLM's proxy for the bench, in its own environment (bench/.venv-litellm, gitignored):
# its dependency pins clash with the project's, so it never shares agui-proxy's venv.
#
# As found on this project's machines: uv resolves it only with certifi overridden to
# 2026.10.18 (then litellm 1.108.7); the proxy needs opentelemetry-sdk at start.  uvloop and
# httptools are added so LiteLLM's uvicorn runs on the same loop and parser as the others.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if ! command -v uv >/dev/null 2>&1; then
    "$PYTHON" -m pip install --quiet uv
fi
UV=$(command -v uv || echo "$PYTHON -m uv")
overrides=$(mktemp)
trap 'rm -f "$overrides"' EXIT
echo "certifi==2026.10.18" > "$overrides"
[ -x .venv-litellm/bin/python ] || $UV venv --quiet --python "$PYTHON" .venv-litellm
$UV pip install --quiet --python .venv-litellm/bin/python --override "$overrides" \
    'litellm[proxy]' opentelemetry-sdk uvloop httptools
.venv-litellm/bin/python -c "import importlib.metadata as m; print(\"litellm\", m.version(\"litellm\"), \"installed in bench/.venv-litellm\")"

"""The deployment examples agree with the proxy: the Kubernetes manifest's config loads, its probes
are the proxy's, and the image it names runs the CLI as the user and on the port it expects.

(No Docker engine here: the Dockerfile is read, not built.)
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from agui_proxy.config import config_from_dict
from agui_proxy.serving.cli import parse_args

REPO = Path(__file__).resolve().parents[2]


def manifest() -> dict[str, dict[str, Any]]:
    docs = [doc for doc in yaml.safe_load_all((REPO / "deploy" / "kubernetes.yaml").read_text()) if doc]
    return {doc["kind"]: doc for doc in docs}


def dockerfile() -> dict[str, str]:
    """The Dockerfile's last value of each instruction (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            out[instruction.upper()] = rest.strip()
    return out


def test_the_manifest_config_loads_and_its_probes_are_the_proxys() -> None:
    kinds = manifest()
    assert set(kinds) == {"ConfigMap", "Deployment", "Service", "Ingress"}
    config = config_from_dict(yaml.safe_load(kinds["ConfigMap"]["data"]["config.yaml"]), source="configmap",
                              env={"OPENAI_API_KEY": "sk-x", "AGUI_PROXY_TOKEN": "client-token-1"})
    (container,) = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == config.probes.liveness_path
    assert container["readinessProbe"]["httpGet"]["path"] == config.probes.readiness_path
    annotations = kinds["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == config.metrics.path

    args = parse_args(container["args"])
    assert args.config == "/etc/agui-proxy/config.yaml" and args.workers == 2
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/etc/agui-proxy"] == "config"
    assert "/tmp" in mounts, "a read-only root needs a writable /tmp for the workers' metrics"


def test_the_image_runs_the_cli_as_the_manifests_user_on_its_port() -> None:
    docker = dockerfile()
    entrypoint = yaml.safe_load(docker["ENTRYPOINT"]) + yaml.safe_load(docker["CMD"])
    assert entrypoint[0] == "agui-proxy"
    args = parse_args(entrypoint[1:])
    assert (args.host, args.port) == ("0.0.0.0", 8000)
    assert docker["EXPOSE"] == "8000"
    user = docker["USER"].split(":")[0]
    assert user not in ("0", "root")

    pod = manifest()["Deployment"]["spec"]["template"]["spec"]
    assert str(pod["securityContext"]["runAsUser"]) == user
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == args.port
    assert "--host" not in container["args"], "the image's entrypoint sets the address"
    assert shlex.split(docker["RUN"])[:2] == ["pip", "install"]
    assert shlex.split(docker["COPY"])[0] == "agui_proxy"


# What each extra is for: the proxy module that imports it when the feature is on.
EXTRA_USERS = {"redis": "agui_proxy.store.redis", "otel": "agui_proxy.tracing.setup"}


def image_extras(build_args: dict[str, str]) -> set[str]:
    """The extras the image's ``pip install`` line installs, as the shell of ``RUN`` expands it."""
    docker = dockerfile()
    name, _, default = docker["ARG"].partition("=")
    env = {"PATH": os.environ["PATH"], name: build_args.get(name, default)}
    (requirement,) = shlex.split(docker["RUN"].split("&&")[0])[2:]
    expanded = subprocess.run(["sh", "-c", f"echo {requirement}"], env=env, capture_output=True, text=True,
                              check=True).stdout.strip()
    path, _, extras = expanded.partition("[")
    assert path == "."
    return set(filter(None, extras.rstrip("]").split(",")))


def test_the_image_installs_the_extras_the_docs_name() -> None:
    page = (REPO / "docs" / "operations.md").read_text()
    (paragraph,) = [p for p in page.split("\n\n") if p.startswith("The `Dockerfile` at the repository root")]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = set(pyproject["project"]["optional-dependencies"])
    named = {word for word in re.findall(r"`([a-z]+)`", paragraph) if word in extras}
    assert named == {"redis", "otel"}
    assert image_extras({}) == named, "the Dockerfile installs what the operations page says it does"
    assert image_extras({"EXTRAS": ""}) == set(), "EXTRAS= builds the image without extras"
    assert image_extras({"EXTRAS": "redis"}) == {"redis"}


@pytest.mark.parametrize("extra", sorted(EXTRA_USERS))
def test_what_the_image_installs_is_what_the_proxy_imports(extra: str) -> None:
    """The image's Python can import each extra it installs: the proxy's module that needs the
    extra imports in an environment installed with it (the tests' own, which has them all), and
    the image's Python is one the package supports."""
    assert extra in image_extras({})
    importlib.import_module(EXTRA_USERS[extra])
    image_python = re.fullmatch(r"python:(\d+)\.(\d+)-slim", dockerfile()["FROM"])
    assert image_python is not None
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires.startswith(">=3.")
    assert int(image_python.group(2)) >= int(requires.removeprefix(">=3."))

"""The deployment examples agree with the proxy: the Kubernetes manifest's config loads, its probes
are the proxy's, and the image it names runs the CLI as the user and on the port it expects.

(No Docker engine here: the Dockerfile is read, not built.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from agui_proxy.cli import parse_args
from agui_proxy.config import config_from_dict

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
    assert "pip install ." in docker["RUN"]
    assert shlex.split(docker["COPY"])[0] == "agui_proxy"

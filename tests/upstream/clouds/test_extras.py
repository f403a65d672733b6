"""Without the aws and gcp extras the proxy imports and serves everything else, a Bedrock API key
included; a cloud upstream that needs an extra says which, at start."""

from __future__ import annotations

from pathlib import Path

from tests.support.proxy import run_cli, write_config

BLOCKED = "raise ImportError('not installed (blocked by the test)')\n"


def without_extras(tmp_path: Path) -> dict[str, str]:
    """An environment where ``import botocore`` and ``import google.auth`` fail, as without the extras."""
    blocked = tmp_path / "blocked"
    for package in ("botocore", "google/auth"):
        (blocked / package).mkdir(parents=True)
        (blocked / package / "__init__.py").write_text(BLOCKED)
    (blocked / "google" / "__init__.py").write_text("")
    return {"PYTHONPATH": str(blocked), "AWS_EC2_METADATA_DISABLED": "true", "NO_GCE_CHECK": "true"}


def upstreams(**extra: dict[str, object]) -> dict[str, object]:
    return {"upstreams": {"openai": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/v1",
                                     "api_key": "sk-test-0123456789", "model": "m"}, **extra},
            "routes": [{"path": "/api/agent", "upstream": "openai"}]}


def test_the_proxy_runs_without_the_extras(tmp_path: Path) -> None:
    config = upstreams(keyed={"provider": "bedrock", "region": "eu-west-1", "model": "m",
                              "api_key": "bedrock-api-key-0123456789"})
    result = run_cli(tmp_path, ["check", "--config", str(write_config(tmp_path, config))], env=without_extras(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "keyed: a Bedrock API key (Authorization: Bearer) from the config's api_key" in result.stdout


def test_a_cloud_upstream_names_the_extra_it_needs(tmp_path: Path) -> None:
    config = upstreams(bedrock={"provider": "bedrock", "region": "eu-west-1", "model": "m"},
                       vertex={"provider": "vertex", "project": "p", "location": "global", "model": "gemini-2.5-pro"})
    result = run_cli(tmp_path, ["check", "--config", str(write_config(tmp_path, config))], env=without_extras(tmp_path))
    assert result.returncode == 2
    assert "upstreams.bedrock: provider bedrock with IAM credentials needs botocore, in the aws extra " \
           "(pip install 'agui-proxy[aws]'); or set api_key to a Bedrock API key" in result.stderr
    assert "upstreams.vertex: provider vertex needs google-auth, in the gcp extra (pip install 'agui-proxy[gcp]')" \
        in result.stderr
    assert "Traceback" not in result.stderr

"""``agui-proxy check`` on cloud upstreams: which credentials each would use (kind and source,
never a value), and, when there are none, an error naming the upstream and what was looked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.gcp import service_account_file
from tests.support.proxy import assert_no_secret, run_cli, write_config

pytest.importorskip("botocore", reason="the aws extra (botocore) is not installed")
pytest.importorskip("google.auth", reason="the gcp extra (google-auth) is not installed")

SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYCHECKSECRET"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjCHECK-session-token-0123456789"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1jaGVjay0wMTIzNDU2Nzg5"
# Nothing outside the loopback: no shared AWS files, no instance metadata service, no gcloud files,
# no metadata server.
OFFLINE = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent/aws-config",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials", "NO_GCE_CHECK": "true",
           "GCE_METADATA_HOST": "127.0.0.1:9", "BEDROCK_API_KEY": API_KEY}
CLOUD_ENV = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
             "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "GOOGLE_APPLICATION_CREDENTIALS"]


def config(tmp_path: Path) -> Path:
    common: dict[str, Any] = {"region": "us-east-1", "model": "anthropic.claude-3-5-haiku-20241022-v1:0"}
    return write_config(tmp_path, {
        "upstreams": {"bedrock": {"provider": "bedrock", **common},
                      "bedrock-key": {"provider": "bedrock", **common, "api_key": "${BEDROCK_API_KEY}"},
                      "vertex": {"provider": "vertex", "project": "p", "location": "global",
                                 "model": "gemini-2.5-pro"}},
        "routes": [{"path": "/a", "upstream": "bedrock"}]})


def test_check_names_each_upstreams_credentials_without_their_values(tmp_path: Path) -> None:
    key_file, pem = service_account_file(tmp_path, "http://127.0.0.1:9/token")
    env = {**OFFLINE, "AWS_ACCESS_KEY_ID": "ASIACHECKKEY", "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_SESSION_TOKEN": SESSION_TOKEN, "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
           "CLOUDSDK_CONFIG": str(tmp_path / "no-gcloud")}
    result = run_cli(tmp_path, ["check", "--config", str(config(tmp_path))], env=env, drop_env=CLOUD_ENV)
    assert result.returncode == 0, result.stderr
    for line in ("bedrock: AWS IAM credentials (SigV4) from environment variables",
                 "bedrock-key: a Bedrock API key (Authorization: Bearer) from the config's api_key",
                 f"vertex: Google OAuth access token from a service account key ({key_file}, "
                 "from GOOGLE_APPLICATION_CREDENTIALS)"):
        assert line in result.stdout, result.stdout
    key_text = "".join(pem.splitlines()[1:-1])
    assert_no_secret(result.stdout + result.stderr, SECRET_KEY, SESSION_TOKEN, API_KEY, key_text[:300])


def test_missing_credentials_name_the_upstream_and_what_was_looked_for(tmp_path: Path) -> None:
    env = {**OFFLINE, "CLOUDSDK_CONFIG": str(tmp_path / "no-gcloud")}
    result = run_cli(tmp_path, ["check", "--config", str(config(tmp_path))], env=env, drop_env=CLOUD_ENV)
    assert result.returncode == 2, result.stdout
    assert "upstreams.bedrock: no AWS credentials found for Bedrock" in result.stderr
    for looked in ("AWS_ACCESS_KEY_ID", "shared credentials and config files", "AWS_WEB_IDENTITY_TOKEN_FILE",
                   "container credentials endpoint", "instance metadata service", "api_key"):
        assert looked in result.stderr
    assert "upstreams.vertex: no Google Cloud credentials found for Vertex AI" in result.stderr
    for looked in ("GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth application-default login", "metadata server"):
        assert looked in result.stderr
    assert "bedrock-key" not in result.stderr  # a key needs no credentials chain
    assert "Traceback" not in result.stderr

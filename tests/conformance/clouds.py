"""The cloud providers' cases for the official client: Bedrock (its event stream) and Vertex AI
(Gemini's and Anthropic's streams under Google Cloud paths, with tokens from a loopback token
endpoint).

Their upstreams take scheme, host and port only (the proxy adds the API's path), so each case is
told apart by what the path names: the model for Bedrock (``/model/case-<i>/...``), the project
for Vertex (``/v1/projects/case-<i>/...``).  Bedrock runs with an API key (a bearer header, no
botocore needed); Vertex needs the gcp extra and the service account file :func:`google_env`
points at.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agui_proxy.config import config_from_dict
from agui_proxy.providers import Provider, build_provider

from ..support import eventstream as es
from ..support.gcp import TokenEndpoint, public_pem_of, service_account_file
from ..support.upstream import SSE_HEADERS, ScriptedUpstream, Status, Step, split, sse_bytes

EVENT_STREAM = {"content-type": "application/vnd.amazon.eventstream"}


@dataclass(frozen=True)
class CloudCase:
    id: str
    provider: str  # bedrock or vertex
    model: str
    data: bytes  # the upstream's body

    def upstream(self, index: int, url: str, key: str) -> dict[str, Any]:
        """The case's upstream config (``url``: the loopback server's scheme, host and port)."""
        if self.provider == "bedrock":
            return {"provider": "bedrock", "region": "us-east-1", "model": f"case-{index}", "base_url": url,
                    "api_key": key, "retries": 0}
        return {"provider": "vertex", "project": f"case-{index}", "location": "us-central1", "model": self.model,
                "base_url": url, "retries": 0}

    def prefix(self, index: int) -> str:
        return f"/model/case-{index}/" if self.provider == "bedrock" else f"/v1/projects/case-{index}/"

    def answer(self, chunk: int) -> list[Step]:
        headers = EVENT_STREAM if self.provider == "bedrock" else SSE_HEADERS
        return [Status(200, headers), *split(self.data, chunk)]

    def reader(self) -> Provider:
        """The provider that reads this case's body, as the proxy builds it."""
        config = config_from_dict({"upstreams": {"u": self.upstream(0, "http://127.0.0.1:9", "k")},
                                   "routes": [{"path": "/r", "upstream": "u"}]})
        return build_provider(config.upstreams["u"])


def _claude(*payloads: dict[str, Any]) -> bytes:
    return sse_bytes(*payloads, event_lines=True)


CLOUD_CASES = [
    CloudCase("bedrock/reasoning-text-parallel-tools", "bedrock", "", es.converse(
        es.start(), *es.reasoning_block(0, "Two cities, ", "two calls.", signature="EqQBCkgIARAB-sig=="),
        *es.text_block(1, "Checking ", "both."),
        *es.tool_block(2, "tooluse_P", "get_weather", '{"city":', '"Paris"}'),
        *es.tool_block(3, "tooluse_R", "get_weather", '{"city":"Rome"}'),
        *es.stop("tool_use", cacheReadInputTokens=100))),
    CloudCase("bedrock/redacted-reasoning", "bedrock", "", es.converse(
        es.start(), *es.reasoning_block(0, redacted="c2VjcmV0IHJlYXNvbmluZw=="), *es.text_block(1, "Hi 👋"),
        *es.stop())),
    CloudCase("bedrock/throttled-mid-stream", "bedrock", "", es.converse(es.start(), *es.text_block(0, "Part"))
              + es.exception("throttlingException", "Too many requests")),
    CloudCase("vertex/gemini-text", "vertex", "gemini-2.5-flash", sse_bytes(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Bonjour "}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "à tous."}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}})),
    CloudCase("vertex/claude-thinking-tool", "vertex", "claude-sonnet-4-5@20250929", _claude(
        {"type": "message_start", "message": {"model": "claude-sonnet-4-5", "usage": {"input_tokens": 9}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Paris."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "EqQB=="}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1",
                                                                       "name": "get_weather", "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta",
                                                              "partial_json": '{"city":"Paris"}'}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}},
        {"type": "message_stop"})),
]


@contextmanager
def google_env(directory: Path) -> Iterator[dict[str, str]]:
    """A loopback token endpoint and the environment that makes it the proxy's ADC."""
    with ScriptedUpstream() as server:
        tokens = TokenEndpoint(server, b"")
        path, pem = service_account_file(directory, tokens.token_uri)
        tokens.public_pem = public_pem_of(pem)
        yield {"GOOGLE_APPLICATION_CREDENTIALS": str(path), "NO_GCE_CHECK": "true",
               "GCE_METADATA_HOST": "127.0.0.1:9", "CLOUDSDK_CONFIG": str(directory / "no-gcloud")}

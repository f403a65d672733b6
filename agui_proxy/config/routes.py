"""The ``routes:`` section: the paths the proxy answers, each naming its upstream and fallbacks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from .runs import ResumableConfig
from .strict import Strict, absolute_path
from .tools import ServerToolsConfig
from .upstreams import forwardable_headers


class RouteConfig(Strict):
    path: str
    upstream: str
    done: Literal["auto", "always", "never"] = "auto"
    event_lines: bool = False
    # REASONING_* events.  "auto": to AG-UI clients, not to BranderUX ones, whose documented event
    # table lists none and whose docs do not say unknown events are ignored (docs/clients.md, "What a
    # BranderUX client sees").  A tool call's own signature is sent either way (core/run.py).
    reasoning: bool | Literal["auto"] = "auto"
    # The provider's sources as metadata.citations: "auto" (AG-UI clients), true (BranderUX too), false.
    citations: bool | Literal["auto"] = "auto"
    # reliability and security
    fallbacks: list[str] = Field(default_factory=list)  # upstreams tried in order when the first fails early
    allow_models: list[str] = Field(default_factory=list)  # models the client may pick with params.model
    forward_headers: list[str] = Field(default_factory=list)  # client headers sent on to every upstream
    # Runs that outlive their connection: GET <path>/runs/<runId> (docs/resumable-runs.md); off: None.
    resumable: ResumableConfig | None = None
    # Tools the proxy runs for the model on MCP servers (tools.py, docs/server-tools.md); off: None.
    server_tools: ServerToolsConfig | None = None

    def reasoning_for(self, client: str) -> bool:
        """Whether a run for this kind of client (``"agui"`` or ``"branderux"``) shows reasoning."""
        return self.reasoning if isinstance(self.reasoning, bool) else client == "agui"

    def citations_for(self, client: str) -> bool:
        """Whether a run for this kind of client carries citations (``metadata.citations``)."""
        return self.citations if isinstance(self.citations, bool) else client == "agui"

    @field_validator("forward_headers")
    @classmethod
    def _route_forwardable(cls, names: list[str]) -> list[str]:
        return forwardable_headers(names)

    @field_validator("path")
    @classmethod
    def _absolute(cls, path: str) -> str:
        return absolute_path(path)



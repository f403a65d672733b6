"""What a route may send where: its chain of upstreams, the models a client may pick, the
client headers that may go along.

The client never chooses the upstream URL or key, and chooses the model only among the route's
``allow_models`` (PROTOCOL.md section 1: "The client never chooses the upstream URL, key or
model unless the route's config allows it").  No header of the client's reaches an upstream
unless the route or the upstream lists it in ``forward_headers``; the upstream's own headers
(its key, its content type) always win over a forwarded one of the same name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from ..config import Config, ForwardIdentityConfig, RouteConfig, UpstreamConfig
from ..core.conversation import Conversation
from ..core.encoder import EventEncoder
from ..errors import InboundError
from ..providers import Provider, ProviderRequest, build_provider
from ..users.forward import with_identity


def provider_for(upstream: UpstreamConfig, model: str | None = None) -> Provider:
    """The provider strategy of an upstream (a replay plays recordings in its ``format``)."""
    return build_provider(upstream, model)


@dataclass(frozen=True, slots=True)
class Target:
    """One upstream of a route's chain, ready to be sent a conversation."""

    name: str
    upstream: UpstreamConfig
    provider: Provider
    forward_headers: frozenset[str]  # lowercased client header names that go along
    forward_identity: ForwardIdentityConfig | None = None  # how the upstream learns who the user is
    user: str | None = None  # who the user is, for forward_identity (as the access log shows it)

    def for_user(self, user: str) -> Target:
        """This target, telling its upstream about ``user`` if it asks to be told."""
        return dataclasses.replace(self, user=user) if self.forward_identity is not None else self

    def build_request(self, conversation: Conversation, client_headers: Iterable[tuple[bytes, bytes]],
                      ) -> ProviderRequest:
        request = self.provider.build_request(conversation)
        if self.forward_headers:
            extra = forwarded(client_headers, self.forward_headers)
            request = request.with_headers(extra) if extra else request
        if self.user is not None and self.forward_identity is not None:
            request = with_identity(request, self.provider.name, self.forward_identity, self.user)
        return request


def forwarded(client_headers: Iterable[tuple[bytes, bytes]], allowed: frozenset[str]) -> dict[str, str]:
    """The client's headers whose names are in ``allowed`` (repeated ones joined with ", ")."""
    out: dict[str, str] = {}
    for raw_name, raw_value in client_headers:
        name = raw_name.decode("latin-1").lower()
        if name in allowed:
            value = raw_value.decode("latin-1")
            out[name] = f"{out[name]}, {value}" if name in out else value
    return out


class RoutePlan:
    """A route's upstream chain: the primary (one per allowed model), then its fallbacks in order."""

    def __init__(self, config: Config, route: RouteConfig) -> None:
        self.route = route
        self.label = f"route {route.path}: "  # what its log lines start with
        self.encoder = EventEncoder(event_lines=route.event_lines)  # holds no state of a run: shared
        self.upstream_name = route.upstream
        primary = config.upstreams[route.upstream]
        self.default_model = primary.model
        self.allow_models = tuple(route.allow_models)
        self._primary = {model: self._target(config, route, route.upstream, model)
                         for model in {primary.model, *route.allow_models}}
        self._fallbacks = [self._target(config, route, name, None) for name in route.fallbacks]

    @staticmethod
    def _target(config: Config, route: RouteConfig, name: str, model: str | None) -> Target:
        upstream = config.upstreams[name]
        allowed = frozenset(route.forward_headers) | frozenset(upstream.forward_headers)
        return Target(name, upstream, provider_for(upstream, model), allowed, upstream.forward_identity)

    def targets(self, requested_model: str | None) -> list[Target]:
        """The chain for a request; a model the route does not allow is a 422 naming the choices."""
        model = requested_model or self.default_model
        if model not in self._primary:
            if self.allow_models:
                choices = ", ".join(self.allow_models)
                raise InboundError(422, "model_not_allowed",
                                   f"params.model: {requested_model!r} is not allowed on this route ({choices})")
            raise InboundError(422, "model_not_allowed",
                               "params.model: this route does not let the client choose the model")
        return [self._primary[model], *self._fallbacks]

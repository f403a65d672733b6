"""What the four stream translators share, written once.

- One dispatch style: a translator names an event kind's handler with :func:`handles`, and the
  class's table of handlers (kind -> method) is built once, when the class is defined.
- The model the upstream says answered (:meth:`TranslatorBase.saw_model`), the in-band error raise
  (:meth:`~TranslatorBase.reported_error`), the truncation check at the end of the body
  (:meth:`~TranslatorBase.close`) and the token arithmetic (:func:`token_usage`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NoReturn, TypeVar

from ..core.events import TokenUsage
from ..core.run import RunBuilder
from ..errors import UpstreamReportedError, UpstreamTruncated

Handler = Callable[[Any, dict[str, Any]], None]
H = TypeVar("H", bound=Handler)


def handles(*kinds: str) -> Callable[[H], H]:
    """Marks a translator method as the handler of the events of these kinds."""

    def mark(method: H) -> H:
        method.handles = kinds  # type: ignore[attr-defined]  # read once, by __init_subclass__
        return method

    return mark


class TranslatorBase:
    """A translator of one provider's events into a :class:`~agui_proxy.core.run.RunBuilder`."""

    # What a complete stream ends with, for the error when the body ends before it.
    end_marker: ClassVar[str]
    # Event kind -> handler, from the methods marked with @handles (the base's table extended).
    handlers: ClassVar[dict[str, Handler]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(cls.handlers)
        for attribute in vars(cls).values():
            for kind in getattr(attribute, "handles", ()):
                table[kind] = attribute
        cls.handlers = table

    def __init__(self, run: RunBuilder, *, model: str) -> None:
        self._run = run
        self._model = model

    def dispatch(self, kind: Any, payload: dict[str, Any]) -> None:
        """The handler of ``kind`` given the event; kinds without one (pings, kinds to come) are ignored."""
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(self, payload)

    def saw_model(self, model: Any) -> None:
        """The model the upstream says answered, when it says one (usage names it)."""
        if isinstance(model, str) and model:
            self._model = model

    @staticmethod
    def reported_error(detail: str) -> NoReturn:
        raise UpstreamReportedError(f"upstream reported an error: {detail}")

    def close(self, truncated: bool) -> None:
        if not self._run.ended:
            raise UpstreamTruncated(f"the upstream stream ended without {self.end_marker}")


def token_usage(provider: str, model: str, *, input_tokens: int | None, output_tokens: int | None,
                reported_total: int | None = None, reasoning_tokens: int | None = None,
                cached_input_tokens: int | None = None, cache_write_input_tokens: int | None = None) -> TokenUsage:
    """A run's usage in AG-UI's accounting.  The total is input plus output when both are known
    (so the three always agree), else the total the provider reported."""
    known = input_tokens is not None and output_tokens is not None
    return TokenUsage(
        provider=provider,
        model=model or None,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=(input_tokens or 0) + (output_tokens or 0) if known else reported_total,
        reasoning_tokens=reasoning_tokens,
        cached_input_tokens=cached_input_tokens,
        cache_write_input_tokens=cache_write_input_tokens,
    )

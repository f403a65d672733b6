"""Read a Prometheus text exposition with prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


class Samples:
    """Every sample of an exposition, looked up by name and labels."""

    def __init__(self, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode()
        self.text = text
        self._values: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self._values[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def get(self, name: str, **labels: str) -> float | None:
        """The sample with exactly these labels, or ``None`` when there is none."""
        return self._values.get((name, frozenset(labels.items())))

    def __getitem__(self, name: str) -> float:
        value = self.get(name)
        assert value is not None, f"no sample {name} without labels in:\n{self.text}"
        return value

    def with_name(self, name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {labels: value for (n, labels), value in self._values.items() if n == name}

    def names(self) -> set[str]:
        return {name for name, _ in self._values}

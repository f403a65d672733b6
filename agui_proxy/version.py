"""The package's version, in one place: ``agui-proxy --version``, the start-up lines, the traces' resource."""

__version__ = "0.1.0"  # as pyproject.toml's [project] version

"""The documentation holds to the code: every config example in the pages and the README is a valid
config (a fragment, laid over the smallest whole config), every key of the configuration reference
is an option (and every option in it), every RUN_ERROR code is in the protocol page's table, and
the README's links lead somewhere.
The site's own links, anchors and nav are checked by ``mkdocs build --strict`` (.ci/run)."""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from agui_proxy.config import Config, config_from_dict
from agui_proxy.errors import RunError

REPO = Path(__file__).resolve().parents[1]
PAGES = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)
VARIABLE = re.compile(r"\$\{(\w+)")
# The smallest whole config a fragment is laid over: the upstream name the pages' routes use.
BASE: dict[str, Any] = {"upstreams": {"openai": {"provider": "replay"}},
                        "routes": [{"path": "/api/agent", "upstream": "openai"}]}


def config_examples() -> list[Any]:
    found = []
    for page in PAGES:
        for number, block in enumerate(YAML_BLOCK.findall(page.read_text("utf-8")), 1):
            if block.startswith("--8<--"):  # config.example.yaml, included whole: tests/config loads it
                continue
            if block.startswith("# prometheus.yml"):  # the scraper's config, not the proxy's
                continue
            found.append(pytest.param(block, id=f"{page.relative_to(REPO)}-{number}"))
    return found


def laid_over(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """The fragment's mappings merged key by key into the base's; anything else replaces."""
    merged = dict(base)
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = laid_over(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_the_pages_hold_config_examples() -> None:
    assert len(config_examples()) >= 10, "the YAML blocks are found (a changed fence would hide them all)"


@pytest.mark.parametrize("block", config_examples())
def test_every_config_example_loads(block: str) -> None:
    fragment = yaml.safe_load(block)
    assert isinstance(fragment, dict)
    # Each ${VAR} set, to a value long enough for a secret (an HS256 key wants 32 bytes).
    env = {name: f"{name.lower()}-{'x' * 32}" for name in VARIABLE.findall(block)}
    # Upstreams a fragment names but does not define (the tracing example's own traced service).
    named = {name: {"provider": "replay"} for name in fragment.get("tracing", {}).get("propagate_to", [])}
    base = laid_over(BASE, {"upstreams": named})
    config = config_from_dict(laid_over(base, fragment), source="example", env=env, base_dir=REPO)
    for upstream in fragment.get("upstreams", {}):
        assert upstream in config.upstreams


def test_the_readme_links_lead_to_files_that_exist() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    targets = {target for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", readme)
               if not target.startswith(("http://", "https://"))}
    assert "docs/index.md" in targets
    missing = sorted(target for target in targets if not (REPO / target).exists())
    assert missing == []


def options(annotation: Any) -> dict[str, Any]:
    """The options a config value of this type takes (each with its own type), for every form the
    value may take (a union: all of its members; a dict or a list: its values; a model: its fields)."""
    found: dict[str, Any] = {}
    origin = get_origin(annotation)
    if origin is Annotated:
        return options(get_args(annotation)[0])
    if origin in (Union, UnionType, list, dict):
        for arg in get_args(annotation):
            for name, value in options(arg).items():
                found.setdefault(name, value)
        return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: field.annotation for name, field in annotation.model_fields.items() if not field.exclude}
    return found


def reference_keys() -> list[str]:
    """The first column of the configuration reference, each name written out in full: in
    "`auth.jwt.refetch_interval`, `keys_max_age`", the second is `auth.jwt.keys_max_age`."""
    page = (REPO / "docs" / "configuration.md").read_text("utf-8")
    keys = []
    for row in re.findall(r"^\| (`.*?) \|", page, re.M):
        parent = ""
        for name in re.findall(r"`([^`]+)`", row):
            if "." in name or "[" in name:
                parent = name.rpartition(".")[0]
                keys.append(name)
            else:
                keys.append(f"{parent}.{name}" if parent else name)
    return keys


def test_the_configuration_reference_and_the_options_match() -> None:
    """Every key of the reference is an option, and every option is in the reference: by its own
    name, or within a key the reference gives whole (`probes`: every option of `probes:`)."""
    keys = reference_keys()
    assert len(keys) >= 80, "the reference table is found"
    unknown = []
    for key in keys:
        annotation: Any = Config
        for part in re.sub(r"\[\]|\.<name>|\.\*$", "", key).split("."):
            annotation = options(annotation).get(part)
            if annotation is None:
                unknown.append(key)
                break
    assert unknown == []
    documented = {re.sub(r"\[\]|\.<name>|\.\*$", "", key) for key in keys}

    def undocumented(annotation: Any, prefix: str) -> list[str]:
        missing = []
        for name, value in options(annotation).items():
            path = prefix + name
            if path in documented:
                continue  # documented whole, its own options with it
            if any(key.startswith(path + ".") for key in documented):
                missing += undocumented(value, path + ".")  # documented option by option
            else:
                missing.append(path)
        return missing

    assert undocumented(Config, "") == []


def test_the_protocol_page_lists_every_run_error_code() -> None:
    """The table of RUN_ERROR codes holds each code a run can end with, and no other."""
    page = (REPO / "docs" / "protocol.md").read_text("utf-8")
    table = page.split("## Errors in the stream", 1)[1].split("\n\n")[2]  # the heading, a paragraph, the table
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, re.M)
    codes: set[str] = set()
    pending: list[type[RunError]] = [RunError]
    while pending:
        cls = pending.pop()
        codes.add(cls.code)
        pending += cls.__subclasses__()
    assert len(listed) == len(set(listed))
    assert set(listed) == codes

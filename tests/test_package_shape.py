"""The package's shape, as the standards ask (docs/architecture.md, "Rules"): no import cycle
between modules, none between folders, the core free of I/O, no function past 60 lines.  Read
from the source with ``ast`` (nothing is imported), so an import hidden behind
``if TYPE_CHECKING:`` or inside a function counts too.  Module length is a guideline, not a test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agui_proxy"
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports, wherever in it the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # "from .pkg import mod" imports the module pkg.mod; "from .mod import name" imports mod.
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(target for target in targets if target in MODULES and target != name)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order, the first repeated at the end), if any."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = pending.pop()
            if nxt in on_path:
                return [*path[path.index(nxt):], nxt]
            if nxt not in done:
                stack.append((nxt, sorted(graph[nxt])))
                path.append(nxt)
                on_path.add(nxt)
    return None


def test_find_cycle_finds_one_and_only_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_relative_imports_resolve_to_the_modules() -> None:
    imports = imported_modules("agui_proxy.app.proxy", MODULES["agui_proxy.app.proxy"])
    assert {"agui_proxy.config", "agui_proxy.app.stack"} <= imports


def test_no_import_cycle_in_the_package() -> None:
    graph = {name: imported_modules(name, path) for name, path in MODULES.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def folder_of(name: str) -> str:
    """The folder a module lives in (a package is its own folder); a module at the package's root
    is a node of its own (``agui_proxy.config``), the root's ``__init__`` (the public API) too."""
    if MODULES[name].name == "__init__.py" or name.count(".") == 1:
        return name
    return name.rpartition(".")[0]


def folder_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(folder_of(name), set())
        edges.update(folder_of(target) for target in imported_modules(name, path))
        edges.discard(folder_of(name))
    return graph


def test_folder_graph_folds_modules_into_their_folders() -> None:
    graph = folder_graph()
    assert folder_of("agui_proxy.upstream.retries") == "agui_proxy.upstream"
    assert folder_of("agui_proxy.upstream.transport.pool") == "agui_proxy.upstream.transport"
    assert "agui_proxy.upstream.transport" in graph["agui_proxy.upstream"]
    assert "agui_proxy.middleware" in graph["agui_proxy.app"]


def test_no_import_cycle_between_folders() -> None:
    cycle = find_cycle(folder_graph())
    assert cycle is None, "folders import each other: " + " -> ".join(cycle or [])


# The core and the providers are sans-I/O: bytes and events in, bytes and events out.
IO_LIBRARIES = {"httpx", "starlette", "uvicorn", "anyio", "asyncio", "socket", "ssl", "httptools"}
CORE = sorted(name for name in MODULES if name.split(".")[1:2] in (["core"], ["providers"]))


def external_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_core_list_is_not_empty() -> None:
    assert "agui_proxy.core.pipeline" in CORE and "agui_proxy.providers.base" in CORE


@pytest.mark.parametrize("name", CORE)
def test_the_core_does_no_io(name: str) -> None:
    io = external_imports(MODULES[name]) & IO_LIBRARIES
    assert not io, f"{name} imports {', '.join(sorted(io))}: the core and the providers do no I/O"


def test_the_io_check_sees_an_import() -> None:
    assert "httpx" in external_imports(MODULES["agui_proxy.upstream.call"])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_functions_stay_short(name: str) -> None:
    source = MODULES[name].read_text("utf-8")
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"  # type: ignore[operator]
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]  # type: ignore[operator]
    assert not long, f"{name}: functions past {MAX_FUNCTION_LINES} lines: {', '.join(long)}"

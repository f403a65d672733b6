"""Tool definitions read from any provider's format into the neutral :class:`Tool`.

BranderUX sends ``tools: {anthropic: [...], openai: [...], gemini: [...]}``, each list already in
that provider's format (PROTOCOL.md section 1).  When the route's provider has no list of its
own, another provider's list is read here and written out again by the route's provider.
"""

from __future__ import annotations

from typing import Any

from ..errors import InboundError
from .conversation import Tool

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _bad(path: str, problem: str) -> InboundError:
    return InboundError(422, "invalid_request", f"{path}: {problem}")


def json_schema_from_gemini(schema: Any) -> Any:
    """Gemini's OpenAPI-subset schema spells types in capitals ("OBJECT"); JSON Schema does not."""
    if isinstance(schema, dict):
        out = {k: json_schema_from_gemini(v) for k, v in schema.items()}
        if isinstance(out.get("type"), str):
            out["type"] = out["type"].lower()
        return out
    if isinstance(schema, list):
        return [json_schema_from_gemini(v) for v in schema]
    return schema


def _tool(name: Any, description: Any, parameters: Any, path: str) -> Tool:
    if not isinstance(name, str) or not name:
        raise _bad(f"{path}.name", "a tool needs a non-empty string name")
    if description is not None and not isinstance(description, str):
        raise _bad(f"{path}.description", "must be a string")
    if parameters is None:
        parameters = dict(_EMPTY_SCHEMA)
    if not isinstance(parameters, dict):
        raise _bad(f"{path}.parameters", "must be a JSON Schema object")
    return Tool(name, description or "", parameters)


def read_openai_tool(entry: Any, path: str) -> Tool:
    """Chat Completions ``{type, function: {...}}`` or the Responses API's flat ``{type, name, ...}``."""
    if not isinstance(entry, dict):
        raise _bad(path, "a tool must be an object")
    fn = entry.get("function", entry)
    if not isinstance(fn, dict):
        raise _bad(f"{path}.function", "must be an object")
    return _tool(fn.get("name"), fn.get("description"), fn.get("parameters"), path)


def read_anthropic_tool(entry: Any, path: str) -> Tool:
    if not isinstance(entry, dict):
        raise _bad(path, "a tool must be an object")
    return _tool(entry.get("name"), entry.get("description"), entry.get("input_schema"), path)


def read_gemini_tools(entries: list[Any], path: str) -> list[Tool]:
    """Bare function declarations, or ``{functionDeclarations: [...]}`` wrappers."""
    tools: list[Tool] = []
    for i, entry in enumerate(entries):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            raise _bad(where, "a tool must be an object")
        decls = entry.get("functionDeclarations", entry.get("function_declarations"))
        if decls is None and "name" not in entry:
            continue  # a built-in tool ({"googleSearch": {}}, codeExecution): Gemini's alone, nothing to convert
        if decls is None:
            decls, where_decl = [entry], [where]
        elif isinstance(decls, list):
            where_decl = [f"{where}.functionDeclarations[{j}]" for j in range(len(decls))]
        else:
            raise _bad(f"{where}.functionDeclarations", "must be a list")
        for decl, at in zip(decls, where_decl, strict=True):
            if not isinstance(decl, dict):
                raise _bad(at, "a function declaration must be an object")
            params = decl.get("parametersJsonSchema", decl.get("parameters_json_schema"))
            if params is None and decl.get("parameters") is not None:
                params = json_schema_from_gemini(decl["parameters"])
            tools.append(_tool(decl.get("name"), decl.get("description"), params, at))
    return tools


def read_tool_lists(native: dict[str, list[Any]], path: str) -> list[Tool]:
    """The neutral tools from the first non-empty provider list (openai, anthropic, gemini)."""
    if native.get("openai"):
        return [read_openai_tool(t, f"{path}.openai[{i}]") for i, t in enumerate(native["openai"])]
    if native.get("anthropic"):
        return [read_anthropic_tool(t, f"{path}.anthropic[{i}]") for i, t in enumerate(native["anthropic"])]
    if native.get("gemini"):
        return read_gemini_tools(native["gemini"], f"{path}.gemini")
    return []

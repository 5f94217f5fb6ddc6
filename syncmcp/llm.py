"""MCP tools handed to LLM APIs: tool definitions in each provider's shape, and tool calls run back.

``tool_definitions(source, provider)`` lists the tools of an :class:`~syncmcp.MCPManager` (under
their qualified ``server__tool`` names) or of a :class:`~syncmcp.ClientSession` in the shape a
provider's API takes; ``run_tool_calls(source, calls, provider)`` runs the tool calls of one
model turn in parallel and returns the provider's tool-result entries in the order asked. Plain
dicts only: no provider SDK is imported.

Providers:

* ``"openai"``: Chat Completions: ``{"type": "function", "function": {...}}``; results are
  ``{"role": "tool", "tool_call_id", "content"}`` messages.
* ``"openai-responses"``: Responses: ``{"type": "function", "name", ..., "strict"}``; results
  are ``{"type": "function_call_output", "call_id", "output"}`` items.
* ``"anthropic"``: Messages: ``{"name", "description", "input_schema"}``; results are
  ``tool_result`` blocks (text and image blocks, ``is_error``).
* ``"gemini"``: function declarations (the schema subset Gemini takes); results are
  ``{"functionResponse": {"name", "response"}}`` parts.
* ``"json-schema"``: ``{"name", "description", "input_schema", "output_schema"}``.

Bad arguments (not JSON, not an object) and failed calls come back to the model as error results
instead of raising, so the agent loop can go on.

Example::

    tools = syncmcp.llm.tool_definitions(manager, "openai")
    reply = client.chat.completions.create(model=..., messages=messages, tools=tools)
    calls = reply.choices[0].message.tool_calls          # objects or dicts
    messages += syncmcp.llm.run_tool_calls(manager, calls, "openai")
"""

from __future__ import annotations

import concurrent.futures
import copy
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ._types import CallToolResult, ImageContent

__all__ = ["PROVIDERS", "ToolCall", "parse_tool_call", "run_tool_calls", "strict_schema", "tool_definitions", "tool_result"]

#: The providers whose shapes this module knows.
PROVIDERS = ("openai", "openai-responses", "anthropic", "gemini", "json-schema")
#: Keywords Gemini's function-declaration schema does not take (dropped, with their values).
_GEMINI_DROPPED = ("$schema", "$id", "$defs", "definitions", "additionalProperties", "default", "examples", "const")


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a model, provider-neutral.

    Attributes:
        id: the provider's id for the call (``None`` when it has none, as Gemini may).
        name: the tool's (qualified) name.
        arguments: the arguments object, or ``None`` when they could not be read.
        problem: why the arguments could not be read (then the call is not made).

    Example:
        >>> ToolCall("c1", "fs__read", {"path": "a"}).name
        'fs__read'
    """

    id: Optional[str]
    name: str
    arguments: Optional[Dict[str, Any]]
    problem: Optional[str] = None


def _check_provider(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}: expected one of {', '.join(PROVIDERS)}")


# ----------------------------------------------------------------------------- definitions


def _tools_of(source: Any, servers: Optional[Iterable[str]], tools: Optional[Iterable[str]]) -> List[Tuple[str, Any]]:
    """``(name to show, Tool)`` pairs of a manager (qualified names) or a session (raw names)."""
    wanted_servers = set(servers) if servers is not None else None
    wanted_tools = set(tools) if tools is not None else None
    found: List[Tuple[str, Any]] = []
    if hasattr(source, "list_all_tools"):
        for qualified, info in source.list_all_tools().items():
            if wanted_servers is not None and info.server not in wanted_servers:
                continue
            if wanted_tools is not None and qualified not in wanted_tools and info.tool_name not in wanted_tools:
                continue
            found.append((qualified, info.tool))
    else:
        for tool in source.list_tools():
            if wanted_tools is None or tool.name in wanted_tools:
                found.append((tool.name, tool))
    return found


def strict_schema(schema: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The schema in OpenAI's strict form, or ``None`` when it cannot be expressed so.

    Strict mode wants every object closed (``additionalProperties: false``) with every property
    required; an optional property becomes nullable instead. Open maps (``additionalProperties``
    true or a schema), ``patternProperties`` and conditional keywords cannot be converted.

    Example:
        >>> converted = strict_schema(
        ...     {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q"]}
        ... )
        >>> converted["properties"]["n"], converted["required"], converted["additionalProperties"]
        ({'type': ['integer', 'null']}, ['q', 'n'], False)
        >>> strict_schema({"type": "object", "additionalProperties": {"type": "string"}}) is None
        True
    """
    try:
        converted: Dict[str, Any] = _strict(copy.deepcopy(dict(schema)))
    except ValueError:
        return None
    return converted


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    for keyword in ("patternProperties", "if", "then", "else", "dependentSchemas", "unevaluatedProperties"):
        if keyword in node:
            raise ValueError(keyword)
    is_object = node.get("type") == "object" or "properties" in node
    if is_object:
        if node.get("additionalProperties", False) is not False:  # an open map: not expressible
            raise ValueError("additionalProperties")
        properties = node.get("properties") or {}
        required = set(node.get("required") or ())
        strict_properties = {}
        for name, sub in properties.items():
            converted = _strict(sub)
            strict_properties[name] = converted if name in required else _nullable(converted)
        node["properties"] = strict_properties
        node["required"] = list(properties)
        node["additionalProperties"] = False
    for key in ("items", "anyOf", "oneOf", "allOf"):
        if key in node:
            node[key] = _strict(node[key])
    for key in ("$defs", "definitions"):
        if isinstance(node.get(key), dict):
            node[key] = {name: _strict(sub) for name, sub in node[key].items()}
    return node


def _nullable(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]} if kind != "null" else schema
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _gemini(node: Any) -> Any:
    if isinstance(node, list):
        return [_gemini(item) for item in node]
    if not isinstance(node, dict):
        return node
    cleaned = {key: _gemini(value) for key, value in node.items() if key not in _GEMINI_DROPPED}
    if isinstance(cleaned.get("properties"), dict):
        cleaned["properties"] = {name: _gemini(sub) for name, sub in node["properties"].items()}
    kind = cleaned.get("type")
    if isinstance(kind, list):  # Gemini takes one type, and "nullable"
        kinds = [k for k in kind if k != "null"]
        cleaned["type"] = kinds[0] if kinds else "string"
        if "null" in kind:
            cleaned["nullable"] = True
    return cleaned


def tool_definitions(
    source: Any,
    provider: str = "openai",
    *,
    servers: Optional[Iterable[str]] = None,
    tools: Optional[Iterable[str]] = None,
    strict: bool = False,
) -> List[Dict[str, Any]]:
    """The tools of a manager or a session as a provider's tool definitions (see the module docs).

    Args:
        source: an :class:`~syncmcp.MCPManager` (qualified names) or a :class:`~syncmcp.ClientSession`.
        provider: one of :data:`PROVIDERS`.
        servers: only the tools of these servers (a manager).
        tools: only these tools (qualified or raw names).
        strict: OpenAI: ask for strict mode, with each schema converted to strict form; a
            schema that cannot be converted keeps ``strict: false``.

    Example::

        syncmcp.llm.tool_definitions(manager, "anthropic", servers=["fs"])
        # -> [{'name': 'fs__read_file', 'description': '...', 'input_schema': {...}}, ...]
    """
    _check_provider(provider)
    definitions = []
    for name, tool in _tools_of(source, servers, tools):
        description = tool.description or tool.title or name
        schema = dict(tool.input_schema) or {"type": "object", "properties": {}}
        if provider in ("openai", "openai-responses"):
            converted = strict_schema(schema) if strict else None
            entry: Dict[str, Any] = {"name": name, "description": description, "parameters": converted or schema}
            entry["strict"] = converted is not None
            definitions.append({"type": "function", "function": entry} if provider == "openai" else {"type": "function", **entry})
        elif provider == "anthropic":
            definitions.append({"name": name, "description": description, "input_schema": schema})
        elif provider == "gemini":
            definitions.append({"name": name, "description": description, "parameters": _gemini(schema)})
        else:
            entry = {"name": name, "description": description, "input_schema": schema}
            if tool.output_schema:
                entry["output_schema"] = dict(tool.output_schema)
            definitions.append(entry)
    return definitions


# ----------------------------------------------------------------------------- tool calls


def _field(item: Any, name: str, default: Any = None) -> Any:
    """A field of a dict or of an SDK object."""
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _arguments(raw: Any) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    if raw is None or raw == "":
        return {}, None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            return None, f"the arguments are not valid JSON ({exc}); send a JSON object"
    if not isinstance(raw, Mapping):
        return None, f"the arguments must be a JSON object, got {type(raw).__name__}"
    return dict(raw), None


def parse_tool_call(call: Any, provider: str = "openai") -> ToolCall:
    """A provider's tool-call object (a dict or an SDK object) as a :class:`ToolCall`.

    Example:
        >>> parse_tool_call({"id": "c1", "type": "function", "function": {"name": "fs__read", "arguments": '{"path": "a"}'}})
        ToolCall(id='c1', name='fs__read', arguments={'path': 'a'}, problem=None)
    """
    _check_provider(provider)
    if provider == "openai":
        function = _field(call, "function") or {}
        call_id, name, raw = _field(call, "id"), _field(function, "name"), _field(function, "arguments")
    elif provider == "openai-responses":
        call_id, name, raw = _field(call, "call_id") or _field(call, "id"), _field(call, "name"), _field(call, "arguments")
    elif provider == "anthropic":
        call_id, name, raw = _field(call, "id"), _field(call, "name"), _field(call, "input")
    elif provider == "gemini":
        inner = _field(call, "function_call") or _field(call, "functionCall") or call
        call_id, name, raw = _field(inner, "id"), _field(inner, "name"), _field(inner, "args")
    else:
        call_id, name, raw = _field(call, "id"), _field(call, "name"), _field(call, "arguments")
    arguments, problem = _arguments(raw)
    return ToolCall(None if call_id is None else str(call_id), str(name or ""), arguments, problem)


def tool_result(
    call: ToolCall, result: Optional[CallToolResult], provider: str = "openai", *, error: Optional[str] = None
) -> Dict[str, Any]:
    """One tool call's result (or ``error``) as the provider's next-message entry.

    Text blocks are joined; structured content is kept beside the text (as JSON text where the
    provider takes text only); images become image blocks where the provider takes them
    (Anthropic), a short note elsewhere; a failed call is marked as an error.

    Example:
        >>> tool_result(ToolCall("c1", "s__t", {}), None, "anthropic", error="no such tool")
        {'type': 'tool_result', 'tool_use_id': 'c1', 'content': [{'type': 'text', 'text': 'no such tool'}], 'is_error': True}
    """
    _check_provider(provider)
    is_error = error is not None or (result is not None and result.is_error)
    text = error if error is not None else _text_of(result)
    if provider == "anthropic":
        blocks: List[Dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        if result is not None and error is None:
            for block in result.content:
                if isinstance(block, ImageContent):
                    source = {"type": "base64", "media_type": block.mime_type, "data": block.data}
                    blocks.append({"type": "image", "source": source})
        entry: Dict[str, Any] = {"type": "tool_result", "tool_use_id": call.id, "content": blocks}
        if is_error:
            entry["is_error"] = True
        return entry
    if provider == "gemini":
        response: Dict[str, Any] = {"error": text} if is_error else {"content": text}
        if result is not None and result.has_structured_content and not is_error:
            response["structuredContent"] = result.structured_content
        function_response: Dict[str, Any] = {"name": call.name, "response": response}
        if call.id is not None:
            function_response["id"] = call.id
        return {"functionResponse": function_response}
    shown = f"Error: {text}" if is_error and not text.startswith("Error") else text
    if provider == "openai":
        return {"role": "tool", "tool_call_id": call.id, "content": shown}
    if provider == "openai-responses":
        return {"type": "function_call_output", "call_id": call.id, "output": shown}
    entry = {"id": call.id, "name": call.name, "content": shown, "is_error": is_error}
    if result is not None and result.has_structured_content:
        entry["structured_content"] = result.structured_content
    return entry


def _text_of(result: Optional[CallToolResult]) -> str:
    if result is None:
        return ""
    parts = [result.text] if result.text else []
    images = sum(1 for block in result.content if isinstance(block, ImageContent))
    if result.has_structured_content and result.structured_content is not None:
        structured = json.dumps(result.structured_content, ensure_ascii=False)
        if structured not in parts:
            parts.append(structured)
    if images:
        parts.append(f"[{images} image{'s' if images > 1 else ''}]")
    return "\n".join(parts)


def run_tool_calls(
    source: Any,
    calls: Sequence[Any],
    provider: str = "openai",
    *,
    timeout: Optional[float] = None,
    max_workers: int = 8,
) -> List[Dict[str, Any]]:
    """Run one model turn's tool calls in parallel; their result entries in the order asked.

    ``calls`` are the provider's tool-call objects (dicts or SDK objects) or :class:`ToolCall` objects.
    A call with unreadable arguments, an unknown tool or a failure comes back as an error
    result for the model, never as an exception.

    Example::

        messages += syncmcp.llm.run_tool_calls(manager, reply.choices[0].message.tool_calls, "openai")
    """
    _check_provider(provider)
    parsed = [call if isinstance(call, ToolCall) else parse_tool_call(call, provider) for call in calls]
    call_tool: Callable[..., CallToolResult] = source.call_tool

    def run(call: ToolCall) -> Dict[str, Any]:
        if call.problem is not None or call.arguments is None:
            return tool_result(call, None, provider, error=call.problem or "the arguments could not be read")
        try:
            result = (
                call_tool(call.name, call.arguments, timeout=timeout)
                if timeout is not None
                else call_tool(call.name, call.arguments)
            )
        except Exception as exc:  # reported to the model, which may try again
            return tool_result(call, None, provider, error=f"{type(exc).__name__}: {exc}")
        return tool_result(call, result, provider)

    if len(parsed) <= 1:
        return [run(call) for call in parsed]
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=min(max_workers, len(parsed)), thread_name_prefix="syncmcp-llm"
    ) as pool:
        return list(pool.map(run, parsed))

"""The HTTP headers that mirror a 2026-07-28 request body, and ``x-mcp-header`` tool parameters.

Streamable HTTP in the 2026-07-28 revision carries routing fields twice, in the JSON body and in
headers, so that load balancers need not parse bodies: ``MCP-Protocol-Version``, ``Mcp-Method``,
``Mcp-Name`` (the tool or prompt name, or the resource URI) and one ``Mcp-Param-<Name>`` per tool
input property annotated ``"x-mcp-header": "<Name>"``. Values that are not plain visible ASCII
travel as ``=?base64?<UTF-8 base64>?=``. A tool whose annotations break the rules must be left
out of the tool list. Pure functions, no I/O.

Example:
    >>> encode_header_value("us-west1"), encode_header_value("Hello, 世界")
    ('us-west1', '=?base64?SGVsbG8sIOS4lueVjA==?=')
    >>> schema = {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}}
    >>> specs = param_header_specs(schema)
    >>> param_headers(specs, {"region": "eu", "query": "x"})
    [('Mcp-Param-Region', 'eu')]
"""

from __future__ import annotations

import base64
import re
from typing import Any, List, Mapping, Optional, Sequence, Set, Tuple

__all__ = [
    "HeaderSpec",
    "InvalidHeaderAnnotation",
    "encode_header_value",
    "mirrored_headers",
    "param_header_specs",
    "param_headers",
]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name token
_SAFE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")  # visible ASCII, inner spaces only
_MAX_SAFE_INTEGER = 2**53 - 1
#: Methods whose ``Mcp-Name`` comes from ``params.name``, and the one that uses ``params.uri``.
_NAME_FROM = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}

#: ``(header name, property path)`` for one annotated tool parameter.
HeaderSpec = Tuple[str, Tuple[str, ...]]


class InvalidHeaderAnnotation(ValueError):
    """A tool's ``x-mcp-header`` annotations break the 2026-07-28 rules (the tool is unusable)."""


def encode_header_value(value: str) -> str:
    """A header value as the 2026-07-28 transport sends it: as is, or base64 in the sentinel form.

    Example:
        >>> encode_header_value(" padded ")
        '=?base64?IHBhZGRlZCA=?='
    """
    if _SAFE.match(value) and not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    return "=?base64?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def mirrored_headers(message: Mapping[str, Any], protocol_version: str) -> List[Tuple[str, str]]:
    """``MCP-Protocol-Version``, ``Mcp-Method`` and (where the method has one) ``Mcp-Name``.

    Example:
        >>> mirrored_headers({"method": "tools/call", "params": {"name": "echo"}}, "2026-07-28")
        [('MCP-Protocol-Version', '2026-07-28'), ('Mcp-Method', 'tools/call'), ('Mcp-Name', 'echo')]
    """
    method = message.get("method")
    headers = [("MCP-Protocol-Version", protocol_version)]
    if isinstance(method, str):
        headers.append(("Mcp-Method", encode_header_value(method)))
        field = _NAME_FROM.get(method)
        params = message.get("params")
        if field is not None and isinstance(params, Mapping) and isinstance(params.get(field), str):
            headers.append(("Mcp-Name", encode_header_value(params[field])))
    return headers


def param_header_specs(input_schema: Any) -> List[HeaderSpec]:
    """The ``x-mcp-header`` parameters of a tool's ``inputSchema``.

    Raises:
        InvalidHeaderAnnotation: an annotation is empty, not a header token, not unique
            (case-insensitively), on a non-primitive or ``number`` property, or not reachable
            from the root through ``properties`` keys alone.

    Example:
        >>> param_header_specs({"type": "object", "properties": {"a": {"type": "object",
        ...     "properties": {"b": {"type": "integer", "x-mcp-header": "B"}}}}})
        [('Mcp-Param-B', ('a', 'b'))]
    """
    specs: List[HeaderSpec] = []
    seen: Set[str] = set()
    reachable: Set[int] = set()
    if isinstance(input_schema, Mapping):
        _collect(input_schema, (), specs, seen, reachable)
        _reject_unreachable(input_schema, reachable, top=True)
    return specs


def _collect(
    schema: Mapping[str, Any], path: Tuple[str, ...], specs: List[HeaderSpec], seen: Set[str], reachable: Set[int]
) -> None:
    reachable.add(id(schema))
    if "x-mcp-header" in schema:
        if not path:
            raise InvalidHeaderAnnotation("x-mcp-header on the schema root")
        name = schema["x-mcp-header"]
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise InvalidHeaderAnnotation(f"x-mcp-header {name!r} of '{'.'.join(path)}' is not a valid header name")
        if name.lower() in seen:
            raise InvalidHeaderAnnotation(f"x-mcp-header {name!r} is used twice")
        if schema.get("type") not in ("string", "integer", "boolean"):
            raise InvalidHeaderAnnotation(
                f"x-mcp-header {name!r} is on '{'.'.join(path)}' of type {schema.get('type')!r}; only string, integer "
                "and boolean parameters may be mirrored"
            )
        seen.add(name.lower())
        specs.append((f"Mcp-Param-{name}", path))
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for key, child in properties.items():
            if isinstance(child, Mapping):
                _collect(child, (*path, str(key)), specs, seen, reachable)


def _reject_unreachable(value: Any, reachable: Set[int], *, top: bool = False) -> None:
    """An ``x-mcp-header`` anywhere but on a ``properties`` chain from the root is invalid."""
    if isinstance(value, Mapping):
        if not top and id(value) not in reachable and "x-mcp-header" in value:
            raise InvalidHeaderAnnotation("x-mcp-header on a parameter not reachable through 'properties' alone")
        for child in value.values():
            _reject_unreachable(child, reachable)
    elif isinstance(value, list):
        for child in value:
            _reject_unreachable(child, reachable)


def param_headers(specs: Sequence[HeaderSpec], arguments: Optional[Mapping[str, Any]]) -> List[Tuple[str, str]]:
    """The ``Mcp-Param-*`` headers for one call's arguments (absent or ``null`` values: no header).

    Raises:
        InvalidHeaderAnnotation: a mirrored value has a type the header cannot carry.

    Example:
        >>> param_headers([("Mcp-Param-Verbose", ("verbose",))], {"verbose": True})
        [('Mcp-Param-Verbose', 'true')]
    """
    headers: List[Tuple[str, str]] = []
    for header, path in specs:
        value: Any = arguments
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            if abs(value) > _MAX_SAFE_INTEGER:
                raise InvalidHeaderAnnotation(f"{header}: {value} is outside the safe integer range")
            text = str(value)
        elif isinstance(value, float) and value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER:
            text = str(int(value))
        elif isinstance(value, str):
            text = value
        else:
            raise InvalidHeaderAnnotation(f"{header}: a {type(value).__name__} cannot be sent as a header")
        headers.append((header, encode_header_value(text)))
    return headers

r"""How the command line prints: aligned tables, tool listings, results as text, JSON.

Text output is for people and stays plain: columns separated by two spaces (Codex's ``codex mcp
list`` layout), one line per item, binary content described rather than dumped. ``--json`` output
is the protocol's own objects (camelCase keys as on the wire), pretty-printed, one document per
command, for scripts.

Text from servers (names, descriptions, results, error messages, progress messages, their
stderr) may hold terminal control sequences: an escape sequence can set the clipboard (OSC 52),
rewrite the line or hide what came before it. :func:`terminal_text` shows such characters as
``\x1b``-style escapes; the command line applies it to everything it writes in text mode except
a tool's, resource's or prompt's own content sent to a file or pipe, which stays exact.

Example:
    >>> print("\n".join(table(["Name", "Command"], [["time", "uvx"], ["files", "npx"]])))
    Name   Command
    time   uvx
    files  npx
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import IO, Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .._toolnames import ToolInfo
from .._types import (
    AudioContent,
    CallToolResult,
    Content,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    ReadResourceResult,
    ResourceContents,
    ResourceLink,
    TextContent,
)

__all__ = [
    "describe_content",
    "first_line",
    "jsonable_tool",
    "parameters_summary",
    "render_call_result",
    "render_prompt_result",
    "render_read_result",
    "table",
    "terminal_text",
    "tool_lines",
    "write_json",
]

#: C0 controls except tab and line feed, DEL, C1 controls, and the bidirectional embedding,
#: override and isolate characters (they reorder what follows them on screen); a carriage return
#: only when no line feed follows it (CRLF line endings are harmless and stay).
_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\r(?!\n)")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: str) -> str:
    r"""``text`` with control characters shown as escapes, safe to write to a terminal.

    Tab, line feed and a carriage return before a line feed stay; every other C0 control, DEL
    and the C1 controls (``\x80``-``\x9f``, where ``\x9b`` starts a sequence like ESC ``[``)
    become ``\x1b``-style text; the bidirectional overrides and isolates (U+202A-U+202E,
    U+2066-U+2069), which would show text in another order than it has, become ``\u202e``-style
    text.

    Example:
        >>> terminal_text("ok\x1b]52;c;ZWNobw==\x07\x1b[2K\rdone\tx\r\n")
        'ok\\x1b]52;c;ZWNobw==\\x07\\x1b[2K\\x0ddone\tx\r\n'
    """
    return _CONTROL.sub(_escape, text)


def write_json(value: Any, stream: IO[str]) -> None:
    r"""Write ``value`` as indented JSON and a newline.

    Example:
        >>> import io; out = io.StringIO(); write_json({"a": [1]}, out); out.getvalue()
        '{\n  "a": [\n    1\n  ]\n}\n'
    """
    stream.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> List[str]:
    """Left-aligned columns separated by two spaces, without trailing spaces (cells made :func:`terminal_text`).

    Example:
        >>> table(["A", "B"], [["x", "yy"]])
        ['A  B', 'x  yy']
    """
    body = [[terminal_text(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in body:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    return ["  ".join(cell.ljust(widths[index]) for index, cell in enumerate(row)).rstrip() for row in [list(headers), *body]]


def first_line(text: Optional[str]) -> str:
    r"""The first non-empty line of a description, stripped.

    Example:
        >>> first_line("\n  Read a file.\n\nMore.")
        'Read a file.'
    """
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _type_of(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return "any"
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if isinstance(kind, str):
        if kind == "array" and isinstance(schema.get("items"), Mapping):
            return f"{_type_of(schema['items'])}[]"
        return kind
    if "enum" in schema:
        return "enum"
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf")
        return "|".join(_type_of(option) for option in options) if isinstance(options, list) else "any"
    return "any"


def parameters_summary(schema: Mapping[str, Any]) -> str:
    """``a, b?, c?``: the tool's parameters, optional ones marked with ``?``.

    Example:
        >>> parameters_summary({"type": "object", "properties": {"path": {}, "depth": {}}, "required": ["path"]})
        'path, depth?'
    """
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ""
    required = schema.get("required")
    needed = set(required) if isinstance(required, list) else set()
    return ", ".join(name if name in needed else f"{name}?" for name in properties)


def tool_lines(tools: Sequence[ToolInfo], *, long: bool = False, width: Optional[int] = None) -> List[str]:
    """The text listing of tools: ``name(params)  summary``, or with ``long`` every parameter (:func:`terminal_text`).

    Args:
        tools: in listing order.
        long: full descriptions and one line per parameter (type, required, default, description).
        width: cut summary lines to this many characters (a terminal's width).

    Example:
        >>> from syncmcp import Tool
        >>> info = ToolInfo("ws", "read", Tool("read", "Read a file.", {"properties": {"path": {}}}), "ws__read")
        >>> tool_lines([info])
        ['ws__read(path?)  Read a file.']
    """
    lines: List[str] = []
    if not long:
        heads = [terminal_text(f"{info.qualified_name}({parameters_summary(info.input_schema)})") for info in tools]
        size = max((len(head) for head in heads), default=0)
        for head, info in zip(heads, tools):
            line = f"{head.ljust(size)}  {terminal_text(first_line(info.description))}".rstrip()
            if width is not None and len(line) > width:
                line = line[: max(width - 3, len(head))].rstrip() + "..."
            lines.append(line)
        return lines
    for index, info in enumerate(tools):
        if index:
            lines.append("")
        title = info.tool.display_name
        lines.append(info.qualified_name + (f"  ({title})" if title != info.tool_name else ""))
        for text_line in (info.description or "").strip().splitlines():
            lines.append(f"  {text_line.rstrip()}".rstrip())
        properties = info.input_schema.get("properties")
        required = info.input_schema.get("required")
        needed = set(required) if isinstance(required, list) else set()
        if isinstance(properties, Mapping) and properties:
            lines.append("  parameters:")
            for name, schema in properties.items():
                details = [_type_of(schema), "required" if name in needed else "optional"]
                if isinstance(schema, Mapping) and "default" in schema:
                    details.append(f"default {json.dumps(schema['default'])}")
                if isinstance(schema, Mapping) and isinstance(schema.get("enum"), list):
                    details.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
                about = first_line(schema.get("description")) if isinstance(schema, Mapping) else ""
                lines.append(f"    {name} ({', '.join(details)})" + (f"  {about}" if about else ""))
        if info.tool.output_schema is not None:
            lines.append("  returns structured content (outputSchema)")
    return [terminal_text(line) for line in lines]


def _size_of(data: str) -> str:
    try:
        size = len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        size = len(data) * 3 // 4
    return f"{size:,} bytes"


def _describe_resource(item: ResourceContents) -> str:
    if item.text is not None:
        return item.text
    return f"[binary resource {item.uri}: {item.mime_type or 'unknown type'}, {_size_of(item.blob or '')}]"


def describe_content(block: Content) -> str:
    """One content block as text: text as is, other kinds described in brackets.

    Example:
        >>> from syncmcp._types import content_from_dict
        >>> describe_content(content_from_dict({"type": "image", "data": "AAAA", "mimeType": "image/png"}))
        '[image: image/png, 3 bytes]'
    """
    if isinstance(block, TextContent):
        return block.text
    if isinstance(block, ImageContent):
        return f"[image: {block.mime_type or 'unknown type'}, {_size_of(block.data)}]"
    if isinstance(block, AudioContent):
        return f"[audio: {block.mime_type or 'unknown type'}, {_size_of(block.data)}]"
    if isinstance(block, EmbeddedResource) and block.resource is not None:
        return _describe_resource(block.resource)
    if isinstance(block, ResourceLink):
        name = f" ({block.name})" if block.name and block.name != block.uri else ""
        return f"[resource link: {block.uri}{name}]"
    return json.dumps(block.raw, ensure_ascii=False)


def render_call_result(result: CallToolResult) -> str:
    r"""A tool result as text: its content blocks, else its structured content as JSON.

    Example:
        >>> render_call_result(CallToolResult.from_dict({"content": [], "structuredContent": {"v": 1}}))
        '{\n  "v": 1\n}'
    """
    parts = [describe_content(block) for block in result.content]
    if not parts and result.has_structured_content:
        return json.dumps(result.structured_content, indent=2, ensure_ascii=False)
    return "\n".join(parts)


def render_read_result(result: ReadResourceResult) -> str:
    """A ``resources/read`` result as text (binary items described).

    Example:
        >>> render_read_result(ReadResourceResult.from_dict({"contents": [{"uri": "a://b", "text": "hi"}]}))
        'hi'
    """
    return "\n".join(_describe_resource(item) for item in result.contents)


def render_prompt_result(result: GetPromptResult) -> str:
    """A rendered prompt as text: each message as ``[role]`` and its content.

    Example:
        >>> print(render_prompt_result(GetPromptResult.from_dict(
        ...     {"messages": [{"role": "user", "content": {"type": "text", "text": "Hi"}}]})))
        [user]
        Hi
    """
    chunks: List[str] = []
    if result.description:
        chunks.append(f"# {result.description}")
    for message in result.messages:
        chunks.append(f"[{message.role}]\n{describe_content(message.content)}")
    return "\n\n".join(chunks)


def jsonable_tool(info: ToolInfo) -> Dict[str, Any]:
    """A tool for ``--json``: its wire definition plus the server, the raw and the qualified name.

    Example:
        >>> from syncmcp import Tool
        >>> jsonable_tool(ToolInfo("ws", "read", Tool.from_dict({"name": "read"}), "ws__read"))["qualifiedName"]
        'ws__read'
    """
    definition = dict(info.tool.raw) if info.tool.raw else {"name": info.tool_name, "inputSchema": info.input_schema}
    return {"qualifiedName": info.qualified_name, "server": info.server, **definition}

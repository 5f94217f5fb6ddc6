"""Rich display for notebooks: HTML (and Markdown) renderings of results, tools and prompts.

Jupyter calls ``_repr_html_`` on the value of a cell; the typed results delegate here. Everything
is built from the raw wire dicts with the standard library only, escaped, and bounded in size:
a huge text is cut with a note, images are shown inline from their base64 data, structured
content folds into a collapsible JSON view, and errors are highlighted.

Example:
    >>> "Echo" in render_call_result({"content": [{"type": "text", "text": "Echo: hi"}]})
    True
"""

from __future__ import annotations

import html
import json
from typing import Any, Iterable, List, Mapping, Optional

__all__ = [
    "render_call_result",
    "render_content",
    "render_prompt_result",
    "render_resource_result",
    "render_servers",
    "render_tools",
    "short_text",
]

#: Characters of one text shown before it is cut (the full value stays in the object).
TEXT_LIMIT = 20_000
#: Base64 characters of media shown inline (about 7.5 MB of image); larger media get a note.
MEDIA_LIMIT = 10_000_000

_BOX = "border:1px solid #d0d7de;border-radius:6px;padding:6px 10px;margin:4px 0;font-family:sans-serif;font-size:13px"
_ERROR_BOX = _BOX.replace("#d0d7de", "#cf222e") + ";background:#ffebe9"
_PRE = "white-space:pre-wrap;margin:4px 0;font-size:12px"


def short_text(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis.

    Example:
        >>> short_text("a long   line of text", 10)
        'a long lin…'
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _text_block(text: str) -> str:
    shown = text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT]
    note = f"<div><i>… {len(text) - TEXT_LIMIT:,} more characters not shown</i></div>" if len(text) > TEXT_LIMIT else ""
    return f'<pre style="{_PRE}">{_esc(shown)}</pre>{note}'


def _json_block(value: Any, summary: str) -> str:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return f"<details><summary>{_esc(summary)}</summary>{_text_block(text)}</details>"


def _media(tag: str, data: str, mime: str) -> str:
    if len(data) > MEDIA_LIMIT:
        return f"<div><i>{_esc(mime)}: {len(data) * 3 // 4:,} bytes, too large to show inline</i></div>"
    src = f"data:{_esc(mime)};base64,{_esc(data)}"
    if tag == "img":
        return f'<img src="{src}" style="max-width:100%" alt="{_esc(mime)}"/>'
    return f'<audio controls src="{src}"></audio>'


def render_content(block: Mapping[str, Any]) -> str:
    """HTML for one content block (text, image, audio, resource, resource link, tool use...)."""
    kind = block.get("type")
    if kind == "text":
        return _text_block(str(block.get("text", "")))
    if kind == "image":
        return _media("img", str(block.get("data", "")), str(block.get("mimeType", "image/png")))
    if kind == "audio":
        return _media("audio", str(block.get("data", "")), str(block.get("mimeType", "audio/wav")))
    if kind == "resource":
        resource = block.get("resource") if isinstance(block.get("resource"), Mapping) else {}
        assert isinstance(resource, Mapping)
        head = f"<div>📄 <code>{_esc(resource.get('uri', ''))}</code> {_esc(resource.get('mimeType') or '')}</div>"
        if isinstance(resource.get("text"), str):
            return head + _text_block(resource["text"])
        blob = resource.get("blob")
        return head + (f"<div><i>{len(blob) * 3 // 4:,} bytes of binary data</i></div>" if isinstance(blob, str) else "")
    if kind == "resource_link":
        title = block.get("title") or block.get("name") or ""
        return (
            f"<div>🔗 <b>{_esc(title)}</b> <code>{_esc(block.get('uri', ''))}</code> {_esc(block.get('description') or '')}</div>"
        )
    if kind == "tool_use":
        return f"<div>🛠 <b>{_esc(block.get('name', ''))}</b></div>" + _json_block(block.get("input"), "input")
    return _json_block(dict(block), f"{kind} content")


def render_call_result(raw: Mapping[str, Any]) -> str:
    """HTML for a ``CallToolResult``: blocks, collapsible structured content, errors highlighted."""
    is_error = raw.get("isError") is True
    parts: List[str] = []
    if is_error:
        parts.append('<div style="color:#cf222e;font-weight:bold">⚠ tool error</div>')
    blocks = raw.get("content")
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, Mapping):
            parts.append(render_content(block))
    if "structuredContent" in raw:
        parts.append(_json_block(raw["structuredContent"], "structured content"))
    if not parts:
        parts.append("<i>(empty result)</i>")
    return f'<div style="{_ERROR_BOX if is_error else _BOX}">' + "".join(parts) + "</div>"


def _parameters(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return ""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ""
    required = set(schema.get("required") or [])
    items = []
    for name, spec in properties.items():
        kind = spec.get("type", "any") if isinstance(spec, Mapping) else "any"
        kind = "|".join(map(str, kind)) if isinstance(kind, list) else str(kind)
        star = "<b>*</b>" if name in required else ""
        title = _esc(spec.get("description", "")) if isinstance(spec, Mapping) else ""
        items.append(f'<code title="{title}">{_esc(name)}{star}: {_esc(kind)}</code>')
    return ", ".join(items)


def render_tools(tools: Iterable[Any], names: Optional[Iterable[str]] = None) -> str:
    """An HTML table of tools: name (or qualified name), description, parameters (* = required).

    ``tools`` are ``Tool`` objects (anything with ``raw``) or raw dicts; ``names`` optionally
    gives the name to show for each (the manager's qualified names).
    """
    rows = []
    shown = list(names) if names is not None else None
    for index, tool in enumerate(tools):
        raw = getattr(tool, "raw", tool)
        if not isinstance(raw, Mapping):
            continue
        name = shown[index] if shown is not None else raw.get("name", "")
        description = raw.get("title") or raw.get("description") or ""
        rows.append(
            f"<tr><td><code>{_esc(name)}</code></td><td>{_esc(short_text(str(description), 160))}</td>"
            f"<td>{_parameters(raw.get('inputSchema'))}</td></tr>"
        )
    head = (
        "<tr>" + "".join(f'<th style="text-align:left">{title}</th>' for title in ("tool", "description", "parameters")) + "</tr>"
    )
    return f'<table style="font-size:13px">{head}{"".join(rows)}</table><div><i>{len(rows)} tools</i></div>'


def render_resource_result(raw: Mapping[str, Any]) -> str:
    """HTML for a ``ReadResourceResult``."""
    contents = raw.get("contents")
    parts = (
        [render_content({"type": "resource", "resource": item}) for item in contents if isinstance(item, Mapping)]
        if isinstance(contents, list)
        else []
    )
    return f'<div style="{_BOX}">' + ("".join(parts) or "<i>(no contents)</i>") + "</div>"


def render_prompt_result(raw: Mapping[str, Any]) -> str:
    """Markdown for a ``GetPromptResult``: each message under its role."""
    lines = []
    if isinstance(raw.get("description"), str):
        lines.append(f"*{raw['description']}*\n")
    messages = raw.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, Mapping):
            continue
        content = message.get("content") if isinstance(message.get("content"), Mapping) else {}
        assert isinstance(content, Mapping)
        body = content.get("text") if content.get("type") == "text" else f"({content.get('type')} content)"
        lines.append(f"**{message.get('role', '?')}:** {body}\n")
    return "\n".join(lines) or "*(no messages)*"


_STATE_COLORS = {"ready": "#1a7f37", "failed": "#cf222e", "exited": "#cf222e", "starting": "#9a6700", "cancelled": "#57606a"}


def render_servers(rows: Iterable[Mapping[str, Any]]) -> str:
    """An HTML table of a manager's servers.

    Each row has ``server``, ``state``, ``tools`` (a count), ``restarts`` and ``error``.

    Example:
        >>> "ready" in render_servers([{"server": "fs", "state": "ready", "tools": 3, "restarts": 0, "error": None}])
        True
    """
    body = []
    for row in rows:
        state = str(row.get("state", ""))
        color = _STATE_COLORS.get(state, "#57606a")
        error = row.get("error")
        body.append(
            f"<tr><td><code>{_esc(row.get('server', ''))}</code></td>"
            f'<td style="color:{color};font-weight:bold">{_esc(state)}</td>'
            f"<td>{_esc(row.get('tools', ''))}</td><td>{_esc(row.get('restarts', 0))}</td>"
            f'<td style="color:#cf222e">{_esc(short_text(str(error), 200)) if error else ""}</td></tr>'
        )
    head = (
        "<tr>"
        + "".join(f'<th style="text-align:left">{t}</th>' for t in ("server", "state", "tools", "restarts", "last error"))
        + "</tr>"
    )
    return f'<table style="font-size:13px">{head}{"".join(body)}</table>'

r"""What handlers return and receive: tool results, content blocks, elicitation and sampling answers.

A tool may return plain values (see :class:`~syncmcp.server.Server.tool`), or build its result
from these pieces when it needs images, links or an explicit ``isError``.

Example:
    >>> ToolResult(["see the chart", Image(b"\x89PNG", "image/png")]).to_dict()["content"][1]["type"]
    'image'
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

__all__ = [
    "CONTENT_TYPES",
    "Audio",
    "ElicitResult",
    "EmbeddedResource",
    "Image",
    "ResourceLink",
    "SamplingResult",
    "ToolResult",
    "as_content_block",
    "text_block",
]

#: ``type`` values of MCP content blocks; a dict with one of these is taken as a block as-is.
CONTENT_TYPES = frozenset({"text", "image", "audio", "resource", "resource_link"})


def text_block(text: str) -> Dict[str, Any]:
    """``{"type": "text", "text": text}``.

    Example:
        >>> text_block("hi")
        {'type': 'text', 'text': 'hi'}
    """
    return {"type": "text", "text": text}


@dataclass(frozen=True)
class Image:
    """An image content block from raw bytes (base64-encoded on the wire).

    Example:
        >>> Image(b"GIF89a", "image/gif").to_dict()["mimeType"]
        'image/gif'
    """

    data: bytes
    mime_type: str

    def to_dict(self) -> Dict[str, Any]:
        """The wire form."""
        return {"type": "image", "data": base64.b64encode(self.data).decode("ascii"), "mimeType": self.mime_type}


@dataclass(frozen=True)
class Audio:
    """An audio content block from raw bytes.

    Example:
        >>> Audio(b"RIFF", "audio/wav").to_dict()["type"]
        'audio'
    """

    data: bytes
    mime_type: str

    def to_dict(self) -> Dict[str, Any]:
        """The wire form."""
        return {"type": "audio", "data": base64.b64encode(self.data).decode("ascii"), "mimeType": self.mime_type}


@dataclass(frozen=True)
class ResourceLink:
    """A ``resource_link`` block: a pointer to a resource the client may read.

    Example:
        >>> ResourceLink("file:///srv/a.txt", "a.txt").to_dict()["uri"]
        'file:///srv/a.txt'
    """

    uri: str
    name: str
    mime_type: Optional[str] = None
    description: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """The wire form."""
        block: Dict[str, Any] = {"type": "resource_link", "uri": self.uri, "name": self.name}
        if self.mime_type:
            block["mimeType"] = self.mime_type
        if self.description:
            block["description"] = self.description
        return block


@dataclass(frozen=True)
class EmbeddedResource:
    """A ``resource`` block embedding the contents of a resource: ``text`` or ``blob`` bytes.

    Example:
        >>> EmbeddedResource("notes://1", text="hello").to_dict()["resource"]["text"]
        'hello'
    """

    uri: str
    text: Optional[str] = None
    blob: Optional[bytes] = None
    mime_type: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """The wire form."""
        resource: Dict[str, Any] = {"uri": self.uri}
        if self.mime_type:
            resource["mimeType"] = self.mime_type
        if self.blob is not None:
            resource["blob"] = base64.b64encode(self.blob).decode("ascii")
        else:
            resource["text"] = self.text or ""
        return {"type": "resource", "resource": resource}


ContentLike = Union[str, Image, Audio, ResourceLink, EmbeddedResource, Mapping[str, Any]]


def as_content_block(item: Any) -> Dict[str, Any]:
    """One content block from a string, a helper object or a block dict.

    Raises:
        TypeError: ``item`` is none of those.

    Example:
        >>> as_content_block("x")
        {'type': 'text', 'text': 'x'}
    """
    if isinstance(item, str):
        return text_block(item)
    if isinstance(item, (Image, Audio, ResourceLink, EmbeddedResource)):
        return item.to_dict()
    if isinstance(item, Mapping) and item.get("type") in CONTENT_TYPES:
        return dict(item)
    raise TypeError(f"not a content block: {type(item).__name__}")


class ToolResult:
    """A tool result built by hand: content blocks, optional structured content, ``isError``.

    Args:
        content: strings, :class:`Image`, :class:`Audio`, :class:`ResourceLink`,
            :class:`EmbeddedResource` or block dicts.
        structured_content: a JSON object; when ``content`` is empty its JSON text becomes the
            content (the spec's backwards-compatible mirror).
        is_error: mark the result as a tool failure.
        meta: ``_meta`` for the result.

    Example:
        >>> ToolResult("disk full", is_error=True).to_dict()
        {'content': [{'type': 'text', 'text': 'disk full'}], 'isError': True}
    """

    def __init__(
        self,
        content: Union[ContentLike, Sequence[ContentLike]] = (),
        structured_content: Optional[Mapping[str, Any]] = None,
        *,
        is_error: bool = False,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> None:
        items = [content] if isinstance(content, (str, Mapping, Image, Audio, ResourceLink, EmbeddedResource)) else content
        self.content: List[Dict[str, Any]] = [as_content_block(item) for item in items]
        self.structured_content = dict(structured_content) if structured_content is not None else None
        self.is_error = is_error
        self.meta = dict(meta) if meta else None

    def __repr__(self) -> str:
        return f"ToolResult(content={self.content!r}, is_error={self.is_error!r})"

    def to_dict(self) -> Dict[str, Any]:
        """The ``CallToolResult`` wire form."""
        content = list(self.content)
        result: Dict[str, Any] = {"content": content}
        if self.structured_content is not None:
            result["structuredContent"] = self.structured_content
            if not content:
                content.append(text_block(json.dumps(self.structured_content, ensure_ascii=False)))
        if self.is_error:
            result["isError"] = True
        if self.meta:
            result["_meta"] = self.meta
        return result


@dataclass(frozen=True)
class ElicitResult:
    """The client's answer to ``ctx.elicit(...)``.

    Attributes:
        action: ``"accept"``, ``"decline"`` or ``"cancel"``.
        content: the submitted values when accepted (form mode), else ``None``.
        raw: the result object as the client sent it.

    Example:
        >>> ElicitResult("accept", {"name": "Ada"}).accepted
        True
    """

    action: str
    content: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        """Whether the user accepted (and, in form mode, submitted ``content``)."""
        return self.action == "accept"


@dataclass(frozen=True)
class SamplingResult:
    """The client's answer to ``ctx.sample(...)`` (``CreateMessageResult``).

    Attributes:
        role: normally ``"assistant"``.
        content: one content block, or a list of them (2025-11-25 with tools).
        model: the model that produced it.
        stop_reason: ``"endTurn"``, ``"maxTokens"``, ``"toolUse"``... when given.
        raw: the result object as the client sent it.

    Example:
        >>> SamplingResult("assistant", {"type": "text", "text": "4"}, "m").text
        '4'
    """

    role: str
    content: Any
    model: str = ""
    stop_reason: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def text(self) -> str:
        """The text of the text blocks, joined with newlines."""
        blocks = self.content if isinstance(self.content, list) else [self.content]
        return "\n".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text")

"""Small typed views of MCP results, each keeping the raw dict it was built from.

Wire keys stay camelCase in ``raw``; the attributes are snake_case. Unknown fields are never
dropped: they stay in ``raw`` (forward compatibility). Objects are immutable.

Example:
    >>> result = CallToolResult.from_dict({"content": [{"type": "text", "text": "hi"}]})
    >>> result.text, result.is_error
    ('hi', False)
"""

from __future__ import annotations

import base64
import collections.abc
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar

from ._display import render_call_result, render_content, render_prompt_result, render_resource_result, render_tools, short_text

__all__ = [
    "AudioContent",
    "CallToolResult",
    "Completion",
    "Content",
    "EmbeddedResource",
    "GetPromptResult",
    "ImageContent",
    "Implementation",
    "InitializeResult",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ReadResourceResult",
    "Resource",
    "ResourceContents",
    "ResourceLink",
    "ResourceTemplate",
    "TextContent",
    "Tool",
    "ToolList",
    "ToolResultContent",
    "ToolUseContent",
    "UnknownContent",
    "content_from_dict",
    "require_arguments_object",
]

JSONObject = Dict[str, Any]


def _obj(value: Any) -> JSONObject:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def _raw_field() -> Any:
    return field(default_factory=dict, repr=False, compare=False)


_T = TypeVar("_T")
_new = object.__new__


def _built(cls: Type[_T], fields: Dict[str, Any]) -> _T:
    """An instance of a frozen dataclass from every one of its field values, without ``__init__``.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; the types
    built once per wire item (each listed tool, each call result and its text blocks) fill the
    instance's dict at once instead, three times faster. Equality, hashing and ``repr`` are the
    dataclass's own, so the instance is indistinguishable from one made by ``__init__``.
    """
    instance = _new(cls)
    instance.__dict__.update(fields)
    return instance


@dataclass(frozen=True)
class Implementation:
    """``serverInfo`` / ``clientInfo``: who is on the other end.

    Example:
        >>> Implementation.from_dict({"name": "srv", "version": "1.0"}).name
        'srv'
    """

    name: str
    version: str
    title: Optional[str] = None
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> Implementation:
        """Build from the wire form, tolerating missing fields."""
        data = _obj(data)
        return cls(str(data.get("name", "")), str(data.get("version", "")), _str(data.get("title")), data)


@dataclass(frozen=True)
class InitializeResult:
    """What the server said about itself at the handshake (or in ``server/discover``).

    Example::

        print(session.initialize_result.protocol_version, session.initialize_result.server_info.name)
    """

    protocol_version: str
    capabilities: JSONObject
    server_info: Implementation
    instructions: Optional[str] = None
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> InitializeResult:
        """Build from an ``InitializeResult`` object."""
        data = _obj(data)
        return cls(
            str(data.get("protocolVersion", "")),
            _obj(data.get("capabilities")),
            Implementation.from_dict(data.get("serverInfo")),
            _str(data.get("instructions")),
            data,
        )


@dataclass(frozen=True, repr=False)
class Tool:
    """A tool definition from ``tools/list``.

    Example:
        >>> tool = Tool.from_dict({"name": "echo", "inputSchema": {"type": "object"}})
        >>> tool.name, tool.display_name
        ('echo', 'echo')
    """

    name: str
    description: Optional[str] = None
    input_schema: JSONObject = field(default_factory=dict)
    output_schema: Optional[JSONObject] = None
    title: Optional[str] = None
    annotations: JSONObject = field(default_factory=dict)
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> Tool:
        """Build from a ``Tool`` object."""
        if type(data) is not dict:
            data = _obj(data)
        get = data.get
        name, description, title = get("name", ""), get("description"), get("title")
        schema, output, annotations = get("inputSchema"), get("outputSchema"), get("annotations")
        tool = _new(cls)  # _built, with _str and _obj written out: a listing builds hundreds
        tool.__dict__.update(
            {
                "name": name if type(name) is str else str(name),
                "description": description if isinstance(description, str) else None,
                "input_schema": schema if isinstance(schema, dict) else {},
                "output_schema": output if isinstance(output, dict) else None,
                "title": title if isinstance(title, str) else None,
                "annotations": annotations if isinstance(annotations, dict) else {},
                "raw": data,
            }
        )
        return tool

    def __repr__(self) -> str:
        about = f" - {short_text(self.description, 50)}" if self.description else ""
        return f"<Tool {self.name}{about}>"

    def _repr_html_(self) -> str:
        return render_tools([self])

    @property
    def display_name(self) -> str:
        """``title``, else ``annotations.title``, else ``name`` (the spec's precedence)."""
        return self.title or _str(self.annotations.get("title")) or self.name

    @property
    def task_support(self) -> str:
        """``execution.taskSupport``: ``forbidden`` (default), ``optional`` or ``required``."""
        value = _obj(self.raw.get("execution")).get("taskSupport")
        return value if value in ("optional", "required") else "forbidden"


class ToolList(List[Tool]):
    """A plain ``list`` of :class:`Tool` that renders as a table in notebooks.

    Example:
        >>> tools = ToolList([Tool.from_dict({"name": "echo", "description": "Echo it."})])
        >>> tools
        [<Tool echo - Echo it.>]
    """

    def _repr_html_(self) -> str:
        return render_tools(self)

    def names(self) -> List[str]:
        """The tools' names, in order."""
        return [tool.name for tool in self]


@dataclass(frozen=True)
class Content:
    """Base of content blocks; ``type`` is the wire discriminator, ``raw`` the block itself.

    Example::

        for block in result.content:
            print(block.type)   # text, image, audio, resource, resource_link...
    """

    type: str
    raw: JSONObject = _raw_field()


@dataclass(frozen=True, repr=False)
class TextContent(Content):
    """``{"type": "text", "text": ...}``.

    Example::

        content_from_dict({"type": "text", "text": "hi"}).text   # 'hi'
    """

    text: str = ""

    def __repr__(self) -> str:
        return f"TextContent({short_text(self.text, 80)!r})"

    def _repr_html_(self) -> str:
        return render_content(self.raw or {"type": "text", "text": self.text})


@dataclass(frozen=True, repr=False)
class ImageContent(Content):
    """``{"type": "image", "data": <base64>, "mimeType": ...}``; :meth:`decode` gives the bytes.

    Example::

        image = content_from_dict({"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"})
        image.decode()[:4]      # the PNG signature
    """

    data: str = ""
    mime_type: str = ""

    def decode(self) -> bytes:
        """The image bytes (base64-decoded)."""
        return base64.b64decode(self.data)

    def __repr__(self) -> str:
        return f"<ImageContent {self.mime_type} {len(self.data) * 3 // 4:,} bytes>"

    def _repr_png_(self) -> Optional[bytes]:
        return self.decode() if self.mime_type == "image/png" else None

    def _repr_jpeg_(self) -> Optional[bytes]:
        return self.decode() if self.mime_type in ("image/jpeg", "image/jpg") else None

    def _repr_html_(self) -> str:
        return render_content({"type": "image", "data": self.data, "mimeType": self.mime_type})


@dataclass(frozen=True)
class AudioContent(Content):
    """``{"type": "audio", "data": <base64>, "mimeType": ...}``; :meth:`decode` gives the bytes.

    Example::

        audio = content_from_dict({"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"})
        audio.decode()          # b'RIFF'
    """

    data: str = ""
    mime_type: str = ""

    def decode(self) -> bytes:
        """The audio bytes (base64-decoded)."""
        return base64.b64decode(self.data)


@dataclass(frozen=True)
class ResourceContents:
    """One item of ``resources/read`` or of an embedded resource: text or a base64 blob.

    Example::

        item = ResourceContents.from_dict({"uri": "file:///a.txt", "text": "hello"})
        item.decode()           # b'hello'
    """

    uri: str
    mime_type: Optional[str] = None
    text: Optional[str] = None
    blob: Optional[str] = None
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> ResourceContents:
        """Build from ``TextResourceContents`` or ``BlobResourceContents``."""
        data = _obj(data)
        return cls(str(data.get("uri", "")), _str(data.get("mimeType")), _str(data.get("text")), _str(data.get("blob")), data)

    def decode(self) -> bytes:
        """The contents as bytes: the blob decoded, or the text encoded as UTF-8."""
        if self.blob is not None:
            return base64.b64decode(self.blob)
        return (self.text or "").encode("utf-8")


@dataclass(frozen=True)
class EmbeddedResource(Content):
    """``{"type": "resource", "resource": {...}}``: resource contents inside a result.

    Example::

        block = content_from_dict({"type": "resource", "resource": {"uri": "file:///a.txt", "text": "hi"}})
        block.resource.text     # 'hi'
    """

    resource: Optional[ResourceContents] = None


@dataclass(frozen=True)
class ResourceLink(Content):
    """``{"type": "resource_link", "uri": ..., "name": ...}`` (2025-06-18): a pointer to a resource.

    Example::

        link = content_from_dict({"type": "resource_link", "uri": "file:///a.txt", "name": "a"})
        session.read_resource(link.uri)
    """

    uri: str = ""
    name: str = ""
    mime_type: Optional[str] = None


@dataclass(frozen=True)
class ToolUseContent(Content):
    """``{"type": "tool_use", "id", "name", "input"}`` (sampling with tools, 2025-11-25).

    Example::

        block = content_from_dict({"type": "tool_use", "id": "u1", "name": "add", "input": {"a": 1}})
        block.name, block.input # ('add', {'a': 1})
    """

    id: str = ""
    name: str = ""
    input: JSONObject = field(default_factory=dict)


@dataclass(frozen=True)
class ToolResultContent(Content):
    """``{"type": "tool_result", "toolUseId", "content", ...}`` (sampling with tools, 2025-11-25).

    Example::

        block = content_from_dict({"type": "tool_result", "toolUseId": "u1", "content": [{"type": "text", "text": "2"}]})
        block.content[0].text   # '2'
    """

    tool_use_id: str = ""
    content: Tuple[Content, ...] = ()
    is_error: bool = False


@dataclass(frozen=True)
class UnknownContent(Content):
    """A content block of a type this version does not know; ``raw`` holds it unchanged.

    Example::

        block = content_from_dict({"type": "hologram", "frames": 3})
        block.raw["frames"]     # 3: nothing is lost
    """


def require_arguments_object(arguments: Any) -> None:
    """Refuse tool arguments that are not a JSON object (``None``, for none, passes).

    Callers test ``type(arguments) is not dict`` first, so the common case costs no call.

    Raises:
        TypeError: ``arguments`` is neither ``None`` nor a mapping.
    """
    if arguments is not None and not isinstance(arguments, collections.abc.Mapping):
        raise TypeError(f"MCP tool arguments must be a JSON object, got {type(arguments).__name__}")


def content_from_dict(data: Any) -> Content:
    """Build the right :class:`Content` subclass for one wire content block.

    Example:
        >>> content_from_dict({"type": "text", "text": "hi"})
        TextContent('hi')
    """
    if type(data) is not dict:
        data = _obj(data)
    kind = data.get("type")
    if kind == "text":  # the common block, built in place (see _built)
        text = data.get("text", "")
        block = _new(TextContent)
        block.__dict__.update({"type": "text", "raw": data, "text": text if type(text) is str else str(text)})
        return block
    if kind == "image":
        return ImageContent("image", data, str(data.get("data", "")), str(data.get("mimeType", "")))
    if kind == "audio":
        return AudioContent("audio", data, str(data.get("data", "")), str(data.get("mimeType", "")))
    if kind == "resource":
        return EmbeddedResource("resource", data, ResourceContents.from_dict(data.get("resource")))
    if kind == "resource_link":
        return ResourceLink(
            "resource_link", data, str(data.get("uri", "")), str(data.get("name", "")), _str(data.get("mimeType"))
        )
    if kind == "tool_use":
        return ToolUseContent("tool_use", data, str(data.get("id", "")), str(data.get("name", "")), _obj(data.get("input")))
    if kind == "tool_result":
        return ToolResultContent(
            "tool_result", data, str(data.get("toolUseId", "")), _contents(data.get("content")), data.get("isError") is True
        )
    return UnknownContent(str(kind), data)


def _contents(blocks: Any) -> Tuple[Content, ...]:
    return tuple([content_from_dict(block) for block in blocks]) if isinstance(blocks, list) else ()


def _join_text(blocks: Tuple[Content, ...]) -> str:
    return "\n".join(block.text for block in blocks if isinstance(block, TextContent))


@dataclass(frozen=True, repr=False)
class CallToolResult:
    """The result of ``tools/call``. ``is_error`` results are returned, never raised.

    ``structured_content`` is ``None`` both when absent and when the server sent ``null``;
    :attr:`has_structured_content` tells the two apart. ``server`` is the name of the managed
    server that answered (set by :class:`~syncmcp.MCPManager`: a fallback's name when one took
    the call); ``None`` from a plain session.

    Example:
        >>> r = CallToolResult.from_dict({"content": [], "structuredContent": {"t": 1}})
        >>> r.structured_content, r.has_structured_content
        ({'t': 1}, True)
    """

    content: Tuple[Content, ...] = ()
    structured_content: Any = None
    is_error: bool = False
    meta: JSONObject = field(default_factory=dict)
    raw: JSONObject = _raw_field()
    server: Optional[str] = field(default=None, compare=False)

    @classmethod
    def from_dict(cls, data: Any) -> CallToolResult:
        """Build from a ``CallToolResult`` object."""
        if type(data) is not dict:
            data = _obj(data)
        meta = data.get("_meta")
        blocks = data.get("content")
        result = _new(cls)  # _built, written out: one per tool call
        result.__dict__.update(
            {
                "content": (content_from_dict(blocks[0]),) if type(blocks) is list and len(blocks) == 1 else _contents(blocks),
                "structured_content": data.get("structuredContent"),
                "is_error": data.get("isError") is True,
                "meta": meta if isinstance(meta, dict) else {},
                "raw": data,
            }
        )
        return result

    def __repr__(self) -> str:
        parts = [
            f"text {short_text(block.text, 60)!r}" if isinstance(block, TextContent) else block.type for block in self.content
        ]
        if self.has_structured_content:
            parts.append("structured " + short_text(repr(self.structured_content), 60))
        flag = " is_error" if self.is_error else ""
        return f"<CallToolResult{flag}: {', '.join(parts) or 'empty'}>"

    def _repr_html_(self) -> str:
        return render_call_result(self.raw or {"content": [b.raw for b in self.content], "isError": self.is_error})

    @property
    def has_structured_content(self) -> bool:
        """Whether the server sent a ``structuredContent`` member at all."""
        return "structuredContent" in self.raw

    @property
    def text(self) -> str:
        """Every text block joined with newlines (empty if there are none)."""
        return _join_text(self.content)

    def json(self) -> Any:
        """The structured content if present, else the text parsed as JSON.

        Raises:
            ValueError: there is no structured content and the text is not JSON.
        """
        if self.has_structured_content:
            return self.structured_content
        return json.loads(self.text)


@dataclass(frozen=True)
class Resource:
    """A resource from ``resources/list``.

    Example::

        for resource in session.list_resources():
            print(resource.uri, resource.mime_type)
    """

    uri: str
    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    mime_type: Optional[str] = None
    size: Optional[int] = None
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> Resource:
        """Build from a ``Resource`` object."""
        data = _obj(data)
        size = data.get("size")
        return cls(
            str(data.get("uri", "")),
            str(data.get("name", "")),
            _str(data.get("title")),
            _str(data.get("description")),
            _str(data.get("mimeType")),
            size if isinstance(size, int) and not isinstance(size, bool) else None,
            data,
        )


@dataclass(frozen=True)
class ResourceTemplate:
    """A parameterised resource from ``resources/templates/list`` (RFC 6570 ``uri_template``).

    Example::

        template = session.list_resource_templates()[0]
        print(template.uri_template)   # e.g. demo://resource/dynamic/text/{resourceId}
    """

    uri_template: str
    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    mime_type: Optional[str] = None
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> ResourceTemplate:
        """Build from a ``ResourceTemplate`` object."""
        data = _obj(data)
        return cls(
            str(data.get("uriTemplate", "")),
            str(data.get("name", "")),
            _str(data.get("title")),
            _str(data.get("description")),
            _str(data.get("mimeType")),
            data,
        )


@dataclass(frozen=True)
class ReadResourceResult:
    """The result of ``resources/read``: one or more contents items.

    Example::

        print(session.read_resource("file:///notes.txt").text)
    """

    contents: Tuple[ResourceContents, ...] = ()
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> ReadResourceResult:
        """Build from a ``ReadResourceResult`` object."""
        data = _obj(data)
        items = data.get("contents")
        return cls(tuple(ResourceContents.from_dict(i) for i in items) if isinstance(items, list) else (), data)

    @property
    def text(self) -> str:
        """Every text item joined with newlines."""
        return "\n".join(item.text for item in self.contents if item.text is not None)

    def _repr_html_(self) -> str:
        return render_resource_result(self.raw)


@dataclass(frozen=True)
class PromptArgument:
    """One argument a prompt accepts.

    Example::

        for argument in session.list_prompts()[0].arguments:
            print(argument.name, "(required)" if argument.required else "")
    """

    name: str
    description: Optional[str] = None
    required: bool = False
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> PromptArgument:
        """Build from a ``PromptArgument`` object."""
        data = _obj(data)
        return cls(str(data.get("name", "")), _str(data.get("description")), data.get("required") is True, data)


@dataclass(frozen=True)
class Prompt:
    """A prompt template from ``prompts/list``.

    Example::

        for prompt in session.list_prompts():
            print(prompt.name, [argument.name for argument in prompt.arguments])
    """

    name: str
    title: Optional[str] = None
    description: Optional[str] = None
    arguments: Tuple[PromptArgument, ...] = ()
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> Prompt:
        """Build from a ``Prompt`` object."""
        data = _obj(data)
        args = data.get("arguments")
        return cls(
            str(data.get("name", "")),
            _str(data.get("title")),
            _str(data.get("description")),
            tuple(PromptArgument.from_dict(a) for a in args) if isinstance(args, list) else (),
            data,
        )


@dataclass(frozen=True)
class PromptMessage:
    """One message of a rendered prompt.

    Example::

        for message in session.get_prompt("greet", {"name": "Ada"}).messages:
            print(message.role, message.content)
    """

    role: str
    content: Content
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> PromptMessage:
        """Build from a ``PromptMessage`` object."""
        data = _obj(data)
        return cls(str(data.get("role", "")), content_from_dict(data.get("content")), data)


@dataclass(frozen=True)
class GetPromptResult:
    """The result of ``prompts/get``.

    Example::

        print(session.get_prompt("greet", {"name": "Ada"}).text)
    """

    messages: Tuple[PromptMessage, ...] = ()
    description: Optional[str] = None
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> GetPromptResult:
        """Build from a ``GetPromptResult`` object."""
        data = _obj(data)
        items = data.get("messages")
        return cls(
            tuple(PromptMessage.from_dict(m) for m in items) if isinstance(items, list) else (),
            _str(data.get("description")),
            data,
        )

    def _repr_markdown_(self) -> str:
        return render_prompt_result(self.raw)

    @property
    def text(self) -> str:
        """The text of every text message, joined with newlines."""
        return _join_text(tuple(m.content for m in self.messages))


@dataclass(frozen=True)
class Completion:
    """The result of ``completion/complete``.

    Example::

        completion = session.complete({"type": "ref/prompt", "name": "team"}, "department", "E")
        print(completion.values, completion.has_more)
    """

    values: List[str] = field(default_factory=list)
    total: Optional[int] = None
    has_more: bool = False
    raw: JSONObject = _raw_field()

    @classmethod
    def from_dict(cls, data: Any) -> Completion:
        """Build from a ``CompleteResult`` object."""
        completion = _obj(_obj(data).get("completion"))
        values = completion.get("values")
        total = completion.get("total")
        return cls(
            [str(v) for v in values] if isinstance(values, list) else [],
            total if isinstance(total, int) and not isinstance(total, bool) else None,
            completion.get("hasMore") is True,
            _obj(data),
        )

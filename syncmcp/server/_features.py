"""Tools, resources, resource templates and prompts built from plain functions.

Each definition reads its function once, at registration: the signature and type hints give
the schema (or the prompt arguments), the docstring the descriptions, and a parameter annotated
:class:`~syncmcp.server.Context` receives the per-request context. Invoking a definition
validates and converts the input, calls the function and converts what it returns to the wire
form. Nothing here knows about connections or eras.

Example:
    >>> def add(a: int, b: int) -> int:
    ...     '''Add two integers.
    ...
    ...     Args:
    ...         a: the first.
    ...         b: the second.
    ...     '''
    ...     return a + b
    >>> tool = ToolDef.from_function(add)
    >>> tool.to_dict()["inputSchema"]["properties"]["a"]
    {'type': 'integer', 'description': 'the first.'}
    >>> tool.invoke({"a": 2, "b": 3}, None)
    {'content': [{'type': 'text', 'text': '5'}]}
"""

from __future__ import annotations

import base64
import enum
import inspect
import json
import logging
import re
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from .._endpoint import JSONRPCError
from .._jsonrpc import ErrorCode
from .._validation import Validator, describe_errors
from ._content import CONTENT_TYPES, Audio, EmbeddedResource, Image, ResourceLink, ToolResult, as_content_block, text_block
from ._context import Context
from ._docstrings import parse_docstring
from ._errors import ClientCapabilityError, ToolError
from ._schema import check_schema, coerce, is_structured_type, object_schema, resolve_hints, schema_for, to_jsonable
from ._uritemplate import URITemplate

__all__ = [
    "CompletionSource",
    "PromptDef",
    "ResourceDef",
    "TemplateDef",
    "ToolDef",
    "complete_values",
    "validate_tool_name",
]

logger = logging.getLogger("syncmcp.server")

#: MCP 2025-11-25 tool-name guidance: 1-128 characters of ``[A-Za-z0-9_.-]``.
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")

#: A completion source: fixed values (filtered by prefix), or ``fn(value)`` / ``fn(value, context)``.
CompletionSource = Union[Sequence[str], Callable[..., Iterable[str]]]


def validate_tool_name(name: str) -> str:
    """Return ``name`` if it follows the MCP tool-name rules, else raise ``ValueError``.

    Example:
        >>> validate_tool_name("files.read")
        'files.read'
    """
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        raise ValueError(f"invalid tool name {name!r}: use 1-128 characters from A-Z a-z 0-9 _ - .")
    return name


@dataclass(frozen=True)
class _Param:
    name: str
    annotation: Any
    default: Any
    kind: Any


class _Signature:
    """A function's parameters split into the context parameter and the others."""

    def __init__(self, fn: Callable[..., Any], what: str) -> None:
        if not callable(fn):
            raise TypeError(f"{what} must be callable, got {fn!r}")
        self.fn = fn
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot read the signature of {what} {fn!r}: {exc}") from exc
        hints = resolve_hints(fn)
        self.context_param: Optional[str] = None
        self.params: List[_Param] = []
        self.var_keyword = False
        for name, param in signature.parameters.items():
            annotation = hints.get(name, inspect.Parameter.empty)
            if _is_context(annotation):
                self.context_param = name
                continue
            if param.kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(f"{what} {_name(fn)}: *{name} is not supported (MCP arguments are named)")
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                self.var_keyword = True
                continue
            self.params.append(_Param(name, annotation, param.default, param.kind))
        self.returns = hints.get("return", inspect.Parameter.empty)
        self.docs = parse_docstring(inspect.getdoc(fn))

    def call(self, arguments: Dict[str, Any], ctx: Optional[Context]) -> Any:
        args: List[Any] = []
        kwargs: Dict[str, Any] = {}
        known = set()
        for param in self.params:
            known.add(param.name)
            if param.name not in arguments:
                continue
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                args.append(arguments[param.name])
            else:
                kwargs[param.name] = arguments[param.name]
        if self.var_keyword:
            kwargs.update({key: value for key, value in arguments.items() if key not in known})
        if self.context_param is not None:
            kwargs[self.context_param] = ctx
        return self.fn(*args, **kwargs)


def _is_context(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, Context):
        return True
    args = typing.get_args(annotation)
    return bool(args) and any(isinstance(arg, type) and issubclass(arg, Context) for arg in args)


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))


def _annotated(annotation: Any) -> Any:
    return Any if annotation is inspect.Parameter.empty else annotation


# ----------------------------------------------------------------------------------- tools


#: Return annotations that are content, never structured output (the helpers are dataclasses).
_NOT_STRUCTURED = (inspect.Parameter.empty, None, ToolResult, Image, Audio, ResourceLink, EmbeddedResource)


class ToolDef:
    """One tool: its wire definition and how to run it.

    Build it with :meth:`from_function`; ``Server.tool()`` does.
    """

    def __init__(
        self,
        *,
        name: str,
        fn: Callable[..., Any],
        signature: _Signature,
        input_schema: Dict[str, Any],
        output_schema: Optional[Dict[str, Any]],
        wrap_result: bool,
        title: Optional[str],
        description: Optional[str],
        annotations: Optional[Mapping[str, Any]],
        meta: Optional[Mapping[str, Any]],
        check_input: bool = True,
        check_output: bool = True,
    ) -> None:
        self.name = validate_tool_name(name)
        self.fn = fn
        self._signature = signature
        self.input_schema = input_schema
        self.output_schema = output_schema
        self.wrap_result = wrap_result
        self.title = title
        self.description = description
        self.annotations = dict(annotations) if annotations else None
        self.meta = dict(meta) if meta else None
        # Schemas given by hand are checked now, so a mistake fails at registration; derived
        # ones are valid by construction (importing jsonschema at registration would slow
        # down every server's start). Validation takes syncmcp's fast path when it can.
        for schema, given in ((input_schema, check_input), (output_schema, check_output)):
            if schema is not None and given:
                check_schema(schema)
        self._input = Validator(input_schema, True)
        self._output = Validator(output_schema, True) if output_schema is not None else None

    def __repr__(self) -> str:
        return f"<ToolDef {self.name}>"

    @property
    def wants_context(self) -> bool:
        """Whether the function takes a :class:`Context`."""
        return self._signature.context_param is not None

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        annotations: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        input_schema: Optional[Mapping[str, Any]] = None,
        output_schema: Optional[Mapping[str, Any]] = None,
        structured_output: Optional[bool] = None,
    ) -> ToolDef:
        """Read ``fn`` (see ``Server.tool`` for the rules).

        Raises:
            TypeError: a parameter or the return type has no JSON Schema.
            ValueError: an invalid name or schema.
        """
        signature = _Signature(fn, "a tool")
        docs = signature.docs
        if input_schema is None:
            fields = [(p.name, _annotated(p.annotation), p.default, docs.params.get(p.name)) for p in signature.params]
            schema = object_schema(fields, additional_properties=signature.var_keyword)
        else:
            schema = dict(input_schema)
            if schema.get("type") != "object":
                raise ValueError("a tool's input schema must be an object schema")
        returns = signature.returns
        wrap = False
        out: Optional[Dict[str, Any]] = None
        if output_schema is not None:
            out = dict(output_schema)
        elif structured_output is not False and returns not in _NOT_STRUCTURED:
            # Content helpers (Image, Audio, ...) are dataclasses, but they are content blocks.
            if is_structured_type(returns):
                out = schema_for(returns)
            elif structured_output:
                out = {"type": "object", "properties": {"result": schema_for(returns)}, "required": ["result"]}
                wrap = True
        if out is not None and out.get("type") != "object":
            raise ValueError(f"tool {name or fn.__name__!r}: an output schema must be an object schema")
        return cls(
            name=name or fn.__name__,
            fn=fn,
            signature=signature,
            input_schema=schema,
            output_schema=out,
            wrap_result=wrap,
            check_input=input_schema is not None,
            check_output=output_schema is not None,
            title=title,
            description=description if description is not None else (docs.description or None),
            annotations=annotations,
            meta=meta,
        )

    def to_dict(self) -> Dict[str, Any]:
        """The ``Tool`` object of ``tools/list``."""
        tool: Dict[str, Any] = {"name": self.name}
        if self.title:
            tool["title"] = self.title
        if self.description:
            tool["description"] = self.description
        tool["inputSchema"] = self.input_schema
        if self.output_schema is not None:
            tool["outputSchema"] = self.output_schema
        if self.annotations:
            tool["annotations"] = self.annotations
        if self.meta:
            tool["_meta"] = self.meta
        return tool

    def invoke(self, arguments: Dict[str, Any], ctx: Optional[Context]) -> Dict[str, Any]:
        r"""Validate, call, convert: a ``CallToolResult``.

        Argument problems, :class:`ToolError` and other ``Exception``\\ s become ``isError``
        results. :class:`~syncmcp.JSONRPCError` and ``BaseException``\\ s propagate (the
        connection answers them), as does ``ClientCapabilityError`` (its answer depends on
        the era).
        """
        problem = describe_errors(self._input, arguments)
        if problem is not None:
            return _error_result(f"Invalid arguments for tool '{self.name}': {problem}")
        try:
            converted = self._convert(arguments)
        except (ValueError, TypeError) as exc:
            return _error_result(f"Invalid arguments for tool '{self.name}': {exc}")
        try:
            value = self._signature.call(converted, ctx)
        except ToolError as exc:
            return _error_result(str(exc))
        except (JSONRPCError, ClientCapabilityError):
            raise
        except Exception as exc:
            logger.warning("tool %s failed: %s: %s", self.name, type(exc).__name__, exc)
            logger.debug("tool %s traceback", self.name, exc_info=True)
            return _error_result(f"Error executing tool {self.name}: {type(exc).__name__}: {exc}")
        try:
            return self._result(value)
        except (TypeError, ValueError) as exc:
            logger.warning("tool %s returned an unusable value: %s", self.name, exc)
            return _error_result(f"Tool {self.name} returned an unusable value: {exc}")

    def _convert(self, arguments: Dict[str, Any]) -> Dict[str, Any]:
        converted = dict(arguments)
        for param in self._signature.params:
            if param.name in converted and param.annotation is not inspect.Parameter.empty:
                converted[param.name] = coerce(converted[param.name], param.annotation)
        return converted

    def _result(self, value: Any) -> Dict[str, Any]:
        if isinstance(value, ToolResult):
            result = value.to_dict()
            structured = result.get("structuredContent")
            if structured is not None and self._output is not None and not result.get("isError"):
                self._check_output(structured)
            return result
        if self.wrap_result:
            structured = {"result": to_jsonable(value)}
            self._check_output(structured)
            return {"content": [text_block(_json_text(structured["result"]))], "structuredContent": structured}
        if self.output_schema is not None:
            structured = to_jsonable(value)
            if not isinstance(structured, dict):
                raise TypeError(f"the tool declares an output schema but returned {type(value).__name__}, not an object")
            self._check_output(structured)
            return {"content": [text_block(_json_text(structured))], "structuredContent": structured}
        return plain_result(value)

    def _check_output(self, structured: Any) -> None:
        if self._output is None:
            return
        problem = describe_errors(self._output, structured)
        if problem is not None:
            raise ValueError(f"the result does not match the tool's output schema: {problem}")


def plain_result(value: Any) -> Dict[str, Any]:
    """The ``CallToolResult`` of a tool without an output schema (see ``Server.tool``).

    Example:
        >>> plain_result({"n": 1})
        {'content': [{'type': 'text', 'text': '{"n": 1}'}], 'structuredContent': {'n': 1}}
    """
    if value is None:
        return {"content": []}
    if isinstance(value, str):
        return {"content": [text_block(value)]}
    if isinstance(value, (Image, Audio, ResourceLink, EmbeddedResource)):
        return {"content": [value.to_dict()]}
    if isinstance(value, (list, tuple)) and value and any(_is_block(item) for item in value):
        return {
            "content": [
                as_content_block(item) if _is_block(item) or isinstance(item, str) else text_block(_json_text(to_jsonable(item)))
                for item in value
            ]
        }
    data = to_jsonable(value)
    if isinstance(data, dict):
        return {"content": [text_block(_json_text(data))], "structuredContent": data}
    return {"content": [text_block(_json_text(data))]}


def _is_block(item: Any) -> bool:
    return isinstance(item, (Image, Audio, ResourceLink, EmbeddedResource)) or (
        isinstance(item, Mapping) and item.get("type") in CONTENT_TYPES and len(item) > 1
    )


def _json_text(data: Any) -> str:
    return data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)


def _error_result(message: str) -> Dict[str, Any]:
    return {"content": [text_block(message)], "isError": True}


# ----------------------------------------------------------------------------------- arguments as strings


def _from_string(value: str, annotation: Any, where: str) -> Any:
    """Convert a string argument (prompts, URI templates) to the annotated type.

    Raises:
        JSONRPCError: -32602 when the text does not fit the type.
    """
    if annotation is inspect.Parameter.empty or annotation is str:
        return value
    base = annotation
    while typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    members = [m for m in typing.get_args(base) if m is not type(None)] if typing.get_origin(base) is Union else [base]
    for member in members:
        try:
            if member is str or member is Any:
                return value
            if member is bool:
                lowered = value.strip().lower()
                if lowered in ("true", "yes", "1", "on"):
                    return True
                if lowered in ("false", "no", "0", "off"):
                    return False
                continue
            if member is int:
                return int(value)
            if member is float:
                return float(value)
            return coerce(value, member)
        except (ValueError, TypeError):
            continue
    raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"{where}: {value!r} is not a valid {getattr(base, '__name__', base)}")


def _choices(annotation: Any) -> Optional[List[str]]:
    """Completion values implied by a type: enum values, literals, booleans."""
    base = annotation
    while typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return [str(member.value) for member in base]
    if typing.get_origin(base) is typing.Literal:
        return [str(arg) for arg in typing.get_args(base)]
    if base is bool:
        return ["true", "false"]
    return None


def complete_values(source: CompletionSource, value: str, context: Dict[str, str]) -> List[str]:
    """Run a completion source: filter fixed values by prefix (case-insensitive), or call it.

    Example:
        >>> complete_values(["Engineering", "Sales"], "e", {})
        ['Engineering']
        >>> complete_values(lambda value: [value + "!"], "hi", {})
        ['hi!']
    """
    if callable(source):
        try:
            takes_context = len(inspect.signature(source).parameters) >= 2
        except (TypeError, ValueError):
            takes_context = False
        produced = source(value, context) if takes_context else source(value)
        return [str(item) for item in produced]
    prefix = value.lower()
    return [item for item in source if str(item).lower().startswith(prefix)]


# ----------------------------------------------------------------------------------- prompts


class PromptDef:
    """One prompt: its arguments, completions and renderer."""

    def __init__(
        self,
        *,
        name: str,
        signature: _Signature,
        title: Optional[str],
        description: Optional[str],
        completions: Mapping[str, CompletionSource],
        meta: Optional[Mapping[str, Any]],
    ) -> None:
        if not name:
            raise ValueError("a prompt needs a name")
        self.name = name
        self._signature = signature
        self.title = title
        self.description = description
        self.meta = dict(meta) if meta else None
        self.completions: Dict[str, CompletionSource] = {}
        names = {p.name for p in signature.params}
        for param in signature.params:
            implied = _choices(param.annotation)
            if implied is not None:
                self.completions[param.name] = implied
        for key, source in completions.items():
            if key not in names:
                raise ValueError(f"prompt {name!r} has no argument {key!r} to complete")
            self.completions[key] = source

    def __repr__(self) -> str:
        return f"<PromptDef {self.name}>"

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        completions: Optional[Mapping[str, CompletionSource]] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> PromptDef:
        """Read ``fn`` (see ``Server.prompt``)."""
        signature = _Signature(fn, "a prompt")
        return cls(
            name=name or fn.__name__,
            signature=signature,
            title=title,
            description=description if description is not None else (signature.docs.description or None),
            completions=completions or {},
            meta=meta,
        )

    def to_dict(self) -> Dict[str, Any]:
        """The ``Prompt`` object of ``prompts/list``."""
        prompt: Dict[str, Any] = {"name": self.name}
        if self.title:
            prompt["title"] = self.title
        if self.description:
            prompt["description"] = self.description
        arguments = []
        for param in self._signature.params:
            argument: Dict[str, Any] = {"name": param.name}
            text = self._signature.docs.params.get(param.name)
            if text:
                argument["description"] = text
            argument["required"] = param.default is inspect.Parameter.empty
            arguments.append(argument)
        if arguments:
            prompt["arguments"] = arguments
        if self.meta:
            prompt["_meta"] = self.meta
        return prompt

    def render(self, arguments: Mapping[str, Any], ctx: Optional[Context]) -> Dict[str, Any]:
        """Check the arguments, call the function: a ``GetPromptResult``.

        Raises:
            JSONRPCError: -32602 for a missing, unknown or ill-typed argument.
        """
        values: Dict[str, Any] = {}
        known = {p.name for p in self._signature.params}
        for key, value in arguments.items():
            if key not in known and not self._signature.var_keyword:
                raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Prompt '{self.name}' has no argument '{key}'")
            if not isinstance(value, str):
                raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Argument '{key}' of prompt '{self.name}' must be a string")
        for param in self._signature.params:
            if param.name in arguments:
                values[param.name] = _from_string(
                    arguments[param.name], param.annotation, f"argument '{param.name}' of prompt '{self.name}'"
                )
            elif param.default is inspect.Parameter.empty:
                raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Missing required argument '{param.name}' for prompt '{self.name}'")
        if self._signature.var_keyword:
            values.update({k: v for k, v in arguments.items() if k not in known})
        return self._messages(self._signature.call(values, ctx))

    def _messages(self, value: Any) -> Dict[str, Any]:
        if isinstance(value, Mapping) and "messages" in value:
            result = dict(value)
            result["messages"] = [_message(item) for item in result["messages"]]
        else:
            items = value if isinstance(value, (list, tuple)) else [value]
            result = {"messages": [_message(item) for item in items]}
        if self.description and "description" not in result:
            result["description"] = self.description
        return result


def _message(item: Any) -> Dict[str, Any]:
    if isinstance(item, str):
        return {"role": "user", "content": text_block(item)}
    if isinstance(item, tuple) and len(item) == 2 and item[0] in ("user", "assistant"):
        return {"role": item[0], "content": as_content_block(item[1])}
    if isinstance(item, Mapping) and "role" in item and "content" in item:
        content = item["content"]
        return {**dict(item), "content": content if isinstance(content, Mapping) else as_content_block(content)}
    if isinstance(item, (Image, Audio, ResourceLink, EmbeddedResource)):
        return {"role": "user", "content": item.to_dict()}
    raise TypeError(f"a prompt message must be a string, (role, content) or {{'role', 'content'}}; got {type(item).__name__}")


# ----------------------------------------------------------------------------------- resources


def resource_contents(uri: str, value: Any, mime_type: Optional[str]) -> List[Dict[str, Any]]:
    """The ``contents`` of ``resources/read`` from what a resource function returned.

    ``str`` is text, ``bytes`` a base64 blob, :class:`EmbeddedResource` objects or content
    dicts (with ``uri`` and ``text``/``blob``) are used as they are, other JSON values become
    ``application/json`` text.

    Example:
        >>> resource_contents("notes://1", "hi", None)
        [{'uri': 'notes://1', 'mimeType': 'text/plain', 'text': 'hi'}]
    """
    if isinstance(value, str):
        return [{"uri": uri, "mimeType": mime_type or "text/plain", "text": value}]
    if isinstance(value, (bytes, bytearray)):
        return [
            {
                "uri": uri,
                "mimeType": mime_type or "application/octet-stream",
                "blob": base64.b64encode(bytes(value)).decode("ascii"),
            }
        ]
    if isinstance(value, EmbeddedResource):
        return [value.to_dict()["resource"]]
    if isinstance(value, (list, tuple)) and value and all(_is_contents(item) for item in value):
        return [item.to_dict()["resource"] if isinstance(item, EmbeddedResource) else dict(item) for item in value]
    return [{"uri": uri, "mimeType": mime_type or "application/json", "text": json.dumps(to_jsonable(value), ensure_ascii=False)}]


def _is_contents(item: Any) -> bool:
    return isinstance(item, EmbeddedResource) or (
        isinstance(item, Mapping) and "uri" in item and ("text" in item or "blob" in item)
    )


class ResourceDef:
    """One concrete resource (a fixed URI) and the function that reads it."""

    def __init__(
        self,
        *,
        uri: str,
        name: str,
        signature: _Signature,
        title: Optional[str],
        description: Optional[str],
        mime_type: Optional[str],
        size: Optional[int],
        annotations: Optional[Mapping[str, Any]],
        meta: Optional[Mapping[str, Any]],
    ) -> None:
        if not uri or ":" not in uri:
            raise ValueError(f"a resource URI needs a scheme, got {uri!r}")
        if signature.params:
            names = ", ".join(p.name for p in signature.params)
            raise TypeError(f"resource {uri!r}: a fixed resource takes no arguments (got {names}); use resource_template")
        self.uri = uri
        self.name = name
        self._signature = signature
        self.title = title
        self.description = description
        self.mime_type = mime_type
        self.size = size
        self.annotations = dict(annotations) if annotations else None
        self.meta = dict(meta) if meta else None

    def __repr__(self) -> str:
        return f"<ResourceDef {self.uri}>"

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        uri: str,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        mime_type: Optional[str] = None,
        size: Optional[int] = None,
        annotations: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> ResourceDef:
        """Read ``fn`` (see ``Server.resource``)."""
        signature = _Signature(fn, "a resource")
        return cls(
            uri=uri,
            name=name or str(getattr(fn, "__name__", uri)),
            signature=signature,
            title=title,
            description=description if description is not None else (signature.docs.description or None),
            mime_type=mime_type,
            size=size,
            annotations=annotations,
            meta=meta,
        )

    def to_dict(self) -> Dict[str, Any]:
        """The ``Resource`` object of ``resources/list``."""
        resource: Dict[str, Any] = {"uri": self.uri, "name": self.name}
        for key, value in (
            ("title", self.title),
            ("description", self.description),
            ("mimeType", self.mime_type),
            ("size", self.size),
            ("annotations", self.annotations),
            ("_meta", self.meta),
        ):
            if value is not None:
                resource[key] = value
        return resource

    def read(self, ctx: Optional[Context]) -> List[Dict[str, Any]]:
        """Call the function: the ``contents`` list."""
        return resource_contents(self.uri, self._signature.call({}, ctx), self.mime_type)


ResourceLister = Callable[[], Iterable[Mapping[str, Any]]]


class TemplateDef:
    """A resource template: URIs matching ``uri_template`` are read by one function."""

    def __init__(
        self,
        *,
        uri_template: str,
        name: str,
        signature: _Signature,
        title: Optional[str],
        description: Optional[str],
        mime_type: Optional[str],
        annotations: Optional[Mapping[str, Any]],
        meta: Optional[Mapping[str, Any]],
        completions: Mapping[str, CompletionSource],
        list_resources: Optional[ResourceLister],
    ) -> None:
        self.template = URITemplate(uri_template)
        self.uri_template = uri_template
        names = {p.name for p in signature.params}
        missing = [v for v in self.template.variables if v not in names and not signature.var_keyword]
        if missing:
            raise TypeError(f"resource template {uri_template!r}: the function has no parameter for {', '.join(missing)}")
        extra = [
            p.name for p in signature.params if p.name not in self.template.variables and p.default is inspect.Parameter.empty
        ]
        if extra:
            raise TypeError(f"resource template {uri_template!r}: parameters {', '.join(extra)} are not template variables")
        self.name = name
        self._signature = signature
        self.title = title
        self.description = description
        self.mime_type = mime_type
        self.annotations = dict(annotations) if annotations else None
        self.meta = dict(meta) if meta else None
        self.list_resources = list_resources
        self.completions: Dict[str, CompletionSource] = {}
        for param in signature.params:
            implied = _choices(param.annotation)
            if implied is not None:
                self.completions[param.name] = implied
        for key, source in completions.items():
            if key not in self.template.variables:
                raise ValueError(f"resource template {uri_template!r} has no variable {key!r} to complete")
            self.completions[key] = source

    def __repr__(self) -> str:
        return f"<TemplateDef {self.uri_template}>"

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        uri_template: str,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        mime_type: Optional[str] = None,
        annotations: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        completions: Optional[Mapping[str, CompletionSource]] = None,
        list_resources: Optional[ResourceLister] = None,
    ) -> TemplateDef:
        """Read ``fn`` (see ``Server.resource_template``)."""
        signature = _Signature(fn, "a resource template")
        return cls(
            uri_template=uri_template,
            name=name or str(getattr(fn, "__name__", uri_template)),
            signature=signature,
            title=title,
            description=description if description is not None else (signature.docs.description or None),
            mime_type=mime_type,
            annotations=annotations,
            meta=meta,
            completions=completions or {},
            list_resources=list_resources,
        )

    def to_dict(self) -> Dict[str, Any]:
        """The ``ResourceTemplate`` object of ``resources/templates/list``."""
        template: Dict[str, Any] = {"uriTemplate": self.uri_template, "name": self.name}
        for key, value in (
            ("title", self.title),
            ("description", self.description),
            ("mimeType", self.mime_type),
            ("annotations", self.annotations),
            ("_meta", self.meta),
        ):
            if value is not None:
                template[key] = value
        return template

    def match(self, uri: str) -> Optional[Dict[str, Any]]:
        """The template variables for ``uri``, or ``None`` if it does not match."""
        return self.template.match(uri)

    def read(self, uri: str, variables: Dict[str, Any], ctx: Optional[Context]) -> List[Dict[str, Any]]:
        """Call the function with the URI's variables: the ``contents`` list.

        Raises:
            JSONRPCError: -32602 when a variable does not fit its parameter's type.
        """
        values: Dict[str, Any] = {}
        by_name = {p.name: p for p in self._signature.params}
        for key, value in variables.items():
            param = by_name.get(key)
            if param is None:
                values[key] = value
            elif isinstance(value, list):
                values[key] = coerce(value, param.annotation) if param.annotation is not inspect.Parameter.empty else value
            else:
                values[key] = _from_string(value, param.annotation, f"'{key}' in {uri}")
        return resource_contents(uri, self._signature.call(values, ctx), self.mime_type)

    def listed(self) -> Iterable[Dict[str, Any]]:
        """The concrete resources this template contributes to ``resources/list``."""
        if self.list_resources is None:
            return
        for item in self.list_resources():
            resource = dict(item)
            if "uri" not in resource:
                raise ValueError(f"resource template {self.uri_template!r}: listed resource without a uri: {item!r}")
            resource.setdefault("name", resource["uri"])
            if self.mime_type and "mimeType" not in resource:
                resource["mimeType"] = self.mime_type
            yield resource

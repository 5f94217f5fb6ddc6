"""What a server offers, registered with decorators: tools, resources, templates, prompts, handlers.

:class:`Registrations` is the half of :class:`~syncmcp.server.Server` that collects what the
server offers; the other half serves it (stdio, HTTP). Registering or removing something while
clients are connected tells them (``list_changed``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar

from ._context import Context
from ._features import CompletionSource, PromptDef, ResourceDef, ResourceLister, TemplateDef, ToolDef
from ._registry import Registry

__all__ = ["Registrations"]

logger = logging.getLogger("syncmcp.server")

F = TypeVar("F", bound=Callable[..., Any])


class Registrations:
    """The registration API of :class:`~syncmcp.server.Server` (see the module docs).

    Example:
        >>> from syncmcp.server import Server
        >>> server = Server("demo")
        >>> server.add_tool(lambda: "pong", name="ping_tool").name
        'ping_tool'
    """

    def __init__(self) -> None:
        self.registry = Registry()
        self._lock = threading.Lock()
        self._request_handlers: Dict[str, Callable[[Context, Dict[str, Any]], Any]] = {}
        self._notification_handlers: Dict[str, Callable[[Dict[str, Any]], None]] = {}
        self._shutdown_hooks: List[Callable[[], None]] = []

    # ------------------------------------------------------------------------- tools

    def tool(
        self,
        name: Optional[str] = None,
        *,
        title: Optional[str] = None,
        description: Optional[str] = None,
        annotations: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        input_schema: Optional[Mapping[str, Any]] = None,
        output_schema: Optional[Mapping[str, Any]] = None,
        structured_output: Optional[bool] = None,
        replace: bool = False,
    ) -> Callable[[F], F]:
        """Register the decorated function as a tool (returns it unchanged).

        The input schema comes from the parameters' type hints, their descriptions from the
        docstring's ``Args:`` section, the tool's description from the docstring's first part.
        Parameters with defaults are optional; a parameter annotated :class:`Context` gets the
        request context; ``**kwargs`` accepts extra arguments. Arguments are validated against
        the schema (a violation is an ``isError`` result naming it) and converted to the
        annotated types (enums, dataclasses, tuples, dates...).

        What the function returns becomes the result:

        * a dataclass, TypedDict or dict *annotated* return: ``structuredContent`` with an
          ``outputSchema`` derived from the annotation, mirrored as a JSON text block;
        * with ``structured_output=True``, any other annotated type is wrapped as
          ``{"result": value}`` with a matching ``outputSchema``;
        * ``str``: one text block; ``None``: no content; :class:`Image`, :class:`Audio`,
          :class:`ResourceLink`, :class:`EmbeddedResource` or a list mixing them with strings:
          those blocks; a :class:`ToolResult`: exactly that;
        * other JSON values: their JSON text (an unannotated dict also as ``structuredContent``).

        Raising :class:`ToolError` (or any exception) makes an ``isError`` result with the
        message; raising :class:`~syncmcp.JSONRPCError` answers with that protocol error.

        Args:
            name: the tool's name (default: the function's); ``[A-Za-z0-9_.-]``, 1-128 chars.
            title: a display name.
            description: overrides the docstring.
            annotations: ``ToolAnnotations`` hints (``readOnlyHint``, ``destructiveHint``...).
            meta: the tool's ``_meta``.
            input_schema: use this schema instead of deriving one.
            output_schema: use this output schema (the function must return matching dicts).
            structured_output: ``False`` never produces structured content; ``True`` always.
            replace: replace an existing tool of the same name instead of raising.

        Raises:
            TypeError: a parameter or return type has no JSON form.
            ValueError: an invalid or duplicate name, or an invalid schema.

        Example:
            >>> from syncmcp.server import Server
            >>> server = Server("demo")
            >>> @server.tool(annotations={"readOnlyHint": True})
            ... def shout(text: str) -> str:
            ...     '''Upper-case a text.
            ...
            ...     Args:
            ...         text: what to shout.
            ...     '''
            ...     return text.upper()
            >>> server.registry.tool("shout").to_dict()["inputSchema"]["required"]
            ['text']
        """

        def register(fn: F) -> F:
            self.add_tool(
                fn,
                name=name,
                title=title,
                description=description,
                annotations=annotations,
                meta=meta,
                input_schema=input_schema,
                output_schema=output_schema,
                structured_output=structured_output,
                replace=replace,
            )
            return fn

        return register

    def add_tool(self, fn: Callable[..., Any], *, replace: bool = False, **options: Any) -> ToolDef:
        """Register ``fn`` as a tool (the non-decorator form of :meth:`tool`); returns its definition.

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").add_tool(lambda: "pong", name="ping_tool").name
            'ping_tool'
        """
        definition = ToolDef.from_function(fn, **options)
        self.registry.add_tool(definition, replace=replace)
        return definition

    def remove_tool(self, name: str) -> bool:
        """Unregister a tool (clients are notified); ``False`` if there was none.

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").remove_tool("missing")
            False
        """
        return self.registry.remove_tool(name)

    # ------------------------------------------------------------------------- resources

    def resource(
        self,
        uri: str,
        *,
        name: Optional[str] = None,
        title: Optional[str] = None,
        description: Optional[str] = None,
        mime_type: Optional[str] = None,
        size: Optional[int] = None,
        annotations: Optional[Mapping[str, Any]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        replace: bool = False,
    ) -> Callable[[F], F]:
        """Register the decorated function as the reader of the fixed resource ``uri``.

        The function takes no arguments (except an optional :class:`Context`) and returns
        ``str`` (text), ``bytes`` (a blob), JSON values (``application/json`` text), an
        :class:`EmbeddedResource` or a list of contents dicts. Raise :class:`ResourceNotFound`
        when it does not exist at the moment.

        Example:
            >>> from syncmcp.server import Server
            >>> server = Server("demo")
            >>> @server.resource("config://app", mime_type="application/json")
            ... def app_config() -> dict:
            ...     '''The application's configuration.'''
            ...     return {"debug": False}
            >>> server.registry.resource("config://app").to_dict()["description"]
            "The application's configuration."
        """

        def register(fn: F) -> F:
            self.add_resource(
                fn,
                uri,
                name=name,
                title=title,
                description=description,
                mime_type=mime_type,
                size=size,
                annotations=annotations,
                meta=meta,
                replace=replace,
            )
            return fn

        return register

    def add_resource(self, fn: Callable[..., Any], uri: str, *, replace: bool = False, **options: Any) -> ResourceDef:
        """Register a fixed resource (the non-decorator form of :meth:`resource`).

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").add_resource(lambda: "hi", "demo://hi", name="hi").uri
            'demo://hi'
        """
        definition = ResourceDef.from_function(fn, uri, **options)
        self.registry.add_resource(definition, replace=replace)
        return definition

    def remove_resource(self, uri: str) -> bool:
        """Unregister a fixed resource; ``False`` if there was none.

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").remove_resource("demo://nothing")
            False
        """
        return self.registry.remove_resource(uri)

    def resource_template(
        self,
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
        replace: bool = False,
    ) -> Callable[[F], F]:
        """Register the decorated function as the reader of every URI matching ``uri_template``.

        The function's parameters are the template's variables (RFC 6570: ``{var}``,
        ``{+path}``, ``{/segments*}``, ``{?query}``...), converted to their annotated types.

        Args:
            uri_template: the template, e.g. ``"notes://{folder}/{+path}"``.
            name: its name (default: the function's).
            title: a display name.
            description: overrides the docstring.
            mime_type: the MIME type of what it reads.
            annotations: resource annotations.
            meta: ``_meta``.
            completions: variable -> values, or ``fn(value)`` / ``fn(value, context)``, for
                ``completion/complete`` (enum, ``Literal`` and ``bool`` parameters complete
                themselves).
            list_resources: ``fn()`` yielding concrete ``Resource`` dicts (``uri``, ``name``,
                ...) to include in ``resources/list`` (paginated lazily).
            replace: replace an existing template of the same text.

        Example:
            >>> from syncmcp.server import Server
            >>> server = Server("demo")
            >>> @server.resource_template("users://{user_id}/profile", completions={"user_id": ["ada", "alan"]})
            ... def profile(user_id: str) -> dict:
            ...     return {"id": user_id}
            >>> server.registry.template("users://{user_id}/profile").match("users://ada/profile")
            {'user_id': 'ada'}
        """

        def register(fn: F) -> F:
            self.add_resource_template(
                fn,
                uri_template,
                name=name,
                title=title,
                description=description,
                mime_type=mime_type,
                annotations=annotations,
                meta=meta,
                completions=completions,
                list_resources=list_resources,
                replace=replace,
            )
            return fn

        return register

    def add_resource_template(
        self, fn: Callable[..., Any], uri_template: str, *, replace: bool = False, **options: Any
    ) -> TemplateDef:
        """Register a resource template (the non-decorator form of :meth:`resource_template`).

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").add_resource_template(lambda n: n, "echo://{n}").uri_template
            'echo://{n}'
        """
        definition = TemplateDef.from_function(fn, uri_template, **options)
        self.registry.add_template(definition, replace=replace)
        return definition

    def remove_resource_template(self, uri_template: str) -> bool:
        """Unregister a resource template; ``False`` if there was none.

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").remove_resource_template("x://{y}")
            False
        """
        return self.registry.remove_template(uri_template)

    # ------------------------------------------------------------------------- prompts

    def prompt(
        self,
        name: Optional[str] = None,
        *,
        title: Optional[str] = None,
        description: Optional[str] = None,
        completions: Optional[Mapping[str, CompletionSource]] = None,
        meta: Optional[Mapping[str, Any]] = None,
        replace: bool = False,
    ) -> Callable[[F], F]:
        r"""Register the decorated function as a prompt.

        Parameters are the prompt's arguments (required when they have no default;
        descriptions from ``Args:``); clients send strings, converted to ``int``, ``float``,
        ``bool``, enums or ``Literal`` values where annotated. The function returns a string
        (one user message), a list of strings / ``(role, content)`` pairs / message dicts, or
        a ``GetPromptResult`` dict.

        Args:
            name: the prompt's name (default: the function's).
            title: a display name.
            description: overrides the docstring.
            completions: argument -> values, or ``fn(value)`` / ``fn(value, context)``.
            meta: ``_meta``.
            replace: replace an existing prompt of the same name.

        Example:
            >>> from syncmcp.server import Server
            >>> server = Server("demo")
            >>> @server.prompt(completions={"language": ["python", "rust"]})
            ... def review(code: str, language: str = "python") -> str:
            ...     '''Review a piece of code.'''
            ...     return f"Review this {language} code:\n{code}"
            >>> [a["name"] for a in server.registry.prompt("review").to_dict()["arguments"]]
            ['code', 'language']
        """

        def register(fn: F) -> F:
            self.add_prompt(
                fn, name=name, title=title, description=description, completions=completions, meta=meta, replace=replace
            )
            return fn

        return register

    def add_prompt(self, fn: Callable[..., Any], *, replace: bool = False, **options: Any) -> PromptDef:
        """Register a prompt (the non-decorator form of :meth:`prompt`).

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").add_prompt(lambda: "Hi!", name="hello").name
            'hello'
        """
        definition = PromptDef.from_function(fn, **options)
        self.registry.add_prompt(definition, replace=replace)
        return definition

    def remove_prompt(self, name: str) -> bool:
        """Unregister a prompt; ``False`` if there was none.

        Example:
            >>> from syncmcp.server import Server
            >>> Server("demo").remove_prompt("missing")
            False
        """
        return self.registry.remove_prompt(name)

    # ------------------------------------------------------------------------- other methods

    def request_handler(self, method: str) -> Callable[[F], F]:
        """Register ``fn(ctx, params) -> dict`` for a request method MCP does not define.

        ``ValueError``/``TypeError`` from it become -32602 errors; ``None`` answers ``{}``.

        Example:
            >>> from syncmcp.server import Server
            >>> server = Server("demo")
            >>> @server.request_handler("acme/status")
            ... def status(ctx, params):
            ...     return {"ok": True}
        """

        def register(fn: F) -> F:
            self._request_handlers[method] = fn
            return fn

        return register

    def notification_handler(self, method: str) -> Callable[[F], F]:
        """Register ``fn(params)`` for a notification from the client (run in arrival order).

        Example:
            >>> from syncmcp.server import Server
            >>> server = Server("demo")
            >>> @server.notification_handler("notifications/roots/list_changed")
            ... def roots_changed(params):
            ...     print("the client's roots changed")
        """

        def register(fn: F) -> F:
            self._notification_handlers[method] = fn
            return fn

        return register

    def on_shutdown(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Run ``fn()`` when the server shuts down (e.g. to end child processes); a decorator.

        Example:
            >>> from syncmcp.server import Server
            >>> server = Server("demo")
            >>> @server.on_shutdown
            ... def cleanup():
            ...     pass
        """
        with self._lock:
            self._shutdown_hooks.append(fn)
        return fn

    def custom_request_handler(self, method: str) -> Optional[Callable[[Context, Dict[str, Any]], Any]]:
        """The handler registered for ``method`` with :meth:`request_handler`, if any."""
        return self._request_handlers.get(method)

    def custom_notification_handler(self, method: str) -> Optional[Callable[[Dict[str, Any]], None]]:
        """The handler registered for ``method`` with :meth:`notification_handler`, if any."""
        return self._notification_handlers.get(method)

    def _run_shutdown_hooks(self) -> None:
        with self._lock:
            hooks = list(self._shutdown_hooks)
        for hook in hooks:
            try:
                hook()
            except Exception:
                logger.exception("shutdown hook %r failed", hook)

"""``ClientSession``: one MCP server, a blocking and thread-safe API.

The session gives MCP meaning to an :class:`~syncmcp._endpoint.Endpoint`: the handshake and
version negotiation, typed methods with timeouts, pagination, list caches invalidated by
``list_changed`` notifications, progress routing, logging, and the server's requests to the
client (roots, sampling, elicitation) answered by plain callables on the handler pool.

Example:
    >>> import syncmcp
    >>> with syncmcp.connect("python", ["tools/example_server.py"]) as session:   # doctest: +SKIP
    ...     print([tool.name for tool in session.list_tools()])
    ...     print(session.call_tool("add", {"a": 2, "b": 3}).text)
"""

from __future__ import annotations

import concurrent.futures
import enum
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from ._endpoint import DEFAULT_MAX_WORKERS, Endpoint, InboundRequest, JSONRPCError, PendingRequest, ProgressCallback
from ._exceptions import (
    ConnectionClosed,
    MCPError,
    ProtocolVersionError,
    RemoteProtocolError,
    RequestTimeout,
    SessionClosedError,
)
from ._jsonrpc import ErrorCode, RequestId
from ._stdio import StdioTransport
from ._transport import Transport
from ._types import (
    CallToolResult,
    Completion,
    GetPromptResult,
    Implementation,
    InitializeResult,
    Prompt,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    Tool,
)
from ._version import __version__

__all__ = [
    "DEFAULT",
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "LATEST_PROTOCOL_VERSION",
    "LOGGING_LEVELS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "CapabilityError",
    "ClientSession",
    "RequestContext",
    "connect",
]

logger = logging.getLogger("syncmcp.session")

#: The revision offered in ``initialize``.
LATEST_PROTOCOL_VERSION = "2025-11-25"
#: Revisions accepted in the server's answer (the legacy, handshake-based era).
SUPPORTED_PROTOCOL_VERSIONS: Tuple[str, ...] = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
#: Default seconds for a request when neither the call nor the session says otherwise.
DEFAULT_TIMEOUT = 60.0
#: Default seconds for spawn + handshake in :func:`connect`.
DEFAULT_STARTUP_TIMEOUT = 10.0
#: Most pages one listing follows before it is considered a runaway server.
MAX_PAGES = 1000
#: MCP log levels (RFC 5424), ascending, and the ``logging`` level each maps to.
LOGGING_LEVELS: Dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}


class _Default(enum.Enum):
    """Type of :data:`DEFAULT`."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the session's default timeout". It exists because ``None`` already means "no timeout".
DEFAULT = _Default.DEFAULT

Timeout = Union[float, None, _Default]
T = TypeVar("T")


class CapabilityError(MCPError):
    """The server did not declare the capability this call needs.

    Pass ``check_capabilities=False`` to the session for servers that under-declare.
    """


@dataclass(frozen=True)
class RequestContext:
    """What a handler of a server→client request gets besides the params.

    Attributes:
        session: the session the request arrived on (handlers may call back into it).
        server: the server's name.
        request_id: the server's id for the request (may be ``0``).
        method: the request's method.
        cancelled: set when the server cancels the request or the session closes; the answer is
            then discarded, so a handler may stop early.
    """

    session: ClientSession
    server: str
    request_id: RequestId
    method: str
    cancelled: threading.Event


Handler = Callable[[RequestContext, Dict[str, Any]], Any]
Roots = Union[Sequence[Mapping[str, Any]], Callable[[], Sequence[Mapping[str, Any]]]]
LogCallback = Callable[[str, str, Any], None]


class _State(enum.Enum):
    NEW = "new"  # constructed; initialize() not called
    INITIALIZING = "initializing"  # handshake in flight
    OPEN = "open"  # ready for requests
    CLOSED = "closed"  # closed locally, or the connection was lost


class _ListCache:
    """A fully paginated listing, invalidated by ``list_changed`` and fetched once per staleness.

    ``invalidate`` bumps a generation; a fetch stores its result tagged with the generation it
    started at, so a listing that raced with a change is already stale when stored. Concurrent
    readers of a stale cache share one fetch (a burst of notifications costs one request).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._value: Optional[Tuple[int, List[Any]]] = None
        self._inflight: Optional[concurrent.futures.Future[List[Any]]] = None

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1

    def get(self, fetch: Callable[[], List[Any]], timeout: Optional[float], refresh: bool) -> List[Any]:
        with self._lock:
            if refresh:
                self._generation += 1
            if self._value is not None and self._value[0] == self._generation:
                return self._value[1]
            future = self._inflight
            owner = future is None
            if owner:
                future = self._inflight = concurrent.futures.Future()
            generation = self._generation
        assert future is not None
        if not owner:
            try:
                return future.result(timeout)
            except concurrent.futures.TimeoutError:
                raise RequestTimeout(
                    f"listing timed out after {timeout} s waiting for a concurrent fetch", timeout=timeout
                ) from None
        try:
            value = fetch()
        except BaseException as exc:
            with self._lock:
                self._inflight = None
            future.set_exception(exc)
            raise
        with self._lock:
            self._inflight = None
            self._value = (generation, value)
        future.set_result(value)
        return value


class ClientSession:
    """A connection to one MCP server with a blocking, thread-safe API.

    Any number of threads may call one session at once; calls are multiplexed on the one
    connection and responses are matched by id. Every method takes ``timeout`` in seconds:
    :data:`DEFAULT` (the session's ``timeout``), a float, or ``None`` for no limit. A timeout or a
    ``KeyboardInterrupt`` while waiting cancels the request on the server.

    Args:
        transport: how to reach the server, e.g. :class:`~syncmcp.StdioTransport`.
        name: the server's name for logs, threads and errors (default: the transport's).
        timeout: the default timeout of every request, in seconds.
        client_info: ``clientInfo`` sent at the handshake (default: syncmcp and its version).
        roots: the client's roots (``[{"uri": "file:///...", "name": ...}]``) or a callable
            returning them; enables the ``roots`` capability.
        sampling_handler: ``fn(ctx, params) -> CreateMessageResult`` for
            ``sampling/createMessage``; enables the ``sampling`` capability.
        elicitation_handler: ``fn(ctx, params) -> ElicitResult`` for ``elicitation/create``;
            enables the ``elicitation`` capability. While a sampling or elicitation handler
            runs, the timeouts of this session's own requests are paused: the server is
            waiting on the client.
        on_log: ``fn(level, logger_name, data)`` for each ``notifications/message`` (they also
            go to the ``logging`` logger ``syncmcp.servers.<name>``).
        on_list_changed: ``fn(kind)`` with ``"tools"``, ``"prompts"`` or ``"resources"`` when the
            server says that list changed (the cached list is already invalidated).
        notification_handler: ``fn(method, params)`` for notifications syncmcp does not handle.
        on_connection_lost: ``fn(error)`` once if the connection ends without ``close()``.
        check_capabilities: refuse calls the server did not declare (listings return ``[]``).
        max_workers: most concurrent handlers of server requests.

    Example:
        >>> session = ClientSession(StdioTransport("python", ["server.py"]))   # doctest: +SKIP
        >>> with session:                                                      # doctest: +SKIP
        ...     session.call_tool("echo", {"message": "hi"}).text
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: Optional[str] = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        client_info: Optional[Mapping[str, Any]] = None,
        roots: Optional[Roots] = None,
        sampling_handler: Optional[Handler] = None,
        elicitation_handler: Optional[Handler] = None,
        on_log: Optional[LogCallback] = None,
        on_list_changed: Optional[Callable[[str], None]] = None,
        notification_handler: Optional[Callable[[str, Dict[str, Any]], None]] = None,
        on_connection_lost: Optional[Callable[[ConnectionClosed], None]] = None,
        check_capabilities: bool = True,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        self.name: str = name or getattr(transport, "name", None) or "server"
        self.timeout = timeout
        self.client_info: Dict[str, Any] = dict(client_info or {"name": "syncmcp", "version": __version__})
        self._transport = transport
        self._roots = roots
        self._sampling_handler = sampling_handler
        self._elicitation_handler = elicitation_handler
        self._on_log = on_log
        self._on_list_changed = on_list_changed
        self._notification_handler = notification_handler
        self._on_connection_lost = on_connection_lost
        self.check_capabilities = check_capabilities
        self._state = _State.NEW
        self._state_lock = threading.Lock()
        self._init: Optional[InitializeResult] = None
        self._progress: Dict[Union[int, str], Tuple[ProgressCallback, List[Optional[PendingRequest]]]] = {}
        self._progress_tokens = itertools.count(1)
        self._subscribers: Dict[str, List[Callable[[str], None]]] = {}
        self._subscribers_lock = threading.Lock()
        self._caches = {
            "tools": _ListCache(),
            "resources": _ListCache(),
            "resource_templates": _ListCache(),
            "prompts": _ListCache(),
        }
        self._server_log = logging.getLogger(f"syncmcp.servers.{self.name}")
        self._endpoint = Endpoint(
            transport,
            name=self.name,
            request_handler=self._handle_request,
            notification_handler=self._handle_notification,
            on_lost=self._connection_lost,
            max_workers=max_workers,
        )

    # ------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ClientSession:
        if self._state is _State.NEW:
            try:
                self.initialize()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        version = f" {self.protocol_version}" if self._init else ""
        return f"<ClientSession '{self.name}' {self._state.value}{version}>"

    @property
    def capabilities(self) -> Dict[str, Any]:
        """The client capabilities this session advertises (only for handlers it was given)."""
        caps: Dict[str, Any] = {}
        if self._roots is not None:
            caps["roots"] = {"listChanged": True}
        if self._sampling_handler is not None:
            caps["sampling"] = {}
        if self._elicitation_handler is not None:
            caps["elicitation"] = {}
        return caps

    def initialize(self, *, timeout: Timeout = DEFAULT) -> InitializeResult:
        """Start the transport and perform the handshake (``initialize`` + ``initialized``).

        Called by ``with session:`` and :func:`connect`; call it yourself otherwise. The timeout
        covers spawning the server too.

        Raises:
            RequestTimeout: no answer in time (the message quotes the server's stderr).
            ProtocolVersionError: the server answered a revision this client does not speak.
            ConnectionClosed: the server exited during the handshake.
            ServerStartError: the server could not be spawned.
            SessionClosedError: the session was already initialized or closed.
        """
        with self._state_lock:
            if self._state is not _State.NEW:
                raise SessionClosedError(f"session '{self.name}' is {self._state.value}; initialize() runs once")
            self._state = _State.INITIALIZING
        limit = self._resolve_timeout(timeout)
        deadline = None if limit is None else time.monotonic() + limit
        try:
            self._endpoint.start()
            params = {
                "protocolVersion": LATEST_PROTOCOL_VERSION,
                "capabilities": self.capabilities,
                "clientInfo": self.client_info,
            }
            pending = self._endpoint.send_request("initialize", params, cancellable=False)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                raw = pending.result(remaining)
            except RequestTimeout as exc:
                tail = self._transport.exit_details(0.0)[1]
                message = f"timed out handshaking with MCP server '{self.name}' after {limit:g} s"
                if tail:
                    message += "\n--- server stderr (last lines) ---\n" + tail.rstrip("\n")
                raise RequestTimeout(message, timeout=limit, method="initialize", server=self.name) from exc
            result = InitializeResult.from_dict(raw)
            if result.protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
                raise ProtocolVersionError(
                    f"MCP server '{self.name}' answered protocol version {result.protocol_version!r}; "
                    f"this client offered {LATEST_PROTOCOL_VERSION!r} and supports {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}"
                )
            self._init = result
            self._endpoint.send_notification("notifications/initialized")
        except BaseException:
            self.close()
            raise
        with self._state_lock:
            if self._state is _State.INITIALIZING:
                self._state = _State.OPEN
        return result

    def close(self) -> None:
        """Close the session and stop the server (bounded, idempotent, any thread)."""
        with self._state_lock:
            self._state = _State.CLOSED
        self._endpoint.close()

    @property
    def closed(self) -> bool:
        """Whether the session is closed or its connection was lost."""
        return self._state is _State.CLOSED or (self._state is _State.OPEN and not self._endpoint.is_open)

    def _connection_lost(self, error: ConnectionClosed) -> None:
        with self._state_lock:
            self._state = _State.CLOSED
        if self._on_connection_lost is not None:
            self._on_connection_lost(error)

    # ------------------------------------------------------------------------------ properties

    def _initialized(self) -> InitializeResult:
        if self._init is None:
            raise SessionClosedError(f"session '{self.name}' is not initialized; call initialize() or use 'with'")
        return self._init

    @property
    def initialize_result(self) -> InitializeResult:
        """The server's full handshake answer."""
        return self._initialized()

    @property
    def server_info(self) -> Implementation:
        """The server's name, version and title."""
        return self._initialized().server_info

    @property
    def server_capabilities(self) -> Dict[str, Any]:
        """The capabilities the server declared."""
        return self._initialized().capabilities

    @property
    def protocol_version(self) -> str:
        """The negotiated protocol revision."""
        return self._initialized().protocol_version

    @property
    def instructions(self) -> Optional[str]:
        """The server's usage instructions, if it gave any."""
        return self._initialized().instructions

    @property
    def transport(self) -> Transport:
        """The transport this session runs on."""
        return self._transport

    @property
    def stats(self) -> Dict[str, int]:
        """Message counters: received, sent (approximate under contention), invalid, dropped."""
        return dict(self._endpoint.stats)

    # ------------------------------------------------------------------------------ requests

    def _resolve_timeout(self, timeout: Timeout) -> Optional[float]:
        value = self.timeout if timeout is DEFAULT else timeout
        if value is not None and not value >= 0:  # also rejects NaN
            raise ValueError(f"timeout must be a non-negative number of seconds or None, got {value!r}")
        return value

    def _require_open(self) -> None:
        state = self._state
        if state is _State.OPEN:
            return
        if state is _State.CLOSED:
            lost = self._endpoint.lost_error()
            if lost is not None:
                raise lost
            raise SessionClosedError(f"session '{self.name}' is closed")
        raise SessionClosedError(f"session '{self.name}' is not initialized; call initialize() or use 'with'")

    def _has_capability(self, name: str) -> bool:
        return not self.check_capabilities or name in self.server_capabilities

    def _require_capability(self, name: str, method: str) -> None:
        if not self._has_capability(name):
            raise CapabilityError(
                f"MCP server '{self.name}' did not declare the '{name}' capability needed for {method} "
                "(use check_capabilities=False if it under-declares)"
            )

    def submit(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        on_progress: Optional[ProgressCallback] = None,
    ) -> PendingRequest:
        """Send a request and return at once with its :class:`PendingRequest` handle.

        ``handle.result(timeout)`` waits for the raw result dict; ``handle.cancel()`` withdraws
        it. With ``on_progress``, a ``progressToken`` is attached and ``on_progress(progress,
        total, message)`` gets every ``notifications/progress`` for it, in order, before the
        result is delivered.

        Example:
            >>> handle = session.submit("tools/call", {"name": "slow"})   # doctest: +SKIP
            >>> handle.cancel()                                            # doctest: +SKIP
            True
        """
        self._require_open()
        if threading.current_thread().name.startswith("syncmcp-reader"):
            raise RuntimeError("session methods cannot be called on a reader thread")
        body: Optional[Dict[str, Any]] = dict(params) if params is not None else None
        if on_progress is None:
            return self._endpoint.send_request(method, body)
        token = next(self._progress_tokens)
        body = body or {}
        meta = dict(body.get("_meta") or {})
        meta["progressToken"] = token
        body["_meta"] = meta
        holder: List[Optional[PendingRequest]] = [None]
        self._progress[token] = (on_progress, holder)
        try:
            pending = self._endpoint.send_request(method, body, ordered=True)
        except BaseException:
            self._progress.pop(token, None)
            raise
        holder[0] = pending
        pending.add_done_callback(lambda _p: self._progress.pop(token, None))
        return pending

    def request(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Timeout = DEFAULT,
        on_progress: Optional[ProgressCallback] = None,
        reset_timeout_on_progress: bool = False,
        max_total_timeout: Optional[float] = None,
    ) -> Any:
        """Send any request and wait for its raw ``result`` (the escape hatch).

        Args:
            method: e.g. ``"tools/list"``.
            params: the params object.
            timeout: seconds (see the class docs).
            on_progress: ``fn(progress, total, message)`` for progress notifications.
            reset_timeout_on_progress: restart the timeout on each progress notification.
            max_total_timeout: the hard limit when the timeout restarts on progress.

        Raises:
            RequestTimeout: no answer in time (the request was cancelled on the server).
            RemoteError: the server answered with an error.
            ConnectionClosed: the connection ended (message quotes exit code and stderr).
            SessionClosedError: the session is not open.
        """
        limit = self._resolve_timeout(timeout)
        pending = self.submit(method, params, on_progress=on_progress)
        return pending.result(
            limit, reset_on_activity=reset_timeout_on_progress and on_progress is not None, max_total=max_total_timeout
        )

    def notify(self, method: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Send a notification to the server.

        Raises:
            SessionClosedError: the session is not open.
            ConnectionClosed: the connection is gone.
        """
        self._require_open()
        self._endpoint.send_notification(method, dict(params) if params is not None else None)

    def _paginate(
        self, method: str, key: str, timeout: Timeout, cursor: Optional[str] = None, single_page: bool = False
    ) -> Tuple[List[Any], Optional[str]]:
        limit = self._resolve_timeout(timeout)
        deadline = None if limit is None else time.monotonic() + limit
        items: List[Any] = []
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            result = self.request(method, {"cursor": cursor} if cursor is not None else None, timeout=remaining)
            page = result.get(key) if isinstance(result, dict) else None
            if not isinstance(page, list):
                raise RemoteProtocolError(f"{method} result from '{self.name}' has no '{key}' list")
            items.extend(page)
            next_cursor = result.get("nextCursor")
            if next_cursor is None or next_cursor == "" or single_page:
                return items, next_cursor or None
            if not isinstance(next_cursor, str):
                raise RemoteProtocolError(f"{method} from '{self.name}' returned a non-string cursor {next_cursor!r}")
            if next_cursor in seen or next_cursor == cursor:
                raise RemoteProtocolError(f"{method} returned duplicate cursor")
            seen.add(next_cursor)
            cursor = next_cursor
        raise RemoteProtocolError(f"{method} from '{self.name}' returned more than {MAX_PAGES} pages")

    def _cached_list(self, kind: str, timeout: Timeout, refresh: bool) -> List[Any]:
        """A fresh list of the cached, typed items of one listing (fetched when stale)."""
        method, key, capability, convert = _LISTINGS[kind]
        self._require_open()
        if not self._has_capability(capability):
            return []
        limit = self._resolve_timeout(timeout)
        items = self._caches[kind].get(lambda: [convert(item) for item in self._paginate(method, key, limit)[0]], limit, refresh)
        return list(items)

    def ping(self, *, timeout: Timeout = DEFAULT) -> None:
        """Check the server answers (``ping``)."""
        self.request("ping", timeout=timeout)

    def list_tools(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[Tool]:
        """Every tool of the server, all pages followed; cached until the server says it changed.

        Args:
            timeout: bounds the whole listing, every page included.
            refresh: ignore the cache and list again.

        Raises:
            RemoteProtocolError: the server repeated a cursor or sent a malformed page.
        """
        return self._cached_list("tools", timeout, refresh)

    def call_tool(
        self,
        name: str,
        arguments: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Timeout = DEFAULT,
        on_progress: Optional[ProgressCallback] = None,
        reset_timeout_on_progress: bool = False,
        max_total_timeout: Optional[float] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> CallToolResult:
        """Call a tool and wait for its result. A result with ``is_error`` is returned, not raised.

        Args:
            name: the tool's name on this server.
            arguments: a JSON object of arguments.
            timeout: seconds to wait (cancelled on the server on expiry).
            on_progress: ``fn(progress, total, message)``; every progress notification of this
                call reaches it, in order, before ``call_tool`` returns.
            reset_timeout_on_progress: restart the timeout on each progress notification.
            max_total_timeout: the hard limit when the timeout restarts on progress.
            meta: extra ``_meta`` for the request.

        Example:
            >>> session.call_tool("add", {"a": 1, "b": 2}).text   # doctest: +SKIP
            '3'
        """
        if arguments is not None and not isinstance(arguments, Mapping):
            raise TypeError(f"MCP tool arguments must be a JSON object, got {type(arguments).__name__}")
        self._require_open()
        self._require_capability("tools", "tools/call")
        params: Dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = dict(arguments)
        if meta:
            params["_meta"] = dict(meta)
        raw = self.request(
            "tools/call",
            params,
            timeout=timeout,
            on_progress=on_progress,
            reset_timeout_on_progress=reset_timeout_on_progress,
            max_total_timeout=max_total_timeout,
        )
        return CallToolResult.from_dict(raw)

    def list_resources(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[Resource]:
        """Every resource of the server (all pages, cached); ``[]`` if it has no resources."""
        return self._cached_list("resources", timeout, refresh)

    def list_resource_templates(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[ResourceTemplate]:
        """Every resource template of the server (all pages, cached)."""
        return self._cached_list("resource_templates", timeout, refresh)

    def read_resource(self, uri: str, *, timeout: Timeout = DEFAULT) -> ReadResourceResult:
        """Read one resource.

        Raises:
            RemoteError: e.g. code -32002 (or -32602) when the resource does not exist.
        """
        self._require_open()
        self._require_capability("resources", "resources/read")
        return ReadResourceResult.from_dict(self.request("resources/read", {"uri": uri}, timeout=timeout))

    def subscribe_resource(
        self, uri: str, on_updated: Optional[Callable[[str], None]] = None, *, timeout: Timeout = DEFAULT
    ) -> None:
        """Subscribe to changes of a resource; ``on_updated(uri)`` runs on each update.

        Raises:
            CapabilityError: the server does not offer subscriptions.
        """
        self._require_open()
        if self.check_capabilities and not self.server_capabilities.get("resources", {}).get("subscribe"):
            raise CapabilityError(f"MCP server '{self.name}' does not support resource subscriptions")
        if on_updated is not None:
            with self._subscribers_lock:
                self._subscribers.setdefault(uri, []).append(on_updated)
        try:
            self.request("resources/subscribe", {"uri": uri}, timeout=timeout)
        except BaseException:
            if on_updated is not None:
                self._remove_subscriber(uri, on_updated)
            raise

    def unsubscribe_resource(self, uri: str, *, timeout: Timeout = DEFAULT) -> None:
        """Stop receiving updates for a resource (its callbacks are dropped)."""
        self._require_open()
        with self._subscribers_lock:
            self._subscribers.pop(uri, None)
        self.request("resources/unsubscribe", {"uri": uri}, timeout=timeout)

    def _remove_subscriber(self, uri: str, callback: Callable[[str], None]) -> None:
        with self._subscribers_lock:
            callbacks = self._subscribers.get(uri, [])
            if callback in callbacks:
                callbacks.remove(callback)

    def list_prompts(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[Prompt]:
        """Every prompt of the server (all pages, cached); ``[]`` if it has no prompts."""
        return self._cached_list("prompts", timeout, refresh)

    def get_prompt(
        self, name: str, arguments: Optional[Mapping[str, str]] = None, *, timeout: Timeout = DEFAULT
    ) -> GetPromptResult:
        """Render a prompt with its (string) arguments."""
        self._require_open()
        self._require_capability("prompts", "prompts/get")
        params: Dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = {str(k): str(v) for k, v in arguments.items()}
        return GetPromptResult.from_dict(self.request("prompts/get", params, timeout=timeout))

    def complete(
        self,
        ref: Mapping[str, Any],
        argument: str,
        value: str,
        *,
        context: Optional[Mapping[str, str]] = None,
        timeout: Timeout = DEFAULT,
    ) -> Completion:
        """Ask for completions of a prompt or resource-template argument.

        Args:
            ref: ``{"type": "ref/prompt", "name": ...}`` or ``{"type": "ref/resource", "uri": ...}``.
            argument: the argument's name.
            value: what the user typed so far.
            context: values of the other arguments already chosen.
            timeout: seconds (see the class docs).

        Example:
            >>> session.complete({"type": "ref/prompt", "name": "p"}, "dept", "E").values   # doctest: +SKIP
            ['Engineering']
        """
        self._require_open()
        if self.protocol_version >= "2025-03-26":  # 2024-11-05 servers had no capability flag
            self._require_capability("completions", "completion/complete")
        params: Dict[str, Any] = {"ref": dict(ref), "argument": {"name": argument, "value": value}}
        if context:
            params["context"] = {"arguments": dict(context)}
        return Completion.from_dict(self.request("completion/complete", params, timeout=timeout))

    def set_logging_level(self, level: str, *, timeout: Timeout = DEFAULT) -> None:
        """Ask the server to send log messages at ``level`` and above (``debug`` … ``emergency``)."""
        if level not in LOGGING_LEVELS:
            raise ValueError(f"level must be one of {', '.join(LOGGING_LEVELS)}, got {level!r}")
        self._require_open()
        self._require_capability("logging", "logging/setLevel")
        self.request("logging/setLevel", {"level": level}, timeout=timeout)

    def send_roots_list_changed(self) -> None:
        """Tell the server the roots changed (``notifications/roots/list_changed``)."""
        if self._roots is None:
            raise CapabilityError("this session was created without roots")
        self.notify("notifications/roots/list_changed")

    def set_roots(self, roots: Roots) -> None:
        """Replace the roots (a list or a callable) and notify the server."""
        if self._roots is None:
            raise CapabilityError("this session was created without roots; pass roots=[] to enable them")
        self._roots = roots
        self.send_roots_list_changed()

    # ------------------------------------------------------------------------------ inbound

    def _handle_request(self, request: InboundRequest) -> Any:
        """Answer a server→client request (runs on the handler pool)."""
        method = request.method
        context = RequestContext(self, self.name, request.id, method, request.cancelled)
        if method == "roots/list" and self._roots is not None:
            roots = self._roots() if callable(self._roots) else self._roots
            return {"roots": [dict(root) for root in roots]}
        handler = {"sampling/createMessage": self._sampling_handler, "elicitation/create": self._elicitation_handler}.get(method)
        if handler is None:
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method}")
        # The server waits on us (a model, a user): that time must not count against the
        # timeouts of our own requests to it.
        self._endpoint.pause_timeouts()
        try:
            return _as_result(handler(context, request.params))
        finally:
            self._endpoint.resume_timeouts()

    def _handle_notification(self, method: str, params: Dict[str, Any]) -> None:
        """Route a notification (runs on the notification worker, in arrival order)."""
        if method == "notifications/progress":
            entry = self._progress.get(params.get("progressToken"))  # type: ignore[arg-type]
            if entry is None:
                logger.debug("'%s': progress for an unknown or finished token %r", self.name, params.get("progressToken"))
                return
            callback, holder = entry
            if holder[0] is not None:
                holder[0].touch()
            total = params.get("total")
            callback(params.get("progress", 0), total, params.get("message"))
        elif method == "notifications/message":
            level = str(params.get("level", "info"))
            source = params.get("logger")
            data = params.get("data")
            self._server_log.log(LOGGING_LEVELS.get(level, logging.INFO), "%s%s", f"[{source}] " if source else "", data)
            if self._on_log is not None:
                self._on_log(level, str(source) if source is not None else "", data)
        elif method in _LIST_CHANGED:
            kinds = _LIST_CHANGED[method]
            for kind in kinds:
                self._caches[kind].invalidate()
            if self._on_list_changed is not None:
                self._on_list_changed(kinds[0])
        elif method == "notifications/resources/updated":
            uri = str(params.get("uri", ""))
            with self._subscribers_lock:
                callbacks = list(self._subscribers.get(uri, ()))
            for on_updated in callbacks:
                on_updated(uri)
        elif self._notification_handler is not None:
            self._notification_handler(method, params)
        else:
            logger.debug("'%s': unhandled notification %s", self.name, method)


#: kind -> (list method, result key, server capability, converter to the typed item)
_LISTINGS: Dict[str, Tuple[str, str, str, Callable[[Any], Any]]] = {
    "tools": ("tools/list", "tools", "tools", Tool.from_dict),
    "resources": ("resources/list", "resources", "resources", Resource.from_dict),
    "resource_templates": ("resources/templates/list", "resourceTemplates", "resources", ResourceTemplate.from_dict),
    "prompts": ("prompts/list", "prompts", "prompts", Prompt.from_dict),
}

_LIST_CHANGED: Dict[str, Tuple[str, ...]] = {
    "notifications/tools/list_changed": ("tools",),
    "notifications/prompts/list_changed": ("prompts",),
    "notifications/resources/list_changed": ("resources", "resource_templates"),
}


def _as_result(value: Any) -> Any:
    """Accept a handler's return value: a dict, or an object with ``to_dict()``."""
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"handler must return a dict, got {type(value).__name__}")


def connect(
    command: str,
    args: Iterable[str] = (),
    *,
    env: Optional[Mapping[str, str]] = None,
    env_vars: Iterable[str] = (),
    cwd: Optional[str] = None,
    name: Optional[str] = None,
    timeout: Optional[float] = DEFAULT_STARTUP_TIMEOUT,
    request_timeout: Optional[float] = DEFAULT_TIMEOUT,
    **session_options: Any,
) -> ClientSession:
    """Spawn a stdio MCP server, perform the handshake, and return the open session.

    Args:
        command: the server program (looked up on ``PATH``).
        args: its arguments.
        env: extra environment variables for the server (on top of the safe allow-list).
        env_vars: names of variables to pass through from this process's environment.
        cwd: the server's working directory.
        name: the server's name in logs and errors (default: the command's base name).
        timeout: seconds for spawning plus the handshake.
        request_timeout: the session's default timeout for later requests.
        **session_options: passed to :class:`ClientSession` (handlers, callbacks...).

    Raises:
        ServerStartError: the command could not be started.
        RequestTimeout: no handshake within ``timeout``.
        ConnectionClosed: the server exited during start-up (exit code and stderr quoted).

    Example:
        >>> with connect("npx", ["-y", "@modelcontextprotocol/server-everything"]) as s:   # doctest: +SKIP
        ...     print(s.call_tool("echo", {"message": "hi"}).text)
        Echo: hi
    """
    transport = StdioTransport(command, list(args), env=env, env_vars=env_vars, cwd=cwd, name=name)
    session = ClientSession(transport, name=transport.name, timeout=request_timeout, **session_options)
    try:
        session.initialize(timeout=timeout)
    except BaseException:
        session.close()
        raise
    return session

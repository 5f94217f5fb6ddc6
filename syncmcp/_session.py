"""``ClientSession``: one MCP server, a blocking and thread-safe API, in both protocol eras.

The session gives MCP meaning to an :class:`~syncmcp._endpoint.Endpoint`: era detection and the
handshake, typed methods with timeouts, pagination, list caches invalidated by ``list_changed``,
progress routing, logging, schema validation of tool calls, the server's requests to the client
(roots, sampling, elicitation) answered by plain callables, the 2026-07-28 multi-round-trip
``InputRequiredResult`` flow, subscriptions, and task-augmented tool calls.

:class:`ClientSession` owns the session's lifecycle (state, the handshake's answer, its era), the
checks every call passes (open, capability declared, timeout), logging and the routing of
notifications; each of its parts owns its own state and locks, and knows its session only
through a small protocol of public members:

- :mod:`~syncmcp._handshake`: era detection and the handshake (functions, no state);
- :mod:`~syncmcp._requests`: the era's envelope, progress tokens, ``InputRequiredResult`` rounds,
  and the answers to the server's requests;
- :mod:`~syncmcp._pagination`: the four listings, their pagination and caches;
- :mod:`~syncmcp._toolcalls`: tool definitions, schema validation, calls run as tasks;
- :mod:`~syncmcp._subscriptions`: resource subscribers and the 2026-07-28 listen stream.

Example:
    >>> import sys, syncmcp
    >>> with syncmcp.connect(sys.executable, ["tools/example_server.py"]) as session:
    ...     print([tool.name for tool in session.list_tools()])
    ...     print(session.call_tool("add", {"a": 2, "b": 3}).text)
    ['echo', 'add', 'blob']
    5
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import abc
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ._client_features import ClientFeatures, Roots
from ._endpoint import DEFAULT_MAX_WORKERS, Endpoint, InboundRequest, PendingRequest, ProgressCallback
from ._era import ERAS, LATEST_PROTOCOL_VERSION, LOG_LEVELS, MODERN_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS
from ._exceptions import ConnectionClosed, MCPError, SessionClosedError
from ._handshake import Startup, negotiate
from ._jsonrpc import RequestId
from ._pagination import LIST_CHANGED, LISTINGS, Listings
from ._requests import Requests
from ._subscriptions import Subscriptions
from ._tasks import ToolTask
from ._timeout import DEFAULT, Timeout, resolve_timeout
from ._toolcalls import ToolCalls
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
    ToolList,
)
from ._version import __version__

__all__ = [
    "DEFAULT",
    "DEFAULT_DISCOVERY_TIMEOUT",
    "DEFAULT_MAX_INPUT_ROUNDS",
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "LATEST_PROTOCOL_VERSION",
    "LOGGING_LEVELS",
    "MODERN_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "CapabilityError",
    "ClientSession",
    "RequestContext",
    "Timeout",
]

logger = logging.getLogger("syncmcp.session")

#: Default seconds for a request when neither the call nor the session says otherwise.
DEFAULT_TIMEOUT = 60.0
#: Default seconds for spawn + handshake in :func:`connect`.
DEFAULT_STARTUP_TIMEOUT = 10.0
#: How long ``server/discover`` may take before a server counts as legacy-only (Python servers
#: need about a second just to import; the probe also stays within the startup deadline).
DEFAULT_DISCOVERY_TIMEOUT = 3.0
#: Most ``InputRequiredResult`` rounds one request may go through.
DEFAULT_MAX_INPUT_ROUNDS = 8
#: MCP log levels (RFC 5424), ascending, and the ``logging`` level each maps to.
LOGGING_LEVELS: Dict[str, int] = dict(
    zip(LOG_LEVELS, (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING, logging.ERROR) + (logging.CRITICAL,) * 3)
)


class CapabilityError(MCPError):
    """The server did not declare the capability this call needs.

    Pass ``check_capabilities=False`` to the session for servers that under-declare.

    Example::

        try:
            session.read_resource("file:///x")
        except syncmcp.CapabilityError:          # the server declared no resources
            pass
    """


@dataclass(frozen=True)
class RequestContext:
    """What a handler of a server→client request gets besides the params.

    Attributes:
        session: the session the request arrived on (handlers may call back into it).
        server: the server's name.
        request_id: the server's id for the request (may be ``0``); in the 2026-07-28 era, the
            key of the input request inside the ``InputRequiredResult``.
        method: the request's method.
        cancelled: set when the server cancels the request or the session closes; the answer is
            then discarded, so a handler may stop early.

    Example::

        def elicitation_handler(ctx, params):
            print(f"{ctx.server} asks (request {ctx.request_id}): {params['message']}")
            return {"action": "decline"}
    """

    session: ClientSession
    server: str
    request_id: RequestId
    method: str
    cancelled: threading.Event


Handler = Callable[[RequestContext, Dict[str, Any]], Any]
LogCallback = Callable[[str, str, Any], None]


class _State(enum.Enum):
    NEW = "new"  # constructed; initialize() not called
    INITIALIZING = "initializing"  # handshake in flight
    OPEN = "open"  # ready for requests
    CLOSED = "closed"  # closed locally, or the connection was lost


class ClientSession:
    """A connection to one MCP server with a blocking, thread-safe API.

    Any number of threads may call one session at once; calls are multiplexed on the one
    connection and responses are matched by id. Every method takes ``timeout`` in seconds:
    :data:`DEFAULT` (the session's ``timeout``), a float, or ``None`` for no limit. A timeout or a
    ``KeyboardInterrupt`` while waiting cancels the request on the server.

    The same code works with servers of both protocol eras: ``initialize`` finds out whether the
    server speaks the stateless 2026-07-28 revision (``server/discover``) or the handshake-based
    ones, and the session adapts every request.

    Args:
        transport: how to reach the server: a :class:`~syncmcp.StdioTransport` (a child
            process) or an :class:`~syncmcp.HttpTransport` (a URL).
        name: the server's name for logs, threads and errors (default: the transport's).
        timeout: the default timeout of every request, in seconds.
        client_info: ``clientInfo`` sent to the server (default: syncmcp and its version).
        roots: the client's roots: paths or ``{"uri": "file:///...", "name": ...}`` dicts, or a
            callable returning them; enables the ``roots`` capability.
        sampling_handler: ``fn(ctx, params) -> CreateMessageResult`` for
            ``sampling/createMessage``; enables the ``sampling`` capability.
        sampling_tools: the sampling handler supports ``tools``/``toolChoice`` (2025-11-25).
        elicitation_handler: ``fn(ctx, params) -> ElicitResult`` for ``elicitation/create``;
            enables the ``elicitation`` capability. An accepted form answer is completed with
            the schema's defaults and validated before it is sent.
        elicitation_modes: the modes the handler supports (``"form"``, ``"url"``); default: the
            handler's ``modes`` attribute, else form only. Only these are advertised.
        on_elicitation_complete: ``fn(elicitation_id)`` when the server reports that a URL
            elicitation finished.
        on_log: ``fn(level, logger_name, data)`` for each ``notifications/message`` (they also
            go to the ``logging`` logger ``syncmcp.servers.<name>``).
        on_list_changed: ``fn(kind)`` with ``"tools"``, ``"prompts"`` or ``"resources"`` when the
            server says that list changed (the cached list is already invalidated).
        notification_handler: ``fn(method, params)`` for notifications syncmcp does not handle.
        on_connection_lost: ``fn(error)`` once if the connection ends without ``close()``.
        validate_input: check tool arguments against the tool's ``inputSchema`` before sending.
        validate_output: check ``structuredContent`` against the tool's ``outputSchema``.
        protocol_era: ``"auto"`` (detect), ``"legacy"`` or ``"modern"`` (force one era).
        discovery_timeout: seconds the ``auto`` probe waits for ``server/discover``.
        max_input_rounds: most ``InputRequiredResult`` rounds per request (2026-07-28).
        check_capabilities: refuse calls the server did not declare (listings return ``[]``).
        max_workers: most concurrent handlers of server requests.

    While a sampling or elicitation handler runs, the timeouts of this session's own requests
    are paused: the server is waiting on the client.

    Example::

        session = ClientSession(StdioTransport("python", ["server.py"]), timeout=30)
        with session:                      # initializes, and closes at the end
            print(session.call_tool("echo", {"message": "hi"}).text)
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
        sampling_tools: bool = False,
        elicitation_handler: Optional[Handler] = None,
        elicitation_modes: Optional[Sequence[str]] = None,
        on_elicitation_complete: Optional[Callable[[str], None]] = None,
        on_log: Optional[LogCallback] = None,
        on_list_changed: Optional[Callable[[str], None]] = None,
        notification_handler: Optional[Callable[[str, Dict[str, Any]], None]] = None,
        on_connection_lost: Optional[Callable[[ConnectionClosed], None]] = None,
        validate_input: bool = True,
        validate_output: bool = True,
        protocol_era: str = "auto",
        discovery_timeout: float = DEFAULT_DISCOVERY_TIMEOUT,
        max_input_rounds: int = DEFAULT_MAX_INPUT_ROUNDS,
        check_capabilities: bool = True,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        if protocol_era not in ERAS:
            raise ValueError(f"protocol_era must be one of {', '.join(ERAS)}, got {protocol_era!r}")
        self.name: str = name or getattr(transport, "name", None) or "server"
        self._timeout = timeout
        self.client_info: Dict[str, Any] = dict(client_info or {"name": "syncmcp", "version": __version__})
        self.validate_input = validate_input
        self.validate_output = validate_output
        self.protocol_era = protocol_era
        self.discovery_timeout = discovery_timeout
        self.max_input_rounds = max_input_rounds
        self.check_capabilities = check_capabilities
        self._features = ClientFeatures(
            roots=roots,
            sampling_handler=sampling_handler,
            sampling_tools=sampling_tools,
            elicitation_handler=elicitation_handler,
            elicitation_modes=elicitation_modes,
            on_elicitation_complete=on_elicitation_complete,
        )
        self._transport = transport
        self._on_log = on_log
        self._on_list_changed = on_list_changed
        self._notification_handler = notification_handler
        self._on_connection_lost = on_connection_lost
        self._state = _State.NEW
        self._state_lock = threading.Lock()
        self._init: Optional[InitializeResult] = None
        self._modern = False
        self._server_log = logging.getLogger(f"syncmcp.servers.{self.name}")
        self._endpoint = Endpoint(
            transport,
            name=self.name,
            request_handler=self._handle_request,
            notification_handler=self._handle_notification,
            on_lost=self._connection_lost,
            max_workers=max_workers,
            default_timeout=timeout,
        )
        self._requests = Requests(self, self._endpoint, self._features, self._context)
        self._listings = Listings(self)
        self._tools = ToolCalls(
            self, self._listings.cache("tools"), lambda limit, refresh: self._listing("tools", limit, refresh),
            lambda: self._has_capability("tools"), self._requests.request,
        )  # fmt: skip
        self._subscriptions = Subscriptions(self, self._endpoint.on_notification_thread)

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
        return self._features.capabilities()

    @property
    def era(self) -> Optional[str]:
        """``"legacy"`` or ``"modern"`` once initialized, else ``None``."""
        if self._init is None:
            return None
        return "modern" if self._modern else "legacy"

    def initialize(self, *, timeout: Timeout = DEFAULT) -> InitializeResult:
        """Start the transport, find the server's protocol era, and open the session.

        With ``protocol_era="auto"`` the session first sends ``server/discover``: an answer (or a
        modern-only error) means the 2026-07-28 era; any other error, or no answer within
        ``discovery_timeout``, means a legacy server, which then gets the ``initialize`` +
        ``notifications/initialized`` handshake. The timeout covers spawning the server too.

        Raises:
            RequestTimeout: no answer in time (the message quotes the server's stderr).
            ProtocolVersionError: the server speaks no revision this client does.
            ConnectionClosed: the server exited during start-up.
            ServerStartError: the server could not be spawned.
            SessionClosedError: the session was already initialized or closed.
        """
        with self._state_lock:
            if self._state is not _State.NEW:
                raise SessionClosedError(f"session '{self.name}' is {self._state.value}; initialize() runs once")
            self._state = _State.INITIALIZING
        limit = self._resolve_timeout(timeout)
        deadline = None if limit is None else time.monotonic() + limit
        startup = Startup(
            self._endpoint, self._transport, self.name, self.capabilities, self.client_info,
            self.protocol_era, self.discovery_timeout, limit, deadline,
        )  # fmt: skip
        try:
            self._endpoint.start()
            result, self._modern = negotiate(startup)
            self._init = result
        except BaseException:
            self.close()
            raise
        with self._state_lock:
            if self._state is _State.INITIALIZING:
                self._state = _State.OPEN
        if self._modern:
            self._subscriptions.restart()
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
        """The server's full handshake (or discovery) answer."""
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
        return resolve_timeout(timeout, self.timeout)

    @property
    def timeout(self) -> Optional[float]:
        """The default timeout of this session's requests, in seconds (``None``: no limit)."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: Optional[float]) -> None:
        resolve_timeout(value, None)  # validates
        self._timeout = value
        self._endpoint.default_timeout = value  # handles from submit() default to it too

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
        result is delivered. In the 2026-07-28 era the envelope is added, but an
        ``InputRequiredResult`` is returned as is (:meth:`request` runs those rounds).

        Example::

            handle = session.submit("tools/call", {"name": "slow"})
            ...                            # later, from any thread
            handle.cancel()                # True if it was still pending
        """
        self._require_open()
        return self._requests.submit(method, params, on_progress)

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

        In the 2026-07-28 era an ``InputRequiredResult`` is handled here: the input requests are
        answered by the session's roots, sampling and elicitation handlers, and the request is
        retried (new id, ``inputResponses``, ``requestState`` echoed) until it completes.

        Args:
            method: e.g. ``"tools/list"``.
            params: the params object.
            timeout: seconds (see the class docs); time spent in input handlers does not count.
            on_progress: ``fn(progress, total, message)`` for progress notifications.
            reset_timeout_on_progress: restart the timeout on each progress notification.
            max_total_timeout: the hard limit when the timeout restarts on progress.

        Raises:
            RequestTimeout: no answer in time (the request was cancelled on the server).
            RemoteError: the server answered with an error.
            ConnectionClosed: the connection ended (message quotes exit code and stderr).
            SessionClosedError: the session is not open.
            RemoteProtocolError: an unknown ``resultType``, or input still required after
                ``max_input_rounds`` rounds.
        """
        limit = self._resolve_timeout(timeout)
        reset = reset_timeout_on_progress and on_progress is not None
        return self._requests.request(method, params, limit, on_progress, reset, max_total_timeout)

    def _context(self, request_id: RequestId, method: str, cancelled: threading.Event) -> RequestContext:
        """The context a handler of one server request gets."""
        return RequestContext(self, self.name, request_id, method, cancelled)

    def notify(self, method: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Send a notification to the server.

        Raises:
            SessionClosedError: the session is not open.
            ConnectionClosed: the connection is gone.
        """
        self._require_open()
        self._endpoint.send_notification(method, dict(params) if params is not None else None)

    def _listing(self, kind: str, timeout: Timeout, refresh: bool) -> List[Any]:
        """The cache's own list of typed items for one listing (fetched when stale)."""
        self._require_open()
        if not self._has_capability(LISTINGS[kind].capability):
            return []
        return self._listings.get(kind, self._resolve_timeout(timeout), refresh)

    def list_page(
        self, kind: str, cursor: Optional[str] = None, *, timeout: Timeout = DEFAULT
    ) -> Tuple[List[Any], Optional[str]]:
        """One page of a listing, uncached: ``(typed items, next cursor or None)``.

        Args:
            kind: ``"tools"``, ``"resources"``, ``"resource_templates"`` or ``"prompts"``.
            cursor: the previous page's ``next cursor`` (``None`` for the first page).
            timeout: seconds (see the class docs).

        Example::

            items, cursor = session.list_page("resources")
            while cursor is not None:
                more, cursor = session.list_page("resources", cursor)
                items += more
        """
        if kind not in LISTINGS:
            raise ValueError(f"kind must be one of {', '.join(LISTINGS)}, got {kind!r}")
        self._require_open()
        if not self._has_capability(LISTINGS[kind].capability):
            return [], None
        return self._listings.page(kind, cursor, timeout)

    def ping(self, *, timeout: Timeout = DEFAULT) -> None:
        """Check the server answers.

        Sends ``ping`` (legacy) or ``server/discover`` (the 2026-07-28 era has no ``ping``).
        """
        if self._modern:
            self.request("server/discover", {}, timeout=timeout)
        else:
            self.request("ping", timeout=timeout)

    def list_tools(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> ToolList:
        """Every tool of the server, all pages followed, cached.

        The cache lasts until the server says the list changed (or, in the 2026-07-28 era, until
        its ``ttlMs`` hint expires).

        Args:
            timeout: bounds the whole listing, every page included.
            refresh: ignore the cache and list again.

        Raises:
            RemoteProtocolError: the server repeated a cursor or sent a malformed page.
        """
        return ToolList(self._listing("tools", timeout, refresh))

    def call_tool(
        self,
        name: str,
        arguments: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Timeout = DEFAULT,
        on_progress: Optional[ProgressCallback] = None,
        reset_timeout_on_progress: bool = False,
        max_total_timeout: Optional[float] = None,
        validate: Optional[bool] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> CallToolResult:
        """Call a tool and wait for its result. A result with ``is_error`` is returned, not raised.

        When the tool's schema is known (from the cached listing, fetched on first use), the
        arguments are checked before anything is sent and the structured result after it
        arrives. A tool whose ``execution.taskSupport`` is ``required`` runs as a task
        transparently (see :meth:`call_tool_as_task`).

        Args:
            name: the tool's name on this server.
            arguments: a JSON object of arguments.
            timeout: seconds to wait (cancelled on the server on expiry).
            on_progress: ``fn(progress, total, message)``; every progress notification of this
                call reaches it, in order, before ``call_tool`` returns.
            reset_timeout_on_progress: restart the timeout on each progress notification.
            max_total_timeout: the hard limit when the timeout restarts on progress.
            validate: override the session's ``validate_input``/``validate_output`` for this call.
            meta: extra ``_meta`` for the request.

        Raises:
            SchemaValidationError: the arguments do not match the input schema (nothing was
                sent), or the structured result does not match the output schema (the full
                result is in ``exc.result``).
            RequestTimeout, RemoteError, ConnectionClosed: see :meth:`request`.

        Example::

            result = session.call_tool("add", {"a": 1, "b": 2}, timeout=5)
            print(result.text, result.is_error)        # 3 False
        """
        if arguments is not None and type(arguments) is not dict and not isinstance(arguments, abc.Mapping):
            raise TypeError(f"MCP tool arguments must be a JSON object, got {type(arguments).__name__}")
        self._require_open()
        self._require_capability("tools", "tools/call")
        return self._tools.call(
            name,
            arguments,
            self._resolve_timeout(timeout),
            on_progress=on_progress,
            reset_timeout_on_progress=reset_timeout_on_progress,
            max_total_timeout=max_total_timeout,
            validate=validate,
            meta=meta,
        )

    def call_tool_as_task(
        self,
        name: str,
        arguments: Optional[Mapping[str, Any]] = None,
        *,
        ttl: Optional[float] = None,
        timeout: Timeout = DEFAULT,
        validate: Optional[bool] = None,
    ) -> ToolTask:
        """Start a tool call as a task (MCP 2025-11-25, experimental) and return its handle.

        The server answers at once; follow the task with ``task.status``, ``task.wait()``,
        ``task.result(timeout)`` or ``task.cancel()``.

        Args:
            name: the tool's name.
            arguments: a JSON object of arguments.
            ttl: how long, in seconds, the server should keep the task's result.
            timeout: for the call that creates the task.
            validate: override the session's validation settings for this call.

        Raises:
            CapabilityError: the server does not run tool calls as tasks.

        Example::

            task = session.call_tool_as_task("simulate-research-query", {"topic": "AI"})
            print(task.status)                         # working
            print(task.result(timeout=60).text)
        """
        self._require_open()
        if self.check_capabilities and not self._tools.supports_tasks():
            raise CapabilityError(f"MCP server '{self.name}' does not run tool calls as tasks (tasks.requests.tools.call)")
        return self._tools.start(name, arguments, ttl, self._resolve_timeout(timeout), validate)

    def list_resources(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[Resource]:
        """Every resource of the server (all pages, cached); ``[]`` if it has no resources."""
        return list(self._listing("resources", timeout, refresh))

    def list_resource_templates(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[ResourceTemplate]:
        """Every resource template of the server (all pages, cached)."""
        return list(self._listing("resource_templates", timeout, refresh))

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

        Legacy era: ``resources/subscribe``. 2026-07-28: the URI joins the session's
        ``subscriptions/listen`` stream, and the call returns once the server acknowledged it. If
        the server later ends that stream, a warning is logged and updates stop until the next
        subscription change opens a new one.

        Raises:
            CapabilityError: the server does not offer subscriptions.
            RemoteError: the server refused the subscription (nothing is subscribed then).
            RequestTimeout: no answer in time (nothing is subscribed then).
        """
        self._require_open()
        resources = self.server_capabilities.get("resources")
        if self.check_capabilities and not (isinstance(resources, Mapping) and resources.get("subscribe")):
            raise CapabilityError(f"MCP server '{self.name}' does not support resource subscriptions")
        self._subscriptions.subscribe(uri, on_updated, timeout)

    def unsubscribe_resource(self, uri: str, *, timeout: Timeout = DEFAULT) -> None:
        """Stop receiving updates for a resource (its callbacks are dropped)."""
        self._require_open()
        self._subscriptions.unsubscribe(uri, timeout)

    def list_prompts(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[Prompt]:
        """Every prompt of the server (all pages, cached); ``[]`` if it has no prompts."""
        return list(self._listing("prompts", timeout, refresh))

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

        Example::

            session.complete({"type": "ref/prompt", "name": "team"}, "department", "E").values
            # ['Engineering']
        """
        self._require_open()
        if self.protocol_version >= "2025-03-26":  # 2024-11-05 servers had no capability flag
            self._require_capability("completions", "completion/complete")
        params: Dict[str, Any] = {"ref": dict(ref), "argument": {"name": argument, "value": value}}
        if context:
            params["context"] = {"arguments": dict(context)}
        return Completion.from_dict(self.request("completion/complete", params, timeout=timeout))

    def set_logging_level(self, level: str, *, timeout: Timeout = DEFAULT) -> None:
        """Ask the server to send log messages at ``level`` and above (``debug`` … ``emergency``).

        Legacy era: ``logging/setLevel``. 2026-07-28: the level rides on every later request.
        """
        if level not in LOGGING_LEVELS:
            raise ValueError(f"level must be one of {', '.join(LOGGING_LEVELS)}, got {level!r}")
        self._require_open()
        self._require_capability("logging", "logging/setLevel")
        if self._modern:
            self._requests.log_level = level
        else:
            self.request("logging/setLevel", {"level": level}, timeout=timeout)

    def send_roots_list_changed(self) -> None:
        """Tell the server the roots changed.

        Sends ``notifications/roots/list_changed`` (legacy); the 2026-07-28 era has none, as
        servers ask for roots within each request.
        """
        if not self._features.has_roots:
            raise CapabilityError("this session was created without roots")
        if not self._modern:
            self.notify("notifications/roots/list_changed")

    def set_roots(self, roots: Roots) -> None:
        """Replace the roots (a list or a callable) and notify the server.

        Raises:
            CapabilityError: the session was created without roots.
            ValueError: a root is not a local path or ``file://`` URI.
        """
        if not self._features.has_roots:
            raise CapabilityError("this session was created without roots; pass roots=[] to enable them")
        self._features.set_roots(roots)
        self.send_roots_list_changed()

    # ------------------------------------------------------------------------------ inbound

    def _handle_request(self, request: InboundRequest) -> Any:
        """Answer a legacy server→client request (runs on the handler pool)."""
        return self._requests.answer(self._context(request.id, request.method, request.cancelled), request.method, request.params)

    def _handle_notification(self, method: str, params: Dict[str, Any]) -> None:
        """Route a notification (runs on the notification worker, in arrival order)."""
        if method == "notifications/progress":
            self._requests.progress(params)
        elif method == "notifications/message":
            level = str(params.get("level", "info"))
            source = params.get("logger")
            data = params.get("data")
            self._server_log.log(LOGGING_LEVELS.get(level, logging.INFO), "%s%s", f"[{source}] " if source else "", data)
            if self._on_log is not None:
                self._on_log(level, str(source) if source is not None else "", data)
        elif method in LIST_CHANGED:
            if self._subscriptions.superseded(params):
                return
            kind = self._listings.changed(method)
            if self._on_list_changed is not None:
                self._on_list_changed(kind)
        elif method == "notifications/resources/updated":
            self._subscriptions.updated(params)
        elif method == "notifications/elicitation/complete":
            self._features.elicitation_completed(params.get("elicitationId"))
        elif method == "notifications/tasks/status":
            self._tools.task_status(params)
            if self._notification_handler is not None:
                self._notification_handler(method, params)
        elif method == "notifications/cancelled":
            self._subscriptions.closed_by_server(params.get("requestId"))
        elif method == "notifications/subscriptions/acknowledged":
            self._subscriptions.acknowledged(params)
        elif self._notification_handler is not None:
            self._notification_handler(method, params)
        else:
            logger.debug("'%s': unhandled notification %s", self.name, method)

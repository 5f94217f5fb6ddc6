"""``ClientSession``: one MCP server, a blocking and thread-safe API, in both protocol eras.

The session gives MCP meaning to an :class:`~syncmcp._endpoint.Endpoint`: era detection and the
handshake, typed methods with timeouts, pagination, list caches invalidated by ``list_changed``,
progress routing, logging, schema validation of tool calls, the server's requests to the client
(roots, sampling, elicitation) answered by plain callables, the 2026-07-28 multi-round-trip
``InputRequiredResult`` flow, subscriptions, and task-augmented tool calls.

:class:`ClientSession` owns the session's lifecycle (state, the handshake's answer, its era) and
the checks every call passes (open, capability declared, timeout); each of its parts owns its
own state and locks, and knows its session only through a small protocol of public members (or
the parts it is given):

- :mod:`~syncmcp._handshake`: era detection and the handshake (functions, no state);
- :mod:`~syncmcp._requests`: the era's envelope, progress tokens, ``InputRequiredResult`` rounds,
  and the answers to the server's requests;
- :mod:`~syncmcp._pagination`: the four listings, their pagination and caches;
- :mod:`~syncmcp._toolcalls`: tool definitions, schema validation, calls run as tasks;
- :mod:`~syncmcp._subscriptions`: resource subscribers and the 2026-07-28 listen stream.
- :mod:`~syncmcp._notifications`: routing each notification to the part it concerns, and
  server log messages to ``logging``.

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
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ._client_features import ClientFeatures, Roots
from ._endpoint import DEFAULT_MAX_WORKERS, Endpoint, InboundRequest, PendingRequest, ProgressCallback
from ._era import ERAS, LATEST_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS
from ._exceptions import ConnectionClosed, SessionClosedError
from ._handshake import Startup, negotiate
from ._jsonrpc import RequestId
from ._notifications import LOGGING_LEVELS, LogCallback, Notifications
from ._pagination import LISTINGS, Listings
from ._requests import Requests
from ._sessioncatalog import CapabilityError, SessionCatalog
from ._subscriptions import Subscriptions
from ._tasks import ToolTask
from ._timeout import DEFAULT, Timeout, resolve_timeout
from ._toolcalls import ToolCalls
from ._transport import Transport
from ._types import (
    CallToolResult,
    Implementation,
    InitializeResult,
    ToolList,
    require_arguments_object,
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

#: Default seconds for a request when neither the call nor the session says otherwise.
DEFAULT_TIMEOUT = 60.0
#: Default seconds for spawn + handshake in :func:`connect`.
DEFAULT_STARTUP_TIMEOUT = 10.0
#: How long ``server/discover`` may take before a server counts as legacy-only (Python servers
#: need about a second just to import; the probe also stays within the startup deadline).
DEFAULT_DISCOVERY_TIMEOUT = 3.0
#: Most ``InputRequiredResult`` rounds one request may go through.
DEFAULT_MAX_INPUT_ROUNDS = 8


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


class _State(enum.Enum):
    NEW = "new"  # constructed; initialize() not called
    INITIALIZING = "initializing"  # handshake in flight
    OPEN = "open"  # ready for requests
    CLOSED = "closed"  # closed locally, or the connection was lost


# The members as module constants: an enum member lookup costs ~0.1 µs on the call path.
_NEW = _State.NEW
_INITIALIZING = _State.INITIALIZING
_OPEN = _State.OPEN
_CLOSED = _State.CLOSED


class ClientSession(SessionCatalog):
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
        self._on_connection_lost = on_connection_lost
        self._state = _NEW
        self._state_lock = threading.Lock()
        self._init: Optional[InitializeResult] = None
        self._modern = False
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
        self._notifications = Notifications(
            self.name, self._requests, self._listings, self._subscriptions, self._features, self._tools,
            on_log, on_list_changed, notification_handler,
        )  # fmt: skip

    # ------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> ClientSession:
        if self._state is _NEW:
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
            if self._state is not _NEW:
                raise SessionClosedError(f"session '{self.name}' is {self._state.value}; initialize() runs once")
            self._state = _INITIALIZING
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
            if self._state is _INITIALIZING:
                self._state = _OPEN
        if self._modern:
            self._subscriptions.restart()
        return result

    def close(self) -> None:
        """Close the session and stop the server (bounded, idempotent, any thread).

        In a process that inherited the session through ``fork()`` it only marks the session
        closed there: the server and the connection stay with the parent, which keeps them.
        """
        if self._endpoint.inherited:
            self._state = _CLOSED  # no lock: one held at the fork would never be released
        else:
            with self._state_lock:
                self._state = _CLOSED
        self._endpoint.close()

    @property
    def closed(self) -> bool:
        """Whether the session is closed or its connection was lost."""
        return self._state is _CLOSED or (self._state is _OPEN and not self._endpoint.is_open)

    def _connection_lost(self, error: ConnectionClosed) -> None:
        with self._state_lock:
            self._state = _CLOSED
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
        self._endpoint.check_process()
        state = self._state
        if state is _OPEN:
            return
        if state is _CLOSED:
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
        self._require_open()
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
        if type(arguments) is not dict:
            require_arguments_object(arguments)
        self._require_open()  # before any lock is taken: a forked child must not wait on a parent's
        init = self._init  # set before the session opened
        if self.check_capabilities and (init is None or "tools" not in init.capabilities):
            self._require_capability("tools", "tools/call")
        limit = resolve_timeout(timeout, self._timeout)
        return self._tools.call(name, arguments, limit, on_progress, reset_timeout_on_progress, max_total_timeout, validate, meta)

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
        self._notifications.route(method, params)

"""``ClientSession``: one MCP server, a blocking and thread-safe API, in both protocol eras.

The session gives MCP meaning to an :class:`~syncmcp._endpoint.Endpoint`: era detection and the
handshake, typed methods with timeouts, pagination, list caches invalidated by ``list_changed``,
progress routing, logging, schema validation of tool calls, the server's requests to the client
(roots, sampling, elicitation) answered by plain callables, the 2026-07-28 multi-round-trip
``InputRequiredResult`` flow, subscriptions, and task-augmented tool calls.

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
import itertools
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ._client_features import ClientFeatures, Roots
from ._endpoint import DEFAULT_MAX_WORKERS, Endpoint, InboundRequest, PendingRequest, ProgressCallback
from ._era import (
    ERAS,
    LATEST_PROTOCOL_VERSION,
    LOG_LEVELS,
    META_SUBSCRIPTION_ID,
    MODERN_ERROR_CODES,
    MODERN_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    discover_result,
    envelope,
    result_kind,
    ttl_seconds,
)
from ._exceptions import (
    AuthenticationRequired,
    ConnectionClosed,
    HTTPError,
    MCPError,
    ProtocolVersionError,
    RemoteError,
    RemoteProtocolError,
    RequestCancelled,
    RequestTimeout,
    SchemaValidationError,
    SessionClosedError,
)
from ._jsonrpc import ErrorCode, RequestId
from ._listcache import ListCache
from ._tasks import ToolTask
from ._timeout import DEFAULT, Timeout, resolve_timeout
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
    ToolList,
)
from ._validation import SchemaValidators, describe_errors, first_error_path
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
#: Most pages one listing follows before it is considered a runaway server.
MAX_PAGES = 1000
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
        self._tool_tasks: Optional[bool] = None
        self._log_level: Optional[str] = None
        self._progress: Dict[Union[int, str], Tuple[ProgressCallback, List[Optional[PendingRequest]]]] = {}
        self._progress_tokens = itertools.count(1)
        self._subscribers: Dict[str, List[Callable[[str], None]]] = {}
        self._subscribers_lock = threading.Lock()
        self._listen: Optional[PendingRequest] = None
        self._listen_lock = threading.Lock()
        self._listen_generation = 0
        self._retired_streams: Set[int] = set()
        self._listen_acked = threading.Condition()
        self._listen_ack_ids: Set[Any] = set()
        self._caches = {kind: ListCache() for kind in _LISTINGS}
        self._tool_index: Tuple[Optional[List[Tool]], Dict[str, Tool]] = (None, {})
        self._validators = SchemaValidators()
        self._tasks: weakref.WeakValueDictionary[str, ToolTask] = weakref.WeakValueDictionary()
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
        try:
            self._endpoint.start()
            result: Optional[InitializeResult] = None
            if self.protocol_era != "legacy":
                result = self._discover(deadline, limit, probe=self.protocol_era == "auto")
            if result is None:
                result = self._handshake(deadline, limit)
            self._init = result
        except BaseException:
            self.close()
            raise
        with self._state_lock:
            if self._state is _State.INITIALIZING:
                self._state = _State.OPEN
        if self._modern:
            self._restart_listen()
        return result

    def _remaining(self, deadline: Optional[float]) -> Optional[float]:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    def _startup_timeout(self, exc: RequestTimeout, limit: Optional[float]) -> RequestTimeout:
        tail = self._transport.exit_details(0.0)[1]
        message = f"timed out handshaking with MCP server '{self.name}' after {limit:g} s"
        if tail:
            message += "\n--- server stderr (last lines) ---\n" + tail.rstrip("\n")
        return RequestTimeout(message, timeout=limit, method=exc.method, server=self.name)

    def _discover(self, deadline: Optional[float], limit: Optional[float], *, probe: bool) -> Optional[InitializeResult]:
        """``server/discover``; ``None`` means "a legacy server" (probing only)."""
        params = {"_meta": envelope(self.capabilities, self.client_info)}
        # Never cancelled: a legacy server must not see anything but its handshake afterwards.
        pending = self._endpoint.send_request("server/discover", params, cancellable=False)
        wait = self._remaining(deadline)
        if probe:
            wait = self.discovery_timeout if wait is None else min(wait, self.discovery_timeout)
        try:
            raw = pending.result(wait)
        except RequestTimeout as exc:
            if probe and (deadline is None or time.monotonic() < deadline):
                logger.debug("'%s' did not answer server/discover in %s s: legacy era", self.name, wait)
                return None
            raise self._startup_timeout(exc, limit) from exc
        except AuthenticationRequired:
            raise
        except HTTPError as exc:
            if probe:  # an HTTP server refusing the request (e.g. 400, 404, 405): not the modern era
                logger.debug("'%s' refused server/discover (%s): legacy era", self.name, exc.status)
                return None
            raise
        except RemoteError as exc:
            if exc.code == ErrorCode.MISSING_REQUIRED_CLIENT_CAPABILITY:
                needed = exc.data.get("requiredCapabilities") if isinstance(exc.data, Mapping) else None
                raise ProtocolVersionError(
                    f"MCP server '{self.name}' (2026-07-28) requires client capabilities this session does not declare "
                    f"({needed!r}): {exc.message}"
                ) from exc
            if exc.code in MODERN_ERROR_CODES:
                supported = exc.data.get("supported") if isinstance(exc.data, Mapping) else None
                raise ProtocolVersionError(
                    f"MCP server '{self.name}' speaks the stateless era but not {MODERN_PROTOCOL_VERSION} "
                    f"(it supports {supported!r}): {exc.message}"
                ) from exc
            if probe:
                logger.debug("'%s' answered server/discover with %s: legacy era", self.name, exc.code)
                return None
            raise
        if not isinstance(raw, Mapping):
            raise RemoteProtocolError(f"server/discover result from '{self.name}' is not an object")
        versions = raw.get("supportedVersions")
        if not isinstance(versions, list) and probe:
            logger.debug("'%s' answered server/discover without supportedVersions: legacy era", self.name)
            return None
        if not isinstance(versions, list) or MODERN_PROTOCOL_VERSION not in versions:
            raise ProtocolVersionError(
                f"MCP server '{self.name}' supports {versions!r}; this client speaks {MODERN_PROTOCOL_VERSION} "
                f"and {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}"
            )
        self._modern = True
        return discover_result(raw)

    def _handshake(self, deadline: Optional[float], limit: Optional[float]) -> InitializeResult:
        """The legacy ``initialize`` handshake (switching to the modern era if the server says so)."""
        params = {"protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": self.capabilities, "clientInfo": self.client_info}
        pending = self._endpoint.send_request("initialize", params, cancellable=False)
        try:
            raw = pending.result(self._remaining(deadline))
        except RequestTimeout as exc:
            raise self._startup_timeout(exc, limit) from exc
        except RemoteError as exc:
            if exc.code == ErrorCode.UNSUPPORTED_PROTOCOL_VERSION and self.protocol_era == "auto":
                # The server locked the connection to the stateless era (a late discover answer).
                logger.debug("'%s' refused initialize with -32022: switching to the modern era", self.name)
                result = self._discover(deadline, limit, probe=False)
                assert result is not None
                return result
            raise
        result = InitializeResult.from_dict(raw)
        if result.protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
            raise ProtocolVersionError(
                f"MCP server '{self.name}' answered protocol version {result.protocol_version!r}; "
                f"this client offered {LATEST_PROTOCOL_VERSION!r} and supports {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}"
            )
        self._endpoint.send_notification("notifications/initialized")
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
        if self._endpoint.on_reader_thread():
            raise RuntimeError("session methods cannot be called on the session's reader thread")
        body: Optional[Dict[str, Any]] = dict(params) if params is not None else None
        if not self._modern and on_progress is None:
            return self._endpoint.send_request(method, body)
        body = body or {}
        meta = dict(body.get("_meta") or {})
        if self._modern:
            meta.update(envelope(self.capabilities, self.client_info, self._log_level))
        token: Optional[int] = None
        holder: List[Optional[PendingRequest]] = [None]
        if on_progress is not None:
            token = next(self._progress_tokens)
            meta["progressToken"] = token
            self._progress[token] = (on_progress, holder)
        body["_meta"] = meta
        try:
            pending = self._endpoint.send_request(method, body, ordered=on_progress is not None)
        except BaseException:
            if token is not None:
                self._progress.pop(token, None)
            raise
        if token is not None:
            holder[0] = pending
            pending._on_done(lambda _p: self._progress.pop(token, None))
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
        if not self._modern:
            return self.submit(method, params, on_progress=on_progress).result(
                limit, reset_on_activity=reset, max_total=max_total_timeout
            )
        endpoint = self._endpoint
        start, paused_at_start = time.monotonic(), endpoint.paused_seconds()
        body = dict(params or {})
        for _ in range(self.max_input_rounds + 1):
            remaining = limit
            if limit is not None:  # active time only: input handlers run with timeouts paused
                active = (time.monotonic() - start) - (endpoint.paused_seconds() - paused_at_start)
                remaining = max(0.0, limit - active)
            result = self.submit(method, body, on_progress=on_progress).result(
                remaining, reset_on_activity=reset, max_total=max_total_timeout
            )
            kind = result_kind(result)
            if kind == "complete":
                return result
            if kind != "input_required":
                raise RemoteProtocolError(f"{method} from '{self.name}' returned an unknown resultType {kind!r}")
            body = dict(params or {})
            requests = result.get("inputRequests")
            if requests:
                body["inputResponses"] = self._answer_input_requests(requests, method)
            if "requestState" in result:
                body["requestState"] = result["requestState"]  # opaque: echoed verbatim
        raise RemoteProtocolError(f"{method} to '{self.name}' still required input after {self.max_input_rounds} rounds")

    def _answer_input_requests(self, requests: Any, method: str) -> Dict[str, Any]:
        """Fulfil the input requests of an ``InputRequiredResult`` with the client's handlers."""
        if not isinstance(requests, Mapping):
            raise RemoteProtocolError(f"{method} from '{self.name}' sent inputRequests that is not an object")
        responses: Dict[str, Any] = {}
        for key, request in requests.items():
            if not isinstance(request, Mapping) or not isinstance(request.get("method"), str):
                raise RemoteProtocolError(f"input request {key!r} from '{self.name}' has no method")
            params = request.get("params")
            context = RequestContext(self, self.name, key, request["method"], threading.Event())
            try:
                arguments = dict(params) if isinstance(params, Mapping) else {}
                responses[key] = self._answer(context, request["method"], arguments, legacy=False)
            except MCPError as exc:
                if getattr(exc, "code", None) == ErrorCode.METHOD_NOT_FOUND:
                    raise RemoteProtocolError(
                        f"MCP server '{self.name}' asked for {request['method']}, which this client did not declare"
                    ) from exc
                raise
        return responses

    def _answer(self, context: RequestContext, method: str, params: Dict[str, Any], *, legacy: bool = True) -> Dict[str, Any]:
        """Answer one server request; the server waits on us meanwhile, so timeouts pause."""
        if method == "roots/list":
            return self._features.list_roots()
        self._endpoint.pause_timeouts()
        try:
            return self._features.answer(context, method, params, legacy=legacy)
        finally:
            self._endpoint.resume_timeouts()

    def notify(self, method: str, params: Optional[Mapping[str, Any]] = None) -> None:
        """Send a notification to the server.

        Raises:
            SessionClosedError: the session is not open.
            ConnectionClosed: the connection is gone.
        """
        self._require_open()
        self._endpoint.send_notification(method, dict(params) if params is not None else None)

    def _paginate(self, method: str, key: str, timeout: Optional[float]) -> Tuple[List[Any], Optional[float]]:
        """Every item of a listing and the shortest ``ttlMs`` lifetime of its pages."""
        deadline = None if timeout is None else time.monotonic() + timeout
        items: List[Any] = []
        seen: Set[str] = set()
        lifetime: Optional[float] = None
        cursor: Optional[str] = None
        for _ in range(MAX_PAGES):
            result = self.request(method, {"cursor": cursor} if cursor is not None else None, timeout=self._remaining(deadline))
            page = result.get(key) if isinstance(result, dict) else None
            if not isinstance(page, list):
                raise RemoteProtocolError(f"{method} result from '{self.name}' has no '{key}' list")
            items.extend(page)
            ttl = ttl_seconds(result, absent=0.0 if self._modern else None)
            if ttl is not None:
                lifetime = ttl if lifetime is None else min(lifetime, ttl)
            next_cursor = result.get("nextCursor")
            if next_cursor is None or next_cursor == "":
                return items, lifetime
            if not isinstance(next_cursor, str):
                raise RemoteProtocolError(f"{method} from '{self.name}' returned a non-string cursor {next_cursor!r}")
            if next_cursor in seen or next_cursor == cursor:
                raise RemoteProtocolError(f"{method} returned duplicate cursor")
            seen.add(next_cursor)
            cursor = next_cursor
        raise RemoteProtocolError(f"{method} from '{self.name}' returned more than {MAX_PAGES} pages")

    def _listing(self, kind: str, timeout: Timeout, refresh: bool) -> List[Any]:
        """The cache's own list of typed items for one listing (fetched when stale)."""
        method, key, capability, convert = _LISTINGS[kind]
        self._require_open()
        if not self._has_capability(capability):
            return []
        limit = self._resolve_timeout(timeout)

        def fetch() -> Tuple[List[Any], Optional[float]]:
            raw, lifetime = self._paginate(method, key, limit)
            return [convert(item) for item in raw], lifetime

        return self._caches[kind].get(fetch, limit, refresh)

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
        if kind not in _LISTINGS:
            raise ValueError(f"kind must be one of {', '.join(_LISTINGS)}, got {kind!r}")
        method, key, capability, convert = _LISTINGS[kind]
        self._require_open()
        if not self._has_capability(capability):
            return [], None
        result = self.request(method, {"cursor": cursor} if cursor is not None else None, timeout=timeout)
        page = result.get(key) if isinstance(result, dict) else None
        if not isinstance(page, list):
            raise RemoteProtocolError(f"{method} result from '{self.name}' has no '{key}' list")
        next_cursor = result.get("nextCursor")
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise RemoteProtocolError(f"{method} from '{self.name}' returned a non-string cursor {next_cursor!r}")
        return [convert(item) for item in page], next_cursor or None

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

    def _tool_definition(self, name: str, timeout: Optional[float], refresh: bool = False) -> Optional[Tool]:
        """The tool's definition from the cached listing, listing (again) once if unknown.

        A stale listing is used as it is (a call must not cost a listing); callers re-check with
        ``refresh=True`` when a stale schema refuses something.
        """
        if not self._has_capability("tools"):
            return None
        cache = self._caches["tools"]
        tools = None if refresh else cache.peek()
        for attempt in range(2):
            if tools is None or attempt == 1:
                try:
                    tools = self._listing("tools", timeout, refresh=tools is not None)
                except (RemoteError, RemoteProtocolError) as exc:
                    logger.debug("'%s': cannot list tools to find %r: %s", self.name, name, exc)
                    return None
            listed, index = self._tool_index
            if listed is not tools:
                index = {tool.name: tool for tool in tools}
                self._tool_index = (tools, index)
            if name in index:
                return index[name]
        return None

    def _check_arguments(self, tool: Optional[Tool], arguments: Optional[Dict[str, Any]]) -> None:
        if tool is None or not tool.input_schema:
            return
        validator = self._validators.get(tool.input_schema)
        instance = arguments if arguments is not None else {}
        problem = describe_errors(validator, instance)
        if problem is None:
            return
        raise SchemaValidationError(
            f"arguments for tool '{tool.name}' on '{self.name}' do not match its input schema: {problem}",
            path=first_error_path(validator, instance),
        )

    def _tool_result(self, tool: Optional[Tool], raw: Any, validate: bool) -> CallToolResult:
        result = CallToolResult.from_dict(raw)
        if not validate or tool is None or tool.output_schema is None or result.is_error:
            return result
        if not result.has_structured_content:
            raise SchemaValidationError(
                f"tool '{tool.name}' on '{self.name}' declares an output schema but returned no structuredContent", result=result
            )
        validator = self._validators.get(tool.output_schema)
        problem = describe_errors(validator, result.structured_content)
        if problem is None:
            return result
        raise SchemaValidationError(
            f"structured result of tool '{tool.name}' on '{self.name}' does not match its output schema: {problem}",
            result=result,
            path=first_error_path(validator, result.structured_content),
        )

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
        if arguments is not None and not isinstance(arguments, Mapping):
            raise TypeError(f"MCP tool arguments must be a JSON object, got {type(arguments).__name__}")
        self._require_open()
        self._require_capability("tools", "tools/call")
        limit = self._resolve_timeout(timeout)
        deadline = None if limit is None else time.monotonic() + limit
        check_in = self.validate_input if validate is None else validate
        check_out = self.validate_output if validate is None else validate
        tool = self._tool_definition(name, limit) if (check_in or check_out or self._supports_tool_tasks()) else None
        args = dict(arguments) if arguments is not None else None
        if check_in:
            tool = self._checked_with_fresh_schema(name, tool, lambda t: self._check_arguments(t, args), deadline)
        if tool is not None and tool.task_support == "required" and self._supports_tool_tasks():
            task = self._start_task(name, tool, args, None, self._remaining(deadline), check_out)
            return task.result(self._remaining(deadline))
        params: Dict[str, Any] = {"name": name}
        if args is not None:
            params["arguments"] = args
        if meta:
            params["_meta"] = dict(meta)
        raw = self.request(
            "tools/call",
            params,
            timeout=self._remaining(deadline),
            on_progress=on_progress,
            reset_timeout_on_progress=reset_timeout_on_progress,
            max_total_timeout=max_total_timeout,
        )
        if not check_out:
            return CallToolResult.from_dict(raw)
        checked: List[CallToolResult] = []
        self._checked_with_fresh_schema(name, tool, lambda t: checked.append(self._tool_result(t, raw, True)), deadline)
        return checked[-1]

    def _checked_with_fresh_schema(
        self, name: str, tool: Optional[Tool], check: Callable[[Optional[Tool]], None], deadline: Optional[float]
    ) -> Optional[Tool]:
        """Run ``check`` with ``tool``, re-checking once with a fresh listing if a stale one refuses.

        Stale: the server said the tools changed (or the listing's ``ttlMs`` expired).
        """
        try:
            check(tool)
            return tool
        except SchemaValidationError as refused:
            if self._caches["tools"].fresh():
                raise
            try:
                tool = self._tool_definition(name, self._remaining(deadline), refresh=True)
            except MCPError as exc:
                # Listing again failed: the stale refusal stands, with the result it carries.
                raise refused from exc
        check(tool)
        return tool

    def _supports_tool_tasks(self) -> bool:
        supported = self._tool_tasks
        if supported is None:  # the capabilities never change after initialize: decide once
            tasks = self.server_capabilities.get("tasks")
            requests = tasks.get("requests") if isinstance(tasks, Mapping) else None
            tools = requests.get("tools") if isinstance(requests, Mapping) else None
            supported = self._tool_tasks = isinstance(tools, Mapping) and "call" in tools
        return supported

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
        if self.check_capabilities and not self._supports_tool_tasks():
            raise CapabilityError(f"MCP server '{self.name}' does not run tool calls as tasks (tasks.requests.tools.call)")
        limit = self._resolve_timeout(timeout)
        check_in = self.validate_input if validate is None else validate
        check_out = self.validate_output if validate is None else validate
        tool = self._tool_definition(name, limit)
        args = dict(arguments) if arguments is not None else None
        if check_in:
            self._check_arguments(tool, args)
        return self._start_task(name, tool, args, ttl, limit, check_out)

    def _start_task(
        self,
        name: str,
        tool: Optional[Tool],
        args: Optional[Dict[str, Any]],
        ttl: Optional[float],
        timeout: Optional[float],
        validate: bool,
    ) -> ToolTask:
        params: Dict[str, Any] = {"name": name, "task": {} if ttl is None else {"ttl": int(ttl * 1000)}}
        if args is not None:
            params["arguments"] = args
        raw = self.request("tools/call", params, timeout=timeout)
        task = raw.get("task") if isinstance(raw, Mapping) else None
        if not isinstance(task, Mapping) or not isinstance(task.get("taskId"), str):
            raise RemoteProtocolError(f"tools/call as a task on '{self.name}' did not return a task")

        def task_request(method: str, params: Dict[str, Any], timeout: Timeout) -> Any:
            return self.request(method, params, timeout=timeout)

        handle = ToolTask(
            task_request,
            name,
            task,
            lambda result: self._tool_result(tool, result, validate),
            default_timeout=lambda: self.timeout,
        )
        self._tasks[handle.task_id] = handle
        return handle

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
        with self._subscribers_lock:
            known = uri in self._subscribers
            self._subscribers.setdefault(uri, [])
            if on_updated is not None:
                self._subscribers[uri].append(on_updated)
        try:
            if self._modern:
                self._restart_listen(wait=self._resolve_timeout(timeout))
            else:
                self.request("resources/subscribe", {"uri": uri}, timeout=timeout)
        except BaseException:
            with self._subscribers_lock:  # undo this call only: earlier subscribers of the URI stay
                if not known:
                    self._subscribers.pop(uri, None)
                elif on_updated is not None and on_updated in self._subscribers.get(uri, ()):
                    self._subscribers[uri].remove(on_updated)
            raise

    def unsubscribe_resource(self, uri: str, *, timeout: Timeout = DEFAULT) -> None:
        """Stop receiving updates for a resource (its callbacks are dropped)."""
        self._require_open()
        with self._subscribers_lock:
            self._subscribers.pop(uri, None)
        if self._modern:
            self._restart_listen(wait=self._resolve_timeout(timeout))
        else:
            self.request("resources/unsubscribe", {"uri": uri}, timeout=timeout)

    def _restart_listen(self, wait: Optional[float] = 0.0) -> None:
        """(Re)open the 2026-07-28 ``subscriptions/listen`` stream for what the server offers.

        With ``wait``, block (that many seconds at most; ``None``: no limit) until the server
        acknowledges the new stream, so that an update sent right after a subscription arrives.

        Raises:
            RequestTimeout: no acknowledgement within ``wait`` seconds.
            RemoteError, ConnectionClosed: the server refused the stream, or the connection ended,
                before acknowledging it.
        """
        # Every subscription change happens before its restart takes a generation, and each
        # restart reads the subscriptions after taking one: the newest generation's stream covers
        # every change, so an older restart that finishes last must not replace it.
        with self._listen_lock:
            self._listen_generation += 1
            generation = self._listen_generation
        caps = self.server_capabilities
        wanted: Dict[str, Any] = {}
        for capability, flag in (
            ("tools", "toolsListChanged"),
            ("prompts", "promptsListChanged"),
            ("resources", "resourcesListChanged"),
        ):
            section = caps.get(capability)
            if isinstance(section, Mapping) and section.get("listChanged"):
                wanted[flag] = True
        with self._subscribers_lock:
            uris = sorted(self._subscribers)
        if uris:
            wanted["resourceSubscriptions"] = uris
        new = self.submit("subscriptions/listen", {"notifications": wanted}) if wanted else None
        with self._listen_lock:
            newest = generation == self._listen_generation
            if newest:
                old, self._listen = self._listen, new
            else:
                old = new  # a newer restart covers this one: withdraw our stream
            if old is not None:
                # Until the server sees the cancellation, a retired stream may still deliver.
                current = self._listen.id if self._listen is not None else 0
                self._retired_streams = {sid for sid in self._retired_streams if sid > current} | {old.id}
        if new is not None:
            new._on_done(self._listen_ended)
        if old is not None:
            old.cancel("subscription replaced")
        if not newest:
            return
        if wait != 0.0 and self._endpoint.on_notification_thread():
            wait = 0.0  # the acknowledgement would be delivered by this very thread
        if new is not None and wait != 0.0:
            with self._listen_acked:
                self._listen_acked.wait_for(lambda: new.id in self._listen_ack_ids or new.done(), wait)
                acknowledged = new.id in self._listen_ack_ids
            if acknowledged:
                return
            if not new.done():  # the stream stays open: a late acknowledgement still serves the others
                raise RequestTimeout(
                    f"MCP server '{self.name}' did not acknowledge subscriptions/listen within {wait:g} s", timeout=wait
                )
            try:
                new.result(0.0)  # ended before any acknowledgement: its error, if it has one
            except RequestCancelled:
                if self._listen is not new:
                    return  # a newer stream replaced it; that restart waits for its own acknowledgement
                raise

    def _from_superseded_stream(self, params: Mapping[str, Any]) -> bool:
        """Whether a 2026-07-28 notification came on a listen stream already replaced.

        While two streams overlap, each update would otherwise arrive twice.
        """
        meta = params.get("_meta")
        stream = meta.get(META_SUBSCRIPTION_ID) if isinstance(meta, Mapping) else None
        if not isinstance(stream, int):
            return False
        current = self._listen
        return stream in self._retired_streams or (current is not None and stream < current.id)

    def _listen_ended(self, pending: PendingRequest) -> None:
        """Bookkeeping when a listen request settles (inline on the settling thread)."""
        with self._listen_lock:
            current = self._listen is pending
            if current:
                self._listen = None
        with self._listen_acked:
            self._listen_acked.notify_all()  # a subscriber waiting for its acknowledgement learns it ended
        if not current:
            logger.debug("'%s': subscriptions/listen %s ended", self.name, pending.id)
            return
        try:
            pending.result(0.0)
            why = "it completed the stream"
        except ConnectionClosed:
            logger.debug("'%s': subscriptions/listen %s ended with the connection", self.name, pending.id)
            return
        except MCPError as exc:
            why = str(exc)
        logger.warning(
            "MCP server '%s' ended its subscriptions/listen stream (%s); no list changes or resource updates "
            "arrive until the subscriptions change",
            self.name,
            why,
        )

    def _listen_closed_by_server(self, request_id: Any) -> None:
        """A 2026-07-28 server's ``notifications/cancelled`` for our listen request ends that stream."""
        current = self._listen
        if current is not None and request_id == current.id:
            current._abandon("was ended by the server", RequestCancelled, tell_peer=False)

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
            self._log_level = level
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
        context = RequestContext(self, self.name, request.id, request.method, request.cancelled)
        return self._answer(context, request.method, request.params)

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
            callback(params.get("progress", 0), params.get("total"), params.get("message"))
        elif method == "notifications/message":
            level = str(params.get("level", "info"))
            source = params.get("logger")
            data = params.get("data")
            self._server_log.log(LOGGING_LEVELS.get(level, logging.INFO), "%s%s", f"[{source}] " if source else "", data)
            if self._on_log is not None:
                self._on_log(level, str(source) if source is not None else "", data)
        elif method in _LIST_CHANGED:
            if self._from_superseded_stream(params):
                return
            kinds = _LIST_CHANGED[method]
            for kind in kinds:
                self._caches[kind].invalidate()
            if self._on_list_changed is not None:
                self._on_list_changed(kinds[0])
        elif method == "notifications/resources/updated":
            if self._from_superseded_stream(params):
                return
            uri = str(params.get("uri", ""))
            with self._subscribers_lock:
                callbacks = list(self._subscribers.get(uri, ()))
            for on_updated in callbacks:
                on_updated(uri)
        elif method == "notifications/elicitation/complete":
            self._features.elicitation_completed(params.get("elicitationId"))
        elif method == "notifications/tasks/status":
            task = self._tasks.get(str(params.get("taskId")))
            if task is not None:
                task.update(params)
            if self._notification_handler is not None:
                self._notification_handler(method, params)
        elif method == "notifications/cancelled":
            self._listen_closed_by_server(params.get("requestId"))
        elif method == "notifications/subscriptions/acknowledged":
            logger.debug("'%s' acknowledged subscriptions: %s", self.name, params.get("notifications"))
            meta = params.get("_meta")
            stream = meta.get(META_SUBSCRIPTION_ID) if isinstance(meta, Mapping) else None
            with self._listen_acked:
                self._listen_ack_ids.add(stream)
                self._listen_acked.notify_all()
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

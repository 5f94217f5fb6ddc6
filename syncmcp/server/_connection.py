r"""One client connection of a server: the MCP meaning of each request, in both protocol eras.

The connection owns an :class:`~syncmcp.Endpoint` (its reader thread, handler pool and
notification worker) and answers every request on the handler pool, so a slow tool never holds
up ``ping``, cancellation or other calls.

Eras (decided by the client's first request and then fixed for the connection):

* **legacy** (2024-11-05 … 2025-11-25): ``initialize`` negotiates the version (the client's if
  supported, else 2025-11-25; a second ``initialize`` is an error), capabilities are declared
  once, ``logging/setLevel`` and ``resources/subscribe`` apply to the connection, the server
  sends ``list_changed`` notifications (for what it declared) and asks the client things with
  real requests.
* **modern** (2026-07-28): ``server/discover`` or any request carrying the ``_meta`` envelope.
  Each request is checked (-32602 for a missing envelope key, -32022 with ``data {supported,
  requested}`` for an unknown version), every result carries ``resultType`` and the server's
  identity, list results carry cache hints, questions to the client become
  ``InputRequiredResult``\ s, and change notifications travel on ``subscriptions/listen``
  streams. ``initialize`` is then answered -32022.

Before either, only ``ping`` is answered; other requests get -32600.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Mapping, Optional, Protocol

from .._endpoint import Endpoint, InboundRequest, JSONRPCError, PendingRequest
from .._era import (
    LATEST_PROTOCOL_VERSION,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    META_SUBSCRIPTION_ID,
    SUPPORTED_PROTOCOL_VERSIONS,
)
from .._exceptions import ConnectionClosed, TransportError
from .._jsonrpc import ErrorCode, RequestId, make_result
from .._transport import Transport
from ._context import LOG_LEVELS
from ._listens import ListenStream, honored_subscriptions
from ._router import MODERN_PROTOCOL_VERSIONS, Call, RequestRouter, RouterHost, check_envelope

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "ConnectionHost",
    "ServerConnection",
]

logger = logging.getLogger("syncmcp.server")


#: How long ``close()`` lets open listen streams send their final result.
_LISTEN_DRAIN = 1.0
#: How often a listen stream checks whether the client cancelled it.
_LISTEN_POLL = 0.1

_LIST_KINDS = {"tools": "tools", "resources": "resources", "prompts": "prompts"}


class ConnectionHost(RouterHost, Protocol):
    """What a connection needs from its server (``Server`` implements it)."""

    default_log_level: Optional[str]
    max_listen_streams: int

    def custom_notification_handler(self, method: str) -> Optional[Callable[[Dict[str, Any]], None]]:
        """A handler registered for a notification."""

    def connection_closed(self, connection: ServerConnection) -> None:
        """Forget a connection that ended."""


class ServerConnection:
    """A server's end of one client connection (created by ``Server.connect``).

    Args:
        host: the server.
        transport: the connection to the client.
        name: the client's name in logs and thread names.
        max_workers: most requests handled at once.

    Example:
        from syncmcp.testing import memory_pair
        client_end, server_end = memory_pair()
        connection = server.connect(server_end)
    """

    def __init__(
        self,
        host: ConnectionHost,
        transport: Transport,
        *,
        name: str = "client",
        max_workers: int = 32,
        on_closed: Optional[Callable[[], None]] = None,
    ) -> None:
        self._host = host
        self._on_closed = on_closed
        self.server_name = host.name
        #: The verified access token's claims of an HTTP client (set by the HTTP application),
        #: handed to handlers as ``Context.auth``.
        self.auth: Optional[Mapping[str, Any]] = None
        self._lock = threading.Condition()
        self._era: Optional[str] = None
        self._protocol_version = LATEST_PROTOCOL_VERSION
        self._client_info: Dict[str, Any] = {}
        self._client_capabilities: Dict[str, Any] = {}
        self._declared: Dict[str, Any] = {}
        self._initialized = False
        self._log_level = host.default_log_level
        self._subscriptions: frozenset[str] = frozenset()
        self._listens: Dict[RequestId, ListenStream] = {}
        self._closed = threading.Event()
        self._transport = transport
        self._endpoint = Endpoint(
            transport,
            name=name,
            request_handler=self._on_request,
            notification_handler=self._on_notification,
            on_lost=self._on_lost,
            max_workers=max_workers,
        )
        self._router = RequestRouter(host)
        self._stateful: Dict[str, Callable[[Call], Any]] = {
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": self._unsubscribe,
            "logging/setLevel": self._set_level,
            "subscriptions/listen": self._listen,
        }

    def __repr__(self) -> str:
        era = self._era or "new"
        return f"<ServerConnection {self._endpoint.name} {era} {self._protocol_version}>"

    # ------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start reading the client's messages."""
        self._endpoint.start()

    def close(self, timeout: float = 5.0) -> None:
        """End the connection: listen streams end gracefully, running handlers see ``cancelled``."""
        with self._lock:
            listens = list(self._listens.values())
        for listen in listens:
            listen.stop.set()
        if listens:
            with self._lock:
                self._lock.wait_for(lambda: not self._listens, timeout=_LISTEN_DRAIN)
        self._endpoint.close(timeout)
        self._mark_closed()

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        """Block until the connection ends (the client left or ``close()``); ``False`` on timeout."""
        return self._closed.wait(timeout)

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._closed.is_set()

    @property
    def protocol_version(self) -> Optional[str]:
        """The negotiated revision (legacy), ``"2026-07-28"`` (modern) or ``None`` before either."""
        if self._era == "modern":
            return MODERN_PROTOCOL_VERSIONS[0]
        return self._protocol_version if self._era == "legacy" else None

    @property
    def client_info(self) -> Dict[str, Any]:
        """The client's ``clientInfo`` from ``initialize`` (``{}`` in the modern era)."""
        return dict(self._client_info)

    def _on_lost(self, error: ConnectionClosed) -> None:
        logger.debug("connection %s ended: %s", self._endpoint.name, error.reason)
        with self._lock:
            listens = list(self._listens.values())
        for listen in listens:
            listen.stop.set()
        self._mark_closed()

    def _mark_closed(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._host.connection_closed(self)
        if self._on_closed is not None:
            self._on_closed()

    # ------------------------------------------------------------------------- outbound (ContextPeer)

    def send_notification(self, method: str, params: Dict[str, Any]) -> None:
        """Send a notification to the client.

        Raises:
            ConnectionClosed: the connection has ended.
        """
        self._endpoint.send_notification(method, params)

    def send_request(self, method: str, params: Dict[str, Any]) -> PendingRequest:
        """Send a request to the client (legacy era)."""
        return self._endpoint.send_request(method, params)

    def log_threshold(self, request_meta: Mapping[str, Any]) -> Optional[str]:
        """The lowest level to send for a request (modern: its ``_meta`` opt-in; legacy: setLevel)."""
        if self._era == "modern":
            level = request_meta.get(META_LOG_LEVEL)
            return level if level in LOG_LEVELS else None
        return self._log_level

    def notify_list_changed(self, kind: str) -> None:
        """Tell the client a list changed, if this connection may be told (see the module docs)."""
        method = f"notifications/{kind}/list_changed"
        if self._era == "modern":
            self._deliver(method, {})
            return
        if self._era != "legacy" or not self._initialized:
            return
        declared = self._declared.get(_LIST_KINDS.get(kind, kind))
        if isinstance(declared, dict) and declared.get("listChanged"):
            self._quietly(method, {})

    def notify_resource_updated(self, uri: str) -> None:
        """Send ``notifications/resources/updated`` if the client subscribed to ``uri``."""
        params = {"uri": uri}
        if self._era == "modern":
            self._deliver("notifications/resources/updated", params)
        elif self._era == "legacy" and uri in self._subscriptions:
            self._quietly("notifications/resources/updated", params)

    def send_log(self, level: str, data: Any, logger_name: Optional[str] = None) -> bool:
        """A log message not tied to a request (legacy connections at or above their level)."""
        threshold = self._log_level
        if self._era != "legacy" or threshold is None or LOG_LEVELS.index(level) < LOG_LEVELS.index(threshold):
            return False
        self._quietly("notifications/message", {"level": level, "logger": logger_name or self.server_name, "data": data})
        return True

    def _quietly(self, method: str, params: Dict[str, Any]) -> None:
        try:
            self._endpoint.send_notification(method, params)
        except (TransportError, ValueError) as exc:
            logger.debug("could not send %s to %s: %s", method, self._endpoint.name, exc)

    def _deliver(self, method: str, params: Dict[str, Any]) -> None:
        """Send a change notification on every listen stream that opted in to it."""
        with self._lock:
            listens = list(self._listens.values())
        for listen in listens:
            if not listen.wants(method, params):
                continue
            stamped = {**params, "_meta": {META_SUBSCRIPTION_ID: listen.request_id}}
            with listen.lock:
                if not listen.ready:
                    if (method, stamped) not in listen.backlog:
                        listen.backlog.append((method, stamped))
                    continue
            self._quietly(method, stamped)

    # ------------------------------------------------------------------------- inbound

    def _on_notification(self, method: str, params: Dict[str, Any]) -> None:
        if method == "notifications/initialized":
            self._initialized = True
            return
        if method == "notifications/cancelled":  # for a request already answered (the endpoint stops running ones)
            logger.debug("'%s': cancellation of a finished request %r", self._endpoint.name, params.get("requestId"))
            return
        handler = self._host.custom_notification_handler(method)
        if handler is not None:
            handler(params)
        elif method != "notifications/roots/list_changed":
            logger.debug("'%s': unhandled notification %s", self._endpoint.name, method)

    def _on_request(self, request: InboundRequest) -> Any:
        method = request.method
        if method == "initialize":
            return self._initialize(request.params)
        era = self._era
        if era == "legacy":
            # A client sends requests only after `initialized`; a request proves it was sent.
            self._initialized = True
            return self._dispatch(self._legacy_call(request))
        meta = request.params.get("_meta")
        if era == "modern" or method == "server/discover" or (isinstance(meta, dict) and META_PROTOCOL_VERSION in meta):
            version, capabilities, client_info = check_envelope(request.params)
            with self._lock:
                if self._era is None:
                    self._era = "modern"
                locked = self._era
            if locked == "legacy":  # an initialize won the race
                return self._dispatch(self._legacy_call(request))
            result = self._dispatch(Call(request, True, version, capabilities, client_info, self, auth=self.auth))
            return self._router.stamp(result)
        raise JSONRPCError(
            ErrorCode.INVALID_REQUEST,
            f"{method} before initialize: send initialize first (or a 2026-07-28 request with the _meta envelope)",
        )

    def _legacy_call(self, request: InboundRequest) -> Call:
        return Call(
            request,
            False,
            self._protocol_version,
            self._client_capabilities,
            self._client_info,
            self,
            self._declared,
            auth=self.auth,
        )

    def _dispatch(self, call: Call) -> Any:
        return self._router.dispatch(call, self._stateful)

    # ------------------------------------------------------------------------- lifecycle methods

    def _initialize(self, params: Dict[str, Any]) -> Dict[str, Any]:
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "initialize needs a string protocolVersion")
        capabilities = params.get("capabilities")
        client_info = params.get("clientInfo")
        declared = self._host.capabilities()
        with self._lock:
            if self._era == "legacy":
                raise JSONRPCError(ErrorCode.INVALID_REQUEST, "initialize was already called on this connection")
            if self._era == "modern":
                raise JSONRPCError(
                    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
                    "Unsupported protocol version",
                    {"supported": list(MODERN_PROTOCOL_VERSIONS), "requested": requested},
                )
            version = requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
            self._era = "legacy"
            self._protocol_version = version
            self._client_capabilities = capabilities if isinstance(capabilities, dict) else {}
            self._client_info = client_info if isinstance(client_info, dict) else {}
            self._declared = declared
        result = self._router.initialize_result(version, declared)
        logger.info(
            "client %s %s initialized with protocol %s",
            self._client_info.get("name", "?"),
            self._client_info.get("version", ""),
            version,
        )
        return result

    def _set_level(self, call: Call) -> Dict[str, Any]:
        level = call.params.get("level")
        if level not in LOG_LEVELS:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        self._log_level = level
        return {}

    # ------------------------------------------------------------------------- stateful methods

    def _subscribe(self, call: Call) -> Dict[str, Any]:
        router = self._router
        router.require_capability(call, "resources")
        uri = router.resource_uri(call)
        if self._host.registry.find_resource(uri) is None:
            raise router.not_found(call, uri)
        with self._lock:
            self._subscriptions = self._subscriptions | {uri}
        return {}

    def _unsubscribe(self, call: Call) -> Dict[str, Any]:
        self._router.require_capability(call, "resources")
        uri = self._router.resource_uri(call)
        with self._lock:
            self._subscriptions = self._subscriptions - {uri}
        return {}

    # ------------------------------------------------------------------------- 2026-07-28 listen streams

    def _listen(self, call: Call) -> Dict[str, Any]:
        wanted = call.params.get("notifications")
        if not isinstance(wanted, dict):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "subscriptions/listen needs a 'notifications' object")
        honored = honored_subscriptions(wanted, self._host.capabilities())
        request_id = call.request.id
        listen = ListenStream(request_id, honored)
        with self._lock:
            if len(self._listens) >= self._host.max_listen_streams:
                raise JSONRPCError(ErrorCode.INTERNAL_ERROR, "Subscription limit reached")
            self._listens[request_id] = listen
        meta = {META_SUBSCRIPTION_ID: request_id}
        try:
            self._quietly("notifications/subscriptions/acknowledged", {"notifications": honored, "_meta": meta})
            with listen.lock:
                backlog, listen.backlog = listen.backlog, []
                listen.ready = True
            for method, params in backlog:
                self._quietly(method, params)
            # Two events can end the stream: the server closing it (waited on) and the client
            # cancelling it (the endpoint's event, checked between waits).
            cancelled = call.request.cancelled
            while not listen.stop.wait(_LISTEN_POLL) and not cancelled.is_set():
                pass
            result: Dict[str, Any] = self._router.stamp({"_meta": meta})
            if not cancelled.is_set():
                # The server is closing the stream: its final result must be on the wire before
                # close() goes on to close the endpoint (which would drop a response still to be
                # sent). The endpoint has no deferred-response API, so the result is written
                # here and the request marked answered, which stops the endpoint answering twice.
                try:
                    self._transport.send(make_result(request_id, result))
                except (TransportError, ValueError) as exc:
                    logger.debug("could not end listen stream %r: %s", request_id, exc)
                cancelled.set()
        finally:
            with self._lock:
                self._listens.pop(request_id, None)
                self._lock.notify_all()
        return result

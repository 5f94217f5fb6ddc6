"""Requests served without a session: every 2026-07-28 request, and legacy ones in stateless mode.

Each request stands alone, so any worker process can take it: the request's own :class:`Outbox`
carries its notifications and then its response, and a :class:`RequestPeer` is the handler's
only way to the client. Questions to the client become ``InputRequiredResult`` rounds in the
2026-07-28 era; a legacy handler that asks one in stateless mode gets a clear error, since no
stream would carry the client's answer back.

The :class:`StatelessHub` also keeps the 2026-07-28 ``subscriptions/listen`` streams, and
receives the server's change notifications for them.

Example::

    hub = StatelessHub(server, RequestRouter(server), pool, default_log_level="info", max_listens=100)
    outbox, cancelled = hub.start(message, modern=True, version="2026-07-28", capabilities={}, client_info={})
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from .._endpoint import InboundRequest, JSONRPCError, PendingRequest
from .._era import LOG_LEVELS, META_LOG_LEVEL, META_SUBSCRIPTION_ID
from .._exceptions import TransportError
from .._jsonrpc import ErrorCode, make_error, make_notification, make_result
from .._workers import WorkerPool
from ._listens import ListenStream, honored_subscriptions
from ._router import Call, RequestRouter, RouterHost
from ._sseout import Outbox

__all__ = ["RequestPeer", "StatelessHub"]

logger = logging.getLogger("syncmcp.server")

_LIST_KINDS = ("tools", "resources", "prompts")


def _empty(_call: Call) -> Dict[str, Any]:
    return {}


class RequestPeer:
    """The client as one stateless request's handler sees it: its stream, and nothing else.

    Args:
        server_name: the ``logger`` of log messages.
        outbox: the request's response stream.
        log_level: the level a legacy request logs at (no ``logging/setLevel`` without a session).

    Example:
        >>> box = Outbox("r", expected=1)
        >>> peer = RequestPeer("demo", box, None)
        >>> peer.send_notification("notifications/progress", {"progressToken": 1, "progress": 1})
        >>> box.read(0, 0)[0][0][1]["method"]
        'notifications/progress'
    """

    def __init__(self, server_name: str, outbox: Outbox, log_level: Optional[str]) -> None:
        self.server_name = server_name
        self._outbox = outbox
        self._log_level = log_level

    def send_notification(self, method: str, params: Dict[str, Any]) -> None:
        """Put a notification on the request's stream."""
        self._outbox.put(make_notification(method, params))

    def send_request(self, method: str, params: Dict[str, Any]) -> PendingRequest:
        """Refused: a stateless legacy request has no way to get the client's answer."""
        raise TransportError(
            f"cannot send {method} to the client: this HTTP endpoint is stateless (no session, no GET stream), "
            "so the answer could not reach this handler; serve it with stateless=False or use the 2026-07-28 protocol"
        )

    def log_threshold(self, request_meta: Mapping[str, Any]) -> Optional[str]:
        """The request's own ``_meta`` log level (2026-07-28), else the server's default."""
        level = request_meta.get(META_LOG_LEVEL)
        return level if level in LOG_LEVELS else self._log_level


class StatelessHub:
    """Runs stateless requests on a pool and keeps the 2026-07-28 listen streams (module docs).

    Args:
        host: the server.
        router: the request router.
        pool: the threads that run handlers.
        default_log_level: the log level of legacy stateless requests.
        max_listens: most listen streams open at once.
    """

    def __init__(
        self, host: RouterHost, router: RequestRouter, pool: WorkerPool, *, default_log_level: Optional[str], max_listens: int
    ) -> None:
        self._host = host
        self._router = router
        self._pool = pool
        self._default_log_level = default_log_level
        self._max_listens = max_listens
        self._lock = threading.Lock()
        self._listens: Dict[int, Tuple[ListenStream, Outbox]] = {}
        self._running: Dict[InboundRequest, Outbox] = {}
        # Without a session no level can be kept: logging/setLevel is accepted, and each
        # request logs at the server's default level.
        self._legacy_extras: Dict[str, Callable[[Call], Any]] = {"ping": _empty, "logging/setLevel": _empty}
        self._modern_extras: Dict[str, Callable[[Call], Any]] = {"ping": _empty}
        self._ids = 0

    # ------------------------------------------------------------------------- requests

    def start(
        self,
        message: Dict[str, Any],
        *,
        modern: bool,
        version: str,
        capabilities: Dict[str, Any],
        client_info: Dict[str, Any],
        auth: Optional[Mapping[str, Any]] = None,
    ) -> Tuple[Outbox, threading.Event]:
        """Start one request; ``(outbox, cancelled event)``. The response ends the outbox."""
        params = message.get("params")
        request = InboundRequest(message["id"], message["method"], params if isinstance(params, dict) else {})
        outbox = Outbox("0", expected=1, history=1 << 30, resumable=False)
        peer = RequestPeer(self._host.name, outbox, None if modern else self._default_log_level)
        call = Call(request, modern, version, capabilities, client_info, peer, self._host.capabilities(), auth)
        if request.method == "subscriptions/listen" and modern:
            self._open_listen(call, outbox)
            return outbox, request.cancelled
        with self._lock:
            self._running[request] = outbox
        if not self._pool.submit(self._run, call, outbox):
            with self._lock:
                self._running.pop(request, None)
            outbox.put(make_error(request.id, ErrorCode.INTERNAL_ERROR, "the server is shutting down"), final=True)
        return outbox, request.cancelled

    def _run(self, call: Call, outbox: Outbox) -> None:
        request = call.request
        if request.cancelled.is_set():  # its client left, or its deadline passed, while it waited
            with self._lock:
                self._running.pop(request, None)
            return
        try:
            result = self._router.dispatch(call, self._legacy_extras if not call.modern else self._modern_extras)
            if call.modern:
                result = self._router.stamp(result)
            response = make_result(request.id, result)
        except JSONRPCError as exc:
            response = make_error(request.id, exc.code, exc.message, exc.data)
        except Exception as exc:
            logger.exception("handler for %s failed", request.method)
            response = make_error(request.id, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._running.pop(request, None)
        outbox.put(response, final=True)

    # ------------------------------------------------------------------------- listen streams

    def _open_listen(self, call: Call, outbox: Outbox) -> None:
        wanted = call.params.get("notifications")
        request_id = call.request.id
        if not isinstance(wanted, dict):
            error = make_error(request_id, ErrorCode.INVALID_PARAMS, "subscriptions/listen needs a 'notifications' object")
            outbox.put(error, final=True)
            return
        honored = honored_subscriptions(wanted, self._host.capabilities())
        listen = ListenStream(request_id, honored)
        with self._lock:
            if len(self._listens) >= self._max_listens:
                outbox.put(make_error(request_id, ErrorCode.INTERNAL_ERROR, "Subscription limit reached"), final=True)
                return
            self._ids += 1
            self._listens[self._ids] = (listen, outbox)
        # The acknowledgement comes first: changes from now on wait in the backlog until it is out.
        meta = {META_SUBSCRIPTION_ID: request_id}
        outbox.put(make_notification("notifications/subscriptions/acknowledged", {"notifications": honored, "_meta": meta}))
        with listen.lock:
            backlog, listen.backlog = listen.backlog, []
            listen.ready = True
        for method, params in backlog:
            outbox.put(make_notification(method, params))

    def end_listen(self, outbox: Outbox) -> None:
        """Forget the listen stream written by ``outbox`` (its client left)."""
        with self._lock:
            for key, (_listen, box) in list(self._listens.items()):
                if box is outbox:
                    del self._listens[key]

    def close(self) -> None:
        """End every listen stream with its final result; running handlers are told they are cancelled."""
        with self._lock:
            listens, self._listens = list(self._listens.values()), {}
            running, self._running = list(self._running.items()), {}
        for request, waiting in running:
            request.cancelled.set()
            waiting.put(make_error(request.id, ErrorCode.INTERNAL_ERROR, "the server is shutting down"), final=True)
        for listen, outbox in listens:
            meta = {META_SUBSCRIPTION_ID: listen.request_id}
            outbox.put(make_result(listen.request_id, self._router.stamp({"_meta": meta})), final=True)

    def _deliver(self, method: str, params: Dict[str, Any]) -> None:
        with self._lock:
            listens = list(self._listens.values())
        for listen, outbox in listens:
            if not listen.wants(method, params):
                continue
            stamped = {**params, "_meta": {META_SUBSCRIPTION_ID: listen.request_id}}
            with listen.lock:
                if not listen.ready:
                    listen.backlog.append((method, stamped))
                    continue
            outbox.put(make_notification(method, stamped))

    # ------------------------------------------------------------------------- the server's notifications

    def notify_list_changed(self, kind: str) -> None:
        """Send ``notifications/<kind>/list_changed`` on the listen streams that asked for it."""
        if kind in _LIST_KINDS:
            self._deliver(f"notifications/{kind}/list_changed", {})

    def notify_resource_updated(self, uri: str) -> None:
        """Send ``notifications/resources/updated`` on the listen streams subscribed to ``uri``."""
        self._deliver("notifications/resources/updated", {"uri": uri})

    def send_log(self, level: str, data: Any, logger_name: Optional[str] = None) -> bool:
        """Logs not tied to a request have no stateless stream to go to: not sent."""
        return False

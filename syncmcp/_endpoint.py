"""The JSON-RPC endpoint: every thread of one connection, and the table of pending requests.

The endpoint is symmetric (clients and servers both use it) and knows only two MCP utilities,
``ping`` and ``notifications/cancelled``; everything else is a method name and a dict.

Threads, per connection:

* exactly one **reader** (``syncmcp-reader[<name>]``): reads, classifies, settles responses,
  queues everything else. It never writes and never runs user code, so a slow handler or a full
  pipe cannot stop responses from flowing.
* a **handler pool** (``syncmcp-handler[<name>]``, created on first use, at most
  ``max_workers`` threads) answering the peer's requests.
* one **control worker** (``syncmcp-control[<name>]``, created on first use) answering ``ping``
  and malformed requests, so that busy handlers never delay a ping.
* one **notification worker** (``syncmcp-notify[<name>]``, created on first use) delivering
  notifications in arrival order.

Rules kept here (see the tests): a request is registered in the pending table *before* it is
written; whoever pops an entry settles its reply (:class:`~syncmcp._reply.Reply`), outside the lock, exactly once (the reader on a
response, a timed-out or interrupted caller, or the fan-out at EOF); late responses are logged and
dropped; at EOF every pending request fails at once with the exit code and stderr tail; no lock is
held during I/O, settlement or callbacks, and no two locks are ever held together.
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from . import _forks
from ._exceptions import (
    ConnectionClosed,
    ForkedProcessError,
    JSONRPCError,
    RemoteError,
    RequestCancelled,
    RequestTimeout,
    TransportError,
    URLElicitationRequired,
)
from ._jsonrpc import (
    ErrorCode,
    ErrorResponse,
    InvalidMessage,
    Notification,
    Request,
    RequestId,
    Response,
    classify,
    make_error,
    make_notification,
    make_result,
)
from ._reply import Reply
from ._timeout import DEFAULT, Timeout, resolve_timeout
from ._transport import RequestFailed, Transport
from ._workers import WorkerPool

__all__ = [
    "DEFAULT_MAX_WORKERS",
    "Endpoint",
    "InboundRequest",
    "JSONRPCError",
    "PendingRequest",
]

logger = logging.getLogger("syncmcp.endpoint")

#: Most threads one connection uses to answer the peer's requests at once.
DEFAULT_MAX_WORKERS = 8
#: Most of the peer's requests in progress or waiting for a handler; more are refused at once
#: (a peer flooding requests faster than they are handled cannot grow memory without bound).
MAX_INBOUND_REQUESTS = 256
#: After EOF, how long to wait for the exit code and the last stderr bytes before failing calls.
EXIT_DETAILS_WAIT = 1.0
#: How long a caller whose timeout lost the race against an arriving response waits for the
#: reader to finish settling it (settling is immediate unless a progress callback is slow).
_RACE_GRACE = 5.0
#: While timeouts are paused, how often a waiting caller checks whether they resumed.
_PAUSE_POLL = 0.25
#: Bad lines logged at WARNING before the rest go to DEBUG (a server spewing garbage on stdout
#: must not flood the logs).
_INVALID_WARNINGS = 10

ProgressCallback = Callable[[float, Optional[float], Optional[str]], None]


class InboundRequest:
    """A request the peer sent, as its handler sees it.

    Attributes:
        id: the peer's request id (may be ``0`` or a string).
        method: the JSON-RPC method.
        params: the params object (``{}`` when absent).
        cancelled: set when the peer cancels the request or the connection closes; the
            response is then never sent, so a handler may stop early.

    Example::

        def handler(request):                      # given to Endpoint(request_handler=...)
            if request.cancelled.is_set():
                return {}
            return {"echo": request.params}
    """

    __slots__ = ("cancelled", "id", "method", "params")

    def __init__(self, request_id: RequestId, method: str, params: Dict[str, Any]) -> None:
        self.id = request_id
        self.method = method
        self.params = params
        self.cancelled = threading.Event()

    def __repr__(self) -> str:
        return f"InboundRequest(id={self.id!r}, method={self.method!r})"


class _State(enum.Enum):
    NEW = "new"  # constructed, reader not started
    OPEN = "open"  # reader running, requests accepted
    CLOSED = "closed"  # closed locally or the connection was lost; requests refused


# The members as module constants: an enum member lookup costs ~0.1 µs on the call path.
_NEW = _State.NEW
_OPEN = _State.OPEN
_CLOSED = _State.CLOSED


#: One entry of the pending table: ``(reply, method, ordered)``; an ``ordered`` entry settles
#: through the notification worker. A plain tuple: one is made for every request.
_Pending = Tuple[Reply, str, bool]


def _run_quietly(fn: Callable[..., Any], args: Tuple[Any, ...]) -> None:
    try:
        fn(*args)
    except Exception:
        logger.exception("unhandled error in %r", fn)


class PendingRequest:
    """A request that was sent and whose response may not have arrived yet.

    Returned by :meth:`Endpoint.send_request` and ``ClientSession.submit``. ``result`` blocks;
    ``cancel`` withdraws the request and tells the peer.

    Example::

        pending = session.submit("tools/call", {"name": "slow"})
        result = pending.result(timeout=5.0)   # raw result dict; cancelled on the server on timeout
    """

    __slots__ = ("_activity", "_cancellable", "_endpoint", "_last_activity", "_reply", "id", "method")

    def __init__(self, endpoint: Endpoint, request_id: int, method: str, reply: Reply, cancellable: bool) -> None:
        self._endpoint = endpoint
        self._reply = reply
        self._cancellable = cancellable
        self._activity = 0
        self._last_activity = (0.0, 0.0)
        self.id = request_id
        self.method = method

    def __repr__(self) -> str:
        state = "done" if self._reply.done() else "pending"
        return f"<PendingRequest {self.method} id={self.id} {state}>"

    def done(self) -> bool:
        """Whether a result or an error is available."""
        return self._reply.done()

    def touch(self) -> None:
        """Record activity, such as a progress notification.

        A ``result(reset_on_activity=True)`` in progress then restarts its timeout from now,
        within its ``max_total`` bound.
        """
        self._last_activity = (time.monotonic(), self._endpoint.paused_seconds())
        self._activity += 1

    def wait(self, timeout: Timeout = DEFAULT) -> bool:
        """Wait for the response without consuming or abandoning it; whether it arrived.

        Unlike :meth:`result`, expiry neither cancels the request nor raises. ``timeout``:
        seconds, :data:`~syncmcp.DEFAULT` (the session's timeout) or ``None`` (no limit).
        """
        self._endpoint.check_process()
        return self._reply.wait(resolve_timeout(timeout, self._endpoint.default_timeout))

    def add_done_callback(self, fn: Callable[[PendingRequest], Any]) -> None:
        """Call ``fn(self)`` once the request is settled, on the notification worker.

        It runs at once, on the calling thread, if the request is already settled. Never on the
        reader thread: a slow callback cannot hold up other responses.
        """
        endpoint = self._endpoint

        def deliver() -> None:
            if not endpoint._notifier.submit(fn, self):
                _run_quietly(fn, (self,))  # the endpoint is closing: no worker to hand it to

        if self._reply.done():
            _run_quietly(fn, (self,))
        else:
            self._reply.on_done(deliver)

    def _on_done(self, fn: Callable[[PendingRequest], Any]) -> None:
        """Syncmcp's own bookkeeping when settled: inline on the settling thread (keep it trivial)."""
        self._reply.on_done(lambda: fn(self))

    def result(
        self,
        timeout: Timeout = DEFAULT,
        *,
        reset_on_activity: bool = False,
        max_total: Optional[float] = None,
    ) -> Any:
        """Wait for the response and return its ``result`` member.

        Args:
            timeout: seconds to wait; :data:`~syncmcp.DEFAULT` is the session's timeout and
                ``None`` waits without limit. On expiry the request is cancelled
                (``notifications/cancelled``) and :class:`RequestTimeout` raised.
            reset_on_activity: restart the timeout whenever :meth:`touch` was called meanwhile
                (progress); ``max_total`` still bounds the whole wait.
            max_total: with ``reset_on_activity``, the hard limit in seconds.

        Raises:
            RequestTimeout: no response in time.
            RemoteError: the peer answered with an error.
            ConnectionClosed: the connection ended first.
            RequestCancelled: the request was cancelled locally.
            KeyboardInterrupt: interrupted while waiting; the request is cancelled first.
            ForkedProcessError: the request was sent by a parent process (before ``fork()``).
        """
        return self._wait_result(
            resolve_timeout(timeout, self._endpoint.default_timeout), reset_on_activity=reset_on_activity, max_total=max_total
        )

    def _wait_result(
        self,
        timeout: Optional[float],
        *,
        reset_on_activity: bool = False,
        max_total: Optional[float] = None,
        since: Optional[Tuple[float, float]] = None,
    ) -> Any:
        """:meth:`result` with ``timeout`` already resolved to seconds (``None``: no limit).

        ``since``: ``(time.monotonic(), endpoint.paused_seconds())`` when the wait began, if it
        began before this call (:meth:`Endpoint.call`).
        """
        reply = self._reply
        endpoint = self._endpoint
        if endpoint._born != _forks.generation():
            endpoint.check_process()
        start, paused_at_start = since if since is not None else (time.monotonic(), endpoint.paused_seconds())
        try:
            if timeout is None:
                reply.wait(None)
                return reply.outcome()
            while True:
                # Active time only: seconds spent with the endpoint's timeouts paused (a user
                # answering an elicitation) do not count.
                now = time.monotonic()
                paused = endpoint.paused_seconds()
                window_start, paused_at_window = start, paused_at_start
                if reset_on_activity and self._activity:
                    window_start, paused_at_window = self._last_activity
                remaining = timeout - ((now - window_start) - (paused - paused_at_window))
                if max_total is not None:
                    remaining = min(remaining, max_total - ((now - start) - (paused - paused_at_start)))
                if endpoint.timeouts_paused:
                    remaining = _PAUSE_POLL  # never expire while paused; look again soon
                elif remaining <= 0:
                    break
                if reply.wait(remaining):
                    return reply.outcome()
        except KeyboardInterrupt:
            self._abandon("interrupted by the user", RequestCancelled)
            raise
        # Millisecond precision: a budget left over after other steps reads as the user's figure.
        budget = round(timeout, 3)
        if self._abandon(f"timed out after {budget:g} s", RequestTimeout, timeout=budget):
            return reply.outcome()
        # The response arrived just as we gave up: the reader popped it and is settling it (after
        # the notifications before it, when ordered). Wait a little more for that, then give up.
        if not reply.wait(_RACE_GRACE):
            raise RequestTimeout(
                f"{self.method} to '{self._endpoint.name}': the response arrived after {budget:g} s but was not delivered "
                f"within {_RACE_GRACE:g} s more (a slow progress or notification callback?)",
                method=self.method,
                request_id=self.id,
                server=self._endpoint.name,
                timeout=budget,
            )
        return reply.outcome()

    def cancel(self, reason: Optional[str] = None) -> bool:
        """Withdraw the request; returns ``False`` if the response already arrived.

        The peer is told (``notifications/cancelled``) and a later response is dropped.
        """
        return self._abandon(reason or "cancelled by the client", RequestCancelled)

    def _abandon(self, reason: str, error_type: type, *, tell_peer: bool = True, **extra: Any) -> bool:
        """Pop our entry; if we won it, tell the peer (unless not ``tell_peer``) and settle the reply with the error."""
        if not self._endpoint._pop_pending(self.id):
            return False
        if self._cancellable and tell_peer:
            self._endpoint._send_cancelled(self.id, reason)
        self._reply.set_exception(
            error_type(
                f"{self.method} to '{self._endpoint.name}' {reason}",
                method=self.method,
                request_id=self.id,
                server=self._endpoint.name,
                **extra,
            )
        )
        return True


RequestHandler = Callable[[InboundRequest], Any]
NotificationHandler = Callable[[str, Dict[str, Any]], None]


class Endpoint:
    """One JSON-RPC connection: send requests and notifications, receive and dispatch.

    Args:
        transport: an open :class:`~syncmcp.Transport` (its ``open()`` is called by ``start``).
        name: the peer's name, for thread names, logs and errors.
        request_handler: called on the handler pool with each :class:`InboundRequest`
            (``ping`` excepted); returns the result, or raises :class:`JSONRPCError`. Without
            one, every request but ``ping`` gets -32601.
        notification_handler: called on the notification worker with ``(method, params)``, in
            arrival order.
        on_lost: called once on the notification worker, with the :class:`ConnectionClosed`,
            when the connection ends without a local ``close()``.
        max_workers: most concurrent request handlers.
        default_timeout: what ``PendingRequest.result()`` waits when not told (seconds).

    Example::

        endpoint = Endpoint(transport, name="peer", request_handler=handler)
        endpoint.start()
        print(endpoint.send_request("ping").result(timeout=5))
        endpoint.close()
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str = "peer",
        request_handler: Optional[RequestHandler] = None,
        notification_handler: Optional[NotificationHandler] = None,
        on_lost: Optional[Callable[[ConnectionClosed], None]] = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        default_timeout: Optional[float] = 60.0,
    ) -> None:
        self.name = name
        #: Seconds a :class:`PendingRequest` waits when its caller does not say (``None``: no limit).
        self.default_timeout = default_timeout
        self._transport = transport
        self._request_handler = request_handler
        self._notification_handler = notification_handler
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._born = _forks.generation()
        self._state = _NEW
        self._close_started = False
        self._closed_event = threading.Event()
        self._ids = itertools.count(1)
        self._pending: Dict[RequestId, _Pending] = {}
        self._inbound: Dict[RequestId, InboundRequest] = {}
        self._lost: Optional[Tuple[str, Optional[int], str]] = None
        self._pause_lock = threading.Lock()
        self._pause_depth = 0
        self._paused_since = 0.0
        self._paused_total = 0.0
        self._reader: Optional[threading.Thread] = None
        self._reader_ident: Optional[int] = None
        self._handlers = WorkerPool(f"syncmcp-handler[{name}]", max_workers)
        self._notifier = WorkerPool(f"syncmcp-notify[{name}]", 1)
        self._control = WorkerPool(f"syncmcp-control[{name}]", 1)
        self._wire = logging.getLogger(f"syncmcp.wire.{name}")
        #: Counters: messages in and out (``sent`` is approximate under contention), lines that
        #: were not JSON-RPC, responses nobody awaited.
        self.stats = {"received": 0, "sent": 0, "invalid": 0, "dropped_responses": 0}

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Open the transport and start the reader thread; a no-op when already started.

        Raises:
            ConnectionClosed: the endpoint was closed.
            TransportError: the transport could not be opened.
            ForkedProcessError: the endpoint was made in a parent process.
        """
        self.check_process()
        with self._lock:
            if self._state is not _NEW:
                if self._state is _CLOSED:
                    raise self._closed_error()
                return
        self._transport.open()
        with self._lock:
            if self._current_state() is not _NEW:
                return
            self._state = _OPEN
            self._reader = threading.Thread(target=self._read_loop, name=f"syncmcp-reader[{self.name}]", daemon=True)
        self._reader.start()

    def _current_state(self) -> _State:
        # A method, so type checkers do not carry narrowing across lock acquisitions.
        return self._state

    @property
    def is_open(self) -> bool:
        """Whether requests can be sent (started, not closed, connection not lost)."""
        return self._state is _OPEN

    @property
    def inherited(self) -> bool:
        """Whether this process inherited the endpoint from its parent through ``fork()``."""
        return _forks.inherited(self._born)

    def check_process(self) -> None:
        """Raise :class:`~syncmcp.ForkedProcessError` in a process that inherited this endpoint."""
        if self._born != _forks.generation():
            raise _forks.forked_error(f"the connection to MCP server '{self.name}'", self._born)

    def close(self, timeout: float = 10.0) -> None:
        """Close the connection: fail pending requests, stop the transport, join the threads.

        Idempotent and callable from any thread (a handler or callback included). Bounded by
        ``timeout`` seconds beyond the transport's own shutdown. In a process that inherited the
        endpoint through ``fork()`` it only marks it closed: the connection, its threads and
        its locks belong to the parent.
        """
        if _forks.inherited(self._born):
            self._state = _CLOSED
            return
        with self._lock:
            first = not self._close_started
            self._close_started = True
            self._state = _CLOSED
            pending, self._pending = self._pending, {}
            inbound = list(self._inbound.values())
        if not first:
            # Wait for the first closer, unless we run on one of this endpoint's own threads: the
            # first closer may be joining this very thread.
            if not self._is_own_thread():
                self._closed_event.wait(timeout + 10.0)
            return
        try:
            for request in inbound:
                request.cancelled.set()
            self._fail(pending, ("session closed", None, ""))
            self._transport.close()
            deadline = time.monotonic() + timeout
            reader = self._reader
            if reader is not None and reader is not threading.current_thread():
                reader.join(max(0.0, deadline - time.monotonic()))
            self._notifier.shutdown(deadline)
            self._handlers.shutdown(deadline)
            self._control.shutdown(deadline)
        finally:
            self._closed_event.set()

    # ----------------------------------------------------------------------------- pausing

    def pause_timeouts(self) -> None:
        """Stop the clock of every request's timeout (nested calls count).

        Used while the peer waits for the user (an elicitation): that time is not the peer's
        fault. Pair each call with :meth:`resume_timeouts`.
        """
        with self._pause_lock:
            if self._pause_depth == 0:
                self._paused_since = time.monotonic()
            self._pause_depth += 1

    def resume_timeouts(self) -> None:
        """Undo one :meth:`pause_timeouts`; the clocks run again when none is left."""
        with self._pause_lock:
            if self._pause_depth == 0:
                raise RuntimeError("resume_timeouts() without pause_timeouts()")
            self._pause_depth -= 1
            if self._pause_depth == 0:
                self._paused_total += time.monotonic() - self._paused_since

    @property
    def timeouts_paused(self) -> bool:
        """Whether request timeouts are currently paused."""
        return self._pause_depth > 0

    def paused_seconds(self) -> float:
        """Total seconds timeouts have been paused on this endpoint (the current pause included)."""
        if not self._pause_depth and not self._paused_total:
            return 0.0  # never paused: the common case needs no lock
        with self._pause_lock:
            if self._pause_depth:
                return self._paused_total + (time.monotonic() - self._paused_since)
            return self._paused_total

    def on_notification_thread(self) -> bool:
        """Whether the calling thread delivers this endpoint's notifications (a callback runs)."""
        return self._notifier.owns(threading.current_thread())

    def on_reader_thread(self) -> bool:
        """Whether the calling thread is this endpoint's reader (which must never block on it)."""
        return threading.get_ident() == self._reader_ident

    def _is_own_thread(self) -> bool:
        current = threading.current_thread()
        pools = (self._handlers, self._notifier, self._control)
        return current is self._reader or any(pool.owns(current) for pool in pools)

    def lost_error(self) -> Optional[ConnectionClosed]:
        """The error describing how the connection was lost, or ``None`` if it was not lost."""
        return self._closed_error() if self._lost is not None else None

    def _closed_error(self) -> ConnectionClosed:
        reason, code, tail = self._lost or ("session closed", None, "")
        return ConnectionClosed(f"connection to MCP server '{self.name}' is closed: {reason}", returncode=code, stderr_tail=tail)

    # ----------------------------------------------------------------------------- sending

    def send_request(
        self,
        method: str,
        params: Optional[Dict[str, Any]] = None,
        *,
        ordered: bool = False,
        cancellable: bool = True,
    ) -> PendingRequest:
        """Send a request and return its :class:`PendingRequest` at once.

        Args:
            method: the JSON-RPC method.
            params: the params object, or ``None`` to omit it.
            ordered: settle the response only after every notification received before it has
                been handled (used with progress callbacks).
            cancellable: whether abandoning it sends ``notifications/cancelled`` (``initialize``
                must never be cancelled).

        Raises:
            ConnectionClosed: the connection is closed or breaks during the write.
            ForkedProcessError: the endpoint was made in a parent process.
            ValueError: ``params`` cannot be encoded as JSON.
        """
        if ordered and self._notifier.owns(threading.current_thread()):
            # A notification callback waiting on a call whose result would be delivered by this
            # very thread would never get it: settle directly (its progress comes afterwards).
            ordered = False
        request_id, reply = self._start(method, params, ordered)
        return PendingRequest(self, request_id, method, reply, cancellable)

    def call(self, method: str, params: Optional[Dict[str, Any]], timeout: Optional[float]) -> Any:
        """Send a request and wait ``timeout`` seconds (resolved; ``None``: no limit) for its result.

        ``send_request(method, params).result(timeout)`` for a caller that blocks at once: no
        handle is made unless the first wait ends without the response (a timeout, timeouts
        paused, Ctrl-C), which is then handled exactly as :meth:`PendingRequest.result` does.

        Raises:
            RequestTimeout, RemoteError, ConnectionClosed, KeyboardInterrupt, ForkedProcessError:
                as :meth:`PendingRequest.result` and :meth:`send_request`.
            RuntimeError: called on the reader thread, which would wait on itself.
        """
        if threading.get_ident() == self._reader_ident:
            raise RuntimeError("session methods cannot be called on the session's reader thread")
        request_id, reply = self._start(method, params, False)
        start = time.monotonic()
        paused = self.paused_seconds()
        try:
            if reply.take(timeout):  # nobody else can wait on this reply: no handle was made
                return reply.outcome()
        except KeyboardInterrupt:
            PendingRequest(self, request_id, method, reply, True)._abandon("interrupted by the user", RequestCancelled)
            raise
        return PendingRequest(self, request_id, method, reply, True)._wait_result(timeout, since=(start, paused))

    def _start(self, method: str, params: Optional[Dict[str, Any]], ordered: bool) -> Tuple[int, Reply]:
        """Register a request, then write it: ``(its id, its reply)``; see :meth:`send_request`."""
        if self._born != _forks.generation():
            self.check_process()
        reply = Reply()
        with self._lock:
            if self._state is not _OPEN:
                if self._state is _CLOSED:
                    raise self._closed_error()
                raise ConnectionClosed(f"connection to MCP server '{self.name}' is not started")
            request_id = next(self._ids)
            # Registered before the write: the response may arrive before send() returns.
            self._pending[request_id] = (reply, method, ordered)
        message: Dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}  # make_request, written out
        if params is not None:
            message["params"] = params
        if self._wire.isEnabledFor(logging.DEBUG):
            self._wire.debug("-> %s", message)
        try:
            self._transport.send(message)
        except BaseException as exc:
            if self._pop_pending(request_id):
                if isinstance(exc, ConnectionClosed) and self._current_state() is _CLOSED:
                    raise self._closed_error() from exc
                raise
            # The connection was lost concurrently and the fan-out settled our reply.
            reply.outcome()
            raise
        self.stats["sent"] += 1
        return request_id, reply

    def send_notification(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        """Send a notification (no response).

        Raises:
            ConnectionClosed: the connection is closed.
            ForkedProcessError: the endpoint was made in a parent process.
        """
        self.check_process()
        if self._state is not _OPEN:
            raise self._closed_error()
        self._send(make_notification(method, params))

    def _send(self, message: Dict[str, Any]) -> None:
        self.check_process()  # never write to a parent's connection
        if self._wire.isEnabledFor(logging.DEBUG):
            self._wire.debug("-> %s", message)
        self._transport.send(message)
        self.stats["sent"] += 1

    def _send_quietly(self, message: Dict[str, Any]) -> None:
        """Send a response or courtesy notification; a closed connection is not an error."""
        try:
            self._send(message)
        except (TransportError, ForkedProcessError) as exc:
            logger.debug("'%s': could not send %s: %s", self.name, message.get("method") or "response", exc)
        except ValueError as exc:
            logger.error("'%s': response is not JSON-serialisable: %s", self.name, exc)
            if "id" in message:
                self._send_quietly(make_error(message["id"], ErrorCode.INTERNAL_ERROR, f"result is not JSON-serialisable: {exc}"))

    def _send_cancelled(self, request_id: RequestId, reason: str) -> None:
        if self._state is _OPEN:
            self._send_quietly(make_notification("notifications/cancelled", {"requestId": request_id, "reason": reason}))

    def _pop_pending(self, request_id: RequestId) -> bool:
        with self._lock:
            return self._pending.pop(request_id, None) is not None

    # ----------------------------------------------------------------------------- reading

    def _read_loop(self) -> None:
        # Thread idents are reused once a thread ends: this one is ours only while the loop runs.
        self._reader_ident = threading.get_ident()
        fatal: Optional[BaseException] = None
        receive = self._transport.receive
        wire = self._wire
        stats = self.stats
        try:
            while True:
                try:
                    value = receive()
                except InvalidMessage as exc:
                    self._invalid(str(exc))
                    continue
                if value is None:
                    break
                stats["received"] += 1
                if wire.isEnabledFor(logging.DEBUG):
                    wire.debug("<- %s", value)
                try:
                    if type(value) is RequestFailed:  # the transport lost this request, not the connection
                        self._fail_request(value.request_id, value.error)
                    elif isinstance(value, list):  # a batch (2025-03-26): dispatch each element
                        if not value:
                            self._invalid("empty batch")
                        for item in value:
                            self._dispatch(item)
                    else:
                        self._dispatch(value)
                except Exception as exc:  # one message the dispatcher chokes on never ends the connection
                    logger.exception("'%s': could not handle a message", self.name)
                    self._invalid(f"{type(exc).__name__}: {exc}")
        except TransportError as exc:  # MessageTooLarge included
            fatal = exc
        except BaseException as exc:  # a bug here must still fail the pending calls
            logger.exception("reader for '%s' failed", self.name)
            fatal = exc
        finally:
            try:
                self._connection_lost(fatal)
            finally:
                self._reader_ident = None

    def _invalid(self, reason: str) -> None:
        self.stats["invalid"] += 1
        count = self.stats["invalid"]
        if count <= _INVALID_WARNINGS:
            suffix = " (further ones are logged at DEBUG)" if count == _INVALID_WARNINGS else ""
            logger.warning("'%s' sent a line that is not JSON-RPC, ignored: %s%s", self.name, reason, suffix)
        else:
            logger.debug("'%s' sent a line that is not JSON-RPC, ignored: %s", self.name, reason)

    def _dispatch(self, value: Any) -> None:
        # Fast path for the common case, a well-formed success response: no message object.
        if type(value) is dict and "result" in value and "method" not in value:
            request_id = value.get("id")
            if type(request_id) is int:
                self._settle(request_id, value["result"], None)
                return
        try:
            message = classify(value)
        except InvalidMessage as exc:
            self._invalid(str(exc))
            if exc.request_id is not None:
                self._control.submit(self._send_quietly, make_error(exc.request_id, exc.code, str(exc)))
            return
        if isinstance(message, Response):
            self._settle(message.id, message.result, None)
        elif isinstance(message, ErrorResponse):
            if message.id is None:
                logger.warning(
                    "'%s' reported an error for a message it could not read: %s (%s)", self.name, message.message, message.code
                )
                return
            self._settle(message.id, None, message)
        elif isinstance(message, Request):
            self._on_request(message)
        else:
            self._on_notification(message)

    def _settle(self, request_id: RequestId, result: Any, error: Optional[ErrorResponse]) -> None:
        with self._lock:
            entry = self._pending.pop(request_id, None)
            # A peer that stringified our id (ours fit in 19 digits; int() refuses thousands).
            if (
                entry is None
                and isinstance(request_id, str)
                and len(request_id) < 20
                and request_id.isascii()
                and request_id.isdigit()
            ):
                entry = self._pending.pop(int(request_id), None)
        if entry is None:
            self.stats["dropped_responses"] += 1
            logger.debug("'%s': dropped a response for request %r (timed out, cancelled or unknown)", self.name, request_id)
            return
        reply, method, ordered = entry
        if error is None:
            if not (ordered and self._notifier.submit(reply.set_result, result, essential=True)):
                reply.set_result(result)
        else:
            exc = _remote_error(error, method, request_id, self.name)
            if not (ordered and self._notifier.submit(reply.set_exception, exc, essential=True)):
                reply.set_exception(exc)

    def _fail_request(self, request_id: RequestId, error: Exception) -> None:
        with self._lock:
            entry = self._pending.pop(request_id, None)
        if entry is None:
            logger.debug("'%s': dropped a transport failure for request %r: %s", self.name, request_id, error)
            return
        reply, _method, ordered = entry
        if not (ordered and self._notifier.submit(reply.set_exception, error, essential=True)):
            reply.set_exception(error)

    def _on_request(self, request: Request) -> None:
        if request.method == "ping":
            self._control.submit(self._send_quietly, make_result(request.id, {}))
            return
        inbound = InboundRequest(request.id, request.method, request.params or {})
        with self._lock:
            busy = len(self._inbound) >= MAX_INBOUND_REQUESTS
            if not busy:
                self._inbound[request.id] = inbound
        if busy:  # a peer sending requests faster than they are handled: refused, not queued
            text = f"busy: {MAX_INBOUND_REQUESTS} requests from this peer are already in progress; try again later"
            self._control.submit(self._send_quietly, make_error(request.id, ErrorCode.INTERNAL_ERROR, text))
            return
        if not self._handlers.submit(self._handle_request, inbound):
            with self._lock:
                self._inbound.pop(request.id, None)

    def _handle_request(self, request: InboundRequest) -> None:
        handler = self._request_handler
        try:
            if handler is None:
                raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {request.method}")
            response = make_result(request.id, handler(request))
        except JSONRPCError as exc:
            response = make_error(request.id, exc.code, exc.message, exc.data)
        except Exception as exc:
            logger.exception("'%s': handler for %s failed", self.name, request.method)
            response = make_error(request.id, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._inbound.pop(request.id, None)
        if request.cancelled.is_set():
            logger.debug("'%s': not answering cancelled request %r (%s)", self.name, request.id, request.method)
            return
        self._send_quietly(response)

    def _on_notification(self, notification: Notification) -> None:
        params = notification.params or {}
        if notification.method == "notifications/cancelled":
            request_id = params.get("requestId")
            inbound = None
            # Not a bool: ``true`` must not cancel request 1 (True == 1 as a key).
            if isinstance(request_id, (int, str)) and not isinstance(request_id, bool):
                with self._lock:
                    inbound = self._inbound.get(request_id)
            if inbound is not None:
                inbound.cancelled.set()
                logger.debug("'%s' cancelled its request %r: %s", self.name, request_id, params.get("reason"))
                return
            # Not one of the peer's requests: a 2026-07-28 server ends a subscriptions/listen
            # stream this way, which the notification handler recognises.
        handler = self._notification_handler
        if handler is not None:
            self._notifier.submit(handler, notification.method, params)

    # ----------------------------------------------------------------------------- EOF

    def _connection_lost(self, fatal: Optional[BaseException]) -> None:
        with self._lock:
            local = self._close_started
        if local:
            return  # close() already failed everything and stops the transport
        code, tail = self._transport.exit_details(EXIT_DETAILS_WAIT)
        if fatal is not None:
            reason = str(fatal)
        elif code is not None:
            reason = "the server exited"
        else:
            reason = "the server closed its output"
        details = (reason, code, tail)
        with self._lock:
            if self._close_started:
                return
            self._lost = details
            self._state = _CLOSED
            pending, self._pending = self._pending, {}
            inbound = list(self._inbound.values())
        for request in inbound:
            request.cancelled.set()
        self._fail(pending, details)
        # Marked, so a front end that reports the loss itself can leave this record out.
        marker = {"syncmcp_event": "connection_lost", "mcp_server": self.name}
        if code is None:
            logger.warning("MCP server '%s': %s", self.name, reason, extra=marker)
        else:
            logger.warning("MCP server '%s': %s (exit code %s)", self.name, reason, code, extra=marker)
        if self._on_lost is not None:
            self._notifier.submit(self._on_lost, self._closed_error())
        # Reap eagerly: a crashed server should not linger as a zombie until close().
        self._transport.close()

    def _fail(self, pending: Dict[RequestId, _Pending], details: Tuple[str, Optional[int], str]) -> None:
        reason, code, tail = details
        for reply, method, _ordered in pending.values():
            reply.set_exception(
                ConnectionClosed(f"{method} to MCP server '{self.name}' failed: {reason}", returncode=code, stderr_tail=tail)
            )


def _remote_error(error: ErrorResponse, method: str, request_id: RequestId, server: str) -> RemoteError:
    cls = URLElicitationRequired if error.code == ErrorCode.URL_ELICITATION_REQUIRED else RemoteError
    return cls(error.code, error.message, error.data, method=method, request_id=request_id, server=server)

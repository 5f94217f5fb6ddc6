"""Legacy Streamable HTTP sessions (``Mcp-Session-Id``): one server connection per client.

A session is a :class:`~syncmcp.server.ServerConnection` like a stdio client's, over a
:class:`SessionTransport` that HTTP requests feed: each POST hands its message to the
connection's reader, and what the connection sends is routed to a response stream:

* a response goes to the stream of the POST that carried its request;
* a notification or request a handler sends about its request (progress, logs, sampling,
  elicitation, roots) goes to that request's stream while it is open;
* anything else goes to the standalone GET stream, kept until a GET reads it.

Every stream keeps its recent events, so a client whose stream broke resumes it with a GET and
``Last-Event-ID``. Sessions end with ``DELETE``, after ``idle_timeout`` without requests, or
when the application closes.

Example::

    sessions = SessionStore(server, idle_timeout=3600, max_sessions=1000)
    session = sessions.create(claims=None, subject=None)
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._exceptions import TransportError
from .._jsonrpc import RequestId, make_notification
from .._workers import WorkerPool
from ._connection import ServerConnection
from ._context import RELATED_REQUEST
from ._sseout import Outbox

__all__ = ["Session", "SessionStore", "SessionTransport"]

logger = logging.getLogger("syncmcp.server")

#: The stream id of a session's standalone (GET) stream.
GET_STREAM = "get"
#: Seconds a session that never carried a request after ``initialize`` is kept.
_UNUSED_SESSION_TIMEOUT = 60.0
#: Finished streams a session keeps for resumption although no client read them to the end.
_KEPT_FINISHED_STREAMS = 100


class SessionTransport:
    """The transport under a session's connection: fed by HTTP requests, read by its endpoint.

    Args:
        name: for logs.
        history: events each stream keeps for resumption.
    """

    def __init__(self, name: str, *, history: int) -> None:
        self.name = name
        self._history = history
        self._cond = threading.Condition()
        self._inbound: List[Any] = []
        self._closed = False
        self._by_request: Dict[RequestId, Outbox] = {}
        self._streams: Dict[str, Outbox] = {}
        self._stream_ids = 0
        self.standalone = Outbox(GET_STREAM, expected=0, history=history)
        self._streams[GET_STREAM] = self.standalone

    # ------------------------------------------------------------------------- Transport

    def open(self) -> None:
        """Nothing to open: HTTP requests bring the messages."""

    def receive(self) -> Any:
        """The next client message, or ``None`` once the session ended."""
        with self._cond:
            while not self._inbound and not self._closed:
                self._cond.wait()
            if self._inbound:
                return self._inbound.pop(0)
            return None

    def send(self, message: Any) -> None:
        """Route a message of the server to its stream (see the module docs)."""
        if self._closed:
            raise TransportError(f"the HTTP session {self.name} has ended")
        if isinstance(message, dict) and "method" not in message and "id" in message:
            with self._cond:
                outbox = self._by_request.pop(message["id"], None)
            if outbox is not None:
                outbox.put(message, final=True)
                return
            logger.debug("session %s: a response for %r has no stream; sent on the GET stream", self.name, message["id"])
            self.standalone.put(message)
            return
        related = RELATED_REQUEST.get()
        outbox = None
        if related is not None:
            with self._cond:
                outbox = self._by_request.get(related)
        (outbox or self.standalone).put(message)

    def close(self) -> None:
        """End the session's streams and its reader; idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self.end_streams()

    def end_streams(self) -> None:
        """End every stream of the session now (its requests' answers will not come)."""
        with self._cond:
            streams = list(self._streams.values())
            self._by_request.clear()
        for outbox in streams:
            outbox.close()

    def exit_details(self, wait: float) -> Tuple[Optional[int], str]:
        """No process: no exit code, no stderr."""
        return None, ""

    # ------------------------------------------------------------------------- fed by HTTP

    @property
    def closed(self) -> bool:
        """Whether the session ended."""
        return self._closed

    def deliver(self, message: Any, request_ids: Sequence[RequestId] = ()) -> Optional[Outbox]:
        """Hand a client message (or a batch) to the connection; for requests, the stream of their answers.

        A ``notifications/cancelled`` also ends the cancelled request's stream without an answer:
        the connection never answers a cancelled request.

        Raises:
            TransportError: the session ended.
            ValueError: a request id is already in use in this session.
        """
        with self._cond:
            if self._closed:
                raise TransportError(f"the HTTP session {self.name} has ended")
            outbox = None
            if request_ids:
                taken = [request_id for request_id in request_ids if request_id in self._by_request]
                if taken or len(set(request_ids)) != len(request_ids):
                    raise ValueError(f"request id {(taken or list(request_ids))[0]!r} is already in use in this session")
                self._stream_ids += 1
                outbox = Outbox(str(self._stream_ids), expected=len(request_ids), history=self._history)
                for request_id in request_ids:
                    self._by_request[request_id] = outbox
                self._streams[outbox.stream_id] = outbox
                self._forget_finished()
            cancelled = [self._by_request.pop(request_id, None) for request_id in _cancelled_ids(message)]
            self._inbound.append(message)
            self._cond.notify()
        for stream in cancelled:
            if stream is not None:
                stream.forgo()  # the connection never answers a cancelled request
        return outbox

    @property
    def busy(self) -> bool:
        """Whether a request is waiting for its answer, or a client reads the GET stream."""
        return bool(self._by_request) or self.standalone.reading

    def abandon(self, *request_ids: Any) -> None:
        """Stop waiting for requests' answers: their handlers are told they were cancelled."""
        with self._cond:
            for request_id in request_ids:
                self._by_request.pop(request_id, None)
                if not self._closed:
                    params = {"requestId": request_id, "reason": "request_timeout"}
                    self._inbound.append(make_notification("notifications/cancelled", params))
            self._cond.notify()

    def stream(self, stream_id: str) -> Optional[Outbox]:
        """A stream of this session by id (to resume it)."""
        with self._cond:
            return self._streams.get(stream_id)

    def _forget_finished(self) -> None:
        """Drop streams read to their end, and the oldest finished ones past a bound (under the lock)."""
        kept = 0
        for stream_id, outbox in reversed(list(self._streams.items())):
            if stream_id == GET_STREAM or not outbox.finished:
                continue
            kept += 1
            if outbox.drained or kept > _KEPT_FINISHED_STREAMS:
                del self._streams[stream_id]


def _cancelled_ids(message: Any) -> List[Any]:
    """The request ids a message (or batch) cancels."""
    ids = []
    for item in message if isinstance(message, list) else (message,):
        if isinstance(item, dict) and item.get("method") == "notifications/cancelled":
            params = item.get("params")
            request_id = params.get("requestId") if isinstance(params, dict) else None
            if isinstance(request_id, (int, str)) and not isinstance(request_id, bool):
                ids.append(request_id)
    return ids


class Session:
    """One legacy client session.

    Attributes:
        id: the ``Mcp-Session-Id``.
        transport: its transport.
        connection: its server connection.
        subject: who opened it (with bearer authentication; later requests must be the same).
        requests: how many requests it carried after ``initialize``.
    """

    def __init__(self, session_id: str, transport: SessionTransport, connection: ServerConnection, subject: Any) -> None:
        self.id = session_id
        self.transport = transport
        self.connection = connection
        self.subject = subject
        self.requests = 0
        self.last_used = time.monotonic()

    def touch(self, claims: Optional[Mapping[str, Any]]) -> None:
        """Mark the session used now, by a request with these claims."""
        self.last_used = time.monotonic()
        self.requests += 1
        if claims is not None:
            self.connection.auth = claims

    def idle_for(self, now: float) -> float:
        """Seconds since its last request, ``0`` while it is busy (a request running, a GET stream read)."""
        return 0.0 if self.transport.busy else now - self.last_used

    def close(self, timeout: float) -> None:
        """End the session: streams end, running handlers are cancelled."""
        self.transport.end_streams()
        self.connection.close(timeout)
        self.transport.close()


class SessionStore:
    """The open sessions of one application, with idle expiry and a bound on their number.

    When the store is full, the least recently used idle session makes room; only when every
    session is busy is a new one refused. A session that never carried a request after
    ``initialize`` expires after a minute. Sessions end off the requests' threads.

    Args:
        host: the server (its ``connect`` serves each session's connection).
        idle_timeout: seconds without a request after which a session ends (``None``: never).
        max_sessions: most sessions at once.
        history: events each stream keeps for resumption.
        close_timeout: seconds an ending session's handlers get to finish.
    """

    def __init__(
        self, host: Any, *, idle_timeout: Optional[float], max_sessions: int, history: int = 1000, close_timeout: float = 5.0
    ) -> None:
        self._host = host
        self._idle_timeout = idle_timeout
        self._max_sessions = max_sessions
        self._history = history
        self._close_timeout = close_timeout
        self._lock = threading.Lock()
        self._sessions: Dict[str, Optional[Session]] = {}  # None: being created
        self._last_sweep = time.monotonic()
        self._closer = WorkerPool("syncmcp-http-sessions", 1, idle_timeout=5.0)

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for session in self._sessions.values() if session is not None)

    def create(self, claims: Optional[Mapping[str, Any]], subject: Any) -> Optional[Session]:
        """A new session, or ``None`` when the store is full of busy sessions."""
        self.sweep()
        evicted: Optional[Session] = None
        with self._lock:
            if len(self._sessions) >= self._max_sessions:
                now = time.monotonic()
                idle = [s for s in self._sessions.values() if isinstance(s, Session) and s.idle_for(now) > 0]
                if not idle:
                    return None
                evicted = max(idle, key=lambda session: session.idle_for(now))
                del self._sessions[evicted.id]
            session_id = secrets.token_hex(16)
            self._sessions[session_id] = None
        if evicted is not None:
            logger.info("HTTP session %s ended to make room for a new one (max_sessions)", evicted.id[:8])
            self._end_later([evicted])
        transport = SessionTransport(f"http-{session_id[:8]}", history=self._history)
        try:
            connection = self._host.connect(transport, name=f"http-{session_id[:8]}", on_closed=lambda: self._forget(session_id))
        except BaseException:
            with self._lock:
                self._sessions.pop(session_id, None)
            raise
        connection.auth = claims
        session = Session(session_id, transport, connection, subject)
        with self._lock:
            self._sessions[session_id] = session
        return session

    def get(self, session_id: str) -> Optional[Session]:
        """The open session with this id."""
        self.sweep()
        with self._lock:
            session = self._sessions.get(session_id)
        return session if isinstance(session, Session) and not session.transport.closed else None

    def end(self, session_id: str) -> bool:
        """End a session (``DELETE``); ``False`` when there is none."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if not isinstance(session, Session):
            return False
        session.close(self._close_timeout)
        return True

    def _forget(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.get(session_id)
            if isinstance(session, Session):
                del self._sessions[session_id]
        if isinstance(session, Session):
            session.transport.close()

    def sweep(self) -> None:
        """End idle sessions (at most every few seconds; on a worker, not the request's thread)."""
        now = time.monotonic()
        if now - self._last_sweep < 5.0 and (self._idle_timeout is None or now - self._last_sweep < self._idle_timeout / 2):
            return
        self._last_sweep = now
        unused = _UNUSED_SESSION_TIMEOUT if self._idle_timeout is None else min(_UNUSED_SESSION_TIMEOUT, self._idle_timeout)
        with self._lock:
            expired = []
            for session in self._sessions.values():
                if not isinstance(session, Session):
                    continue
                idle = session.idle_for(now)
                if (self._idle_timeout is not None and idle > self._idle_timeout) or (session.requests == 0 and idle > unused):
                    expired.append(session)
            for session in expired:
                del self._sessions[session.id]
        for session in expired:
            logger.info("HTTP session %s ended after %.0f s without requests", session.id[:8], now - session.last_used)
        if expired:
            self._end_later(expired)

    def _end_later(self, sessions: List[Session]) -> None:
        for session in sessions:
            session.transport.end_streams()  # its streams end now; its handlers are told on the worker
            if not self._closer.submit(session.close, self._close_timeout):
                session.close(self._close_timeout)

    def close(self) -> None:
        """End every session, all at once (one shared deadline for their handlers)."""
        with self._lock:
            sessions = [s for s in self._sessions.values() if isinstance(s, Session)]
            self._sessions.clear()
        for session in sessions:
            session.transport.end_streams()
        closers = [threading.Thread(target=s.close, args=(self._close_timeout,), name="syncmcp-http-close") for s in sessions]
        for thread in closers:
            thread.start()
        deadline = time.monotonic() + self._close_timeout + 1.0
        for thread in closers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._closer.shutdown(deadline)

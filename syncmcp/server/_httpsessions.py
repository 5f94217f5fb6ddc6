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
    session = sessions.create(claims=None)
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._exceptions import TransportError
from .._jsonrpc import RequestId, make_error, make_notification
from ._connection import ServerConnection
from ._context import RELATED_REQUEST
from ._sseout import Outbox

__all__ = ["Session", "SessionStore", "SessionTransport"]

logger = logging.getLogger("syncmcp.server")

#: The stream id of a session's standalone (GET) stream.
GET_STREAM = "get"
#: The error that ends the stream of a request its client cancelled (nobody reads it).
REQUEST_CANCELLED = -32800
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
            streams = list(self._streams.values())
            self._by_request.clear()
            self._cond.notify_all()
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

        A ``notifications/cancelled`` also ends the cancelled request's stream: the connection
        never answers a cancelled request.

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
            for item in message if isinstance(message, list) else (message,):
                if isinstance(item, dict) and item.get("method") == "notifications/cancelled":
                    self._end_cancelled(item.get("params"))
            self._inbound.append(message)
            self._cond.notify()
            return outbox

    def _end_cancelled(self, params: Any) -> None:
        """End the stream of a request the client cancelled (under the lock)."""
        request_id = params.get("requestId") if isinstance(params, dict) else None
        if not isinstance(request_id, (int, str)):
            return
        outbox = self._by_request.pop(request_id, None)
        if outbox is not None:
            reason = params.get("reason") if isinstance(params, dict) else None
            text = f"the client cancelled the request: {reason}" if reason else "the client cancelled the request"
            outbox.put(make_error(request_id, REQUEST_CANCELLED, text), final=True)

    def abandon(self, request_id: Any) -> None:
        """Stop waiting for a request's answer: its handler is told it was cancelled."""
        with self._cond:
            self._by_request.pop(request_id, None)
            if self._closed:
                return
            self._inbound.append(
                make_notification("notifications/cancelled", {"requestId": request_id, "reason": "request_timeout"})
            )
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


class Session:
    """One legacy client session.

    Attributes:
        id: the ``Mcp-Session-Id``.
        transport: its transport.
        connection: its server connection.
        subject: the ``sub`` claim of the token that opened it (later requests must match).
    """

    def __init__(self, session_id: str, transport: SessionTransport, connection: ServerConnection, subject: Any) -> None:
        self.id = session_id
        self.transport = transport
        self.connection = connection
        self.subject = subject
        self.last_used = time.monotonic()

    def touch(self, claims: Optional[Mapping[str, Any]]) -> None:
        """Mark the session used now, by a request with these claims."""
        self.last_used = time.monotonic()
        if claims is not None:
            self.connection.auth = claims

    def close(self, timeout: float) -> None:
        """End the session: running handlers are cancelled, streams end."""
        self.connection.close(timeout)
        self.transport.close()


class SessionStore:
    """The open sessions of one application, with idle expiry and a bound on their number.

    Args:
        host: the server (its ``connect`` serves each session's connection).
        idle_timeout: seconds without a request after which a session ends (``None``: never).
        max_sessions: most sessions at once; a new one beyond it is refused.
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

    def __len__(self) -> int:
        with self._lock:
            return sum(1 for session in self._sessions.values() if session is not None)

    def create(self, claims: Optional[Mapping[str, Any]]) -> Optional[Session]:
        """A new session, or ``None`` when the limit is reached."""
        self.sweep()
        with self._lock:
            if len(self._sessions) >= self._max_sessions:
                return None
            session_id = secrets.token_hex(16)
            self._sessions[session_id] = None
        transport = SessionTransport(f"http-{session_id[:8]}", history=self._history)
        try:
            connection = self._host.connect(transport, name=f"http-{session_id[:8]}", on_closed=lambda: self._forget(session_id))
        except BaseException:
            with self._lock:
                self._sessions.pop(session_id, None)
            raise
        connection.auth = claims
        session = Session(session_id, transport, connection, (claims or {}).get("sub"))
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
        """End sessions idle past the timeout (at most every few seconds, on the requests' threads)."""
        if self._idle_timeout is None:
            return
        now = time.monotonic()
        if now - self._last_sweep < min(5.0, self._idle_timeout / 2):
            return
        self._last_sweep = now
        with self._lock:
            expired = [s for s in self._sessions.values() if isinstance(s, Session) and now - s.last_used > self._idle_timeout]
            for session in expired:
                del self._sessions[session.id]
        for session in expired:
            logger.info("HTTP session %s ended after %g s without requests", session.id[:8], self._idle_timeout)
            session.close(self._close_timeout)

    def close(self) -> None:
        """End every session."""
        with self._lock:
            sessions = [s for s in self._sessions.values() if isinstance(s, Session)]
            self._sessions.clear()
        for session in sessions:
            session.close(self._close_timeout)

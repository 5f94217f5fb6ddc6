"""The legacy-era (2025-03-26 … 2025-11-25) session of a Streamable HTTP connection.

A legacy server may give the connection a session in its answer to ``initialize``: the
``Mcp-Session-Id`` is then echoed on every later request, with the negotiated
``MCP-Protocol-Version``. :class:`LegacySession` owns that state and what keeps it alive:

* the stored ``initialize``, sent again (once per lost session, by whichever request noticed the
  loss first; the others wait for it) when the server answers 404, or 400 naming the session,
  to a request that carried the session id; ``notifications/initialized`` follows;
* after ``notifications/initialized``, the standalone ``GET`` stream (``syncmcp-http-get[<name>]``)
  that carries the server's own requests and notifications: reconnected after it ends (with
  ``Last-Event-ID`` once the server's ``retry`` delay has passed), backed off after failures,
  given up on ``405``; each (re)start is a new generation, and a stream of an older generation,
  or of a stopped session, ends (a ``GET`` still waiting for its response head is aborted);
* what a new session must be told again: the resource subscriptions and the log level this
  session asked for are repeated after a re-initialization, and the session above learns (as
  ``list_changed`` notifications) that the server's lists may differ;
* the ``DELETE`` that ends the session on close.

Requests are sent through the transport's callables; the messages the stream carries go to the
:class:`~syncmcp._httpexchange.ResponseReader`.

Example::

    session = LegacySession(url, name="remote", headers=headers, auth=None, ack_timeout=30.0,
                            max_message_size=2**24, proxies=proxies, ssl_context=None, send=send,
                            post_own=post_own, post_at_once=post_at_once, reader=reader)
    session.on_initialized()
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

from ._auth import Auth
from ._exceptions import AuthenticationRequired, HTTPError, MessageTooLarge, TransportError
from ._httpexchange import DEFAULT_RECONNECT_DELAY, ErrorBody, OnPending, ResponseReader, Send
from ._httpwire import ConnectionPool, Headers, HttpRequest, HttpResponse, ProxySettings
from ._jsonrpc import encode_message
from ._sse import SSEDecoder

__all__ = ["DELETE_TIMEOUT", "LegacySession"]

logger = logging.getLogger("syncmcp.http")

#: How long ``close`` waits for the server to acknowledge ``DELETE``.
DELETE_TIMEOUT = 2.0
#: The cap of the standalone stream's reconnection delay after failures.
MAX_RECONNECT_DELAY = 30.0


class LegacySession:
    """The ``Mcp-Session-Id`` of one connection, its re-initialization, its ``GET`` stream, its ``DELETE``.

    Thread-safe. One lock (never held across I/O, a callback or another lock) guards the state.

    Args:
        url: the MCP endpoint.
        name: the server's name, for thread names, logs and errors.
        headers: headers for every request (static configuration).
        auth: the transport's credentials (the ``DELETE`` uses current ones only).
        ack_timeout: how long a re-initialization waits for one started by another thread.
        max_message_size: the largest event accepted on the ``GET`` stream.
        proxies: the transport's proxy settings (for the ``DELETE``).
        ssl_context: the transport's TLS settings (for the ``DELETE``).
        send: how to send a request (the ``GET`` stream).
        post_own: ``post_own(method, body)``: ``POST`` a request of the transport's own (the
            repeated ``initialize``) with this session's headers; returns its response.
        post_at_once: ``post_at_once(message, body)``: post a notification, which must be accepted.
        reader: reads the answer to ``initialize`` and delivers what the ``GET`` stream carries.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        headers: Headers,
        auth: Optional[Auth],
        ack_timeout: float,
        max_message_size: int,
        proxies: ProxySettings,
        ssl_context: Any,
        send: Send,
        post_own: Callable[[str, bytes], HttpResponse],
        post_at_once: Callable[[Mapping[str, Any], bytes], None],
        reader: ResponseReader,
    ) -> None:
        self.url = url
        self.name = name
        self._headers = headers
        self._auth = auth
        self._ack_timeout = ack_timeout
        self._max = max_message_size
        self._proxies = proxies
        self._ssl_context = ssl_context
        self._send = send
        self._post_own = post_own
        self._post_at_once = post_at_once
        self._reader = reader
        self._lock = threading.Lock()
        self._stopped = False
        self._stopping = threading.Event()  # set by stop(): wakes the GET stream's back-off
        self._session_id: Optional[str] = None
        self._protocol_version: Optional[str] = None
        self._initialize: Optional[Dict[str, Any]] = None
        self._initialized = False
        self._reinit: Optional[threading.Event] = None
        self._reinit_ids = itertools.count(1)
        self._ending_session: Optional[str] = None  # the session id stop() found: end() deletes it
        self._subscriptions: Dict[str, None] = {}  # resources/subscribe URIs, in order, to repeat
        self._log_level: Optional[str] = None  # the last logging/setLevel, to repeat
        self._stream_given_up = False  # the server offers no GET stream (405, or another refusal)
        # The standalone GET stream.
        self._generation = 0
        self._thread: Optional[threading.Thread] = None
        self._response: Optional[HttpResponse] = None
        self._abort: Optional[Callable[[], None]] = None  # while the GET waits for its response head

    @property
    def session_id(self) -> Optional[str]:
        """The ``Mcp-Session-Id`` the server gave, if any."""
        return self._session_id

    def add_headers(self, headers: Headers, method: str) -> None:
        """Add the session's headers to a legacy ``POST`` of ``method``."""
        if self._protocol_version is not None:
            headers.add("MCP-Protocol-Version", self._protocol_version)
        if self._session_id is not None and method != "initialize":
            headers.add("Mcp-Session-Id", self._session_id)

    def stream_headers(self) -> Headers:
        """The headers of a ``GET`` for an event stream of this session."""
        headers = self._headers.copy()
        headers["Accept"] = "text/event-stream"
        if self._protocol_version is not None:
            headers["MCP-Protocol-Version"] = self._protocol_version
        if self._session_id is not None:
            headers["Mcp-Session-Id"] = self._session_id
        return headers

    @property
    def initialized_once(self) -> bool:
        """Whether this connection sent ``initialize`` (it is a legacy-era one)."""
        return self._initialize is not None

    @property
    def stream_available(self) -> bool:
        """Whether the server's own messages can arrive on a ``GET`` stream (open, or to be opened)."""
        return not (self._stream_given_up or self._stopped)

    def remember_initialize(self, message: Dict[str, Any]) -> None:
        """Keep the session's ``initialize``: it is sent again if the session is lost."""
        with self._lock:
            self._initialize = message

    def note_request(self, method: str, params: Any) -> None:
        """Remember what a new session would have to be told again (subscriptions, log level)."""
        value = params.get("uri") if isinstance(params, Mapping) and method != "logging/setLevel" else None
        with self._lock:
            if method == "resources/subscribe" and isinstance(value, str):
                self._subscriptions[value] = None
            elif method == "resources/unsubscribe" and isinstance(value, str):
                self._subscriptions.pop(value, None)
            elif method == "logging/setLevel" and isinstance(params, Mapping) and isinstance(params.get("level"), str):
                self._log_level = params["level"]

    def adopt(self, response: HttpResponse) -> None:
        """Take the session id of a successful answer to ``initialize`` (none: no session)."""
        session_id = response.headers.get("mcp-session-id")
        if session_id is not None and not (session_id.isascii() and session_id.isprintable() and session_id.strip()):
            logger.warning("'%s' sent an invalid Mcp-Session-Id; ignored", self.name)
            session_id = None
        with self._lock:
            self._session_id = session_id

    def note_initialize_result(self, result: Dict[str, Any]) -> None:
        """Take the protocol version the server chose in its ``initialize`` result."""
        version = result.get("protocolVersion")
        with self._lock:
            self._protocol_version = version if isinstance(version, str) else None

    def lost(self, error: ErrorBody, request: HttpRequest) -> bool:
        """Whether an error means the server forgot the session the request carried.

        404 is what the spec says; many servers built on the TypeScript SDK's example answer 400
        "No valid session ID provided" instead.
        """
        if request.headers.get("Mcp-Session-Id") is None or self._initialize is None:
            return False
        if error.status == 404:
            return True
        detail = str(error.error.get("message", "")) if error.error else error.text
        return error.status == 400 and "session" in detail.lower()

    def reinitialize(self, failed_session: Optional[str]) -> None:
        """Start a new session (``initialize`` + ``initialized``) unless another thread already did.

        Raises:
            HTTPError: the server refused the new ``initialize`` or its ``initialized``.
            AuthenticationRequired: the server wants credentials the transport cannot provide.
        """
        with self._lock:
            if self._session_id != failed_session or self._stopped:
                waiting = self._reinit
                claimed = False
            elif self._reinit is not None:
                waiting, claimed = self._reinit, False
            else:
                waiting = self._reinit = threading.Event()
                claimed = True
                initialize = self._initialize
                # The old id stays until the new one is adopted: a request sent meanwhile carries it,
                # gets 404 and waits for this re-initialization (without any id: a 400, and a failure).
                self._generation += 1
                get_response, self._response = self._response, None
                abort_get, self._abort = self._abort, None
        if not claimed:
            if waiting is not None:
                waiting.wait(self._ack_timeout * 2)  # bounded: the claimer's own requests are
            return
        _stop_get(abort_get, get_response)
        logger.info("MCP server '%s' lost the session; initializing a new one", self.name)
        try:
            assert initialize is not None
            message = dict(initialize)
            message["id"] = f"syncmcp-reinit-{next(self._reinit_ids)}"
            body = encode_message(message)[:-1]
            response = self._post_own("initialize", body)
            if not 200 <= response.status < 300:
                raise self._reader.status_error(f"re-initializing MCP server '{self.name}'", ErrorBody(response))
            self.adopt(response)
            result = self._reader.own_result(response, message["id"])
            version = result.get("protocolVersion") if isinstance(result, dict) else None
            with self._lock:
                self._protocol_version = version if isinstance(version, str) else self._protocol_version
            notification = encode_message({"jsonrpc": "2.0", "method": "notifications/initialized"})[:-1]
            # Never itself re-initializing: a server that loses this session too fails this call.
            self._post_at_once({"jsonrpc": "2.0", "method": "notifications/initialized"}, notification)
        finally:
            with self._lock:
                event, self._reinit = self._reinit, None
            if event is not None:
                event.set()
        self._start_stream()
        self._restore()

    def _restore(self) -> None:
        """Tell a new session what the lost one was told, and the session above that lists may differ."""
        with self._lock:
            uris = list(self._subscriptions)
            level = self._log_level
        repeats = [("resources/subscribe", {"uri": uri}) for uri in uris]
        if level is not None:
            repeats.append(("logging/setLevel", {"level": level}))
        for method, params in repeats:
            request_id = f"syncmcp-restore-{next(self._reinit_ids)}"
            body = encode_message({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})[:-1]
            try:
                response = self._post_own(method, body)
                if 200 <= response.status < 300:
                    self._reader.own_result(response, request_id)
                else:
                    ErrorBody(response)
                    logger.warning(
                        "MCP server '%s': %s was not repeated in the new session (HTTP %s)", self.name, method, response.status
                    )
            except TransportError as exc:
                logger.warning("MCP server '%s': %s was not repeated in the new session: %s", self.name, method, exc)
        for kind in ("tools", "prompts", "resources"):
            self._reader.deliver({"jsonrpc": "2.0", "method": f"notifications/{kind}/list_changed"}, None)

    def on_initialized(self) -> None:
        """``notifications/initialized`` was accepted: open the standalone ``GET`` stream."""
        with self._lock:
            self._initialized = True
            self._stream_given_up = False
        self._start_stream()

    def stop(self) -> None:
        """The transport is closing: end the ``GET`` stream and start nothing more (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            self._generation += 1
            response, self._response = self._response, None
            abort_get, self._abort = self._abort, None
            self._ending_session = self._session_id
        self._stopping.set()
        _stop_get(abort_get, response)

    def end(self) -> None:
        """After :meth:`stop`: ``DELETE`` the session, if any (current credentials only)."""
        with self._lock:
            session_id, self._ending_session = self._ending_session, None
        if session_id is not None:
            self._delete(session_id)

    def join(self, deadline: float) -> None:
        """After :meth:`stop`: wait until ``deadline`` (``time.monotonic()``) for the stream's thread."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))

    def _delete(self, session_id: str) -> None:
        headers = self._headers.copy()
        headers["Mcp-Session-Id"] = session_id
        if self._protocol_version is not None:
            headers["MCP-Protocol-Version"] = self._protocol_version
        request = HttpRequest("DELETE", self.url, headers)
        # Current credentials only: a refused DELETE is not worth a refresh, let alone a login, and
        # close() must never wait for one.
        if self._auth is not None and not self._auth.authorize_now(request):
            logger.debug("'%s': no current credentials for the DELETE of the session; not sent", self.name)
            return
        pool = ConnectionPool(connect_timeout=DELETE_TIMEOUT, proxies=self._proxies, ssl_context=self._ssl_context)
        try:
            with pool.send(request, read_timeout=DELETE_TIMEOUT) as response:
                logger.debug("'%s': DELETE of the session -> %s", self.name, response.status)
        except (TransportError, OSError) as exc:
            logger.debug("'%s': DELETE of the session failed: %s", self.name, exc)
        finally:
            pool.close()

    # ----------------------------------------------------------------------------- the standalone stream

    def _start_stream(self) -> None:
        with self._lock:
            if self._stopped or not self._initialized:
                return
            self._generation += 1
            generation = self._generation
            previous = self._thread
            thread = threading.Thread(
                target=self._stream_loop, args=(generation,), name=f"syncmcp-http-get[{self.name}]", daemon=True
            )
            self._thread = thread
        if previous is not None and previous is not threading.current_thread():
            previous.join(1.0)
        thread.start()

    def _current(self, generation: int) -> bool:
        return not self._stopped and generation == self._generation

    def _stream_wait(self, generation: int, delay: float) -> bool:
        """Wait before the GET stream reconnects; ``True`` when it should end instead (closed, or superseded)."""
        return not self._current(generation) or self._stopping.wait(delay)

    def _get_pending(self, generation: int) -> OnPending:
        """The ``on_pending`` of a GET stream request: a GET of a stream superseded or closed is aborted."""
        mine: List[Callable[[], None]] = []

        def pending(abort: Optional[Callable[[], None]]) -> None:
            with self._lock:
                if abort is None:
                    if mine and self._abort is mine[0]:
                        self._abort = None
                    mine.clear()
                    return
                if self._current(generation):
                    mine[:] = [abort]
                    self._abort = abort
                    return
            abort()  # superseded or stopped meanwhile

        return pending

    def _stream_loop(self, generation: int) -> None:
        """Keep the server's own stream open: reconnect after it ends, back off after failures."""
        last_event_id: Optional[str] = None
        retry_ms: Optional[int] = None
        failures = 0
        while self._current(generation):
            headers = self.stream_headers()
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            try:
                request = HttpRequest("GET", self.url, headers, replayable=True)
                response = self._send(request, None, self._get_pending(generation))
            except AuthenticationRequired as exc:
                logger.warning("MCP server '%s': no stream for server messages: %s", self.name, exc)
                self._stream_given_up = True
                return
            except HTTPError as exc:
                failures += 1
                logger.debug("'%s': the GET stream failed: %s", self.name, exc)
                if self._stream_wait(generation, _backoff(retry_ms, failures)):
                    return
                continue
            with self._lock:
                current = self._current(generation)
                if current:
                    self._response = response
            if not current:
                response.close()
                return
            if response.status == 405:
                response.close()
                logger.debug("'%s' offers no stream for server messages (405)", self.name)
                self._stream_given_up = True
                return
            if response.status >= 500:
                ErrorBody(response)
                failures += 1
                if self._stream_wait(generation, _backoff(retry_ms, failures)):
                    return
                continue
            if response.status != 200 or response.content_type != "text/event-stream":
                error = ErrorBody(response)
                logger.debug("'%s': no stream for server messages: HTTP %s %s", self.name, error.status, error.text)
                self._stream_given_up = True
                return
            decoder = SSEDecoder(self._max)
            got_events = False
            try:
                for chunk in response.iter_bytes():
                    for event in decoder.feed(chunk):
                        got_events = True
                        if event.event in ("message", ""):
                            self._reader.deliver_event(event.data, None)
            except (HTTPError, MessageTooLarge) as exc:
                logger.debug("'%s': the GET stream broke: %s", self.name, exc)
            finally:
                response.close()
            last_event_id = decoder.last_event_id or last_event_id
            retry_ms = decoder.retry_ms if decoder.retry_ms is not None else retry_ms
            failures = 0 if got_events or decoder.last_event_id else failures + 1
            if self._stream_wait(generation, _backoff(retry_ms, failures)):
                return


def _backoff(retry_ms: Optional[int], failures: int) -> float:
    base = retry_ms / 1000.0 if retry_ms is not None else DEFAULT_RECONNECT_DELAY
    if failures <= 1:
        return base
    return float(min(MAX_RECONNECT_DELAY, max(base, DEFAULT_RECONNECT_DELAY) * 2 ** (failures - 1)))


def _stop_get(abort: Optional[Callable[[], None]], response: Optional[HttpResponse]) -> None:
    """End a ``GET`` stream: abort it while it waits for its head, else close its response (no lock held)."""
    if abort is not None:
        abort()
    if response is not None:
        response.close()

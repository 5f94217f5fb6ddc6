"""The Streamable HTTP transport (MCP 2025-03-26 … 2026-07-28), with the HTTP+SSE fallback.

:class:`HttpTransport` puts remote servers behind the same blocking interface as a child
process: ``send`` one message, ``receive`` the next one, ``close``. The endpoint and session above
it do not know HTTP. How the pieces map:

* Every message is its own ``POST``. Requests are exchanged on worker threads
  (``syncmcp-http[<name>]``), so a slow answer never blocks the caller; notifications and answers
  to the server's requests are posted on the caller's thread, in order, and must be accepted
  (``202``) promptly (``notifications/cancelled`` excepted: a courtesy, posted on a worker, so that
  a timeout still holds against a server that accepts nothing). Each response, a JSON body or an
  SSE stream of related messages ending with the response, feeds ``receive()``. A request that
  fails in HTTP terms (an error status, a stream cut before the answer, a login needed) reaches
  the endpoint as a :class:`~syncmcp._transport.RequestFailed` and fails that call alone.
* Legacy era (``initialize``): the ``Mcp-Session-Id`` of the ``initialize`` answer is echoed on
  every later request, with ``MCP-Protocol-Version``; after ``notifications/initialized`` a
  standalone ``GET`` stream (``syncmcp-http-get[<name>]``) carries the server's own requests and
  notifications (``405``: the server has none); a stream cut after an event id is resumed with
  ``GET`` + ``Last-Event-ID`` once the server's ``retry`` delay has passed; a ``404`` for a request
  that carried a session id means the session is gone: the transport sends ``initialize`` again
  (once) and retries; ``close`` sends ``DELETE``.
* Modern era (2026-07-28, recognised by the ``_meta`` envelope the session puts on each request):
  no session; ``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name`` and ``Mcp-Param-*`` headers
  mirror the body; tools with invalid ``x-mcp-header`` annotations are dropped from listings;
  cancelling closes the request's stream; a ``HeaderMismatch`` (-32020) re-lists the tools once
  and retries.
* A server that refuses the ``POST`` of ``initialize`` with 400, 404 or 405 (and no modern
  JSON-RPC error) is tried as a 2024-11-05 HTTP+SSE server (:mod:`syncmcp._sselegacy`), as is
  every server configured with ``mode="sse"``.
* ``initialize`` and listings are retried on 408, 429, 502, 503 and 504 (``Retry-After``
  honoured, bounded); a tool call is never sent twice.

The transport keeps the interface, the table of requests in flight and the routing between its
parts, which own their state: :mod:`syncmcp._httpexchange` (a request in flight, reading its
answer), :mod:`syncmcp._httpsession` (the legacy session, its ``GET`` stream, its ``DELETE``),
:mod:`syncmcp._toolheaders` (the ``Mcp-Param-*`` headers), :mod:`syncmcp._sselegacy`
(HTTP+SSE) and :mod:`syncmcp._httpworkers` (the threads).

Credentials come from an :class:`~syncmcp.Auth` (a bearer token, OAuth) and static headers;
neither is ever logged or put in an error message.

Example::

    transport = HttpTransport("https://mcp.example.com/mcp", headers={"X-Tenant": "acme"})
    with syncmcp.ClientSession(transport) as session:
        print([tool.name for tool in session.list_tools()])
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any, Dict, Optional, Tuple

from ._auth import Auth, drive_auth_flow
from ._config import HTTP_MODES
from ._era import META_PROTOCOL_VERSION
from ._exceptions import ConnectionClosed, HTTPError, MessageTooLarge, TransportError
from ._httpexchange import ErrorBody, Exchange, OnPending, ResponseReader, for_request
from ._httpsession import DELETE_TIMEOUT, LegacySession
from ._httpwire import DEFAULT_CONNECT_TIMEOUT, ConnectionPool, Headers, HttpRequest, HttpResponse, ProxySettings, redact_url
from ._httpworkers import Unanswered, request_workers
from ._jsonrpc import ErrorCode, encode_message
from ._mcpheaders import mirrored_headers
from ._sselegacy import LegacySSEChannel
from ._toolheaders import ToolHeaders
from ._transport import DEFAULT_MAX_MESSAGE_SIZE, RequestFailed

__all__ = ["DEFAULT_ACK_TIMEOUT", "HttpTransport", "is_reserved_header"]

logger = logging.getLogger("syncmcp.http")

#: Seconds a notification or an answer may take to be accepted (they are posted on the caller's thread).
DEFAULT_ACK_TIMEOUT = 30.0
#: Statuses after which ``initialize`` and listings are sent again.
RETRY_STATUSES = (408, 429, 502, 503, 504)
#: Methods that are safe to send again (they change nothing on the server).
RETRYABLE_METHODS = frozenset(
    {"initialize", "server/discover", "ping", "tools/list", "prompts/list", "resources/list", "resources/templates/list"}
)
#: Delays before the retries of a retryable request when the server gives no ``Retry-After``.
RETRY_DELAYS = (0.25, 1.0)
#: The longest ``Retry-After`` honoured (a longer one is cut to this).
MAX_RETRY_DELAY = 30.0
#: Most seconds one read of the body of an accepted notification or answer may wait.
_ACK_DRAIN_SECONDS = 0.5
#: Most seconds any one read of a request the auth flow sends (authorization server metadata,
#: registration, token) may wait.
SIDE_READ_TIMEOUT = 30.0
#: Headers the transport sets itself: configuring them is an error.
_RESERVED_HEADERS = frozenset(
    {"content-type", "accept", "content-length", "host", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name"}
)


class _Ended:
    """Put in the inbox when the HTTP+SSE event stream ends: ``receive`` raises with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class HttpTransport:
    """An MCP server at a URL: Streamable HTTP (both eras), or HTTP+SSE (2024-11-05).

    Nothing is sent until the session's first message; the transport is safe to share between
    threads like every transport.

    Args:
        url: the MCP endpoint (``https://…/mcp``), or the SSE URL of an HTTP+SSE server.
        name: the server's name, for thread names, logs and errors.
        headers: headers sent with every request (``http_headers``, ``env_http_headers``).
        auth: credentials: a :class:`~syncmcp.BearerAuth`, an :class:`~syncmcp.OAuth`, or ``None``.
        mode: ``"auto"`` (Streamable HTTP, falling back to HTTP+SSE when the server refuses the
            ``POST`` of ``initialize``), ``"streamable_http"`` (never fall back) or ``"sse"``.
        connect_timeout: seconds to connect (TCP, proxy tunnel, TLS).
        read_timeout: most seconds a response may stay silent (``None``: no limit; each request's
            own timeout still applies above the transport).
        ack_timeout: seconds a notification or an answer may take to be accepted.
        max_message_size: the largest message accepted, in bytes.
        proxies: proxy settings; default: ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``NO_PROXY``.
        ssl_context: TLS settings; default: the system trust store (``SSL_CERT_FILE`` honoured).

    Example::

        transport = HttpTransport("https://mcp.example.com/mcp", auth=syncmcp.BearerAuth(token))
    """

    def __init__(
        self,
        url: str,
        *,
        name: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        auth: Optional[Auth] = None,
        mode: str = "auto",
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: Optional[float] = None,
        ack_timeout: float = DEFAULT_ACK_TIMEOUT,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        proxies: Optional[ProxySettings] = None,
        ssl_context: Any = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an MCP server URL must be http:// or https://, got {redact_url(url)!r}")
        if mode not in HTTP_MODES:
            raise ValueError(f"mode must be one of {', '.join(HTTP_MODES)}, got {mode!r}")
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self.url = url.split("#", 1)[0]
        self.name = name or parts.hostname
        self.mode = mode
        self.auth = auth
        self.read_timeout = read_timeout
        self.ack_timeout = ack_timeout
        self.max_message_size = max_message_size
        self._headers = Headers(headers or {})
        for header, _ in self._headers.items():
            if is_reserved_header(header):
                raise ValueError(f"the {header.lower()} header is set by the transport and cannot be configured")
        # Every POST starts from these; the per-request headers are appended to a copy.
        self._post_headers = self._headers.copy()
        self._post_headers.add("Content-Type", "application/json")
        self._post_headers.add("Accept", "application/json, text/event-stream")
        self._pool = ConnectionPool(connect_timeout=connect_timeout, proxies=proxies, ssl_context=ssl_context)
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._closed_event = threading.Event()  # set when close() has finished
        self._exchanges: Dict[Any, Exchange] = {}
        self._workers = request_workers(self.name)
        self._unanswered = Unanswered()
        self._reader = ResponseReader(
            self.url,
            name=self.name,
            max_message_size=max_message_size,
            read_timeout=read_timeout,
            auth_configured=auth is not None,
            deliver=self._inbox.put,
            on_result=self._note_result,
            send=self._send_http,
            stream_headers=lambda: self._session.stream_headers(),  # noqa: PLW0108 - late-bound: made below
            closed=lambda: self._closed,
            answer_elsewhere=lambda exchange: not exchange.modern and self._session.stream_available,
        )
        # Legacy era: the session, its GET stream, re-initialization, DELETE.
        self._session = LegacySession(
            self.url,
            name=self.name,
            headers=self._headers,
            auth=auth,
            ack_timeout=ack_timeout,
            max_message_size=max_message_size,
            proxies=self._pool.proxies,
            ssl_context=ssl_context,
            send=self._send_http,
            post_own=self._post_own,
            post_at_once=lambda message, body: self._post_at_once(message, body, renew_session=False),
            reader=self._reader,
        )
        # Modern era: the Mcp-Param-* headers of the tools.
        self._tools = ToolHeaders(self.name, post_own=self._post_own, reader=self._reader)
        # HTTP+SSE (2024-11-05), once chosen.
        self._sse: Optional[LegacySSEChannel] = None

    def __repr__(self) -> str:
        return f"<HttpTransport '{self.name}' {redact_url(self.url)}>"

    # ----------------------------------------------------------------------------- interface

    @property
    def session_id_present(self) -> bool:
        """Whether the server gave this connection a legacy ``Mcp-Session-Id``."""
        return self._session.session_id is not None

    @property
    def uses_sse(self) -> bool:
        """Whether the connection runs over the 2024-11-05 HTTP+SSE transport."""
        return self._sse is not None

    def open(self) -> None:
        """Nothing to do: connections are made as messages are sent."""

    def send(self, message: Any) -> None:
        """Send one message: a request is exchanged in the background, anything else at once.

        Raises:
            ConnectionClosed: the transport is closed.
            HTTPError: a notification or answer was refused (the server's status and body quoted).
            AuthenticationRequired: the server wants credentials this transport cannot provide.
            ValueError: the message cannot be encoded, or is a batch (never sent).
        """
        if self._closed:
            raise ConnectionClosed(f"connection to MCP server '{self.name}' is closed")
        if not isinstance(message, dict):
            raise ValueError("the HTTP transport sends single messages, not batches")
        body = encode_message(message)[:-1]
        method = message.get("method")
        sse = self._sse
        if sse is not None or (self.mode == "sse" and isinstance(method, str)):
            if isinstance(method, str) and ("id" in message or method == "notifications/cancelled"):
                # On a worker, like Streamable HTTP requests: opening the event stream or a server
                # slow to accept must not hold the caller past its timeout.
                if not self._workers.submit(self._post_over_sse, message, body):
                    raise ConnectionClosed(f"connection to MCP server '{self.name}' is closed")
                return
            self._send_over_sse(message, body)
            return
        if "id" in message and isinstance(method, str):
            self._start_exchange(message, body, method)
            return
        if method == "notifications/cancelled":
            params = message.get("params") or {}
            exchange = self._exchanges.get(params.get("requestId"))
            if exchange is not None:
                exchange.cancel()
                if exchange.modern:
                    return  # 2026-07-28: closing the stream is the cancellation
            elif not self._session.initialized_once:
                return  # no legacy session: a 2026-07-28 server expects no notification (its answer is in)
            # A courtesy, posted in the background: a server that accepts nothing must not hold
            # the caller whose timeout just expired.
            if not self._workers.submit(self._post_quietly, message, body):
                logger.debug("'%s': closing; notifications/cancelled not sent", self.name)
            return
        self._post_at_once(message, body)
        if method == "notifications/initialized" and self._sse is None:
            self._session.on_initialized()

    def receive(self) -> Any:
        """The next message from the server; ``None`` once the transport is closed.

        Raises:
            ConnectionClosed: the HTTP+SSE event stream ended (that connection is over).
        """
        value = self._inbox.get()
        if type(value) is _Ended:
            raise ConnectionClosed(value.reason)
        return value

    def exit_details(self, wait: float) -> Tuple[Optional[int], str]:
        """A remote server has no exit code and no stderr: ``(None, "")``."""
        return None, ""

    def close(self) -> None:
        """End the session (``DELETE``), close every stream and connection, join the threads.

        Idempotent; safe from any thread.
        """
        with self._lock:
            if self._closed:
                first = False
            else:
                first = True
                self._closed = True
                exchanges = list(self._exchanges.values())
                sse = self._sse
        if not first:
            self._closed_event.wait(DELETE_TIMEOUT + 10.0)
            return
        self._session.stop()  # no GET stream, no re-initialization from now on
        try:
            deadline = time.monotonic() + 5.0
            if self.auth is not None:
                self.auth.close()  # a login waiting for the user (in a browser) ends now
            for exchange in exchanges:
                exchange.cancel()
            self._unanswered.abort_all()
            if sse is not None:
                sse.close()
            self._session.end()
            self._workers.shutdown(deadline)
            self._session.join(deadline)
            self._pool.close()
        finally:
            self._inbox.put(None)
            self._closed_event.set()

    # ----------------------------------------------------------------------------- sending

    def _request(
        self,
        method: str,
        body: bytes,
        *,
        message: Optional[Mapping[str, Any]] = None,
        version: Optional[str] = None,
        **extra: Any,
    ) -> HttpRequest:
        """A ``POST`` of ``body``; ``version`` (or the envelope in ``message``) makes it a 2026-07-28 one."""
        headers = self._post_headers.copy()
        if version is None and message is not None:
            version = _modern_version(message)
        if version is not None:
            for name, value in mirrored_headers(message or {}, version):
                headers.add(name, value)
            if message is not None and method == "tools/call":
                self._tools.add_headers(headers, message)
        else:
            self._session.add_headers(headers, method)
        return HttpRequest("POST", self.url, headers, body, **extra)

    def _send_http(
        self,
        request: HttpRequest,
        read_timeout: Optional[float],
        on_pending: Optional[OnPending] = None,
    ) -> HttpResponse:
        """Send through the auth flow; log method, URL and status (never headers).

        ``on_pending`` receives the means to abort the request until its response head arrives
        (see :meth:`ConnectionPool.send`).
        """
        started = time.monotonic()

        def send(outgoing: HttpRequest) -> HttpResponse:
            if outgoing.url == request.url:
                return self._pool.send(outgoing, read_timeout=read_timeout, on_pending=on_pending)
            # A request of the auth flow (metadata, registration, token): always bounded, and
            # abortable while the flow reads it, so that a stalled authorization server cannot
            # hold a call (or close()) past its own limits.
            side = self._pool.send(outgoing, read_timeout=SIDE_READ_TIMEOUT, on_pending=on_pending)
            if on_pending is not None:
                on_pending(side.close)
            return side

        try:
            response = drive_auth_flow(self.auth, request, send)
        finally:
            if on_pending is not None and self.auth is not None:
                on_pending(None)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "'%s': %s %s -> %s (%.1f ms)",
                self.name,
                request.method,
                redact_url(request.url),
                response.status,
                (time.monotonic() - started) * 1000,
            )
        return response

    def _post_own(self, method: str, body: bytes, message: Optional[Mapping[str, Any]] = None) -> HttpResponse:
        """``POST`` a request of the transport's own (never seen by the session); ``close`` aborts it."""
        request = self._request(method, body, message=message, replayable=True)
        return self._send_http(request, self.ack_timeout, self._unanswered.hook())

    def _post_at_once(self, message: Mapping[str, Any], body: bytes, *, renew_session: bool = True) -> None:
        """Post a notification or an answer on the caller's thread; it must be accepted.

        With ``renew_session``, a lost session is initialized again (once) and the post repeated.
        """
        method = str(message.get("method") or "")
        request = self._request(method, body, message=message)
        for attempt in (1, 2):
            response = self._send_http(request, self.ack_timeout, self._unanswered.hook())
            if 200 <= response.status < 300:
                _drain(response)
                return
            error = ErrorBody(response)
            if attempt == 1 and renew_session and self._session.lost(error, request):
                self._session.reinitialize(request.headers.get("Mcp-Session-Id"))
                request = self._request(method, body, message=message)
                continue
            raise self._reader.status_error(f"{method or 'a response'} to MCP server '{self.name}'", error)

    def _post_quietly(self, message: Mapping[str, Any], body: bytes) -> None:
        try:
            self._post_at_once(message, body)
        except TransportError as exc:
            logger.debug("'%s': %s not delivered: %s", self.name, message.get("method"), exc)

    # ----------------------------------------------------------------------------- exchanges

    def _start_exchange(self, message: Dict[str, Any], body: bytes, method: str) -> None:
        params = message.get("params")
        name = None
        if isinstance(params, Mapping):
            value = params.get("uri" if method == "resources/read" else "name")
            name = value if isinstance(value, str) else None
        exchange = Exchange(message["id"], method, _modern_version(message), name)
        if method == "initialize":
            self._session.remember_initialize(message)
        elif exchange.version is None:
            self._session.note_request(method, params)
        with self._lock:
            closed = self._closed
            if not closed:
                self._exchanges[exchange.request_id] = exchange
        if closed or not self._workers.submit(self._exchange, message, body, exchange):
            with self._lock:
                self._exchanges.pop(exchange.request_id, None)
            raise ConnectionClosed(f"connection to MCP server '{self.name}' is closed")

    def _exchange(self, message: Dict[str, Any], body: bytes, exchange: Exchange) -> None:
        try:
            response = self._post_request(message, body, exchange)
            if response is not None:
                self._reader.consume(response, exchange)
        except Exception as exc:
            if not (exchange.cancelled.is_set() or self._closed):
                error = for_request(exchange, exc, self.name)
                if not exchange.answered:
                    exchange.answered = True
                    self._inbox.put(RequestFailed(exchange.request_id, error))
        finally:
            with self._lock:
                self._exchanges.pop(exchange.request_id, None)

    def _post_request(self, message: Dict[str, Any], body: bytes, exchange: Exchange) -> Optional[HttpResponse]:
        """POST a request; handle retries, session loss, header mismatch and the SSE fallback.

        Returns the successful response, or ``None`` when nothing is left to read (cancelled, or
        the answer will arrive elsewhere).
        """
        method = exchange.method
        retries = 0
        reinitialized = relisted = False
        replayable = method in RETRYABLE_METHODS
        while True:
            request = self._request(method, body, message=message, version=exchange.version, replayable=replayable)
            exchange.session_id = request.headers.get("Mcp-Session-Id")
            response = self._send_http(request, self.read_timeout, exchange.pending)
            if not exchange.attach(response):
                return None
            if 200 <= response.status < 300:
                if method == "initialize":
                    self._session.adopt(response)
                return response
            error = ErrorBody(response)
            if error.status in RETRY_STATUSES and replayable and retries < len(RETRY_DELAYS):
                delay = min(MAX_RETRY_DELAY, error.retry_after if error.retry_after is not None else RETRY_DELAYS[retries])
                retries += 1
                logger.info("'%s': %s got HTTP %s; retrying in %.2f s", self.name, method, error.status, delay)
                if exchange.cancelled.wait(delay):
                    return None
                continue
            if not reinitialized and self._session.lost(error, request):
                reinitialized = True
                self._session.reinitialize(exchange.session_id)
                continue
            if exchange.modern and error.code == ErrorCode.HEADER_MISMATCH and method == "tools/call" and not relisted:
                relisted = True
                logger.info("'%s': header mismatch on tools/call; re-listing tools and retrying", self.name)
                self._tools.relist(message)
                continue
            if method == "initialize" and self.mode == "auto" and error.status in (400, 404, 405) and not error.is_modern_error:
                self._fall_back_to_sse(message, body, exchange, error)
                return None
            self._reader.deliver_error(exchange, error)
            return None

    def _note_result(self, exchange: Exchange, result: Any) -> None:
        """An exchange's own result, before the session sees it: what the parts learn from it."""
        if not isinstance(result, dict):
            return
        if exchange.method == "initialize":
            self._session.note_initialize_result(result)
        elif exchange.method == "tools/list" and exchange.modern:
            tools = result.get("tools")
            if isinstance(tools, list):
                result["tools"] = self._tools.usable(tools)

    # ----------------------------------------------------------------------------- HTTP+SSE

    def _sse_channel(self, timeout: float) -> LegacySSEChannel:
        with self._lock:
            channel = self._sse
        if channel is not None:
            return channel
        channel = LegacySSEChannel(
            self.url,
            send=lambda request, read_timeout: self._send_http(request, read_timeout, self._unanswered.hook()),
            deliver=self._inbox.put,
            on_end=self._sse_ended,
            name=self.name,
            headers=self._headers,
            max_message_size=self.max_message_size,
            ack_timeout=self.ack_timeout,
        )
        channel.connect(timeout)
        with self._lock:
            if self._closed:
                closed = True
            else:
                closed = False
                if self._sse is None:
                    self._sse = channel
                    return channel
                existing = self._sse
        channel.close()
        if closed:
            raise ConnectionClosed(f"connection to MCP server '{self.name}' is closed")
        return existing

    def _send_over_sse(self, message: Dict[str, Any], body: bytes) -> None:
        channel = self._sse_channel(self._pool.connect_timeout + self.ack_timeout)
        channel.post(body)

    def _post_over_sse(self, message: Dict[str, Any], body: bytes) -> None:
        """:meth:`_send_over_sse` on a worker: a request that cannot be posted fails alone."""
        try:
            self._send_over_sse(message, body)
        except TransportError as exc:
            if "id" in message and not self._closed:
                self._inbox.put(RequestFailed(message["id"], exc))
            else:
                logger.debug("'%s': %s not delivered: %s", self.name, message.get("method"), exc)

    def _fall_back_to_sse(self, message: Dict[str, Any], body: bytes, exchange: Exchange, refusal: ErrorBody) -> None:
        logger.info("MCP server '%s' refused Streamable HTTP (HTTP %s); trying the HTTP+SSE transport", self.name, refusal.status)
        try:
            channel = self._sse_channel(self._pool.connect_timeout + self.ack_timeout)
        except HTTPError as exc:
            logger.debug("'%s': HTTP+SSE fallback failed: %s", self.name, exc)
            raise self._reader.status_error(f"initialize to MCP server '{self.name}'", refusal) from None
        channel.post(body)
        exchange.answered = True  # the answer arrives on the channel, not here

    def _sse_ended(self, reason: str) -> None:
        logger.debug("'%s': %s", self.name, reason)
        self._inbox.put(_Ended(reason))  # the 2024-11-05 connection is over


def is_reserved_header(name: str) -> bool:
    """Whether the transport sets header ``name`` itself (so a configuration cannot).

    Example:
        >>> is_reserved_header("Mcp-Session-Id"), is_reserved_header("X-Tenant")
        (True, False)
    """
    lowered = name.lower()
    return lowered in _RESERVED_HEADERS or lowered.startswith("mcp-param-")


def _modern_version(message: Optional[Mapping[str, Any]]) -> Optional[str]:
    params = message.get("params") if message is not None else None
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    version = meta.get(META_PROTOCOL_VERSION) if isinstance(meta, Mapping) else None
    return version if isinstance(version, str) else None


def _drain(response: HttpResponse) -> None:
    """Read the (short) body of an accepted notification or answer, briefly; else drop the connection."""
    response.set_read_timeout(_ACK_DRAIN_SECONDS)
    try:
        response.read(65536)
    except (HTTPError, MessageTooLarge):
        pass
    finally:
        response.close()

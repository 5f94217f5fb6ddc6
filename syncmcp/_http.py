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

Credentials come from an :class:`~syncmcp.Auth` (a bearer token, OAuth) and static headers;
neither is ever logged or put in an error message.

Example::

    transport = HttpTransport("https://mcp.example.com/mcp", headers={"X-Tenant": "acme"})
    with syncmcp.ClientSession(transport) as session:
        print([tool.name for tool in session.list_tools()])
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import queue
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._auth import Auth, drive_auth_flow
from ._era import META_PROTOCOL_VERSION, MODERN_ERROR_CODES
from ._exceptions import AuthenticationRequired, ConnectionClosed, HTTPError, MessageTooLarge, TransportError
from ._httpwire import (
    DEFAULT_CONNECT_TIMEOUT,
    ConnectionPool,
    Headers,
    HttpRequest,
    HttpResponse,
    ProxySettings,
    excerpt,
    redact_url,
)
from ._jsonrpc import ErrorCode, encode_message, make_request
from ._mcpheaders import HeaderSpec, InvalidHeaderAnnotation, mirrored_headers, param_header_specs, param_headers
from ._sse import SSEDecoder
from ._sselegacy import LegacySSEChannel
from ._transport import DEFAULT_MAX_MESSAGE_SIZE, RequestFailed

__all__ = ["HTTP_MODES", "HttpTransport"]

logger = logging.getLogger("syncmcp.http")

#: ``mode`` values: Streamable HTTP with the HTTP+SSE fallback, Streamable HTTP only, HTTP+SSE only.
HTTP_MODES = ("auto", "streamable_http", "sse")
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
#: Times a cut response stream is resumed with ``Last-Event-ID`` before the request fails.
MAX_RESUMPTIONS = 5
#: Reconnection delay of an event stream whose server gave no ``retry``, and its cap after failures.
DEFAULT_RECONNECT_DELAY = 1.0
MAX_RECONNECT_DELAY = 30.0
#: Bytes of an error response read to find a JSON-RPC error in it.
_ERROR_BODY_LIMIT = 65536
#: Most pages of the transport's own ``tools/list`` (after a header mismatch).
_MAX_RELIST_PAGES = 100
#: After its answer, how long and how many bytes a request's SSE stream is read to its end (so
#: that the connection can be reused) before it is closed instead.
_DRAIN_SECONDS = 0.5
_DRAIN_BYTES = 65536
#: How long ``close`` waits for the server to acknowledge ``DELETE``.
_DELETE_TIMEOUT = 2.0
#: Headers the transport sets itself: configuring them is an error.
_RESERVED_HEADERS = frozenset(
    {"content-type", "accept", "content-length", "host", "mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name"}
)
#: Idle seconds after which a worker thread ends.
_WORKER_IDLE = 30.0
_MODERN_VERSION_KEY = META_PROTOCOL_VERSION


class _Exchange:
    """One request in flight: what cancellation needs to stop it, and whether it was answered."""

    __slots__ = ("_abort", "_lock", "_response", "answered", "cancelled", "method", "name", "request_id", "session_id", "version")

    def __init__(self, request_id: Any, method: str, version: Optional[str], name: Optional[str]) -> None:
        self.request_id = request_id
        self.method = method
        self.version = version  # the 2026-07-28 envelope's protocol version; None for a legacy request
        self.name = name
        self.cancelled = threading.Event()
        self.answered = False
        self.session_id: Optional[str] = None
        self._lock = threading.Lock()
        self._response: Optional[HttpResponse] = None
        self._abort: Optional[Callable[[], None]] = None

    @property
    def modern(self) -> bool:
        """Whether the request carries the 2026-07-28 envelope."""
        return self.version is not None

    def pending(self, abort: Optional[Callable[[], None]]) -> None:
        """The pool's ``on_pending``: until a response arrives, ``abort`` is how to stop the attempt."""
        with self._lock:
            if abort is not None and self.cancelled.is_set():
                abort()
            else:
                self._abort = abort

    def attach(self, response: HttpResponse) -> bool:
        """Make ``response`` the one to close on cancel; ``False`` (and closed) if already cancelled."""
        with self._lock:
            if not self.cancelled.is_set():
                self._response = response
                return True
        response.close()
        return False

    def cancel(self) -> None:
        with self._lock:
            self.cancelled.set()
            response, self._response = self._response, None
            abort, self._abort = self._abort, None
            if abort is not None:
                abort()  # a server that has not answered yet (a shutdown: quick, and safe under the lock)
        if response is not None:
            response.close()


class _Unanswered:
    """The transport's own requests still waiting for their response head: ``close`` aborts them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aborts: Dict[int, Callable[[], None]] = {}
        self._keys = itertools.count()
        self._closed = False

    def hook(self) -> Callable[[Optional[Callable[[], None]]], None]:
        """An ``on_pending`` (see :meth:`ConnectionPool.send`) for one request."""
        key = next(self._keys)

        def pending(abort: Optional[Callable[[], None]]) -> None:
            with self._lock:
                if abort is None:
                    self._aborts.pop(key, None)
                elif self._closed:
                    abort()
                else:
                    self._aborts[key] = abort

        return pending

    def abort_all(self) -> None:
        with self._lock:
            self._closed = True
            aborts, self._aborts = list(self._aborts.values()), {}
            for abort in aborts:
                abort()


class _Ended:
    """Put in the inbox when the HTTP+SSE event stream ends: ``receive`` raises with the reason."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _ErrorBody:
    """An error response read once: status, a printable excerpt, and its JSON-RPC error if any."""

    __slots__ = ("error", "message", "retry_after", "status", "text")

    def __init__(self, response: HttpResponse) -> None:
        self.status = response.status
        self.retry_after = _retry_after(response.headers.get("retry-after"))
        data = b""
        try:
            data = response.read(_ERROR_BODY_LIMIT)
        except (HTTPError, MessageTooLarge):
            pass
        finally:
            response.close()
        self.text = excerpt(data)
        self.message: Optional[Dict[str, Any]] = None
        self.error: Optional[Dict[str, Any]] = None
        if response.content_type == "application/json" or data[:1] in (b"{", b"["):
            try:
                value = json.loads(data)
            except ValueError:
                value = None
            if isinstance(value, dict) and isinstance(value.get("error"), dict) and value.get("jsonrpc") == "2.0":
                self.message = value
                self.error = value["error"]

    @property
    def code(self) -> Optional[int]:
        code = self.error.get("code") if self.error else None
        return code if isinstance(code, int) else None

    @property
    def is_modern_error(self) -> bool:
        return self.code in MODERN_ERROR_CODES or (self.status == 404 and self.code == ErrorCode.METHOD_NOT_FOUND)


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class _Workers:
    """Threads that carry requests: grown on demand, ended when idle, joined on close."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[Optional[Tuple[Callable[..., None], Tuple[Any, ...]]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._ids = itertools.count()

    def submit(self, fn: Callable[..., None], *args: Any) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._queue.put((fn, args))
            if self._idle:
                self._idle -= 1
                return True
            thread = threading.Thread(target=self._work, name=f"{self._name}_{next(self._ids)}", daemon=True)
            self._threads.append(thread)
        thread.start()
        return True

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                item = self._queue.get(timeout=_WORKER_IDLE)
            except queue.Empty:
                with self._lock:
                    if self._idle and self._queue.empty():
                        self._idle -= 1
                        self._threads.remove(me)
                        return
                continue
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                logger.exception("unhandled error in an HTTP worker")
            with self._lock:
                self._idle += 1

    def close(self, deadline: float) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))


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
            lowered = header.lower()
            if lowered in _RESERVED_HEADERS or lowered.startswith("mcp-param-"):
                raise ValueError(f"the {lowered} header is set by the transport and cannot be configured")
        # Every POST starts from these; the per-request headers are appended to a copy.
        self._post_headers = self._headers.copy()
        self._post_headers.add("Content-Type", "application/json")
        self._post_headers.add("Accept", "application/json, text/event-stream")
        self._pool = ConnectionPool(connect_timeout=connect_timeout, proxies=proxies, ssl_context=ssl_context)
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._stopping = threading.Event()  # set when close() starts: wakes the GET stream's back-off
        self._closed_event = threading.Event()  # set when close() has finished
        self._exchanges: Dict[Any, _Exchange] = {}
        self._workers = _Workers(f"syncmcp-http[{self.name}]")
        self._unanswered = _Unanswered()
        # Legacy-era session state.
        self._session_id: Optional[str] = None
        self._protocol_version: Optional[str] = None
        self._initialize: Optional[Dict[str, Any]] = None
        self._initialized = False
        self._reinit: Optional[threading.Event] = None
        self._reinit_ids = itertools.count(1)
        # The standalone GET stream (legacy Streamable HTTP).
        self._get_generation = 0
        self._get_thread: Optional[threading.Thread] = None
        self._get_response: Optional[HttpResponse] = None
        self._get_abort: Optional[Callable[[], None]] = None  # while the GET waits for its response head
        # HTTP+SSE (2024-11-05), once chosen.
        self._sse: Optional[LegacySSEChannel] = None
        # Modern era: tool name -> Mcp-Param-* header specs.
        self._param_specs: Dict[str, List[HeaderSpec]] = {}
        self._last_error = ""

    def __repr__(self) -> str:
        return f"<HttpTransport '{self.name}' {redact_url(self.url)}>"

    # ----------------------------------------------------------------------------- interface

    @property
    def session_id_present(self) -> bool:
        """Whether the server gave this connection a legacy ``Mcp-Session-Id``."""
        return self._session_id is not None

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
            # A courtesy, posted in the background: a server that accepts nothing must not hold
            # the caller whose timeout just expired.
            if not self._workers.submit(self._post_quietly, message, body):
                logger.debug("'%s': closing; notifications/cancelled not sent", self.name)
            return
        self._post_at_once(message, body)
        if method == "notifications/initialized":
            with self._lock:
                self._initialized = True
            self._start_standalone_stream()

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
                get_response, self._get_response = self._get_response, None
                sse, session_id = self._sse, self._session_id
                self._get_generation += 1
                self._abort_get()
        if not first:
            self._closed_event.wait(_DELETE_TIMEOUT + 10.0)
            return
        self._stopping.set()
        try:
            deadline = time.monotonic() + 5.0
            for exchange in exchanges:
                exchange.cancel()
            self._unanswered.abort_all()
            if get_response is not None:
                get_response.close()
            if sse is not None:
                sse.close()
            if session_id is not None:
                self._delete_session(session_id)
            self._workers.close(deadline)
            thread = self._get_thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
            self._pool.close()
        finally:
            self._inbox.put(None)
            self._closed_event.set()

    # ----------------------------------------------------------------------------- building requests

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
                params = message.get("params") or {}
                tool = params.get("name") if isinstance(params, Mapping) else None
                specs = self._param_specs.get(tool) if isinstance(tool, str) else None
                if specs:
                    arguments = params.get("arguments")
                    for name, value in param_headers(specs, arguments if isinstance(arguments, Mapping) else None):
                        headers.add(name, value)
        else:
            if self._protocol_version is not None:
                headers.add("MCP-Protocol-Version", self._protocol_version)
            if self._session_id is not None and method != "initialize":
                headers.add("Mcp-Session-Id", self._session_id)
        return HttpRequest("POST", self.url, headers, body, **extra)

    def _send_http(
        self,
        request: HttpRequest,
        read_timeout: Optional[float],
        on_pending: Optional[Callable[[Optional[Callable[[], None]]], None]] = None,
    ) -> HttpResponse:
        """Send through the auth flow; log method, URL and status (never headers).

        ``on_pending`` receives the means to abort the request until its response head arrives
        (see :meth:`ConnectionPool.send`).
        """
        started = time.monotonic()
        response = drive_auth_flow(
            self.auth, request, lambda r: self._pool.send(r, read_timeout=read_timeout, on_pending=on_pending)
        )
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

    # ----------------------------------------------------------------------------- at-once posts

    def _post_at_once(self, message: Mapping[str, Any], body: bytes) -> None:
        """Post a notification or an answer on the caller's thread; it must be accepted."""
        what = message.get("method") or "a response"
        request = self._request(str(message.get("method") or ""), body, message=message)
        for attempt in (1, 2):
            try:
                response = self._send_http(request, self.ack_timeout, self._unanswered.hook())
            except HTTPError as exc:
                self._last_error = str(exc)
                raise
            if 200 <= response.status < 300:
                _drain(response)
                return
            error = _ErrorBody(response)
            if attempt == 1 and self._session_lost(error, request):
                self._reinitialize(request.headers.get("Mcp-Session-Id"))
                request = self._request(str(message.get("method") or ""), body, message=message)
                continue
            raise self._status_error(f"{what} to MCP server '{self.name}'", error)

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
        exchange = _Exchange(message["id"], method, _modern_version(message), name)
        if method == "initialize":
            with self._lock:
                self._initialize = message
        with self._lock:
            self._exchanges[exchange.request_id] = exchange
        if not self._workers.submit(self._exchange, message, body, exchange):
            with self._lock:
                self._exchanges.pop(exchange.request_id, None)
            raise ConnectionClosed(f"connection to MCP server '{self.name}' is closed")

    def _exchange(self, message: Dict[str, Any], body: bytes, exchange: _Exchange) -> None:
        try:
            response = self._post_request(message, body, exchange)
            if response is not None:
                self._consume(response, exchange)
        except Exception as exc:
            if not (exchange.cancelled.is_set() or self._closed):
                error = self._for_request(exchange, exc)
                self._last_error = str(error)
                self._fail(exchange, error)
        finally:
            with self._lock:
                self._exchanges.pop(exchange.request_id, None)

    def _for_request(self, exchange: _Exchange, exc: Exception) -> Exception:
        """``exc`` with the method and server named first, keeping its type and fields."""
        prefix = f"{exchange.method} to MCP server '{self.name}'"
        if str(exc).startswith(prefix):
            return exc
        error: Exception
        if type(exc) in (HTTPError, AuthenticationRequired):
            assert isinstance(exc, HTTPError)
            error = type(exc)(f"{prefix}: {exc}", status=exc.status, url=exc.url, body=exc.body)
        elif type(exc) is MessageTooLarge:
            error = MessageTooLarge(f"{prefix}: {exc}")
        else:
            return exc
        error.__cause__ = exc
        return error

    def _fail(self, exchange: _Exchange, error: Exception) -> None:
        if not exchange.answered:
            exchange.answered = True
            self._inbox.put(RequestFailed(exchange.request_id, error))

    def _post_request(self, message: Dict[str, Any], body: bytes, exchange: _Exchange) -> Optional[HttpResponse]:
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
                    self._adopt_session(response)
                return response
            error = _ErrorBody(response)
            if error.status in RETRY_STATUSES and replayable and retries < len(RETRY_DELAYS):
                delay = min(MAX_RETRY_DELAY, error.retry_after if error.retry_after is not None else RETRY_DELAYS[retries])
                retries += 1
                logger.info("'%s': %s got HTTP %s; retrying in %.2f s", self.name, method, error.status, delay)
                if exchange.cancelled.wait(delay):
                    return None
                continue
            if not reinitialized and self._session_lost(error, request):
                reinitialized = True
                self._reinitialize(exchange.session_id)
                continue
            if exchange.modern and error.code == ErrorCode.HEADER_MISMATCH and method == "tools/call" and not relisted:
                relisted = True
                logger.info("'%s': header mismatch on tools/call; re-listing tools and retrying", self.name)
                self._relist_tools(message)
                continue
            if method == "initialize" and self.mode == "auto" and error.status in (400, 404, 405) and not error.is_modern_error:
                self._fall_back_to_sse(message, body, exchange, error)
                return None
            self._deliver_error(exchange, error)
            return None

    def _adopt_session(self, response: HttpResponse) -> None:
        session_id = response.headers.get("mcp-session-id")
        if session_id is not None and not (session_id.isascii() and session_id.isprintable() and session_id.strip()):
            logger.warning("'%s' sent an invalid Mcp-Session-Id; ignored", self.name)
            session_id = None
        with self._lock:
            self._session_id = session_id

    def _consume(self, response: HttpResponse, exchange: _Exchange) -> None:
        """Read a successful response: a JSON body, an SSE stream, or nothing (202)."""
        kind = response.content_type
        if response.status == 202:
            response.close()
            logger.debug("'%s': %s accepted; its answer will arrive on another stream", self.name, exchange.method)
            return
        if response.done and not kind:
            response.close()
            raise self._bad_body(exchange, response, "an empty body (a request must be answered with JSON or an event stream)")
        if kind == "application/json":
            data = response.read(self.max_message_size)
            response.close()
            try:
                value = json.loads(data)
            except ValueError:
                raise self._bad_body(exchange, response, f"a body that is not JSON: {_excerpt(data)}") from None
            self._deliver(value, exchange)
            if not exchange.answered:
                raise self._bad_body(exchange, response, f"a JSON body without the response: {_excerpt(data)}")
            return
        if kind == "text/event-stream":
            self._read_stream(response, exchange)
            return
        text = response.excerpt()
        raise self._bad_body(exchange, response, f"content type {kind or 'none'!r}" + (f": {text}" if text else ""))

    def _bad_body(self, exchange: _Exchange, response: HttpResponse, what: str) -> HTTPError:
        return HTTPError(
            f"{exchange.method} to MCP server '{self.name}': HTTP {response.status} with {what}",
            status=response.status,
            url=self.url,
        )

    def _read_stream(self, response: HttpResponse, exchange: _Exchange) -> None:
        """Read a request's SSE stream until its answer; resume a cut legacy stream by GET."""
        decoder = SSEDecoder(self.max_message_size)
        resumptions = 0
        while True:
            progressed = False
            reason = "the server closed the stream before answering"
            try:
                while True:
                    try:
                        chunk = response.read_some()
                    except HTTPError as exc:  # the stream was cut (an event that is not JSON is not a cut)
                        reason = str(exc)
                        break
                    if not chunk:
                        break
                    for event in decoder.feed(chunk):
                        progressed = True
                        if event.event in ("message", ""):
                            self._deliver_event(event.data, exchange)
                            if exchange.answered:
                                self._drain(response, decoder)
                                return
            finally:
                response.close()
            if exchange.answered or exchange.cancelled.is_set():
                return
            resumable = not exchange.modern and decoder.last_event_id
            if not resumable or resumptions >= MAX_RESUMPTIONS:
                raise ConnectionClosed(f"{exchange.method} to MCP server '{self.name}' failed: {reason}")
            resumptions = 0 if progressed else resumptions + 1
            delay = (decoder.retry_ms / 1000.0) if decoder.retry_ms is not None else DEFAULT_RECONNECT_DELAY
            if exchange.cancelled.wait(delay) or self._closed:
                return
            resumed = self._resume(decoder.last_event_id or "", exchange)
            if resumed is None:
                return
            response = resumed

    def _drain(self, response: HttpResponse, decoder: SSEDecoder) -> None:
        """Read the end of an answered stream, briefly, so that its connection can be reused.

        Servers end a request's stream right after its answer; reading that end (rather than
        closing mid-stream) keeps the connection. Messages that still come are delivered; a
        stream that stays open longer than ``_DRAIN_SECONDS`` or carries more than
        ``_DRAIN_BYTES`` is closed instead.
        """
        if response.done:
            return
        response.set_read_timeout(_DRAIN_SECONDS)
        budget = _DRAIN_BYTES
        try:
            while budget > 0:
                chunk = response.read_some(budget)
                if not chunk:
                    return  # the stream ended: the connection went back to the pool
                budget -= len(chunk)
                for event in decoder.feed(chunk):
                    if event.event in ("message", ""):
                        self._deliver_event(event.data, None)
        except (HTTPError, MessageTooLarge) as exc:
            logger.debug("'%s': an answered stream did not end cleanly: %s", self.name, exc)

    def _resume(self, last_event_id: str, exchange: _Exchange) -> Optional[HttpResponse]:
        headers = self._stream_headers()
        headers["Last-Event-ID"] = last_event_id
        response = self._send_http(HttpRequest("GET", self.url, headers, replayable=True), self.read_timeout, exchange.pending)
        if not exchange.attach(response):
            return None
        if response.status == 200 and response.content_type == "text/event-stream":
            logger.debug("'%s': resumed the stream of %s after event %s", self.name, exchange.method, last_event_id)
            return response
        error = _ErrorBody(response)
        raise self._status_error(f"resuming the stream of {exchange.method} to MCP server '{self.name}'", error)

    def _stream_headers(self) -> Headers:
        headers = self._headers.copy()
        headers["Accept"] = "text/event-stream"
        if self._protocol_version is not None:
            headers["MCP-Protocol-Version"] = self._protocol_version
        if self._session_id is not None:
            headers["Mcp-Session-Id"] = self._session_id
        return headers

    def _deliver_event(self, data: str, exchange: Optional[_Exchange]) -> None:
        try:
            value = json.loads(data)
        except ValueError:
            if exchange is None:
                logger.warning("'%s' sent an SSE event that is not JSON, ignored: %.200s", self.name, data)
                return
            raise HTTPError(
                f"{exchange.method} to MCP server '{self.name}': the server sent an SSE event that is not JSON: {_excerpt(data)}",
                url=self.url,
            ) from None
        self._deliver(value, exchange)

    def _deliver(self, value: Any, exchange: Optional[_Exchange]) -> None:
        """Hand a decoded value to ``receive()``, noting the exchange's own answer."""
        messages = value if isinstance(value, list) else [value]
        for message in messages:
            if exchange is None or not isinstance(message, dict) or message.get("id") != exchange.request_id:
                continue
            if "result" in message or "error" in message:
                exchange.answered = True
                if "result" in message:
                    self._note_result(exchange, message["result"])
        self._inbox.put(value)

    def _note_result(self, exchange: _Exchange, result: Any) -> None:
        if not isinstance(result, dict):
            return
        if exchange.method == "initialize":
            version = result.get("protocolVersion")
            with self._lock:
                self._protocol_version = version if isinstance(version, str) else None
        elif exchange.method == "tools/list" and exchange.modern:
            tools = result.get("tools")
            if isinstance(tools, list):
                result["tools"] = self._usable_tools(tools)

    def _usable_tools(self, tools: List[Any]) -> List[Any]:
        """Record each tool's ``Mcp-Param-*`` headers; leave out tools whose annotations are invalid."""
        kept = []
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                kept.append(tool)
                continue
            try:
                specs = param_header_specs(tool.get("inputSchema"))
            except InvalidHeaderAnnotation as exc:
                logger.warning("MCP server '%s': tool '%s' left out: %s", self.name, tool["name"], exc)
                continue
            self._param_specs[tool["name"]] = specs
            kept.append(tool)
        return kept

    def _deliver_error(self, exchange: _Exchange, error: _ErrorBody) -> None:
        """An error status: the JSON-RPC error it carries, or an :class:`HTTPError` for the call."""
        if error.message is not None and error.status not in (401, 403):
            message = dict(error.message)
            if message.get("id") is None:
                message["id"] = exchange.request_id  # the error is about this request
            self._deliver(message, exchange)
            if exchange.answered:
                return
        raise self._status_error(f"{exchange.method} to MCP server '{self.name}'", error)

    def _status_error(self, what: str, error: _ErrorBody) -> HTTPError:
        detail = error.error.get("message") if error.error and isinstance(error.error.get("message"), str) else error.text
        text = f"{what}: HTTP {error.status}" + (f": {detail}" if detail else "")
        if error.status in (401, 403):
            hint = (
                "the server requires authentication; set bearer_token_env_var or log in"
                if self.auth is None
                else "the server refused the credentials"
            )
            return AuthenticationRequired(f"{text} ({hint})", status=error.status, url=self.url, body=error.text)
        return HTTPError(text, status=error.status, url=self.url, body=error.text)

    # ----------------------------------------------------------------------------- legacy sessions

    def _session_lost(self, error: _ErrorBody, request: HttpRequest) -> bool:
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

    def _reinitialize(self, failed_session: Optional[str]) -> None:
        """Start a new session (``initialize`` + ``initialized``) unless another thread already did."""
        with self._lock:
            if self._session_id != failed_session or self._closed:
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
                self._get_generation += 1
                get_response, self._get_response = self._get_response, None
                self._abort_get()
        if not claimed:
            if waiting is not None:
                waiting.wait(self.ack_timeout * 2)
            return
        if get_response is not None:
            get_response.close()
        logger.info("MCP server '%s' lost the session; initializing a new one", self.name)
        try:
            assert initialize is not None
            message = dict(initialize)
            message["id"] = f"syncmcp-reinit-{next(self._reinit_ids)}"
            body = encode_message(message)[:-1]
            request = self._request("initialize", body, replayable=True)
            response = self._send_http(request, self.ack_timeout, self._unanswered.hook())
            if not 200 <= response.status < 300:
                raise self._status_error(f"re-initializing MCP server '{self.name}'", _ErrorBody(response))
            self._adopt_session(response)
            result = self._private_result(response, message["id"])
            version = result.get("protocolVersion") if isinstance(result, dict) else None
            with self._lock:
                self._protocol_version = version if isinstance(version, str) else self._protocol_version
            notification = encode_message({"jsonrpc": "2.0", "method": "notifications/initialized"})[:-1]
            self._post_at_once({"jsonrpc": "2.0", "method": "notifications/initialized"}, notification)
        finally:
            with self._lock:
                event, self._reinit = self._reinit, None
            if event is not None:
                event.set()
        self._start_standalone_stream()

    def _private_result(self, response: HttpResponse, request_id: str) -> Any:
        """The result of a request the transport sent itself (the session never sees it)."""
        found: List[Any] = []

        def take(value: Any) -> None:
            for message in value if isinstance(value, list) else [value]:
                if isinstance(message, dict) and message.get("id") == request_id:
                    found.append(message)
                else:
                    self._inbox.put(message)  # related notifications still reach the session

        try:
            if response.content_type == "text/event-stream":
                decoder = SSEDecoder(self.max_message_size)
                for chunk in response.iter_bytes():
                    for event in decoder.feed(chunk):
                        if event.event in ("message", ""):
                            take(json.loads(event.data))
                    if found:
                        break
            else:
                take(json.loads(response.read(self.max_message_size)))
        except ValueError as exc:
            raise HTTPError(f"MCP server '{self.name}' answered its own request with invalid JSON: {exc}", url=self.url) from exc
        finally:
            response.close()
        if not found:
            raise HTTPError(f"MCP server '{self.name}' did not answer request {request_id}", url=self.url)
        if "error" in found[0]:
            error = found[0]["error"]
            raise HTTPError(f"MCP server '{self.name}' refused request {request_id}: {error.get('message')}", url=self.url)
        return found[0].get("result")

    def _delete_session(self, session_id: str) -> None:
        headers = self._headers.copy()
        headers["Mcp-Session-Id"] = session_id
        if self._protocol_version is not None:
            headers["MCP-Protocol-Version"] = self._protocol_version
        request = HttpRequest("DELETE", self.url, headers)
        pool = ConnectionPool(connect_timeout=_DELETE_TIMEOUT, proxies=self._pool.proxies, ssl_context=self._pool._ssl_context)
        flow = self.auth.auth_flow(request) if self.auth is not None else None
        try:
            # Current credentials only: a refused DELETE is not worth a refresh, let alone a login.
            # A flow whose first request is not the DELETE (a token refresh) is closed unsent.
            if flow is not None and next(flow) is not request:
                logger.debug("'%s': no current credentials for the DELETE of the session; not sent", self.name)
                return
            with pool.send(request, read_timeout=_DELETE_TIMEOUT) as response:
                logger.debug("'%s': DELETE of the session -> %s", self.name, response.status)
        except (TransportError, OSError, StopIteration) as exc:
            logger.debug("'%s': DELETE of the session failed: %s", self.name, exc)
        finally:
            if flow is not None:
                flow.close()
            pool.close()

    # ----------------------------------------------------------------------------- the standalone stream

    def _start_standalone_stream(self) -> None:
        with self._lock:
            if self._closed or self._sse is not None or not self._initialized:
                return
            self._get_generation += 1
            generation = self._get_generation
            previous = self._get_thread
            thread = threading.Thread(
                target=self._standalone_loop, args=(generation,), name=f"syncmcp-http-get[{self.name}]", daemon=True
            )
            self._get_thread = thread
        if previous is not None and previous is not threading.current_thread():
            previous.join(1.0)
        thread.start()

    def _current(self, generation: int) -> bool:
        return not self._closed and generation == self._get_generation

    def _stream_wait(self, generation: int, delay: float) -> bool:
        """Wait before the GET stream reconnects; ``True`` when it should end instead (closed, or superseded)."""
        return not self._current(generation) or self._stopping.wait(delay)

    def _abort_get(self) -> None:
        """Stop a GET still waiting for its response head (called with ``_lock`` held)."""
        abort, self._get_abort = self._get_abort, None
        if abort is not None:
            abort()

    def _get_pending(self, generation: int) -> Callable[[Optional[Callable[[], None]]], None]:
        """The ``on_pending`` of a GET stream request: a GET of a stream superseded or closed is aborted."""
        mine: List[Callable[[], None]] = []

        def pending(abort: Optional[Callable[[], None]]) -> None:
            with self._lock:
                if abort is None:
                    if mine and self._get_abort is mine[0]:
                        self._get_abort = None
                    mine.clear()
                elif not self._current(generation):
                    abort()
                else:
                    mine[:] = [abort]
                    self._get_abort = abort

        return pending

    def _standalone_loop(self, generation: int) -> None:
        """Keep the server's own stream open: reconnect after it ends, back off after failures."""
        last_event_id: Optional[str] = None
        retry_ms: Optional[int] = None
        failures = 0
        while self._current(generation):
            headers = self._stream_headers()
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            try:
                request = HttpRequest("GET", self.url, headers, replayable=True)
                response = self._send_http(request, None, self._get_pending(generation))
            except AuthenticationRequired as exc:
                logger.warning("MCP server '%s': no stream for server messages: %s", self.name, exc)
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
                    self._get_response = response
            if not current:
                response.close()
                return
            if response.status == 405:
                response.close()
                logger.debug("'%s' offers no stream for server messages (405)", self.name)
                return
            if response.status >= 500:
                _ErrorBody(response)
                failures += 1
                if self._stream_wait(generation, _backoff(retry_ms, failures)):
                    return
                continue
            if response.status != 200 or response.content_type != "text/event-stream":
                error = _ErrorBody(response)
                logger.debug("'%s': no stream for server messages: HTTP %s %s", self.name, error.status, error.text)
                return
            decoder = SSEDecoder(self.max_message_size)
            got_events = False
            try:
                for chunk in response.iter_bytes():
                    for event in decoder.feed(chunk):
                        got_events = True
                        if event.event in ("message", ""):
                            self._deliver_event(event.data, None)
            except (HTTPError, MessageTooLarge) as exc:
                logger.debug("'%s': the GET stream broke: %s", self.name, exc)
            finally:
                response.close()
            last_event_id = decoder.last_event_id or last_event_id
            retry_ms = decoder.retry_ms if decoder.retry_ms is not None else retry_ms
            failures = 0 if got_events or decoder.last_event_id else failures + 1
            if self._stream_wait(generation, _backoff(retry_ms, failures)):
                return

    # ----------------------------------------------------------------------------- modern era

    def _relist_tools(self, message: Mapping[str, Any]) -> None:
        """After a header mismatch: list the tools again (own requests), to learn their headers."""
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, Mapping) else None
        cursor: Optional[str] = None
        for page in range(_MAX_RELIST_PAGES):
            list_params: Dict[str, Any] = {"_meta": dict(meta or {})}
            list_params["_meta"].pop("progressToken", None)
            if cursor is not None:
                list_params["cursor"] = cursor
            request_id = f"syncmcp-relist-{page}-{next(self._reinit_ids)}"
            listing = make_request(request_id, "tools/list", list_params)
            body = encode_message(listing)[:-1]
            request = self._request("tools/list", body, message=listing, replayable=True)
            response = self._send_http(request, self.ack_timeout, self._unanswered.hook())
            if not 200 <= response.status < 300:
                _ErrorBody(response)
                return
            result = self._private_result(response, request_id)
            if not isinstance(result, dict):
                return
            tools = result.get("tools")
            if isinstance(tools, list):
                self._usable_tools(tools)
            cursor = result.get("nextCursor") if isinstance(result.get("nextCursor"), str) else None
            if cursor is None:
                return

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
        try:
            channel.post(body)
        except HTTPError as exc:
            self._last_error = str(exc)
            raise

    def _post_over_sse(self, message: Dict[str, Any], body: bytes) -> None:
        """:meth:`_send_over_sse` on a worker: a request that cannot be posted fails alone."""
        try:
            self._send_over_sse(message, body)
        except TransportError as exc:
            if "id" in message and not self._closed:
                self._inbox.put(RequestFailed(message["id"], exc))
            else:
                logger.debug("'%s': %s not delivered: %s", self.name, message.get("method"), exc)

    def _fall_back_to_sse(self, message: Dict[str, Any], body: bytes, exchange: _Exchange, refusal: _ErrorBody) -> None:
        logger.info("MCP server '%s' refused Streamable HTTP (HTTP %s); trying the HTTP+SSE transport", self.name, refusal.status)
        try:
            channel = self._sse_channel(self._pool.connect_timeout + self.ack_timeout)
        except HTTPError as exc:
            logger.debug("'%s': HTTP+SSE fallback failed: %s", self.name, exc)
            raise self._status_error(f"initialize to MCP server '{self.name}'", refusal) from None
        channel.post(body)
        exchange.answered = True  # the answer arrives on the channel, not here

    def _sse_ended(self, reason: str) -> None:
        self._last_error = reason
        logger.debug("'%s': %s", self.name, reason)
        self._inbox.put(_Ended(reason))  # the 2024-11-05 connection is over


def _modern_version(message: Optional[Mapping[str, Any]]) -> Optional[str]:
    params = message.get("params") if message is not None else None
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    version = meta.get(_MODERN_VERSION_KEY) if isinstance(meta, Mapping) else None
    return version if isinstance(version, str) else None


def _backoff(retry_ms: Optional[int], failures: int) -> float:
    base = retry_ms / 1000.0 if retry_ms is not None else DEFAULT_RECONNECT_DELAY
    if failures <= 1:
        return base
    return float(min(MAX_RECONNECT_DELAY, max(base, DEFAULT_RECONNECT_DELAY) * 2 ** (failures - 1)))


def _drain(response: HttpResponse) -> None:
    try:
        response.read(65536)
    except (HTTPError, MessageTooLarge):
        pass
    finally:
        response.close()


def _excerpt(data: Any) -> str:
    return excerpt(data.encode("utf-8", "replace") if isinstance(data, str) else data)

"""One request of the HTTP transport in flight, and reading what answers it.

:class:`Exchange` is what a request in flight owns: what cancelling it must stop (the attempt
waiting for its response head, or the response being read) and whether it was answered.
:class:`ErrorBody` reads an error response once. :class:`ResponseReader` reads a successful
response: a JSON body, or an SSE stream of related messages ending with the answer, which it
drains briefly once answered (so that the connection is reused) and resumes with ``GET`` +
``Last-Event-ID`` when a legacy stream is cut; every decoded value goes to the transport's inbox.
It also reads the answers of the requests the transport sends itself (re-initialization,
re-listing), which the session never sees. Which request is sent, retried or routed elsewhere is
the transport's decision.

Example::

    reader = ResponseReader(url, name="remote", max_message_size=2**24, read_timeout=None, auth_configured=False,
                            deliver=inbox.put, on_result=note, send=send, stream_headers=headers, closed=is_closed)
    reader.consume(response, exchange)
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from ._era import MODERN_ERROR_CODES
from ._exceptions import AuthenticationRequired, HTTPError, MessageTooLarge
from ._httpwire import Abortable, Headers, HttpRequest, HttpResponse, excerpt
from ._jsonrpc import ErrorCode
from ._sse import SSEDecoder

__all__ = [
    "DEFAULT_RECONNECT_DELAY",
    "MAX_RESUMPTIONS",
    "ErrorBody",
    "Exchange",
    "OnPending",
    "ResponseReader",
    "Send",
    "for_request",
]

logger = logging.getLogger("syncmcp.http")

#: Times a cut response stream is resumed with ``Last-Event-ID`` before the request fails.
MAX_RESUMPTIONS = 5
#: Reconnection delay of an event stream whose server gave no ``retry``.
DEFAULT_RECONNECT_DELAY = 1.0
#: Bytes of an error response read to find a JSON-RPC error in it.
_ERROR_BODY_LIMIT = 65536
#: After its answer, how long and how many bytes a request's SSE stream is read to its end (so
#: that the connection can be reused) before it is closed instead.
_DRAIN_SECONDS = 0.5
_DRAIN_BYTES = 65536

#: An ``on_pending`` (see :meth:`~syncmcp._httpwire.ConnectionPool.send`).
OnPending = Callable[[Optional[Callable[[], None]]], None]
#: ``send(request, read_timeout, on_pending) -> HttpResponse``, through the auth flow.
Send = Callable[[HttpRequest, Optional[float], Optional[OnPending]], HttpResponse]


class Exchange:
    """One request in flight: what cancellation needs to stop it, and whether it was answered."""

    __slots__ = (
        "_attempt", "_lock", "_response", "answered", "cancelled", "method", "name", "request_id", "session_id", "version"
    )  # fmt: skip

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
        self._attempt = Abortable()

    @property
    def modern(self) -> bool:
        """Whether the request carries the 2026-07-28 envelope."""
        return self.version is not None

    def pending(self, abort: Optional[Callable[[], None]]) -> None:
        """The pool's ``on_pending``: until a response arrives, ``abort`` is how to stop the attempt."""
        self._attempt.pending(abort)

    def attach(self, response: HttpResponse) -> bool:
        """Make ``response`` the one to close on cancel; ``False`` (and closed) if already cancelled."""
        with self._lock:
            if not self.cancelled.is_set():
                self._response = response
                return True
        response.close()
        return False

    def cancel(self) -> None:
        """Stop the request: abort the attempt waiting for its head, or close its response."""
        with self._lock:
            self.cancelled.set()
            response, self._response = self._response, None
        self._attempt.abort()
        if response is not None:
            response.close()


class ErrorBody:
    """An error response read once: status, a printable excerpt, and its JSON-RPC error if any."""

    __slots__ = ("challenged", "error", "message", "retry_after", "status", "text")

    def __init__(self, response: HttpResponse) -> None:
        self.status = response.status
        self.retry_after = _retry_after(response.headers.get("retry-after"))
        self.challenged = "www-authenticate" in response.headers  # the server asks for credentials
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
        """The JSON-RPC error code the body carries, if any."""
        code = self.error.get("code") if self.error else None
        return code if isinstance(code, int) else None

    @property
    def is_modern_error(self) -> bool:
        """Whether the error is one only a 2026-07-28 server sends."""
        return self.code in MODERN_ERROR_CODES or (self.status == 404 and self.code == ErrorCode.METHOD_NOT_FOUND)


def for_request(exchange: Exchange, exc: Exception, server: str) -> Exception:
    """``exc`` with the method and server named first, keeping its type and fields."""
    prefix = f"{exchange.method} to MCP server '{server}'"
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


class ResponseReader:
    """Reads the answers of one transport's requests into its inbox.

    Thread-safe: it keeps no state between calls (each exchange's own state is its
    :class:`Exchange`, each stream's its decoder).

    Args:
        url: the MCP endpoint.
        name: the server's name, for logs and errors.
        max_message_size: the largest message accepted, in bytes.
        read_timeout: most seconds a resumed stream may stay silent (``None``: no limit).
        auth_configured: whether the transport has credentials (it changes the hint of a 401).
        deliver: called with each decoded JSON-RPC value (a message or a batch), in order.
        on_result: called with an exchange and its own result, before the result is delivered.
        send: how to send a request (the ``GET`` that resumes a stream).
        stream_headers: the headers of a ``GET`` for an event stream.
        closed: whether the transport is closed (a cut stream is then not resumed).
        answer_elsewhere: whether a request's answer can still arrive on another stream after
            the server accepted it with ``202`` (a legacy session's ``GET`` stream).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        max_message_size: int,
        read_timeout: Optional[float],
        auth_configured: bool,
        deliver: Callable[[Any], None],
        on_result: Callable[[Exchange, Any], None],
        send: Send,
        stream_headers: Callable[[], Headers],
        closed: Callable[[], bool],
        answer_elsewhere: Callable[[Exchange], bool],
    ) -> None:
        self.url = url
        self.name = name
        self.max_message_size = max_message_size
        self.read_timeout = read_timeout
        self._auth_configured = auth_configured
        self._put = deliver
        self._on_result = on_result
        self._send = send
        self._stream_headers = stream_headers
        self._is_closed = closed
        self._answer_elsewhere = answer_elsewhere

    def consume(self, response: HttpResponse, exchange: Exchange) -> None:
        """Read a successful response: a JSON body, an SSE stream, or nothing (202).

        Raises:
            HTTPError: the body is not what a request's answer must be, or the stream was cut (or
                ended before the answer) and cannot be resumed.
            MessageTooLarge: a message is larger than ``max_message_size``.
        """
        kind = response.content_type
        if response.status == 202:
            response.close()
            if not self._answer_elsewhere(exchange):
                raise self._bad_body(exchange, response, "no answer (202), and no other stream could carry one")
            logger.debug("'%s': %s accepted (202); its answer can only come on the GET stream", self.name, exchange.method)
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
            self.deliver(value, exchange)
            if not exchange.answered:
                raise self._bad_body(exchange, response, f"a JSON body without the response: {_excerpt(data)}")
            return
        if kind == "text/event-stream":
            self._read_stream(response, exchange)
            return
        text = response.excerpt()
        raise self._bad_body(exchange, response, f"content type {kind or 'none'!r}" + (f": {text}" if text else ""))

    def _bad_body(self, exchange: Exchange, response: HttpResponse, what: str) -> HTTPError:
        return HTTPError(
            f"{exchange.method} to MCP server '{self.name}': HTTP {response.status} with {what}",
            status=response.status,
            url=self.url,
        )

    def _read_stream(self, response: HttpResponse, exchange: Exchange) -> None:
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
                            self.deliver_event(event.data, exchange)
                            if exchange.answered:
                                self._drain(response, decoder)
                                return
            finally:
                response.close()
            if exchange.answered or exchange.cancelled.is_set():
                return
            resumable = not exchange.modern and decoder.last_event_id
            if not resumable or resumptions >= MAX_RESUMPTIONS:
                # One request's stream, not the connection: the session (and the server) go on.
                raise HTTPError(f"{exchange.method} to MCP server '{self.name}' failed: {reason}", url=self.url)
            resumptions = 0 if progressed else resumptions + 1
            delay = (decoder.retry_ms / 1000.0) if decoder.retry_ms is not None else DEFAULT_RECONNECT_DELAY
            if exchange.cancelled.wait(delay) or self._is_closed():
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
                        self.deliver_event(event.data, None)
        except (HTTPError, MessageTooLarge) as exc:
            logger.debug("'%s': an answered stream did not end cleanly: %s", self.name, exc)

    def _resume(self, last_event_id: str, exchange: Exchange) -> Optional[HttpResponse]:
        headers = self._stream_headers()
        headers["Last-Event-ID"] = last_event_id
        response = self._send(HttpRequest("GET", self.url, headers, replayable=True), self.read_timeout, exchange.pending)
        if not exchange.attach(response):
            return None
        if response.status == 200 and response.content_type == "text/event-stream":
            logger.debug("'%s': resumed the stream of %s after event %s", self.name, exchange.method, last_event_id)
            return response
        error = ErrorBody(response)
        raise self.status_error(f"resuming the stream of {exchange.method} to MCP server '{self.name}'", error)

    def deliver_event(self, data: str, exchange: Optional[Exchange]) -> None:
        """Deliver the JSON-RPC value of one SSE event (of ``exchange``'s stream, if any).

        Raises:
            HTTPError: the event of an exchange is not JSON (on another stream: logged, ignored).
        """
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
        self.deliver(value, exchange)

    def deliver(self, value: Any, exchange: Optional[Exchange]) -> None:
        """Hand a decoded value to ``receive()``, noting the exchange's own answer.

        ``null`` is not a message, and would read as the end of the connection: it is dropped.
        """
        if value is None:
            logger.warning("'%s' sent null instead of a JSON-RPC message, ignored", self.name)
            return
        messages = value if isinstance(value, list) else [value]
        for message in messages:
            if exchange is None or not isinstance(message, dict) or message.get("id") != exchange.request_id:
                continue
            if "result" in message or "error" in message:
                exchange.answered = True
                if "result" in message:
                    self._on_result(exchange, message["result"])
        self._put(value)

    def deliver_error(self, exchange: Exchange, error: ErrorBody) -> None:
        """An error status: the JSON-RPC error it carries, or an :class:`HTTPError` for the call.

        Raises:
            HTTPError: the response carried no JSON-RPC error for the request (or was a 401/403).
        """
        if error.message is not None and error.status not in (401, 403):
            message = dict(error.message)
            if message.get("id") is None:
                message["id"] = exchange.request_id  # the error is about this request
            self.deliver(message, exchange)
            if exchange.answered:
                return
        raise self.status_error(f"{exchange.method} to MCP server '{self.name}'", error)

    def status_error(self, what: str, error: ErrorBody) -> HTTPError:
        """The :class:`HTTPError` (or :class:`AuthenticationRequired`) of an error response to ``what``."""
        detail = error.error.get("message") if error.error and isinstance(error.error.get("message"), str) else error.text
        text = f"{what}: HTTP {error.status}" + (f": {detail}" if detail else "")
        # A 401 asks for credentials; a 403 only when it challenges too (insufficient_scope): a
        # plain 403 (an Origin check, an address block) is not about logging in.
        if error.status == 401 or (error.status == 403 and error.challenged):
            hint = (
                "the server requires authentication; set bearer_token_env_var or log in"
                if not self._auth_configured
                else "the server refused the credentials"
            )
            return AuthenticationRequired(f"{text} ({hint})", status=error.status, url=self.url, body=error.text)
        return HTTPError(text, status=error.status, url=self.url, body=error.text)

    def own_result(self, response: HttpResponse, request_id: str) -> Any:
        """The result of a request the transport sent itself (the session never sees it).

        Raises:
            HTTPError: the answer is not JSON, is missing, or is an error.
        """
        found: List[Any] = []

        def take(value: Any) -> None:
            for message in value if isinstance(value, list) else [value]:
                if isinstance(message, dict) and message.get("id") == request_id:
                    found.append(message)
                else:
                    self._put(message)  # related notifications still reach the session

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


def _excerpt(data: Any) -> str:
    return excerpt(data.encode("utf-8", "replace") if isinstance(data, str) else data)

"""The deprecated HTTP+SSE transport of MCP 2024-11-05, as a channel the HTTP transport falls back to.

The client opens one long ``GET`` (``Accept: text/event-stream``); the server's first event,
``endpoint``, names the URL to ``POST`` messages to; every message from the server, responses
included, then arrives as a ``message`` event on that one stream. When the stream ends the
connection is over (the 2024-11-05 revision has no resumption).

Example::

    channel = LegacySSEChannel("http://127.0.0.1:3001/sse", send=..., deliver=inbox.put, on_end=..., name="old")
    channel.connect(timeout=10)
    channel.post(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{...}}')
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from typing import Any, Callable, Optional

from ._exceptions import HTTPError, MessageTooLarge
from ._httpwire import Headers, HttpRequest, HttpResponse, redact_url
from ._sse import SSEDecoder
from ._urls import same_origin

__all__ = ["LegacySSEChannel"]

logger = logging.getLogger("syncmcp.http")

Send = Callable[[HttpRequest, Optional[float]], HttpResponse]


class LegacySSEChannel:
    """One HTTP+SSE (2024-11-05) connection: the event stream, and where to post messages.

    Args:
        url: the SSE URL (``GET``).
        send: ``send(request, read_timeout) -> HttpResponse`` (auth flow included).
        deliver: called on the channel's thread with each decoded JSON-RPC value.
        on_end: called once, on the channel's thread, with a reason when the stream ends.
        name: the server's name, for thread names and messages.
        headers: headers for every request (static configuration).
        max_message_size: the largest event accepted.
        ack_timeout: seconds a ``POST`` may take to be accepted.
    """

    def __init__(
        self,
        url: str,
        *,
        send: Send,
        deliver: Callable[[Any], None],
        on_end: Callable[[str], None],
        name: str,
        headers: Headers,
        max_message_size: int,
        ack_timeout: float,
    ) -> None:
        self.url = url
        self.name = name
        self._send = send
        self._deliver = deliver
        self._on_end = on_end
        self._headers = headers
        self._max = max_message_size
        self._ack_timeout = ack_timeout
        self._endpoint: Optional[str] = None
        self._ready = threading.Event()
        self._response: Optional[HttpResponse] = None
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._lock = threading.Lock()
        self._failure: Optional[BaseException] = None

    @property
    def endpoint(self) -> Optional[str]:
        """The URL messages are posted to, once the server named it."""
        return self._endpoint

    def connect(self, timeout: float) -> None:
        """Open the event stream and wait (at most ``timeout`` seconds) for the ``endpoint`` event.

        Raises:
            HTTPError: the ``GET`` failed, was not an event stream, or named no endpoint in time.
        """
        deadline = time.monotonic() + timeout
        headers = self._headers.copy()
        headers["Accept"] = "text/event-stream"
        headers["Cache-Control"] = "no-cache"
        # The head within the connect timeout; the stream itself may then stay silent for long.
        response = self._send(HttpRequest("GET", self.url, headers, replayable=True), timeout)
        where = redact_url(self.url)
        if response.status != 200 or response.content_type != "text/event-stream":
            body = response.excerpt()
            raise HTTPError(
                f"{where}: GET for the HTTP+SSE event stream got {response.status} ({response.content_type or 'no content type'})"
                + (f": {body}" if body else ""),
                status=response.status,
                url=self.url,
                body=body,
            )
        response.set_read_timeout(None)
        with self._lock:
            if self._closed:
                response.close()
                raise HTTPError(f"{where}: the connection was closed", url=self.url)
            self._response = response
        thread = threading.Thread(target=self._read, args=(response,), name=f"syncmcp-http-sse[{self.name}]", daemon=True)
        self._thread = thread
        thread.start()
        if not self._ready.wait(max(0.0, deadline - time.monotonic())):
            self.close()
            raise HTTPError(f"{where}: the HTTP+SSE server sent no endpoint event within {timeout:g} s", url=self.url)
        if self._endpoint is None:
            reason = f": {self._failure}" if self._failure else ""
            raise HTTPError(f"{where}: the HTTP+SSE event stream ended before naming an endpoint{reason}", url=self.url)

    def post(self, body: bytes) -> None:
        """``POST`` one message to the endpoint; the answer, if any, arrives on the stream.

        Raises:
            HTTPError: the server did not accept the message.
        """
        endpoint = self._endpoint
        if endpoint is None:
            raise HTTPError(f"{redact_url(self.url)}: the HTTP+SSE connection is not open", url=self.url)
        headers = self._headers.copy()
        headers["Content-Type"] = "application/json"
        with self._send(HttpRequest("POST", endpoint, headers, body), self._ack_timeout) as response:
            if not 200 <= response.status < 300:
                text = response.excerpt()
                raise HTTPError(
                    f"{redact_url(endpoint)}: HTTP {response.status} {response.reason}" + (f": {text}" if text else ""),
                    status=response.status,
                    url=endpoint,
                    body=text,
                )
            response.read(65536)

    def _read(self, response: HttpResponse) -> None:
        decoder = SSEDecoder(self._max)
        reason = "the server ended the HTTP+SSE event stream"
        try:
            for chunk in response.iter_bytes():
                for event in decoder.feed(chunk):
                    if event.event == "endpoint":
                        endpoint = urllib.parse.urljoin(self.url, event.data.strip())
                        if not same_origin(endpoint, self.url):  # the POSTs carry the credentials
                            raise HTTPError(
                                f"{redact_url(self.url)}: the HTTP+SSE server named an endpoint on another origin "
                                f"({redact_url(endpoint)}); refused",
                                url=self.url,
                            )
                        self._endpoint = endpoint
                        logger.debug("'%s': HTTP+SSE endpoint is %s", self.name, redact_url(self._endpoint))
                        self._ready.set()
                    elif event.event == "message":
                        self._message(event.data)
        except (HTTPError, MessageTooLarge) as exc:
            reason = str(exc)
            self._failure = exc
        finally:
            response.close()
            self._ready.set()
            with self._lock:
                closed = self._closed
            if not closed:
                self._on_end(reason)

    def _message(self, data: str) -> None:
        try:
            value = json.loads(data)
        except ValueError:
            logger.warning("'%s' sent an SSE event that is not JSON, ignored: %.200s", self.name, data)
            return
        if value is None:  # not a message; it would read as the end of the connection
            logger.warning("'%s' sent null instead of a JSON-RPC message, ignored", self.name)
            return
        self._deliver(value)

    def close(self, timeout: float = 5.0) -> None:
        """Close the stream and join the reader (idempotent)."""
        with self._lock:
            self._closed = True
            response, self._response = self._response, None
        if response is not None:
            response.close()
        self._ready.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

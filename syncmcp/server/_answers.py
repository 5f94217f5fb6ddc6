r"""Writing the answer of an HTTP request: JSON when nothing streams, an SSE stream otherwise.

An :class:`AnswerWriter` turns an :class:`~syncmcp.server._sseout.Outbox` into a WSGI response.
It waits for the first message: the answer alone (or the answers of a batch) makes a JSON body;
anything else (progress, logs, a question to the client) opens an SSE stream that carries the
messages as they come, with keep-alive comments while idle. Each answer has a deadline: past
it the request is cancelled and answered with -32001. A client that leaves is noticed where the
WSGI server lets the application see its socket (gunicorn, the embedded server) or says so
(waitress), otherwise when a write fails; what that means (cancel the request, or keep it for a
resumption) is the caller's choice.

Example::

    writer = AnswerWriter(keepalive_interval=15.0, json_response=True, retry_ms=1000, request_timeout=300.0)
    return writer.respond(start_response, outbox, [request_id], environ=environ, wants_json=True, ...)
"""

from __future__ import annotations

import json
import logging
import select
import socket
import ssl
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from .._jsonrpc import make_error
from ._sseout import KEEPALIVE, Outbox, encode_event, priming_event

__all__ = ["REQUEST_TIMEOUT", "AnswerWriter", "json_answer"]

logger = logging.getLogger("syncmcp.server.http")

StartResponse = Callable[..., Any]
Headers = Sequence[Tuple[str, str]]

#: JSON-RPC error code of a request that ran past its deadline (as the SDKs use it).
REQUEST_TIMEOUT = -32001
#: Seconds between checks that a client waiting for an answer is still connected.
_DISCONNECT_POLL = 0.25
_JSON = "application/json"
_SSE_HEADERS: List[Tuple[str, str]] = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache, no-transform"),
    ("X-Accel-Buffering", "no"),  # nginx: do not buffer the stream
]


def _dumps(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_answer(start_response: StartResponse, status: str, body: Any, headers: Headers = ()) -> List[bytes]:
    """A JSON response with its length."""
    data = _dumps(body)
    start_response(status, [("Content-Type", _JSON), ("Content-Length", str(len(data))), *headers])
    return [data]


class AnswerWriter:
    """Writes requests' answers and streams (see the module docs).

    Args:
        keepalive_interval: seconds between SSE keep-alive comments on an idle stream.
        json_response: answer with JSON when nothing streams (else always SSE).
        retry_ms: the SSE ``retry`` of a resumable stream's priming event.
        request_timeout: seconds a request may run (``None``: no limit), for the -32001 text.
    """

    def __init__(
        self, *, keepalive_interval: float, json_response: bool, retry_ms: Optional[int], request_timeout: Optional[float]
    ) -> None:
        self.keepalive_interval = keepalive_interval
        self.json_response = json_response
        self.retry_ms = retry_ms
        self.request_timeout = request_timeout

    def respond(
        self,
        start_response: StartResponse,
        outbox: Outbox,
        request_ids: Sequence[Any],
        *,
        environ: Mapping[str, Any],
        wants_json: bool,
        wants_sse: bool,
        on_timeout: Callable[[], Any],
        on_leave: Optional[Callable[[], Any]],
        deadline: Optional[float],
        headers: Headers = (),
        resumable: bool = False,
        priming: bool = False,
        batch: bool = False,
    ) -> Iterable[bytes]:
        """JSON when nothing streams (or the client takes nothing else), SSE otherwise."""
        stream = _Stream(outbox, request_ids, on_timeout, on_leave, deadline, _disconnect_probe(environ) if on_leave else None)
        if wants_json:
            # Wait for the first message (the response alone means nothing streams), or for the
            # end when the client takes JSON only.
            seen = 0
            while True:
                if stream.client_left():
                    return json_answer(start_response, "200 OK", make_error(None, -32600, "the client left"), list(headers))
                wait = stream.wait(self.keepalive_interval)
                if wait <= 0:
                    stream.time_out(self._timeout_errors)
                    break
                if wants_sse:
                    # Answers alone (a batch's may come one by one) still make one JSON body.
                    fresh, finished = outbox.read(seen, wait)
                    if finished or outbox.streamed:
                        break
                    seen = fresh[-1][0] if fresh else seen
                elif outbox.wait_finished(wait):
                    break
            done = outbox.finished
            if done and (not wants_sse or (self.json_response and not outbox.streamed)):
                finals = outbox.final_messages()
                outbox.mark_delivered(outbox.last_seq)  # nothing to resume: the stream can go
                if not finals:  # cancelled, or its session ended
                    error = make_error(None if batch else request_ids[0], -32600, "the request ended without an answer")
                    return json_answer(start_response, "404 Not Found", error, list(headers))
                return json_answer(start_response, "200 OK", finals if batch else finals[-1], list(headers))
        start_response("200 OK", [*_SSE_HEADERS, *headers])
        return self._events(stream, 0, outbox.take_reader(), resumable, priming)

    def _timeout_errors(self, request_ids: Sequence[Any]) -> List[Dict[str, Any]]:
        logger.warning(
            "request(s) %s ran past request_timeout (%g s) and were cancelled", list(request_ids), self.request_timeout
        )
        text = f"Request timed out after {self.request_timeout:g} s (request_timeout)"
        return [make_error(request_id, REQUEST_TIMEOUT, text) for request_id in request_ids]

    def stream(
        self, start_response: StartResponse, environ: Mapping[str, Any], outbox: Outbox, after: int, *, priming: bool
    ) -> Iterator[bytes]:
        """A session's stream from event ``after``: the GET stream, or a request's stream resumed.

        A resumed request keeps the deadline its POST set.
        """
        start_response("200 OK", list(_SSE_HEADERS))
        owner = outbox.owner if isinstance(outbox.owner, _Stream) else None
        stream = _Stream(outbox, (), None, None, None, _disconnect_probe(environ))
        if owner is not None:
            stream.request_ids, stream.on_timeout, stream.deadline = owner.request_ids, owner.on_timeout, owner.deadline
        return self._events(stream, after, outbox.take_reader(), True, priming, opening=not priming)

    def _events(
        self, stream: _Stream, after: int, reader: int, resumable: bool, priming: bool, *, opening: bool = False
    ) -> Iterator[bytes]:
        outbox = stream.outbox
        finished = False
        last_write = time.monotonic()
        try:
            if priming:
                yield priming_event(outbox.event_id(after), self.retry_ms)
            elif opening:  # the response head goes out now, not with the first event
                yield KEEPALIVE
            while True:
                if stream.client_left():
                    return
                wait = stream.wait(self.keepalive_interval - (time.monotonic() - last_write))
                if wait <= 0 and stream.deadline is not None and time.monotonic() >= stream.deadline:
                    stream.time_out(self._timeout_errors)
                events, done = outbox.read(after, max(wait, 0.0), reader)
                for seq, message in events:
                    yield encode_event(outbox.event_id(seq) if resumable else None, _dumps(message))
                    after = seq
                    outbox.mark_delivered(seq)
                if done:
                    finished = True
                    return
                if events:
                    last_write = time.monotonic()
                elif time.monotonic() - last_write >= self.keepalive_interval:
                    yield KEEPALIVE
                    last_write = time.monotonic()
        finally:
            outbox.release_reader(reader)
            if not finished:
                stream.leave()


class _Stream:
    """One response being written: its deadline, and what to do when the client leaves or time runs out."""

    def __init__(
        self,
        outbox: Outbox,
        request_ids: Sequence[Any],
        on_timeout: Optional[Callable[[], Any]],
        on_leave: Optional[Callable[[], Any]],
        deadline: Optional[float],
        probe: Optional[Callable[[], bool]],
    ) -> None:
        self.outbox = outbox
        self.request_ids = request_ids
        self.on_timeout = on_timeout
        self.on_leave = on_leave
        self.deadline = None if deadline is None else time.monotonic() + deadline
        self.probe = probe
        self._left = False
        if on_timeout is not None:
            outbox.owner = self  # a resumed stream keeps this deadline

    def wait(self, longest: float) -> float:
        """How long the next wait may be: up to ``longest``, the deadline and the next disconnect check."""
        wait = longest
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
        if self.probe is not None:
            wait = min(wait, _DISCONNECT_POLL)
        return wait

    def time_out(self, errors: Callable[[Sequence[Any]], List[Dict[str, Any]]]) -> None:
        """The deadline passed: cancel the work and answer every request with -32001."""
        if self.on_timeout is None or self.outbox.finished:
            return
        # The errors go in before the work is cancelled: a handler that notices the
        # cancellation and still returns must not answer in their place.
        answered = {message.get("id") for message in self.outbox.final_messages()}
        for error in errors([request_id for request_id in self.request_ids if request_id not in answered]):
            self.outbox.put(error, final=True)
        self.on_timeout()

    def client_left(self) -> bool:
        """Whether the client is gone (checked where the server can tell); then :meth:`leave`."""
        if self.probe is not None and not self.outbox.finished and self.probe():
            self.leave()
            return True
        return False

    def leave(self) -> None:
        """The client left before the end: cancel what it was waiting for (once)."""
        if not self._left and self.on_leave is not None:
            self._left = True
            self.on_leave()


def _disconnect_probe(environ: Mapping[str, Any]) -> Optional[Callable[[], bool]]:
    """A check that the client closed its connection, where the WSGI server makes one possible.

    waitress offers ``waitress.client_disconnected``; with gunicorn (``gunicorn.socket``) and the
    embedded server (``syncmcp.socket``) the socket shows EOF. Elsewhere the server learns it only
    when a write fails (SSE keep-alives).
    """
    waitress = environ.get("waitress.client_disconnected")
    if callable(waitress):
        return lambda: bool(waitress())
    sock = environ.get("syncmcp.socket") or environ.get("gunicorn.socket")
    if sock is None or isinstance(sock, ssl.SSLSocket) or not hasattr(sock, "recv"):
        return None

    def gone() -> bool:
        try:
            if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                readable = bool(poller.poll(0))
            else:  # pragma: no cover - platforms without poll()
                readable = bool(select.select([sock], [], [], 0)[0])
            return readable and sock.recv(1, socket.MSG_PEEK) == b""
        except ValueError:  # a descriptor select() cannot watch: unknown, so not gone
            return False
        except OSError:
            return True

    return gone

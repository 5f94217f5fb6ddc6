r"""The messages of one HTTP response, and their Server-Sent Events encoding.

An :class:`Outbox` collects, in order, what the server sends on one response stream: the
notifications and requests related to a request, then its response (the *final* message). The
WSGI iterator that writes the response reads from it; handler threads write to it. Events get
ids (``<stream>:<n>``) and stay in the outbox for a while, so that a client whose stream broke
can resume it with ``Last-Event-ID`` (legacy sessions).

Example:
    >>> box = Outbox("1", expected=1)
    >>> box.put({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})
    >>> box.put({"jsonrpc": "2.0", "id": 1, "result": {}}, final=True)
    >>> events, done = box.read(0, timeout=0)
    >>> [seq for seq, _ in events], done
    ([1, 2], True)
    >>> encode_event(box.event_id(2), b'{"id":1}')
    b'id: 1:2\nevent: message\ndata: {"id":1}\n\n'
"""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["KEEPALIVE", "Outbox", "encode_event", "parse_event_id", "priming_event"]

#: An SSE comment: keeps idle streams open through proxies and reveals a client that left.
KEEPALIVE = b": keep-alive\n\n"


def encode_event(event_id: Optional[str], data: bytes) -> bytes:
    """One SSE ``message`` event carrying a JSON text (which never contains a newline)."""
    head = b"id: " + event_id.encode("ascii") + b"\n" if event_id is not None else b""
    return head + b"event: message\ndata: " + data + b"\n\n"


def priming_event(event_id: str, retry_ms: Optional[int]) -> bytes:
    """The first event of a resumable stream: an id and empty data (2025-11-25), with ``retry``."""
    retry = b"retry: %d\n" % retry_ms if retry_ms is not None else b""
    return b"id: " + event_id.encode("ascii") + b"\n" + retry + b"data: \n\n"


def parse_event_id(value: str) -> Optional[Tuple[str, int]]:
    """``(stream, seq)`` of an event id this server issued, ``None`` for anything else."""
    stream, sep, seq = value.strip().rpartition(":")
    if not sep or not stream or not seq.isdigit():
        return None
    return stream, int(seq)


class Outbox:
    """Messages for one response stream, in order, readable again from any position kept.

    Args:
        stream_id: the stream's id within its session (the prefix of its event ids).
        expected: how many final messages end the stream (the responses of its requests);
            ``0`` for a stream that ends only when closed (the GET stream, listen streams).
        history: most events kept for resumption; older ones are dropped.
        resumable: keep events after they reach the client (else each is dropped once written).

    Example:
        >>> box = Outbox("get", expected=0)
        >>> box.close()
        >>> box.read(0, timeout=1.0)
        ([], True)
    """

    def __init__(self, stream_id: str, *, expected: int, history: int = 1000, resumable: bool = True) -> None:
        self.stream_id = stream_id
        self.resumable = resumable
        self._cond = threading.Condition()
        self._events: List[Tuple[int, Dict[str, Any]]] = []
        self._next = 1
        self._history = max(1, history)
        self._remaining = expected
        self._finals: List[Dict[str, Any]] = []
        #: Whether anything but an answer (a notification, a request) was put.
        self.streamed = False
        self._finished = False
        self._reader = 0  # the generation of the iterator allowed to read; a resumed stream takes over
        #: Whether a response iterator is reading the stream now.
        self.reading = False
        #: The highest sequence number written to a client.
        self.delivered = 0
        #: What keeps the stream's deadline (set by the HTTP application).
        self.owner: Any = None

    def event_id(self, seq: int) -> str:
        """The SSE id of event ``seq``."""
        return f"{self.stream_id}:{seq}"

    def put(self, message: Dict[str, Any], *, final: bool = False) -> None:
        """Add a message; a ``final`` one counts toward the end of the stream.

        Ignored once finished, and so is a second answer to a request already answered (a
        handler that returns after its request timed out).
        """
        with self._cond:
            if self._finished or (final and any(answer.get("id") == message.get("id") for answer in self._finals)):
                return
            self._events.append((self._next, message))
            self._next += 1
            if len(self._events) > self._history:
                del self._events[: len(self._events) - self._history]
            if not final:
                self.streamed = True
            elif self._remaining > 0:
                self._finals.append(message)
                self._remaining -= 1
                if self._remaining == 0:
                    self._finished = True
            self._cond.notify_all()

    def forgo(self) -> None:
        """One of the stream's answers will never come (its request was cancelled)."""
        with self._cond:
            if self._remaining > 0:
                self._remaining -= 1
                if self._remaining == 0:
                    self._finished = True
                self._cond.notify_all()

    def close(self) -> None:
        """End the stream: readers get what is there, then the end."""
        with self._cond:
            self._finished = True
            self._cond.notify_all()

    @property
    def last_seq(self) -> int:
        """The sequence number of the latest event (``0`` before any)."""
        return self._next - 1

    @property
    def drained(self) -> bool:
        """Whether it finished and a client read it to the end (nothing is left to resume)."""
        return self._finished and self.delivered >= self._next - 1

    @property
    def finished(self) -> bool:
        """Whether every final message arrived (or the stream was closed)."""
        return self._finished

    def take_reader(self) -> int:
        """Become the stream's only reader; an earlier reader stops at its next wake-up."""
        with self._cond:
            self._reader += 1
            self.reading = True
            self._cond.notify_all()
            return self._reader

    def release_reader(self, reader: int) -> None:
        """The reader ``reader`` stopped (its client left, or the stream ended)."""
        with self._cond:
            if reader == self._reader:
                self.reading = False

    def mark_delivered(self, seq: int) -> None:
        """Event ``seq`` reached the client (as far as the server can tell)."""
        self.delivered = max(self.delivered, seq)
        if not self.resumable:
            with self._cond:
                while self._events and self._events[0][0] <= seq and len(self._events) > 1:
                    del self._events[0]

    def wait_finished(self, timeout: Optional[float]) -> bool:
        """Block until the stream finished; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._finished, timeout)

    def read(self, after: int, timeout: float, reader: Optional[int] = None) -> Tuple[List[Tuple[int, Dict[str, Any]]], bool]:
        """Events with a sequence number above ``after``, waiting up to ``timeout`` for one.

        Returns ``(events, done)``: ``done`` once the stream finished and nothing newer is left,
        or when another reader took the stream over.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if reader is not None and reader != self._reader:
                    return [], True
                events = [event for event in self._events if event[0] > after] if self._events else []
                if events or self._finished:
                    return events, self._finished and (not events or events[-1][0] == self._next - 1)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return [], False
                self._cond.wait(remaining)

    def final_message(self) -> Optional[Dict[str, Any]]:
        """The response, once finished (for a one-request stream)."""
        with self._cond:
            return self._finals[-1] if self._finished and self._finals else None

    def final_messages(self) -> List[Dict[str, Any]]:
        """Every response so far, in the order they came (for a batch)."""
        with self._cond:
            return list(self._finals)

r"""A sans-I/O decoder for Server-Sent Events (the WHATWG ``text/event-stream`` format).

Bytes go in with :meth:`SSEDecoder.feed`, complete events come out. The decoder keeps what the
SSE specification says a client must keep across events and reconnections: the last event id
(also updated by events whose data is empty, such as the MCP "priming" event) and the ``retry``
delay. Lines may end in ``\r\n``, ``\n`` or ``\r``; comment lines (``:`` keep-alives) are
skipped; one event's data is capped so a runaway stream cannot grow memory without bound.

Example:
    >>> decoder = SSEDecoder()
    >>> decoder.feed(b"id: 7\nretry: 500\ndata: \n\n")            # a priming event: nothing to deliver
    []
    >>> decoder.last_event_id, decoder.retry_ms
    ('7', 500)
    >>> [e.data for e in decoder.feed(b'event: message\ndata: {"a":\ndata: 1}\n\n')]
    ['{"a":\n1}']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from ._exceptions import MessageTooLarge

__all__ = ["SSEDecoder", "SSEEvent"]


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event: its type (``message`` unless named), data, and id (if it had one)."""

    event: str
    data: str
    id: Optional[str]


class SSEDecoder:
    """Turns a byte stream into :class:`SSEEvent` objects, one call to :meth:`feed` at a time.

    Args:
        max_event_size: the most bytes of data one event may carry; more raises
            :class:`~syncmcp.MessageTooLarge`.
    """

    def __init__(self, max_event_size: int = 64 * 1024 * 1024) -> None:
        self.max_event_size = max_event_size
        #: The id of the last event seen (``Last-Event-ID`` on a reconnection), if any.
        self.last_event_id: Optional[str] = None
        #: The reconnection delay the server asked for, in milliseconds, if it did.
        self.retry_ms: Optional[int] = None
        self._buffer = b""
        self._first = True
        self._after_cr = False
        self._event = ""
        self._data: List[str] = []
        self._size = 0
        self._id: Optional[str] = None

    def feed(self, chunk: bytes) -> List[SSEEvent]:
        """Decode ``chunk``; return the events it completed, in order."""
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the second half of a CRLF split across chunks
        self._after_cr = False
        data = self._buffer + chunk if self._buffer else chunk
        if self._first:
            if len(data) < 3 and b"\xef\xbb\xbf".startswith(data):
                self._buffer = data
                return []
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            self._first = False
        events: List[SSEEvent] = []
        start = 0
        length = len(data)
        while start < length:
            lf = data.find(b"\n", start)
            cr = data.find(b"\r", start, lf if lf >= 0 else length)
            if cr >= 0:
                end, after = cr, cr + 1
                if after < length and data[after] == 0x0A:
                    after += 1
                elif after == length:
                    self._after_cr = True
            elif lf >= 0:
                end, after = lf, lf + 1
            else:
                break
            self._line(data[start:end], events)
            start = after
        rest = data[start:]
        if len(rest) > self.max_event_size + 64:
            raise MessageTooLarge(f"an SSE line is longer than the {self.max_event_size}-byte message limit")
        self._buffer = rest
        return events

    def _line(self, raw: bytes, events: List[SSEEvent]) -> None:
        if not raw:
            self._dispatch(events)
            return
        if raw[0] == 0x3A:  # ":" a comment (keep-alive)
            return
        line = raw.decode("utf-8", "replace")
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._size += len(raw) + 1
            if self._size > self.max_event_size:
                self._data = []
                self._size = 0
                raise MessageTooLarge(f"an SSE event is larger than the {self.max_event_size}-byte message limit")
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit() and value.isascii():
            self.retry_ms = int(value)

    def _dispatch(self, events: List[SSEEvent]) -> None:
        event_id = self._id
        if event_id is not None:
            self.last_event_id = event_id
        text, kind = "\n".join(self._data), self._event
        self._data, self._event, self._size, self._id = [], "", 0, None
        if not text:
            return  # no data, or one empty data line (a priming event): nothing to deliver
        events.append(SSEEvent(kind or "message", text, event_id))

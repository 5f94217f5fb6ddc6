"""Test doubles for code that uses syncmcp: an in-memory transport pair.

``memory_pair()`` returns two connected transports. Give one to a :class:`~syncmcp.ClientSession`
and drive the other by hand (or with an endpoint acting as a server) to test without processes.

Example:
    >>> client_end, server_end = memory_pair()
    >>> client_end.send({"jsonrpc": "2.0", "method": "x"})
    >>> server_end.receive(timeout=1)
    {'jsonrpc': '2.0', 'method': 'x'}
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Optional, Tuple

from ._exceptions import ConnectionClosed
from ._jsonrpc import decode_line, encode_message

__all__ = ["MemoryTransport", "memory_pair"]

_EOF = object()


class _Raw:
    __slots__ = ("line",)

    def __init__(self, line: bytes) -> None:
        self.line = line


class MemoryTransport:
    """One end of an in-memory connection that behaves like a pipe.

    Messages are encoded and decoded on the way, so what arrives is a copy, and a value that is
    not JSON fails in ``send`` as it would on a real pipe. ``close()`` ends both directions: the
    peer's ``receive()`` returns ``None`` (EOF), as does our own.

    Example::

        client_end, server_end = memory_pair()
        session = syncmcp.ClientSession(client_end)   # drive server_end by hand in the test
    """

    def __init__(self, inbox: queue.Queue[Any], outbox: queue.Queue[Any], name: str) -> None:
        self.name = name
        self._inbox = inbox
        self._outbox = outbox
        self._closed = False
        self._lock = threading.Lock()
        self.returncode: Optional[int] = None
        self.stderr = ""

    def open(self) -> None:
        """Nothing to do; the pair is connected from the start."""

    def send(self, message: Any) -> None:
        """Deliver a copy of ``message`` to the peer.

        Raises:
            ConnectionClosed: this end was closed.
            ValueError: the message is not JSON-serialisable.
        """
        line = encode_message(message)
        with self._lock:
            if self._closed:
                raise ConnectionClosed(f"memory transport {self.name} is closed")
            self._outbox.put(_Raw(line))

    def send_raw(self, line: bytes) -> None:
        """Deliver raw bytes as one line, e.g. garbage that is not JSON."""
        with self._lock:
            if self._closed:
                raise ConnectionClosed(f"memory transport {self.name} is closed")
            self._outbox.put(_Raw(line))

    def receive(self, timeout: Optional[float] = None) -> Any:
        """The next message, ``None`` at EOF.

        Args:
            timeout: for tests driving this end by hand: raise ``queue.Empty`` after this long.

        Raises:
            InvalidMessage: the peer sent a line that is not JSON.
        """
        item = self._inbox.get(timeout=timeout)
        if item is _EOF:
            self._inbox.put(_EOF)  # stay at EOF for later calls
            return None
        return decode_line(item.line)

    def close(self) -> None:
        """End the connection in both directions; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._outbox.put(_EOF)
        self._inbox.put(_EOF)

    def exit_details(self, wait: float) -> Tuple[Optional[int], str]:
        """What tests set in ``returncode`` and ``stderr``."""
        return self.returncode, self.stderr


def memory_pair(client_name: str = "memory", server_name: str = "client") -> Tuple[MemoryTransport, MemoryTransport]:
    """Two connected :class:`MemoryTransport` ends: ``(client_end, server_end)``.

    Example::

        client_end, server_end = memory_pair()
        client_end.send({"jsonrpc": "2.0", "method": "ping", "id": 1})
        server_end.receive(timeout=1)   # {'jsonrpc': '2.0', 'method': 'ping', 'id': 1}
    """
    a: queue.Queue[Any] = queue.Queue()
    b: queue.Queue[Any] = queue.Queue()
    return MemoryTransport(a, b, client_name), MemoryTransport(b, a, server_name)

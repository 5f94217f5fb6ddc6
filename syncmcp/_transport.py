r"""The blocking transport interface, and newline-delimited JSON over a pair of byte streams.

A transport moves whole JSON-RPC messages and nothing else: it owns no protocol state, no ids,
and no reader thread (the endpoint owns those). ``receive`` blocks until one message or EOF.

Example:
    >>> import io
    >>> t = StreamTransport(io.BytesIO(b'{"jsonrpc":"2.0","method":"x"}\n'), io.BytesIO())
    >>> t.receive(), t.receive()
    ({'jsonrpc': '2.0', 'method': 'x'}, None)
"""

from __future__ import annotations

import os
import threading
from typing import IO, Any, Optional, Protocol, Tuple

from ._exceptions import ConnectionClosed, MessageTooLarge
from ._jsonrpc import decode_line, encode_message

__all__ = ["DEFAULT_MAX_MESSAGE_SIZE", "RequestFailed", "StreamTransport", "Transport"]

#: Largest message accepted from a peer, in bytes (the newline excluded). A longer line fails the
#: connection with :class:`MessageTooLarge` instead of buffering without bound.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024


class RequestFailed:
    """What ``receive()`` returns, instead of a message, when one request failed in the transport.

    A transport that carries each request separately (HTTP) can lose one request without losing
    the connection: an error status, a stream cut before its response, a login that is needed.
    The endpoint then fails that request alone with ``error``; other calls are unaffected.

    Example:
        >>> failed = RequestFailed(3, ConnectionClosed("the server closed the stream before answering"))
        >>> failed.request_id
        3
    """

    __slots__ = ("error", "request_id")

    def __init__(self, request_id: Any, error: Exception) -> None:
        self.request_id = request_id
        self.error = error

    def __repr__(self) -> str:
        return f"RequestFailed({self.request_id!r}, {type(self.error).__name__})"


class Transport(Protocol):
    """What the endpoint needs from a connection. All methods block; any thread may call them.

    * ``open()`` connects (spawns the server); a no-op when already open.
    * ``send(message)`` writes one JSON-RPC message (a dict, or a list for a batch).
    * ``receive()`` returns the next decoded JSON value, or ``None`` at EOF, or a
      :class:`RequestFailed` when the transport lost one request but not the connection. It raises
      :class:`~syncmcp._jsonrpc.InvalidMessage` for a line that is not JSON (the caller may
      continue) and :class:`MessageTooLarge` or another ``TransportError`` when the connection is
      unusable.
    * ``close()`` is idempotent and releases everything (for a child process: reaps it).
    * ``exit_details(wait)`` gives the exit code and stderr tail after EOF, waiting at most
      ``wait`` seconds for them.

    Example::

        class LoggingTransport(syncmcp.StreamTransport):
            def send(self, message):
                print("->", message)
                super().send(message)
    """

    name: str

    def open(self) -> None:
        """Connect; idempotent."""

    def send(self, message: Any) -> None:
        """Write one message."""

    def receive(self) -> Any:
        """Read one message; ``None`` at EOF."""

    def close(self) -> None:
        """Release the connection; idempotent."""

    def exit_details(self, wait: float) -> Tuple[Optional[int], str]:
        """``(exit code or None, stderr tail)`` once the peer is gone."""


class LineReader(Protocol):
    """What :class:`StreamTransport` reads from: a binary file, or a :class:`~syncmcp._wakeable.WakeableReader`."""

    def readline(self, limit: int = -1, /) -> bytes:
        """One line, at most ``limit`` bytes; ``b""`` at the end."""

    def close(self) -> None:
        """Stop reading."""


class StreamTransport:
    """Newline-delimited JSON-RPC over a readable and a writable binary stream.

    Used for the server side of stdio (the process's own stdin and stdout) and as the base of
    :class:`~syncmcp.StdioTransport`. Writes are serialised by a lock covering one line and its
    flush; reads come from one thread at a time (the endpoint's reader).

    Args:
        reader: the stream to read messages from (a buffered binary stream).
        writer: the stream to write messages to.
        name: used in error messages and logs.
        max_message_size: the longest accepted line in bytes.

    Example::

        import sys
        transport = StreamTransport(sys.stdin.buffer, sys.stdout.buffer, name="client")  # a server's side of stdio
    """

    def __init__(
        self,
        reader: Optional[LineReader],
        writer: Optional[IO[bytes]],
        *,
        name: str = "stream",
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self.name = name
        self.max_message_size = max_message_size
        self._reader = reader
        self._writer = writer
        #: Set (before waking the reader) when reading must end although the stream has not.
        self._stop_reading = False
        # The writer's descriptor when this transport is its only user (a child's stdin): each
        # message is then one os.write of its encoded line, not a buffered write and a flush.
        self._write_fd: Optional[int] = None
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def open(self) -> None:
        """Nothing to do: the streams are already open."""

    def send(self, message: Any) -> None:
        """Encode and write one message, flushing it.

        Raises:
            ValueError: the message cannot be encoded as JSON.
            ConnectionClosed: the stream is closed or the peer has gone.
        """
        data = encode_message(message)
        with self._write_lock:
            writer = self._writer
            if writer is None:
                raise ConnectionClosed(f"connection to {self.name} is closed")
            try:
                fd = self._write_fd
                if fd is None:
                    writer.write(data)
                    writer.flush()
                else:  # one write: the lock is held as briefly as can be (callers queue on it)
                    written = os.write(fd, data)
                    if written < len(data):
                        _write_rest(fd, data, written)
            except (BrokenPipeError, ConnectionResetError, ValueError, OSError) as exc:
                raise ConnectionClosed(f"cannot write to {self.name}: {exc}") from exc

    def receive(self) -> Any:
        """Read the next line and decode it; ``None`` at EOF (the read stream is then closed).

        Raises:
            InvalidMessage: the line is not JSON; the stream stays usable.
            MessageTooLarge: the line exceeds ``max_message_size``; the stream is unusable.
        """
        with self._read_lock:
            reader = self._reader
            if reader is None:
                return None
            while True:
                try:
                    line = reader.readline(self.max_message_size + 1)
                except (OSError, ValueError):
                    line = b""
                if not line or self._stop_reading:
                    self._reader = None
                    _close_quietly(reader)
                    return None
                if len(line) > self.max_message_size and not line.endswith(b"\n"):
                    raise MessageTooLarge(
                        f"{self.name} sent a message larger than the {self.max_message_size}-byte limit; "
                        "raise max_message_size if this server legitimately sends such messages"
                    )
                if line.isspace():
                    continue  # a blank line carries no message
                return decode_line(line)

    def close(self) -> None:
        """Close the write side, then the read side unless a reader is blocked in it."""
        self._close_writer()
        if self._read_lock.acquire(blocking=False):
            try:
                reader, self._reader = self._reader, None
            finally:
                self._read_lock.release()
            if reader is not None:
                _close_quietly(reader)

    def exit_details(self, wait: float) -> Tuple[Optional[int], str]:
        """Streams have no exit code and no stderr."""
        return None, ""

    def _close_writer(self, *, wait: Optional[float] = None) -> bool:
        """Close the write side; return whether it closed.

        With ``wait``, give up after that many seconds if another thread is blocked writing (a
        peer that stopped reading).
        """
        acquired = self._write_lock.acquire(timeout=-1 if wait is None else wait)
        if not acquired:
            return False
        try:
            writer, self._writer = self._writer, None
        finally:
            self._write_lock.release()
        if writer is not None:
            _close_quietly(writer)
        return True


def _write_rest(fd: int, data: bytes, written: int) -> None:
    """Finish a write that a signal cut short after ``written`` bytes."""
    view = memoryview(data)
    while written < len(data):
        written += os.write(fd, view[written:])


def _close_quietly(stream: Any) -> None:
    try:
        getattr(stream, "release", stream.close)()  # a WakeableReader lets go of its descriptors
    except (OSError, ValueError):
        pass

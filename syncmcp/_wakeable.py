r"""Reading a pipe in a way another thread can interrupt.

A thread blocked in ``read`` on a pipe stays blocked until every write end is closed, and a
process that escaped the server's process group (``setsid()``) may hold one forever: closing
the descriptor from another thread does not wake the reader. :class:`WakeableReader` waits with
``poll`` on the pipe and on a wake-up pipe of its own, so :meth:`~WakeableReader.close` ends a
blocked ``readline`` or ``read1`` at once.

Lines are found by scanning each byte once, however many reads a long line takes, and a line is
never buffered beyond the caller's limit plus one read.

Example:
    >>> r, w = os.pipe()
    >>> os.write(w, b"one\ntwo")
    7
    >>> os.close(w)
    >>> reader = WakeableReader(r)
    >>> reader.readline(100), reader.readline(100), reader.readline(100)
    (b'one\n', b'two', b'')
    >>> reader.release()
"""

from __future__ import annotations

import os
import select

__all__ = ["WakeableReader"]

_CHUNK = 65536
_SELECTABLE = os.name != "nt"  # select() and poll() work on pipes only on POSIX


class WakeableReader:
    r"""``readline`` and ``read1`` over a file descriptor, interruptible by :meth:`close`.

    One thread reads; any thread may call :meth:`close`. :meth:`release` closes the descriptors
    once the reading thread has stopped.

    Args:
        fd: the descriptor to read; owned (closed by :meth:`release`) by this reader.

    Example:
        >>> r, w = os.pipe()
        >>> reader = WakeableReader(r)
        >>> reader.close()            # from any thread: a blocked read returns b"" now
        >>> reader.readline(100)
        b''
        >>> os.close(w); reader.release()
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self._scanned = 0  # bytes at the start of the buffer known to hold no newline
        self._eof = False
        self._closed = False
        self._wake_r, self._wake_w = os.pipe() if _SELECTABLE else (-1, -1)
        self._poller = None
        if _SELECTABLE and hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
            self._poller = select.poll()
            self._poller.register(fd, select.POLLIN | select.POLLPRI)
            self._poller.register(self._wake_r, select.POLLIN)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def fileno(self) -> int:
        """The descriptor read (``-1`` once released)."""
        return self._fd

    def readline(self, limit: int = -1) -> bytes:
        """One line (with its newline), at most ``limit`` bytes; ``b""`` at EOF or after close."""
        buffer = self._buffer
        poller = self._poller
        while True:
            end = buffer.find(b"\n", self._scanned)
            if end >= 0 and (limit < 0 or end < limit):
                return self._take(end + 1)
            self._scanned = len(buffer)
            if limit >= 0 and len(buffer) >= limit:
                return self._take(limit)
            if self._closed:
                return b""
            if self._eof:
                return self._take(len(buffer))
            if poller is None:
                self._fill()
                continue
            # _fill() inlined: this is every message's path. Only close() writes to the wake-up
            # pipe, and it sets _closed first.
            try:
                poller.poll()
            except (OSError, ValueError):
                self._eof = True
                continue
            if self.closed:  # a property, so read again after the wait
                return b""
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError:
                chunk = b""
            if chunk:
                buffer += chunk
            else:
                self._eof = True

    def read1(self, size: int = _CHUNK) -> bytes:
        """What is buffered, or one read of up to ``size`` bytes; ``b""`` at EOF or after close."""
        while not self._buffer:
            if self._closed or self._eof:
                return b""
            self._fill()
        return self._take(min(size, len(self._buffer)))

    def _fill(self) -> None:
        """Wait for data (or EOF, or a close) and append one read to the buffer."""
        if _SELECTABLE and not self._wait_readable():
            return
        try:
            chunk = os.read(self._fd, _CHUNK)
        except OSError:
            chunk = b""
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    def _wait_readable(self) -> bool:
        """Block until the descriptor has data or EOF (``True``) or ``close()`` was called (``False``)."""
        if self._poller is not None:
            try:
                events = self._poller.poll()
            except (OSError, ValueError):
                self._eof = True
                return False
            woken = any(fd == self._wake_r for fd, _ in events)
        else:  # pragma: no cover - POSIX systems without poll()
            try:
                ready, _, _ = select.select([self._fd, self._wake_r], [], [])
            except (OSError, ValueError):
                self._eof = True
                return False
            woken = self._wake_r in ready
        return not (woken or self._closed)

    def _take(self, count: int) -> bytes:
        if count == len(self._buffer):
            line = bytes(self._buffer)
            self._buffer.clear()
        else:
            with memoryview(self._buffer) as view, view[:count] as part:
                line = bytes(part)  # one copy, not a slice and then a copy
            del self._buffer[:count]  # cheap at the front of a bytearray
        self._scanned = 0
        return line

    def close(self) -> None:
        """Make a blocked (and every later) read return ``b""``; idempotent, any thread."""
        if self._closed:
            return
        self._closed = True
        if _SELECTABLE:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def release(self) -> None:
        """Close the descriptors (after the reading thread has stopped); idempotent."""
        self.close()
        fds, (self._fd, self._wake_r, self._wake_w) = (self._fd, self._wake_r, self._wake_w), (-1, -1, -1)
        self._poller = None
        for fd in fds:
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass

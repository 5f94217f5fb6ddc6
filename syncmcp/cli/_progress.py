r"""What the command line shows on stderr while it works: start-up lines and tool-call progress.

:class:`Progress` writes only when it is enabled, which the command line decides once: stderr is
a terminal and ``--json`` was not given. Start-up lines are permanent (``syncmcp: time ready in
0.41 s``); a tool call's progress notifications share one line that each update rewrites and
that is erased when the call ends. :class:`StartupWatch` remembers how each server's start-up
ended, with the exception, so a command can report a failure and choose its exit status.

Manager events arrive on the manager's ``syncmcp-events`` thread and progress notifications on a
session thread, so both classes only update small state under a lock and write outside it.

Example:
    >>> import io
    >>> stream = io.StringIO()
    >>> progress = Progress(stream, enabled=True)
    >>> progress.line("hello"); stream.getvalue()
    'syncmcp: hello\n'
"""

from __future__ import annotations

import threading
import time
from typing import IO, Any, Callable, Dict, Iterable, Optional, Tuple

from .._events import StartupUpdate

__all__ = ["Progress", "StartupWatch"]

_CLEAR = "\r\x1b[K"


def _number(value: Any) -> str:
    number = float(value)
    return f"{number:g}" if number == int(number) else f"{number:.1f}"


class Progress:
    """Start-up lines and tool-call progress for a terminal (everything is a no-op when disabled).

    Args:
        stream: where to write (stderr).
        enabled: whether to write anything.
        escape: applied to every text shown, which may come from a server (the command line
            passes :func:`~syncmcp.cli._output.terminal_text`, so that a progress message cannot
            drive the terminal).

    Example:
        progress = Progress(sys.stderr, enabled=sys.stderr.isatty(), escape=terminal_text)
        manager = MCPManager(servers, on_event=progress.on_event)
    """

    def __init__(self, stream: IO[str], enabled: bool, *, escape: Callable[[str], str] = str) -> None:
        self.enabled = enabled
        self._escape = escape
        self._stream = stream
        self._lock = threading.Lock()
        self._transient = False  # a progress line is on screen and must be erased before other output
        self._started: Dict[str, float] = {}

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed terminal must not break the command
            pass

    def line(self, text: str) -> None:
        """A permanent line ``syncmcp: <text>``."""
        if not self.enabled:
            return
        with self._lock:
            prefix = _CLEAR if self._transient else ""
            self._transient = False
        self._write(f"{prefix}syncmcp: {self._escape(text)}\n")

    def transient(self, text: str) -> None:
        """A line that the next output replaces (line breaks in ``text`` become spaces)."""
        if not self.enabled:
            return
        with self._lock:
            self._transient = True
        self._write(f"{_CLEAR}{self._escape(text).replace(chr(13), ' ').replace(chr(10), ' ')}")

    def clear(self) -> None:
        """Erase the transient line, if one is shown (before other output, and at the end)."""
        if not self.enabled:
            return
        with self._lock:
            shown, self._transient = self._transient, False
        if shown:
            self._write(_CLEAR)

    def on_event(self, event: Any) -> None:
        """A manager event: start-up lines for ``starting``, ``ready`` and ``cancelled``.

        Failures are not shown here: the command reports them (as its error, or a warning).
        """
        if not self.enabled or not isinstance(event, StartupUpdate):
            return
        now = time.monotonic()
        if event.status == "starting":
            with self._lock:
                self._started[event.server] = now
            self.line(f"starting {event.server}...")
        elif event.status == "ready":
            with self._lock:
                began = self._started.pop(event.server, None)
            elapsed = f" in {now - began:.2f} s" if began is not None else ""
            self.line(f"{event.server} ready{elapsed}")
        elif event.status == "cancelled":
            self.line(f"{event.server} start-up cancelled")

    def tool_progress(self, label: str) -> Any:
        """A ``fn(progress, total, message)`` for ``call_tool(on_progress=...)`` showing ``label``."""

        def show(progress: Any, total: Any, message: Any) -> None:
            try:
                amount = f"{_number(progress)}/{_number(total)}" if total else _number(progress)
                percent = f" ({100 * progress / total:.0f}%)" if total else ""
            except (TypeError, ValueError, ZeroDivisionError, OverflowError):  # a server sent odd numbers
                amount, percent = f"{progress}" + (f"/{total}" if total else ""), ""
            self.transient(f"{label}: {amount}{percent}{' ' + str(message) if message else ''}")

        return show


class StartupWatch:
    """How each server's start-up ended (``ready``, ``failed`` with its exception, ``cancelled``).

    Events are delivered on another thread after the manager decided a start-up, so
    :meth:`wait` lets the command wait (bounded) until it has seen the servers it asks about.

    Example:
        >>> watch = StartupWatch()
        >>> watch.on_event(StartupUpdate("fs", "failed", error="MCP client for `fs` failed to start: boom"))
        >>> watch.wait(["fs"], 1.0), watch.failure("fs")[0]
        (True, 'MCP client for `fs` failed to start: boom')
    """

    def __init__(self) -> None:
        self._done = threading.Condition()
        self._outcomes: Dict[str, Tuple[str, Optional[str], Optional[BaseException]]] = {}

    def on_event(self, event: Any) -> None:
        """Record a start-up outcome (``starting`` forgets the previous one: a restart)."""
        if not isinstance(event, StartupUpdate):
            return
        with self._done:
            if event.status == "starting":
                self._outcomes.pop(event.server, None)
            else:
                self._outcomes[event.server] = (event.status, event.error, event.exception)
                self._done.notify_all()

    def wait(self, servers: Iterable[str], timeout: float) -> bool:
        """Wait until an outcome was seen for every server; ``False`` on timeout."""
        names = list(servers)
        with self._done:
            return self._done.wait_for(lambda: all(name in self._outcomes for name in names), timeout)

    def failure(self, server: str) -> Optional[Tuple[str, Optional[BaseException]]]:
        """``(display text, exception)`` if the server's start-up failed."""
        with self._done:
            outcome = self._outcomes.get(server)
        if outcome is None or outcome[0] != "failed":
            return None
        return outcome[1] or f"MCP server '{server}' failed to start", outcome[2]

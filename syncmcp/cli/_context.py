"""What every command gets: the configuration, output streams, ``--json``, the progress display, interrupts.

The configuration is loaded once per command, with the ``-c`` overrides applied. Ctrl-C and
SIGTERM stop a command once (:class:`Interrupts`): the clean-up they start is not broken off by
the next one.

Example:
    ctx = Context(config_file=None, overrides=[], json=False, verbose=False,
                  out=sys.stdout, err=sys.stderr, progress=Progress(sys.stderr, False))
    ctx.source().servers
"""

from __future__ import annotations

import contextlib
import difflib
import shutil
import signal
import threading
from dataclasses import dataclass, field
from typing import IO, Any, Dict, Iterator, List, Optional

from .._config import ServerConfig
from ._configfile import ConfigSource, Override, load_source
from ._exits import EXIT_USAGE, CLIError, Terminated
from ._output import terminal_text
from ._progress import Progress

__all__ = ["ADD_HINT", "Context", "Interrupts", "unknown_server"]

#: Codex's hint, with syncmcp's command (``codex mcp add`` there).
ADD_HINT = "Try `syncmcp add my-tool -- my-command`."


def unknown_server(name: str, known: List[str]) -> CLIError:
    """Codex's ``No MCP server named '<name>' found.``, with a did-you-mean when one is close.

    Example:
        >>> str(unknown_server("tme", ["time", "files"]))
        "No MCP server named 'tme' found. Did you mean 'time'?"
    """
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return CLIError(f"No MCP server named '{name}' found.{hint}", EXIT_USAGE)


class Interrupts:
    """SIGINT and SIGTERM while a command runs: the first stops it, later ones wait for the clean-up.

    The first signal raises :class:`KeyboardInterrupt` (SIGINT) or
    :class:`~syncmcp.cli._exits.Terminated` (SIGTERM) in the main thread, which cancels the
    running request and stops every server. From then on both signals are only counted: a
    second Ctrl-C (or a SIGTERM from a supervisor) would otherwise break off that clean-up
    half-way and leave a server that ignores SIGTERM and the end of its input running after
    ``syncmcp`` exits. Clean-up on the way out of a command that was not interrupted runs
    :meth:`deferred`: a signal arriving then is raised when it is done. The clean-up is bounded
    (the servers' shutdown graces), and the exit status is the first signal's (130 or 143).

    Only signals with their default behaviour are taken over, and only from the main thread; an
    ignored signal, or a program's own handler, is left alone. :meth:`restore` puts back what
    was there.

    Example:
        interrupts = Interrupts()
        interrupts.install()
        try:
            with ServerRun(ctx, servers) as run:   # its clean-up runs interrupts.deferred()
                ...
        finally:
            interrupts.restore()
    """

    def __init__(self) -> None:
        self.first: Optional[int] = None  # the signal that stopped the command
        self.later = 0  # signals received after it, during the clean-up, and not acted on
        self._previous: Dict[int, Any] = {}
        self._deferring = 0
        self._pending = False

    def install(self) -> None:
        """Take over SIGINT and SIGTERM where they have their default behaviour (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
            if signal.getsignal(signum) is default:
                self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put back the handlers :meth:`install` replaced."""
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Clean-up that a signal must not break off: one that arrives meanwhile is raised after it."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
            if self._deferring == 0 and self._pending:
                self._pending = False
                raise _interruption(self.first)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.first is not None:
            self.later += 1
            return
        self.first = signum
        if self._deferring:
            self._pending = True
            return
        raise _interruption(signum)


def _interruption(signum: Optional[int]) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@dataclass
class Context:
    """Options shared by every command, and the streams they write to.

    Example:
        ctx.write("hello")      # a line on stdout
        ctx.warn("careful")     # syncmcp: warning: careful  (on stderr)
    """

    config_file: Optional[str]
    overrides: List[Override]
    json: bool
    verbose: bool
    out: IO[str]
    err: IO[str]
    progress: Progress
    interrupts: Interrupts = field(default_factory=Interrupts)
    _sources: Dict[bool, ConfigSource] = field(default_factory=dict)

    def source(self, *, missing_ok: bool = False) -> ConfigSource:
        """The configuration (read once per ``missing_ok``)."""
        cached = self._sources.get(missing_ok)
        if cached is None:
            cached = self._sources[missing_ok] = load_source(self.config_file, self.overrides, missing_ok=missing_ok)
        return cached

    def select(self, server: Optional[str]) -> Dict[str, ServerConfig]:
        """The one server named (it must exist and be enabled), or every enabled server.

        Raises:
            CLIError: unknown or disabled server, or no server at all.
        """
        source = self.source()
        if server is not None:
            config = source.servers.get(server)
            if config is None:
                raise unknown_server(server, list(source.servers))
            if not config.enabled:
                raise CLIError(f"MCP server '{server}' is disabled (enabled = false in {source.label})", EXIT_USAGE)
            return {server: config}
        if not source.servers:
            raise CLIError(f"No MCP servers configured yet. {ADD_HINT}", EXIT_USAGE)
        enabled = {name: config for name, config in source.servers.items() if config.enabled}
        if not enabled:
            raise CLIError(f"every MCP server in {source.label} is disabled (enabled = false)", EXIT_USAGE)
        return enabled

    def write(self, text: str = "") -> None:
        """A line on stdout, control characters escaped (:func:`~syncmcp.cli._output.terminal_text`)."""
        self.out.write(terminal_text(text) + "\n")

    def write_text(self, text: str) -> None:
        """Content as it is (escaped only on a terminal), ending with the line ending it has or one added.

        A tool's, resource's or prompt's own text: exact when stdout is a file or a pipe, with
        control characters escaped when it is a terminal. Nothing is written for ``""``.
        """
        if not text:
            return
        if _isatty(self.out):
            text = terminal_text(text)
        self.out.write(text if text.endswith("\n") else text + "\n")

    def warn(self, text: str) -> None:
        """``syncmcp: warning: <text>`` on stderr, control characters escaped."""
        self.progress.clear()
        self.err.write(f"syncmcp: warning: {terminal_text(text)}\n")
        self.err.flush()

    def note(self, text: str) -> None:
        """``syncmcp: <text>`` on stderr (information, not a problem), control characters escaped."""
        self.progress.clear()
        self.err.write(f"syncmcp: {terminal_text(text)}\n")
        self.err.flush()

    def terminal_width(self) -> Optional[int]:
        """Columns of the terminal stdout writes to, or ``None`` when it is not a terminal."""
        return shutil.get_terminal_size().columns if _isatty(self.out) else None


def _isatty(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

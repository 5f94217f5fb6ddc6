"""What every command gets: the configuration, output streams, ``--json``, the progress display.

The configuration is loaded once per command, with the ``-c`` overrides applied.

Example:
    ctx = Context(config_file=None, overrides=[], json=False, verbose=False,
                  out=sys.stdout, err=sys.stderr, progress=Progress(sys.stderr, False))
    ctx.source().servers
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass, field
from typing import IO, Dict, List, Optional

from .._config import ServerConfig
from ._configfile import ConfigSource, Override, load_source
from ._exits import EXIT_USAGE, CLIError
from ._progress import Progress

__all__ = ["ADD_HINT", "Context", "unknown_server"]

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
        """A line on stdout."""
        self.out.write(text + "\n")

    def write_text(self, text: str) -> None:
        """Text as it is, ending with exactly the line ending it has or one added (nothing for ``""``)."""
        if text:
            self.out.write(text if text.endswith("\n") else text + "\n")

    def warn(self, text: str) -> None:
        """``syncmcp: warning: <text>`` on stderr."""
        self.progress.clear()
        self.err.write(f"syncmcp: warning: {text}\n")
        self.err.flush()

    def note(self, text: str) -> None:
        """``syncmcp: <text>`` on stderr (information, not a problem)."""
        self.progress.clear()
        self.err.write(f"syncmcp: {text}\n")
        self.err.flush()

    def terminal_width(self) -> Optional[int]:
        """Columns of the terminal stdout writes to, or ``None`` when it is not a terminal."""
        try:
            if not self.out.isatty():
                return None
        except (AttributeError, ValueError):
            return None
        return shutil.get_terminal_size().columns

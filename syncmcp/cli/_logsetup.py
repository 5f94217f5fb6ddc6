"""Logging for the command line: ``--log-level`` / ``$SYNCMCP_LOG``, with wire logging on its own switch.

The setting is a comma-separated list, like ``RUST_LOG``:

* a level (``debug``, ``info``, ``warning``, ``error``, ``critical``, ``off``) for every
  ``syncmcp`` logger;
* ``wire``: every JSON-RPC message sent and received (the ``syncmcp.wire.<server>`` loggers, at
  DEBUG), more verbose than ``debug``, which leaves it out; ``wire`` alone also means ``debug``;
* ``LOGGER=LEVEL`` for one logger family, e.g. ``manager=debug`` (``syncmcp.`` is implied) or
  ``syncmcp.servers.fs=info``; ``wire=debug`` is the same as ``wire``.

Without a setting only warnings and errors are shown, as one line each (``syncmcp: warning:
...``). With one, records carry the time, level and logger. Server stderr is logged at INFO under
``syncmcp.servers.<name>.stderr``; messages servers send with ``notifications/message`` go to
``syncmcp.servers.<name>``.

Records are written with control characters escaped (a server's stderr line may hold terminal
escape sequences). The loggers' previous state is captured with :class:`LoggingState` and put
back when the command ends, so that ``syncmcp.cli.main()`` called in a program leaves its
logging as it found it.

Example:
    >>> spec = parse_log_spec("info,wire")
    >>> spec.level == logging.INFO, spec.wire
    (True, True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import IO, Callable, List, Optional, Tuple

from ._exits import CLIError
from ._output import terminal_text

__all__ = ["LOG_ENV_VAR", "LogSpec", "LoggingState", "configure_logging", "parse_log_spec"]

#: The environment variable holding the log setting (``--log-level`` wins over it).
LOG_ENV_VAR = "SYNCMCP_LOG"
_OFF = logging.CRITICAL + 10
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": _OFF,
}
_WIRE = "syncmcp.wire"


@dataclass(frozen=True)
class LogSpec:
    """A parsed log setting.

    Attributes:
        level: the level of the ``syncmcp`` loggers.
        wire: whether wire messages are logged.
        loggers: ``(logger name, level)`` for individual logger families.
        explicit: whether a setting was given at all (it changes the format).

    Example:
        >>> LogSpec().level == logging.WARNING
        True
    """

    level: int = logging.WARNING
    wire: bool = False
    loggers: Tuple[Tuple[str, int], ...] = ()
    explicit: bool = False


def _level(text: str, whole: str) -> int:
    level = _LEVELS.get(text.strip().lower())
    if level is None:
        raise CLIError(
            f"invalid log level '{text.strip()}' in '{whole}' (use debug, info, warning, error, critical, off or wire)"
        )
    return level


def parse_log_spec(text: Optional[str]) -> LogSpec:
    """Parse ``--log-level`` / ``$SYNCMCP_LOG`` (``None`` or empty: the default).

    Raises:
        CLIError: an unknown level.

    Example:
        >>> parse_log_spec("manager=debug").loggers
        (('syncmcp.manager', 10),)
    """
    if not text or not text.strip():
        return LogSpec()
    level: Optional[int] = None
    wire = False
    loggers = []
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            if name.lower() in ("wire", "trace"):
                wire = True
            else:
                level = _level(name, text)
            continue
        name = name.strip()
        if name in ("wire", _WIRE):
            wire = _level(value, text) <= logging.DEBUG
            continue
        full = name if name == "syncmcp" or name.startswith("syncmcp.") else f"syncmcp.{name}"
        loggers.append((full, _level(value, text)))
    if level is None:
        level = logging.DEBUG if wire and not loggers else logging.WARNING
    return LogSpec(level, wire, tuple(loggers), explicit=True)


class _LowerLevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname_lower = record.levelname.lower()
        return super().format(record)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that lets the progress display erase its line first."""

    def __init__(self, stream: IO[str], before: Optional[Callable[[], None]]) -> None:
        super().__init__(stream)
        self._before = before

    def emit(self, record: logging.LogRecord) -> None:
        if self._before is not None:
            self._before()
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        return terminal_text(super().format(record))


#: Warnings the commands report themselves (a start-up failure, a server that died, a listing
#: that failed): without a log setting they would be said twice. syncmcp marks those records
#: with a ``syncmcp_event`` attribute.
_REPORTED_BY_COMMANDS = frozenset({"startup_failed", "server_exited", "connection_lost", "listing_failed"})


class _Levels(logging.Filter):
    """Let a record through if its level reaches the one configured for its logger family."""

    def __init__(self, spec: LogSpec) -> None:
        super().__init__()
        self._default = spec.level
        self._families = sorted(spec.loggers, key=lambda item: len(item[0]), reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        for name, level in self._families:
            if record.name == name or record.name.startswith(name + "."):
                return record.levelno >= level
        if record.name == _WIRE or record.name.startswith(_WIRE + "."):
            return True  # created only when wire logging is on
        return record.levelno >= self._default


def _not_reported_elsewhere(record: logging.LogRecord) -> bool:
    return getattr(record, "syncmcp_event", None) not in _REPORTED_BY_COMMANDS


def configure_logging(spec: LogSpec, stream: IO[str], *, before_emit: Optional[Callable[[], None]] = None) -> logging.Handler:
    """Send ``syncmcp`` logging to ``stream`` as ``spec`` says; returns the handler installed.

    Warnings are always created (a command may watch for them, see ``syncmcp.cli._use``); the
    handler decides what is shown.

    Args:
        spec: the parsed setting.
        stream: stderr.
        before_emit: called before each record is written (the progress display clears its line).

    Example:
        configure_logging(parse_log_spec(os.environ.get("SYNCMCP_LOG")), sys.stderr)
    """
    root = logging.getLogger("syncmcp")
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    handler = _Handler(stream, before_emit)
    handler.addFilter(_Levels(spec))
    if spec.explicit:
        handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    else:
        handler.setFormatter(_LowerLevelFormatter("syncmcp: %(levelname_lower)s: %(message)s"))
        handler.addFilter(_not_reported_elsewhere)
    root.addHandler(handler)
    root.setLevel(min(spec.level, logging.WARNING))
    root.propagate = False
    # Wire messages are DEBUG records; they need their own switch, or "debug" would drown in them.
    logging.getLogger(_WIRE).setLevel(logging.DEBUG if spec.wire else logging.INFO)
    for name, level in spec.loggers:
        logging.getLogger(name).setLevel(level)
    return handler


class LoggingState:
    """What :func:`configure_logging` changes, captured beforehand so it can be put back.

    For the ``syncmcp`` logger, ``syncmcp.wire`` and the families a setting names: level,
    ``propagate``, ``disabled`` and the handler list.

    Example:
        saved = LoggingState.capture(spec)
        configure_logging(spec, sys.stderr)
        try:
            ...
        finally:
            saved.restore()
    """

    def __init__(self, loggers: List[logging.Logger]) -> None:
        self._saved = [(logger, logger.level, logger.propagate, logger.disabled, list(logger.handlers)) for logger in loggers]

    @classmethod
    def capture(cls, spec: LogSpec) -> LoggingState:
        """The current state of every logger ``configure_logging(spec, ...)`` changes."""
        names = ["syncmcp", _WIRE, *(name for name, _ in spec.loggers)]
        return cls([logging.getLogger(name) for name in dict.fromkeys(names)])

    def restore(self) -> None:
        """Put every captured logger back as it was; handlers added since are flushed and closed."""
        for logger, level, propagate, disabled, handlers in self._saved:
            added = [handler for handler in logger.handlers if handler not in handlers]
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled
            for handler in added:
                try:
                    handler.flush()
                except (OSError, ValueError):
                    pass
                handler.close()

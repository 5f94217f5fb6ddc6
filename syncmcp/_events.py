"""What an :class:`~syncmcp.MCPManager` tells its ``on_event`` callback: small immutable events.

Start-up follows Codex: per server ``StartupUpdate`` with status ``starting`` then ``ready``,
``failed`` (with the display text of the error) or ``cancelled``, then one ``StartupComplete``
summary per batch of servers started together. Beyond Codex: tool-call begin and end, elicitation
requests (answered with ``manager.resolve_elicitation``) and their cancellation, a server's exit,
and list changes. Events are delivered in the order they were emitted, one at a time, on the
manager's ``syncmcp-events`` thread.

Example:
    >>> StartupUpdate("files", "failed", error="MCP client for `files` failed to start: ...").status
    'failed'
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ._types import CallToolResult

__all__ = [
    "STARTUP_STATUSES",
    "CircuitClosed",
    "CircuitOpened",
    "ElicitationCancelled",
    "ElicitationRequest",
    "EventDispatcher",
    "FallbackUsed",
    "ListChanged",
    "ManagerEvent",
    "ServerExited",
    "StartupComplete",
    "StartupFailure",
    "StartupUpdate",
    "ToolCallBegin",
    "ToolCallEnd",
    "log_event",
]

#: The values of :attr:`StartupUpdate.status` (Codex's snake_case names).
STARTUP_STATUSES: Tuple[str, ...] = ("starting", "ready", "failed", "cancelled")


@dataclass(frozen=True)
class StartupUpdate:
    """A server's start-up moved on: ``starting``, ``ready``, ``failed`` or ``cancelled``.

    Attributes:
        server: the server's name.
        status: one of :data:`STARTUP_STATUSES`.
        error: for ``failed``, the text to show (Codex's wording, with hints and stderr tail).
        exception: for ``failed``, the underlying exception.

    Example:
        >>> StartupUpdate("time", "ready").error is None
        True
    """

    server: str
    status: str
    error: Optional[str] = None
    exception: Optional[BaseException] = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class StartupFailure:
    """One failed server in a :class:`StartupComplete` summary.

    Example:
        >>> StartupFailure("github", "GitHub MCP does not support OAuth. ...").server
        'github'
    """

    server: str
    error: str


@dataclass(frozen=True)
class StartupComplete:
    """Every server of a start-up batch has finished starting (names in configuration order).

    Example:
        >>> StartupComplete(ready=("a",), failed=(), cancelled=()).ready
        ('a',)
    """

    ready: Tuple[str, ...] = ()
    failed: Tuple[StartupFailure, ...] = ()
    cancelled: Tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolCallBegin:
    """A tool call is about to be sent.

    Attributes:
        call_id: unique per manager; the matching :class:`ToolCallEnd` carries it too.
        server: the server's name.
        tool: the raw tool name.
        qualified_name: the name the call was made by (``server__tool``), when it was.
        arguments: the arguments sent.

    Example:
        >>> ToolCallBegin(1, "fs", "read_file", "fs__read_file", {"path": "a"}).tool
        'read_file'
    """

    call_id: int
    server: str
    tool: str
    qualified_name: Optional[str]
    arguments: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class ToolCallEnd:
    """A tool call finished: with a result (``is_error`` results included) or an exception.

    Example:
        >>> ToolCallEnd(1, "fs", "read_file", "fs__read_file", 0.01, error=TimeoutError()).ok
        False
    """

    call_id: int
    server: str
    tool: str
    qualified_name: Optional[str]
    duration: float
    result: Optional[CallToolResult] = None
    error: Optional[BaseException] = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        """Whether the call returned a result that is not an error result."""
        return self.error is None and self.result is not None and not self.result.is_error


@dataclass(frozen=True)
class ElicitationRequest:
    """A server asks the user for input (``elicitation/create``); answer with ``resolve_elicitation``.

    Attributes:
        server: the server asking.
        request_id: the server's JSON-RPC id for the request (an integer or a string, as sent).
        message: what to show the user.
        requested_schema: for a form, the flat JSON Schema of the expected answer.
        params: the request's params, unchanged (``mode``, ``url`` and ``elicitationId`` for a
            URL elicitation).

    Example:
        >>> ElicitationRequest("srv", 0, "Your name?", {"type": "object"}, {}).mode
        'form'
    """

    server: str
    request_id: Union[int, str]
    message: str
    requested_schema: Optional[Dict[str, Any]]
    params: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def mode(self) -> str:
        """``"form"`` or ``"url"``."""
        mode = self.params.get("mode")
        return mode if isinstance(mode, str) else "form"


@dataclass(frozen=True)
class ElicitationCancelled:
    """A pending elicitation went away unanswered: the server cancelled it, it timed out, or shutdown.

    Example:
        >>> ElicitationCancelled("srv", 0, "timed out after 600 s; declined").reason
        'timed out after 600 s; declined'
    """

    server: str
    request_id: Union[int, str]
    reason: str


@dataclass(frozen=True)
class ServerExited:
    """A running server's connection ended without a local close (it crashed or exited).

    It is restarted on its next use, within the manager's restart policy.

    Example:
        >>> ServerExited("fs", "the server exited", 3).returncode
        3
    """

    server: str
    error: str
    returncode: Optional[int] = None


@dataclass(frozen=True)
class ListChanged:
    """A server said its ``tools``, ``prompts`` or ``resources`` list changed.

    Example:
        >>> ListChanged("fs", "tools").kind
        'tools'
    """

    server: str
    kind: str


@dataclass(frozen=True)
class FallbackUsed:
    """A call to one server's tool went to one of its fallbacks, because the server was unavailable.

    Attributes:
        server: the server the call was for (the primary).
        fallback: the server that took it.
        tool: the raw tool name (the same on both).
        qualified_name: the qualified name called, if the call was made by one.
        reason: why the primary did not take it (its error, or ``circuit open``).

    Example:
        >>> FallbackUsed("search", "search_backup", "query", "search__query", "circuit open").fallback
        'search_backup'
    """

    server: str
    fallback: str
    tool: str
    qualified_name: Optional[str]
    reason: str


@dataclass(frozen=True)
class CircuitOpened:
    """A server failed ``failures`` calls in a row: calls skip it for ``cooldown`` seconds.

    Example:
        >>> CircuitOpened("search", 3, 30.0).cooldown
        30.0
    """

    server: str
    failures: int
    cooldown: float


@dataclass(frozen=True)
class CircuitClosed:
    """A trial call after the cool-down succeeded: the server takes calls again.

    Example:
        >>> CircuitClosed("search").server
        'search'
    """

    server: str


ManagerEvent = Union[
    StartupUpdate,
    StartupComplete,
    ToolCallBegin,
    ToolCallEnd,
    ElicitationRequest,
    ElicitationCancelled,
    ServerExited,
    ListChanged,
    FallbackUsed,
    CircuitOpened,
    CircuitClosed,
]


logger = logging.getLogger("syncmcp.manager")
_STOP = object()


def log_event(event: ManagerEvent) -> None:
    """Write an event to the ``syncmcp.manager`` logger at a level that fits it.

    Example:
        >>> log_event(StartupComplete(ready=("fs",)))   # INFO: MCP startup complete: ready [fs], ...
    """
    if isinstance(event, StartupUpdate):
        # ready and failed are logged where they are decided (with the tool count, or the hints).
        if event.status == "starting":
            logger.debug("MCP server '%s': starting", event.server)
        elif event.status == "cancelled":
            logger.info("MCP server '%s': start-up cancelled", event.server)
    elif isinstance(event, StartupComplete):
        failed = ", ".join(f.server for f in event.failed)
        logger.info(
            "MCP startup complete: ready [%s], failed [%s], cancelled [%s]",
            ", ".join(event.ready),
            failed,
            ", ".join(event.cancelled),
        )
    elif isinstance(event, ToolCallBegin):
        logger.debug("tool call %d: %s/%s", event.call_id, event.server, event.tool)
    elif isinstance(event, ToolCallEnd):
        outcome = "ok" if event.ok else ("error result" if event.error is None else f"failed: {event.error}")
        logger.debug("tool call %d: %s/%s %s in %.3f s", event.call_id, event.server, event.tool, outcome, event.duration)
    elif isinstance(event, ElicitationRequest):
        logger.info("MCP server '%s' asks the user (elicitation %r): %s", event.server, event.request_id, event.message)
    elif isinstance(event, ServerExited):
        logger.warning("%s", event.error, extra={"syncmcp_event": "server_exited", "mcp_server": event.server})
    elif isinstance(event, ListChanged):
        logger.debug("MCP server '%s': %s list changed", event.server, event.kind)
    elif isinstance(event, FallbackUsed):
        logger.info(
            "MCP server '%s' is unavailable (%s): %s goes to '%s'", event.server, event.reason, event.tool, event.fallback
        )
    elif isinstance(event, CircuitOpened):
        logger.warning(
            "MCP server '%s' failed %d calls in a row: its circuit is open for %g s", event.server, event.failures, event.cooldown
        )
    elif isinstance(event, CircuitClosed):
        logger.info("MCP server '%s' answered a trial call: its circuit is closed", event.server)


class EventDispatcher:
    """Deliver events to one callback, in emission order, on one ``syncmcp-events`` thread.

    Emitting never blocks and never runs user code on the emitting thread (often a reader or
    start-up thread); an exception in the callback is logged and delivery goes on. The thread is
    started by the first event and stopped by :meth:`close`, after it delivered what was queued.

    Example:
        >>> seen = []
        >>> dispatcher = EventDispatcher(seen.append)
        >>> dispatcher.emit(ListChanged("fs", "tools")); dispatcher.close(5.0)
        >>> seen
        [ListChanged(server='fs', kind='tools')]
    """

    def __init__(self, callback: Optional[Callable[[ManagerEvent], None]]) -> None:
        self._callback = callback
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    @property
    def observed(self) -> bool:
        """Whether an event would reach anyone: a callback, or the log at DEBUG (the lowest level used)."""
        return self._callback is not None or logger.isEnabledFor(logging.DEBUG)

    def emit(self, event: ManagerEvent) -> None:
        """Log the event and queue it for the callback."""
        log_event(event)
        if self._callback is None:
            return
        start = False
        with self._lock:
            if self._closed:
                logger.debug("event after close dropped: %r", event)
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="syncmcp-events", daemon=True)
                start = True
            self._queue.put(event)
            thread = self._thread
        if start:
            thread.start()

    def _run(self) -> None:
        callback = self._callback
        assert callback is not None
        while True:
            event = self._queue.get()
            if event is _STOP:
                return
            try:
                callback(event)
            except Exception:
                logger.exception("on_event callback failed for %r", event)

    def close(self, timeout: float) -> None:
        """Deliver what is queued (within ``timeout``), then stop the thread; idempotent."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._queue.put(_STOP)
        if thread is not threading.current_thread():
            thread.join(timeout)

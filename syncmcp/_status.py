"""Snapshots an :class:`~syncmcp.MCPManager` returns: states, statuses, metrics, health, pages.

All immutable; taking one never blocks on a server.

Example:
    >>> ServerState.READY == "ready"
    True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, Iterator, Optional, Tuple, TypeVar

__all__ = [
    "HealthStatus",
    "Page",
    "ReloadResult",
    "ServerMetrics",
    "ServerState",
    "ServerStatus",
]

T = TypeVar("T")


class ServerState(str, enum.Enum):
    """Where a managed server is in its life (compares equal to its string value).

    Example:
        >>> ServerState("exited") is ServerState.EXITED, str(ServerState.READY)
        (True, 'ready')
    """

    DISABLED = "disabled"  # enabled = false: never started
    PENDING = "pending"  # lazy mode: starts on first use
    STARTING = "starting"  # spawn, handshake and first tools/list under way
    READY = "ready"  # answering requests
    FAILED = "failed"  # start-up failed, or restarts exhausted; restart_server() tries again
    CANCELLED = "cancelled"  # start-up interrupted by shutdown or removal
    EXITED = "exited"  # was ready, then the process died; restarted on next use
    CLOSED = "closed"  # removed, or the manager closed

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ServerStatus:
    """One server's state in :meth:`MCPManager.startup_status`.

    Attributes:
        server: the server's name.
        state: its :class:`ServerState`.
        error: for ``failed``/``exited``, the text to show.
        restarts: how many times it was restarted after exiting.
        tools_cached: whether its tools are listed from the on-disk cache (not yet live).
        era: the protocol era it spoke when it last started (``"legacy"``: the ``initialize``
            handshake; ``"modern"``: 2026-07-28), ``None`` before its first start; restarts
            use it instead of probing again.

    Example:
        >>> ServerStatus("fs", ServerState.READY, era="legacy").ready
        True
    """

    server: str
    state: ServerState
    error: Optional[str] = None
    restarts: int = 0
    tools_cached: bool = False
    era: Optional[str] = None

    @property
    def ready(self) -> bool:
        """Whether the server answers requests."""
        return self.state is ServerState.READY


@dataclass(frozen=True)
class ServerMetrics:
    """Counters and resource use of one server, from :meth:`MCPManager.metrics`.

    Latencies are seconds over the most recent calls; memory and CPU cover the server's whole
    process group (``npx`` and the ``node`` it starts), read from ``/proc`` (``None`` elsewhere).

    Example:
        >>> ServerMetrics("fs", ServerState.READY, calls=2, errors=1).error_rate
        0.5
    """

    server: str
    state: ServerState
    calls: int = 0
    errors: int = 0
    tool_errors: int = 0
    retries: int = 0
    restarts: int = 0
    latency_p50: Optional[float] = None
    latency_p90: Optional[float] = None
    latency_p99: Optional[float] = None
    last_error: Optional[str] = None
    last_error_at: Optional[float] = None
    pid: Optional[int] = None
    uptime: Optional[float] = None
    rss_bytes: Optional[int] = None
    cpu_seconds: Optional[float] = None
    #: calls to this server's tools that a fallback answered.
    fallback_calls: int = 0
    #: calls this server answered as another server's fallback.
    served_as_fallback: int = 0
    #: ``closed``, ``open`` or ``half_open`` with a circuit breaker configured, else ``None``.
    circuit: Optional[str] = None

    @property
    def error_rate(self) -> float:
        """Share of calls that raised (``is_error`` results not counted)."""
        return self.errors / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class HealthStatus:
    """The outcome of pinging one server in :meth:`MCPManager.health_check`.

    Example:
        >>> HealthStatus("fs", ServerState.READY, True, latency=0.001).ok
        True
    """

    server: str
    state: ServerState
    ok: bool
    latency: Optional[float] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class ReloadResult:
    """What :meth:`MCPManager.reload` did (names in configuration order).

    Example:
        >>> ReloadResult(added=("b",), unchanged=("a",)).changed
        True
    """

    added: Tuple[str, ...] = ()
    removed: Tuple[str, ...] = ()
    restarted: Tuple[str, ...] = ()
    unchanged: Tuple[str, ...] = ()
    #: running servers whose new configuration failed to start: they keep running as they were
    #: (the error was logged and emitted as a ``failed`` start-up event).
    failed: Tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether any server was added, removed or restarted."""
        return bool(self.added or self.removed or self.restarted)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the cursor of the next (``None`` on the last page).

    Example:
        >>> Page(("a", "b"), "c2").next_cursor
        'c2'
    """

    items: Tuple[T, ...]
    next_cursor: Optional[str] = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

"""A managed server's call metrics: counts of calls, errors and retries, and recent latencies.

:class:`CallStats` is guarded by its server's lock (passed in, never taken with another);
:meth:`CallStats.snapshot_locked` copies it under that lock, and the :class:`CallCounts` copy
builds the server's :class:`~syncmcp.ServerMetrics` outside it.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Deque, Optional, Tuple

from ._procstat import ProcessUsage
from ._status import ServerMetrics, ServerState
from ._types import CallToolResult

__all__ = ["LATENCY_WINDOW", "CallCounts", "CallStats"]

#: Latencies kept per server for the percentiles in its metrics.
LATENCY_WINDOW = 1024


@dataclass(frozen=True)
class CallCounts:
    """A copy of a server's :class:`CallStats`; ``latencies`` sorted, for the percentiles."""

    calls: int
    errors: int
    tool_errors: int
    retries: int
    latencies: Tuple[float, ...]
    last_error: Optional[str]
    last_error_at: Optional[float]

    def percentile(self, fraction: float) -> Optional[float]:
        """The latency below which ``fraction`` of the recent calls finished, or ``None`` without calls."""
        latencies = self.latencies
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] if latencies else None

    def metrics(
        self,
        name: str,
        state: ServerState,
        restarts: int,
        pid: Optional[int],
        started_at: Optional[float],
        usage: Optional[ProcessUsage],
    ) -> ServerMetrics:
        """The metrics of server ``name``; ``pid`` and ``started_at`` of its running instance, if ready."""
        return ServerMetrics(
            name,
            state,
            calls=self.calls,
            errors=self.errors,
            tool_errors=self.tool_errors,
            retries=self.retries,
            restarts=restarts,
            latency_p50=self.percentile(0.50),
            latency_p90=self.percentile(0.90),
            latency_p99=self.percentile(0.99),
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            pid=pid,
            uptime=time.monotonic() - started_at if started_at is not None else None,
            rss_bytes=usage.rss_bytes if usage is not None else None,
            cpu_seconds=usage.cpu_seconds if usage is not None else None,
        )


class CallStats:
    """The call counters of one server, guarded by ``lock`` (the server's own lock)."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._calls = 0
        self._errors = 0
        self._tool_errors = 0
        self._retries = 0
        self._latencies: Deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._last_error: Optional[str] = None
        self._last_error_at: Optional[float] = None

    def record_call(self, duration: float, result: Optional[CallToolResult], error: Optional[BaseException]) -> None:
        """Count one finished call."""
        with self._lock:
            self.record_call_locked(duration, result, error)

    def record_call_locked(self, duration: float, result: Optional[CallToolResult], error: Optional[BaseException]) -> None:
        """Count one finished call; the caller holds the lock."""
        self._calls += 1
        self._latencies.append(duration)
        if error is not None:
            self._errors += 1
            self._last_error = f"{type(error).__name__}: {error}"
            self._last_error_at = time.time()
        elif result is not None and result.is_error:
            self._tool_errors += 1

    def record_retry(self) -> None:
        """Count one automatic retry."""
        with self._lock:
            self._retries += 1

    def snapshot_locked(self) -> CallCounts:
        """A copy of the counters; the caller holds the lock."""
        return CallCounts(
            self._calls,
            self._errors,
            self._tool_errors,
            self._retries,
            tuple(sorted(self._latencies)),
            self._last_error,
            self._last_error_at,
        )

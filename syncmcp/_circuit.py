"""Whether a managed server should take calls now: its circuit breaker and its last health check.

A :class:`CircuitBreaker` is the classic three-state switch, per server, off unless the server's
``circuit_failures`` is set::

    closed  --circuit_failures consecutive failures-->  open  --circuit_cooldown_sec-->  half open
      ^                                                   ^                                  |
      +------------------- the trial call succeeds -------+---- the trial call fails --------+

While open, calls skip the server (they go to its fallbacks, or fail at once); once the cool-down
is over exactly one call is let through as a trial, and its outcome closes or re-opens the
circuit. A failure is a call the server could not answer (unavailable, connection lost, timed
out); an answer, even an error one, is a success.

:class:`Availability` keeps, for one manager, every server's breaker (rebuilt when its settings
change), which servers the last health check found down, and how many calls fallbacks served.
It holds its lock only for bookkeeping, never across I/O or a callback; events are returned to
the caller to emit.

Example:
    >>> breaker = CircuitBreaker(failures=2, cooldown=30.0, clock=lambda: 0.0)
    >>> breaker.failed(False), breaker.failed(False), breaker.state
    (False, True, 'open')
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

from ._config import ServerConfig
from ._events import CircuitClosed, CircuitOpened, ManagerEvent

__all__ = ["CIRCUIT_STATES", "Availability", "CircuitBreaker"]

#: The values of :attr:`CircuitBreaker.state`.
CIRCUIT_STATES: Tuple[str, ...] = ("closed", "open", "half_open")


class CircuitBreaker:
    """One server's circuit (thread-safe); see the module docs.

    Args:
        failures: consecutive failures that open it (at least 1).
        cooldown: seconds it stays open before a trial call.
        clock: the time source (``time.monotonic``).

    Example:
        >>> now = [0.0]
        >>> breaker = CircuitBreaker(1, 10.0, clock=lambda: now[0])
        >>> breaker.failed(False), breaker.admit()
        (True, None)
        >>> now[0] = 11.0
        >>> breaker.admit(), breaker.admit()      # one trial at a time
        (True, None)
        >>> breaker.succeeded(True), breaker.state
        (True, 'closed')
    """

    def __init__(self, failures: int, cooldown: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1:
            raise ValueError(f"failures must be at least 1, got {failures!r}")
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._count = 0
        self._open_until: Optional[float] = None  # set while open or half open
        self._trial = False  # a trial call is in flight

    @property
    def state(self) -> str:
        """``closed``, ``open``, or ``half_open`` (the cool-down is over: the next call is a trial)."""
        with self._lock:
            if self._open_until is None:
                return "closed"
            return "half_open" if self._trial or self._clock() >= self._open_until else "open"

    def admit(self) -> Optional[bool]:
        """May a call go to the server now? ``None``: no (open); ``True``: yes, as the trial; ``False``: yes."""
        with self._lock:
            if self._open_until is None:
                return False
            if self._trial or self._clock() < self._open_until:
                return None
            self._trial = True
            return True

    def succeeded(self, trial: bool) -> bool:
        """Record an answered call; whether it closed the circuit."""
        with self._lock:
            self._count = 0
            if trial:
                self._trial = False
            if self._open_until is None or not trial:
                return False
            self._open_until = None
            return True

    def failed(self, trial: bool) -> bool:
        """Record a call the server could not answer; whether it (re-)opened the circuit."""
        with self._lock:
            self._count += 1
            if trial:
                self._trial = False
            if self._open_until is not None:
                if trial:
                    self._open_until = self._clock() + self.cooldown
                    return True
                return False
            if self._count >= self.failures:
                self._open_until = self._clock() + self.cooldown
                return True
            return False

    def abandon(self, trial: bool) -> None:
        """A call it admitted ended without telling whether the server works (refused locally)."""
        if trial:
            with self._lock:
                self._trial = False


class Availability:
    """One manager's view of which servers should take calls (thread-safe); see the module docs.

    Example:
        >>> availability = Availability()
        >>> availability.admit("a", ServerConfig(command="a"))      # no circuit configured
        False
        >>> availability.mark_health("a", False, "timed out"); availability.down("a")
        'timed out'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: Dict[str, Tuple[Tuple[int, float], CircuitBreaker]] = {}
        self._down: Dict[str, str] = {}
        self._served_by_fallback: Dict[str, int] = {}
        self._served_for_others: Dict[str, int] = {}

    def breaker(self, server: str, config: ServerConfig) -> Optional[CircuitBreaker]:
        """The server's breaker, ``None`` when it has none (a new one when its settings changed)."""
        settings = (config.circuit_failures, config.circuit_cooldown_sec)
        with self._lock:
            if not config.circuit_failures:
                self._breakers.pop(server, None)
                return None
            held = self._breakers.get(server)
            if held is None or held[0] != settings:
                held = (settings, CircuitBreaker(*settings))
                self._breakers[server] = held
            return held[1]

    def admit(self, server: str, config: ServerConfig) -> Optional[bool]:
        """As :meth:`CircuitBreaker.admit`; ``False`` (go ahead) for a server without a breaker."""
        breaker = self.breaker(server, config)
        return breaker.admit() if breaker is not None else False

    def record(self, server: str, config: ServerConfig, ok: Optional[bool], trial: bool) -> List[ManagerEvent]:
        """Record a call's outcome (``None``: neither answered nor failed); the events to emit."""
        breaker = self.breaker(server, config)
        if breaker is None:
            return []
        if ok is None:
            breaker.abandon(trial)
            return []
        if ok:
            return [CircuitClosed(server)] if breaker.succeeded(trial) else []
        return [CircuitOpened(server, breaker.failures, breaker.cooldown)] if breaker.failed(trial) else []

    def circuit_state(self, server: str) -> Optional[str]:
        """The server's circuit state, or ``None`` when it has no breaker."""
        with self._lock:
            held = self._breakers.get(server)
        return held[1].state if held is not None else None

    def mark_health(self, server: str, ok: bool, error: Optional[str]) -> None:
        """Note a health check's verdict: a failed one marks the server down until one succeeds."""
        with self._lock:
            if ok:
                self._down.pop(server, None)
            else:
                self._down[server] = error or "health check failed"

    def down(self, server: str) -> Optional[str]:
        """Why the last health check found the server down, or ``None``."""
        return self._down.get(server)

    def served(self, primary: str, fallback: str) -> None:
        """Count one call to ``primary``'s tool answered by ``fallback``."""
        with self._lock:
            self._served_by_fallback[primary] = self._served_by_fallback.get(primary, 0) + 1
            self._served_for_others[fallback] = self._served_for_others.get(fallback, 0) + 1

    def counts(self, server: str) -> Tuple[int, int]:
        """``(calls to its tools a fallback answered, calls it answered for other servers)``."""
        with self._lock:
            return self._served_by_fallback.get(server, 0), self._served_for_others.get(server, 0)

    def forget(self, server: str) -> None:
        """Drop a removed server's breaker and health mark (its counters stay)."""
        with self._lock:
            self._breakers.pop(server, None)
            self._down.pop(server, None)

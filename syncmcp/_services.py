"""What a managed server is given by its manager: the services, the restart policy, start-up batches.

:class:`Services` is everything a :class:`~syncmcp._managed.ManagedServer` needs from its
manager (and nothing that refers back to it); :class:`RestartPolicy` says when a server whose
process died is started again; a :class:`StartupBatch` emits one :class:`~syncmcp.StartupComplete`
for servers started together.
"""

from __future__ import annotations

import concurrent.futures  # noqa: F401  (the Services example uses it)
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from ._elicitation import ElicitationRouter
from ._events import ManagerEvent, StartupComplete, StartupFailure
from ._sandbox import SandboxState
from ._stdio import DEFAULT_SHUTDOWN_GRACE, DEFAULT_TERMINATE_GRACE
from ._toolcache import ToolCache

__all__ = ["RestartPolicy", "Roots", "SamplingHandler", "Services", "StartupBatch"]

SamplingHandler = Callable[[str, Any, Dict[str, Any]], Any]
#: Roots offered to every server: ``[{"uri": "file:///...", "name": ...}]`` or a callable returning them.
Roots = Union[Sequence[Mapping[str, Any]], Callable[[], Sequence[Mapping[str, Any]]]]


@dataclass(frozen=True)
class RestartPolicy:
    """When a server whose process died is started again: on its next use, with capped backoff.

    The first restart after a crash is immediate; each further consecutive one waits
    ``base_delay * 2**(n - 2)`` seconds after the previous failure, at most ``max_delay``. After
    ``max_attempts`` consecutive restarts the server stays ``failed`` until ``restart_server()``
    or a reload. A server that ran for ``healthy_after`` seconds before dying starts a new count.

    Args:
        max_attempts: consecutive restarts allowed (0 disables restarting).
        base_delay: seconds before the second restart.
        max_delay: the cap on any delay.
        healthy_after: seconds of uptime after which a crash no longer counts as consecutive.

    Example:
        >>> [RestartPolicy(base_delay=1.0, max_delay=4.0).delay(n) for n in range(1, 6)]
        [0.0, 1.0, 2.0, 4.0, 4.0]
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts!r}")
        for name in ("base_delay", "max_delay", "healthy_after"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"{name} must be a non-negative number of seconds, got {value!r}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the previous failure before restart number ``attempt`` (from 1)."""
        if attempt <= 1:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 2)))


class Services:
    """What a managed server needs from its manager (and nothing that refers back to the manager).

    Args:
        emit: delivers an event to ``on_event`` and the log.
        submit_start: runs a start-up task on the start pool.
        submit_background: runs a short cleanup task off the calling thread (raises
            ``RuntimeError`` once the manager is shutting down).
        restart: the restart policy.
        sandbox: returns ``(version, state)`` of the current sandbox state.
        router: routes elicitations, or ``None`` to not offer the capability.
        sampling_handler: ``fn(server, request_id, params)`` for ``sampling/createMessage``.
        roots: roots offered to every server.
        client_info: ``clientInfo`` sent at the handshake.
        tool_cache: the on-disk tool cache, if enabled.
        tool_name_prefix: the prefix of qualified tool names (``"mcp"``), if any.
        shutdown_grace: seconds a server gets to exit after its stdin is closed.
        terminate_grace: seconds between SIGTERM and SIGKILL.
        tools_changed: called after a server's state or tool list changed, which may change
            what the manager lists (its tool map is rebuilt only after such a call).

    Example:
        >>> pool = concurrent.futures.ThreadPoolExecutor(4)
        >>> services = Services(emit=print, submit_start=pool.submit, submit_background=pool.submit,
        ...                     restart=RestartPolicy(), sandbox=lambda: (0, None))
        >>> services.restart.max_attempts
        5
        >>> pool.shutdown()
    """

    def __init__(
        self,
        *,
        emit: Callable[[ManagerEvent], None],
        submit_start: Callable[[Callable[[], None]], Any],
        submit_background: Callable[[Callable[[], None]], Any],
        restart: RestartPolicy,
        sandbox: Callable[[], Tuple[int, Optional[SandboxState]]],
        router: Optional[ElicitationRouter] = None,
        sampling_handler: Optional[SamplingHandler] = None,
        roots: Optional[Roots] = None,
        client_info: Optional[Mapping[str, Any]] = None,
        tool_cache: Optional[ToolCache] = None,
        tool_name_prefix: Optional[str] = None,
        shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
        terminate_grace: float = DEFAULT_TERMINATE_GRACE,
        tools_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.emit = emit
        self.submit_start = submit_start
        self.submit_background = submit_background
        self.restart = restart
        self.sandbox = sandbox
        self.router = router
        self.sampling_handler = sampling_handler
        self.roots = roots
        self.client_info = client_info
        self.tool_cache = tool_cache
        self.tool_name_prefix = tool_name_prefix
        self.shutdown_grace = shutdown_grace
        self.terminate_grace = terminate_grace
        self.tools_changed = tools_changed


class StartupBatch:
    """Servers started together; when the last one reports, one :class:`StartupComplete` is emitted.

    Example:
        >>> events = []
        >>> batch = StartupBatch(["a", "b"], events.append)
        >>> batch.report("b", "failed", "boom"); batch.report("a", "ready")
        >>> events[0].ready, events[0].failed[0].server
        (('a',), 'b')
    """

    def __init__(self, names: Sequence[str], emit: Callable[[ManagerEvent], None]) -> None:
        self._order = {name: index for index, name in enumerate(names)}
        self._pending = set(names)
        self._outcomes: Dict[str, Tuple[str, Optional[str]]] = {}
        self._emit = emit
        self._lock = threading.Lock()

    def report(self, name: str, status: str, error: Optional[str] = None) -> None:
        """Record one server's outcome (``ready``, ``failed`` or ``cancelled``)."""
        with self._lock:
            if name not in self._pending:
                return
            self._pending.discard(name)
            self._outcomes[name] = (status, error)
            done = not self._pending
            outcomes = sorted(self._outcomes.items(), key=lambda item: self._order[item[0]]) if done else []
        if done:
            self._emit(
                StartupComplete(
                    ready=tuple(name for name, (status, _) in outcomes if status == "ready"),
                    failed=tuple(StartupFailure(name, err or "") for name, (status, err) in outcomes if status == "failed"),
                    cancelled=tuple(name for name, (status, _) in outcomes if status == "cancelled"),
                )
            )

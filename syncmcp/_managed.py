"""One server under an :class:`~syncmcp.MCPManager`: its state machine, start-ups and restarts.

A :class:`ManagedServer` owns the instances (one spawned process and its session) that ran for
one configured server, one at a time. States (:class:`~syncmcp.ServerState`)::

    disabled                      (enabled = false; nothing ever runs)
    pending  --start-->  starting  --ok-->  ready  --process died-->  exited  --next use-->  starting
                            |                 |                          |
                            +--error-->  failed (restart_server() only)  +--restarts exhausted--> failed
    any  --close/remove-->  closed   (a start-up in flight ends as cancelled)

A start-up runs on the manager's start pool under one monotonic deadline (``startup_timeout_sec``)
covering spawn, era discovery, handshake, the first full ``tools/list`` and the current sandbox
state, sent before ``ready`` is announced (a server that does not answer that update is announced
ready at its deadline; a state set too late for the start-up is sent once it is ready). Whoever
takes the pending start future out of the object (the start-up task, or ``close``) settles it and
reports to the batch, exactly once. The protocol era an ``auto`` server turned out to speak is
remembered, so a restart skips the ``server/discover`` probe (and forgotten if a start-up in it
fails). Calls hold an instance with :meth:`ManagedServer.acquire` / :meth:`release` so a retiring
instance can drain. No lock is held across I/O, a callback, or another lock.

Resource limits: the stdio transport sets the ``setrlimit`` ones in the child; an exit they cause
is named in the error of every call it failed and in the server's error text. A server with
``max_lifetime_sec`` is stopped by a timer thread (``syncmcp-lifetime[<server>]``) that many
seconds after it became ready: its calls in flight fail naming the limit, and it is ``exited``,
restarted on next use like a crashed server (the same backoff and counting).
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._config import ServerConfig
from ._elicitation import ElicitationRouter
from ._events import ListChanged, ManagerEvent, ServerExited, StartupComplete, StartupFailure, StartupUpdate
from ._exceptions import ConnectionClosed, ServerUnavailableError, SessionClosedError
from ._procstat import ProcessUsage
from ._remote import http_transport
from ._sandbox import (
    CODEX_SANDBOX_CAPABILITY,
    CODEX_SANDBOX_METHOD,
    SYNCMCP_SANDBOX_CAPABILITY,
    SYNCMCP_SANDBOX_METHOD,
    SandboxState,
)
from ._session import ClientSession
from ._startup import startup_error_display
from ._status import ServerMetrics, ServerState, ServerStatus
from ._stdio import DEFAULT_SHUTDOWN_GRACE, DEFAULT_TERMINATE_GRACE, StdioTransport
from ._toolcache import ToolCache, tool_cache_key
from ._toolnames import ToolFilter, ToolGroup
from ._transport import Transport
from ._types import CallToolResult, Tool

__all__ = ["LATENCY_WINDOW", "ManagedServer", "RestartPolicy", "Roots", "Services", "StartupBatch"]

logger = logging.getLogger("syncmcp.manager")

#: Latencies kept per server for the percentiles in its metrics.
LATENCY_WINDOW = 1024
#: Beyond its own deadline, how long a caller waits for a start-up to report (scheduling, cleanup).
_START_REPORT_GRACE = 10.0

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


class _Instance:
    """One spawned process and its session. ``inflight`` is guarded by the owning server's lock."""

    __slots__ = (
        "inflight", "lifetime_timer", "remembered_era", "retired", "sandbox_version", "session", "started_at",
        "stopped_by", "tools_stale", "transport"
    )  # fmt: skip

    def __init__(self, transport: Transport, remembered_era: bool = False) -> None:
        self.transport = transport
        self.remembered_era = remembered_era  # started with an era learned earlier, not configured
        self.session: Optional[ClientSession] = None
        self.started_at = 0.0
        self.inflight = 0
        self.retired = False  # closed on purpose: losing its connection is not a crash
        self.tools_stale = False
        self.sandbox_version = -1
        self.lifetime_timer: Optional[threading.Timer] = None
        self.stopped_by: Optional[str] = None  # why the manager stopped it (a limit), if it did

    @property
    def live_session(self) -> ClientSession:
        assert self.session is not None
        return self.session

    @property
    def pid(self) -> Optional[int]:
        """The child's pid; ``None`` for a remote server."""
        return self.transport.pid if isinstance(self.transport, StdioTransport) else None

    def diagnostics(self) -> Tuple[str, Sequence[str]]:
        """``(stderr tail, missing env_vars)`` of a child; a remote server's last HTTP failure."""
        transport = self.transport
        if isinstance(transport, StdioTransport):
            return transport.stderr_tail(), transport.missing_env_vars
        return "", ()

    def limit_note(self, error: BaseException) -> Optional[str]:
        """Which resource limit ended this instance, judging by how it ended (``error``), or ``None``."""
        if self.stopped_by is not None:
            return self.stopped_by
        transport = self.transport
        if not isinstance(transport, StdioTransport) or not transport.limits:
            return None
        if isinstance(error, ConnectionClosed):
            return transport.explain_exit(error.returncode, error.stderr_tail or None)
        return transport.explain_exit()

    def cancel_lifetime(self) -> Optional[threading.Timer]:
        """Stop the lifetime timer (under the server's lock); the timer, to join outside it."""
        timer, self.lifetime_timer = self.lifetime_timer, None
        if timer is not None:
            timer.cancel()
        return timer


def _annotate(error: BaseException, note: str) -> None:
    """Put ``note`` (which limit ended the server) into a connection error's message, once, in place.

    After the reason and exit code, before the quoted stderr, so ``add_context`` can still prefix it.
    """
    if not isinstance(error, ConnectionClosed) or len(error.args) != 1 or not isinstance(error.args[0], str):
        return
    message = error.args[0]
    if note in message:
        return
    head, sep, tail = message.partition("\n")
    error.args = (f"{head}: {note}{sep}{tail}",)
    error.reason = f"{error.reason}: {note}"


class _StartCancelled(Exception):
    """The start-up was superseded (close, removal, restart) before it finished."""


class ManagedServer:
    """One configured server and the processes that run for it (see the module docs).

    Args:
        name: the server's name.
        config: its configuration.
        services: what the manager provides.

    Example:
        server = ManagedServer("fs", ServerConfig(command="mcp-fs"), services)
        server.launch(StartupBatch(["fs"], services.emit)) if server.claim_start() else None
        instance = server.acquire()
        try:
            instance.live_session.call_tool("read_file", {"path": "a"})
        finally:
            server.release(instance)
    """

    def __init__(self, name: str, config: ServerConfig, services: Services) -> None:
        self.name = name
        self.config = config
        self.filter = ToolFilter.from_lists(config.enabled_tools, config.disabled_tools)
        self._svc = services
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._draining = 0  # closers waiting on _idle for the calls in flight to finish
        self._state = ServerState.PENDING if config.enabled else ServerState.DISABLED
        self._gen = 0
        self._start_future: Optional[concurrent.futures.Future[Optional[_Instance]]] = None
        self._start_batch: Optional[StartupBatch] = None
        self._starting: Optional[_Instance] = None
        self._instance: Optional[_Instance] = None
        self._dead: List[_Instance] = []
        self._error: Optional[BaseException] = None
        self._error_text: Optional[str] = None
        self._ever_ready = False
        self._era: Optional[str] = None  # the era the last successful start-up found
        self._attempts = 0
        self._restarts = 0
        self._lost_at = 0.0
        self._tools: Optional[Tuple[Tool, ...]] = None
        self._tools_cached = False
        self._tools_stale = False
        self._group: Optional[Tuple[Tuple[Tool, ...], ToolGroup]] = None
        # metrics
        self._calls = 0
        self._errors = 0
        self._tool_errors = 0
        self._retries = 0
        self._latencies: Deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._last_error: Optional[str] = None
        self._last_error_at: Optional[float] = None
        self._cache_key: Optional[str] = None
        cache = services.tool_cache
        if cache is not None and config.enabled:
            self._cache_key = tool_cache_key(config)
            cached = cache.load(self._cache_key)
            if cached is not None:
                self._tools = tuple(Tool.from_dict(tool) for tool in cached)
                self._tools_cached = True
                self.tool_group()

    def __repr__(self) -> str:
        return f"<ManagedServer '{self.name}' {self._state.value}>"

    # ------------------------------------------------------------------------------ snapshots

    @property
    def state(self) -> ServerState:
        """The current state."""
        return self._state

    def status(self) -> ServerStatus:
        """A snapshot for ``startup_status()``."""
        with self._lock:
            return ServerStatus(self.name, self._state, self._error_text, self._restarts, self._tools_cached, self._era)

    def _session_era(self) -> Tuple[str, bool]:
        """``(protocol_era for the next session, whether it is a remembered one)``; under the lock."""
        configured = self.config.protocol_era
        if configured == "auto" and self._era is not None:
            return self._era, True
        return configured, False

    def tool_snapshot(self) -> Optional[Tuple[Tool, ...]]:
        """The tools to list now: live ones when ready (or exited: it restarts on use), cached ones while starting."""
        state = self._state
        if state is ServerState.READY or state is ServerState.EXITED:
            return self._tools
        if (state is ServerState.STARTING or state is ServerState.PENDING) and self._tools_cached:
            return self._tools
        return None

    def tool_group(self) -> Optional[ToolGroup]:
        """The listed tools prepared for naming (filter applied), rebuilt only when the list changed."""
        snapshot = self.tool_snapshot()
        if snapshot is None:
            return None
        cached = self._group
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        tool_filter = self.filter
        allowed = snapshot if tool_filter.allows_all else tuple(tool for tool in snapshot if tool_filter.allows(tool.name))
        group = ToolGroup(self.name, allowed, self._svc.tool_name_prefix)
        self._group = (snapshot, group)
        return group

    def known_tools(self) -> Tuple[Tool, ...]:
        """The last tools it listed (live or cached), whatever its state."""
        return self._tools or ()

    def find_tool(self, tool_name: str) -> Optional[Tool]:
        """The definition of one of its tools, if known."""
        for tool in self._tools or ():
            if tool.name == tool_name:
                return tool
        return None

    @property
    def tools_stale(self) -> bool:
        """Whether the server said its tools changed since they were last listed."""
        return self._tools_stale and self._state is ServerState.READY

    @property
    def has_cached_tools(self) -> bool:
        """Whether its tools are known from the disk cache while it is not running yet."""
        return self._tools_cached

    def start_future(self) -> Optional[concurrent.futures.Future[Optional[_Instance]]]:
        """The future of the start-up in progress, if any."""
        return self._start_future

    def session(self) -> Optional[ClientSession]:
        """The session of the running instance, if ready."""
        instance = self._instance
        return instance.session if instance is not None and self._state is ServerState.READY else None

    # ------------------------------------------------------------------------------ starting

    def claim_start(self) -> Optional[concurrent.futures.Future[Optional[_Instance]]]:
        """Move a ``pending`` server to ``starting``; the caller then calls :meth:`launch`.

        Returns the new start future, or ``None`` if the server is not pending.
        """
        with self._lock:
            if self._state is not ServerState.PENDING:
                return None
            return self._claim_locked()

    def _claim_locked(self) -> concurrent.futures.Future[Optional[_Instance]]:
        self._gen += 1
        future: concurrent.futures.Future[Optional[_Instance]] = concurrent.futures.Future()
        self._start_future = future
        self._start_batch = None
        self._state = ServerState.STARTING
        return future

    def launch(self, batch: StartupBatch) -> None:
        """Announce ``starting`` and run the claimed start-up on the start pool."""
        with self._lock:
            if self._state is not ServerState.STARTING or self._start_future is None:
                taken = False
            else:
                self._start_batch = batch
                taken = True
            gen = self._gen
        if not taken:
            batch.report(self.name, "cancelled")
            return
        self._svc.emit(StartupUpdate(self.name, "starting"))
        try:
            self._svc.submit_start(lambda: self._run_start(gen))
        except RuntimeError:  # the pool is shut down: the manager is closing
            self._finish_cancelled(gen)

    def _run_start(self, gen: int) -> None:
        config = self.config
        deadline = time.monotonic() + config.startup_timeout_sec
        instance: Optional[_Instance] = None
        try:
            transport = self._make_transport(config)
            with self._lock:
                era, remembered = self._session_era()
            instance = _Instance(transport, remembered)
            instance.session = self._make_session(instance, era)
            with self._lock:
                if gen != self._gen:
                    raise _StartCancelled
                self._starting = instance
            session = instance.session
            session.initialize(timeout=_remaining(deadline))
            tools = session.list_tools(timeout=_remaining(deadline))
            instance.started_at = time.monotonic()
            self._sync_sandbox(instance, deadline)
        except Exception as exc:
            self._start_failed(gen, instance, exc)
            return
        self._start_succeeded(gen, instance, tools)

    def _make_transport(self, config: ServerConfig) -> Transport:
        if config.url is not None:
            return http_transport(self.name, config)
        assert config.command is not None
        return StdioTransport(
            config.command,
            config.args,
            env=dict(config.env),
            env_vars=config.env_vars,
            cwd=config.cwd,
            name=self.name,
            shutdown_grace=self._svc.shutdown_grace,
            terminate_grace=self._svc.terminate_grace,
            memory_limit_mb=config.memory_limit_mb,
            cpu_time_limit_sec=config.cpu_time_limit_sec,
            open_files_limit=config.open_files_limit,
        )

    def _make_session(self, instance: _Instance, era: str) -> ClientSession:
        name = self.name
        svc = self._svc
        router = svc.router
        sampling = svc.sampling_handler
        return ClientSession(
            instance.transport,
            name=name,
            timeout=self.config.tool_timeout_sec,
            client_info=svc.client_info,
            roots=svc.roots,
            sampling_handler=(lambda ctx, params: sampling(name, ctx.request_id, params)) if sampling is not None else None,
            elicitation_handler=(
                (lambda ctx, params: router.handle(name, ctx.request_id, params, ctx.cancelled)) if router is not None else None
            ),
            # Every elicitation reaches the user (Codex declined URL ones unasked, openai/codex#45776).
            elicitation_modes=("form", "url"),
            on_list_changed=lambda kind: self._list_changed(instance, kind),
            on_connection_lost=lambda error: self._connection_lost(instance, error),
            protocol_era=era,
        )

    def _take_start_locked(
        self, gen: int
    ) -> Optional[Tuple[concurrent.futures.Future[Optional[_Instance]], Optional[StartupBatch]]]:
        if gen != self._gen or self._start_future is None:
            return None
        taken = (self._start_future, self._start_batch)
        self._start_future = None
        self._start_batch = None
        self._starting = None
        return taken

    def _start_succeeded(self, gen: int, instance: _Instance, tools: List[Tool]) -> None:
        timer: Optional[threading.Timer] = None
        with self._lock:
            taken = self._take_start_locked(gen)
            if taken is not None:
                restarted = self._ever_ready
                self._ever_ready = True
                self._instance = instance
                self._state = ServerState.READY
                self._tools = tuple(tools)
                self._tools_cached = False
                self._tools_stale = instance.tools_stale
                self._error = None
                self._error_text = None
                self._era = instance.live_session.era
                if restarted:
                    self._restarts += 1
                lifetime = self.config.max_lifetime_sec
                if lifetime is not None:
                    timer = threading.Timer(lifetime, self._lifetime_over, args=(instance,))
                    timer.name = f"syncmcp-lifetime[{self.name}]"
                    timer.daemon = True
                    instance.lifetime_timer = timer
        if taken is None:  # superseded meanwhile; whoever did it reported
            instance.retired = True
            instance.live_session.close()
            return
        if timer is not None:  # started outside the lock; a close meanwhile cancelled it, so it ends at once
            try:
                timer.start()
            except RuntimeError:  # no new threads: the interpreter is exiting
                logger.warning("MCP server '%s': cannot keep its max_lifetime_sec (no thread)", self.name)
        self.tool_group()  # prepare the names here, not in the next list_all_tools()
        logger.info("MCP server '%s' is ready (%d tools, %s era)", self.name, len(tools), self._era)
        self._settle_start(taken, StartupUpdate(self.name, "ready"), instance)
        # After settling: neither is part of the start-up, whose callers are not kept waiting.
        # A state set after the last check in _sync_sandbox went to ready servers only (this one
        # was still starting), and one the deadline left no time for was not sent at all.
        if self._svc.sandbox()[0] != instance.sandbox_version:
            self.send_sandbox()
        self._write_cache(tools)

    def _start_failed(self, gen: int, instance: Optional[_Instance], error: BaseException) -> None:
        note = instance.limit_note(error) if instance is not None else None
        if note is not None:
            _annotate(error, note)
        tail, missing = instance.diagnostics() if instance is not None else ("", ())
        text = startup_error_display(self.name, self.config, error, stderr_tail=tail, missing_env_vars=missing)
        forgotten: Optional[str] = None
        with self._lock:
            taken = self._take_start_locked(gen)
            if taken is not None:
                self._error = error
                self._error_text = text
                self._lost_at = time.monotonic()
                if instance is not None and instance.remembered_era:
                    # The server may have changed (an upgrade): the next start-up probes again.
                    forgotten, self._era = self._era, None
                may_retry = self._ever_ready and self._attempts < self._svc.restart.max_attempts
                self._state = ServerState.EXITED if may_retry else ServerState.FAILED
        if instance is not None:
            instance.retired = True
        if forgotten is not None:
            logger.info("MCP server '%s' failed to start in the %s era it spoke before; probing next time", self.name, forgotten)
        if taken is not None:
            logger.warning("%s", text, extra={"syncmcp_event": "startup_failed", "mcp_server": self.name})
            self._settle_start(taken, StartupUpdate(self.name, "failed", error=text, exception=error), None)
        if instance is not None and instance.session is not None:
            instance.session.close()  # after reporting: a server that does not exit costs the grace

    def _settle_start(
        self,
        taken: Tuple[concurrent.futures.Future[Optional[_Instance]], Optional[StartupBatch]],
        update: StartupUpdate,
        instance: Optional[_Instance],
    ) -> None:
        """End a start-up taken with ``_take_start_locked*``: the event, its batch's tally, then its waiters."""
        future, batch = taken
        self._svc.emit(update)
        if batch is not None:
            batch.report(self.name, update.status, update.error)
        future.set_result(instance)

    def _finish_cancelled(self, gen: int) -> None:
        with self._lock:
            taken = self._take_start_locked(gen)
            if taken is not None and self._state is ServerState.STARTING:
                self._state = ServerState.CANCELLED
        if taken is not None:
            self._settle_start(taken, StartupUpdate(self.name, "cancelled"), None)

    # ------------------------------------------------------------------------------ sandbox

    def _sync_sandbox(self, instance: _Instance, deadline: float) -> None:
        """Send the newest sandbox state before ``ready``, within what is left of the start-up deadline.

        The state may change while it is being sent: then the newer one is sent too, while time
        remains. A failed or unanswered update only costs a warning (Codex's rule), so a server
        that never answers it is announced ready at its deadline, not later; a state there was
        no time left for is sent once the server is ready (see ``_start_succeeded``).
        """
        while self._svc.sandbox()[0] != instance.sandbox_version:
            remaining = _remaining(deadline)
            if remaining <= 0 and _sandbox_method(instance.live_session) is not None:
                logger.warning("MCP server '%s': no time left in its start-up deadline to send the sandbox state", self.name)
                return
            self._push_sandbox(instance, remaining, on_start=True)  # without a form, only notes the version

    def _push_sandbox(self, instance: _Instance, timeout: float, *, on_start: bool) -> Optional[BaseException]:
        """Send the current sandbox state if the server takes it; returns the failure, if any."""
        version, state = self._svc.sandbox()
        session = instance.live_session
        form = _sandbox_form(session, state) if state is not None else None
        error: Optional[BaseException] = None
        if form is not None:
            method, params = form
            try:
                session.request(method, params, timeout=timeout)
            except Exception as exc:
                error = exc
                if on_start:
                    logger.warning("Failed to notify sandbox state to MCP server %s: %s", self.name, exc)
                else:
                    logger.warning("Failed to notify sandbox state change to MCP server: %s", exc)
        instance.sandbox_version = version
        return error

    def send_sandbox(self) -> Optional[BaseException]:
        """Send the current sandbox state to the running instance (``notify_sandbox_state_change``).

        Returns the failure, or ``None`` (also when the server is not ready or does not take it).
        """
        instance = self._acquire_ready()
        if instance is None:
            return None
        try:
            return self._push_sandbox(instance, self.config.tool_timeout_sec, on_start=False)
        finally:
            self.release(instance)

    def sandbox_capable(self) -> bool:
        """Whether the running instance declared one of the sandbox-state capabilities."""
        session = self.session()
        return session is not None and _sandbox_method(session) is not None

    # ------------------------------------------------------------------------------ using

    def acquire(self, *, autostart: bool = True, restart: bool = True) -> _Instance:
        """The running instance, starting or restarting the server first when needed.

        Pair with :meth:`release`. Blocks at most for one start-up (its deadline).

        Raises:
            ServerUnavailableError: disabled, failed to start, or waiting out a restart backoff
                (``retry_after`` says how long).
            SessionClosedError: the server was removed or the manager closed.
        """
        with self._lock:  # the common case, ready with a live session, before the general loop
            instance = self._instance
            if self._state is ServerState.READY and instance is not None:
                session = instance.session
                if session is not None and not session.closed:
                    instance.inflight += 1
                    return instance
        for _ in range(self._svc.restart.max_attempts + 3):
            launch = False
            events: List[ManagerEvent] = []
            with self._lock:
                state = self._state
                instance = self._instance
                if state is ServerState.READY and instance is not None:
                    if instance.session is not None and not instance.session.closed:
                        instance.inflight += 1
                        return instance
                    events = self._mark_lost_locked(instance, None)
                    state = self._state
                future = self._start_future
                if state is ServerState.STARTING and future is not None:
                    pass
                elif state is ServerState.PENDING and autostart:
                    future = self._claim_locked()
                    launch = True
                elif state is ServerState.EXITED and restart:
                    attempt = self._attempts + 1
                    wait = self._lost_at + self._svc.restart.delay(attempt) - time.monotonic()
                    if wait > 0:
                        raise ServerUnavailableError(
                            f"{self._error_text}\nMCP server '{self.name}' will be restarted on its next use in "
                            f"{wait:.1f} s (restart {attempt} of {self._svc.restart.max_attempts})",
                            server=self.name,
                            retry_after=wait,
                        )
                    self._attempts = attempt
                    future = self._claim_locked()
                    launch = True
                else:
                    raise self._unavailable_locked(state)
            for event in events:
                self._svc.emit(event)
            if launch:
                self.launch(StartupBatch([self.name], self._svc.emit))
            assert future is not None
            try:
                future.result(self.config.startup_timeout_sec + _START_REPORT_GRACE)
            except concurrent.futures.TimeoutError:
                raise ServerUnavailableError(
                    f"MCP server '{self.name}' did not finish starting in time", server=self.name
                ) from None
        raise ServerUnavailableError(f"MCP server '{self.name}' could not be started: {self._error_text}", server=self.name)

    def unavailable_error(self) -> Exception:
        """The error a caller gets for this server in its current (not ready) state."""
        with self._lock:
            return self._unavailable_locked(self._state)

    def _unavailable_locked(self, state: ServerState) -> Exception:
        if state is ServerState.CLOSED:
            return SessionClosedError(f"MCP server '{self.name}' was removed or its manager closed")
        if state is ServerState.DISABLED:
            return ServerUnavailableError(f"MCP server '{self.name}' is disabled (enabled = false)", server=self.name)
        if state is ServerState.PENDING:
            return ServerUnavailableError(f"MCP server '{self.name}' is not started yet", server=self.name)
        if state is ServerState.CANCELLED:
            error = ServerUnavailableError(
                f"failed to get client: MCP server '{self.name}': MCP startup cancelled", server=self.name
            )
        else:
            error = ServerUnavailableError(f"failed to get client: {self._error_text}", server=self.name)
        error.__cause__ = self._error
        return error

    def _acquire_ready(self) -> Optional[_Instance]:
        """The running instance if the server is ready now (never waits, never starts); pair with release."""
        with self._lock:
            instance = self._instance
            if self._state is not ServerState.READY or instance is None:
                return None
            instance.inflight += 1
            return instance

    def ping(self, timeout: float) -> Tuple[bool, Optional[float], Optional[str]]:
        """Ping the running instance: ``(ok, latency, error)``; not ready is not ok, without waiting."""
        instance = self._acquire_ready()
        if instance is None:
            return False, None, self._error_text or f"MCP server '{self.name}' is {self._state.value}"
        started = time.monotonic()
        try:
            instance.live_session.ping(timeout=timeout)
        except ConnectionClosed as exc:
            self.report_lost(instance, exc)
            return False, None, str(exc)
        except Exception as exc:
            return False, None, f"{type(exc).__name__}: {exc}"
        finally:
            self.release(instance)
        return True, time.monotonic() - started, None

    def release(self, instance: _Instance) -> None:
        """Undo one :meth:`acquire`."""
        with self._lock:
            instance.inflight -= 1
            if instance.inflight <= 0 and self._draining:
                self._idle.notify_all()

    def wait_ready(self, timeout: float) -> bool:
        """Start the server if pending and wait until ready; ``False`` on failure or timeout."""
        deadline = time.monotonic() + max(0.0, timeout)
        launch = False
        with self._lock:
            if self._state is ServerState.PENDING:
                future: Optional[concurrent.futures.Future[Optional[_Instance]]] = self._claim_locked()
                launch = True
            else:
                future = self._start_future
        if launch:
            self.launch(StartupBatch([self.name], self._svc.emit))
        if future is not None:
            try:
                future.result(max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                return False
        return self._state is ServerState.READY

    def report_lost(self, instance: _Instance, error: ConnectionClosed) -> bool:
        """A call saw the connection drop: mark the server exited (once). ``False`` if it was our close.

        An exit caused by a resource limit is named in ``error``'s message (changed in place).
        """
        note = instance.limit_note(error)
        if note is not None:
            _annotate(error, note)
        with self._lock:
            events = self._mark_lost_locked(instance, error)
        for event in events:
            self._svc.emit(event)
        return bool(events)

    def _connection_lost(self, instance: _Instance, error: ConnectionClosed) -> None:
        """The session's ``on_connection_lost`` (its notification thread): mark exited, close it.

        The close runs on another thread: a thread already closing this session (a failed
        handshake closes itself) joins the notification thread, and a close from here would wait
        for that one in turn.
        """
        self.report_lost(instance, error)
        try:
            self._svc.submit_background(lambda: self._close_dead(instance))
        except RuntimeError:  # shutting down: every server was closed already, so this is quick
            self._close_dead(instance)

    def _lifetime_over(self, instance: _Instance) -> None:
        """The lifetime timer fired (its own thread): stop the instance, which is then ``exited``."""
        lifetime = self.config.max_lifetime_sec
        note = f"resource limit reached: max_lifetime_sec = {lifetime:g} (the manager stopped it after {lifetime:g} s)"
        with self._lock:
            if instance.lifetime_timer is None or instance.retired or self._instance is not instance:
                return  # cancelled meanwhile: closed, restarted, or already lost
            instance.lifetime_timer = None
            instance.stopped_by = note
            error = ConnectionClosed(f"connection to MCP server '{self.name}' is closed: {note}")
            events = self._mark_lost_locked(instance, error)
        logger.info("MCP server '%s' reached its max_lifetime_sec (%g s); stopping it", self.name, lifetime)
        for event in events:
            self._svc.emit(event)
        # Closed while still listed as dead, so a close() of the server meanwhile waits for it.
        instance.live_session.close()
        self._close_dead(instance)

    def _close_dead(self, instance: _Instance) -> None:
        with self._lock:
            if instance in self._dead:
                self._dead.remove(instance)
        if instance.session is not None:
            instance.session.close()

    def _mark_lost_locked(self, instance: _Instance, error: Optional[ConnectionClosed]) -> List[ManagerEvent]:
        if instance.retired or self._instance is not instance:
            return []
        instance.retired = True
        instance.cancel_lifetime()
        self._instance = None
        self._dead.append(instance)
        now = time.monotonic()
        if now - instance.started_at >= self._svc.restart.healthy_after:
            self._attempts = 0
        reason = str(error) if error is not None else f"connection to MCP server '{self.name}' was lost"
        self._error = error or ConnectionClosed(reason)
        self._error_text = f"MCP server '{self.name}' exited: {reason}"
        self._lost_at = now
        restartable = self._attempts < self._svc.restart.max_attempts
        self._state = ServerState.EXITED if restartable else ServerState.FAILED
        # Logged by the caller's emit (log_event), outside the lock: handlers do I/O.
        return [ServerExited(self.name, self._error_text, error.returncode if error is not None else None)]

    def restart_wait(self) -> Optional[float]:
        """Seconds until an exited server may be restarted (0: now), or ``None`` if it will not be."""
        with self._lock:
            if self._state is ServerState.READY or self._state is ServerState.STARTING:
                return 0.0
            if self._state is not ServerState.EXITED:
                return None
            return max(0.0, self._lost_at + self._svc.restart.delay(self._attempts + 1) - time.monotonic())

    def _list_changed(self, instance: _Instance, kind: str) -> None:
        if kind == "tools":
            with self._lock:
                instance.tools_stale = True
                if self._instance is instance:
                    self._tools_stale = True
        self._svc.emit(ListChanged(self.name, kind))

    def refresh_tools(self) -> None:
        """Re-list the tools if the server said they changed (a failure keeps the previous list)."""
        with self._lock:
            instance = self._instance
            if self._state is not ServerState.READY or instance is None or not self._tools_stale:
                return
            self._tools_stale = False
            instance.tools_stale = False
            instance.inflight += 1
        try:
            tools = instance.live_session.list_tools(timeout=self.config.tool_timeout_sec)
        except Exception as exc:
            logger.warning("Failed to refresh tools for MCP server '%s', using the previous list: %s", self.name, exc)
            return
        finally:
            self.release(instance)
        with self._lock:
            current = self._instance is instance
            if current:
                self._tools = tuple(tools)
        if current:
            self.tool_group()
            self._write_cache(tools)

    def _write_cache(self, tools: Sequence[Tool]) -> None:
        cache = self._svc.tool_cache
        if cache is not None and self._cache_key is not None:
            cache.store(self._cache_key, [tool.raw or {"name": tool.name} for tool in tools], server=self.name)

    # ------------------------------------------------------------------------------ metrics

    def record_call(self, duration: float, result: Optional[CallToolResult], error: Optional[BaseException]) -> None:
        """Count one finished call."""
        with self._lock:
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

    @property
    def pid(self) -> Optional[int]:
        """The running process's pid (its process group id too)."""
        instance = self._instance
        return instance.pid if instance is not None and self._state is ServerState.READY else None

    def metrics(self, usage: Optional[ProcessUsage]) -> ServerMetrics:
        """A metrics snapshot; ``usage`` is this server's process-group usage, if measured."""
        with self._lock:
            latencies = sorted(self._latencies)
            instance = self._instance if self._state is ServerState.READY else None
            snapshot = (self._state, self._calls, self._errors, self._tool_errors, self._retries, self._restarts)
            last_error, last_error_at = self._last_error, self._last_error_at

        def percentile(fraction: float) -> Optional[float]:
            return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] if latencies else None

        state, calls, errors, tool_errors, retries, restarts = snapshot
        return ServerMetrics(
            self.name,
            state,
            calls=calls,
            errors=errors,
            tool_errors=tool_errors,
            retries=retries,
            restarts=restarts,
            latency_p50=percentile(0.50),
            latency_p90=percentile(0.90),
            latency_p99=percentile(0.99),
            last_error=last_error,
            last_error_at=last_error_at,
            pid=instance.pid if instance is not None else None,
            uptime=time.monotonic() - instance.started_at if instance is not None else None,
            rss_bytes=usage.rss_bytes if usage is not None else None,
            cpu_seconds=usage.cpu_seconds if usage is not None else None,
        )

    # ------------------------------------------------------------------------------ stopping

    def close(self, drain: float = 0.0) -> None:
        """Stop for good: cancel a start-up, let calls finish for up to ``drain`` seconds, close.

        Idempotent; bounded by ``drain`` plus the transport's shutdown.
        """
        with self._lock:
            if self._state is ServerState.CLOSED:
                return
            self._state = ServerState.CLOSED
            self._gen += 1
            taken = self._take_start_locked_any()
            starting, self._starting = self._starting, None
            instance, self._instance = self._instance, None
            dead, self._dead = self._dead, []
            timers = [item.cancel_lifetime() for item in (instance, *dead) if item is not None]
            for item in (starting, instance):
                if item is not None:
                    item.retired = True
        for timer in timers:
            if timer is not None and timer.is_alive() and timer is not threading.current_thread():
                timer.join(1.0)
        if taken is not None:
            self._settle_start(taken, StartupUpdate(self.name, "cancelled"), None)
        if starting is not None and starting.session is not None:
            starting.session.close()
        if instance is not None:
            if drain > 0:
                with self._idle:
                    self._draining += 1
                    try:
                        self._idle.wait_for(lambda: instance.inflight <= 0, drain)
                    finally:
                        self._draining -= 1
            instance.live_session.close()
        for item in dead:
            if item.session is not None:
                item.session.close()

    def _take_start_locked_any(self) -> Optional[Tuple[concurrent.futures.Future[Optional[_Instance]], Optional[StartupBatch]]]:
        if self._start_future is None:
            return None
        taken = (self._start_future, self._start_batch)
        self._start_future = None
        self._start_batch = None
        return taken

    def restart(self) -> Optional[concurrent.futures.Future[Optional[_Instance]]]:
        """Stop the running instance (if any) and start a fresh one; the caller launches it.

        Returns the start future, or ``None`` if the server is disabled, closed or already starting.
        """
        with self._lock:
            if self._state in (ServerState.DISABLED, ServerState.CLOSED, ServerState.STARTING):
                return None
            old, self._instance = self._instance, None
            if old is not None:
                old.retired = True
                old.cancel_lifetime()
            self._attempts = 0
            future = self._claim_locked()
        if old is not None:
            old.live_session.close()
        return future


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _sandbox_method(session: ClientSession) -> Optional[str]:
    experimental = session.server_capabilities.get("experimental")
    if not isinstance(experimental, Mapping):
        return None
    if SYNCMCP_SANDBOX_CAPABILITY in experimental:
        return SYNCMCP_SANDBOX_METHOD
    if CODEX_SANDBOX_CAPABILITY in experimental:
        return CODEX_SANDBOX_METHOD
    return None


def _sandbox_form(session: ClientSession, state: SandboxState) -> Optional[Tuple[str, Dict[str, Any]]]:
    """``(method, params)`` of the update in the form the server asked for, or ``None``."""
    method = _sandbox_method(session)
    if method is None:
        return None
    return method, state.to_syncmcp() if method == SYNCMCP_SANDBOX_METHOD else state.to_codex()

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

Its parts, each in its own module: :mod:`~syncmcp._services` (what the manager provides, the
restart policy, start-up batches), :mod:`~syncmcp._instance` (one instance and how it is built),
:mod:`~syncmcp._servertools` (the tool list and its disk cache), :mod:`~syncmcp._managedtools`
(those tools as the manager lists them, a base class), :mod:`~syncmcp._sandboxsync`
(sandbox state sent to instances), :mod:`~syncmcp._callstats` (call metrics) and
:mod:`~syncmcp._unavailable` (the error for a server that is not ready).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from typing import List, Optional, Tuple

from ._callstats import LATENCY_WINDOW, CallStats
from ._config import ServerConfig
from ._events import ManagerEvent, ServerExited, StartupUpdate
from ._exceptions import ConnectionClosed, ServerUnavailableError
from ._instance import Instance as _Instance
from ._instance import make_session, make_transport, start_lifetime, startup_error_text
from ._managedtools import ManagedTools
from ._procstat import ProcessUsage
from ._sandboxsync import SandboxSync, sandbox_method
from ._servertools import ServerTools
from ._services import RestartPolicy, Roots, SamplingHandler, Services, StartupBatch
from ._session import ClientSession
from ._status import ServerMetrics, ServerState, ServerStatus
from ._toolnames import ToolFilter
from ._types import CallToolResult, Tool
from ._unavailable import unavailable_error

__all__ = ["LATENCY_WINDOW", "ManagedServer", "RestartPolicy", "Roots", "SamplingHandler", "Services", "StartupBatch"]

logger = logging.getLogger("syncmcp.manager")

#: ``ServerState.READY`` for the call path, where an enum member lookup costs ~0.1 µs.
_READY = ServerState.READY

#: Beyond its own deadline, how long a caller waits for a start-up to report (scheduling, cleanup).
_START_REPORT_GRACE = 10.0


class _StartCancelled(Exception):
    """The start-up was superseded (close, removal, restart) before it finished."""


class ManagedServer(ManagedTools):
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
        #: Whether calls to its tools are routed by ``syncmcp._fallback`` (fallbacks or a circuit).
        self.guarded = bool(config.fallback or config.circuit_failures)
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
        self._stats = CallStats(self._lock)
        self._sandbox = SandboxSync(name, services)
        self._toolset = ServerTools(name, config, services.tool_cache, services.tool_name_prefix)
        if self._toolset.cached:
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
            return ServerStatus(self.name, self._state, self._error_text, self._restarts, self._toolset.cached, self._era)

    def _session_era(self) -> Tuple[str, bool]:
        """``(protocol_era for the next session, whether it is a remembered one)``; under the lock."""
        configured = self.config.protocol_era
        if configured == "auto" and self._era is not None:
            return self._era, True
        return configured, False

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
        self._svc.tools_changed()
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
            transport = make_transport(self.name, config, self._svc)
            with self._lock:
                era, remembered = self._session_era()
            instance = _Instance(transport, remembered)
            instance.session = make_session(
                self.name, config, self._svc, instance, era, self._list_changed, self._connection_lost
            )
            with self._lock:
                if gen != self._gen:
                    raise _StartCancelled
                self._starting = instance
            session = instance.session
            session.initialize(timeout=_remaining(deadline))
            tools = session.list_tools(timeout=_remaining(deadline))
            instance.started_at = time.monotonic()
            self._sandbox.sync(instance, deadline)
        except Exception as exc:
            self._start_failed(gen, instance, exc)
            return
        self._start_succeeded(gen, instance, tools)

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
                self._toolset.set_live(tuple(tools), instance.tools_stale)
                self._svc.tools_changed()
                self._error = None
                self._error_text = None
                self._era = instance.live_session.era
                if restarted:
                    self._restarts += 1
                lifetime = self.config.max_lifetime_sec
                if lifetime is not None:
                    timer = instance.arm_lifetime(lifetime, self.name, self._lifetime_over)
        if taken is None:  # superseded meanwhile; whoever did it reported
            instance.retired = True
            instance.live_session.close()
            return
        if timer is not None:  # started outside the lock; a close meanwhile cancelled it, so it ends at once
            start_lifetime(timer, self.name)
        self.tool_group()  # prepare the names here, not in the next list_all_tools()
        logger.info("MCP server '%s' is ready (%d tools, %s era)", self.name, len(tools), self._era)
        self._settle_start(taken, StartupUpdate(self.name, "ready"), instance)
        # After settling: neither is part of the start-up, whose callers are not kept waiting.
        # A state set after the last check in SandboxSync.sync went to ready servers only (this one
        # was still starting), and one the deadline left no time for was not sent at all.
        if self._svc.sandbox()[0] != instance.sandbox_version:
            self.send_sandbox()
        self._toolset.write_cache()

    def _start_failed(self, gen: int, instance: Optional[_Instance], error: BaseException) -> None:
        text = startup_error_text(self.name, self.config, instance, error)
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
                self._svc.tools_changed()
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
                self._svc.tools_changed()
        if taken is not None:
            self._settle_start(taken, StartupUpdate(self.name, "cancelled"), None)

    # ------------------------------------------------------------------------------ sandbox

    def send_sandbox(self) -> Optional[BaseException]:
        """Send the current sandbox state to the running instance (``notify_sandbox_state_change``).

        Returns the failure, or ``None`` (also when the server is not ready or does not take it).
        """
        instance = self._acquire_ready()
        if instance is None:
            return None
        try:
            return self._sandbox.push(instance, self.config.tool_timeout_sec, on_start=False)
        finally:
            self.release(instance)

    def sandbox_capable(self) -> bool:
        """Whether the running instance declared one of the sandbox-state capabilities."""
        session = self.session()
        return session is not None and sandbox_method(session) is not None

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
            if self._state is _READY and instance is not None:
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
        return unavailable_error(self.name, state, self._error_text, self._error)

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

    def release(self, instance: _Instance, answered: Optional[Tuple[float, CallToolResult]] = None) -> None:
        """Undo one :meth:`acquire`; with ``answered``, ``(duration, result)`` of a tool call, count it too (one lock)."""
        with self._lock:
            instance.inflight -= 1
            if instance.inflight <= 0 and self._draining:
                self._idle.notify_all()
            if answered is not None:
                self._stats.record_call_locked(answered[0], answered[1], None)

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
        instance.explain(error)
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
        self._svc.tools_changed()
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

    @property
    def ever_ready(self) -> bool:
        """Whether a start-up of this server ever succeeded (so a start-up now is a restart)."""
        return self._ever_ready

    def restart_soon(self) -> None:
        """Restart an exited server in the background if its backoff is over (never waits)."""
        with self._lock:
            if self._state is not ServerState.EXITED:
                return
            attempt = self._attempts + 1
            if self._lost_at + self._svc.restart.delay(attempt) > time.monotonic():
                return
            self._attempts = attempt
            self._claim_locked()
        self.launch(StartupBatch([self.name], self._svc.emit))

    # ------------------------------------------------------------------------------ metrics

    def record_call(self, duration: float, result: Optional[CallToolResult], error: Optional[BaseException]) -> None:
        """Count one finished call."""
        self._stats.record_call(duration, result, error)

    def record_retry(self) -> None:
        """Count one automatic retry."""
        self._stats.record_retry()

    @property
    def pid(self) -> Optional[int]:
        """The running process's pid (its process group id too)."""
        instance = self._instance
        return instance.pid if instance is not None and self._state is ServerState.READY else None

    def metrics(self, usage: Optional[ProcessUsage]) -> ServerMetrics:
        """A metrics snapshot; ``usage`` is this server's process-group usage, if measured."""
        with self._lock:
            counts = self._stats.snapshot_locked()
            instance = self._instance if self._state is ServerState.READY else None
            state, restarts = self._state, self._restarts
        pid = instance.pid if instance is not None else None
        return counts.metrics(self.name, state, restarts, pid, instance.started_at if instance is not None else None, usage)

    # ------------------------------------------------------------------------------ stopping

    def close(self, drain: float = 0.0) -> None:
        """Stop for good: cancel a start-up, let calls finish for up to ``drain`` seconds, close.

        Idempotent; bounded by ``drain`` plus the transport's shutdown.
        """
        with self._lock:
            if self._state is ServerState.CLOSED:
                return
            self._state = ServerState.CLOSED
            self._svc.tools_changed()
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

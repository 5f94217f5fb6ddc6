"""What an :class:`~syncmcp.MCPManager` owns: its servers, thread pools, events and shared state.

:class:`Runtime` holds the servers (one :class:`~syncmcp._managed.ManagedServer` per configured
name, in configuration order; the dict is replaced whole, never changed in place), the start
pool (``syncmcp-start_N``), the fan-out pool (``syncmcp-fanout_N``), the event dispatcher, the
elicitation router and the sandbox state. It starts servers in batches, waits for start-ups, runs
per-server work in parallel, and closes everything: each server on a ``syncmcp-close[<server>]``
thread of its own, never queued behind a busy pool, so no stop is ever dropped. Nothing here
refers to the manager object, so a manager nobody closed can be garbage-collected, and
:func:`finalize` then closes its runtime. :class:`Use` holds one server's running instance for one
request. No lock is held across I/O.

Example::

    runtime = Runtime(on_event=None, shutdown_grace=2.0, terminate_grace=2.0)
    runtime.slots = {"fs": ManagedServer("fs", config, services)}
    runtime.start(runtime.ordered())
    with runtime.use("fs") as session:
        print(session.list_tools())
    runtime.close()
"""

from __future__ import annotations

import atexit
import concurrent.futures
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from . import _forks
from ._circuit import Availability
from ._elicitation import ElicitationRouter
from ._events import EventDispatcher, ManagerEvent, StartupComplete
from ._exceptions import ConnectionClosed, MCPError, SessionClosedError, StartupError, UnknownServerError
from ._managed import ManagedServer, StartupBatch
from ._sandbox import SandboxState
from ._session import ClientSession
from ._status import ServerState
from ._timeout import DEFAULT, Timeout

__all__ = ["FANOUT_GRACE", "Runtime", "Use", "add_context", "finalize", "stop_servers"]

logger = logging.getLogger("syncmcp.manager")

T = TypeVar("T")
R = TypeVar("R")

#: Most start-ups running at once (each is mostly waiting on a child process).
_START_WORKERS = 64
#: Most per-server tasks of list_all_*, health checks, sandbox updates and close at once.
_FANOUT_WORKERS = 32
#: Added to the longest per-server bound when waiting for a fan-out, for scheduling.
FANOUT_GRACE = 5.0
#: Added to the transport's shutdown graces when waiting for servers to stop, for scheduling
#: and the session's own clean-up (reader and handler threads).
_CLOSE_GRACE = 10.0

_exiting = False


@atexit.register
def _note_exit() -> None:
    # At interpreter exit the stdio layer's own net kills every child in parallel; a manager
    # finaliser running then must not start threads or wait on servers one by one.
    global _exiting
    _exiting = True


class Runtime:
    """What a manager owns: servers, pools, events, elicitation routing, sandbox state.

    Nothing here refers to the :class:`~syncmcp.MCPManager` object itself, so a manager nobody
    closed can be garbage-collected, and its finaliser closes this.

    Attributes:
        lock: guards replacing ``slots``, ``closing`` and ``sandbox`` (never held across I/O).
        slots: ``{name: server}`` in configuration order; replaced whole, read without the lock.
        closing: ``close()`` was called.
        closed: set once every server stopped.
        events: delivers events to ``on_event`` on the ``syncmcp-events`` thread.
        router: routes elicitations (``None``: servers are not offered elicitation).
        sandbox: ``(version, state)`` of the sandbox state servers are told about.
        availability: circuit breakers, health-check verdicts and fallback counters.
        tools_mark: a fresh object after every change of a server's state or tool list (see
            :meth:`note_tools_changed`); what was derived from the servers' tools under one
            mark, with the same ``slots``, still holds while both are the same objects.
    """

    def __init__(self, on_event: Optional[Callable[[ManagerEvent], None]], shutdown_grace: float, terminate_grace: float) -> None:
        self.lock = threading.Lock()
        self.slots: Dict[str, ManagedServer] = {}
        self.closing = False
        self.closed = threading.Event()
        self.stoppers: List[threading.Thread] = []
        self.events = EventDispatcher(on_event)
        self.start_pool = concurrent.futures.ThreadPoolExecutor(_START_WORKERS, thread_name_prefix="syncmcp-start")
        self.fanout_pool = concurrent.futures.ThreadPoolExecutor(_FANOUT_WORKERS, thread_name_prefix="syncmcp-fanout")
        self.router: Optional[ElicitationRouter] = None
        self.sandbox: Tuple[int, Optional[SandboxState]] = (0, None)
        self.availability = Availability()
        self.shutdown_grace = shutdown_grace
        self.terminate_grace = terminate_grace
        #: The process generation the runtime was made in (see ``syncmcp._forks``).
        self.born = _forks.generation()
        #: Set in a forked child that reconnects: ``lazy`` for the start-up its first use runs.
        self.deferred_start: Optional[bool] = None
        self.tools_mark = object()

    def note_tools_changed(self) -> None:
        """A server's state or tool list changed: replace :attr:`tools_mark` (atomic, lock-free)."""
        self.tools_mark = object()

    def current_sandbox(self) -> Tuple[int, Optional[SandboxState]]:
        """``(version, state)`` of the current sandbox state."""
        return self.sandbox

    def submit_start(self, fn: Callable[[], None]) -> Any:
        """Run a start-up task on the start pool."""
        return self.start_pool.submit(fn)

    def submit_background(self, fn: Callable[[], None]) -> Any:
        """Run a short task on the fan-out pool."""
        return self.fanout_pool.submit(fn)

    def ordered(self) -> List[ManagedServer]:
        """Every server, in configuration order."""
        return list(self.slots.values())

    def check_open(self) -> None:
        """Raise :class:`~syncmcp.SessionClosedError` once the manager is closing.

        Also :class:`~syncmcp.ForkedProcessError` in a process that inherited the manager through
        ``fork()``; and in a forked child that reconnects, the first call starts its servers.
        """
        if self.born != _forks.generation():
            raise _forks.forked_error(
                "this MCPManager", self.born, "Make a new one in this process, or build it with after_fork='reconnect'."
            )
        if self.closing:
            raise SessionClosedError("the MCP manager is closed")
        if self.deferred_start is not None:
            with self.lock:
                lazy, self.deferred_start = self.deferred_start, None
            if lazy is not None:
                self.start_initial(lazy)

    def slot(self, server: str) -> ManagedServer:
        """The server by that name.

        Raises:
            SessionClosedError: the manager is closed.
            UnknownServerError: no such server.
        """
        self.check_open()
        slot = self.slots.get(server)
        if slot is None:
            raise UnknownServerError(f"unknown MCP server '{server}'")
        return slot

    def use(self, server: str, context: Optional[str] = None) -> Use:
        """Hold the named server's running instance for one request (see :class:`Use`)."""
        return Use(self, self.slot(server), context)

    def start(self, slots: Sequence[ManagedServer]) -> List[concurrent.futures.Future[Any]]:
        """Start the pending ones among ``slots`` as one batch (one summary event)."""
        claimed = [(slot, slot.claim_start()) for slot in slots]
        started = [(slot, future) for slot, future in claimed if future is not None]
        if not started:
            return []
        batch = StartupBatch([slot.name for slot, _ in started], self.events.emit)
        for slot, _ in started:
            slot.launch(batch)
        return [future for _, future in started if future is not None]

    def start_initial(self, lazy: bool) -> None:
        """Start the servers a new manager starts at once, and wait for the ``required`` ones.

        Raises:
            StartupError: a ``required`` server failed to start.
        """
        slots = self.ordered()
        eager = [slot for slot in slots if slot.state is ServerState.PENDING and (not lazy or slot.config.required)]
        if not eager and not lazy:
            self.events.emit(StartupComplete())
        self.start(eager)
        failures: Dict[str, BaseException] = {}
        for slot in eager:
            if slot.config.required and not slot.wait_ready(slot.config.startup_timeout_sec + FANOUT_GRACE):
                failures[slot.name] = slot.unavailable_error()
        if failures:
            raise StartupError(failures)

    def wait_for_startup(self, timeout: Optional[float]) -> bool:
        """Wait until no server is starting; ``False`` if some still are after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for slot in self.ordered():
            future = slot.start_future()
            if future is None:
                continue
            limit = slot.config.startup_timeout_sec + FANOUT_GRACE
            if deadline is not None:
                limit = min(limit, max(0.0, deadline - time.monotonic()))
            try:
                future.result(limit)
            except concurrent.futures.TimeoutError:
                return False
        return all(slot.state is not ServerState.STARTING for slot in self.ordered())

    def restart(self, slot: ManagedServer, wait: bool) -> bool:
        """Restart one server now; whether it is ready (with ``wait``, once it settled)."""
        future = slot.restart()
        if future is not None:
            slot.launch(StartupBatch([slot.name], self.events.emit))
            if wait:
                try:
                    future.result(slot.config.startup_timeout_sec + FANOUT_GRACE)
                except concurrent.futures.TimeoutError:
                    return False
        return slot.state is ServerState.READY

    def prepare(self, slots: Sequence[ManagedServer], *, need_live: bool) -> None:
        """Start pending servers and wait for their start-ups, then refresh changed tool lists.

        With ``need_live=False``, servers whose tools come from the disk cache are not waited for.
        """
        waiting = [slot for slot in slots if need_live or not slot.has_cached_tools]
        futures = self.start([slot for slot in waiting if slot.state is ServerState.PENDING])
        futures += [f for f in (slot.start_future() for slot in waiting if slot.state is ServerState.STARTING) if f is not None]
        bound = max((slot.config.startup_timeout_sec for slot in slots), default=0.0) + FANOUT_GRACE
        concurrent.futures.wait(futures, bound)
        stale = [slot for slot in slots if slot.tools_stale]
        if stale:
            self.fan_out(stale, lambda slot: slot.refresh_tools(), max(s.config.tool_timeout_sec for s in stale) + FANOUT_GRACE)

    def acquire_current(self, slot: ManagedServer) -> Tuple[ManagedServer, Any]:
        """Acquire the server's running instance, or its replacement's if a reload replaced it.

        Safe to redirect: nothing was sent to the replaced server yet.
        """
        while True:
            try:
                return slot, slot.acquire()
            except SessionClosedError:
                current = self.slots.get(slot.name)
                if self.closing or current is None or current is slot:
                    raise
                slot = current

    def update_sandbox(self, state: SandboxState) -> Dict[str, BaseException]:
        """Make ``state`` current and send it to every ready server that takes it, in parallel.

        Returns:
            ``{server: error}`` for the servers that failed.
        """
        self.check_open()
        with self.lock:
            self.sandbox = (self.sandbox[0] + 1, state)
        targets = [slot for slot in self.ordered() if slot.sandbox_capable()]
        if not targets:
            return {}
        bound = max(slot.config.tool_timeout_sec for slot in targets) + FANOUT_GRACE
        failures: Dict[str, BaseException] = {}
        for slot, value, error in self.fan_out(targets, lambda slot: slot.send_sandbox(), bound):
            problem = error or value
            if problem is not None:
                failures[slot.name] = problem
        return failures

    def stop_bound(self, drain: float = 0.0) -> float:
        """Seconds within which closing one server (or several, in parallel) finishes."""
        return drain + self.shutdown_grace + self.terminate_grace + _CLOSE_GRACE

    def fan_out(
        self, items: Sequence[T], fn: Callable[[T], R], timeout: float
    ) -> List[Tuple[T, Optional[R], Optional[BaseException]]]:
        """Run ``fn`` on every item in parallel (inline for one); results in input order."""
        if len(items) == 1:
            try:
                return [(items[0], fn(items[0]), None)]
            except Exception as exc:
                return [(items[0], None, exc)]
        try:
            futures = [self.fanout_pool.submit(fn, item) for item in items]
        except RuntimeError:
            raise SessionClosedError("the MCP manager is closed") from None
        concurrent.futures.wait(futures, timeout)
        results: List[Tuple[T, Optional[R], Optional[BaseException]]] = []
        for item, future in zip(items, futures):
            if not future.done():
                results.append((item, None, TimeoutError(f"no answer within {timeout:g} s")))
            elif future.exception() is not None:
                results.append((item, None, future.exception()))
            else:
                results.append((item, future.result(), None))
        return results

    def close(self) -> None:
        """Close every server in parallel, then stop the threads; bounded, idempotent.

        The servers are stopped by threads of their own, started once by the first call. Any call
        only waits for them (bounded): an interrupted wait (Ctrl-C, a notebook's stop button)
        leaves them stopping the servers, and a later ``close()`` waits for them again.
        """
        if _forks.inherited(self.born):
            # The servers, threads and locks are the parent's: mark closed, touch nothing.
            self.closing = True
            return
        with self.lock:
            first = not self.closing
            self.closing = True
            slots = list(self.slots.values())
        if first:
            if self.router is not None:
                self.router.close()
            self.stoppers = _start_stopping(slots, 0.0)
        deadline = time.monotonic() + self.stop_bound()
        _join_stoppers(self.stoppers, deadline)
        for pool in (self.start_pool, self.fanout_pool):
            pool.shutdown(wait=False, cancel_futures=True)
            for thread in list(getattr(pool, "_threads", ())):
                if thread is not threading.current_thread():
                    thread.join(max(0.0, deadline - time.monotonic()))
        self.events.close(max(1.0, deadline - time.monotonic()))
        if not any(thread.is_alive() for thread in self.stoppers):
            self.closed.set()


class Use:
    """``with Use(runtime, slot) as session``: hold a running instance of a server for one request.

    A connection lost during the request is reported to the server (restarted on next use), and
    with ``context`` the error's message gets Codex's prefix (``resources/read failed for `<s>` ...``).
    """

    def __init__(self, runtime: Runtime, slot: ManagedServer, context: Optional[str] = None) -> None:
        self._runtime = runtime
        self._slot = slot
        self._context = context
        self._instance: Any = None

    def __enter__(self) -> ClientSession:
        self._slot, self._instance = self._runtime.acquire_current(self._slot)
        session: ClientSession = self._instance.live_session
        return session

    def limit(self, timeout: Timeout) -> Optional[float]:
        """``timeout``, with :data:`~syncmcp.DEFAULT` meaning the held server's ``tool_timeout_sec``.

        The server held, not the one looked up by name: a reload may have replaced it since.
        """
        return self._slot.config.tool_timeout_sec if timeout is DEFAULT else timeout

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        if isinstance(exc, ConnectionClosed):
            self._slot.report_lost(self._instance, exc)
        if exc is not None and self._context is not None:
            add_context(exc, self._context)
        self._slot.release(self._instance)


def _start_stopping(slots: Sequence[ManagedServer], drain: float) -> List[threading.Thread]:
    """Start closing each of ``slots`` on a thread of its own; the started threads.

    Not on the fan-out pool: a close queued behind busy workers would wait for them, and the
    pool's shutdown (``cancel_futures``) would drop it, leaving its server running until the
    interpreter exits. Not inline either: an interrupted caller must not stop a close half-way.
    """
    threads = []
    for slot in slots:
        thread = threading.Thread(target=slot.close, args=(drain,), name=f"syncmcp-close[{slot.name}]", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no new threads (interpreter shutdown, or none left): close it here
            slot.close(drain)
            continue
        threads.append(thread)
    return threads


def _join_stoppers(threads: Sequence[threading.Thread], deadline: float) -> None:
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = [thread.name for thread in threads if thread.is_alive()]
    if late:
        logger.warning("MCP servers still stopping (they will be stopped): %s", ", ".join(late))


def stop_servers(slots: Sequence[ManagedServer], drain: float, timeout: float) -> None:
    """Close ``slots`` in parallel, one thread each, waiting at most ``timeout`` seconds for them.

    Not on the fan-out pool: a close queued behind busy workers would wait for them, and the
    pool's shutdown (``cancel_futures``) would drop it, leaving its server running until the
    interpreter exits. A thread per server costs little next to the threads each server already
    has, and each close is bounded by ``drain`` plus the transport's graces, so a thread that
    outlives ``timeout`` (a very loaded machine) still ends, and still stops its server.

    Example:
        stop_servers(retired, drain=5.0, timeout=runtime.stop_bound(5.0))
    """
    _join_stoppers(_start_stopping(slots, drain), time.monotonic() + timeout)


def finalize(runtime: Runtime) -> None:
    """A manager was garbage-collected (or the interpreter exits) without ``close()``."""
    if _exiting or runtime.closing or _forks.inherited(runtime.born):
        return  # at exit the stdio net stops every child; an inherited runtime is the parent's
    logger.warning("an MCPManager was not closed; closing its servers now (use 'with' or close())")
    # The collector may run on any thread, a reader thread included: close from a fresh one.
    threading.Thread(target=runtime.close, name="syncmcp-finalize", daemon=True).start()


def add_context(error: BaseException, context: str) -> None:
    """Prefix Codex's context (``tool call failed for `fs/read` ``) to an error's message in place.

    The error keeps its type and attributes, so ``except RequestTimeout`` and ``error.code`` work
    as on a session. Only errors created for this one request are touched.
    """
    if isinstance(error, MCPError) and len(error.args) == 1 and isinstance(error.args[0], str):
        error.args = (f"{context}: {error.args[0]}",)

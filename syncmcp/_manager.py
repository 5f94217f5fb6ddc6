"""``MCPManager``: many MCP servers behind one blocking, thread-safe API (Codex's connection manager).

One :class:`~syncmcp._managed.ManagedServer` per configured server, keyed by the configuration's
name. Enabled servers start in parallel on a ``ThreadPoolExecutor`` (or, with ``lazy=True``, on
first use), each under its own deadline; a failing or slow server never blocks the others. Tools of
all servers live in one map keyed by a qualified name (``server__tool``, see
:mod:`syncmcp._toolnames`) that is rebuilt only when a server's tool list changes, in configuration
order whatever the order servers finished starting; calls are routed by looking that name up.
Beyond Codex: prompts, restarts with backoff, add/remove/reload, health checks, metrics, retries
of idempotent tools, an on-disk tool cache.

Threads: the start pool (``syncmcp-start_N``) runs start-ups; the fan-out pool
(``syncmcp-fanout_N``) runs the per-server parts of ``list_all_*``, ``health_check`` and sandbox
updates, whose tasks may wait on start-ups but never on each other; stopping servers (``close``,
``reload``) runs on one ``syncmcp-close[<server>]`` thread per server, never queued behind a
busy pool, so no stop is ever dropped; events reach ``on_event`` on ``syncmcp-events``. Nothing
polls while idle. No manager lock is held across I/O.

Example:
    with MCPManager.from_config() as manager:
        tools = manager.list_all_tools()
        print(manager.call_tool("files__read_text_file", {"path": "notes.txt"}).text)
"""

from __future__ import annotations

import atexit
import concurrent.futures
import itertools
import logging
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from ._config import ServerConfig, embedded_default_servers, load_config, resolve_config_path, validate_server_name
from ._display import render_servers
from ._elicitation import DEFAULT_ELICITATION_TIMEOUT, ElicitationHandler, ElicitationRouter, RequestId
from ._endpoint import ProgressCallback
from ._events import (
    ElicitationRequest,
    EventDispatcher,
    ManagerEvent,
    StartupComplete,
    ToolCallBegin,
    ToolCallEnd,
)
from ._exceptions import (
    ConfigError,
    ConnectionClosed,
    MCPError,
    SessionClosedError,
    StartupError,
    ToolDisabledError,
    UnknownServerError,
    UnknownToolError,
)
from ._managed import ManagedServer, RestartPolicy, Roots, SamplingHandler, Services, StartupBatch
from ._procstat import process_group_usage
from ._remote import login as remote_login
from ._remote import logout as remote_logout
from ._sandbox import SandboxState
from ._session import DEFAULT, ClientSession, Timeout
from ._status import HealthStatus, Page, ReloadResult, ServerMetrics, ServerState, ServerStatus
from ._stdio import DEFAULT_SHUTDOWN_GRACE, DEFAULT_TERMINATE_GRACE
from ._toolcache import ToolCache
from ._toolnames import ToolInfo, ToolMap, build_tool_map, qualified_names
from ._types import CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate, Tool

if TYPE_CHECKING:
    from ._login import Authorizer

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "MCPManager"]

logger = logging.getLogger("syncmcp.manager")

T = TypeVar("T")
R = TypeVar("R")
ServersArg = Optional[Mapping[str, Union[ServerConfig, Mapping[str, Any]]]]

#: Seconds calls in flight on a removed or reconfigured server get to finish before it is closed.
DEFAULT_DRAIN_TIMEOUT = 5.0
#: Most start-ups running at once (each is mostly waiting on a child process).
_START_WORKERS = 64
#: Most per-server tasks of list_all_*, health checks, sandbox updates and close at once.
_FANOUT_WORKERS = 32
#: Added to the longest per-server bound when waiting for a fan-out, for scheduling.
_FANOUT_GRACE = 5.0
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


class _Runtime:
    """What a manager owns: servers, pools, events, elicitation routing, sandbox state.

    Nothing here refers to the :class:`MCPManager` object itself, so a manager nobody closed can
    be garbage-collected, and its finaliser closes this.
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
        self.tool_map: Optional[Tuple[Any, Dict[str, ToolInfo]]] = None
        self.shutdown_grace = shutdown_grace
        self.terminate_grace = terminate_grace

    def current_sandbox(self) -> Tuple[int, Optional[SandboxState]]:
        return self.sandbox

    def submit_start(self, fn: Callable[[], None]) -> Any:
        return self.start_pool.submit(fn)

    def submit_background(self, fn: Callable[[], None]) -> Any:
        return self.fanout_pool.submit(fn)

    def ordered(self) -> List[ManagedServer]:
        return list(self.slots.values())

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


def _stop_servers(slots: Sequence[ManagedServer], drain: float, timeout: float) -> None:
    """Close ``slots`` in parallel, one thread each, waiting at most ``timeout`` seconds for them.

    Not on the fan-out pool: a close queued behind busy workers would wait for them, and the
    pool's shutdown (``cancel_futures``) would drop it, leaving its server running until the
    interpreter exits. A thread per server costs little next to the threads each server already
    has, and each close is bounded by ``drain`` plus the transport's graces, so a thread that
    outlives ``timeout`` (a very loaded machine) still ends, and still stops its server.

    Example:
        _stop_servers(retired, drain=5.0, timeout=runtime.stop_bound(5.0))
    """
    _join_stoppers(_start_stopping(slots, drain), time.monotonic() + timeout)


def _finalize(runtime: _Runtime) -> None:
    """A manager was garbage-collected (or the interpreter exits) without ``close()``."""
    if _exiting or runtime.closing:
        return
    logger.warning("an MCPManager was not closed; closing its servers now (use 'with' or close())")
    # The collector may run on any thread, a reader thread included: close from a fresh one.
    threading.Thread(target=runtime.close, name="syncmcp-finalize", daemon=True).start()


def _add_context(error: BaseException, context: str) -> None:
    """Prefix Codex's context (``tool call failed for `fs/read` ``) to an error's message in place.

    The error keeps its type and attributes, so ``except RequestTimeout`` and ``error.code`` work
    as on a session. Only errors created for this one request are touched.
    """
    if isinstance(error, MCPError) and len(error.args) == 1 and isinstance(error.args[0], str):
        error.args = (f"{context}: {error.args[0]}",)


def _to_configs(servers: ServersArg) -> Dict[str, ServerConfig]:
    configs: Dict[str, ServerConfig] = {}
    for name, value in (servers or {}).items():
        validate_server_name(name, key=f"mcp_servers.{name}")
        configs[name] = value if isinstance(value, ServerConfig) else ServerConfig.from_dict(value, name=name)
    return configs


class MCPManager:
    """Many MCP servers behind one blocking, thread-safe API: Codex's connection manager in Python.

    Enabled servers start at once, in parallel, in the background (``lazy=True``: on first use,
    still in parallel when several are needed together). Calls from any number of threads to any
    number of servers run concurrently.

    Args:
        servers: ``{name: ServerConfig or dict}`` in the order that decides tool naming.
        lazy: start servers on first use instead of now (``required`` ones still start now).
        on_event: ``fn(event)`` for :class:`~syncmcp.StartupUpdate`, :class:`~syncmcp.StartupComplete`,
            :class:`~syncmcp.ToolCallBegin` / :class:`~syncmcp.ToolCallEnd`,
            :class:`~syncmcp.ElicitationRequest` / :class:`~syncmcp.ElicitationCancelled`,
            :class:`~syncmcp.ServerExited` and :class:`~syncmcp.ListChanged`, called in order on
            the ``syncmcp-events`` thread.
        elicitation_handler: ``fn(server, request_id, params) -> ElicitResult`` answering
            servers' questions to the user. Without it, questions become
            :class:`~syncmcp.ElicitationRequest` events answered by :meth:`resolve_elicitation`
            (when ``on_event`` is given; otherwise servers are not offered elicitation).
        elicitation_timeout: seconds an unanswered question waits before it is declined.
        sampling_handler: ``fn(server, request_id, params) -> CreateMessageResult``.
        roots: roots offered to every server (a list or a callable).
        sandbox_state: the sandbox state sent to servers that take it, as they become ready.
        tool_name_prefix: e.g. ``"mcp"`` for Codex's ``mcp__server__tool`` names.
        tool_cache: ``True`` (user cache directory), a directory, or a :class:`ToolCache`: list
            servers' tools from disk before they are ready.
        restart: when crashed servers are restarted; ``RestartPolicy(max_attempts=0)`` never.
        client_info: ``clientInfo`` for the handshakes (default: syncmcp's).
        shutdown_grace: seconds a server gets to exit after its stdin closes, before SIGTERM.
        terminate_grace: seconds between SIGTERM and SIGKILL.
        drain_timeout: seconds calls in flight on a removed or reconfigured server may finish.

    Raises:
        ConfigError: a server name or configuration is invalid.
        StartupError: a ``required`` server failed to start (everything is closed first).

    Example:
        manager = MCPManager({
            "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
            "time": {"command": "uvx", "args": ["mcp-server-time"]},
        })
        with manager:
            print(sorted(manager.list_all_tools())[:2])
            print(manager.call_tool("time__get_current_time", {"timezone": "UTC"}).text)
    """

    def __init__(
        self,
        servers: ServersArg = None,
        *,
        lazy: bool = False,
        on_event: Optional[Callable[[ManagerEvent], None]] = None,
        elicitation_handler: Optional[ElicitationHandler] = None,
        elicitation_timeout: float = DEFAULT_ELICITATION_TIMEOUT,
        sampling_handler: Optional[SamplingHandler] = None,
        roots: Optional[Roots] = None,
        sandbox_state: Optional[SandboxState] = None,
        tool_name_prefix: Optional[str] = None,
        tool_cache: Union[bool, ToolCache, str, os.PathLike[str]] = False,
        restart: RestartPolicy = RestartPolicy(),  # noqa: B008 - immutable
        client_info: Optional[Mapping[str, Any]] = None,
        shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE,
        terminate_grace: float = DEFAULT_TERMINATE_GRACE,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
    ) -> None:
        configs = _to_configs(servers)
        if tool_name_prefix is not None and not isinstance(tool_name_prefix, str):
            raise TypeError("tool_name_prefix must be a string or None")
        if not elicitation_timeout > 0:
            raise ValueError(f"elicitation_timeout must be positive, got {elicitation_timeout!r}")
        self._lazy = lazy
        self._prefix = tool_name_prefix
        self._drain = drain_timeout
        self._reloader: Optional[Callable[[], Dict[str, ServerConfig]]] = None
        self._call_ids = itertools.count(1)
        rt = self._rt = _Runtime(on_event, shutdown_grace, terminate_grace)
        if elicitation_handler is not None or on_event is not None:
            rt.router = ElicitationRouter(rt.events.emit, elicitation_timeout, elicitation_handler)
        rt.sandbox = (1 if sandbox_state is not None else 0, sandbox_state)
        cache: Optional[ToolCache]
        if isinstance(tool_cache, ToolCache):
            cache = tool_cache
        elif tool_cache is True:
            cache = ToolCache()
        elif tool_cache is False or tool_cache is None:
            cache = None
        else:
            cache = ToolCache(tool_cache)
        self._services = Services(
            emit=rt.events.emit,
            submit_start=rt.submit_start,
            submit_background=rt.submit_background,
            restart=restart,
            sandbox=rt.current_sandbox,
            router=rt.router,
            sampling_handler=sampling_handler,
            roots=roots,
            client_info=client_info,
            tool_cache=cache,
            tool_name_prefix=tool_name_prefix,
            shutdown_grace=shutdown_grace,
            terminate_grace=terminate_grace,
        )
        rt.slots = {name: ManagedServer(name, config, self._services) for name, config in configs.items()}
        self._finalizer = weakref.finalize(self, _finalize, rt)
        try:
            self._start_initial()
        except BaseException:
            self.close()
            raise

    def _start_initial(self) -> None:
        slots = self._rt.ordered()
        eager = [slot for slot in slots if slot.state is ServerState.PENDING and (not self._lazy or slot.config.required)]
        if not eager and not self._lazy:
            self._rt.events.emit(StartupComplete())
        self._rt.start(eager)
        failures: Dict[str, BaseException] = {}
        for slot in eager:
            if slot.config.required and not slot.wait_ready(slot.config.startup_timeout_sec + _FANOUT_GRACE):
                failures[slot.name] = slot.unavailable_error()
        if failures:
            raise StartupError(failures)

    @classmethod
    def from_config(cls, path: Union[str, os.PathLike[str], None] = None, **options: Any) -> MCPManager:
        """A manager for the servers of a configuration file (:func:`~syncmcp.load_config`).

        Without ``path``: ``$SYNCMCP_CONFIG``, else syncmcp's ``config.toml`` in the user
        configuration directory; when none of these exists, the embedded default server
        (``workspace``: syncmcp's own server, see :func:`embedded_default_servers`).

        Args:
            path: a TOML (``[mcp_servers.NAME]``) or JSON (``{"mcpServers": ...}``) file.
            **options: keyword arguments of :class:`MCPManager`.

        Raises:
            ConfigError: the file is invalid (the message names the file and the key).

        Example:
            manager = MCPManager.from_config("~/.codex/config.toml", lazy=True)
        """

        def load() -> Dict[str, ServerConfig]:
            if path is None and not os.environ.get("SYNCMCP_CONFIG") and not resolve_config_path().expanduser().exists():
                return embedded_default_servers()
            return load_config(path)

        manager = cls(load(), **options)
        manager._reloader = load
        return manager

    # ------------------------------------------------------------------------------ lifecycle

    def __enter__(self) -> MCPManager:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        states: Dict[str, int] = {}
        for slot in self._rt.ordered():
            states[slot.state.value] = states.get(slot.state.value, 0) + 1
        detail = ", ".join(f"{count} {state}" for state, count in states.items())
        return f"<MCPManager {len(self._rt.slots)} servers{': ' + detail if detail else ''}{' (closed)' if self.closed else ''}>"

    def _repr_html_(self) -> str:
        """A notebook table: each server's state, tool count, restarts and last error."""
        counts: Dict[str, int] = {}
        for info in self._tool_map().values():
            counts[info.server] = counts.get(info.server, 0) + 1
        metrics = self.metrics() if not self.closed else {}
        rows = []
        for name, status in self.startup_status().items():
            last = metrics[name].last_error if name in metrics else None
            rows.append(
                {"server": name, "state": status.state.value, "tools": counts.get(name, 0), "restarts": status.restarts,
                 "error": status.error or last}
            )  # fmt: skip
        return render_servers(rows) + ("<div><i>closed</i></div>" if self.closed else "")

    def close(self) -> None:
        """Stop every server in parallel and every syncmcp thread; bounded, idempotent, any thread.

        Calls in flight fail with :class:`~syncmcp.ConnectionClosed`; pending elicitations are
        cancelled; start-ups in flight end as ``cancelled``.

        Example:
            manager.close(); manager.closed
            # -> True
        """
        self._finalizer.detach()
        self._rt.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called.

        Example:
            MCPManager().closed
            # -> False
        """
        return self._rt.closing

    def _check_open(self) -> None:
        if self._rt.closing:
            raise SessionClosedError("the MCP manager is closed")

    def _slot(self, server: str) -> ManagedServer:
        self._check_open()
        slot = self._rt.slots.get(server)
        if slot is None:
            raise UnknownServerError(f"unknown MCP server '{server}'")
        return slot

    @property
    def servers(self) -> Dict[str, ServerConfig]:
        """The configuration of every server, in configuration order.

        Example:
            manager.servers["fs"].command
            # -> 'npx'
        """
        return {name: slot.config for name, slot in self._rt.slots.items()}

    # ------------------------------------------------------------------------------ start-up

    def startup_status(self) -> Dict[str, ServerStatus]:
        """Every server's current state, in configuration order (never blocks).

        Example:
            {name: str(status.state) for name, status in manager.startup_status().items()}
            # -> {'fs': 'ready', 'github': 'failed'}
        """
        return {slot.name: slot.status() for slot in self._rt.ordered()}

    def wait_for_server_ready(self, server: str, timeout: float) -> bool:
        """Wait until one server is ready (starting it if lazy); ``False`` if it failed, or on timeout.

        Example:
            manager.wait_for_server_ready("fs", timeout=30)
            # -> True
        """
        slot = self._rt.slots.get(server)
        if slot is None or self._rt.closing:
            return False
        return slot.wait_ready(timeout)

    def wait_for_startup(self, timeout: Optional[float] = None) -> bool:
        """Wait until no server is starting; ``False`` if some still are after ``timeout`` seconds.

        Without ``timeout`` the wait is still bounded, by each start-up's own deadline.

        Example:
            manager.wait_for_startup(60)
            # -> True
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for slot in self._rt.ordered():
            future = slot.start_future()
            if future is None:
                continue
            limit = slot.config.startup_timeout_sec + _FANOUT_GRACE
            if deadline is not None:
                limit = min(limit, max(0.0, deadline - time.monotonic()))
            try:
                future.result(limit)
            except concurrent.futures.TimeoutError:
                return False
        return all(slot.state is not ServerState.STARTING for slot in self._rt.ordered())

    def restart_server(self, server: str, *, wait: bool = True) -> bool:
        """Restart one server now (also a failed one, resetting its restart count).

        Args:
            server: its name.
            wait: wait until the new instance is ready or failed.

        Returns:
            Whether it is ready now (without ``wait``, usually not yet).

        Raises:
            UnknownServerError: no such server.

        Example:
            manager.restart_server("fs")
            # -> True
        """
        slot = self._slot(server)
        future = slot.restart()
        if future is not None:
            slot.launch(StartupBatch([slot.name], self._rt.events.emit))
            if wait:
                try:
                    future.result(slot.config.startup_timeout_sec + _FANOUT_GRACE)
                except concurrent.futures.TimeoutError:
                    return False
        return slot.state is ServerState.READY

    def login(self, server: str, *, scopes: Optional[Sequence[str]] = None, authorizer: Optional[Authorizer] = None) -> bool:
        """Log in to an HTTP server with OAuth, store the tokens, and (re)start the server.

        The browser opens on the authorization page (the link is also printed, or shown in a
        notebook); the tokens are stored in the user's credential file, for this manager and
        every later one. Scripts without a browser pass an ``authorizer``.

        Args:
            server: the server's name.
            scopes: the scopes to ask for (default: the server's, or the configured ``scopes``).
            authorizer: how the user approves (default: the browser and a loopback callback).

        Returns:
            Whether the server is ready afterwards.

        Raises:
            UnknownServerError: no such server.
            ValueError: the server is a stdio server (``OAuth login is only supported for
                streamable HTTP servers.``).
            AuthenticationRequired: the login failed.

        Example::

            manager.login("linear")              # opens the browser
            manager.call_tool("linear__list_issues", {})
        """
        slot = self._slot(server)
        remote_login(server, slot.config, scopes=scopes, authorizer=authorizer)
        if slot.state is ServerState.READY:
            return True
        return self.restart_server(server)

    def logout(self, server: str) -> bool:
        """Forget the OAuth tokens stored for an HTTP server; whether there were any.

        The running session keeps the tokens it holds until it is restarted.

        Raises:
            UnknownServerError: no such server.
            ValueError: the server is a stdio server.

        Example::

            manager.logout("linear")
            # -> True
        """
        return remote_logout(server, self._slot(server).config)

    # ------------------------------------------------------------------------------ tools

    def _prepare(self, slots: Sequence[ManagedServer], *, need_live: bool) -> None:
        """Start pending servers and wait for their start-ups, then refresh changed tool lists.

        With ``need_live=False``, servers whose tools come from the disk cache are not waited for.
        """
        waiting = [slot for slot in slots if need_live or not slot.has_cached_tools]
        futures = self._rt.start([slot for slot in waiting if slot.state is ServerState.PENDING])
        futures += [f for f in (slot.start_future() for slot in waiting if slot.state is ServerState.STARTING) if f is not None]
        bound = max((slot.config.startup_timeout_sec for slot in slots), default=0.0) + _FANOUT_GRACE
        concurrent.futures.wait(futures, bound)
        stale = [slot for slot in slots if slot.tools_stale]
        if stale:
            self._rt.fan_out(
                stale, lambda slot: slot.refresh_tools(), max(s.config.tool_timeout_sec for s in stale) + _FANOUT_GRACE
            )

    def _tool_map(self) -> Dict[str, ToolInfo]:
        """The qualified-name map of the tools listed now, rebuilt only when a tool list changed."""
        groups = tuple(group for group in (slot.tool_group() for slot in self._rt.ordered()) if group is not None)
        memo = self._rt.tool_map
        if memo is not None and memo[0] == groups:  # the same group objects: nothing changed
            return memo[1]
        result = build_tool_map(groups)
        self._rt.tool_map = (groups, result)
        return result

    def list_all_tools(self, *, wait: bool = True) -> ToolMap:
        """Every tool of every server under its qualified name, in configuration order.

        Args:
            wait: first start servers that are pending (lazy mode) and wait for those still
                starting, except servers whose tools come from the disk cache; refresh lists a
                server said changed. ``False`` returns what is known now.

        Returns:
            ``{qualified_name: ToolInfo}``; servers that failed to start are left out, filters
            (``enabled_tools`` / ``disabled_tools``) applied.

        Example:
            sorted(manager.list_all_tools())[:2]
            # -> ['fs__create_directory', 'fs__directory_tree']
        """
        self._check_open()
        if wait:
            self._prepare(self._rt.ordered(), need_live=False)
        return ToolMap(self._tool_map())

    def parse_tool_name(self, qualified_name: str) -> Optional[Tuple[str, str]]:
        """``(server, raw tool name)`` of a qualified name, or ``None`` (a lookup, never a split).

        Example:
            manager.parse_tool_name("fs__read_text_file")
            # -> ('fs', 'read_text_file')
        """
        info = self._tool_map().get(qualified_name) or self.list_all_tools().get(qualified_name)
        return (info.server, info.tool_name) if info is not None else None

    def _resolve_tool(self, qualified_name: str) -> ToolInfo:
        self._check_open()
        info = self._tool_map().get(qualified_name)
        if info is None:
            info = self.list_all_tools().get(qualified_name)
        if info is not None:
            return info
        # A tool the filters hide gets Codex's text, and one of a server that is down that
        # server's error, rather than "unknown tool".
        everything = [(slot, tool) for slot in self._rt.ordered() for tool in slot.known_tools()]
        names = qualified_names([(slot.name, tool.name) for slot, tool in everything], prefix=self._prefix)
        for name, (slot, tool) in zip(names, everything):
            if name != qualified_name:
                continue
            if not slot.filter.allows(tool.name):
                raise ToolDisabledError(f"tool '{tool.name}' is disabled for MCP server '{slot.name}'")
            if slot.tool_snapshot() is None:
                raise slot.unavailable_error()
        import difflib

        close = difflib.get_close_matches(qualified_name, list(self._tool_map()), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UnknownToolError(f"unknown tool '{qualified_name}'{hint}")

    def call_tool(
        self,
        qualified_name: str,
        arguments: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Timeout = DEFAULT,
        on_progress: Optional[ProgressCallback] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> CallToolResult:
        """Call a tool by its qualified name; an ``is_error`` result is returned, not raised.

        Waits for the server if it is starting, starts it if lazy, restarts it if it crashed.

        Args:
            qualified_name: a key of :meth:`list_all_tools`.
            arguments: a JSON object.
            timeout: seconds; :data:`~syncmcp.DEFAULT` is the server's ``tool_timeout_sec``,
                ``None`` no limit. Time a server spends waiting for the user does not count.
            on_progress: ``fn(progress, total, message)`` for progress notifications.
            meta: extra ``_meta`` for the request.

        Raises:
            UnknownToolError: no tool by that name (with a did-you-mean).
            ToolDisabledError: ``tool '<tool>' is disabled for MCP server '<server>'``.
            ServerUnavailableError: the server failed to start or is waiting out a restart backoff.
            RequestTimeout: no answer in time (the request was cancelled on the server).
            ConnectionClosed: the server died during the call (retried first for idempotent
                tools when ``tool_retries`` allows).

        Example:
            manager.call_tool("time__get_current_time", {"timezone": "UTC"}).structured_content
            # -> {'timezone': 'UTC', 'datetime': '...', 'is_dst': False}
        """
        info = self._resolve_tool(qualified_name)
        return self._call(
            self._slot(info.server), info.tool_name, info.tool, arguments, timeout, on_progress, meta, qualified_name
        )

    def call_server_tool(
        self,
        server: str,
        tool: str,
        arguments: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Timeout = DEFAULT,
        on_progress: Optional[ProgressCallback] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> CallToolResult:
        r"""Call a tool by server and raw tool name (Codex's ``call_tool(server, tool, arguments)``).

        Raises:
            UnknownServerError: ``unknown MCP server '<server>'``.
            ToolDisabledError: the server's filters refuse the tool.

        Example:
            manager.call_server_tool("fs", "list_allowed_directories").text
            # -> 'Allowed directories:\\n/tmp'
        """
        slot = self._slot(server)
        return self._call(slot, tool, slot.find_tool(tool), arguments, timeout, on_progress, meta, None)

    def _call(
        self,
        slot: ManagedServer,
        tool_name: str,
        tool: Optional[Tool],
        arguments: Optional[Mapping[str, Any]],
        timeout: Timeout,
        on_progress: Optional[ProgressCallback],
        meta: Optional[Mapping[str, Any]],
        qualified_name: Optional[str],
    ) -> CallToolResult:
        if not slot.filter.allows(tool_name):
            raise ToolDisabledError(f"tool '{tool_name}' is disabled for MCP server '{slot.name}'")
        if arguments is not None and not isinstance(arguments, Mapping):
            raise TypeError(f"MCP tool arguments must be a JSON object, got {type(arguments).__name__}")
        config = slot.config
        limit = config.tool_timeout_sec if timeout is DEFAULT else timeout
        retries = config.tool_retries if config.is_idempotent(tool_name, tool.annotations if tool is not None else None) else 0
        call_id = next(self._call_ids)
        emit = self._rt.events.emit
        emit(ToolCallBegin(call_id, slot.name, tool_name, qualified_name, dict(arguments) if arguments is not None else None))
        started = time.monotonic()
        result: Optional[CallToolResult] = None
        error: Optional[BaseException] = None
        try:
            while True:
                slot, instance = self._acquire_current(slot)
                if not slot.filter.allows(tool_name):  # a reload may have changed the filters
                    raise ToolDisabledError(f"tool '{tool_name}' is disabled for MCP server '{slot.name}'")
                try:
                    result = instance.live_session.call_tool(
                        tool_name, arguments, timeout=limit, on_progress=on_progress, meta=meta
                    )
                    return result
                except MCPError as exc:
                    if isinstance(exc, ConnectionClosed):
                        slot.report_lost(instance, exc)
                        # The server died before answering: safe to run again only if idempotent.
                        wait = slot.restart_wait() if retries > 0 and not self._rt.closing else None
                        if wait is not None and not self._rt.closed.wait(wait):
                            retries -= 1
                            slot.record_retry()
                            logger.info("retrying %s/%s after the server died (%d left): %s", slot.name, tool_name, retries, exc)
                            continue
                    _add_context(exc, f"tool call failed for `{slot.name}/{tool_name}`")
                    raise
                finally:
                    slot.release(instance)
        except BaseException as exc:
            error = exc
            raise
        finally:
            duration = time.monotonic() - started
            slot.record_call(duration, result, error)
            emit(ToolCallEnd(call_id, slot.name, tool_name, qualified_name, duration, result, error))

    def _acquire_current(self, slot: ManagedServer) -> Tuple[ManagedServer, Any]:
        """Acquire the server's running instance, or its replacement's if a reload replaced it.

        Safe to redirect: nothing was sent to the replaced server yet.
        """
        while True:
            try:
                return slot, slot.acquire()
            except SessionClosedError:
                current = self._rt.slots.get(slot.name)
                if self._rt.closing or current is None or current is slot:
                    raise
                slot = current

    # ------------------------------------------------------------------------------ resources and prompts

    def _use(self, server: str, context: Optional[str] = None) -> _Use:
        return _Use(self, self._slot(server), context)

    def _gather(
        self,
        kind: str,
        fetch: Callable[[ManagedServer], List[T]],
        capability: str,
        errors: Optional[Dict[str, BaseException]] = None,
    ) -> Dict[str, List[T]]:
        """Run ``fetch`` on every server that can answer, in parallel.

        Failures are logged and left out (and recorded in ``errors`` when given).
        """
        self._check_open()
        slots = [slot for slot in self._rt.ordered() if slot.state is not ServerState.DISABLED]
        self._prepare(slots, need_live=True)
        usable = [
            slot for slot in slots if slot.state in (ServerState.READY, ServerState.EXITED) and self._declares(slot, capability)
        ]
        if not usable:
            return {}
        bound = max(slot.config.tool_timeout_sec for slot in usable) + _FANOUT_GRACE
        results: Dict[str, List[T]] = {}
        for slot, value, error in self._rt.fan_out(usable, fetch, bound):
            if error is not None:
                logger.warning(
                    "Failed to list %s for MCP server '%s': %s",
                    kind,
                    slot.name,
                    error,
                    extra={"syncmcp_event": "listing_failed", "mcp_server": slot.name},
                )
                if errors is not None:
                    errors[slot.name] = error
            elif value is not None:
                results[slot.name] = value
        return results

    @staticmethod
    def _declares(slot: ManagedServer, capability: str) -> bool:
        session = slot.session()
        return session is None or capability in session.server_capabilities  # exited: try, it restarts

    def list_all_resources(self, *, errors: Optional[Dict[str, BaseException]] = None) -> Dict[str, List[Resource]]:
        """Every resource of every server that has resources, all pages, queried in parallel.

        A server that fails is logged (``Failed to list resources for MCP server '<s>': <err>``)
        and left out; pass a dict as ``errors`` to receive ``{server: error}`` for those.

        Example:
            {server: len(items) for server, items in manager.list_all_resources().items()}
            # -> {'everything': 7}
        """

        def fetch(slot: ManagedServer) -> List[Resource]:
            with _Use(self, slot) as session:
                return session.list_resources(timeout=slot.config.tool_timeout_sec)

        return self._gather("resources", fetch, "resources", errors)

    def list_all_resource_templates(
        self, *, errors: Optional[Dict[str, BaseException]] = None
    ) -> Dict[str, List[ResourceTemplate]]:
        """Every resource template of every server that has resources (see :meth:`list_all_resources`).

        Example:
            manager.list_all_resource_templates()["everything"][0].uri_template
            # -> 'demo://resource/dynamic/text/{resourceId}'
        """

        def fetch(slot: ManagedServer) -> List[ResourceTemplate]:
            with _Use(self, slot) as session:
                return session.list_resource_templates(timeout=slot.config.tool_timeout_sec)

        return self._gather("resource templates", fetch, "resources", errors)

    def list_all_prompts(self, *, errors: Optional[Dict[str, BaseException]] = None) -> Dict[str, List[Prompt]]:
        """Every prompt of every server that has prompts (see :meth:`list_all_resources`).

        Example:
            [prompt.name for prompt in manager.list_all_prompts()["everything"]][:1]
            # -> ['simple-prompt']
        """

        def fetch(slot: ManagedServer) -> List[Prompt]:
            with _Use(self, slot) as session:
                return session.list_prompts(timeout=slot.config.tool_timeout_sec)

        return self._gather("prompts", fetch, "prompts", errors)

    def _page(self, server: str, kind: str, method: str, cursor: Optional[str], timeout: Timeout) -> Page[Any]:
        """One page of a listing (``ClientSession.list_page``), failures prefixed with Codex's context.

        A server without the capability has an empty listing; a malformed page is a
        :class:`~syncmcp.RemoteProtocolError` (``resources/list failed for `<s>`: ...``).
        """
        use = self._use(server, f"{method} failed for `{server}`")
        with use as session:
            items, next_cursor = session.list_page(kind, cursor, timeout=use.limit(timeout))
        return Page(tuple(items), next_cursor)

    def list_resources(self, server: str, cursor: Optional[str] = None, *, timeout: Timeout = DEFAULT) -> Page[Resource]:
        """One page of one server's resources; pass ``page.next_cursor`` back for the next.

        Raises:
            UnknownServerError: no such server.
            ServerUnavailableError: it failed to start.
            RemoteError: the server answered with an error (``resources/list failed for `<s>`: ...``).
            RemoteProtocolError: the server's page is malformed.

        Example:
            page = manager.list_resources("everything")
            page.items[0].uri, page.next_cursor
            # -> ('demo://resource/static/document/architecture.md', None)
        """
        return self._page(server, "resources", "resources/list", cursor, timeout)

    def list_resource_templates(
        self, server: str, cursor: Optional[str] = None, *, timeout: Timeout = DEFAULT
    ) -> Page[ResourceTemplate]:
        """One page of one server's resource templates (see :meth:`list_resources`).

        Example:
            manager.list_resource_templates("everything").items[0].name
            # -> 'Dynamic Text Resource'
        """
        return self._page(server, "resource_templates", "resources/templates/list", cursor, timeout)

    def list_prompts(self, server: str, cursor: Optional[str] = None, *, timeout: Timeout = DEFAULT) -> Page[Prompt]:
        """One page of one server's prompts (see :meth:`list_resources`).

        Example:
            manager.list_prompts("everything").items[0].name
            # -> 'simple-prompt'
        """
        return self._page(server, "prompts", "prompts/list", cursor, timeout)

    def read_resource(self, server: str, uri: str, *, timeout: Timeout = DEFAULT) -> ReadResourceResult:
        """Read one resource of one server.

        Raises:
            RemoteError: e.g. the resource does not exist.

        Example:
            manager.read_resource("everything", "demo://resource/dynamic/text/1").text
            # -> 'Resource 1: This is a plaintext resource'
        """
        use = self._use(server, f"resources/read failed for `{server}` ({uri})")
        with use as session:
            return session.read_resource(uri, timeout=use.limit(timeout))

    def get_prompt(
        self, server: str, name: str, arguments: Optional[Mapping[str, str]] = None, *, timeout: Timeout = DEFAULT
    ) -> GetPromptResult:
        """Render one prompt of one server.

        Example:
            manager.get_prompt("everything", "args-prompt", {"city": "Paris"}).text
            # -> "What's weather in Paris?"
        """
        use = self._use(server, f"prompts/get failed for `{server}` ({name})")
        with use as session:
            return session.get_prompt(name, arguments, timeout=use.limit(timeout))

    def server_instructions(self, *, wait: bool = True) -> Dict[str, str]:
        """The non-empty ``instructions`` of ready servers, sorted by server name.

        Args:
            wait: first wait for start-ups (starting pending servers in lazy mode).

        Example:
            list(manager.server_instructions())
            # -> ['everything']
        """
        self._check_open()
        slots = [slot for slot in self._rt.ordered() if slot.state is not ServerState.DISABLED]
        if wait:
            self._prepare(slots, need_live=True)
        found = {}
        for slot in slots:
            session = slot.session()
            text = session.instructions if session is not None else None
            if text and text.strip():
                found[slot.name] = text
        return dict(sorted(found.items()))

    # ------------------------------------------------------------------------------ elicitation

    def resolve_elicitation(self, server: str, request_id: RequestId, response: Any) -> None:
        """Answer a server's pending question (from an :class:`~syncmcp.ElicitationRequest` event).

        Args:
            server: ``event.server``.
            request_id: ``event.request_id``.
            response: ``{"action": "accept", "content": {...}}``, or ``"decline"`` / ``"cancel"``.

        Raises:
            UnknownElicitationError: ``elicitation request not found`` (answered, timed out,
                cancelled, or never asked).
            ValueError: not a valid answer (the question stays pending).

        Example:
            answer = {"action": "accept", "content": {"name": "Ada"}}
            manager.resolve_elicitation(event.server, event.request_id, answer)
        """
        router = self._rt.router
        if router is None:
            raise RuntimeError("elicitations go to the elicitation_handler of this manager, or were not enabled (give on_event)")
        router.resolve(server, request_id, response)

    def pending_elicitations(self) -> List[ElicitationRequest]:
        """The questions servers are waiting on, oldest first (for polling UIs).

        Example:
            [(e.server, e.message) for e in manager.pending_elicitations()]
            # -> [('everything', 'Please provide inputs for the following fields:')]
        """
        router = self._rt.router
        return router.pending() if router is not None else []

    # ------------------------------------------------------------------------------ sandbox

    @property
    def sandbox_state(self) -> Optional[SandboxState]:
        """The sandbox state servers are told about (``None``: none set).

        Example:
            manager.sandbox_state.policy
            # -> 'read-only'
        """
        return self._rt.sandbox[1]

    def notify_sandbox_state_change(self, state: SandboxState) -> Dict[str, BaseException]:
        """Send a new sandbox state to every ready server that takes it, in parallel.

        Servers declaring ``experimental["syncmcp/sandbox-state"]`` get
        ``syncmcp/sandbox-state/update``; those declaring Codex's ``codex/sandbox-state`` get
        ``codex/sandbox-state/update`` in Codex's field names. Servers starting later, or
        restarting, get the new state before they are announced ready.

        Returns:
            ``{server: error}`` for the servers that failed (an empty dict when all succeeded).

        Example:
            manager.notify_sandbox_state_change(SandboxState("read-only", "/work"))
            # -> {}
        """
        if not isinstance(state, SandboxState):
            raise TypeError(f"state must be a SandboxState, got {type(state).__name__}")
        self._check_open()
        with self._rt.lock:
            self._rt.sandbox = (self._rt.sandbox[0] + 1, state)
        targets = [slot for slot in self._rt.ordered() if slot.sandbox_capable()]
        if not targets:
            return {}
        bound = max(slot.config.tool_timeout_sec for slot in targets) + _FANOUT_GRACE
        failures: Dict[str, BaseException] = {}
        for slot, value, error in self._rt.fan_out(targets, lambda slot: slot.send_sandbox(), bound):
            problem = error or value
            if problem is not None:
                failures[slot.name] = problem
        return failures

    # ------------------------------------------------------------------------------ changing the set

    def add_server(self, name: str, config: Union[ServerConfig, Mapping[str, Any]]) -> None:
        """Add a server (started now unless the manager is lazy or the server disabled).

        Raises:
            ConfigError: an invalid name or configuration, or a name already in use.

        Example:
            memory = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}
            manager.add_server("memory", memory)
        """
        self._check_open()
        config = _to_configs({name: config})[name]
        slot = ManagedServer(name, config, self._services)
        with self._rt.lock:
            if self._rt.closing:  # close() may have taken its list of servers already
                raise SessionClosedError("the MCP manager is closed")
            if name in self._rt.slots:
                raise ConfigError(
                    f"MCP server '{name}' already exists; use reload() or remove_server() first", key=f"mcp_servers.{name}"
                )
            self._rt.slots = {**self._rt.slots, name: slot}
        if not self._lazy or config.required:
            self._rt.start([slot])

    def remove_server(self, name: str) -> None:
        """Remove a server: calls in flight get ``drain_timeout`` seconds, then it is stopped.

        Raises:
            UnknownServerError: no such server.

        Example:
            manager.remove_server("memory")
        """
        self._check_open()
        with self._rt.lock:
            slots = dict(self._rt.slots)
            slot = slots.pop(name, None)
            if slot is not None:
                self._rt.slots = slots
        if slot is None:
            raise UnknownServerError(f"unknown MCP server '{name}'")
        if self._rt.router is not None:
            self._rt.router.drop_server(name)
        slot.close(self._drain)

    def reload(self, servers: Union[ServersArg, str, os.PathLike[str]] = None) -> ReloadResult:
        """Apply a new configuration by difference: unchanged servers keep running.

        Args:
            servers: the new ``{name: config}``, or a file to load; without it, the file the
                manager was created from (:meth:`from_config`) is read again.

        Returns:
            What was added, removed, restarted (configuration changed, ``protocol_era``
            included) and left alone (still running, and still speaking the era it was found to).

        Raises:
            ConfigError: the new configuration is invalid (nothing is changed then).

        Example:
            manager.reload()
            # -> ReloadResult(added=('memory',), removed=(), restarted=('fs',), unchanged=('time',))
        """
        self._check_open()
        if servers is None:
            if self._reloader is None:
                raise ValueError("this manager was not created from a configuration file; pass the servers to reload()")
            configs = self._reloader()
        elif isinstance(servers, (str, os.PathLike)):
            configs = load_config(servers)
        else:
            configs = _to_configs(servers)
        # New servers are built outside the lock (a constructor reads the disk tool cache), against
        # a snapshot of the current set; if another thread changed the set meanwhile, the diff is
        # taken again, reusing what was built. Nothing was started yet, so discarding is free.
        built: Dict[str, ManagedServer] = {}
        while True:
            old = self._rt.slots
            for name, config in configs.items():
                current = old.get(name)
                unchanged_here = current is not None and current.config == config
                if not unchanged_here and (name not in built or built[name].config != config):
                    built[name] = ManagedServer(name, config, self._services)
            with self._rt.lock:
                if self._rt.closing:
                    raise SessionClosedError("the MCP manager is closed")
                if self._rt.slots is not old:
                    continue
                new: Dict[str, ManagedServer] = {}
                added: List[str] = []
                restarted: List[str] = []
                unchanged: List[str] = []
                for name, config in configs.items():
                    current = old.get(name)
                    if current is not None and current.config == config:
                        new[name] = current
                        unchanged.append(name)
                    else:
                        new[name] = built[name]
                        (restarted if current is not None else added).append(name)
                removed = [name for name in old if name not in configs]
                retired = [old[name] for name in (*removed, *restarted)]
                self._rt.slots = new
                break
        for slot in retired:
            if self._rt.router is not None:
                self._rt.router.drop_server(slot.name)
        if retired:
            _stop_servers(retired, self._drain, self._rt.stop_bound(self._drain))
        fresh = [new[name] for name in (*added, *restarted)]
        self._rt.start([slot for slot in fresh if not self._lazy or slot.config.required])
        return ReloadResult(tuple(added), tuple(removed), tuple(restarted), tuple(unchanged))

    # ------------------------------------------------------------------------------ observing

    def health_check(self, timeout: float = 5.0) -> Dict[str, HealthStatus]:
        """Ping every ready server in parallel; others are reported with their state, not pinged.

        A server found dead is marked exited (restarted on next use).

        Example:
            {name: status.ok for name, status in manager.health_check().items()}
            # -> {'fs': True, 'github': False}
        """
        self._check_open()
        slots = self._rt.ordered()
        ready = [slot for slot in slots if slot.state is ServerState.READY]
        outcomes = {
            slot.name: value
            for slot, value, _ in self._rt.fan_out(ready, lambda slot: slot.ping(timeout), timeout + _FANOUT_GRACE)
        }
        report: Dict[str, HealthStatus] = {}
        for slot in slots:
            outcome = outcomes.get(slot.name)
            if outcome is None:
                status = slot.status()
                report[slot.name] = HealthStatus(
                    slot.name, slot.state, False, None, status.error or f"not {ServerState.READY.value}"
                )
            else:
                ok, latency, error = outcome
                report[slot.name] = HealthStatus(slot.name, slot.state, ok, latency, error)
        return report

    def metrics(self) -> Dict[str, ServerMetrics]:
        """Calls, errors, retries, restarts, latency percentiles, memory and CPU of every server.

        Example:
            m = manager.metrics()["fs"]
            m.calls, m.latency_p50, m.rss_bytes // 2**20
            # -> (12, 0.0021, 48)
        """
        slots = self._rt.ordered()
        pids = {slot.name: slot.pid for slot in slots}
        usage = process_group_usage(pid for pid in pids.values() if pid is not None)
        result = {}
        for slot in slots:
            pid = pids[slot.name]
            result[slot.name] = slot.metrics(usage.get(pid) if pid is not None else None)
        return result


class _Use:
    """``with _Use(manager, slot) as session``: hold a running instance of a server for one request."""

    def __init__(self, manager: MCPManager, slot: ManagedServer, context: Optional[str] = None) -> None:
        self._manager = manager
        self._slot = slot
        self._context = context
        self._instance: Any = None

    def __enter__(self) -> ClientSession:
        self._slot, self._instance = self._manager._acquire_current(self._slot)
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
            _add_context(exc, self._context)
        self._slot.release(self._instance)

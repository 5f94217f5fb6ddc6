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

:class:`MCPManager` is the public face: it checks arguments and delegates to parts that know
nothing of it, so a manager nobody closed can be garbage-collected (its finaliser closes the
runtime):

- :mod:`~syncmcp._runtime`: what the manager owns (servers, pools, events, elicitation routing,
  sandbox state), start-ups, fan-out, and closing;
- :mod:`~syncmcp._routing`: the qualified tool map, and tool calls with events and retries;
- :mod:`~syncmcp._catalog`: resources, prompts and instructions, across servers or of one (the
  manager's methods for them come from its base class there);
- :mod:`~syncmcp._reconfig` and :mod:`~syncmcp._replace`: adding, removing, replacing and
  reloading servers;
- :mod:`~syncmcp._fallback` and :mod:`~syncmcp._circuit`: fallback servers and circuit breakers;
- :mod:`~syncmcp._health`: health checks, metrics and the notebook table.

Example:
    with MCPManager.from_config() as manager:
        tools = manager.list_all_tools()
        print(manager.call_tool("files__read_text_file", {"path": "notes.txt"}).text)
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _forks, _health, _reconfig, _replace
from ._catalog import CatalogMethods
from ._config import ServerConfig
from ._elicitation import DEFAULT_ELICITATION_TIMEOUT, ElicitationHandler, ElicitationRouter, RequestId
from ._endpoint import ProgressCallback
from ._events import ElicitationRequest, ManagerEvent
from ._managed import ManagedServer, RestartPolicy, Roots, SamplingHandler, Services
from ._reconfig import ServersArg, load_servers, to_configs
from ._remote import login as remote_login
from ._remote import logout as remote_logout
from ._routing import ToolRouter
from ._runtime import Runtime, finalize
from ._sandbox import SandboxState
from ._status import HealthStatus, ReloadResult, ServerMetrics, ServerState, ServerStatus
from ._stdio import DEFAULT_SHUTDOWN_GRACE, DEFAULT_TERMINATE_GRACE
from ._timeout import DEFAULT, Timeout
from ._toolcache import ToolCache, tool_cache_option
from ._toolnames import ToolMap
from ._types import CallToolResult

if TYPE_CHECKING:
    from ._login import Authorizer

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "MCPManager"]

#: Seconds calls in flight on a removed or reconfigured server get to finish before it is closed.
DEFAULT_DRAIN_TIMEOUT = 5.0


# Managers built with after_fork="reconnect", rebuilt in a child right after fork().
_reconnect_after_fork: weakref.WeakSet[MCPManager] = weakref.WeakSet()


def _reconnect_managers_in_child() -> None:
    for manager in list(_reconnect_after_fork):
        manager._reconnect_in_child()


_forks.after_fork_in_child(_reconnect_managers_in_child)


class MCPManager(CatalogMethods):
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
            :class:`~syncmcp.ServerExited`, :class:`~syncmcp.ListChanged`,
            :class:`~syncmcp.FallbackUsed`, :class:`~syncmcp.CircuitOpened` and
            :class:`~syncmcp.CircuitClosed`, called in order on the ``syncmcp-events`` thread.
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
        after_fork: what a process made by ``os.fork()`` gets when it uses a manager it
            inherited. ``"error"`` (the default): :class:`~syncmcp.ForkedProcessError`, since
            the servers belong to the parent and starting copies of all of them in every child
            is a choice to make knowingly. ``"reconnect"``: the child gets servers of its own,
            started on its first use of the manager (gunicorn ``--preload``, ``multiprocessing``
            pools). Either way the parent's servers and calls are untouched.

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
        after_fork: str = "error",
    ) -> None:
        configs = to_configs(servers)
        if tool_name_prefix is not None and not isinstance(tool_name_prefix, str):
            raise TypeError("tool_name_prefix must be a string or None")
        if not elicitation_timeout > 0:
            raise ValueError(f"elicitation_timeout must be positive, got {elicitation_timeout!r}")
        if after_fork not in ("error", "reconnect"):
            raise ValueError(f"after_fork must be 'error' or 'reconnect', got {after_fork!r}")
        self._lazy = lazy
        self._drain = drain_timeout
        self._reloader: Optional[Callable[[], Dict[str, ServerConfig]]] = None
        self._options: Dict[str, Any] = {
            "on_event": on_event, "elicitation_handler": elicitation_handler, "elicitation_timeout": elicitation_timeout,
            "sampling_handler": sampling_handler, "roots": roots, "tool_name_prefix": tool_name_prefix, "tool_cache": tool_cache,
            "restart": restart, "client_info": client_info, "shutdown_grace": shutdown_grace, "terminate_grace": terminate_grace,
        }  # fmt: skip
        self._build(configs, sandbox_state)
        if after_fork == "reconnect":
            _reconnect_after_fork.add(self)
        try:
            self._rt.start_initial(lazy)
        except BaseException:
            self.close()
            raise

    def _build(self, configs: Mapping[str, ServerConfig], sandbox_state: Optional[SandboxState]) -> None:
        """Make the runtime, the tool router and a (not yet started) server for each configuration."""
        options = self._options
        rt = self._rt = Runtime(options["on_event"], options["shutdown_grace"], options["terminate_grace"])
        self._router = ToolRouter(rt, options["tool_name_prefix"])
        if options["elicitation_handler"] is not None or options["on_event"] is not None:
            rt.router = ElicitationRouter(rt.events.emit, options["elicitation_timeout"], options["elicitation_handler"])
        rt.sandbox = (1 if sandbox_state is not None else 0, sandbox_state)
        self._services = Services(
            emit=rt.events.emit,
            submit_start=rt.submit_start,
            submit_background=rt.submit_background,
            restart=options["restart"],
            sandbox=rt.current_sandbox,
            router=rt.router,
            sampling_handler=options["sampling_handler"],
            roots=options["roots"],
            client_info=options["client_info"],
            tool_cache=tool_cache_option(options["tool_cache"]),
            tool_name_prefix=options["tool_name_prefix"],
            shutdown_grace=options["shutdown_grace"],
            terminate_grace=options["terminate_grace"],
            tools_changed=rt.note_tools_changed,
        )
        rt.slots = {name: ManagedServer(name, config, self._services) for name, config in configs.items()}
        self._finalizer = weakref.finalize(self, finalize, rt)

    def _reconnect_in_child(self) -> None:
        """After ``fork()``, in the child: fresh servers of our own, started on first use.

        Runs in the fork hook, so it starts nothing and takes no lock a parent thread may have
        held; the inherited runtime is left to the parent (see :meth:`Runtime.close`).
        """
        inherited = self._rt
        if inherited.closing:
            return
        self._finalizer.detach()
        self._build({name: slot.config for name, slot in inherited.slots.items()}, inherited.sandbox[1])
        self._rt.deferred_start = self._lazy

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
        manager = cls(load_servers(path), **options)
        manager._reloader = lambda: load_servers(path)
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
        return _health.servers_html(self._rt, self._router.tool_map())

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
        return self._rt.wait_for_startup(timeout)

    def restart_server(self, server: str, *, wait: bool = True) -> bool:
        """Restart one server now (also a failed one, resetting its restart count).

        Calls in flight on the old instance fail with :class:`~syncmcp.ConnectionClosed` (a
        configuration change through :meth:`reload` lets them finish first); a call that had not
        been sent yet goes to the new instance.

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
        slot = self._rt.slot(server)
        self._rt.availability.mark_health(server, True, None)
        return self._rt.restart(slot, wait)

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
        slot = self._rt.slot(server)
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
        return remote_logout(server, self._rt.slot(server).config)

    # ------------------------------------------------------------------------------ tools

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
        return self._router.tools(wait)

    def parse_tool_name(self, qualified_name: str) -> Optional[Tuple[str, str]]:
        """``(server, raw tool name)`` of a qualified name, or ``None`` (a lookup, never a split).

        Example:
            manager.parse_tool_name("fs__read_text_file")
            # -> ('fs', 'read_text_file')
        """
        info = self._router.tool_map().get(qualified_name) or self.list_all_tools().get(qualified_name)
        return (info.server, info.tool_name) if info is not None else None

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
        While it is unavailable, a server with ``fallback`` servers has the call answered by the
        first that offers the same tool (see the README's "Fallback servers"); ``result.server``
        names the server that answered.

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
            ServerUnavailableError: the server failed to start or is waiting out a restart backoff
                (or its circuit is open), and no fallback took the call (the message lists
                the fallbacks tried).
            RequestTimeout: no answer in time (the request was cancelled on the server).
            ConnectionClosed: the server died during the call (retried first for idempotent
                tools when ``tool_retries`` allows).

        Example:
            manager.call_tool("time__get_current_time", {"timezone": "UTC"}).structured_content
            # -> {'timezone': 'UTC', 'datetime': '...', 'is_dst': False}
        """
        return self._router.call_named(qualified_name, arguments, timeout, on_progress, meta)

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
        slot = self._rt.slot(server)
        return self._router.call(slot, tool, slot.find_tool(tool), arguments, timeout, on_progress, meta, None)

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
        return self._rt.update_sandbox(state)

    # ------------------------------------------------------------------------------ changing the set

    def add_server(self, name: str, config: Union[ServerConfig, Mapping[str, Any]]) -> None:
        """Add a server (started now unless the manager is lazy or the server disabled).

        Raises:
            ConfigError: an invalid name or configuration, or a name already in use.

        Example:
            memory = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}
            manager.add_server("memory", memory)
        """
        _reconfig.add_server(self._rt, self._services, name, config, lazy=self._lazy)

    def remove_server(self, name: str) -> None:
        """Remove a server: calls in flight get ``drain_timeout`` seconds, then it is stopped.

        Raises:
            UnknownServerError: no such server.

        Example:
            manager.remove_server("memory")
        """
        _reconfig.remove_server(self._rt, name, drain=self._drain)

    def replace_server(self, name: str, config: Union[ServerConfig, Mapping[str, Any]]) -> None:
        """Swap a server for a new configuration without a gap in service.

        The new server starts beside the old one, which takes every call until the new one is
        ready; then new calls go to the new one, calls in flight on the old one get
        ``drain_timeout`` seconds to finish, and the old one is stopped. Qualified tool names
        stay the same when the tools do.

        Raises:
            UnknownServerError: no such server.
            ConfigError: an invalid configuration (nothing is changed).
            StartupError: the new server failed to start; the old one keeps serving.

        Example:
            manager.replace_server("search", {"url": "https://search-v2.example/mcp"})
        """
        _replace.replace_server(self._rt, self._services, name, config, drain=self._drain)

    def reload(self, servers: Union[ServersArg, str, os.PathLike[str]] = None) -> ReloadResult:
        """Apply a new configuration by difference: unchanged servers keep running.

        Args:
            servers: the new ``{name: config}``, or a file to load; without it, the file the
                manager was created from (:meth:`from_config`) is read again.

        A running server whose configuration changed is replaced as by :meth:`replace_server`:
        no gap, and if the new configuration fails to start the running server stays. Such
        replacements start in parallel, and this returns once each is ready or failed.

        Returns:
            What was added, removed, restarted (configuration changed, ``protocol_era``
            included), left alone (still running, and still speaking the era it was found to),
            and kept because the new configuration failed to start (``failed``).

        Raises:
            ConfigError: the new configuration is invalid (nothing is changed then).

        Example:
            manager.reload()
            # -> ReloadResult(added=('memory',), removed=(), restarted=('fs',), unchanged=('time',))
        """
        return _reconfig.reload(self._rt, self._services, servers, self._reloader, lazy=self._lazy, drain=self._drain)

    # ------------------------------------------------------------------------------ observing

    def health_check(self, timeout: float = 5.0) -> Dict[str, HealthStatus]:
        """Ping every ready server in parallel; others are reported with their state, not pinged.

        A server found dead is marked exited (restarted on next use); one that fails otherwise
        is marked down: its fallbacks take its calls until a check finds it well again.

        Example:
            {name: status.ok for name, status in manager.health_check().items()}
            # -> {'fs': True, 'github': False}
        """
        return _health.health_check(self._rt, timeout)

    def metrics(self) -> Dict[str, ServerMetrics]:
        """Calls, errors, retries, restarts, latency percentiles, memory and CPU of every server.

        With fallbacks or a circuit breaker: calls a fallback answered, and the circuit's state.

        Example:
            m = manager.metrics()["fs"]
            m.calls, m.latency_p50, m.rss_bytes // 2**20
            # -> (12, 0.0021, 48)
        """
        return _health.metrics(self._rt)

"""The manager's tools: one map of qualified names over every server, and calls routed through it.

Tools of all servers live in one map keyed by a qualified name (``server__tool``, see
:mod:`syncmcp._toolnames`), in configuration order whatever the order servers finished starting,
rebuilt only when a server's tool list changed. A call is routed by looking its name up, never by
splitting it; an unknown name gets a did-you-mean, a name the filters hide Codex's
``tool '<tool>' is disabled`` text, and a tool of a server that is down that server's error. Each
call is announced by :class:`~syncmcp.ToolCallBegin` / :class:`~syncmcp.ToolCallEnd` events and
recorded in the server's metrics; a call whose server died before answering is retried, after the
restart backoff, only for idempotent tools and only ``tool_retries`` times. A server with
fallbacks or a circuit breaker has its calls routed by :mod:`syncmcp._fallback`, and keeps its
tools listed while it is down and a fallback covers them. Every result names the server that
answered (``result.server``).

Example::

    router = ToolRouter(runtime, prefix=None)
    info = router.resolve("fs__read_text_file")
    result = router.call(runtime.slot(info.server), info.tool_name, info.tool, {"path": "a.txt"},
                         DEFAULT, None, None, "fs__read_text_file")
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from . import _fallback
from ._endpoint import ProgressCallback
from ._events import ToolCallBegin, ToolCallEnd
from ._exceptions import ConnectionClosed, MCPError, SessionClosedError, ToolDisabledError, UnknownToolError
from ._managed import ManagedServer
from ._runtime import Runtime, add_context
from ._timeout import DEFAULT, Timeout
from ._toolnames import ToolGroup, ToolInfo, ToolMap, build_tool_map, qualified_names
from ._types import CallToolResult, Tool, require_arguments_object

__all__ = ["ToolRouter"]

logger = logging.getLogger("syncmcp.manager")


class _Routes(NamedTuple):
    """The tool map as of one ``tools_mark`` and ``slots`` of the runtime, and each name's server."""

    mark: object
    slots: Dict[str, ManagedServer]
    groups: List[ToolGroup]
    tools: Dict[str, ToolInfo]
    routes: Dict[str, Tuple[ToolInfo, ManagedServer]]


class ToolRouter:
    """The qualified tool map of a manager's servers, and tool calls routed by it (thread-safe).

    Args:
        runtime: the manager's servers and pools.
        prefix: the prefix of qualified names (``"mcp"`` for ``mcp__server__tool``), if any.
    """

    def __init__(self, runtime: Runtime, prefix: Optional[str]) -> None:
        self._rt = runtime
        self._prefix = prefix
        self._call_ids = itertools.count(1)
        # Swapped whole, read without a lock: see _routes().
        self._memo: Optional[_Routes] = None
        # server -> (what its covered group was built from, the group): see _covered()
        self._covered: Dict[str, Tuple[Any, Optional[ToolGroup]]] = {}

    def _group(self, slot: ManagedServer) -> Optional[ToolGroup]:
        group = slot.tool_group()
        if group is not None or not slot.config.fallback:
            return group
        return self._covered_group(slot)

    def _covered_group(self, slot: ManagedServer) -> Optional[ToolGroup]:
        """The tools a down server keeps listing because fallbacks cover them, rebuilt on change."""
        basis = (slot.state, slot.known_tools(), tuple(other.tool_snapshot() for other in _fallback.chain(self._rt, slot)))
        held = self._covered.get(slot.name)
        if held is not None and held[0] == basis:
            return held[1]
        group = _fallback.covered_group(self._rt, slot, self._prefix)
        self._covered[slot.name] = (basis, group)
        return group

    def tool_map(self) -> Dict[str, ToolInfo]:
        """The qualified-name map of the tools listed now, rebuilt only when a tool list changed."""
        return self._routes().tools

    def _routes(self) -> _Routes:
        """The tool map and its routes, as of the runtime's current ``tools_mark`` and ``slots``.

        Every call routes through here, so the common case is two identity checks. The mark is
        read before the servers are: a change made while the map is rebuilt leaves a newer mark,
        and the next call rebuilds again.
        """
        rt = self._rt
        mark, slots = rt.tools_mark, rt.slots
        memo = self._memo
        if memo is not None and memo.mark is mark and memo.slots is slots:
            return memo
        groups = []
        for slot in slots.values():
            group = self._group(slot)
            if group is not None:
                groups.append(group)
        # The same group objects make the same map.
        tools = memo.tools if memo is not None and memo.groups == groups else build_tool_map(groups)
        routes = {name: (info, slots[info.server]) for name, info in tools.items()}
        memo = self._memo = _Routes(mark, slots, groups, tools, routes)
        return memo

    def tools(self, wait: bool) -> ToolMap:
        """Every tool under its qualified name; see ``MCPManager.list_all_tools``."""
        self._rt.check_open()
        if wait:
            self._rt.prepare(self._rt.ordered(), need_live=False)
        return ToolMap(self.tool_map())

    def resolve(self, qualified_name: str) -> ToolInfo:
        """The tool a qualified name stands for (listing first if it is not known yet).

        Raises:
            UnknownToolError: no tool by that name (with a did-you-mean).
            ToolDisabledError: the server's filters hide it.
            ServerUnavailableError: its server is down.
        """
        self._rt.check_open()
        info = self.tool_map().get(qualified_name)
        if info is None:
            info = self.tools(wait=True).get(qualified_name)
        if info is not None:
            return info
        covered = _fallback.uncovered_info(self._rt, qualified_name, self._prefix)
        if covered is not None:
            server, raw, tool = covered
            return ToolInfo(server.name, raw, tool, qualified_name)
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
                if slot.config.fallback:  # routed: a fallback may take it, else the error lists them
                    return ToolInfo(slot.name, tool.name, tool, qualified_name)
                raise slot.unavailable_error()
        import difflib

        close = difflib.get_close_matches(qualified_name, list(self.tool_map()), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UnknownToolError(f"unknown tool '{qualified_name}'{hint}")

    def call_named(
        self,
        qualified_name: str,
        arguments: Optional[Mapping[str, Any]],
        timeout: Timeout,
        on_progress: Optional[ProgressCallback],
        meta: Optional[Mapping[str, Any]],
    ) -> CallToolResult:
        """Call a tool by its qualified name; see ``MCPManager.call_tool``."""
        rt = self._rt
        rt.check_open()
        memo = self._memo  # _routes(), its common case written out: every call comes here
        if memo is None or memo.mark is not rt.tools_mark or memo.slots is not rt.slots:
            memo = self._routes()
        route = memo.routes.get(qualified_name)
        if route is None:  # not listed now: resolve() lists, explains, or finds a covered name
            info = self.resolve(qualified_name)
            slot = self._rt.slot(info.server)
            return self.call(slot, info.tool_name, info.tool, arguments, timeout, on_progress, meta, qualified_name)
        info, slot = route  # a listed tool: its server's filters allow it
        if type(arguments) is not dict:
            require_arguments_object(arguments)
        if slot.guarded:
            return self.call(slot, info.tool_name, info.tool, arguments, timeout, on_progress, meta, qualified_name)
        return self._attempt(slot, info.tool_name, info.tool, arguments, timeout, on_progress, meta, qualified_name, True)

    def call(
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
        """Call a tool of one server (or a fallback), with events, metrics and retries; see ``MCPManager.call_tool``."""
        if not slot.filter.allows(tool_name):
            raise ToolDisabledError(f"tool '{tool_name}' is disabled for MCP server '{slot.name}'")
        if type(arguments) is not dict:
            require_arguments_object(arguments)

        def attempt(server: ManagedServer, definition: Optional[Tool], retry: bool) -> CallToolResult:
            return self._attempt(server, tool_name, definition, arguments, timeout, on_progress, meta, qualified_name, retry)

        if slot.guarded:
            return _fallback.route(self._rt, slot, tool_name, tool, arguments, qualified_name, attempt)
        return attempt(slot, tool, True)

    def _attempt(
        self,
        slot: ManagedServer,
        tool_name: str,
        tool: Optional[Tool],
        arguments: Optional[Mapping[str, Any]],
        timeout: Timeout,
        on_progress: Optional[ProgressCallback],
        meta: Optional[Mapping[str, Any]],
        qualified_name: Optional[str],
        retry: bool,
    ) -> CallToolResult:
        """One server's call: events, metrics, and (with ``retry``) retries of idempotent tools."""
        config = slot.config
        limit = config.tool_timeout_sec if timeout is DEFAULT else timeout
        retries: Optional[int] = None if retry else 0  # decided if the server dies during the call
        events = self._rt.events
        observed = events.observed  # nobody listening: no events built (a call costs a few µs less)
        call_id = next(self._call_ids) if observed else 0
        if observed:
            events.emit(
                ToolCallBegin(call_id, slot.name, tool_name, qualified_name, dict(arguments) if arguments is not None else None)
            )
        started = time.monotonic()
        first = slot
        redirects = 3
        try:
            while True:
                try:
                    instance = slot.acquire()
                except SessionClosedError:  # removed or replaced: the replacement, if a reload made one
                    slot, instance = self._rt.acquire_current(slot)
                try:
                    if slot is not first and not slot.filter.allows(tool_name):  # a reload changed the filters
                        raise ToolDisabledError(f"tool '{tool_name}' is disabled for MCP server '{slot.name}'")
                    result: CallToolResult = instance.live_session.call_tool(
                        tool_name, arguments, timeout=limit, on_progress=on_progress, meta=meta
                    )
                except MCPError as exc:
                    slot.release(instance)
                    if isinstance(exc, SessionClosedError) and instance.retired and redirects > 0 and not self._rt.closing:
                        # A restart or reload closed this instance before the call was sent:
                        # nothing ran, so the call goes to the instance that replaced it.
                        redirects -= 1
                        continue
                    if isinstance(exc, ConnectionClosed):
                        slot.report_lost(instance, exc)
                        # The server died before answering: safe to run again only if idempotent.
                        if retries is None:
                            annotations = tool.annotations if tool is not None else None
                            retries = config.tool_retries if config.is_idempotent(tool_name, annotations) else 0
                        wait = slot.restart_wait() if retries > 0 and not self._rt.closing else None
                        if wait is not None and not self._rt.closed.wait(wait):
                            retries -= 1
                            slot.record_retry()
                            logger.info("retrying %s/%s after the server died (%d left): %s", slot.name, tool_name, retries, exc)
                            continue
                    add_context(exc, f"tool call failed for `{slot.name}/{tool_name}`")
                    raise
                except BaseException:
                    slot.release(instance)
                    raise
                break
        except BaseException as exc:
            duration = time.monotonic() - started
            slot.record_call(duration, None, exc)
            if observed:
                events.emit(ToolCallEnd(call_id, slot.name, tool_name, qualified_name, duration, None, exc))
            raise
        try:
            # The session made this result for this call alone: naming the server in place (in the
            # instance dict, as the frozen dataclass's own __setattr__ would) costs far less than a copy.
            result.__dict__["server"] = slot.name
        finally:
            duration = time.monotonic() - started
            slot.release(instance, (duration, result))
        if observed:
            events.emit(ToolCallEnd(call_id, slot.name, tool_name, qualified_name, duration, result, None))
        return result

"""Fallback servers: where a call to an unavailable server's tool goes instead, and when it may.

A server's ``fallback = ["b", "c"]`` names other configured servers (and, through theirs, their
fallbacks: depth first, each once). A call to one of its tools goes to the first of them that
offers a tool of the same raw name (after that server's own filters), whose input schema accepts
the arguments, and that takes the call, when the server itself is unavailable:

- its start-up failed, or it is ``disabled``;
- it crashed and is restarting, or waiting out its restart backoff (a restart is then begun in
  the background when the backoff allows, so calls come back to it once it is ready);
- the last health check found it down (until a health check finds it well again);
- its circuit is open (see :mod:`syncmcp._circuit`).

A server that has never been ready and is starting (or, lazily, not started yet) is waited for
as usual: there is nothing yet to fall back from. When no fallback takes the call, a server
skipped for its state (not for an open circuit) is tried last, as it would be without fallbacks.

Replay rules: a call refused before it was sent (the server unavailable, or its instance closed
first) may always go on to a fallback. A call whose connection broke after the request was
written may have run: it goes to a fallback only if the tool is idempotent (its
``idempotentHint`` annotation, or the primary's ``idempotent_tools``), the rule that governs
retries. A call that got an answer, error results included, or that timed out, never does.

Every call that skips or loses the primary emits :class:`~syncmcp.FallbackUsed` before going to
a fallback, and is counted in both servers' metrics. Nothing here holds a lock across a call.

Example::

    result = route(runtime, primary, "query", tool, {"q": "x"}, "search__query", attempt)
    result.server
    # -> 'search_backup'
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from ._events import FallbackUsed, ManagerEvent
from ._exceptions import (
    ConnectionClosed,
    RemoteError,
    RequestTimeout,
    ServerUnavailableError,
    SessionClosedError,
    TransportError,
)
from ._managed import ManagedServer
from ._runtime import Runtime
from ._status import ServerState
from ._toolnames import ToolGroup, qualified_names
from ._types import CallToolResult, Tool
from ._validation import SchemaValidators

__all__ = ["Attempt", "chain", "covered_group", "route", "uncovered_info"]

#: ``attempt(server, tool definition, may retry on the same server) -> result``: one call, with
#: the router's events, metrics and (when allowed) same-server retries.
Attempt = Callable[[ManagedServer, Optional[Tool], bool], CallToolResult]

#: States in which a server cannot take a call and will not by itself become able to.
_DOWN_STATES = (ServerState.FAILED, ServerState.DISABLED, ServerState.CANCELLED)

_validators = SchemaValidators()


def chain(runtime: Runtime, primary: ManagedServer) -> List[ManagedServer]:
    """The fallbacks of ``primary`` in the order they are tried (depth first, each once)."""
    seen = {primary.name}
    order: List[ManagedServer] = []

    def visit(server: ManagedServer) -> None:
        for name in server.config.fallback:
            other = runtime.slots.get(name)
            if name in seen or other is None:
                continue
            seen.add(name)
            order.append(other)
            visit(other)

    visit(primary)
    return order


def _skip_reason(runtime: Runtime, server: ManagedServer) -> Optional[str]:
    """Why ``server`` should not be asked first now (``None``: ask it). Never waits."""
    down = runtime.availability.down(server.name)
    if down is not None:
        return f"health check failed: {down}"
    state = server.state
    if state in _DOWN_STATES:
        return state.value
    if state is ServerState.EXITED:
        server.restart_soon()
        return "exited, restarting"
    if state is ServerState.STARTING and server.ever_ready:
        return "restarting"
    return None


def _offered(server: ManagedServer, tool_name: str) -> Tuple[Optional[Tool], str]:
    """``(the server's definition of the tool, "")``, or ``(None, why not)``."""
    if server.state in _DOWN_STATES:
        return None, server.state.value
    if not server.known_tools() and server.state in (ServerState.PENDING, ServerState.STARTING):
        server.wait_ready(server.config.startup_timeout_sec)
    tool = server.find_tool(tool_name)
    if tool is None:
        return None, f"no tool '{tool_name}'" if server.known_tools() else f"{server.state.value}, no tools known"
    if not server.filter.allows(tool_name):
        return None, f"tool '{tool_name}' is disabled"
    return tool, ""


def _accepts(tool: Tool, arguments: Optional[Mapping[str, Any]]) -> bool:
    schema = tool.input_schema
    if not schema:
        return True
    return _validators.get(schema).is_valid(dict(arguments) if arguments is not None else {})


def _verdict(error: BaseException) -> Optional[bool]:
    """For the circuit: ``False`` the server could not answer, ``True`` it answered, ``None`` neither."""
    if isinstance(error, (TransportError, RequestTimeout)):
        return False
    if isinstance(error, RemoteError):
        return True
    return None


def _may_move_on(error: BaseException, server: ManagedServer, tool_name: str, tool: Optional[Tool]) -> bool:
    """Whether a call that failed on ``server`` may go to another (the replay rules above)."""
    if isinstance(error, (ServerUnavailableError, SessionClosedError)):
        return True  # refused before anything was sent
    if isinstance(error, ConnectionClosed):  # the request may have been written and run
        return server.config.is_idempotent(tool_name, tool.annotations if tool is not None else None)
    return False


def _first_line(error: BaseException) -> str:
    return str(error).split("\n", 1)[0]


class _Try:
    """One server's turn: admission by its circuit, the attempt, and the verdict recorded."""

    def __init__(self, runtime: Runtime, attempt: Attempt) -> None:
        self.runtime = runtime
        self.attempt = attempt

    def __call__(self, server: ManagedServer, tool: Optional[Tool], retry: bool) -> CallToolResult:
        availability = self.runtime.availability
        admitted = availability.admit(server.name, server.config)
        if admitted is None:
            raise _CircuitOpen(server)
        events: List[ManagerEvent] = []
        try:
            result = self.attempt(server, tool, retry)
        except BaseException as exc:
            events = availability.record(server.name, server.config, _verdict(exc), admitted)
            raise
        else:
            events = availability.record(server.name, server.config, True, admitted)
            return result
        finally:
            for event in events:
                self.runtime.events.emit(event)


class _CircuitOpen(Exception):
    """A server's circuit refused a call (nothing was sent)."""

    def __init__(self, server: ManagedServer) -> None:
        super().__init__(
            f"failed to get client: MCP server '{server.name}' is skipped: its circuit is open after "
            f"{server.config.circuit_failures} failed calls in a row"
        )
        self.server = server


def route(
    runtime: Runtime,
    primary: ManagedServer,
    tool_name: str,
    tool: Optional[Tool],
    arguments: Optional[Mapping[str, Any]],
    qualified_name: Optional[str],
    attempt: Attempt,
) -> CallToolResult:
    """Call ``tool_name`` on ``primary``, or on a fallback when it is unavailable (module docs).

    Raises:
        ServerUnavailableError: neither the primary nor a fallback took the call; the message
            is the primary's (Codex's ``failed to get client: ...``) plus the fallbacks tried.
        ConnectionClosed: the primary died with the call sent, and the tool is not idempotent.
        Exception: whatever the server that took the call raised.
    """
    turn = _Try(runtime, attempt)
    fallbacks = chain(runtime, primary)
    reason = _skip_reason(runtime, primary)
    last_resort = reason is not None
    primary_error: Optional[BaseException] = None
    if reason is None:
        try:
            return turn(primary, tool, not fallbacks)
        except _CircuitOpen as exc:
            reason, primary_error = "circuit open", exc
        except BaseException as exc:
            if runtime.closing or not fallbacks or not _may_move_on(exc, primary, tool_name, tool):
                raise
            reason, primary_error = _first_line(exc), exc
    tried: List[str] = []
    for server in fallbacks:
        if runtime.closing:
            break
        why = _skip_reason(runtime, server)
        definition: Optional[Tool] = None
        if why is None or why.startswith(("exited", "restarting")):
            definition, why = _offered(server, tool_name)
        if definition is not None and not _accepts(definition, arguments):
            definition, why = None, "the arguments do not match its input schema"
        if definition is None:
            tried.append(f"{server.name} ({why})")
            continue
        runtime.events.emit(FallbackUsed(primary.name, server.name, tool_name, qualified_name, reason))
        try:
            result = turn(server, definition, False)
        except BaseException as exc:
            movable = isinstance(exc, _CircuitOpen) or _may_move_on(exc, server, tool_name, definition)
            if runtime.closing or not movable:
                raise
            tried.append(f"{server.name} ({_first_line(exc)})")
            continue
        runtime.availability.served(primary.name, server.name)
        return result
    note = f"fallbacks tried: {', '.join(tried)}" if tried else "no fallback configured"
    if last_resort and not runtime.closing:
        try:
            return turn(primary, tool, True)
        except _CircuitOpen as exc:
            primary_error = exc
        except BaseException as exc:
            _append(exc, note)
            raise
    error = primary_error if primary_error is not None else primary.unavailable_error()
    if isinstance(error, _CircuitOpen):
        unavailable = ServerUnavailableError(f"{error}\n{note}", server=primary.name)
        raise unavailable from None
    _append(error, note)
    raise error


def _append(error: BaseException, note: str) -> None:
    """Add a line to an error's message in place (it keeps its type and attributes)."""
    if len(error.args) == 1 and isinstance(error.args[0], str) and note not in error.args[0]:
        error.args = (f"{error.args[0]}\n{note}",)


def covered_group(runtime: Runtime, server: ManagedServer, prefix: Optional[str]) -> Optional[ToolGroup]:
    """The tools of a server that is down but covered, listed under its own names (``None``: none).

    A server with fallbacks whose tool list would drop out of ``list_all_tools`` keeps it: while
    it restarts, every tool it last listed; when it failed (or was disabled) after having listed
    tools, those some fallback offers. The model's tool list does not flicker meanwhile.
    """
    restarting = server.state is ServerState.STARTING and server.ever_ready
    if not server.config.fallback or not (restarting or server.state in _DOWN_STATES):
        return None
    known = server.known_tools()
    if not known:
        return None
    if restarting:  # it lists them again in a moment: keep them all, the fallbacks answer meanwhile
        return ToolGroup(server.name, [tool for tool in known if server.filter.allows(tool.name)], prefix)
    offered: Set[str] = set()
    for other in chain(runtime, server):
        snapshot = other.tool_snapshot()
        offered.update(tool.name for tool in snapshot or () if other.filter.allows(tool.name))
    covered = [tool for tool in known if tool.name in offered and server.filter.allows(tool.name)]
    return ToolGroup(server.name, covered, prefix) if covered else None


def uncovered_info(runtime: Runtime, qualified_name: str, prefix: Optional[str]) -> Optional[Tuple[ManagedServer, str, Tool]]:
    """A qualified name of a server that never listed tools, for a tool one of its fallbacks offers.

    ``(server, raw tool name, the fallback's definition)``, or ``None``. A lookup over the names
    those servers would give the fallbacks' tools, never a split of the name.
    """
    for server in runtime.ordered():
        if not server.config.fallback or server.known_tools():
            continue
        candidates: Dict[str, Tool] = {}
        for other in chain(runtime, server):
            for tool in other.tool_snapshot() or ():
                if other.filter.allows(tool.name) and server.filter.allows(tool.name):
                    candidates.setdefault(tool.name, tool)
        pairs = [(server.name, name) for name in candidates]
        for name, (_, raw) in zip(qualified_names(pairs, prefix=prefix), pairs):
            if name == qualified_name:
                return server, raw, candidates[raw]
    return None

"""Commands that start servers: ``tools``, ``call``, ``resources``, ``read``, ``prompts``, ``prompt``.

Each command starts only the servers it needs, all at once, through an :class:`~syncmcp.MCPManager`
(``call`` starts the servers whose name the qualified tool name begins with; naming is decided by
those servers alone, so the name is the one ``tools`` shows). Start-ups are shown on a terminal;
a server that fails is the command's error when the command needs it, a warning (and exit status
3 at the end) when the command lists several servers. Servers that ask the user a question
(elicitation) get ``cancel``: the command line does not ask.

Example:
    $ syncmcp call workspace__read_file --arg path=README.md
"""

from __future__ import annotations

import functools
import json
import math
import sys
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar

from .._config import MAX_TIMEOUT_SEC, ServerConfig
from .._exceptions import MCPError
from .._status import Page, ServerState
from .._toolnames import MAX_TOOL_NAME_LENGTH, TOOL_NAME_DELIMITER
from .._validation import json_type
from ._context import Context
from ._exits import EXIT_OK, EXIT_SERVER, EXIT_TIMEOUT, EXIT_TOOL_ERROR, EXIT_USAGE, CLIError, exit_status
from ._output import (
    first_line,
    jsonable_tool,
    render_call_result,
    render_prompt_result,
    render_read_result,
    table,
    terminal_text,
    tool_lines,
    write_json,
)
from ._progress import StartupWatch

__all__ = [
    "ServerRun",
    "parse_tool_arguments",
    "run_call",
    "run_prompt",
    "run_prompts",
    "run_read",
    "run_resources",
    "run_tools",
]

T = TypeVar("T")

#: Most pages a listing follows (a server handing out cursors forever is cut off here).
_MAX_PAGES = 1000
#: Hex digits of the hash that ends an over-long qualified tool name.
_SHA1_HEX_LENGTH = 40
#: Beyond the start-up deadlines, how long to wait for the start-up events to be delivered.
_EVENT_GRACE = 5.0


class ServerRun:
    """The servers one command needs, started in parallel, with progress and failure reports.

    Example:
        with ServerRun(ctx, ctx.select("time")) as run:
            run.require("time")
            run.manager.call_tool("time__get_current_time", {"timezone": "UTC"})
    """

    def __init__(self, ctx: Context, configs: Mapping[str, ServerConfig]) -> None:
        from .._manager import MCPManager

        self.ctx = ctx
        self.watch = StartupWatch()
        self.names = list(configs)
        self.manager = MCPManager(dict(configs), on_event=self._on_event, elicitation_handler=self._elicitation)

    def __enter__(self) -> ServerRun:
        try:
            self.manager.wait_for_startup()
            finished = [
                name
                for name, status in self.manager.startup_status().items()
                if status.state in (ServerState.READY, ServerState.FAILED, ServerState.CANCELLED)
            ]
            self.watch.wait(finished, _EVENT_GRACE)
        except BaseException:
            with self.ctx.interrupts.deferred():
                self.manager.close()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        with self.ctx.interrupts.deferred():  # a Ctrl-C now must not leave servers running
            self.manager.close()

    def _on_event(self, event: Any) -> None:
        self.ctx.progress.on_event(event)
        self.watch.on_event(event)

    def _elicitation(self, server: str, request_id: Any, params: Dict[str, Any]) -> Dict[str, Any]:
        message = first_line(params.get("message")) if isinstance(params.get("message"), str) else ""
        self.ctx.warn(
            f"MCP server '{server}' asked for input ({message or 'no message'}); cancelled: the command line does not ask"
        )
        return {"action": "cancel"}

    def failure(self, server: str) -> Optional[CLIError]:
        """The error for a server whose start-up failed (exit status 4 for a timeout, else 3)."""
        found = self.watch.failure(server)
        if found is None:
            status = self.manager.startup_status().get(server)
            if status is None or status.state not in (ServerState.FAILED, ServerState.CANCELLED):
                return None
            found = (status.error or f"MCP server '{server}' did not start ({status.state.value})", None)
        text, error = found
        code = exit_status(error) if error is not None else EXIT_SERVER
        return CLIError(text, code if code in (EXIT_TIMEOUT, EXIT_SERVER) else EXIT_SERVER)

    def require(self, server: str) -> None:
        """Raise the start-up failure of ``server``, if it failed."""
        error = self.failure(server)
        if error is not None:
            raise error

    def warn_failures(self) -> int:
        """Warn about every failed server; the exit status they call for (0 if none failed)."""
        worst = EXIT_OK
        for name in self.names:
            error = self.failure(name)
            if error is not None:
                self.ctx.warn(str(error))
                worst = max(worst, error.status)
        return worst

    def ready(self) -> List[str]:
        """The servers that are ready, in configuration order."""
        return [name for name, status in self.manager.startup_status().items() if status.state is ServerState.READY]


# ----------------------------------------------------------------------------- arguments


def _accepts(types: Sequence[str], value: Any) -> bool:
    kind = json_type(value)
    return kind in types or (kind == "integer" and "number" in types)


class _NonFinite(ValueError):
    """A number JSON cannot carry: ``NaN``, ``Infinity``, or one too large for a float."""


def _refuse_constant(name: str) -> Any:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _strict_json(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and numbers beyond a float's range.

    Python's reader accepts them, but they are not JSON: the request could not be written, or a
    server would choke on it.

    Raises:
        json.JSONDecodeError: the text is not JSON.
        ValueError: it holds such a number (the message is the number as written).

    Example:
        >>> _strict_json('{"a": 1.5}')
        {'a': 1.5}
        >>> _strict_json('[NaN]')
        Traceback (most recent call last):
        ...
        syncmcp.cli._use._NonFinite: NaN
    """
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


_NON_FINITE = "is not a finite number (JSON has no NaN or Infinity)"


def _json_object(text: str) -> Dict[str, Any]:
    try:
        value = _strict_json(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"tool arguments are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except _NonFinite as exc:
        raise CLIError(f"tool arguments are not valid JSON: {exc} {_NON_FINITE}") from None
    if not isinstance(value, dict):
        raise CLIError(f"tool arguments must be a JSON object, got {json_type(value)}")
    return value


def _split_pair(pair: str) -> Tuple[str, str]:
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise CLIError(f"--arg takes key=value, got {pair!r}")
    return key, raw


def _check_tool_arguments(text: Optional[str], pairs: Sequence[str]) -> None:
    """The checks of :func:`parse_tool_arguments` that need no schema, before any server starts.

    Raises:
        CLIError: the text is not a JSON object, or a pair has no ``=``.

    Example:
        >>> _check_tool_arguments('{"a": 1}', ["b=NaN"])  # b may be a string parameter: decided later
    """
    if text is not None:
        _json_object(text)
    for pair in pairs:
        _split_pair(pair)


def parse_tool_arguments(
    text: Optional[str], pairs: Sequence[str], schema: Optional[Mapping[str, Any]] = None, stdin: Any = None
) -> Dict[str, Any]:
    """Tool arguments from a JSON object (``-`` reads stdin) and ``--arg key=value`` options.

    A value is read as JSON when it parses (``depth=2`` is a number, ``tags=["a"]`` a list) and
    is a string otherwise; when the tool's schema says the parameter is a string and the JSON
    reading is not one, the text is kept (``--arg name=true`` for a string parameter is
    ``"true"``). ``--arg`` options win over the object's keys. ``NaN``, ``Infinity`` and numbers
    beyond a float's range are not JSON: an error, except as the text of a string parameter.

    Raises:
        CLIError: the text is not JSON, or not an object; a pair has no ``=``; a value holds a
            number that is not finite.

    Example:
        >>> parse_tool_arguments('{"a": 1}', ["b=2", "c=x", "d=true"], {"properties": {"d": {"type": "string"}}})
        {'a': 1, 'b': 2, 'c': 'x', 'd': 'true'}
    """
    arguments: Dict[str, Any] = {}
    if text is not None:
        arguments.update(_json_object((stdin or sys.stdin).read() if text == "-" else text))
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    for pair in pairs:
        key, raw = _split_pair(pair)
        spec = properties.get(key) if isinstance(properties, Mapping) else None
        declared = spec.get("type") if isinstance(spec, Mapping) else None
        types = [declared] if isinstance(declared, str) else declared if isinstance(declared, list) else None
        try:
            value = _strict_json(raw)
        except _NonFinite as exc:
            if not types or "string" not in types:
                raise CLIError(
                    f"--arg {key}: {exc} {_NON_FINITE}; to pass it as text, write a JSON string: {key}='\"{raw}\"'"
                ) from None
            value = raw
        except ValueError:
            value = raw
        if types and not isinstance(value, str) and "string" in types and not _accepts(types, value):
            value = raw
        arguments[key] = value
    return arguments


def _may_own(server: str, qualified_name: str) -> bool:
    """Whether ``server`` may list a tool of that qualified name (so it must be started).

    A qualified name starts with ``SERVER__``, except an over-long one, cut to its first 24
    characters plus a 40-character hash (see :mod:`syncmcp._toolnames`).
    """
    head = f"{server}{TOOL_NAME_DELIMITER}"
    if qualified_name.startswith(head):
        return True
    kept = MAX_TOOL_NAME_LENGTH - _SHA1_HEX_LENGTH
    return len(head) > kept and len(qualified_name) == MAX_TOOL_NAME_LENGTH and qualified_name.startswith(head[:kept])


def _pages(fetch: Callable[[Optional[str]], Page[T]]) -> Iterator[T]:
    cursor: Optional[str] = None
    seen = set()
    for _ in range(_MAX_PAGES):
        page = fetch(cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None or cursor in seen:
            return
        seen.add(cursor)


def _timeout(seconds: Optional[float]) -> Any:
    from .._session import DEFAULT

    if seconds is None:
        return DEFAULT
    return None if seconds == 0 else seconds


# ----------------------------------------------------------------------------- commands


def run_tools(ctx: Context, server: Optional[str], *, long: bool = False) -> int:
    """``syncmcp tools [SERVER] [--long] [--json]``."""
    with ServerRun(ctx, ctx.select(server)) as run:
        if server is not None:
            run.require(server)
            status = EXIT_OK
        else:
            status = run.warn_failures()
        tools = list(run.manager.list_all_tools().values())
    if ctx.json:
        write_json([jsonable_tool(info) for info in tools], ctx.out)
    else:
        for line in tool_lines(tools, long=long, width=ctx.terminal_width()):
            ctx.write(line)
        if not tools:
            ctx.progress.line("no tools")
    return status


def run_call(ctx: Context, name: str, text: Optional[str], pairs: Sequence[str], *, timeout: Optional[float] = None) -> int:
    """``syncmcp call QUALIFIED_TOOL [JSON | -] [--arg key=value]... [--timeout S] [--json]``."""
    if timeout is not None and not (math.isfinite(timeout) and 0 <= timeout <= MAX_TIMEOUT_SEC):
        raise CLIError(f"--timeout must be a number of seconds from 0 to {MAX_TIMEOUT_SEC:g} (0: no limit), got {timeout:g}")
    source = ctx.source()
    candidates = [server for server in source.servers if _may_own(server, name)]
    if not candidates:
        known = ", ".join(source.servers) or "none"
        raise CLIError(
            f"unknown tool '{name}': qualified names are SERVER__TOOL, and no configured server matches (servers: {known})"
        )
    enabled = {server: source.servers[server] for server in candidates if source.servers[server].enabled}
    if not enabled:
        raise CLIError(f"MCP server '{candidates[0]}' is disabled (enabled = false in {source.label})")
    body = sys.stdin.read() if text == "-" else text
    _check_tool_arguments(body, pairs)  # bad JSON is a usage error before any server starts
    with ServerRun(ctx, enabled) as run:
        info = run.manager.list_all_tools().get(name)
        if info is None:
            for server in enabled:
                run.require(server)
        schema = info.input_schema if info is not None else None
        arguments = parse_tool_arguments(body, pairs, schema)
        on_progress = ctx.progress.tool_progress(name) if ctx.progress.enabled else None
        try:
            result = run.manager.call_tool(name, arguments, timeout=_timeout(timeout), on_progress=on_progress)
        finally:
            ctx.progress.clear()
    if ctx.json:
        write_json(result.raw, ctx.out)
    else:
        ctx.write_text(render_call_result(result))
    if result.is_error:
        ctx.err.write(f"syncmcp: tool {terminal_text(name)} reported an error\n")
        return EXIT_TOOL_ERROR
    return EXIT_OK


def _listing_error(server: str, kind: str, error: BaseException) -> CLIError:
    """A listing's failure with its exit status, the same for every listing command.

    4 for a timeout, 2 for a request the server refused as invalid, else 3.
    """
    status = exit_status(error)
    return CLIError(
        f"Failed to list {kind} for MCP server '{server}': {error}",
        status if status in (EXIT_TIMEOUT, EXIT_USAGE) else EXIT_SERVER,
    )


def _listing_failed(ctx: Context, server: str, kind: str, error: BaseException) -> int:
    """Warn about a listing that failed on one of several servers; the exit status it calls for."""
    failure = _listing_error(server, kind, error)
    ctx.warn(str(failure))
    return failure.status


def run_resources(ctx: Context, server: Optional[str]) -> int:
    """``syncmcp resources [SERVER] [--json]``: resources and resource templates."""
    resources: List[Tuple[str, Any]] = []
    templates: List[Tuple[str, Any]] = []
    with ServerRun(ctx, ctx.select(server)) as run:
        if server is not None:
            run.require(server)
        status = run.warn_failures() if server is None else EXIT_OK
        for name in run.ready():
            try:
                resources += [(name, item) for item in _pages(functools.partial(run.manager.list_resources, name))]
                templates += [(name, item) for item in _pages(functools.partial(run.manager.list_resource_templates, name))]
            except MCPError as exc:
                if server is not None:
                    raise _listing_error(name, "resources", exc) from exc
                status = max(status, _listing_failed(ctx, name, "resources", exc))
    if ctx.json:
        write_json(
            {
                "resources": [{"server": name, **item.raw} for name, item in resources],
                "resourceTemplates": [{"server": name, **item.raw} for name, item in templates],
            },
            ctx.out,
        )
        return status
    lines: List[str] = []
    if resources:
        lines += table(
            ["Server", "Uri", "Name", "Mime Type"],
            [[name, item.uri, item.name, item.mime_type or "-"] for name, item in resources],
        )
    if templates:
        if lines:
            lines.append("")
        lines += table(
            ["Server", "Uri Template", "Name", "Description"],
            [[name, item.uri_template, item.name, first_line(item.description) or "-"] for name, item in templates],
        )
    for line in lines:
        ctx.write(line)
    if not lines:
        ctx.progress.line("no resources")
    return status


def run_read(ctx: Context, server: str, uri: str) -> int:
    """``syncmcp read SERVER URI [--json]``."""
    with ServerRun(ctx, ctx.select(server)) as run:
        run.require(server)
        result = run.manager.read_resource(server, uri)
    if ctx.json:
        write_json(result.raw, ctx.out)
    else:
        ctx.write_text(render_read_result(result))
    return EXIT_OK


def run_prompts(ctx: Context, server: Optional[str]) -> int:
    """``syncmcp prompts [SERVER] [--json]``."""
    with ServerRun(ctx, ctx.select(server)) as run:
        if server is not None:
            run.require(server)
        status = run.warn_failures() if server is None else EXIT_OK
        errors: Dict[str, BaseException] = {}
        prompts = run.manager.list_all_prompts(errors=errors)
    for name, error in errors.items():
        if server is not None:
            raise _listing_error(name, "prompts", error) from error
        status = max(status, _listing_failed(ctx, name, "prompts", error))
    rows = [(name, prompt) for name, items in prompts.items() for prompt in items]
    if ctx.json:
        write_json([{"server": name, **prompt.raw} for name, prompt in rows], ctx.out)
        return status
    if rows:
        for line in table(
            ["Server", "Name", "Arguments", "Description"],
            [
                [
                    name,
                    prompt.name,
                    ", ".join(arg.name if arg.required else f"{arg.name}?" for arg in prompt.arguments) or "-",
                    first_line(prompt.description) or "-",
                ]
                for name, prompt in rows
            ],
        ):
            ctx.write(line)
    else:
        ctx.progress.line("no prompts")
    return status


def run_prompt(ctx: Context, server: str, name: str, pairs: Sequence[str]) -> int:
    """``syncmcp prompt SERVER NAME [--arg key=value]... [--json]`` (prompt arguments are strings)."""
    arguments: Dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"--arg takes key=value, got {pair!r}")
        arguments[key] = value
    with ServerRun(ctx, ctx.select(server)) as run:
        run.require(server)
        result = run.manager.get_prompt(server, name, arguments or None)
    if ctx.json:
        write_json(result.raw, ctx.out)
    else:
        ctx.write_text(render_prompt_result(result))
    return EXIT_OK

"""``syncmcp doctor [NAME ...]``: start each server and report how healthy it is.

Every server (the named ones, or all enabled ones) is checked in parallel on its own session,
outside any manager, so the numbers are the server's own: spawn + handshake time, protocol
revision and era, server name and version, declared capabilities, tool / resource / template /
prompt counts, ping latency, the last lines of its stderr, and hints: Codex's start-up error
texts for a failure (timeouts suggest ``startup_timeout_sec``, missing ``env_vars`` are named)
and warnings for a slow start or a listing that failed. A server is unhealthy when it does not
start, its handshake fails, or it cannot list the tools it declares; the exit status is then 3.
A server with ``fallback`` servers (checked too) is reported with its coverage: which of its
tools each fallback offers (after both servers' filters), or, when it failed itself, how many
tools each fallback would answer in its place.

Example:
    $ syncmcp doctor time
    time: ok
      command:      uvx mcp-server-time
      ...
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Sized, Tuple

from .._config import ServerConfig
from .._toolnames import ToolFilter

if TYPE_CHECKING:
    from .._session import ClientSession
from ._context import Context, unknown_server
from ._exits import EXIT_OK, EXIT_SERVER
from ._output import write_json

__all__ = ["DoctorReport", "check_server", "run_doctor"]

#: A start-up that used more than this share of ``startup_timeout_sec`` gets a hint.
_SLOW_SHARE = 0.5
#: Seconds a ping may take.
_PING_TIMEOUT = 5.0
#: Lines of stderr shown in text mode.
_STDERR_LINES = 10


@dataclass
class DoctorReport:
    """What ``doctor`` found out about one server.

    Example:
        >>> DoctorReport("fs", "npx fs", "stdio", status="failed", error="boom").healthy
        False
    """

    name: str
    command: str
    transport: str
    status: str = "ok"  # ok | failed | disabled
    handshake_seconds: Optional[float] = None
    protocol_version: Optional[str] = None
    era: Optional[str] = None
    server_name: Optional[str] = None
    server_version: Optional[str] = None
    capabilities: Dict[str, Any] = field(default_factory=dict)
    tools: Optional[int] = None
    resources: Optional[int] = None
    resource_templates: Optional[int] = None
    prompts: Optional[int] = None
    ping_seconds: Optional[float] = None
    instructions: bool = False
    error: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    stderr_tail: str = ""
    auth: Optional[str] = None  # HTTP servers: unsupported | not_logged_in | bearer_token | oauth
    tool_names: List[str] = field(default_factory=list)  # after the server's filters
    fallback: Dict[str, Optional[List[str]]] = field(default_factory=dict)  # name -> tools it covers (None: failed)

    @property
    def healthy(self) -> bool:
        """Whether the server started and answered what it declared (disabled servers count as healthy)."""
        return self.status != "failed"


def _capability_text(capabilities: Dict[str, Any]) -> str:
    parts = []
    for name in sorted(capabilities):
        value = capabilities[name]
        flags = sorted(key for key, flag in value.items() if flag not in (False, None)) if isinstance(value, dict) else []
        parts.append(f"{name} ({', '.join(flags)})" if flags else name)
    return ", ".join(parts) or "none"


def check_server(name: str, config: ServerConfig, sessions: Optional[Callable[[Any], None]] = None) -> DoctorReport:
    """Start one server on its own session, query it, close it; never raises for the server's faults.

    Args:
        name: the server's name.
        config: its configuration.
        sessions: called with the session before it starts (so an interrupt can close it).

    Example:
        report = check_server("time", ServerConfig(command="uvx", args=["mcp-server-time"]))
        report.healthy, report.tools
        # -> (True, 2)
    """
    from .._exceptions import AuthenticationRequired, ConfigError
    from .._session import ClientSession
    from .._startup import startup_error_display
    from .._stdio import StdioTransport

    report = DoctorReport(name, config.display_command, config.transport)
    if not config.enabled:
        report.status = "disabled"
        return report
    transport: Any
    if config.command is not None:
        transport = StdioTransport(
            config.command, config.args, env=dict(config.env), env_vars=config.env_vars, cwd=config.cwd, name=name
        )
    else:
        from .._remote import auth_status, http_transport

        report.auth = auth_status(config)
        try:
            transport = http_transport(name, config)
        except (ConfigError, ValueError) as exc:
            report.status = "failed"
            report.error = startup_error_display(name, config, exc)
            return report
    session = ClientSession(transport, name=name, timeout=config.tool_timeout_sec, protocol_era=config.protocol_era)
    if sessions is not None:
        sessions(session)
    stdio = isinstance(transport, StdioTransport)
    try:
        started = time.monotonic()
        try:
            session.initialize(timeout=config.startup_timeout_sec)
        except Exception as exc:
            report.status = "failed"
            if isinstance(exc, AuthenticationRequired) and report.auth in ("unknown", "oauth"):
                report.auth = "not_logged_in"
            report.error = startup_error_display(
                name,
                config,
                exc,
                stderr_tail=transport.stderr_tail() if stdio else "",
                missing_env_vars=transport.missing_env_vars if stdio else (),
            )
            return report
        report.handshake_seconds = time.monotonic() - started
        if not stdio:
            report.transport = "sse" if transport.uses_sse else "streamable_http"
            if report.auth == "unknown":
                report.auth = "unsupported"  # it answered without credentials
        _inspect(session, config, report)
        if stdio and transport.missing_env_vars:
            report.warnings.append(f"not set in this environment (listed in env_vars): {', '.join(transport.missing_env_vars)}")
    finally:
        session.close()
        if stdio:
            report.stderr_tail = transport.stderr_tail()
    return report


def _inspect(session: ClientSession, config: ServerConfig, report: DoctorReport) -> None:
    report.protocol_version = session.protocol_version
    report.era = session.era
    report.server_name = session.server_info.name
    report.server_version = session.server_info.version
    report.capabilities = dict(session.server_capabilities)
    report.instructions = bool((session.instructions or "").strip())
    used = report.handshake_seconds or 0.0
    if used > _SLOW_SHARE * config.startup_timeout_sec:
        report.warnings.append(
            f"start-up took {used:.1f} s of the {config.startup_timeout_sec:g} s allowed; consider raising startup_timeout_sec"
        )
    listings: Tuple[Tuple[str, str, Callable[..., Sized], bool], ...] = (
        ("tools", "tools", session.list_tools, True),
        ("resources", "resources", session.list_resources, False),
        ("resource_templates", "resources", session.list_resource_templates, False),
        ("prompts", "prompts", session.list_prompts, False),
    )
    for attribute, capability, fetch, vital in listings:
        if capability not in report.capabilities:
            continue
        try:
            items = fetch(timeout=config.tool_timeout_sec)
            setattr(report, attribute, len(items))
            if attribute == "tools":
                allowed = ToolFilter.from_lists(config.enabled_tools, config.disabled_tools)
                report.tool_names = [tool.name for tool in items if allowed.allows(tool.name)]  # type: ignore[attr-defined]
        except Exception as exc:
            problem = f"{attribute.replace('_', ' ')} could not be listed: {exc}"
            if vital:
                report.status = "failed"
                report.error = problem
            else:
                report.warnings.append(problem)
    started = time.monotonic()
    try:
        session.ping(timeout=_PING_TIMEOUT)
        report.ping_seconds = time.monotonic() - started
    except Exception as exc:
        report.warnings.append(f"ping failed: {exc}")


def _seconds(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 0.1 else f"{value:.2f} s"


def _text(report: DoctorReport) -> List[str]:
    if report.status == "disabled":
        return [f"{report.name}: disabled (enabled = false)"]
    label = "command:" if report.transport == "stdio" else "url:     "
    lines = [f"{report.name}: {'ok' if report.healthy else 'FAILED'}", f"  {label}     {report.command}"]
    if report.transport != "stdio":
        lines.append(f"  transport:    {report.transport}")
        auth = _AUTH_TEXT.get(report.auth or "unknown", report.auth or "unknown")
        lines.append(f"  auth:         {auth.replace('NAME', report.name)}")
    if report.server_name is not None:
        lines += [
            f"  server:       {report.server_name} {report.server_version or ''}".rstrip(),
            f"  protocol:     {report.protocol_version} ({report.era} era)",
            f"  handshake:    {_seconds(report.handshake_seconds)}",
            f"  capabilities: {_capability_text(report.capabilities)}",
        ]
        counts = [
            f"tools {report.tools if report.tools is not None else '-'}",
            f"resources {report.resources if report.resources is not None else '-'}",
            f"templates {report.resource_templates if report.resource_templates is not None else '-'}",
            f"prompts {report.prompts if report.prompts is not None else '-'}",
        ]
        lines.append(f"  listed:       {', '.join(counts)}")
        lines.append(f"  ping:         {_seconds(report.ping_seconds)}")
        lines.append(f"  instructions: {'yes' if report.instructions else 'no'}")
    lines += _coverage_text(report)
    if report.error:
        lines += ["  " + line for line in report.error.splitlines()]
    lines += [f"  warning: {warning}" for warning in report.warnings]
    tail = report.stderr_tail.strip("\n")
    if tail and not (report.error and tail in report.error):
        shown = tail.splitlines()[-_STDERR_LINES:]
        lines.append("  stderr (last lines):")
        lines += ["    " + line for line in shown]
    elif not tail and report.transport == "stdio":
        lines.append("  stderr:       (empty)")
    return lines


def _coverage_text(report: DoctorReport) -> List[str]:
    lines = []
    for name, covered in report.fallback.items():
        if covered is None:
            text = "FAILED, covers nothing"
        elif report.healthy:
            missing = [tool for tool in report.tool_names if tool not in covered]
            text = f"covers {len(covered)} of {len(report.tool_names)} tools" + (
                f" (not {', '.join(missing)})" if missing else ""
            )
        else:
            text = f"answers in its place ({len(covered)} tools)"
        lines.append(f"  fallback:     {name}: {text}")
    return lines


def _add_coverage(reports: Sequence[DoctorReport], configs: Dict[str, ServerConfig]) -> None:
    """Fill each report's ``fallback``: the tools each of its fallbacks covers."""
    by_name = {report.name: report for report in reports}
    for report in reports:
        for name in configs[report.name].fallback:
            other = by_name.get(name)
            if other is None or not other.healthy or other.status == "disabled":
                report.fallback[name] = None
            elif report.healthy:
                report.fallback[name] = [tool for tool in report.tool_names if tool in other.tool_names]
            else:
                report.fallback[name] = list(other.tool_names)


def _with_fallbacks(chosen: Dict[str, ServerConfig], servers: Dict[str, ServerConfig]) -> Dict[str, ServerConfig]:
    """``chosen`` plus the fallbacks of its servers (and theirs), which coverage needs checked."""
    result = dict(chosen)
    pending = list(chosen)
    while pending:
        for name in servers[pending.pop()].fallback:
            if name in servers and name not in result:
                result[name] = servers[name]
                pending.append(name)
    return result


_AUTH_TEXT = {
    "unsupported": "none needed",
    "not_logged_in": "not logged in (syncmcp login NAME)",
    "bearer_token": "bearer token",
    "oauth": "OAuth",
    "unknown": "unknown",
}


def run_doctor(ctx: Context, names: Sequence[str]) -> int:
    """``syncmcp doctor [NAME ...] [--json]``: exit status 3 when a server is unhealthy."""
    source = ctx.source()
    for name in names:
        if name not in source.servers:
            raise unknown_server(name, list(source.servers))
    chosen = _with_fallbacks({name: source.servers[name] for name in names}, source.servers) if names else dict(source.servers)
    if not chosen:
        from ._context import ADD_HINT

        ctx.write(f"No MCP servers configured yet. {ADD_HINT}")
        return EXIT_OK
    checked = [name for name, config in chosen.items() if config.enabled]
    if checked:
        ctx.progress.line(f"checking {', '.join(checked)}...")
    lock = threading.Lock()
    open_sessions: List[Any] = []

    def remember(session: Any) -> None:
        with lock:
            open_sessions.append(session)

    pool = concurrent.futures.ThreadPoolExecutor(max(1, min(16, len(chosen))), thread_name_prefix="syncmcp-doctor")
    try:
        futures = {name: pool.submit(check_server, name, config, remember) for name, config in chosen.items()}
        bound = max(config.startup_timeout_sec + 5 * config.tool_timeout_sec for config in chosen.values()) + 30.0
        concurrent.futures.wait(list(futures.values()), bound)
        reports = []
        for name, future in futures.items():
            if future.done():
                reports.append(future.result())
            else:
                config = chosen[name]
                reports.append(
                    DoctorReport(name, config.display_command, config.transport, status="failed", error="no answer in time")
                )
    except BaseException:
        with ctx.interrupts.deferred():
            with lock:
                sessions = list(open_sessions)
            for session in sessions:  # wakes checks blocked on their servers
                session.close()
        raise
    finally:
        with ctx.interrupts.deferred():  # each check closes its session before it returns
            pool.shutdown(wait=True, cancel_futures=True)
    _add_coverage(reports, chosen)
    if ctx.json:
        write_json([{**asdict(report), "healthy": report.healthy} for report in reports], ctx.out)
    else:
        for index, report in enumerate(reports):
            if index:
                ctx.write()
            for line in _text(report):
                ctx.write(line)
        unhealthy = [report.name for report in reports if not report.healthy]
        ctx.write()
        if unhealthy:
            ctx.write(f"{len(unhealthy)} of {len(reports)} servers unhealthy: {', '.join(unhealthy)}")
        else:
            ctx.write(f"{'All ' if len(reports) > 1 else ''}{len(reports)} server{'s' if len(reports) > 1 else ''} healthy.")
    return EXIT_SERVER if any(not report.healthy for report in reports) else EXIT_OK

"""Configuration commands, as Codex's ``codex mcp``: ``list``, ``get``, ``add``, ``remove``.

Texts are Codex's with ``syncmcp`` in place of ``codex mcp`` (``Added global MCP server
'<name>'.``, ``No MCP server named '<name>' found.``...). ``list`` and ``get`` show the
configuration in effect, ``-c`` overrides included; ``add`` and ``remove`` edit the file (never
the overrides), see :func:`~syncmcp.cli._configfile.edit_config`; ``add`` of a server that is
already configured keeps its settings other than the transport and says on stderr what it
replaced, kept and dropped. Environment values and header values are masked (``KEY=*****``) in
text output; ``--json`` shows the configuration as written. Fallbacks and circuit breakers
(syncmcp's own keys) are shown too: ``list`` adds a ``Fallbacks`` table when any server has
them, ``get`` a ``fallback`` line.

Example:
    $ syncmcp add time -- uvx mcp-server-time --local-timezone UTC
    Added global MCP server 'time'.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .._config import SERVER_NAME_PATTERN, ServerConfig
from ._configfile import EditResult, edit_config, resolve_path, server_entry
from ._context import ADD_HINT, Context, unknown_server
from ._exits import EXIT_OK, EXIT_USAGE, CLIError
from ._output import table, write_json

__all__ = ["parse_env_pair", "run_add", "run_get", "run_list", "run_remove", "validate_name"]

_NAME = re.compile(SERVER_NAME_PATTERN)


def validate_name(name: str) -> str:
    """Codex's check on ``add``/``remove`` (``^[a-zA-Z0-9_-]+$``) and its text.

    Example:
        >>> validate_name("my tool")
        Traceback (most recent call last):
        ...
        syncmcp.cli._exits.CLIError: invalid server name 'my tool' (use letters, numbers, '-', '_')
    """
    if not _NAME.match(name):
        raise CLIError(f"invalid server name '{name}' (use letters, numbers, '-', '_')", EXIT_USAGE)
    return name


def parse_env_pair(text: str) -> Tuple[str, str]:
    """``KEY=VALUE`` for ``add --env`` (Codex: the key is trimmed and must not be empty).

    Example:
        >>> parse_env_pair("TZ=Europe/Paris")
        ('TZ', 'Europe/Paris')
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CLIError("environment entries must be in KEY=VALUE form", EXIT_USAGE)
    return key.strip(), value


def _masked(names: Sequence[str]) -> str:
    return ", ".join(f"{name}=*****" for name in names) or "-"


def _env_display(config: ServerConfig) -> str:
    return _masked([*sorted(config.env), *config.env_vars])


def _status(config: ServerConfig) -> str:
    return "enabled" if config.enabled else "disabled"


def _auth_status(config: ServerConfig) -> str:
    from .._remote import auth_status

    return auth_status(config)


_AUTH_LABELS = {
    "unsupported": "Unsupported",
    "bearer_token": "Bearer token",
    "unknown": "Unknown",
    "not_logged_in": "Not logged in",
    "oauth": "OAuth",
}


def _transport_json(config: ServerConfig) -> Dict[str, Any]:
    if config.transport == "stdio":
        return {
            "type": "stdio",
            "command": config.command,
            "args": list(config.args),
            "env": dict.fromkeys(config.env, "*****") or None,  # values may be secrets
            "env_vars": list(config.env_vars),
            "cwd": config.cwd,
        }
    return {
        "type": config.transport,
        "url": config.display_command,
        "bearer_token_env_var": config.bearer_token_env_var,
        "http_headers": dict.fromkeys(config.http_headers, "*****") or None,
        "env_http_headers": dict(config.env_http_headers) or None,
    }


def _circuit(config: ServerConfig) -> str:
    if not config.circuit_failures:
        return "off"
    return f"after {config.circuit_failures} failures, {config.circuit_cooldown_sec:g} s"


def _entry_json(name: str, config: ServerConfig) -> Dict[str, Any]:
    return {
        "name": name,
        "enabled": config.enabled,
        "disabled_reason": None,
        "transport": _transport_json(config),
        "startup_timeout_sec": config.startup_timeout_sec,
        "tool_timeout_sec": config.tool_timeout_sec,
        "auth_status": _auth_status(config),
        "fallback": list(config.fallback),
    }


def run_list(ctx: Context) -> int:
    """``syncmcp list [--json]``: every configured server, sorted by name, stdio and HTTP tables."""
    source = ctx.source(missing_ok=True)
    entries = sorted(source.servers.items())
    if ctx.json:
        write_json([_entry_json(name, config) for name, config in entries], ctx.out)
        return EXIT_OK
    if not entries:
        ctx.write(f"No MCP servers configured yet. {ADD_HINT}")
        return EXIT_OK
    stdio: List[List[str]] = []
    http: List[List[str]] = []
    for name, config in entries:
        if config.transport == "stdio":
            stdio.append(
                [
                    name,
                    config.command or "",
                    " ".join(config.args) or "-",
                    _env_display(config),
                    config.cwd or "-",
                    _status(config),
                    _AUTH_LABELS[_auth_status(config)],
                ]
            )
        else:
            http.append(
                [
                    name,
                    config.display_command,
                    config.bearer_token_env_var or "-",
                    _status(config),
                    _AUTH_LABELS[_auth_status(config)],
                ]
            )
    lines: List[str] = []
    if stdio:
        lines += table(["Name", "Command", "Args", "Env", "Cwd", "Status", "Auth"], stdio)
    if stdio and http:
        lines.append("")
    if http:
        lines += table(["Name", "Url", "Bearer Token Env Var", "Status", "Auth"], http)
    covered = [[name, ", ".join(config.fallback), _circuit(config)] for name, config in entries if config.fallback]
    if covered:
        lines += ["", *table(["Name", "Fallback", "Circuit Breaker"], covered)]
    for line in lines:
        ctx.write(line)
    if source.builtin:
        ctx.write()
        ctx.write(f"No configuration file at {source.path}: this is syncmcp's built-in server. {ADD_HINT}")
    return EXIT_OK


def run_get(ctx: Context, name: str) -> int:
    """``syncmcp get NAME [--json]``: one server's settings (values of env and headers masked)."""
    source = ctx.source(missing_ok=True)
    config = source.servers.get(name)
    if config is None:
        raise unknown_server(name, list(source.servers))
    if ctx.json:
        data = _entry_json(name, config)
        del data["auth_status"]
        data["required"] = config.required
        data["protocol_era"] = config.protocol_era
        data["enabled_tools"] = list(config.enabled_tools) if config.enabled_tools is not None else None
        data["disabled_tools"] = list(config.disabled_tools) or None
        data["circuit_failures"] = config.circuit_failures
        data["circuit_cooldown_sec"] = config.circuit_cooldown_sec
        write_json(data, ctx.out)
        return EXIT_OK
    if not config.enabled:
        ctx.write(f"{name} (disabled)")
        return EXIT_OK
    lines = [name, "  enabled: true"]
    if config.required:
        lines.append("  required: true")
    if config.enabled_tools is not None:
        lines.append(f"  enabled_tools: {', '.join(config.enabled_tools) or '[]'}")
    if config.disabled_tools:
        lines.append(f"  disabled_tools: {', '.join(config.disabled_tools)}")
    if config.transport == "stdio":
        lines += [
            "  transport: stdio",
            f"  command: {config.command}",
            f"  args: {' '.join(config.args) or '-'}",
            f"  cwd: {config.cwd or '-'}",
            f"  env: {_env_display(config)}",
        ]
    else:
        lines += [
            f"  transport: {config.transport}",
            f"  url: {config.display_command}",
            f"  bearer_token_env_var: {config.bearer_token_env_var or '-'}",
            f"  http_headers: {_masked(sorted(config.http_headers))}",
            "  env_http_headers: "
            + (", ".join(f"{key}={value}" for key, value in sorted(config.env_http_headers.items())) or "-"),
        ]
    if config.protocol_era != "auto":
        lines.append(f"  protocol_era: {config.protocol_era}")
    if config.fallback:
        lines.append(f"  fallback: {', '.join(config.fallback)}")
    if config.circuit_failures:
        lines.append(f"  circuit_breaker: {_circuit(config)}")
    lines += [
        f"  startup_timeout_sec: {config.startup_timeout_sec:g}",
        f"  tool_timeout_sec: {config.tool_timeout_sec:g}",
    ]
    if source.builtin:
        lines.append(f"  source: built-in default (no configuration file at {source.path})")
    else:
        lines.append(f"  remove: syncmcp remove {name}")
    for line in lines:
        ctx.write(line)
    return EXIT_OK


def run_add(
    ctx: Context,
    name: str,
    *,
    command: Sequence[str],
    env: Sequence[str],
    url: Optional[str],
    bearer_token_env_var: Optional[str],
) -> int:
    """``syncmcp add NAME [--env K=V]... -- COMMAND [ARGS]...`` or ``add NAME --url URL [--bearer-token-env-var VAR]``."""
    validate_name(name)
    pairs = [parse_env_pair(item) for item in env]
    if url is not None and command:
        raise CLIError("give either a command (after --) or --url, not both", EXIT_USAGE)
    if url is None and not command:
        raise CLIError("command is required: syncmcp add NAME -- COMMAND [ARGS...], or syncmcp add NAME --url URL", EXIT_USAGE)
    if url is not None and pairs:
        raise CLIError("--env is only valid for stdio servers (a command), not with --url", EXIT_USAGE)
    if bearer_token_env_var is not None and url is None:
        raise CLIError("--bearer-token-env-var is only valid with --url", EXIT_USAGE)
    entry = server_entry(command=command, env=pairs, url=url, bearer_token_env_var=bearer_token_env_var)
    path, explicit = resolve_path(ctx.config_file)
    result = edit_config(path, name, entry)
    ctx.write(f"Added global MCP server '{name}'.")
    if result.existed:
        ctx.note(_replacement_note(name, result, "command" in entry))
    if result.created and not explicit:
        ctx.note(
            f"created {result.path}; syncmcp now uses the servers in it instead of its built-in 'workspace' server "
            "(add it back with: syncmcp add workspace -- python -m syncmcp serve)"
        )
    if url is not None and bearer_token_env_var is None:
        ctx.note(f"if the server requires OAuth, log in with: syncmcp login {name}")
    return EXIT_OK


def _replacement_note(name: str, result: EditResult, stdio: bool) -> str:
    """What ``add`` did to a server that was already configured.

    For example ``MCP server 'fs' was already configured: replaced command, args; kept enabled_tools``.
    """
    parts = [f"replaced {', '.join(result.replaced) or 'nothing'}"]
    if result.kept:
        parts.append(f"kept {', '.join(result.kept)}")
    if result.dropped:
        transport = "stdio" if stdio else "streamable_http"
        parts.append(f"dropped {', '.join(result.dropped)} (not supported for {transport})")
    return f"MCP server '{name}' was already configured: {'; '.join(parts)}"


def run_remove(ctx: Context, name: str) -> int:
    """``syncmcp remove NAME``: ``Removed global MCP server '<name>'.`` or ``No MCP server named '<name>' found.``."""
    validate_name(name)
    path, _ = resolve_path(ctx.config_file)
    result = edit_config(path, name, None)
    if result.existed:
        ctx.write(f"Removed global MCP server '{name}'.")
        return EXIT_OK
    ctx.write(f"No MCP server named '{name}' found.")
    if not path.exists() and name == "workspace":
        ctx.note("'workspace' is syncmcp's built-in server, used while no configuration file exists; it is not in a file")
    return EXIT_OK

"""``syncmcp login NAME`` and ``syncmcp logout NAME``: OAuth for remote servers, as ``codex mcp login``.

``login`` opens the browser on the authorization server's page (and prints the link, for a
machine without one), receives the redirect on a loopback port, and stores the tokens in the
user's credential file, where every later ``syncmcp`` command and :class:`~syncmcp.MCPManager`
finds them. The callback port is the server's ``oauth.callback_port``, else Codex's top-level
``mcp_oauth_callback_port``, else a free one. Texts are Codex's: ``Successfully logged in to MCP server '<name>'.``, ``Removed
OAuth credentials for '<name>'.``, ``No OAuth credentials stored for '<name>'.``.

Example:
    $ syncmcp login linear --scopes read,write
    Open this URL to log in: https://...
    Successfully logged in to MCP server 'linear'.
"""

from __future__ import annotations

from typing import List, Optional

from .._config import ServerConfig
from ._context import Context, unknown_server
from ._exits import EXIT_OK, EXIT_USAGE, CLIError

__all__ = ["parse_scopes", "run_login", "run_logout"]


def parse_scopes(text: Optional[str]) -> Optional[List[str]]:
    """``--scopes a,b c`` as a list (commas or spaces); ``None`` when not given.

    Example:
        >>> parse_scopes("read, write admin")
        ['read', 'write', 'admin']
    """
    if text is None:
        return None
    scopes = [part for part in text.replace(",", " ").split() if part]
    if not scopes:
        raise CLIError("--scopes needs at least one scope", EXIT_USAGE)
    return scopes


def _http_server(ctx: Context, name: str) -> ServerConfig:
    from .._remote import LOGIN_ONLY_FOR_HTTP

    servers = ctx.source(missing_ok=True).servers
    config = servers.get(name)
    if config is None:
        raise unknown_server(name, list(servers))
    if config.url is None:
        raise CLIError(LOGIN_ONLY_FOR_HTTP, EXIT_USAGE)
    return config


def run_login(ctx: Context, name: str, *, scopes: Optional[str], open_browser: bool, timeout: float) -> int:
    """``syncmcp login NAME [--scopes a,b] [--no-browser] [--timeout SECONDS]``."""
    from .._login import LoopbackAuthorizer
    from .._remote import login

    config = _http_server(ctx, name)
    wanted = parse_scopes(scopes)
    port = int(config.oauth.get("callback_port", 0)) or _codex_callback_port(ctx)
    ctx.progress.clear()
    with LoopbackAuthorizer(port=port, open_browser=open_browser, timeout=timeout) as authorizer:
        login(name, config, scopes=wanted, authorizer=authorizer)
    ctx.write(f"Successfully logged in to MCP server '{name}'.")
    return EXIT_OK


def _codex_callback_port(ctx: Context) -> int:
    """Codex's top-level ``mcp_oauth_callback_port``, when the file sets it (else any free port)."""
    value = ctx.source(missing_ok=True).document.get("mcp_oauth_callback_port")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise CLIError(f"mcp_oauth_callback_port: expected a port number from 1 to 65535, got {value!r}", EXIT_USAGE)
    return value


def run_logout(ctx: Context, name: str) -> int:
    """``syncmcp logout NAME``."""
    from .._remote import logout

    config = _http_server(ctx, name)
    if logout(name, config):
        ctx.write(f"Removed OAuth credentials for '{name}'.")
    else:
        ctx.write(f"No OAuth credentials stored for '{name}'.")
    return EXIT_OK

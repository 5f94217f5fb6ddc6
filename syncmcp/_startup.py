"""How a server's start-up failure is shown to a user: Codex's texts, classified by exception type.

Checked in Codex's order: the GitHub MCP server without a token (decided from the configuration
alone, so it wins over anything else), a login required, a timeout, anything else. Codex classifies
its errors by substring because they are strings; syncmcp by type (:class:`AuthenticationRequired`,
``TimeoutError`` which :class:`RequestTimeout` is), so an error that merely *mentions* a timeout is
not mistaken for one. The server's stderr tail, when the error does not quote it already, and the
``env_vars`` it asked for that were not set are appended: they are usually the real explanation.

Example:
    >>> print(startup_error_display("slow", None, TimeoutError("request timed out")))
    MCP client for `slow` timed out after 10 seconds. Add or adjust `startup_timeout_sec` in your config.toml:
    [mcp_servers.slow]
    startup_timeout_sec = XX
"""

from __future__ import annotations

from typing import Iterable, Optional

from ._config import DEFAULT_STARTUP_TIMEOUT_SEC, MACHINE_GRANTS, ServerConfig, sends_own_credentials
from ._exceptions import AuthenticationRequired

__all__ = [
    "DEFAULT_LOGIN_COMMAND",
    "GITHUB_MCP_URL",
    "STARTUP_CANCELLED",
    "startup_error_display",
    "startup_failure_message",
]

#: The URL Codex recognises as the GitHub MCP server, which takes a personal access token only.
GITHUB_MCP_URL = "https://api.githubcopilot.com/mcp/"
#: The command a user runs to log in to a server (Codex's text says ``codex mcp login``).
DEFAULT_LOGIN_COMMAND = "syncmcp login"
#: Codex's text for a start-up cancelled by shutdown.
STARTUP_CANCELLED = "MCP startup cancelled"


def startup_failure_message(error: BaseException) -> str:
    """Codex's stringified start-up error: ``MCP startup failed: <error>``.

    Example:
        >>> startup_failure_message(OSError("boom"))
        'MCP startup failed: boom'
    """
    return f"MCP startup failed: {error}"


def startup_error_display(
    server: str,
    config: Optional[ServerConfig],
    error: BaseException,
    *,
    stderr_tail: str = "",
    missing_env_vars: Iterable[str] = (),
    login_command: str = DEFAULT_LOGIN_COMMAND,
) -> str:
    """The text shown for a server that failed to start (Codex's ``mcp_init_error_display``).

    Args:
        server: the server's name.
        config: its configuration, when known (the GitHub case and the timeout value need it).
        error: what went wrong.
        stderr_tail: the last lines the server wrote to stderr.
        missing_env_vars: names from ``env_vars`` that this process's environment lacks.
        login_command: the command the login hint names (``"codex mcp login"`` gives Codex's text).

    Example:
        >>> startup_error_display("custom", None, RuntimeError("boom"))
        'MCP client for `custom` failed to start: MCP startup failed: boom'
    """
    if config is not None and _is_github_without_token(config):
        text = (
            "GitHub MCP does not support OAuth. Log in by adding a personal access token "
            "(https://github.com/settings/personal-access-tokens) to your environment and config.toml:"
            f"\n[mcp_servers.{server}]\nbearer_token_env_var = CODEX_GITHUB_PERSONAL_ACCESS_TOKEN"
        )
    elif isinstance(error, AuthenticationRequired) and not _logs_in_by_itself(config):
        text = f"The {server} MCP server is not logged in. Run `{login_command} {server}`."
    elif isinstance(error, TimeoutError):
        seconds = int(config.startup_timeout_sec if config is not None else DEFAULT_STARTUP_TIMEOUT_SEC)
        text = (
            f"MCP client for `{server}` timed out after {seconds} seconds. "
            "Add or adjust `startup_timeout_sec` in your config.toml:"
            f"\n[mcp_servers.{server}]\nstartup_timeout_sec = XX"
        )
    else:
        text = f"MCP client for `{server}` failed to start: {startup_failure_message(error)}"
    missing = list(missing_env_vars)
    if missing:
        text += f"\nNot set in this environment (listed in env_vars): {', '.join(missing)}"
    tail = stderr_tail.strip("\n")
    if tail and tail not in str(error):
        text += "\n--- server stderr (last lines) ---\n" + tail
    return text


def _is_github_without_token(config: ServerConfig) -> bool:
    return config.url == GITHUB_MCP_URL and config.bearer_token_env_var is None and not config.http_headers


def _logs_in_by_itself(config: Optional[ServerConfig]) -> bool:
    """Whether credentials come from the configuration alone: a refusal is then not about logging in.

    A bearer token or ``Authorization`` header, or an OAuth grant that needs no user.
    """
    return config is not None and (sends_own_credentials(config) or config.oauth.get("grant_type") in MACHINE_GRANTS)

"""Start-up error display: Codex's texts verbatim, classified by exception type."""

from __future__ import annotations

from syncmcp import AuthenticationRequired, RequestTimeout, ServerConfig
from syncmcp._startup import startup_error_display

GITHUB_TEXT = (
    "GitHub MCP does not support OAuth. Log in by adding a personal access token "
    "(https://github.com/settings/personal-access-tokens) to your environment and config.toml:\n"
    "[mcp_servers.github]\nbearer_token_env_var = CODEX_GITHUB_PERSONAL_ACCESS_TOKEN"
)


def test_mcp_init_error_display_prompts_for_github_pat() -> None:
    config = ServerConfig(url="https://api.githubcopilot.com/mcp/")
    assert startup_error_display("github", config, RuntimeError("OAuth is unsupported")) == GITHUB_TEXT


def test_github_hint_wins_over_a_timeout_but_not_when_a_token_is_configured() -> None:
    config = ServerConfig(url="https://api.githubcopilot.com/mcp/")
    assert startup_error_display("github", config, RequestTimeout("request timed out")) == GITHUB_TEXT
    with_token = ServerConfig(url="https://api.githubcopilot.com/mcp/", bearer_token_env_var="GH_PAT")
    assert "GitHub MCP" not in startup_error_display("github", with_token, RuntimeError("x"))
    with_header = ServerConfig(url="https://api.githubcopilot.com/mcp/", http_headers={"Authorization": "Bearer x"})
    assert "GitHub MCP" not in startup_error_display("github", with_header, RuntimeError("x"))
    other_url = ServerConfig(url="https://api.githubcopilot.com/mcp")  # no trailing slash: not the exact URL
    assert "GitHub MCP" not in startup_error_display("github", other_url, RuntimeError("x"))


def test_mcp_init_error_display_prompts_for_login_when_auth_required() -> None:
    error = AuthenticationRequired("Auth required for server")
    assert startup_error_display("example", None, error, login_command="codex mcp login") == (
        "The example MCP server is not logged in. Run `codex mcp login example`."
    )
    assert startup_error_display("example", None, error) == "The example MCP server is not logged in. Run `syncmcp login example`."


def test_a_refusal_of_configured_credentials_is_not_called_a_missing_login() -> None:
    error = AuthenticationRequired("HTTP 401 (the server refused the credentials)")
    for config in (
        ServerConfig(url="https://a.test/mcp", bearer_token_env_var="TOKEN"),
        ServerConfig(url="https://a.test/mcp", http_headers={"authorization": "Bearer x"}),
        ServerConfig(url="https://a.test/mcp", env_http_headers={"Authorization": "API_AUTH"}),
        ServerConfig(url="https://a.test/mcp", oauth={"grant_type": "client_credentials", "client_id": "c", "client_secret_env_var": "S"}),
    ):
        assert startup_error_display("s", config, error).startswith("MCP client for `s` failed to start:"), config
    needs_login = ServerConfig(url="https://a.test/mcp", env_http_headers={"X-Team": "TEAM"})
    assert startup_error_display("s", needs_login, error) == "The s MCP server is not logged in. Run `syncmcp login s`."


def test_mcp_init_error_display_reports_generic_errors() -> None:
    config = ServerConfig(url="https://example.com", bearer_token_env_var="TOKEN")
    assert startup_error_display("custom", config, RuntimeError("boom")) == "MCP client for `custom` failed to start: MCP startup failed: boom"


def test_mcp_init_error_display_includes_startup_timeout_hint() -> None:
    assert startup_error_display("slow", None, RequestTimeout("request timed out")) == (
        "MCP client for `slow` timed out after 10 seconds. Add or adjust `startup_timeout_sec` in your config.toml:\n"
        "[mcp_servers.slow]\nstartup_timeout_sec = XX"
    )
    config = ServerConfig(command="x", startup_timeout_sec=2.9)
    assert startup_error_display("slow", config, TimeoutError()).startswith("MCP client for `slow` timed out after 2 seconds.")


def test_classification_is_by_type_not_by_words() -> None:
    """Codex matched substrings; an error that merely mentions them is a generic failure here."""
    assert startup_error_display("s", None, RuntimeError("request timed out")).startswith("MCP client for `s` failed to start:")
    assert startup_error_display("s", None, RuntimeError("Auth required")).startswith("MCP client for `s` failed to start:")


def test_stderr_tail_and_missing_variables_are_appended_once() -> None:
    text = startup_error_display("s", None, RuntimeError("boom"), stderr_tail="Error: need API_KEY\n", missing_env_vars=["API_KEY"])
    assert text == (
        "MCP client for `s` failed to start: MCP startup failed: boom\n"
        "Not set in this environment (listed in env_vars): API_KEY\n"
        "--- server stderr (last lines) ---\nError: need API_KEY"
    )
    quoted = RuntimeError("exited\n--- server stderr (last lines) ---\nError: need API_KEY")
    assert startup_error_display("s", None, quoted, stderr_tail="Error: need API_KEY\n").count("need API_KEY") == 1

"""Remote servers behind OAuth, end to end: the manager's start-up hint, ``MCPManager.login``, the
CLI's ``login`` / ``logout`` with a browser replaced by a driver that follows the redirect, stored
tokens reused by later processes, bearer tokens and static headers from the configuration, and
the ``client_credentials`` grant from a config file.

The MCP server is the scripted protected resource of ``tests/servers/oauth_server.py`` (a minimal
MCP endpoint behind a strict authorization server): a real HTTP exchange, scripted behaviour.
"""

from __future__ import annotations

import json
import logging
import re
import select
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Iterator, List

import pytest

import syncmcp
from syncmcp import CredentialStore, HeadlessAuthorizer
from syncmcp._httpwire import ConnectionPool, HttpRequest

from .conftest import CLI, wait_until
from .servers.oauth_server import AuthOptions, Deployment, ResourceOptions, deployment


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A credential file of the test's own (this process and the CLI subprocesses use it)."""
    path = tmp_path / "credentials.json"
    monkeypatch.setenv("SYNCMCP_CREDENTIALS", str(path))
    return path


@pytest.fixture
def protected() -> Iterator[Deployment]:
    with deployment(AuthOptions(), ResourceOptions(challenge_scope="mcp:basic")) as d:
        yield d


def test_a_server_that_needs_a_login_gets_codex_hint_then_manager_login_starts_it(
    protected: Deployment, store_path: Path
) -> None:
    servers = {"notes": {"url": protected.mcp_url}}
    with syncmcp.MCPManager(servers) as manager:
        manager.wait_for_startup(10)
        status = manager.startup_status()["notes"]
        assert status.error == "The notes MCP server is not logged in. Run `syncmcp login notes`."
        assert manager.list_all_tools() == {}
        assert manager.login("notes", authorizer=HeadlessAuthorizer()) is True
        assert manager.call_tool("notes__whoami").text == "scopes: mcp:basic"
    assert store_path.exists() and store_path.stat().st_mode & 0o777 == 0o600
    # A later manager (another process, another day) uses the stored tokens without a login.
    with syncmcp.MCPManager(servers) as later:
        assert later.call_tool("notes__whoami").text == "scopes: mcp:basic"
        assert later.logout("notes") is True
        assert later.logout("notes") is False
    with syncmcp.MCPManager(servers) as after:
        after.wait_for_startup(10)
        assert "not logged in" in (after.startup_status()["notes"].error or "")


def test_stdio_servers_cannot_log_in(store_path: Path) -> None:
    with syncmcp.MCPManager({"local": {"command": "true"}}, lazy=True) as manager, pytest.raises(ValueError) as caught:
        manager.login("local", authorizer=HeadlessAuthorizer())
    assert str(caught.value) == "OAuth login is only supported for streamable HTTP servers."


def _follow_like_a_browser(url: str) -> str:
    """What the user's browser does: open the authorization page (which approves at once and
    redirects), then follow the redirect to the loopback callback; returns the callback's page."""
    pool = ConnectionPool()
    try:
        with pool.send(HttpRequest("GET", url, replayable=True), read_timeout=10) as answer:
            assert answer.status in (302, 303), answer.status
            callback = answer.headers["Location"]
            answer.read(65536)
        assert urllib.parse.urlsplit(callback).hostname == "127.0.0.1"
        with pool.send(HttpRequest("GET", callback, replayable=True), read_timeout=10) as page:
            return page.read(65536).decode()
    finally:
        pool.close()


def _announced_url(process: subprocess.Popen, timeout: float = 20.0) -> str:
    """The authorization URL ``syncmcp login`` prints on stderr."""
    deadline = time.monotonic() + timeout
    seen = ""
    assert process.stderr is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.2)
        if ready:
            line = process.stderr.readline()
            seen += line
            found = re.search(r"(http://127\.0\.0\.1:\d+/authorize\S+)", line)
            if found:
                return found.group(1)
        elif process.poll() is not None:
            break
    raise AssertionError(f"no authorization URL announced; stderr so far: {seen!r}")


def test_cli_login_list_call_logout(cli: CLI, protected: Deployment, store_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[mcp_servers.notes]\nurl = "{protected.mcp_url}"\n')
    env = {"SYNCMCP_CONFIG": str(config), "SYNCMCP_CREDENTIALS": str(store_path)}
    assert "Not logged in" not in cli("list", env=env).stdout  # unknown until a login: no network in list
    process = cli.popen("login", "notes", "--no-browser", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        page = _follow_like_a_browser(_announced_url(process))
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "close this window" in page.lower() or "logged in" in page.lower()
    assert (process.returncode, out) == (0, "Successfully logged in to MCP server 'notes'.\n"), err
    stored = json.loads(store_path.read_text())
    assert "access_token" in json.dumps(stored) and stored  # tokens persisted for later processes
    listing = cli("list", env=env).stdout.splitlines()
    assert listing[1].split()[-1] == "OAuth"
    called = cli("call", "notes__whoami", env=env)
    assert (called.returncode, called.stdout.strip()) == (0, "scopes: mcp:basic"), called.stderr
    token = protected.resource.mcp_requests[-1]
    assert token and token not in called.stdout + called.stderr
    assert cli("logout", "notes", env=env).stdout == "Removed OAuth credentials for 'notes'.\n"
    assert cli("logout", "notes", env=env).stdout == "No OAuth credentials stored for 'notes'.\n"
    refused = cli("call", "notes__whoami", env=env)
    assert refused.returncode == 3
    assert "The notes MCP server is not logged in. Run `syncmcp login notes`." in refused.stderr


def test_cli_login_refuses_stdio_servers_and_unknown_names(cli: CLI, tmp_path: Path, store_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[mcp_servers.local]\ncommand = "true"\n')
    env = {"SYNCMCP_CONFIG": str(config), "SYNCMCP_CREDENTIALS": str(store_path)}
    stdio = cli("login", "local", env=env)
    assert (stdio.returncode, stdio.stderr) == (2, "syncmcp: error: OAuth login is only supported for streamable HTTP servers.\n")
    unknown = cli("logout", "nope", env=env)
    assert unknown.returncode == 2 and "No MCP server named 'nope' found." in unknown.stderr


def test_bearer_token_and_headers_from_the_environment_never_reach_the_logs(
    protected: Deployment, store_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = protected.tokens.issue(("mcp:basic",), 3600)
    monkeypatch.setenv("NOTES_TOKEN", token)
    monkeypatch.setenv("NOTES_TEAM", "team-secret-value")
    servers = {
        "notes": {
            "url": protected.mcp_url,
            "bearer_token_env_var": "NOTES_TOKEN",
            "env_http_headers": {"X-Team": "NOTES_TEAM"},
            "http_headers": {"X-Static": "static-secret-value"},
        }
    }
    caplog.set_level(logging.DEBUG, logger="syncmcp")
    with syncmcp.MCPManager(servers) as manager:
        result = manager.call_tool("notes__whoami")
        assert result.text == "scopes: mcp:basic"
        text = repr(manager) + repr(manager.servers) + str(manager.startup_status())
    assert protected.resource.mcp_requests[-1] == token
    everything = caplog.text + text
    for secret in (token, "team-secret-value", "static-secret-value"):
        assert secret not in everything


def test_a_missing_bearer_variable_fails_the_start_with_codex_text(store_path: Path) -> None:
    servers = {"notes": {"url": "http://127.0.0.1:9/mcp", "bearer_token_env_var": "SYNCMCP_TEST_UNSET_TOKEN"}}
    with syncmcp.MCPManager(servers) as manager:
        manager.wait_for_startup(10)
        error = manager.startup_status()["notes"].error or ""
    assert "Environment variable SYNCMCP_TEST_UNSET_TOKEN for MCP server 'notes' is not set" in error


def test_a_refused_bearer_token_is_not_called_a_missing_login(protected: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTES_TOKEN", "not-a-valid-token")
    servers = {"notes": {"url": protected.mcp_url, "bearer_token_env_var": "NOTES_TOKEN"}}
    with syncmcp.MCPManager(servers) as manager:
        manager.wait_for_startup(10)
        error = manager.startup_status()["notes"].error or ""
    assert error.startswith("MCP client for `notes` failed to start:")
    assert "HTTP 401" in error and "not-a-valid-token" not in error


def test_client_credentials_from_a_config_file(tmp_path: Path, store_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = AuthOptions(
        clients={"machine": "machine-secret"},
        client_methods={"machine": "client_secret_basic"},
        auth_methods=["client_secret_basic"],
        grant_types=["client_credentials"],
        registration=False,
    )
    with deployment(auth, ResourceOptions()) as d:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[mcp_servers.robot]\nurl = "{d.mcp_url}"\n'
            'oauth = { client_id = "machine", client_secret_env_var = "ROBOT_SECRET", grant_type = "client_credentials" }\n'
        )
        monkeypatch.setenv("ROBOT_SECRET", "machine-secret")
        with syncmcp.MCPManager.from_config(config) as manager:
            assert manager.call_tool("robot__whoami").text.startswith("scopes:")
        monkeypatch.delenv("ROBOT_SECRET")
        with syncmcp.MCPManager.from_config(config) as manager:
            manager.wait_for_startup(10)
            error = manager.startup_status()["robot"].error or ""
        assert "Environment variable ROBOT_SECRET for MCP server 'robot' is not set" in error


def test_connect_http_with_an_oauth_object_logs_in_when_asked(protected: Deployment, store_path: Path) -> None:
    oauth = syncmcp.OAuth(server_url=protected.mcp_url, authorizer=HeadlessAuthorizer(), store=CredentialStore.memory())
    with syncmcp.connect_http(protected.mcp_url, auth=oauth) as session:
        assert [tool.name for tool in session.list_tools()] == ["whoami"]
        assert session.call_tool("whoami").text == "scopes: mcp:basic"
    assert oauth.status() == "oauth"
    assert not store_path.exists()  # a memory store writes nothing


def test_enterprise_managed_authorization_from_a_config_file(
    tmp_path: Path, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .servers.oauth_server import IdpOptions
    from .test_oauth import xaa_auth

    with deployment(xaa_auth(), ResourceOptions(), idp=IdpOptions()) as d:
        assert d.idp is not None
        config = tmp_path / "config.toml"
        config.write_text(
            f'[mcp_servers.corp]\nurl = "{d.mcp_url}"\n'
            "[mcp_servers.corp.oauth]\n"
            'grant_type = "jwt_bearer"\nclient_id = "mcp-client"\nclient_secret_env_var = "CORP_SECRET"\n'
            f'idp_token_endpoint = "{d.idp.base}/token"\nidp_client_id = "idp-client"\nid_token_env_var = "CORP_ID_TOKEN"\n'
        )
        monkeypatch.setenv("CORP_SECRET", "mcp-secret")
        monkeypatch.setenv("CORP_ID_TOKEN", d.idp.issue_id_token())
        with syncmcp.MCPManager.from_config(config) as manager:
            assert manager.call_tool("corp__whoami").text.startswith("scopes:")
        assert len(d.idp.exchanges) == 1
        monkeypatch.delenv("CORP_ID_TOKEN")  # the stored access token still serves: no new exchange
        with syncmcp.MCPManager.from_config(config) as manager:
            assert manager.call_tool("corp__whoami").text.startswith("scopes:")
        assert len(d.idp.exchanges) == 1
        d.tokens.revoke_all()  # now an exchange is needed, and the ID token is missing
        with syncmcp.MCPManager.from_config(config) as manager:
            manager.wait_for_startup(10)
            error = manager.startup_status()["corp"].error or ""
        assert "CORP_ID_TOKEN" in error and "not set" in error


def test_cli_login_listens_on_codex_callback_port(cli: CLI, protected: Deployment, store_path: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(f'mcp_oauth_callback_port = {port}\n\n[mcp_servers.notes]\nurl = "{protected.mcp_url}"\n')
    env = {"SYNCMCP_CONFIG": str(config), "SYNCMCP_CREDENTIALS": str(store_path)}
    process = cli.popen("login", "notes", "--no-browser", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = _announced_url(process)
        redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
        assert urllib.parse.urlsplit(redirect).port == port
        _follow_like_a_browser(url)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, out) == (0, "Successfully logged in to MCP server 'notes'.\n"), err


def test_closing_a_session_ends_a_login_waiting_for_the_browser(protected: Deployment) -> None:
    announced: List[str] = []
    authorizer = syncmcp.LoopbackAuthorizer(open_browser=False, timeout=60, announce=announced.append)
    oauth = syncmcp.OAuth(server_url=protected.mcp_url, authorizer=authorizer, store=CredentialStore.memory())
    transport = syncmcp.HttpTransport(protected.mcp_url, name="notes", auth=oauth)
    session = syncmcp.ClientSession(transport, timeout=10)
    try:
        with pytest.raises(syncmcp.RequestTimeout):
            session.initialize(timeout=1.5)  # nobody opens the link
        assert announced  # the login did start
    finally:
        closing = time.monotonic()
        session.close()
        authorizer.close()
    assert time.monotonic() - closing < 2.0
    assert wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith(("syncmcp-http", "syncmcp-oauth"))], 3)


def test_headers_the_transport_sets_are_left_out_of_a_configuration_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from syncmcp._remote import resolve_http_headers

    config = syncmcp.ServerConfig(
        url="https://mcp.test/mcp",
        http_headers={"Accept": "text/html", "Mcp-Session-Id": "forged", "X-Team": "blue"},
        env_http_headers={"MCP-Protocol-Version": "SOME_VAR"},
    )
    with caplog.at_level(logging.WARNING, logger="syncmcp.manager"):
        assert resolve_http_headers("s", config, environ={"SOME_VAR": "2099-01-01"}) == {"X-Team": "blue"}
    assert caplog.text.count("is set by the transport") == 3
    assert "forged" not in caplog.text and "text/html" not in caplog.text


def test_an_authorization_header_from_the_environment_counts_as_a_bearer_token(store_path: Path) -> None:
    from syncmcp._remote import auth_status

    from_environment = syncmcp.ServerConfig(url="https://mcp.test/mcp", env_http_headers={"Authorization": "API_AUTH"})
    assert auth_status(from_environment, CredentialStore(store_path)) == "bearer_token"
    other_header = syncmcp.ServerConfig(url="https://mcp.test/mcp", env_http_headers={"X-Team": "TEAM"})
    assert auth_status(other_header, CredentialStore(store_path)) == "unknown"

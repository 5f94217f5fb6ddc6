"""Secrets stay secret: children see only what the configuration names, and no secret is ever printed.

The parent's environment holds a secret no child may see; the configuration holds an ``env``
value, an HTTP header value and a bearer token. Everything syncmcp emits while using them is
scanned: every log record at every level (the wire log included), reprs, exceptions, and the
CLI's ``list``, ``get``, ``doctor`` and ``tools`` output, text and ``--json``.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

import syncmcp
from syncmcp.server import Server

from .conftest import CLI, scripted, toml_server

PARENT_SECRET = "parent-secret-7c1e"
ENV_SECRET = "env-secret-91ab"
HEADER_SECRET = "header-secret-44d0"
TOKEN_SECRET = "bearer-secret-e2f3"
SECRETS = (PARENT_SECRET, ENV_SECRET, HEADER_SECRET, TOKEN_SECRET)


class Everything(logging.Handler):
    """Every record of every logger, formatted as it would be printed (arguments and traceback included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: List[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record) + repr(getattr(record, "__dict__", {})))


@pytest.fixture
def every_record() -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def leaked(*texts: str) -> List[Tuple[str, str]]:
    return [(secret, text[:200]) for text in texts for secret in SECRETS if secret in text]


def protected_server() -> Tuple[Server, threading.Event, List[int]]:
    server = Server("protected")

    @server.tool()
    def hello(name: str) -> str:
        """Say hello."""
        return f"hello {name}"

    def verify(token: str) -> Any:
        return {"sub": "tester"} if token == TOKEN_SECRET else None

    stop, ready, bound = threading.Event(), threading.Event(), []
    thread = threading.Thread(
        target=server.run_http,
        kwargs={"port": 0, "handle_signals": False, "stop": stop, "verify_token": verify,
                "on_ready": lambda _h, p: (bound.append(p), ready.set())},
        daemon=True,
    )  # fmt: skip
    thread.start()
    assert ready.wait(10)
    return server, stop, bound


def test_children_and_workspace_commands_never_see_the_parent_s_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCMCP_TEST_PARENT_SECRET", PARENT_SECRET)
    config = {
        "child": syncmcp.ServerConfig(command=scripted()[0], args=tuple(scripted()[1:]), env={"GIVEN": ENV_SECRET}),
        "workspace": syncmcp.ServerConfig(command="python3", args=("-m", "syncmcp", "serve", "--root", str(tmp_path))),
    }
    with syncmcp.MCPManager(config) as manager:
        env = json.loads(manager.call_tool("child__env", {}).text)
        assert env["GIVEN"] == ENV_SECRET and PARENT_SECRET not in json.dumps(env)
        output = manager.call_tool("workspace__execute_command", {"command": ["env"]}).text
        assert "PATH=" in output and PARENT_SECRET not in output and ENV_SECRET not in output


def test_no_secret_in_logs_reprs_or_errors(every_record: Everything, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCMCP_TEST_PARENT_SECRET", PARENT_SECRET)
    monkeypatch.setenv("SYNCMCP_TEST_TOKEN", TOKEN_SECRET)
    server, stop, bound = protected_server()
    emitted: List[str] = []
    try:
        url = f"http://127.0.0.1:{bound[0]}/mcp"
        config = {
            "child": syncmcp.ServerConfig(command=scripted()[0], args=tuple(scripted()[1:]), env={"GIVEN": ENV_SECRET}),
            "remote": syncmcp.ServerConfig(url=url, bearer_token_env_var="SYNCMCP_TEST_TOKEN", http_headers={"X-Api-Key": HEADER_SECRET}),
            "refused": syncmcp.ServerConfig(url=url, http_headers={"Authorization": f"Bearer {HEADER_SECRET}"}),
        }
        with syncmcp.MCPManager(config) as manager:
            assert manager.call_tool("remote__hello", {"name": "x"}).text == "hello x"
            assert manager.call_tool("child__echo", {"text": "hi"}).text
            emitted += [repr(manager), repr(manager.startup_status()), repr(config), repr(manager.list_all_tools())]
            emitted += [repr(manager.health_check()), repr(manager.metrics()), repr(manager.servers)]
            try:
                manager.call_tool("refused__hello", {"name": "x"})
            except syncmcp.MCPError as exc:
                emitted += [str(exc), repr(exc)]
        with syncmcp.connect_http(url, bearer_token=TOKEN_SECRET, headers={"X-Api-Key": HEADER_SECRET}) as session:
            emitted += [repr(session), repr(session.transport), session.call_tool("hello", {"name": "y"}).text]
        with pytest.raises(syncmcp.MCPError) as refused:
            syncmcp.connect_http(url, bearer_token=HEADER_SECRET, timeout=10)
        emitted += [str(refused.value), repr(refused.value)]
    finally:
        stop.set()
        server.close()
    assert every_record.texts, "nothing was logged: the scan would prove nothing"
    assert not leaked(*emitted, *every_record.texts)


def test_no_secret_in_the_cli_s_output(cli: CLI, tmp_path: Path) -> None:
    server, stop, bound = protected_server()
    try:
        url = f"http://127.0.0.1:{bound[0]}/mcp"
        command = scripted()
        config = cli.default_config
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            toml_server("child", command)
            + f'env = {{ GIVEN = "{ENV_SECRET}" }}\n'
            + f'[mcp_servers.remote]\nurl = "{url}"\nbearer_token_env_var = "SYNCMCP_TEST_TOKEN"\n'
            + f'http_headers = {{ "X-Api-Key" = "{HEADER_SECRET}" }}\n'
        )
        env = {"SYNCMCP_TEST_TOKEN": TOKEN_SECRET, "SYNCMCP_TEST_PARENT_SECRET": PARENT_SECRET, "SYNCMCP_LOG": "debug,wire"}
        outputs = []
        for args in (("list",), ("list", "--json"), ("get", "child"), ("get", "child", "--json"), ("get", "remote", "--json"),
                     ("doctor",), ("doctor", "--json"), ("tools",), ("tools", "--json")):  # fmt: skip
            done = cli(*args, env=env)
            outputs += [done.stdout, done.stderr]
            assert done.returncode == 0, (args, done.stderr[-2000:])
    finally:
        stop.set()
        server.close()
    assert any("remote__hello" in text for text in outputs)  # the servers were used
    assert not leaked(*outputs)

"""``syncmcp serve --http``: the workspace server over Streamable HTTP, from the command line."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

import syncmcp

from .conftest import ROOT, peers_python
from .test_server_http import post

DRIVER = ROOT / "tests" / "peers" / "drive_server.py"


def start(tmp_path: Path, *args: str, env_extra: Optional[Dict[str, str]] = None) -> Tuple[subprocess.Popen, str]:
    env = {**os.environ, **(env_extra or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "syncmcp", "serve", "--root", str(tmp_path), "--no-os-sandbox", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 20
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if ready:
            line = process.stderr.readline()
            if not line:
                break
            seen += line
            match = re.search(rb"MCP over HTTP at (http://\S+)", line)
            if match:
                return process, match.group(1).decode()
    process.kill()
    process.wait()
    raise AssertionError(f"syncmcp serve --http did not say where it listens: {seen!r}")


@pytest.fixture
def stop_all() -> Iterator[List[subprocess.Popen]]:
    processes: List[subprocess.Popen] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_serve_http_with_a_token_from_the_environment(tmp_path: Path, stop_all: List[subprocess.Popen]) -> None:
    (tmp_path / "hello.txt").write_text("hi there\n")
    process, url = start(tmp_path, "--http", "127.0.0.1:0", "--token-env", "WORKSPACE_TOKEN", env_extra={"WORKSPACE_TOKEN": "s3cret"})
    stop_all.append(process)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    status, headers, _ = post(port, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert status == 401 and "resource_metadata" in headers["www-authenticate"]
    for era in ("legacy", "modern"):
        with syncmcp.connect_http(url, bearer_token="s3cret", protocol_era=era) as session:
            assert session.server_info.name == "syncmcp-workspace"
            assert "hi there" in session.call_tool("read_file", {"path": "hello.txt"}).text
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0


def test_serve_http_refuses_an_unset_token_variable_and_a_bad_address(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "NOT_SET_ANYWHERE"}
    done = subprocess.run(
        [sys.executable, "-m", "syncmcp", "serve", "--root", str(tmp_path), "--http", "0", "--token-env", "NOT_SET_ANYWHERE"],
        check=False, capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "NOT_SET_ANYWHERE" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "syncmcp", "serve", "--http", "host:notaport"], check=False, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 2 and "[HOST:]PORT" in done.stderr


def test_serve_http_keeps_stdio_as_the_default(tmp_path: Path) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    done = subprocess.run(
        [sys.executable, "-m", "syncmcp", "serve", "--root", str(tmp_path)],
        input=json.dumps(request) + "\n", check=False, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert json.loads(done.stdout.splitlines()[0])["result"]["serverInfo"]["name"] == "syncmcp-workspace"


@pytest.mark.real
@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_official_client_drives_syncmcp_serve_over_http(mode: str, tmp_path: Path, stop_all: List[subprocess.Popen]) -> None:
    root = tmp_path / "root"
    root.mkdir()
    process, url = start(root, "--http", "127.0.0.1:0")
    stop_all.append(process)
    done = subprocess.run(
        [peers_python(), str(DRIVER), "--mode", mode, "--scenario", "workspace", "--workdir", str(tmp_path), "--url", url],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"the official client failed:\n{done.stderr[-4000:]}"
    out = json.loads(done.stdout)
    assert out["protocol_version"] == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert out["server_info"]["name"] == "syncmcp-workspace"
    assert out["write"] == "Created notes/todo.txt (8 bytes)"
    assert out["read_after_patch"] == "one\nzwei\n"
    assert out["escape"]["isError"] is True
    assert sorted(p["name"] for p in out["prompts"]["items"]) == ["code_review", "generate_docs", "generate_tests", "refactor"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0

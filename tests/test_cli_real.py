"""The command line against real third-party servers: server-everything (node) and mcp-server-time
(Python, official SDK), configured the way users do, through the real entry point."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Dict

import pytest

from .conftest import CLI, npm_server, peers_python, toml_server
from .test_cli import _run_on_terminal

pytestmark = pytest.mark.real


@pytest.fixture
def real(tmp_path: Path) -> Dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text(
        "# real servers\n"
        + toml_server("everything", [*npm_server("server-everything"), "stdio"])
        + "\n"
        + toml_server("time", [peers_python(), "-m", "mcp_server_time", "--local-timezone", "UTC"])
    )
    return {"SYNCMCP_CONFIG": str(config)}


def test_tools_and_calls_on_server_everything(cli: CLI, real: Dict[str, str]) -> None:
    tools = cli("tools", "everything", env=real)
    assert tools.returncode == 0, tools.stderr
    assert re.search(r"^everything__echo\(message\)\s+Echoes back the input string$", tools.stdout, re.MULTILINE)
    assert cli("call", "everything__echo", "--arg", "message=hi there", env=real).stdout == "Echo: hi there\n"
    assert cli("call", "everything__get-sum", "--arg", "a=2", "--arg", "b=3", env=real).stdout == "The sum of 2 and 3 is 5.\n"
    image = cli("call", "everything__get-tiny-image", env=real)
    assert re.search(r"^\[image: image/png, [\d,]+ bytes\]$", image.stdout, re.MULTILINE)
    raw = json.loads(cli("call", "everything__get-tiny-image", "--json", env=real).stdout)
    assert any(block["type"] == "image" and block["data"] for block in raw["content"])
    wrong = cli("call", "everything__get-sum", "--arg", "a=2", env=real)
    assert wrong.returncode == 2 and "'b' is a required property" in wrong.stderr
    asked = cli("call", "everything__trigger-elicitation-request", env=real)
    assert asked.returncode == 0 and "cancel" in asked.stdout
    assert "syncmcp: warning: MCP server 'everything' asked for input" in asked.stderr


def test_resources_and_prompts_of_server_everything(cli: CLI, real: Dict[str, str]) -> None:
    resources = json.loads(cli("resources", "everything", "--json", env=real).stdout)
    uris = [item["uri"] for item in resources["resources"]]
    assert "demo://resource/static/document/architecture.md" in uris
    assert all(item["server"] == "everything" for item in resources["resources"] + resources["resourceTemplates"])
    read = cli("read", "everything", "demo://resource/static/document/architecture.md", env=real)
    assert read.returncode == 0 and read.stdout.startswith("#")
    prompts = cli("prompts", "everything", env=real)
    assert re.search(r"^everything\s+args-prompt\s+city, state\?\s+", prompts.stdout, re.MULTILINE)
    rendered = cli("prompt", "everything", "args-prompt", "--arg", "city=Paris", env=real)
    assert rendered.stdout == "[user]\nWhat's weather in Paris?\n"
    missing = cli("prompt", "everything", "args-prompt", env=real)
    assert missing.returncode == 2 and missing.stderr.startswith("syncmcp: error: prompts/get failed for `everything`")


def test_progress_of_a_real_long_running_tool_on_a_terminal(cli: CLI, real: Dict[str, str]) -> None:
    out, shown = _run_on_terminal(
        cli, "call", "everything__trigger-long-running-operation", "--arg", "duration=0.4", "--arg", "steps=2", env=real
    )
    assert out.startswith("Long running operation completed.")
    assert "everything__trigger-long-running-operation: 2/2 (100%)" in shown


def test_mcp_server_time_and_the_embedded_workspace_side_by_side(cli: CLI, real: Dict[str, str]) -> None:
    result = json.loads(cli("call", "time__get_current_time", "--arg", "timezone=Europe/Paris", "--json", env=real).stdout)
    assert result["structuredContent"]["timezone"] == "Europe/Paris"
    converted = cli(
        "call", "time__convert_time", '{"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}', env=real
    )
    assert converted.returncode == 0 and json.loads(converted.stdout)["target"]["datetime"].endswith("T21:00:00+09:00")
    bad = cli("call", "time__get_current_time", "--arg", "timezone=Mars/Olympus", env=real)
    assert bad.returncode == 1 and "Mars/Olympus" in bad.stdout
    # -c adds the embedded server for one run: three servers, one tool listing.
    names = [
        tool["qualifiedName"]
        for tool in json.loads(
            cli(
                "tools",
                "--json",
                "-c",
                f"mcp_servers.workspace.command={json.dumps(sys.executable)}",
                "-c",
                'mcp_servers.workspace.args=["-m", "syncmcp", "serve"]',
                env=real,
            ).stdout
        )
    ]
    assert {"everything__echo", "time__get_current_time", "workspace__read_file"} <= set(names)
    report = cli("doctor", "--json", env=real)
    assert report.returncode == 0, report.stdout
    reports = {item["name"]: item for item in json.loads(report.stdout)}
    assert reports["time"]["server_name"] == "mcp-time" and reports["time"]["tools"] == 2
    assert reports["everything"]["healthy"] and reports["everything"]["prompts"] == 4

"""The official ``mcp`` SDK's client (a real third-party peer) drives syncmcp servers over stdio.

Each scenario runs ``tests/peers/drive_server.py`` with the peers' Python; it prints one JSON
object recording what the client saw, and the assertions are here. ``legacy`` forces the
``initialize`` handshake; ``auto`` lets the client probe ``server/discover``, so syncmcp's
servers are used in the 2026-07-28 era (elicitation, sampling and roots then travel as
``InputRequiredResult`` round trips, change notifications on ``subscriptions/listen``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

from .conftest import SERVERS, peers_python

pytestmark = pytest.mark.real

DRIVER = Path(__file__).resolve().parent / "peers" / "drive_server.py"
FIXTURE = [sys.executable, "-u", str(SERVERS / "framework_server.py"), "--page-size", "3"]


def drive(mode: str, scenario: str, command: List[str], workdir: Path) -> Dict[str, Any]:
    python = peers_python()
    done = subprocess.run(
        [python, str(DRIVER), "--mode", mode, "--scenario", scenario, "--workdir", str(workdir), "--", *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
        check=False,
    )
    assert done.returncode == 0, f"the official client failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)


def texts(result: Dict[str, Any]) -> str:
    return "\n".join(block["text"] for block in result["content"] if block["type"] == "text")


def assert_fixture_catalog(out: Dict[str, Any], modern: bool) -> None:
    """The fixture's resources, templates, prompts and completions, as the official client saw them."""
    assert [r["uri"] for r in out["resources"]["items"]] == [
        "fixture://hello",
        "fixture://items/apple",
        "fixture://items/apricot",
        "fixture://items/banana",
    ]
    assert out["resources"]["pages"] == 2
    assert [t["uriTemplate"] for t in out["templates"]["items"]] == ["fixture://items/{item_id}"]
    assert out["read_hello"]["contents"] == [{"uri": "fixture://hello", "mimeType": "text/plain", "text": "hello"}]
    assert out["read_item"]["contents"][0]["text"] == "red fruit"
    assert out["read_missing"]["code"] == (-32602 if modern else -32002)
    assert [p["name"] for p in out["prompts"]["items"]] == ["greet", "conversation"]
    assert out["greet"]["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "Address a formal greeting to Ada."}}
    ]
    assert [m["role"] for m in out["conversation"]["messages"]] == ["user", "assistant", "assistant"]
    assert out["greet_missing_arg"]["code"] == -32602
    assert out["complete_prompt"]["completion"]["values"] == ["Ada", "Alan"]
    assert out["complete_style"]["completion"]["values"] == ["formal"]
    assert out["complete_template"]["completion"]["values"] == ["apple", "apricot"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_official_client_drives_a_framework_server(mode: str, tmp_path: Path) -> None:
    out = drive(mode, "fixture", FIXTURE, tmp_path)
    modern = mode == "auto"
    assert out["protocol_version"] == ("2026-07-28" if modern else "2025-11-25")
    assert out["server_info"] == {"name": "framework-fixture", "version": "2.0.0"}
    assert out["instructions"] == "A fixture built with syncmcp.server."
    assert set(out["capabilities"]) >= {"tools", "resources", "prompts", "completions", "logging"}
    tools = [tool["name"] for tool in out["tools"]["items"]]
    assert tools[:3] == ["add", "weather", "slow"] and len(tools) == 13
    assert out["tools"]["pages"] == 5  # page size 3
    weather_tool = next(tool for tool in out["tools"]["items"] if tool["name"] == "weather")
    assert weather_tool["outputSchema"]["required"] == ["city", "temperature", "conditions"]
    assert weather_tool["inputSchema"]["properties"]["city"] == {"type": "string", "enum": ["Paris", "Oslo"]}
    assert texts(out["add"]) == "5" and out["add"]["isError"] is False
    assert out["add_bad"]["isError"] is True and "'b' is a required property" in texts(out["add_bad"])
    assert out["unknown_tool"] == {"code": -32602, "message": "Unknown tool: 'no_such_tool'"}
    assert out["weather"]["structuredContent"] == {"city": "Paris", "temperature": 21.5, "conditions": "sunny"}
    assert json.loads(texts(out["weather"])) == out["weather"]["structuredContent"]
    assert out["boom"]["isError"] is True and texts(out["boom"]) == "kaboom"
    assert [block["type"] for block in out["pixel"]["content"]] == ["text", "image"]
    assert out["slow"] == "done after 3 steps"
    assert out["progress"] == [[1.0, 3.0, "step 1"], [2.0, 3.0, "step 2"], [3.0, 3.0, "step 3"]]
    assert [log["data"] for log in out["logs"]] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert texts(out["ask_name"]) == "Hello, Ada!"
    assert [e["message"] for e in out["elicitations"]] == ["What is your name?"]
    assert out["summarize"] == "peer-model: short summary"
    assert out["samplings"][0]["maxTokens"] == 50
    assert json.loads(texts(out["client_roots"])) == ["file:///peer/root"]
    assert out["noisy"] == "echo: x" and out["after_noisy"] == "2"
    assert out["cancel_scope_cancelled"] is True
    assert len(json.loads(out["cancellations"])) == 1  # the handler saw notifications/cancelled
    assert_fixture_catalog(out, modern)
    if modern:
        assert out["listen_honored"] == {"toolsListChanged": True, "resourceSubscriptions": ["fixture://items/apple"]}
        assert out["events"] == ["ResourceUpdated", "ToolsListChanged"]
        assert out["add"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "framework-fixture"
    else:
        assert {"notifications/resources/updated", "notifications/tools/list_changed", "notifications/progress"} <= set(
            out["notifications"]
        )
    assert out["tools_after"][-1] == "late_tool" and out["late_tool"] == "I am late_tool"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_the_official_client_drives_syncmcp_serve(mode: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.txt").write_text("OUTSIDE-CONTENT-9f2c")
    out = drive(mode, "workspace", [sys.executable, "-m", "syncmcp", "serve", "--root", str(root)], tmp_path)
    assert out["protocol_version"] == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert out["server_info"]["name"] == "syncmcp-workspace"
    assert out["capabilities"]["experimental"] == {"syncmcp/sandbox-state": {}, "codex/sandbox-state": {}}
    assert sorted(tool["name"] for tool in out["tools"]["items"]) == [
        "apply_patch",
        "execute_command",
        "list_directory",
        "read_file",
        "write_file",
    ]
    assert out["write"] == "Created notes/todo.txt (8 bytes)"
    assert out["read"] == "one\ntwo\n"
    assert out["patch"] == "Success. Updated the following files:\nM notes/todo.txt"
    assert out["read_after_patch"] == "one\nzwei\n"
    assert out["list"] == "notes/\nnotes/todo.txt"
    command = out["command"]["structuredContent"]
    assert (command["exit_code"], command["stdout"], command["stderr"]) == (3, "out\n", "err\n")
    assert out["escape"]["isError"] is True and "leaves the workspace with '..'" in texts(out["escape"])
    assert "OUTSIDE-CONTENT-9f2c" not in json.dumps(out)
    uris = [r["uri"] for r in out["resources"]["items"]]
    assert "workspace://config" in uris and (root / "notes" / "todo.txt").as_uri() in uris
    assert [t["uriTemplate"] for t in out["templates"]["items"]] == ["file://{+path}"]
    config = json.loads(out["config"]["contents"][0]["text"])
    assert config["sandbox"]["policy"] == "workspace-write" and config["roots"] == [str(root)]
    assert "python" in json.loads(out["environment"]["contents"][0]["text"])
    assert sorted(p["name"] for p in out["prompts"]["items"]) == ["code_review", "generate_docs", "generate_tests", "refactor"]
    review = out["review"]["messages"]
    assert "focusing on readability" in review[0]["content"]["text"]
    assert review[1]["content"]["resource"]["text"] == "one\nzwei\n"
    assert out["complete_path"]["completion"]["values"] == ["notes/todo.txt"]
    assert out["complete_framework"]["completion"]["values"] == ["pytest"]

"""ClientSession against real MCP servers that nobody here wrote (pinned by the test set-up).

server-everything and server-filesystem come from the npm registry; mcp-server-time and the
FastMCP fixture (built on the official ``mcp`` package) from PyPI, run by the peers' Python.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, List

import pytest

import syncmcp
from syncmcp import ClientSession, ImageContent, RemoteError, RequestTimeout, TextContent

pytestmark = pytest.mark.real


def open_session(command: List[str], name: str, **kwargs: Any) -> ClientSession:
    kwargs.setdefault("timeout", 20)
    return syncmcp.connect(command[0], command[1:], name=name, **kwargs)


@pytest.fixture
def everything(everything_cmd: List[str]):
    with open_session(everything_cmd, "everything") as session:
        yield session


# ----------------------------------------------------------------------------- server-everything


def test_everything_handshake_and_tools(everything: ClientSession) -> None:
    assert everything.protocol_version == "2025-11-25"
    assert everything.server_info.name == "mcp-servers/everything"
    assert everything.instructions and "Everything" in everything.instructions
    names = {tool.name for tool in everything.list_tools()}
    assert {"echo", "get-sum", "trigger-long-running-operation", "get-structured-content"} <= names
    echo = next(tool for tool in everything.list_tools() if tool.name == "echo")
    assert echo.input_schema["properties"]["message"]["type"] == "string"
    assert echo.display_name


def test_everything_echo_and_sum(everything: ClientSession) -> None:
    assert everything.call_tool("echo", {"message": "hi"}).text == "Echo: hi"
    assert everything.call_tool("get-sum", {"a": 2, "b": 3.5}).text == "The sum of 2 and 3.5 is 5.5."


def test_everything_unknown_tool_is_an_error_result(everything: ClientSession) -> None:
    result = everything.call_tool("nope")
    assert result.is_error
    assert "nope" in result.text


def test_everything_progress_arrives_in_order(everything: ClientSession) -> None:
    seen: List[Any] = []
    result = everything.call_tool(
        "trigger-long-running-operation", {"duration": 1, "steps": 5}, on_progress=lambda p, t, m: seen.append((p, t))
    )
    assert "completed" in result.text
    assert seen == [(i, 5) for i in range(1, 6)]


def test_everything_timeout_cancels_and_session_survives(everything: ClientSession) -> None:
    with pytest.raises(RequestTimeout):
        everything.call_tool("trigger-long-running-operation", {"duration": 5, "steps": 5}, timeout=0.3)
    assert everything.call_tool("echo", {"message": "after"}).text == "Echo: after"


def test_everything_image_and_structured_content(everything: ClientSession) -> None:
    image = everything.call_tool("get-tiny-image")
    pictures = [block for block in image.content if isinstance(block, ImageContent)]
    assert pictures and pictures[0].mime_type == "image/png"
    assert pictures[0].decode().startswith(b"\x89PNG")
    structured = everything.call_tool("get-structured-content", {"location": "Chicago"})
    assert set(structured.structured_content) == {"temperature", "conditions", "humidity"}


def test_everything_resources_templates_and_reading(everything: ClientSession) -> None:
    resources = everything.list_resources()
    assert len(resources) >= 7
    assert all(r.uri.startswith("demo://resource/static/document/") for r in resources)
    templates = everything.list_resource_templates()
    assert {t.uri_template for t in templates} >= {"demo://resource/dynamic/text/{resourceId}"}
    read = everything.read_resource(resources[0].uri)
    assert read.contents[0].uri == resources[0].uri
    assert read.text
    dynamic = everything.read_resource("demo://resource/dynamic/text/1")
    assert dynamic.contents and dynamic.contents[0].text


def test_everything_prompts_and_completion(everything: ClientSession) -> None:
    prompts = {prompt.name: prompt for prompt in everything.list_prompts()}
    assert {"simple-prompt", "args-prompt", "completable-prompt"} <= set(prompts)
    assert any(arg.name == "city" and arg.required for arg in prompts["args-prompt"].arguments)
    rendered = everything.get_prompt("args-prompt", {"city": "Paris"})
    assert "Paris" in rendered.text
    completion = everything.complete({"type": "ref/prompt", "name": "completable-prompt"}, "department", "E")
    assert completion.values == ["Engineering"]
    with pytest.raises(RemoteError):
        everything.get_prompt("args-prompt", {})


def test_everything_environment_is_the_allow_list(everything_cmd: List[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCMCP_REAL_SECRET", "hidden")
    with open_session(everything_cmd, "everything", env={"VISIBLE": "yes"}) as session:
        env = json.loads(session.call_tool("get-env").text)
    assert env.get("VISIBLE") == "yes"
    assert "SYNCMCP_REAL_SECRET" not in env


def test_everything_concurrent_calls(everything: ClientSession) -> None:
    results: List[str] = []
    lock = threading.Lock()

    def call(index: int) -> None:
        text = everything.call_tool("echo", {"message": str(index)}).text
        with lock:
            results.append(text)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == sorted(f"Echo: {i}" for i in range(32))


def test_everything_roots_request_with_id_zero_is_answered(everything_cmd: List[str], tmp_path: Path) -> None:
    asked = threading.Event()

    def roots() -> List[dict]:
        asked.set()
        return [{"uri": tmp_path.as_uri(), "name": "work"}]

    with open_session(everything_cmd, "everything", roots=roots) as session:
        assert asked.wait(10)  # server-everything asks right after initialized, with id 0
        assert session.call_tool("echo", {"message": "ok"}).text == "Echo: ok"


# ----------------------------------------------------------------------------- server-filesystem


def test_filesystem_structured_results(filesystem_cmd: List[str], tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("first line\nsecond line\n")
    with open_session(filesystem_cmd, "filesystem") as session:
        tools = {tool.name: tool for tool in session.list_tools()}
        assert "read_text_file" in tools
        assert tools["read_text_file"].output_schema is not None
        result = session.call_tool("read_text_file", {"path": str(tmp_path / "notes.txt")})
        assert not result.is_error
        assert result.structured_content == {"content": "first line\nsecond line\n"}
        assert isinstance(result.content[0], TextContent)
        denied = session.call_tool("read_text_file", {"path": "/etc/passwd"})
        assert denied.is_error
        assert "Access denied" in denied.text
        assert session.list_resources() == []  # it declares no resources capability


# ----------------------------------------------------------------------------- Python servers


def test_time_server(time_cmd: List[str]) -> None:
    with open_session(time_cmd, "time") as session:
        assert {tool.name for tool in session.list_tools()} == {"get_current_time", "convert_time"}
        result = session.call_tool("get_current_time", {"timezone": "UTC"})
        assert not result.is_error
        assert result.structured_content["timezone"] == "UTC"
        converted = session.call_tool("convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"})
        assert converted.structured_content["target"]["datetime"].startswith(converted.structured_content["source"]["datetime"][:10])
        bad = session.call_tool("get_current_time", {"timezone": "Not/AZone"})
        assert bad.is_error


def test_fastmcp_fixture(fastmcp_cmd: List[str]) -> None:
    with open_session(fastmcp_cmd, "fixture") as session:
        assert session.server_info.name == "fixture"
        assert session.instructions == "A fixture server for syncmcp's tests."
        assert session.call_tool("add", {"a": 2, "b": 3}).structured_content == {"result": 5}
        seen: List[Any] = []
        assert session.call_tool("slow", {"steps": 3}, on_progress=lambda p, t, m: seen.append(p)).text == "done"
        assert seen == [1, 2, 3]
        failure = session.call_tool("boom")
        assert failure.is_error
        assert session.read_resource("fixture://hello").text == "hello"
        assert session.get_prompt("greet", {"name": "Ada"}).text == "Say hello to Ada."

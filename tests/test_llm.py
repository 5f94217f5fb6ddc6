"""``syncmcp.llm``: MCP tools as the tool definitions of LLM APIs, and a model's tool calls run back.

A manager runs the framework fixture server (tests/servers/framework_server.py, built with
``syncmcp.server``); the shapes are checked against the providers' documented formats.
"""

from __future__ import annotations

import json
import sys
import time
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List

import pytest

import syncmcp
from syncmcp import llm

from .conftest import SERVERS

FRAMEWORK = SERVERS / "framework_server.py"


@pytest.fixture
def manager() -> Iterator[syncmcp.MCPManager]:
    config = {"fw": syncmcp.ServerConfig(command=sys.executable, args=("-u", str(FRAMEWORK)))}
    with syncmcp.MCPManager(config) as running:
        yield running


def by_name(definitions: List[Dict[str, Any]], key: str = "name") -> Dict[str, Dict[str, Any]]:
    return {entry[key]: entry for entry in definitions}


def test_definitions_in_every_provider_s_shape(manager: syncmcp.MCPManager) -> None:
    chat = by_name([entry["function"] for entry in llm.tool_definitions(manager, "openai")])
    assert all(entry["type"] == "function" for entry in llm.tool_definitions(manager, "openai"))
    add = chat["fw__add"]
    assert add["description"].startswith("Add two integers") and add["strict"] is False
    assert add["parameters"]["properties"]["a"]["type"] == "integer" and add["parameters"]["required"] == ["a", "b"]

    responses = by_name(llm.tool_definitions(manager, "openai-responses", strict=True))
    strict_add = responses["fw__add"]
    assert strict_add["type"] == "function" and strict_add["strict"] is True
    assert strict_add["parameters"]["additionalProperties"] is False
    waiting = responses["fw__wait_for_cancel"]  # an optional parameter becomes nullable and required
    assert waiting["strict"] is True and "seconds" in waiting["parameters"]["required"]
    assert "null" in waiting["parameters"]["properties"]["seconds"]["type"]

    anthropic = by_name(llm.tool_definitions(manager, "anthropic"))
    assert set(anthropic["fw__weather"]) == {"name", "description", "input_schema"}
    assert anthropic["fw__weather"]["input_schema"]["properties"]["city"]["enum"] == ["Paris", "Oslo"]

    gemini = by_name(llm.tool_definitions(manager, "gemini"))
    flat = json.dumps(gemini)
    assert "additionalProperties" not in flat and "$schema" not in flat
    assert gemini["fw__add"]["parameters"]["type"] == "object"

    plain = by_name(llm.tool_definitions(manager, "json-schema"))
    assert plain["fw__weather"]["output_schema"]["properties"]["temperature"]["type"] == "number"

    with pytest.raises(ValueError, match="unknown provider"):
        llm.tool_definitions(manager, "cohere")


def test_filters_by_server_and_tool(manager: syncmcp.MCPManager) -> None:
    assert [e["name"] for e in llm.tool_definitions(manager, "anthropic", tools=["fw__add", "weather"])] == ["fw__add", "fw__weather"]
    assert llm.tool_definitions(manager, "anthropic", servers=["elsewhere"]) == []
    assert all(len(e["name"]) <= 64 for e in llm.tool_definitions(manager, "anthropic"))


def openai_call(call_id: str, name: str, arguments: str) -> Dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_a_turn_of_openai_tool_calls_runs_in_parallel_and_comes_back_in_order(manager: syncmcp.MCPManager) -> None:
    calls = [
        openai_call("c1", "fw__add", '{"a": 2, "b": 40}'),
        openai_call("c2", "fw__weather", '{"city": "Oslo"}'),
        openai_call("c3", "fw__boom", "{}"),
        openai_call("c4", "fw__add", "{not json"),
        openai_call("c5", "fw__nope", "{}"),
        openai_call("c6", "fw__pixel", ""),
    ]
    results = llm.run_tool_calls(manager, calls, "openai")
    assert [r["tool_call_id"] for r in results] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert all(r["role"] == "tool" for r in results)
    assert results[0]["content"] == "42"
    assert json.loads(results[1]["content"].splitlines()[-1]) == {"city": "Oslo", "temperature": -3.0, "conditions": "snow"}
    assert results[2]["content"].startswith("Error") and "kaboom" in results[2]["content"]
    assert "not valid JSON" in results[3]["content"]
    assert results[4]["content"].startswith("Error") and "fw__nope" in results[4]["content"]
    assert "one red pixel" in results[5]["content"] and "[1 image]" in results[5]["content"]
    started = time.monotonic()
    waits = [openai_call(f"w{i}", "fw__wait_for_cancel", '{"seconds": 0.4}') for i in range(4)]
    assert [r["content"] for r in llm.run_tool_calls(manager, waits, "openai")] == ["not cancelled"] * 4
    assert time.monotonic() - started < 1.5  # run together: one after the other would take 1.6 s


def test_anthropic_tool_use_blocks_get_tool_result_blocks_with_images_and_errors(manager: syncmcp.MCPManager) -> None:
    uses = [
        {"type": "tool_use", "id": "u1", "name": "fw__pixel", "input": {}},
        {"type": "tool_use", "id": "u2", "name": "fw__boom", "input": {}},
        {"type": "tool_use", "id": "u3", "name": "fw__add", "input": [1, 2]},
    ]
    pixel, boom, bad = llm.run_tool_calls(manager, uses, "anthropic")
    assert pixel["type"] == "tool_result" and pixel["tool_use_id"] == "u1" and "is_error" not in pixel
    image = next(block for block in pixel["content"] if block["type"] == "image")
    assert image["source"]["type"] == "base64" and image["source"]["media_type"] == "image/gif"
    assert boom["is_error"] is True and "kaboom" in boom["content"][0]["text"]
    assert bad["is_error"] is True and "must be a JSON object" in bad["content"][0]["text"]


def test_responses_gemini_and_sdk_objects(manager: syncmcp.MCPManager) -> None:
    item = SimpleNamespace(type="function_call", call_id="r1", name="fw__add", arguments='{"a": 1, "b": 1}')
    (answer,) = llm.run_tool_calls(manager, [item], "openai-responses")
    assert answer == {"type": "function_call_output", "call_id": "r1", "output": "2"}
    part = {"functionCall": {"name": "fw__weather", "args": {"city": "Paris"}}}
    (response,) = llm.run_tool_calls(manager, [part], "gemini")
    assert response["functionResponse"]["name"] == "fw__weather"
    assert response["functionResponse"]["response"]["structuredContent"]["city"] == "Paris"
    sdk_call = SimpleNamespace(id="c9", type="function", function=SimpleNamespace(name="fw__add", arguments='{"a": 5, "b": 5}'))
    assert llm.run_tool_calls(manager, [sdk_call], "openai")[0]["content"] == "10"


def test_a_session_s_tools_under_their_raw_names() -> None:
    with syncmcp.connect(sys.executable, ["-u", str(FRAMEWORK)]) as session:
        definitions = by_name(llm.tool_definitions(session, "anthropic", tools=["add"]))
        assert list(definitions) == ["add"]
        (result,) = llm.run_tool_calls(session, [{"type": "tool_use", "id": "x", "name": "add", "input": {"a": 3, "b": 4}}], "anthropic")
        assert result["content"] == [{"type": "text", "text": "7"}]

"""``syncmcp.llm``'s plain dicts checked against the providers' own SDK types (``openai``, ``anthropic``).

The SDKs are test extras (pinned in pyproject.toml), never imported by syncmcp. Their request
parameters are TypedDicts: each definition and result syncmcp makes is validated with pydantic's
``TypeAdapter`` (which comes with the SDKs), and must come back unchanged, so a key the SDK type
does not have (dropped by validation) fails as surely as a wrong type. Their responses are
pydantic models: real SDK objects (an OpenAI ``ChatCompletionMessageToolCall``, a Responses
``ResponseFunctionToolCall``, an Anthropic ``ToolUseBlock``) are parsed and run through
``parse_tool_call`` / ``run_tool_calls``.

The tools are those of the framework fixture server (tests/servers/framework_server.py, built on
``syncmcp.server``): no real peer is needed, so these tests also run on the oldest Python. A
missing SDK skips locally and fails in CI, as a missing peer does.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Iterator, List

import pytest

import syncmcp
from syncmcp import llm

from .conftest import SERVERS, need

FRAMEWORK = SERVERS / "framework_server.py"


@pytest.fixture
def manager() -> Iterator[syncmcp.MCPManager]:
    config = {"fw": syncmcp.ServerConfig(command=sys.executable, args=("-u", str(FRAMEWORK)))}
    with syncmcp.MCPManager(config) as running:
        running.wait_for_startup(timeout=30)
        yield running


@pytest.fixture
def openai_sdk() -> None:
    need("openai")


@pytest.fixture
def anthropic_sdk() -> None:
    need("anthropic")


def check(kind: Any, value: Any) -> Any:
    """Validate ``value`` against the SDK type ``kind``; it must come back unchanged (TypedDict
    validation drops unknown keys, so an extra key shows as a difference)."""
    from pydantic import TypeAdapter

    adapter = TypeAdapter(kind)  # alive while the lazy validators run: they use its definitions
    validated = plain(adapter.validate_python(value, strict=True))
    assert validated == json.loads(json.dumps(value)), f"{kind.__name__} changed {value!r}"
    return validated


def plain(value: Any) -> Any:
    """``value`` with pydantic's lazy ``Iterable`` validators run (each item is validated as it is
    read) and turned into lists."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    return [plain(item) for item in value]


#: One model turn of calls that covers every kind of result: plain text, structured content,
#: a tool error, bad JSON, an unknown tool, and an image.
TURN = [
    ("c1", "fw__add", '{"a": 2, "b": 40}'),
    ("c2", "fw__weather", '{"city": "Oslo"}'),
    ("c3", "fw__boom", "{}"),
    ("c4", "fw__add", "{not json"),
    ("c5", "fw__nope", "{}"),
    ("c6", "fw__pixel", ""),
]


# ----------------------------------------------------------------------------- OpenAI


@pytest.mark.usefixtures("openai_sdk")
@pytest.mark.parametrize("strict", [False, True])
def test_openai_chat_definitions_are_chat_completion_tool_params(manager: syncmcp.MCPManager, strict: bool) -> None:
    from openai.types.chat import ChatCompletionToolParam
    from openai.types.shared_params import FunctionDefinition

    definitions = llm.tool_definitions(manager, "openai", strict=strict)
    assert len(definitions) >= 10
    for definition in definitions:
        check(ChatCompletionToolParam, definition)
        check(FunctionDefinition, definition["function"])
    add = next(d["function"] for d in definitions if d["function"]["name"] == "fw__add")
    assert add["strict"] is strict


@pytest.mark.usefixtures("openai_sdk")
def test_openai_responses_definitions_are_function_tool_params(manager: syncmcp.MCPManager) -> None:
    from openai.types.responses import FunctionToolParam

    for strict in (False, True):
        definitions = llm.tool_definitions(manager, "openai-responses", strict=strict)
        for definition in definitions:
            check(FunctionToolParam, definition)
        assert any(d["strict"] is strict for d in definitions)


@pytest.mark.usefixtures("openai_sdk")
def test_openai_sdk_tool_call_objects_run_back_as_tool_message_params(manager: syncmcp.MCPManager) -> None:
    from openai.types.chat import ChatCompletionMessage, ChatCompletionToolMessageParam

    # The assistant message as the SDK parses it from an API response.
    message = ChatCompletionMessage.model_validate(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                for call_id, name, arguments in TURN
            ],
        }
    )
    assert message.tool_calls is not None and type(message.tool_calls[0]).__name__.endswith("ToolCall")
    parsed = llm.parse_tool_call(message.tool_calls[0], "openai")
    assert parsed == llm.ToolCall("c1", "fw__add", {"a": 2, "b": 40})
    assert llm.parse_tool_call(message.tool_calls[3], "openai").problem is not None

    results = llm.run_tool_calls(manager, message.tool_calls, "openai", timeout=30)
    for result in results:
        check(ChatCompletionToolMessageParam, result)
    assert [r["tool_call_id"] for r in results] == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert results[0]["content"] == "42"
    assert "Oslo" in results[1]["content"]
    assert all(r["content"].startswith("Error") for r in results[2:5])
    assert "image" in results[5]["content"]


@pytest.mark.usefixtures("openai_sdk")
def test_openai_responses_function_calls_run_back_as_function_call_outputs(manager: syncmcp.MCPManager) -> None:
    from openai.types.responses import ResponseFunctionToolCall
    from openai.types.responses.response_input_param import FunctionCallOutput

    items = [
        ResponseFunctionToolCall(type="function_call", id=f"fc_{call_id}", call_id=call_id, name=name, arguments=arguments)
        for call_id, name, arguments in TURN[:3]
    ]
    assert llm.parse_tool_call(items[1], "openai-responses") == llm.ToolCall("c2", "fw__weather", {"city": "Oslo"})
    outputs = llm.run_tool_calls(manager, items, "openai-responses", timeout=30)
    for output in outputs:
        check(FunctionCallOutput, output)
    assert [o["call_id"] for o in outputs] == ["c1", "c2", "c3"]
    assert outputs[0]["output"] == "42" and outputs[2]["output"].startswith("Error")


# ----------------------------------------------------------------------------- Anthropic


@pytest.mark.usefixtures("anthropic_sdk")
def test_anthropic_definitions_are_tool_params(manager: syncmcp.MCPManager) -> None:
    from anthropic.types import ToolParam

    definitions = llm.tool_definitions(manager, "anthropic")
    assert len(definitions) >= 10
    for definition in definitions:
        check(ToolParam, definition)
        assert definition["input_schema"]["type"] == "object"


@pytest.mark.usefixtures("anthropic_sdk")
def test_anthropic_tool_use_blocks_run_back_as_tool_result_block_params(manager: syncmcp.MCPManager) -> None:
    from anthropic.types import Message, ToolResultBlockParam, ToolUseBlock

    # The assistant turn as the SDK parses it from an API response.
    reply = Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "u1", "name": "fw__add", "input": {"a": 2, "b": 40}},
                {"type": "tool_use", "id": "u2", "name": "fw__weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "u3", "name": "fw__boom", "input": {}},
                {"type": "tool_use", "id": "u4", "name": "fw__pixel", "input": {}},
            ],
        }
    )
    uses: List[Any] = [block for block in reply.content if isinstance(block, ToolUseBlock)]
    assert len(uses) == 4
    assert llm.parse_tool_call(uses[0], "anthropic") == llm.ToolCall("u1", "fw__add", {"a": 2, "b": 40})

    results: List[Dict[str, Any]] = llm.run_tool_calls(manager, uses, "anthropic", timeout=30)
    for result in results:
        check(ToolResultBlockParam, result)
    assert [r["tool_use_id"] for r in results] == ["u1", "u2", "u3", "u4"]
    assert results[0]["content"] == [{"type": "text", "text": "42"}] and "is_error" not in results[0]
    assert "Paris" in results[1]["content"][0]["text"]
    assert results[2]["is_error"] is True
    image = [block for block in results[3]["content"] if block["type"] == "image"]
    assert len(image) == 1 and image[0]["source"]["type"] == "base64"

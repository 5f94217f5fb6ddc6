"""Client features, notifications, tasks and both protocol eras against real third-party servers."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

import syncmcp
from syncmcp import ClientSession

from .conftest import wait_until

pytestmark = pytest.mark.real


def open_session(command: List[str], name: str, **kwargs: Any) -> ClientSession:
    kwargs.setdefault("timeout", 20)
    return syncmcp.connect(command[0], command[1:], name=name, **kwargs)


def sampler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
    prompt = params["messages"][0]["content"]["text"]
    return {"role": "assistant", "content": {"type": "text", "text": f"echo of {prompt!r}"}, "model": "test-model", "stopReason": "endTurn"}


# ----------------------------------------------------------------------------- server-everything


def test_everything_sampling_round_trip(everything_cmd: List[str]) -> None:
    seen: List[Dict[str, Any]] = []

    def handler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        seen.append(params)
        assert ctx.server == "everything"
        return sampler(ctx, params)

    with open_session(everything_cmd, "everything", sampling_handler=handler) as session:
        text = session.call_tool("trigger-sampling-request", {"prompt": "the sea", "maxTokens": 12}).text
    assert "echo of " in text
    assert "the sea" in seen[0]["messages"][0]["content"]["text"]
    assert "test-model" in text
    assert seen[0]["maxTokens"] == 12


def test_everything_form_elicitation_with_every_field_kind(everything_cmd: List[str]) -> None:
    schemas: List[Dict[str, Any]] = []

    def handler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        schema = params["requestedSchema"]
        schemas.append(schema)
        # Fill only what has no default; syncmcp fills the defaults and validates the rest.
        content: Dict[str, Any] = {"name": "Ada Lovelace", "check": True, "email": "ada@example.com"}
        for key, spec in schema["properties"].items():
            if key not in content and "default" not in spec and key in schema.get("required", []):
                content[key] = spec["enum"][0] if "enum" in spec else "x"
        return {"action": "accept", "content": content}

    with open_session(everything_cmd, "everything", elicitation_handler=handler) as session:
        text = session.call_tool("trigger-elicitation-request", {}).text
    properties = schemas[0]["properties"]
    assert {"string", "boolean", "integer", "number"} <= {spec.get("type") for spec in properties.values()}
    assert any("enum" in spec or "oneOf" in spec or "items" in spec for spec in properties.values())
    assert "Ada Lovelace" in text
    assert "It was a dark and stormy night." in text  # a default syncmcp filled in


def test_everything_url_elicitation_and_url_required_error(everything_cmd: List[str]) -> None:
    urls: List[str] = []

    def handler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        urls.append(params["url"])
        return {"action": "accept"}

    with open_session(everything_cmd, "everything", elicitation_handler=handler, elicitation_modes=["form", "url"]) as session:
        text = session.call_tool("trigger-url-elicitation", {"url": "https://example.com/authorize", "message": "Please log in"}).text
        assert "accept" in text
        with pytest.raises(syncmcp.URLElicitationRequired) as info:
            session.call_tool("trigger-url-elicitation", {"url": "https://example.com/authorize", "errorPath": True})
    assert urls == ["https://example.com/authorize"]
    assert info.value.code == -32042
    assert info.value.elicitations and info.value.elicitations[0]["mode"] == "url"


def test_everything_list_changed_burst_costs_one_listing(everything_cmd: List[str]) -> None:
    changes: List[str] = []
    with open_session(
        everything_cmd,
        "everything",
        roots=["/tmp"],
        sampling_handler=sampler,
        elicitation_handler=lambda ctx, params: {"action": "decline"},
        on_list_changed=changes.append,
    ) as session:
        assert wait_until(lambda: len(changes) >= 4, timeout=10)  # the burst after initialized
        sent = session.stats["sent"]
        first = session.list_tools()
        second = session.list_tools()
        assert session.stats["sent"] == sent + 1
    assert first == second
    assert len(first) >= 16  # the tools that need client capabilities are registered too
    assert set(changes) == {"tools"}


def test_everything_logging_and_resource_updates(everything_cmd: List[str]) -> None:
    logs: List[Any] = []
    updates: List[str] = []
    got_log, got_update = threading.Event(), threading.Event()

    def on_log(level: str, source: str, data: Any) -> None:
        logs.append((level, data))
        got_log.set()

    def on_updated(uri: str) -> None:
        updates.append(uri)
        got_update.set()

    with open_session(everything_cmd, "everything", on_log=on_log) as session:
        session.set_logging_level("debug")
        session.call_tool("toggle-simulated-logging")
        assert got_log.wait(10)
        uri = session.list_resources()[0].uri
        session.subscribe_resource(uri, on_updated)
        session.call_tool("toggle-subscriber-updates")
        assert got_update.wait(10)
        session.call_tool("toggle-simulated-logging")
        session.call_tool("toggle-subscriber-updates")
    assert logs[0][0] in syncmcp._session.LOGGING_LEVELS
    assert updates[0] == uri


def test_everything_task_tools(everything_cmd: List[str]) -> None:
    statuses: List[str] = []
    with open_session(everything_cmd, "everything", notification_handler=lambda m, p: statuses.append(p.get("status"))) as session:
        research = next(tool for tool in session.list_tools() if tool.name == "simulate-research-query")
        assert research.task_support == "required"
        # Required task support: call_tool runs it as a task and returns the final result.
        report = session.call_tool("simulate-research-query", {"topic": "otters"}, timeout=60)
        assert "otters" in report.text
        # Status notifications are delivered on their own worker; the last may trail the result.
        assert wait_until(lambda: "completed" in statuses)
        task = session.call_tool_as_task("simulate-research-query", {"topic": "beavers"}, ttl=60)
        assert task.status == "working"
        assert task.task_id
        assert task.cancel() == "cancelled"
        assert task.done


# ----------------------------------------------------------------------------- server-filesystem


def test_filesystem_takes_its_directories_from_the_roots(tmp_path: Path) -> None:
    from .conftest import npm_server

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    command = npm_server("server-filesystem")  # no directory argument: it asks for roots
    with open_session(command, "filesystem", roots=[first]) as session:

        def allowed() -> str:
            return session.call_tool("list_allowed_directories").text

        assert wait_until(lambda: str(first.resolve()) in allowed(), timeout=10)
        session.set_roots([second])
        assert wait_until(lambda: str(second.resolve()) in allowed() and str(first.resolve()) not in allowed(), timeout=10)
        (second / "note.txt").write_text("hello roots")
        assert session.call_tool("read_text_file", {"path": str(second / "note.txt")}).structured_content == {"content": "hello roots"}


# ----------------------------------------------------------------------------- both eras, same code


def elicit_name(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
    return {"action": "accept", "content": {"name": "Grace"}}


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_fastmcp_client_features_in_both_eras(fastmcp_cmd: List[str], era: str) -> None:
    with open_session(
        fastmcp_cmd, "fixture", protocol_era=era, elicitation_handler=elicit_name, sampling_handler=sampler, roots=["/srv/a", "/srv/b"]
    ) as session:
        assert session.era == era
        assert session.call_tool("greet_person").text == "Hello Grace (30)"  # the schema's default filled in
        assert session.call_tool("summarize").text == "model test-model said: echo of 'Say something'"
        assert session.call_tool("count_roots").text == "file:///srv/a file:///srv/b"


def test_fastmcp_is_modern_by_detection_and_time_server_too(fastmcp_cmd: List[str], time_cmd: List[str]) -> None:
    for command, name in ((fastmcp_cmd, "fixture"), (time_cmd, "time")):
        with open_session(command, name) as session:
            assert session.era == "modern"
            assert session.protocol_version == "2026-07-28"
            session.ping()


def exercise(session: ClientSession, tool: str, arguments: Dict[str, Any], expected: str) -> Dict[str, Any]:
    """The same user code, whatever the server's era."""
    names = [t.name for t in session.list_tools()]
    result = session.call_tool(tool, arguments)
    prompts = session.list_prompts()
    resources = session.list_resources()
    return {"has_tool": tool in names, "text": result.text, "expected": expected, "prompts": len(prompts), "resources": len(resources)}


def test_same_code_on_a_legacy_and_a_modern_server(everything_cmd: List[str], fastmcp_cmd: List[str]) -> None:
    with open_session(everything_cmd, "everything") as legacy, open_session(fastmcp_cmd, "fixture") as modern:
        assert (legacy.era, modern.era) == ("legacy", "modern")
        for outcome in (exercise(legacy, "get-sum", {"a": 1, "b": 2}, "The sum of 1 and 2 is 3."), exercise(modern, "add", {"a": 1, "b": 2}, "3")):
            assert outcome["has_tool"]
            assert outcome["text"] == outcome["expected"]
            assert outcome["prompts"] >= 1
            assert outcome["resources"] >= 1


def test_time_server_output_schema_with_local_refs_validates(time_cmd: List[str]) -> None:
    with open_session(time_cmd, "time") as session:
        tool = next(t for t in session.list_tools() if t.name == "convert_time")
        assert "$defs" in json.dumps(tool.output_schema) or "$ref" in json.dumps(tool.output_schema)
        result = session.call_tool("convert_time", {"source_timezone": "UTC", "time": "08:30", "target_timezone": "Europe/Paris"})
        assert set(result.structured_content) >= {"source", "target"}


def test_fastmcp_modern_resource_subscription_over_stdio(fastmcp_cmd: List[str]) -> None:
    updated = threading.Event()
    with open_session(fastmcp_cmd, "fixture") as session:
        assert session.era == "modern"
        session.subscribe_resource("fixture://hello", lambda uri: updated.set(), timeout=10)
        assert session.call_tool("touch", {"uri": "fixture://hello"}).text == "touched fixture://hello"
        assert updated.wait(10)

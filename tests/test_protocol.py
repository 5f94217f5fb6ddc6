"""Protocol completeness against the scripted server: client features, validation, the modern era.

Real servers cover the happy paths (test_real_protocol.py); these are the cases they cannot
produce on demand: broken answers, schema mismatches, endless input loops, late discovery.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List
from unittest import mock

import pytest

import syncmcp
from syncmcp import ClientSession, RemoteProtocolError, SchemaValidationError
from syncmcp._client_features import ClientFeatures, check_elicitation_answer, normalize_roots

from .conftest import scripted, wait_until


def connect_scripted(*flags: str, **kwargs: Any) -> ClientSession:
    command = scripted(*flags)
    kwargs.setdefault("name", "scripted")
    return syncmcp.connect(command[0], command[1:], **kwargs)


def ask(session: ClientSession, method: str, params: Any = None) -> Dict[str, Any]:
    """Make the scripted server send ``method`` to the client; return the client's raw answer."""
    arguments: Dict[str, Any] = {"method": method}
    if params is not None:
        arguments["params"] = params
    return json.loads(session.call_tool("ask_client", arguments).text)  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- roots


def test_roots_accept_paths_and_file_uris_only(tmp_path: Path) -> None:
    roots = normalize_roots([tmp_path, {"uri": "file:///srv", "name": "srv"}, "file:///opt"])
    assert roots == [{"uri": tmp_path.as_uri(), "name": tmp_path.name}, {"uri": "file:///srv", "name": "srv"}, {"uri": "file:///opt"}]
    with pytest.raises(ValueError, match="file://"):
        normalize_roots([{"uri": "https://example.com"}])
    with pytest.raises(ValueError, match="file://"):
        ClientFeatures(roots=["s3://bucket"])


def test_roots_callable_and_set_roots_notify_the_server(tmp_path: Path) -> None:
    current = [tmp_path / "a"]
    with connect_scripted(roots=lambda: current) as session:
        assert ask(session, "roots/list")["result"] == {"roots": [{"uri": (tmp_path / "a").as_uri(), "name": "a"}]}
        current = [Path("relative/dir")]
        assert ask(session, "roots/list")["result"]["roots"][0]["uri"].startswith("file:///")
        current = ["https://not-a-file"]  # type: ignore[list-item]
        error = ask(session, "roots/list")["error"]
        assert error["code"] == -32603
        assert "file://" in error["message"]
        session.set_roots([tmp_path])
        assert ask(session, "roots/list")["result"]["roots"][0]["uri"] == tmp_path.as_uri()


def test_roots_list_without_roots_is_method_not_found() -> None:
    with connect_scripted() as session:
        assert ask(session, "roots/list")["error"]["code"] == -32601
        with pytest.raises(syncmcp.CapabilityError):
            session.set_roots([])


# ----------------------------------------------------------------------------- elicitation

FORM = {
    "message": "Tell us",
    "requestedSchema": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "age": {"type": "integer", "minimum": 0, "default": 20},
            "color": {"type": "string", "oneOf": [{"const": "r", "title": "Red"}, {"const": "g", "title": "Green"}]},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "maxItems": 2},
            "email": {"type": "string", "format": "email"},
        },
        "required": ["name"],
    },
}


def test_accepted_form_gets_its_defaults_and_is_validated() -> None:
    answers: List[Dict[str, Any]] = [
        {"action": "accept", "content": {"name": "Ada", "color": "g", "tags": ["a"]}},
        {"action": "accept", "content": {"name": "Ada", "age": "old"}},
        {"action": "accept", "content": {"name": "Ada", "email": "not an email"}},
        {"action": "maybe"},
        {"action": "decline", "content": {"ignored": True}},
    ]

    def handler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        assert ctx.server == "scripted"
        assert ctx.method == "elicitation/create"
        return answers.pop(0)

    with connect_scripted(elicitation_handler=handler) as session:
        assert ask(session, "elicitation/create", FORM)["result"] == {
            "action": "accept",
            "content": {"name": "Ada", "color": "g", "tags": ["a"], "age": 20},
        }
        error = ask(session, "elicitation/create", FORM)["error"]
        assert error["code"] == -32603
        assert "at 'age'" in error["message"]
        assert "at 'email'" in ask(session, "elicitation/create", FORM)["error"]["message"]
        assert "accept, decline or cancel" in ask(session, "elicitation/create", FORM)["error"]["message"]
        assert ask(session, "elicitation/create", FORM)["result"] == {"action": "decline"}


def test_elicitation_answer_check_is_usable_directly() -> None:
    with pytest.raises(SchemaValidationError) as info:
        check_elicitation_answer(FORM, {"action": "accept", "content": {}})
    assert "'name' is a required property" in str(info.value)
    assert check_elicitation_answer(FORM, {"action": "cancel"}) == {"action": "cancel"}


def test_only_declared_elicitation_modes_are_accepted() -> None:
    calls: List[str] = []
    completed: List[str] = []
    url_request = {"mode": "url", "message": "Log in", "url": "https://example.com/login", "elicitationId": "e-1"}

    def handler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        calls.append(params.get("mode", "form"))
        return {"action": "accept"}

    with connect_scripted(elicitation_handler=handler) as form_only:
        assert form_only.capabilities == {"elicitation": {"form": {}}}
        assert ask(form_only, "elicitation/create", url_request)["error"]["code"] == -32602
    assert calls == []

    handler.modes = ("form", "url")  # type: ignore[attr-defined]
    done = threading.Event()

    def on_complete(elicitation_id: str) -> None:
        completed.append(elicitation_id)
        done.set()

    with connect_scripted(elicitation_handler=handler, on_elicitation_complete=on_complete) as session:
        assert session.capabilities == {"elicitation": {"form": {}, "url": {}}}
        assert ask(session, "elicitation/create", url_request)["result"] == {"action": "accept"}
        for elicitation_id in ("unknown", "e-1", "e-1"):  # unknown and repeated ids are ignored
            session.call_tool("notify", {"method": "notifications/elicitation/complete", "params": {"elicitationId": elicitation_id}})
        assert done.wait(5)
        session.call_tool("echo", {"text": "flush"})
    assert calls == ["url"]
    assert completed == ["e-1"]


# ----------------------------------------------------------------------------- sampling


def test_sampling_with_tools_needs_the_declared_capability() -> None:
    def handler(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        return {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "m"}

    request = {"messages": [], "maxTokens": 5, "tools": [{"name": "t", "inputSchema": {"type": "object"}}]}
    with connect_scripted(sampling_handler=handler) as session:
        assert ask(session, "sampling/createMessage", request)["error"]["code"] == -32602
    with connect_scripted(sampling_handler=handler, sampling_tools=True) as session:
        assert ask(session, "sampling/createMessage", request)["result"]["model"] == "m"


def test_malformed_sampling_result_is_an_error_response() -> None:
    with connect_scripted(sampling_handler=lambda ctx, params: {"text": "no role"}) as session:
        error = ask(session, "sampling/createMessage", {"messages": [], "maxTokens": 5})["error"]
        assert error["code"] == -32603
        assert "role, content, model" in error["message"]


# ----------------------------------------------------------------------------- notifications


def test_tasks_need_the_server_capability() -> None:
    with connect_scripted() as session:
        with pytest.raises(syncmcp.CapabilityError, match="does not run tool calls as tasks"):
            session.call_tool_as_task("echo", {"text": "x"})


def test_unknown_notifications_reach_the_generic_handler() -> None:
    seen: List[Any] = []
    got = threading.Event()

    def on_notification(method: str, params: Dict[str, Any]) -> None:
        seen.append((method, params))
        got.set()

    with connect_scripted(notification_handler=on_notification) as session:
        session.call_tool("notify", {"method": "notifications/custom/thing", "params": {"x": 1}})
        assert got.wait(5)
    assert seen == [("notifications/custom/thing", {"x": 1})]


# ----------------------------------------------------------------------------- validation


def test_invalid_arguments_are_refused_before_anything_is_sent() -> None:
    with connect_scripted() as session:
        session.list_tools()
        sent = session.stats["sent"]
        with pytest.raises(SchemaValidationError, match="tool 'add' on 'scripted'.*at 'a': 'x' is not of type 'number'") as info:
            session.call_tool("add", {"a": "x", "b": 1})
        assert info.value.path == ["a"]
        with pytest.raises(SchemaValidationError, match="'b' is a required property"):
            session.call_tool("add", {"a": 1})
        assert session.stats["sent"] == sent
        with pytest.raises(syncmcp.RemoteError):  # opted out: the server sees it (and fails)
            session.call_tool("add", {"a": 1}, validate=False)


def test_schema_is_fetched_once_when_the_first_call_comes_before_any_listing() -> None:
    with connect_scripted() as session:
        with pytest.raises(SchemaValidationError):
            session.call_tool("add", {"a": "x", "b": 1})
        sent = session.stats["sent"]
        assert session.call_tool("add", {"a": 1, "b": 2}).text == "3"
        assert session.stats["sent"] == sent + 1  # no second tools/list


def test_structured_result_mismatch_raises_with_the_full_result() -> None:
    with connect_scripted() as session:
        assert session.call_tool("structured", {"value": 3}).structured_content == {"value": 3}
        with pytest.raises(SchemaValidationError) as info:
            session.call_tool("structured", {"value": "three"})
        assert "output schema" in str(info.value)
        assert info.value.path == ["value"]
        result = info.value.result
        assert isinstance(result, syncmcp.CallToolResult)
        assert result.structured_content == {"value": "three"}
        assert result.text == json.dumps({"value": "three"})
        with pytest.raises(SchemaValidationError, match="returned no structuredContent") as missing:
            session.call_tool("structured_missing")
        assert missing.value.result.text == "no structured content here"
        assert session.call_tool("structured", {"value": "three"}, validate=False).structured_content == {"value": "three"}
    with connect_scripted(validate_output=False) as lenient:
        assert lenient.call_tool("structured_missing").text == "no structured content here"


def test_validators_are_compiled_once_per_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    import syncmcp._validation as validation

    compiled: List[Any] = []
    original = validation._compile_fast

    def counting(schema: Any, check_formats: bool) -> Any:
        compiled.append(schema)
        return original(schema, check_formats)

    monkeypatch.setattr(validation, "_compile_fast", counting)
    with connect_scripted() as session:
        for value in range(5):
            session.call_tool("structured", {"value": value})
            session.call_tool("add", {"a": value, "b": 1})
    # Ten calls, three schemas (input and output of "structured", input of "add"), each compiled once.
    assert len(compiled) == 3
    assert {"value": {"type": "integer"}} in [schema.get("properties") for schema in compiled]


def test_remote_refs_are_never_fetched(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a schema $ref was fetched from the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    from syncmcp._validation import SchemaValidators, describe_errors

    schema = {"type": "object", "properties": {"x": {"$ref": "https://example.invalid/x.json"}}}
    with caplog.at_level("WARNING", logger="syncmcp.validation"):
        assert describe_errors(SchemaValidators().get(schema), {"x": 1}) is None
    assert "Unresolvable" in caplog.text


# ----------------------------------------------------------------------------- the modern era


def test_modern_server_is_detected_and_every_request_carries_the_envelope() -> None:
    with connect_scripted("--modern", client_info={"name": "tester", "version": "9"}) as session:
        assert session.era == "modern"
        assert session.protocol_version == "2026-07-28"
        assert session.server_info.name == "scripted-modern"
        meta = json.loads(session.call_tool("seen_meta").text)
        assert meta["io.modelcontextprotocol/protocolVersion"] == "2026-07-28"
        assert meta["io.modelcontextprotocol/clientCapabilities"] == {}
        assert meta["io.modelcontextprotocol/clientInfo"] == {"name": "tester", "version": "9"}


def test_input_required_rounds_are_fulfilled_and_retried() -> None:
    calls: List[str] = []

    def elicit(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        calls.append(str(ctx.request_id))
        return {"action": "accept", "content": {"name": "Ada"}}

    with connect_scripted("--modern", elicitation_handler=elicit, roots=["/srv/data"]) as session:
        answer = json.loads(session.call_tool("needs_input").text)
    assert calls == ["who"]
    assert answer["state"] == "opaque-state-1"  # echoed verbatim
    assert answer["responses"] == {
        "who": {"action": "accept", "content": {"name": "Ada", "age": 7}},
        "where": {"roots": [{"uri": "file:///srv/data", "name": "data"}]},
    }


def test_a_modern_url_elicitation_needs_no_elicitation_id() -> None:
    """2026-07-28 dropped ``elicitationId`` and the completion notice: the handler still runs."""
    asked: List[Dict[str, Any]] = []

    def elicit(ctx: syncmcp.RequestContext, params: Dict[str, Any]) -> Dict[str, Any]:
        asked.append(params)
        return {"action": "accept"}

    elicit.modes = ("form", "url")  # type: ignore[attr-defined]
    with connect_scripted("--modern", elicitation_handler=elicit) as session:
        answer = json.loads(session.call_tool("needs_input", {"mode": "url"}).text)
    assert asked == [{"mode": "url", "message": "Sign in", "url": "https://example.com/auth"}]
    assert answer["responses"] == {"login": {"action": "accept"}}


def test_endless_input_required_loop_is_bounded() -> None:
    with connect_scripted("--modern", max_input_rounds=3) as session:
        with pytest.raises(RemoteProtocolError, match="still required input after 3 rounds"):
            session.call_tool("endless_input")
        with pytest.raises(RemoteProtocolError, match="unknown resultType 'streaming'"):
            session.call_tool("odd_result_type")
        assert session.call_tool("echo", {"text": "fine"}).text == "fine"


def test_input_request_for_an_undeclared_capability_is_a_protocol_error() -> None:
    with connect_scripted("--modern") as session:
        with pytest.raises(RemoteProtocolError, match="asked for elicitation/create, which this client did not declare"):
            session.call_tool("needs_input")


def test_a_refused_modern_subscription_fails_at_once_and_keeps_nothing() -> None:
    with connect_scripted("--modern", "--listen", "refuse") as session:
        started = time.monotonic()
        with pytest.raises(syncmcp.RemoteError, match="scripted: no subscriptions"):
            session.subscribe_resource("scripted://doc/1", lambda uri: None, timeout=30)
        assert time.monotonic() - started < 10  # the error, not the timeout
        assert session._subscriptions.subscribed() == {}


def test_a_modern_stream_the_server_ends_is_reported_and_reopened_by_the_next_subscription(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with connect_scripted("--modern", "--listen", "accept") as session:
        session.subscribe_resource("scripted://doc/1", lambda uri: None)
        first = session._subscriptions.stream
        assert first is not None
        with caplog.at_level(logging.WARNING, logger="syncmcp.session"):
            assert session.call_tool("end_listen").text == str(first.id)
            assert wait_until(lambda: session._subscriptions.stream is None and first.done())
            # The warning follows the bookkeeping on the settling thread: wait for it too.
            assert wait_until(lambda: "ended its subscriptions/listen stream" in caplog.text)
        with pytest.raises(syncmcp.RequestCancelled, match="ended by the server"):
            first.result(0)
        session.subscribe_resource("scripted://doc/2", lambda uri: None)  # a new stream with both URIs
        stream = session._subscriptions.stream
        assert stream is not None and stream.id > first.id and not stream.done()


def test_a_failed_subscription_keeps_the_earlier_callbacks_of_its_uri() -> None:
    with connect_scripted("--modern", "--listen", "accept") as session:
        kept = lambda uri: None  # noqa: E731
        session.subscribe_resource("scripted://doc/1", kept)
        with mock.patch.object(session._subscriptions, "restart", side_effect=syncmcp.RequestTimeout("scripted")):
            with pytest.raises(syncmcp.RequestTimeout):
                session.subscribe_resource("scripted://doc/1", lambda uri: None)
        assert session._subscriptions.subscribed() == {"scripted://doc/1": [kept]}


def test_era_can_be_forced() -> None:
    with connect_scripted("--modern", protocol_era="legacy") as session:
        assert session.era == "legacy"
        assert session.protocol_version == "2025-11-25"
    with pytest.raises(syncmcp.RemoteError):
        connect_scripted(protocol_era="modern")


def test_late_discovery_answer_switches_to_the_modern_era() -> None:
    """discover answered after the probe gave up: initialize is refused (-32022), so modern."""
    with connect_scripted("--modern", "--discover-delay", "0.6", discovery_timeout=0.2, timeout=10) as session:
        assert session.era == "modern"
        assert session.call_tool("echo", {"text": "late"}).text == "late"

"""The elicitation router on its own: keyed by (server, request id), answered from any thread."""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import pytest

import syncmcp._elicitation
from syncmcp import (
    ElicitationCancelled,
    ElicitationRequest,
    SchemaValidationError,
    UnknownElicitationError,
    check_elicitation_answer,
)
from syncmcp._elicitation import ElicitationRouter, normalize_elicitation_response

PARAMS = {"message": "Your name?", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}


class Harness:
    def __init__(self, timeout: float = 30.0) -> None:
        self.events: List[Any] = []
        self.asked = threading.Event()
        self.router = ElicitationRouter(self.emit, timeout)

    def emit(self, event: Any) -> None:
        self.events.append(event)
        if isinstance(event, ElicitationRequest):
            self.asked.set()

    def ask(self, server: str, request_id: Any, cancelled: threading.Event) -> Dict[str, Any]:
        answers: Dict[str, Any] = {}
        thread = threading.Thread(target=lambda: answers.update(result=self.router.handle(server, request_id, dict(PARAMS), cancelled)))
        thread.start()
        answers["thread"] = thread
        return answers


def test_answer_from_another_thread_reaches_the_waiting_handler() -> None:
    harness = Harness()
    answers = harness.ask("srv", 0, threading.Event())
    assert harness.asked.wait(5)
    request = harness.events[0]
    assert (request.server, request.request_id, request.message, request.mode) == ("srv", 0, "Your name?", "form")
    assert request.requested_schema == PARAMS["requestedSchema"]
    assert harness.router.pending() == [request]
    harness.router.resolve("srv", 0, {"action": "accept", "content": {"name": "Ada"}})
    answers["thread"].join(5)
    assert answers["result"] == {"action": "accept", "content": {"name": "Ada"}}
    assert harness.router.pending() == []


def test_ids_are_per_server() -> None:
    harness = Harness()
    first = harness.ask("a", 1, threading.Event())
    second = harness.ask("b", 1, threading.Event())
    assert harness.asked.wait(5)
    harness.router.resolve("b", 1, "decline")
    second["thread"].join(5)
    assert second["result"] == {"action": "decline"}
    assert first["thread"].is_alive()
    harness.router.resolve("a", 1, "cancel")
    first["thread"].join(5)
    assert first["result"] == {"action": "cancel"}


def test_unknown_pair_is_a_clear_error() -> None:
    harness = Harness()
    answers = harness.ask("srv", 3, threading.Event())
    assert harness.asked.wait(5)
    with pytest.raises(UnknownElicitationError, match=r"^elicitation request not found: MCP server 'srv', request id 4 \(pending for it: 3\)"):
        harness.router.resolve("srv", 4, "decline")
    with pytest.raises(UnknownElicitationError, match="none is pending"):
        harness.router.resolve("other", 3, "decline")
    with pytest.raises(LookupError):
        harness.router.resolve("srv", "3", "decline")  # ids are matched exactly, as sent
    harness.router.resolve("srv", 3, "decline")
    answers["thread"].join(5)


def test_an_invalid_answer_is_refused_and_the_question_stays_pending() -> None:
    harness = Harness()
    answers = harness.ask("srv", 0, threading.Event())
    assert harness.asked.wait(5)
    with pytest.raises(SchemaValidationError, match="^an elicitation answer needs action accept, decline or cancel, got 'yes'$"):
        harness.router.resolve("srv", 0, {"action": "yes"})
    with pytest.raises(SchemaValidationError, match="content must be an object, got list"):
        harness.router.resolve("srv", 0, {"action": "accept", "content": ["Ada"]})
    with pytest.raises(ValueError, match="must be a dict or an action string, got int"):
        harness.router.resolve("srv", 0, 42)
    with pytest.raises(SchemaValidationError, match="at 'name': 5 is not of type 'string'"):
        harness.router.resolve("srv", 0, {"action": "accept", "content": {"name": 5}})
    assert len(harness.router.pending()) == 1
    harness.router.resolve("srv", 0, "accept")
    answers["thread"].join(5)
    assert answers["result"] == {"action": "accept", "content": {}}  # an accepted form always carries its content


def test_an_unanswered_question_is_declined_after_the_timeout() -> None:
    harness = Harness(timeout=0.2)
    answers = harness.ask("srv", 0, threading.Event())
    answers["thread"].join(5)
    assert answers["result"] == {"action": "decline"}
    assert isinstance(harness.events[-1], ElicitationCancelled)
    assert "timed out" in harness.events[-1].reason
    with pytest.raises(UnknownElicitationError):
        harness.router.resolve("srv", 0, "accept")


def test_a_server_cancellation_removes_the_entry() -> None:
    harness = Harness()
    cancelled = threading.Event()
    answers = harness.ask("srv", 9, cancelled)
    assert harness.asked.wait(5)
    cancelled.set()
    answers["thread"].join(5)
    assert answers["result"] == {"action": "cancel"}
    assert harness.router.pending() == []
    assert isinstance(harness.events[-1], ElicitationCancelled)


def test_close_and_drop_server_release_every_waiter() -> None:
    harness = Harness()
    a = harness.ask("a", 0, threading.Event())
    b = harness.ask("b", 0, threading.Event())
    assert harness.asked.wait(5)
    harness.router.drop_server("a")
    a["thread"].join(5)
    assert a["result"] == {"action": "cancel"}
    harness.router.close()
    b["thread"].join(5)
    assert b["result"] == {"action": "cancel"}
    assert harness.router.handle("c", 0, dict(PARAMS), threading.Event()) == {"action": "cancel"}  # after close


def test_a_handler_answers_directly() -> None:
    seen = []
    router = ElicitationRouter(seen.append, 5, handler=lambda server, rid, params: {"action": "accept", "content": {"s": server, "id": rid}})
    assert router.handle("srv", 7, dict(PARAMS), threading.Event()) == {"action": "accept", "content": {"s": "srv", "id": 7}}
    assert seen == []  # no event in handler mode


def test_normalize_accepts_objects_with_to_dict() -> None:
    class Answer:
        def to_dict(self) -> Dict[str, Any]:
            return {"action": "accept", "content": {"x": 1}}

    assert normalize_elicitation_response(Answer()) == {"action": "accept", "content": {"x": 1}}
    with pytest.raises(ValueError):
        normalize_elicitation_response(42)


def test_the_router_checks_answers_by_the_sessions_one_rule() -> None:
    """One source of truth for elicitation answers: the router has no action list of its own and
    answers exactly as ``check_elicitation_answer`` (the rule a session applies to a handler's
    answer) says, for a form and for a URL elicitation."""
    assert not hasattr(syncmcp._elicitation, "ELICITATION_ACTIONS")
    url = {"mode": "url", "message": "Sign in", "url": "https://example.com", "elicitationId": "e"}
    answers = [
        {"action": "accept", "content": {"name": "Ada"}},
        {"action": "accept"},
        {"action": "decline", "content": {"name": "Ada"}},  # content goes with an accepted form only
        {"action": "cancel"},
    ]
    for params in (PARAMS, url):
        for answer in answers:
            assert normalize_elicitation_response(answer, params) == check_elicitation_answer(params, answer)
    for bad in ({"action": "yes"}, {"action": "accept", "content": {"name": 5}}):
        with pytest.raises(SchemaValidationError) as ours:
            normalize_elicitation_response(bad, PARAMS)
        with pytest.raises(SchemaValidationError) as sessions:
            check_elicitation_answer(PARAMS, bad)
        assert str(ours.value) == str(sessions.value)


def test_content_sent_with_a_decline_is_dropped_not_forwarded() -> None:
    harness = Harness()
    answers = harness.ask("srv", 0, threading.Event())
    assert harness.asked.wait(5)
    harness.router.resolve("srv", 0, {"action": "decline", "content": {"name": "Ada"}})
    answers["thread"].join(5)
    assert answers["result"] == {"action": "decline"}

"""The one-shot reply a pending request's outcome lands in."""

from __future__ import annotations

import threading
from typing import List

import pytest

from syncmcp._reply import Reply


def test_a_waiter_on_another_thread_gets_the_value_and_so_does_every_later_waiter() -> None:
    reply = Reply()
    got: List[object] = []
    waiters = [threading.Thread(target=lambda: got.append(reply.wait(30.0) and reply.outcome())) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    reply.set_result({"ok": 1})
    for waiter in waiters:
        waiter.join(30.0)
    assert got == [{"ok": 1}] * 3
    assert reply.done() and reply.wait(None) and reply.wait(0.0)


def test_an_unsettled_reply_times_out_and_an_error_is_raised_by_outcome() -> None:
    reply = Reply()
    assert not reply.wait(0.01) and not reply.done()
    reply.set_exception(ValueError("nope"))
    with pytest.raises(ValueError, match="nope"):
        reply.outcome()


def test_a_reply_is_settled_once() -> None:
    reply = Reply()
    reply.set_result(1)
    with pytest.raises(RuntimeError):
        reply.set_exception(ValueError("late"))
    assert reply.outcome() == 1


def test_done_callbacks_run_on_settling_or_at_once_when_already_settled() -> None:
    reply = Reply()
    calls: List[str] = []
    reply.on_done(lambda: calls.append("first"))
    reply.on_done(lambda: calls.append("second"))
    assert calls == []
    reply.set_result(None)
    assert calls == ["first", "second"]
    reply.on_done(lambda: calls.append("late"))
    assert calls == ["first", "second", "late"]


def test_take_is_a_wait_for_the_only_waiter() -> None:
    reply = Reply()
    assert reply.take(0.01) is False  # times out; the reply can still be waited on
    threading.Timer(0.05, reply.set_result, ("v",)).start()
    assert reply.take(5) is True and reply.outcome() == "v"
    assert reply.take(0) is True  # settled: true at once
    failed = Reply()
    failed.set_exception(ValueError("boom"))
    assert failed.take(None) is True
    with pytest.raises(ValueError, match="boom"):
        failed.outcome()

"""ToolTask on its own: status updates, polling, and timeouts that default to the session's."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict, List

import pytest

from syncmcp import DEFAULT, CallToolResult, RequestTimeout, ToolTask


def make_task(answers: Dict[str, Any], default: float = 0.3) -> tuple[ToolTask, List[Any]]:
    calls: List[Any] = []

    def request(method: str, params: Dict[str, Any], timeout: Any) -> Any:
        calls.append((method, timeout))
        return answers[method]

    task = ToolTask(request, "research", {"taskId": "t1", "status": "working", "pollInterval": 50}, CallToolResult.from_dict, lambda: default)
    return task, calls


def test_methods_pass_the_default_timeout_through_and_wait_is_bounded_by_it() -> None:
    task, calls = make_task({"tasks/get": {"taskId": "t1", "status": "working"}, "tasks/cancel": {"taskId": "t1", "status": "cancelled"}})
    start = time.monotonic()
    with pytest.raises(RequestTimeout, match="still working"):
        task.wait()  # the session's default (0.3 s here), not forever
    assert 0.25 <= time.monotonic() - start < 3
    assert task.cancel() == "cancelled"
    assert calls[-1] == ("tasks/cancel", DEFAULT)
    assert task.done


def test_a_status_notification_wakes_the_waiter_before_the_next_poll() -> None:
    task, calls = make_task(
        {"tasks/get": {"taskId": "t1", "status": "working"}, "tasks/result": {"content": [{"type": "text", "text": "report"}]}},
        default=10,
    )
    timer = threading.Timer(0.1, task.update, ({"taskId": "t1", "status": "completed"},))
    timer.start()
    try:
        assert task.result().text == "report"
    finally:
        timer.join()
    assert task.status == "completed"
    assert calls[-1][0] == "tasks/result"
    assert task.poll_interval == 0.05


def test_a_wait_that_runs_out_reports_the_task_not_a_last_zero_second_poll() -> None:
    polls: List[Any] = []

    def request(method: str, params: Dict[str, Any], timeout: Any) -> Any:
        polls.append(timeout)
        if timeout is not None and timeout <= 0:
            raise RequestTimeout(f"{method} timed out after 0 s", timeout=0)
        return {"taskId": "t1", "status": "working"}

    task = ToolTask(request, "research", {"taskId": "t1", "status": "working", "pollInterval": 50}, CallToolResult.from_dict, lambda: 10)
    with pytest.raises(RequestTimeout, match=r"task t1 \(research\) still working after 0.12 s"):
        task.wait(0.12)
    assert polls and all(timeout > 0 for timeout in polls)

"""Task handles for task-augmented ``tools/call`` (MCP 2025-11-25, experimental).

A server declaring ``capabilities.tasks.requests.tools.call`` may run a tool call as a *task*:
the call answers at once with ``CreateTaskResult {task}``, and the client then follows the task
with ``tasks/get`` (respecting the server's ``pollInterval``) and optional
``notifications/tasks/status``, fetches the outcome with ``tasks/result`` (exactly what the plain
call would have returned, errors included) or stops it with ``tasks/cancel``.

Example::

    task = session.call_tool_as_task("simulate-research-query", {"topic": "x"})
    print(task.status)                       # working
    print(task.result(timeout=60).text)      # the tool's final result
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional

from ._exceptions import RequestTimeout
from ._timeout import DEFAULT, Timeout, resolve_timeout
from ._types import CallToolResult

__all__ = ["TERMINAL_TASK_STATUSES", "ToolTask"]

#: Statuses after which a task never changes again.
TERMINAL_TASK_STATUSES = ("completed", "failed", "cancelled")
#: Polling interval when the server suggests none, in seconds.
DEFAULT_POLL_INTERVAL = 1.0
#: Bounds on the server's suggestion, so a bad value neither spins nor stalls.
_MIN_POLL, _MAX_POLL = 0.05, 30.0

Requester = Callable[[str, Dict[str, Any], Timeout], Any]


class ToolTask:
    """A tool call running as a task on the server. Thread-safe.

    Created by ``ClientSession.call_tool_as_task``; ``status`` reflects the latest state
    known (from polling or from ``notifications/tasks/status``).

    Attributes:
        task_id: the server's id for the task.
        tool: the tool's name.

    Example::

        task = session.call_tool_as_task("simulate-research-query", {"topic": "otters"})
        print(task.wait(timeout=60))            # completed (or input_required, failed...)
        print(task.result(timeout=60).text)
    """

    def __init__(
        self,
        request: Requester,
        tool: str,
        task: Mapping[str, Any],
        convert: Callable[[Any], CallToolResult],
        default_timeout: Callable[[], Optional[float]] = lambda: None,
    ) -> None:
        self._request = request
        self._default_timeout = default_timeout
        self._convert = convert
        self._cond = threading.Condition()
        self._task: Dict[str, Any] = dict(task)
        self.task_id = str(task.get("taskId", ""))
        self.tool = tool

    def __repr__(self) -> str:
        return f"<ToolTask {self.tool} id={self.task_id} {self.status}>"

    @property
    def status(self) -> str:
        """``working``, ``input_required``, ``completed``, ``failed`` or ``cancelled``."""
        with self._cond:
            return str(self._task.get("status", "working"))

    @property
    def status_message(self) -> Optional[str]:
        """The server's human-readable note on the status, if any."""
        with self._cond:
            message = self._task.get("statusMessage")
        return message if isinstance(message, str) else None

    @property
    def poll_interval(self) -> float:
        """Seconds between polls: the server's ``pollInterval`` (bounded), else 1 s."""
        with self._cond:
            value = self._task.get("pollInterval")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return min(_MAX_POLL, max(_MIN_POLL, value / 1000.0))
        return DEFAULT_POLL_INTERVAL

    @property
    def done(self) -> bool:
        """Whether the task reached a terminal status."""
        return self.status in TERMINAL_TASK_STATUSES

    @property
    def raw(self) -> Dict[str, Any]:
        """The latest ``Task`` object as the server sent it."""
        with self._cond:
            return dict(self._task)

    def update(self, task: Mapping[str, Any]) -> None:
        """Record a newer ``Task`` state (from a poll or ``notifications/tasks/status``)."""
        with self._cond:
            self._task.update(task)
            self._cond.notify_all()

    def refresh(self, *, timeout: Timeout = DEFAULT) -> str:
        """Ask the server for the task's state (``tasks/get``); returns the status."""
        self.update(self._request("tasks/get", {"taskId": self.task_id}, timeout))
        return self.status

    def wait(self, timeout: Timeout = DEFAULT) -> str:
        """Block until the task is terminal or needs input; returns the status.

        Polls ``tasks/get`` every :attr:`poll_interval` seconds, waking early when a status
        notification arrives. ``timeout``: seconds, ``DEFAULT`` (the session's timeout) or
        ``None`` (no limit).

        Raises:
            RequestTimeout: still running after ``timeout`` seconds.
        """
        timeout = resolve_timeout(timeout, self._default_timeout())
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status
            if status in TERMINAL_TASK_STATUSES or status == "input_required":
                return status
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise RequestTimeout(f"task {self.task_id} ({self.tool}) still {status} after {timeout:g} s", timeout=timeout)
            pause = self.poll_interval if remaining is None else min(self.poll_interval, remaining)
            with self._cond:
                notified = self._cond.wait_for(self._status_differs(status), pause)
            if not notified:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    continue  # no time left to poll: the loop reports the task's own timeout
                try:
                    self.refresh(timeout=remaining)
                except RequestTimeout:
                    if deadline is not None and time.monotonic() >= deadline:
                        continue  # the poll used up the last of the time: same report
                    raise

    def _status_differs(self, status: str) -> Callable[[], bool]:
        return lambda: self._task.get("status") != status

    def result(self, timeout: Timeout = DEFAULT) -> CallToolResult:
        """Wait for the task to finish and return the tool's result (``tasks/result``).

        When the task needs input, ``tasks/result`` is sent at once: the server then delivers its
        elicitation or sampling requests to the session's handlers before it completes.

        Raises:
            RequestTimeout: not finished within ``timeout`` seconds.
            RemoteError: the tool call failed as a protocol error.
        """
        timeout = resolve_timeout(timeout, self._default_timeout())
        deadline = None if timeout is None else time.monotonic() + timeout
        self.wait(timeout)
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        result = self._convert(self._request("tasks/result", {"taskId": self.task_id}, remaining))
        with self._cond:
            if self._task.get("status") not in TERMINAL_TASK_STATUSES:
                self._task["status"] = "failed" if result.is_error else "completed"
        return result

    def cancel(self, *, timeout: Timeout = DEFAULT) -> str:
        """Ask the server to cancel the task (``tasks/cancel``); returns the new status."""
        self.update(self._request("tasks/cancel", {"taskId": self.task_id}, timeout))
        return self.status

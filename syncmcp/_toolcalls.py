"""A session's tool calls: tool definitions, schema validation, and calls run as tasks.

A call looks its tool up in the session's cached ``tools/list`` (listing once if the tool is
unknown; a call never costs a listing otherwise), checks the arguments against the tool's
``inputSchema`` before anything is sent and the ``structuredContent`` against its
``outputSchema`` when the result arrives. A stale listing (the server said the tools changed, or
its ``ttlMs`` expired) that refuses is re-checked once against a fresh one. A tool whose
``execution.taskSupport`` is ``required`` runs as a task (MCP 2025-11-25) when the server runs
tool calls as tasks; the :class:`~syncmcp.ToolTask` handles are kept, weakly, so that
``notifications/tasks/status`` reaches them. Whether a call may be made at all (the session is
open, the server declared tools) is the session's decision.

Example::

    tools = ToolCalls(session, listings.cache("tools"), listing, declared)
    result = tools.call("add", {"a": 1, "b": 2}, 30.0)
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

from ._endpoint import ProgressCallback
from ._exceptions import MCPError, RemoteError, RemoteProtocolError, SchemaValidationError
from ._listcache import ListCache
from ._tasks import ToolTask
from ._timeout import DEFAULT, Timeout, remaining
from ._types import CallToolResult, Tool
from ._validation import SchemaValidators, describe_errors, first_error_path

__all__ = ["ToolCallOwner", "ToolCalls"]

logger = logging.getLogger("syncmcp.session")


class ToolCallOwner(Protocol):
    """What tool calls need from their session."""

    name: str
    validate_input: bool
    validate_output: bool

    @property
    def timeout(self) -> Optional[float]:
        """The session's default timeout (task handles follow it)."""

    @property
    def server_capabilities(self) -> Dict[str, Any]:
        """The capabilities the server declared."""

    def request(
        self,
        method: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        timeout: Timeout = DEFAULT,
        on_progress: Optional[ProgressCallback] = None,
        reset_timeout_on_progress: bool = False,
        max_total_timeout: Optional[float] = None,
    ) -> Any:
        """Send a request and wait for its result."""


class ToolCalls:
    """Tool calls of one session, validated against the listed schemas (thread-safe).

    Args:
        session: the session the calls go through.
        tools: the cache of the session's tool listing (peeked at, never filled here).
        listing: ``fn(timeout, refresh)``: the session's tool listing, fetched if stale.
        declared: ``fn()``: whether tools may be listed (the server declared them).
        send: ``fn(method, params, limit, on_progress, reset_on_progress, max_total)``: send a
            request and wait ``limit`` seconds (already resolved) for its result.
    """

    def __init__(
        self,
        session: ToolCallOwner,
        tools: ListCache,
        listing: Callable[[Optional[float], bool], List[Any]],
        declared: Callable[[], bool],
        send: Callable[[str, Dict[str, Any], Optional[float], Optional[ProgressCallback], bool, Optional[float]], Any],
    ) -> None:
        self._session = session
        self._send = send
        self._cache = tools
        self._listing = listing
        self._declared = declared
        # (the listing the index was built from, name -> tool); swapped whole, read without a lock
        self._index: Tuple[Optional[List[Tool]], Dict[str, Tool]] = (None, {})
        self._validators = SchemaValidators()
        self._task_support: Optional[bool] = None
        self._tasks: weakref.WeakValueDictionary[str, ToolTask] = weakref.WeakValueDictionary()

    def call(
        self,
        name: str,
        arguments: Optional[Mapping[str, Any]],
        limit: Optional[float],
        on_progress: Optional[ProgressCallback] = None,
        reset_timeout_on_progress: bool = False,
        max_total_timeout: Optional[float] = None,
        validate: Optional[bool] = None,
        meta: Optional[Mapping[str, Any]] = None,
    ) -> CallToolResult:
        """Call a tool within ``limit`` seconds (``None``: no limit); see ``ClientSession.call_tool``.

        Raises:
            SchemaValidationError: the arguments or the structured result do not match the schema.
            RequestTimeout, RemoteError, ConnectionClosed: see ``ClientSession.request``.
        """
        session = self._session
        if validate is None:
            check_in, check_out = session.validate_input, session.validate_output
        else:
            check_in = check_out = validate
        tasks = self._task_support
        if tasks is None:
            tasks = self.supports_tasks()
        deadline = None if limit is None else time.monotonic() + limit
        fresh = True  # nothing took time yet: the send gets ``limit`` as it is
        tool: Optional[Tool] = None
        if check_in or check_out or tasks:
            listed, index = self._index
            if listed is not None and listed is self._cache.peek():
                tool = index.get(name)
            if tool is None:
                fresh = False
                tool = self._definition(name, limit)
        args = dict(arguments) if arguments is not None else None
        # The common case, valid arguments, costs one compiled check; a refusal is explained, and
        # re-checked against a fresh listing if the cached one is stale.
        if check_in and tool is not None and tool.input_schema and not self._validators.get(tool.input_schema).check(args or {}):
            fresh = False
            tool = self._checked_with_fresh_schema(name, tool, lambda t: self._check_arguments(t, args), deadline)
        if tool is not None and tasks and tool.task_support == "required":
            task = self._start_task(name, tool, args, None, remaining(deadline), check_out)
            return task.result(remaining(deadline))
        params: Dict[str, Any] = {"name": name}
        if args is not None:
            params["arguments"] = args
        if meta:
            params["_meta"] = dict(meta)
        reset = reset_timeout_on_progress and on_progress is not None
        raw = self._send("tools/call", params, limit if fresh else remaining(deadline), on_progress, reset, max_total_timeout)
        result = CallToolResult.from_dict(raw)
        if not check_out or tool is None or tool.output_schema is None or result.is_error:
            return result  # nothing to check
        checked: List[CallToolResult] = []
        self._checked_with_fresh_schema(name, tool, lambda t: checked.append(self._checked(t, result)), deadline)
        return checked[-1]

    def start(
        self,
        name: str,
        arguments: Optional[Mapping[str, Any]],
        ttl: Optional[float],
        limit: Optional[float],
        validate: Optional[bool],
    ) -> ToolTask:
        """Start a tool call as a task; see ``ClientSession.call_tool_as_task``."""
        session = self._session
        check_in = session.validate_input if validate is None else validate
        check_out = session.validate_output if validate is None else validate
        tool = self._definition(name, limit)
        args = dict(arguments) if arguments is not None else None
        if check_in:
            self._check_arguments(tool, args)
        return self._start_task(name, tool, args, ttl, limit, check_out)

    def supports_tasks(self) -> bool:
        """Whether the server runs tool calls as tasks (``tasks.requests.tools.call``)."""
        supported = self._task_support
        if supported is None:  # the capabilities never change after initialize: decide once
            tasks = self._session.server_capabilities.get("tasks")
            requests = tasks.get("requests") if isinstance(tasks, Mapping) else None
            tools = requests.get("tools") if isinstance(requests, Mapping) else None
            supported = self._task_support = isinstance(tools, Mapping) and "call" in tools
        return supported

    def task_status(self, params: Mapping[str, Any]) -> None:
        """Pass a ``notifications/tasks/status`` to its task handle, if one is still alive."""
        task = self._tasks.get(str(params.get("taskId")))
        if task is not None:
            task.update(params)

    def _definition(self, name: str, timeout: Optional[float], refresh: bool = False) -> Optional[Tool]:
        """The tool's definition from the cached listing, listing (again) once if unknown.

        A stale listing is used as it is (a call must not cost a listing); callers re-check with
        ``refresh=True`` when a stale schema refuses something.
        """
        if not self._declared():
            return None
        tools = None if refresh else self._cache.peek()
        for attempt in range(2):
            if tools is None or attempt == 1:
                try:
                    tools = self._listing(timeout, tools is not None)
                except (RemoteError, RemoteProtocolError) as exc:
                    logger.debug("'%s': cannot list tools to find %r: %s", self._session.name, name, exc)
                    return None
            listed, index = self._index
            if listed is not tools:
                index = {tool.name: tool for tool in tools}
                self._index = (tools, index)
            if name in index:
                return index[name]
        return None

    def _check_arguments(self, tool: Optional[Tool], arguments: Optional[Dict[str, Any]]) -> None:
        if tool is None or not tool.input_schema:
            return
        validator = self._validators.get(tool.input_schema)
        instance = arguments if arguments is not None else {}
        problem = describe_errors(validator, instance)
        if problem is None:
            return
        raise SchemaValidationError(
            f"arguments for tool '{tool.name}' on '{self._session.name}' do not match its input schema: {problem}",
            path=first_error_path(validator, instance),
        )

    def _result(self, tool: Optional[Tool], raw: Any, validate: bool) -> CallToolResult:
        result = CallToolResult.from_dict(raw)
        return self._checked(tool, result) if validate else result

    def _checked(self, tool: Optional[Tool], result: CallToolResult) -> CallToolResult:
        """``result``, once its structured content matches the tool's output schema (if it has one)."""
        if tool is None or tool.output_schema is None or result.is_error:
            return result
        server = self._session.name
        if not result.has_structured_content:
            raise SchemaValidationError(
                f"tool '{tool.name}' on '{server}' declares an output schema but returned no structuredContent", result=result
            )
        validator = self._validators.get(tool.output_schema)
        problem = describe_errors(validator, result.structured_content)
        if problem is None:
            return result
        raise SchemaValidationError(
            f"structured result of tool '{tool.name}' on '{server}' does not match its output schema: {problem}",
            result=result,
            path=first_error_path(validator, result.structured_content),
        )

    def _checked_with_fresh_schema(
        self, name: str, tool: Optional[Tool], check: Callable[[Optional[Tool]], None], deadline: Optional[float]
    ) -> Optional[Tool]:
        """Run ``check`` with ``tool``, re-checking once with a fresh listing if a stale one refuses.

        Stale: the server said the tools changed (or the listing's ``ttlMs`` expired).
        """
        try:
            check(tool)
            return tool
        except SchemaValidationError as refused:
            if self._cache.fresh():
                raise
            try:
                tool = self._definition(name, remaining(deadline), refresh=True)
            except MCPError as exc:
                # Listing again failed: the stale refusal stands, with the result it carries.
                raise refused from exc
        check(tool)
        return tool

    def _start_task(
        self,
        name: str,
        tool: Optional[Tool],
        args: Optional[Dict[str, Any]],
        ttl: Optional[float],
        timeout: Optional[float],
        validate: bool,
    ) -> ToolTask:
        session = self._session
        params: Dict[str, Any] = {"name": name, "task": {} if ttl is None else {"ttl": int(ttl * 1000)}}
        if args is not None:
            params["arguments"] = args
        raw = session.request("tools/call", params, timeout=timeout)
        task = raw.get("task") if isinstance(raw, Mapping) else None
        if not isinstance(task, Mapping) or not isinstance(task.get("taskId"), str):
            raise RemoteProtocolError(f"tools/call as a task on '{session.name}' did not return a task")

        def task_request(method: str, params: Dict[str, Any], timeout: Timeout) -> Any:
            return session.request(method, params, timeout=timeout)

        handle = ToolTask(
            task_request,
            name,
            task,
            lambda result: self._result(tool, result, validate),
            default_timeout=lambda: session.timeout,
        )
        self._tasks[handle.task_id] = handle
        return handle

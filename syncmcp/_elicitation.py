"""Elicitation routing for many servers: Codex's flow, keyed by (server name, request id).

A server's ``elicitation/create`` reaches the router on that session's handler pool. With a user
handler, the handler answers. Without one, the request is stored under ``(server, request id)``
(ids are unique only per server), an :class:`~syncmcp.ElicitationRequest` event goes out, and the
handler thread waits until some thread calls :meth:`ElicitationRouter.resolve`, the server
cancels the request, the session closes, or the wait times out (then the answer is ``decline``).
Meanwhile the session's own request timeouts are paused (the server waits on the user, not the
other way round), so a tool call that triggered the elicitation does not time out.

Whoever removes an entry from the table settles it, exactly once; a resolver that lost the race
to a timeout gets :class:`~syncmcp.UnknownElicitationError`.

Example:
    >>> router = ElicitationRouter(emit=lambda event: None, timeout=1.0)
    >>> router.resolve("srv", 7, {"action": "accept"})
    Traceback (most recent call last):
    ...
    syncmcp._exceptions.UnknownElicitationError: elicitation request not found: ...
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ._client_features import check_elicitation_answer
from ._events import ElicitationCancelled, ElicitationRequest, ManagerEvent
from ._exceptions import UnknownElicitationError

__all__ = ["DEFAULT_ELICITATION_TIMEOUT", "ElicitationRouter", "normalize_elicitation_response"]

logger = logging.getLogger("syncmcp.manager")

RequestId = Union[int, str]
ElicitationHandler = Callable[[str, RequestId, Dict[str, Any]], Any]

#: Seconds an unanswered elicitation waits before it is declined (server-everything waits 10 min).
DEFAULT_ELICITATION_TIMEOUT = 600.0
#: How often a waiting handler checks whether the server cancelled the request.
_CANCEL_CHECK = 0.25
#: How long a waiter that lost the race to a resolver waits for the answer being handed over.
_HANDOVER = 5.0


def normalize_elicitation_response(response: Any, params: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Turn a user's answer into the ``ElicitResult`` to send: ``{"action": ..., "content"?: {...}}``.

    Accepts a dict, an action string (``"decline"``), or an object with ``to_dict()``. The
    answer is then checked by the session's own rule, :func:`~syncmcp.check_elicitation_answer`
    (the one list of actions; for an accepted form, defaults filled in and the content
    validated against the request's ``requestedSchema``; content dropped from other answers).

    Args:
        response: the user's answer.
        params: the ``elicitation/create`` params it answers (``None``: any form).

    Raises:
        SchemaValidationError: no valid ``action``, or content that is not an object or does
            not match the schema (a ``ValueError``).
        ValueError: neither a dict, an action string nor an object with ``to_dict()``.

    Example:
        >>> normalize_elicitation_response("decline")
        {'action': 'decline'}
        >>> normalize_elicitation_response({"action": "accept", "content": {"name": "Ada"}})
        {'action': 'accept', 'content': {'name': 'Ada'}}
    """
    if isinstance(response, str):
        response = {"action": response}
    elif not isinstance(response, Mapping):
        to_dict = getattr(response, "to_dict", None)
        if not callable(to_dict):
            raise ValueError(f"an elicitation response must be a dict or an action string, got {type(response).__name__}")
        response = to_dict()
        if not isinstance(response, Mapping):
            raise ValueError(f"to_dict() of an elicitation response must return a dict, got {type(response).__name__}")
    return check_elicitation_answer(params if params is not None else {}, response)


class _Waiter:
    __slots__ = ("answer", "done", "request")

    def __init__(self, request: ElicitationRequest) -> None:
        self.request = request
        self.done = threading.Event()
        self.answer: Optional[Dict[str, Any]] = None


class ElicitationRouter:
    """Route every server's elicitations to one handler, or to events answered from any thread.

    Args:
        emit: delivers :class:`ElicitationRequest` / :class:`ElicitationCancelled` events.
        timeout: seconds an unanswered request waits before it is declined.
        handler: ``fn(server, request_id, params) -> ElicitResult`` answering directly instead.

    Example:
        >>> router = ElicitationRouter(print, timeout=600)
        >>> handler = lambda ctx, params: router.handle("srv", ctx.request_id, params, ctx.cancelled)
        >>> # ...given to ClientSession(elicitation_handler=handler); another thread answers with
        >>> # router.resolve("srv", request_id, {"action": "accept", "content": {...}})
    """

    def __init__(
        self, emit: Callable[[ManagerEvent], None], timeout: float, handler: Optional[ElicitationHandler] = None
    ) -> None:
        self._emit = emit
        self.timeout = timeout
        self._handler = handler
        self._lock = threading.Lock()
        self._waiting: Dict[Tuple[str, RequestId], _Waiter] = {}
        self._closed = False

    def handle(self, server: str, request_id: RequestId, params: Dict[str, Any], cancelled: threading.Event) -> Any:
        """Answer one ``elicitation/create`` (runs on the session's handler pool, blocking)."""
        if self._handler is not None:
            return self._handler(server, request_id, params)
        schema = params.get("requestedSchema")
        request = ElicitationRequest(
            server,
            request_id,
            str(params.get("message", "")),
            dict(schema) if isinstance(schema, Mapping) else None,
            dict(params),
        )
        waiter = _Waiter(request)
        key = (server, request_id)
        with self._lock:
            if self._closed:
                return {"action": "cancel"}
            if key in self._waiting:
                raise ValueError(f"MCP server '{server}' reused the id {request_id!r} of a pending elicitation")
            self._waiting[key] = waiter
        self._emit(request)
        deadline = time.monotonic() + self.timeout
        reason = ""
        while not waiter.done.wait(min(_CANCEL_CHECK, max(0.0, deadline - time.monotonic()))):
            if cancelled.is_set():
                reason = "cancelled by the server or the connection closed"
                break
            if time.monotonic() >= deadline:
                reason = f"timed out after {self.timeout:g} s; declined"
                break
        if reason and self._take(key, waiter):
            self._emit(ElicitationCancelled(server, request_id, reason))
            logger.info("elicitation %r from MCP server '%s' %s", request_id, server, reason)
            return {"action": "cancel" if cancelled.is_set() else "decline"}
        # Answered, or a resolver took the entry just as we gave up: it is handing the answer over.
        waiter.done.wait(_HANDOVER)
        return waiter.answer if waiter.answer is not None else {"action": "decline"}

    def _take(self, key: Tuple[str, RequestId], waiter: _Waiter) -> bool:
        with self._lock:
            if self._waiting.get(key) is waiter:
                del self._waiting[key]
                return True
            return False

    def resolve(self, server: str, request_id: RequestId, response: Any) -> None:
        """Answer a pending elicitation with ``{"action": "accept"|"decline"|"cancel", "content"?}``.

        An accepted form is completed with the schema's defaults and validated first.

        Raises:
            UnknownElicitationError: nothing is pending under ``(server, request_id)``.
            SchemaValidationError: no valid action, or content that does not match the
                requested schema (a ``ValueError``; the request stays pending, so the caller
                can answer again).
            ValueError: the response is not a dict, an action string or an object with
                ``to_dict()`` (the request stays pending).
        """
        key = (server, request_id)
        with self._lock:
            waiter = self._waiting.get(key)
        # Checked outside the lock (the schema check may import jsonschema); an invalid answer is
        # refused even when nothing is pending, so a caller learns about its bug either way.
        answer = normalize_elicitation_response(response, waiter.request.params if waiter is not None else None)
        with self._lock:
            if waiter is not None and self._waiting.get(key) is waiter:
                del self._waiting[key]
            else:
                waiter = None
                pending = sorted(repr(rid) for (name, rid) in self._waiting if name == server)
        if waiter is None:
            listing = f"pending for it: {', '.join(pending)}" if pending else "none is pending for it"
            raise UnknownElicitationError(
                f"elicitation request not found: MCP server '{server}', request id {request_id!r} ({listing})"
            )
        waiter.answer = answer
        waiter.done.set()

    def pending(self) -> List[ElicitationRequest]:
        """The elicitations waiting for an answer, oldest first."""
        with self._lock:
            return [waiter.request for waiter in self._waiting.values()]

    def close(self) -> None:
        """Cancel every pending elicitation (shutdown); later ones are cancelled at once."""
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, {}
        for (server, request_id), waiter in waiting.items():
            waiter.answer = {"action": "cancel"}
            waiter.done.set()
            self._emit(ElicitationCancelled(server, request_id, "the manager closed"))

    def drop_server(self, server: str) -> None:
        """Cancel the pending elicitations of one server (it was removed or restarted)."""
        with self._lock:
            keys = [key for key in self._waiting if key[0] == server]
            dropped = [(key, self._waiting.pop(key)) for key in keys]
        for (name, request_id), waiter in dropped:
            waiter.answer = {"action": "cancel"}
            waiter.done.set()
            self._emit(ElicitationCancelled(name, request_id, "the server was stopped"))

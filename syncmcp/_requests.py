"""A session's requests to its server, and the answers the server asks for in return.

:meth:`Requests.submit` adds what a request carries besides its params: in the 2026-07-28 era
the ``_meta`` envelope (protocol version, client capabilities and info, the log level set with
``set_logging_level``), and with an ``on_progress`` callback a ``progressToken``, whose
``notifications/progress`` reach the callback in order before the result is delivered.
:meth:`Requests.request` waits for the result and, in the 2026-07-28 era, runs the rounds of an
``InputRequiredResult``: the server's input requests are answered by the client's handlers
(:class:`~syncmcp._client_features.ClientFeatures`) and the request is sent again, with the
answers and the echoed ``requestState``, until it completes. While a handler answers the server
(here, or a legacy server's own request through :meth:`Requests.answer`), the session's request
timeouts are paused: the server is waiting on the client.

Example::

    requests = Requests(session, endpoint, features, context)
    pending = requests.submit("tools/call", {"name": "slow"}, on_progress=print)
    result = requests.request("tools/list", None, 30.0)
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple, Union

from ._client_features import ClientFeatures
from ._endpoint import Endpoint, PendingRequest, ProgressCallback
from ._era import envelope, result_kind
from ._exceptions import MCPError, RemoteProtocolError
from ._jsonrpc import ErrorCode, RequestId

__all__ = ["ContextFactory", "RequestOwner", "Requests"]

logger = logging.getLogger("syncmcp.session")

#: ``fn(request_id, method, cancelled)``: the context a handler of a server request gets.
ContextFactory = Callable[[RequestId, str, threading.Event], Any]


class RequestOwner(Protocol):
    """What requests need from their session."""

    name: str
    client_info: Dict[str, Any]
    max_input_rounds: int

    @property
    def era(self) -> Optional[str]:
        """``"legacy"`` or ``"modern"`` once initialized."""

    @property
    def capabilities(self) -> Dict[str, Any]:
        """The client capabilities the session advertises."""

    def submit(
        self, method: str, params: Optional[Mapping[str, Any]] = None, *, on_progress: Optional[ProgressCallback] = None
    ) -> PendingRequest:
        """Send a request and return at once with its handle."""

    @property
    def closed(self) -> bool:
        """Whether the session is closed or its connection was lost."""

    def _require_open(self) -> None:
        """Raise the error a request of a session that is not open gets."""


class Requests:
    """Requests of one session in its era, and its answers to the server (thread-safe).

    Args:
        session: the session (its ``submit`` sends each round of :meth:`request`).
        endpoint: the session's endpoint.
        features: the client's handlers of server requests.
        context: makes the :class:`~syncmcp.RequestContext` a handler gets.

    Attributes:
        log_level: the level 2026-07-28 requests ask the server to log at (``None``: unset).
    """

    def __init__(self, session: RequestOwner, endpoint: Endpoint, features: ClientFeatures, context: ContextFactory) -> None:
        self._session = session
        self._endpoint = endpoint
        self._features = features
        self._context = context
        self.log_level: Optional[str] = None
        # progress token -> (callback, [the request once sent]); entries go when the request settles
        self._progress: Dict[Union[int, str], Tuple[ProgressCallback, List[Optional[PendingRequest]]]] = {}
        self._progress_tokens = itertools.count(1)

    def submit(self, method: str, params: Optional[Mapping[str, Any]], on_progress: Optional[ProgressCallback]) -> PendingRequest:
        """Send a request of an open session; see ``ClientSession.submit``.

        Raises:
            RuntimeError: called on the session's reader thread.
        """
        if self._endpoint.on_reader_thread():
            raise RuntimeError("session methods cannot be called on the session's reader thread")
        session = self._session
        modern = session.era == "modern"
        body: Optional[Dict[str, Any]] = dict(params) if params is not None else None
        if not modern and on_progress is None:
            return self._endpoint.send_request(method, body)
        body = body or {}
        meta = dict(body.get("_meta") or {})
        if modern:
            meta.update(envelope(session.capabilities, session.client_info, self.log_level))
        token: Optional[int] = None
        holder: List[Optional[PendingRequest]] = [None]
        if on_progress is not None:
            token = next(self._progress_tokens)
            meta["progressToken"] = token
            self._progress[token] = (on_progress, holder)
        body["_meta"] = meta
        try:
            pending = self._endpoint.send_request(method, body, ordered=on_progress is not None)
        except BaseException:
            if token is not None:
                self._progress.pop(token, None)
            raise
        if token is not None:
            holder[0] = pending
            pending._on_done(lambda _p: self._progress.pop(token, None))
        return pending

    def request(
        self,
        method: str,
        params: Optional[Mapping[str, Any]],
        limit: Optional[float],
        on_progress: Optional[ProgressCallback] = None,
        reset_on_progress: bool = False,
        max_total_timeout: Optional[float] = None,
    ) -> Any:
        """Send a request and wait ``limit`` seconds for its result; see ``ClientSession.request``.

        The caller checks that the session is open (``ClientSession.request`` and ``call_tool``
        do); a session closed since then is refused again just before the send.
        """
        session = self._session
        if session.era != "modern":
            if on_progress is None and max_total_timeout is None:  # nothing to track: the endpoint's blocking call
                if session.closed:  # closed since the caller checked: say so as submit() would
                    session._require_open()
                return self._endpoint.call(method, dict(params) if params is not None else None, limit)
            return session.submit(method, params, on_progress=on_progress)._wait_result(
                limit, reset_on_activity=reset_on_progress, max_total=max_total_timeout
            )
        endpoint = self._endpoint
        start, paused_at_start = time.monotonic(), endpoint.paused_seconds()
        body = dict(params or {})
        for _ in range(session.max_input_rounds + 1):
            remaining = limit
            if limit is not None:  # active time only: input handlers run with timeouts paused
                active = (time.monotonic() - start) - (endpoint.paused_seconds() - paused_at_start)
                remaining = max(0.0, limit - active)
            result = session.submit(method, body, on_progress=on_progress)._wait_result(
                remaining, reset_on_activity=reset_on_progress, max_total=max_total_timeout
            )
            kind = result_kind(result)
            if kind == "complete":
                return result
            if kind != "input_required":
                raise RemoteProtocolError(f"{method} from '{session.name}' returned an unknown resultType {kind!r}")
            body = dict(params or {})
            requests = result.get("inputRequests")
            if requests:
                body["inputResponses"] = self._answer_input_requests(requests, method)
            if "requestState" in result:
                body["requestState"] = result["requestState"]  # opaque: echoed verbatim
        raise RemoteProtocolError(f"{method} to '{session.name}' still required input after {session.max_input_rounds} rounds")

    def answer(self, context: Any, method: str, params: Dict[str, Any], *, legacy: bool = True) -> Dict[str, Any]:
        """Answer one server request; the server waits on us meanwhile, so timeouts pause."""
        if method == "roots/list":
            return self._features.list_roots()
        self._endpoint.pause_timeouts()
        try:
            return self._features.answer(context, method, params, legacy=legacy)
        finally:
            self._endpoint.resume_timeouts()

    def progress(self, params: Mapping[str, Any]) -> None:
        """Pass a ``notifications/progress`` to its request's callback (on the notification worker)."""
        entry = self._progress.get(params.get("progressToken"))  # type: ignore[arg-type]
        if entry is None:
            logger.debug("'%s': progress for an unknown or finished token %r", self._session.name, params.get("progressToken"))
            return
        callback, holder = entry
        if holder[0] is not None:
            holder[0].touch()
        callback(params.get("progress", 0), params.get("total"), params.get("message"))

    def _answer_input_requests(self, requests: Any, method: str) -> Dict[str, Any]:
        """Fulfil the input requests of an ``InputRequiredResult`` with the client's handlers."""
        name = self._session.name
        if not isinstance(requests, Mapping):
            raise RemoteProtocolError(f"{method} from '{name}' sent inputRequests that is not an object")
        responses: Dict[str, Any] = {}
        for key, request in requests.items():
            if not isinstance(request, Mapping) or not isinstance(request.get("method"), str):
                raise RemoteProtocolError(f"input request {key!r} from '{name}' has no method")
            params = request.get("params")
            context = self._context(key, request["method"], threading.Event())
            try:
                arguments = dict(params) if isinstance(params, Mapping) else {}
                responses[key] = self.answer(context, request["method"], arguments, legacy=False)
            except MCPError as exc:
                if getattr(exc, "code", None) == ErrorCode.METHOD_NOT_FOUND:
                    raise RemoteProtocolError(
                        f"MCP server '{name}' asked for {request['method']}, which this client did not declare"
                    ) from exc
                raise
        return responses

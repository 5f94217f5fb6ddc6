"""``Context``: what a handler may do while it answers one request.

A handler that declares a parameter annotated :class:`Context` receives one per request. It
reports progress, logs to the client, notices cancellation, and asks the client things
(elicitation, sampling, roots) when the client declared the matching capability.

How the client is asked depends on the connection's era:

* legacy (``initialize`` handshake, 2024-11-05 … 2025-11-25): a real server→client request
  on the same connection; the handler blocks until the answer, the request's cancellation, or
  the timeout.
* 2026-07-28 (no handshake, no server→client requests): the call ends the handler with an
  ``InputRequiredResult``; the client answers and retries the original request, and the handler
  runs again from the top, this time receiving the answer where it asked. Handlers that ask
  the client should therefore do their side effects *after* asking.

Example:
    def deploy(target: str, ctx: Context) -> str:
        answer = ctx.elicit(f"Deploy to {target}?", {"type": "object", "properties": {}})
        if not answer.accepted:
            return "cancelled"
        for step in range(3):
            ctx.report_progress(step + 1, 3, f"step {step + 1}")
        return "deployed"
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Union

from .._endpoint import PendingRequest
from .._era import LOG_LEVELS
from .._exceptions import RequestCancelled, RequestTimeout, SchemaValidationError
from .._validation import Validator, describe_errors
from ._content import ElicitResult, SamplingResult
from ._errors import ClientCapabilityError
from ._schema import is_dataclass_type, is_typeddict, schema_for

__all__ = [
    "DEFAULT_ELICIT_TIMEOUT",
    "DEFAULT_ROOTS_TIMEOUT",
    "DEFAULT_SAMPLE_TIMEOUT",
    "LOG_LEVELS",
    "Context",
    "ContextPeer",
    "InputRequired",
]

logger = logging.getLogger("syncmcp.server")

#: Seconds ``ctx.elicit`` waits for the user by default.
DEFAULT_ELICIT_TIMEOUT = 600.0
#: Seconds ``ctx.sample`` waits for the client's model by default.
DEFAULT_SAMPLE_TIMEOUT = 300.0
#: Seconds ``ctx.list_roots`` waits by default.
DEFAULT_ROOTS_TIMEOUT = 30.0
#: How often a handler waiting on the client checks whether its own request was cancelled.
_CANCEL_POLL = 0.05

_LEVEL_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}

#: The client request a message being sent now belongs to (set while a :class:`Context` sends),
#: so a transport that carries each request separately (HTTP) can put it on that request's stream.
RELATED_REQUEST: ContextVar[Any] = ContextVar("syncmcp_related_request", default=None)


class ContextPeer(Protocol):
    """What a :class:`Context` needs from its connection (implemented by the connection)."""

    server_name: str

    def send_notification(self, method: str, params: Dict[str, Any]) -> None:
        """Send a notification to the client."""

    def send_request(self, method: str, params: Dict[str, Any]) -> PendingRequest:
        """Send a request to the client (legacy era only)."""

    def log_threshold(self, request_meta: Mapping[str, Any]) -> Optional[str]:
        """The lowest level to send for this request, or ``None`` to send nothing."""


class InputRequired(BaseException):
    """Ends a 2026-07-28 handler that asked the client something it has not answered yet.

    A ``BaseException`` so ``except Exception`` in a handler does not swallow it. The connection
    turns it into an ``InputRequiredResult``.
    """

    def __init__(self, key: str, request: Dict[str, Any]) -> None:
        super().__init__(key)
        self.key = key
        self.request = request


class Context:
    """The per-request context handed to a handler that asks for one.

    Attributes:
        request_id: the client's id for this request (may be ``0`` or a string).
        method: the request's method, e.g. ``"tools/call"``.
        params: the request's params as received.
        meta: the request's ``_meta`` (``{}`` when absent).
        progress_token: the client's progress token, or ``None`` (then progress is not sent).
        cancelled: set when the client cancels the request or the connection closes; a
            long handler should check it and stop (its answer is discarded anyway).
        protocol_version: the revision in use (negotiated, or this request's in 2026-07-28).
        client_info: the client's ``Implementation`` (``{}`` when unknown).
        client_capabilities: the capabilities the client declared (for this request in
            2026-07-28).
        auth: over HTTP with bearer authentication, the claims the server's ``verify_token``
            returned for the request's access token (``None`` otherwise).

    Example:
        def slow(steps: int, ctx: Context) -> str:
            for i in range(steps):
                ctx.raise_if_cancelled()
                ctx.report_progress(i + 1, steps)
            return "done"
    """

    def __init__(
        self,
        peer: ContextPeer,
        *,
        request_id: Any,
        method: str,
        params: Dict[str, Any],
        cancelled: threading.Event,
        protocol_version: str,
        modern: bool,
        client_info: Dict[str, Any],
        client_capabilities: Dict[str, Any],
        answers: Optional[Dict[str, Any]] = None,
        auth: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self._peer = peer
        self.auth = auth
        self.request_id = request_id
        self.method = method
        self.params = params
        meta = params.get("_meta")
        self.meta: Dict[str, Any] = meta if isinstance(meta, dict) else {}
        token = self.meta.get("progressToken")
        self.progress_token: Optional[Union[int, str]] = (
            token if isinstance(token, (int, str)) and not isinstance(token, bool) else None
        )
        self.cancelled = cancelled
        self.protocol_version = protocol_version
        self.modern = modern
        self.client_info = client_info
        self.client_capabilities = client_capabilities
        self._answers: Dict[str, Any] = dict(answers or {})
        self._asked = 0
        self._last_progress: Optional[float] = None
        self._progress_lock = threading.Lock()
        self._progress_queue: List[Dict[str, Any]] = []
        self._progress_sending = False

    def __repr__(self) -> str:
        return f"<Context {self.method} id={self.request_id!r}>"

    # ------------------------------------------------------------------------- cancellation

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~syncmcp.RequestCancelled` if the client cancelled this request.

        Example:
            ctx.raise_if_cancelled()
        """
        if self.cancelled.is_set():
            raise RequestCancelled(f"{self.method} was cancelled by the client", method=self.method, request_id=self.request_id)

    # ------------------------------------------------------------------------- notifications

    def report_progress(self, progress: float, total: Optional[float] = None, message: Optional[str] = None) -> bool:
        """Send ``notifications/progress`` for this request.

        Returns ``False`` (and sends nothing) when the client gave no progress token, the
        request was cancelled, or ``progress`` does not exceed the last value sent (the spec
        requires it to increase).

        Example:
            ctx.report_progress(1, 3, "copied the first file")
            # -> True
        """
        if self.progress_token is None or self.cancelled.is_set():
            return False
        params: Dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None and self.protocol_version != "2024-11-05":
            params["message"] = message
        with self._progress_lock:
            if self._last_progress is not None and progress <= self._last_progress:
                logger.debug("progress %s does not exceed %s; not sent", progress, self._last_progress)
                return False
            self._last_progress = progress
            self._progress_queue.append(params)
            if self._progress_sending:
                return True  # the thread already sending will send this one too, in order
            self._progress_sending = True
        # One thread at a time sends, in the order the values were accepted, and never while
        # holding the lock (the write may block on a slow client).
        while True:
            with self._progress_lock:
                batch, self._progress_queue = self._progress_queue, []
                if not batch:
                    self._progress_sending = False
                    return True
            for item in batch:
                self._send("notifications/progress", item)

    def log(self, level: str, data: Any, *, logger_name: Optional[str] = None) -> bool:
        """Send a log message (``notifications/message``) to the client.

        Sent only at or above the level the client chose (``logging/setLevel``, or in
        2026-07-28 this request's ``_meta`` log level; without one nothing is sent there).

        Args:
            level: ``debug``, ``info``, ``notice``, ``warning``, ``error``, ``critical``,
                ``alert`` or ``emergency``.
            data: any JSON value, typically a string.
            logger_name: the ``logger`` field (default: the server's name).

        Returns:
            Whether it was sent.

        Raises:
            ValueError: an unknown level.

        Example:
            ctx.log("info", "indexing 42 files")
            # -> True
        """
        if level not in _LEVEL_RANK:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        threshold = self._peer.log_threshold(self.meta)
        if threshold is None or _LEVEL_RANK[level] < _LEVEL_RANK.get(threshold, 0):
            return False
        self._send("notifications/message", {"level": level, "logger": logger_name or self._peer.server_name, "data": data})
        return True

    def debug(self, data: Any) -> bool:
        """``log("debug", data)``."""
        return self.log("debug", data)

    def info(self, data: Any) -> bool:
        """``log("info", data)``."""
        return self.log("info", data)

    def warning(self, data: Any) -> bool:
        """``log("warning", data)``."""
        return self.log("warning", data)

    def error(self, data: Any) -> bool:
        """``log("error", data)``."""
        return self.log("error", data)

    def send_notification(self, method: str, params: Optional[Dict[str, Any]] = None) -> None:
        """Send a custom notification to the client (e.g. a ``vendor/event`` stream).

        Example:
            ctx.send_notification("acme/event", {"kind": "started"})
        """
        self._send(method, dict(params or {}))

    def _send(self, method: str, params: Dict[str, Any]) -> None:
        token = RELATED_REQUEST.set(self.request_id)
        try:
            self._peer.send_notification(method, params)
        except Exception as exc:  # the client went away: the handler's answer is moot anyway
            logger.debug("could not send %s: %s", method, exc)
        finally:
            RELATED_REQUEST.reset(token)

    # ------------------------------------------------------------------------- asking the client

    def elicit(
        self,
        message: str,
        schema: Any = None,
        *,
        timeout: Optional[float] = DEFAULT_ELICIT_TIMEOUT,
    ) -> ElicitResult:
        """Ask the user for structured input (``elicitation/create``, form mode).

        Args:
            message: what to ask, shown to the user.
            schema: the requested schema: a flat object schema dict, a dataclass or a
                TypedDict (``None``: nothing to fill in, a confirmation).
            timeout: seconds to wait (legacy era); on expiry the request is cancelled.

        Returns:
            The user's answer; ``content`` is validated against the schema when accepted.

        Raises:
            ClientCapabilityError: the client did not declare ``elicitation`` (form mode).
            RequestTimeout: no answer in time.
            RequestCancelled: this request was cancelled meanwhile.
            SchemaValidationError: the client accepted with content that breaks the schema.
            RemoteError: the client answered with an error.

        Example:
            ctx.elicit("Your name?", {"type": "object", "properties": {"name": {"type": "string"}}})
            # -> ElicitResult(action='accept', content={'name': 'Ada'})
        """
        elicitation = self.client_capabilities.get("elicitation")
        if not isinstance(elicitation, dict) or (elicitation and "form" not in elicitation):
            raise ClientCapabilityError("elicitation", "the client cannot answer form elicitations (no 'elicitation' capability)")
        requested = _elicitation_schema(schema)
        raw = self._ask("elicitation/create", {"message": message, "requestedSchema": requested}, timeout)
        result = _elicit_result(raw)
        if result.accepted and result.content is not None:
            problem = describe_errors(Validator(requested, True), result.content)
            if problem is not None:
                raise SchemaValidationError(f"the client's answer does not match the requested schema: {problem}", result=raw)
        return result

    def elicit_url(
        self,
        message: str,
        url: str,
        elicitation_id: str,
        *,
        timeout: Optional[float] = DEFAULT_ELICIT_TIMEOUT,
    ) -> ElicitResult:
        """Ask the user to complete an interaction in the browser (URL-mode elicitation, 2025-11-25).

        Raises:
            ClientCapabilityError: the client did not declare ``elicitation.url``.

        Example:
            ctx.elicit_url("Log in", "https://example.com/login", "login-1")
        """
        elicitation = self.client_capabilities.get("elicitation")
        if not isinstance(elicitation, dict) or "url" not in elicitation:
            raise ClientCapabilityError("elicitation.url", "the client cannot answer URL elicitations")
        params = {"mode": "url", "message": message, "url": url, "elicitationId": elicitation_id}
        return _elicit_result(self._ask("elicitation/create", params, timeout))

    def sample(
        self,
        messages: Union[str, Sequence[Mapping[str, Any]]],
        *,
        max_tokens: int,
        system_prompt: Optional[str] = None,
        temperature: Optional[float] = None,
        stop_sequences: Optional[Sequence[str]] = None,
        model_preferences: Optional[Mapping[str, Any]] = None,
        include_context: Optional[str] = None,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        tool_choice: Optional[Mapping[str, Any]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = DEFAULT_SAMPLE_TIMEOUT,
    ) -> SamplingResult:
        """Ask the client's model for a completion (``sampling/createMessage``).

        Args:
            messages: a user prompt, or ``SamplingMessage`` dicts (``{"role", "content"}``).
            max_tokens: the most tokens to generate.
            system_prompt: an optional system prompt.
            temperature: sampling temperature.
            stop_sequences: sequences that end generation.
            model_preferences: ``{"hints": [{"name": ...}], "costPriority": ...}``.
            include_context: ``"none"``, ``"thisServer"`` or ``"allServers"``.
            tools: tools the model may call (needs ``sampling.tools``, 2025-11-25).
            tool_choice: ``{"mode": "auto" | "required" | "none"}``.
            metadata: provider-specific metadata.
            timeout: seconds to wait (legacy era).

        Raises:
            ClientCapabilityError: ``sampling`` (or ``sampling.tools``/``sampling.context``) missing.
            RequestTimeout: no answer in time.
            RequestCancelled: this request was cancelled meanwhile.
            RemoteError: the client refused (e.g. code -1, the user rejected it).

        Example:
            ctx.sample("What is 2 + 2?", max_tokens=16).text
            # -> '4'
        """
        sampling = self.client_capabilities.get("sampling")
        if not isinstance(sampling, dict):
            raise ClientCapabilityError("sampling")
        if (tools or tool_choice) and "tools" not in sampling:
            raise ClientCapabilityError("sampling.tools", "the client cannot sample with tools (no 'sampling.tools' capability)")
        if include_context in ("thisServer", "allServers") and "context" not in sampling:
            raise ClientCapabilityError("sampling.context", "the client does not include context in sampling")
        if isinstance(messages, str):
            wire_messages: List[Dict[str, Any]] = [{"role": "user", "content": {"type": "text", "text": messages}}]
        else:
            wire_messages = [dict(message) for message in messages]
        params: Dict[str, Any] = {"messages": wire_messages, "maxTokens": max_tokens}
        optional = {
            "systemPrompt": system_prompt,
            "temperature": temperature,
            "stopSequences": list(stop_sequences) if stop_sequences is not None else None,
            "modelPreferences": dict(model_preferences) if model_preferences is not None else None,
            "includeContext": include_context,
            "tools": [dict(tool) for tool in tools] if tools is not None else None,
            "toolChoice": dict(tool_choice) if tool_choice is not None else None,
            "metadata": dict(metadata) if metadata is not None else None,
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        raw = self._ask("sampling/createMessage", params, timeout)
        return SamplingResult(
            str(raw.get("role", "assistant")),
            raw.get("content"),
            str(raw.get("model", "")),
            raw.get("stopReason") if isinstance(raw.get("stopReason"), str) else None,
            raw,
        )

    def list_roots(self, *, timeout: Optional[float] = DEFAULT_ROOTS_TIMEOUT) -> List[Dict[str, Any]]:
        """The client's roots (``roots/list``): ``[{"uri": "file:///...", "name": ...}]``.

        Raises:
            ClientCapabilityError: the client did not declare ``roots``.
            RequestTimeout: no answer in time.

        Example:
            [root["uri"] for root in ctx.list_roots()]
            # -> ['file:///home/ada/project']
        """
        if not isinstance(self.client_capabilities.get("roots"), dict):
            raise ClientCapabilityError("roots")
        raw = self._ask("roots/list", {}, timeout)
        roots = raw.get("roots")
        return [dict(root) for root in roots if isinstance(root, dict)] if isinstance(roots, list) else []

    def _ask(self, method: str, params: Dict[str, Any], timeout: Optional[float]) -> Dict[str, Any]:
        """One question to the client, by the era's mechanism; the answer's result object."""
        key = f"{method.split('/', maxsplit=1)[0]}-{self._asked}"
        self._asked += 1
        if self.modern:
            if key in self._answers:
                answer = self._answers[key]
                return answer if isinstance(answer, dict) else {}
            raise InputRequired(key, {"method": method, "params": params})
        self.raise_if_cancelled()
        token = RELATED_REQUEST.set(self.request_id)
        try:
            pending = self._peer.send_request(method, params)
        finally:
            RELATED_REQUEST.reset(token)
        return _await(pending, self.cancelled, timeout)


def _await(pending: PendingRequest, cancelled: threading.Event, timeout: Optional[float]) -> Dict[str, Any]:
    """Wait for the client's answer, giving up when our own request is cancelled or on timeout.

    ``PendingRequest.result`` cannot also watch our cancellation event, so the wait polls it
    every ``_CANCEL_POLL`` seconds; the answer itself wakes the wait at once.
    """
    done = threading.Event()
    pending.add_done_callback(lambda _pending: done.set())
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done.is_set():
        if cancelled.is_set():
            pending.cancel("the request that asked was cancelled")
            raise RequestCancelled(f"{pending.method} abandoned: the request was cancelled", method=pending.method)
        wait = _CANCEL_POLL
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if pending.cancel(f"timed out after {timeout:g} s"):
                    raise RequestTimeout(
                        f"the client did not answer {pending.method} within {timeout:g} s",
                        timeout=timeout,
                        method=pending.method,
                        request_id=pending.id,
                    )
                break  # the answer arrived just now
            wait = min(wait, remaining)
        done.wait(wait)
    result = pending.result(5.0)
    return result if isinstance(result, dict) else {}


def _elicitation_schema(schema: Any) -> Dict[str, Any]:
    if schema is None:
        return {"type": "object", "properties": {}}
    if is_dataclass_type(schema) or is_typeddict(schema):
        built = schema_for(schema)
        built.pop("description", None)
        return built
    if isinstance(schema, Mapping):
        built = dict(schema)
        if built.get("type") != "object":
            raise ValueError("an elicitation schema must be an object schema ({'type': 'object', 'properties': ...})")
        return built
    raise TypeError(f"elicitation schema must be a dict, a dataclass or a TypedDict, got {schema!r}")


def _elicit_result(raw: Dict[str, Any]) -> ElicitResult:
    action = raw.get("action")
    content = raw.get("content")
    return ElicitResult(
        action if isinstance(action, str) else "cancel",
        content if isinstance(content, dict) else None,
        raw,
    )

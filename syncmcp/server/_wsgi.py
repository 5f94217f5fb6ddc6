r"""The server side of Streamable HTTP as a WSGI application (``Server.wsgi_app``).

One endpoint (default ``/mcp``) serves both protocol eras:

* **2026-07-28**: every POST stands alone (any worker process can take it). The ``Mcp-Method``,
  ``Mcp-Name`` and ``Mcp-Param-*`` headers must agree with the body (else 400, -32020). The
  answer is JSON, or a request-scoped SSE stream when something streams (progress, logs);
  closing that stream cancels the request. ``subscriptions/listen`` is a long-lived SSE
  stream. GET and DELETE get 405.
* **Legacy** (2025-03-26 … 2025-11-25): ``initialize`` opens a session (``Mcp-Session-Id``);
  later requests name it (400 without, 404 for an unknown one); GET opens the standalone
  stream for messages not tied to a request; event ids, ``retry`` and ``Last-Event-ID`` let a
  client resume a broken stream; DELETE ends the session. With ``stateless=True`` there are no
  sessions: each POST stands alone as in 2026-07-28, GET and DELETE get 405, and a handler that
  asks the client something (sampling, elicitation, roots) gets a clear error.

Notifications and responses POSTed by the client get 202; a batch is taken in a 2025-03-26
session only. Every refusal is a JSON-RPC error body with the HTTP status the spec gives: 400
(bad JSON: -32700; not a message, a batch elsewhere: -32600),
403 (Host or Origin not allowed), 401/403 (bearer tokens), 404, 405, 406 (``Accept``), 411,
413 (body over ``max_body_size``), 415 (``Content-Type``). A request running past
``request_timeout`` is cancelled and answered with -32001.

The application needs a threaded WSGI server (gunicorn's ``gthread`` worker, waitress,
``mod_wsgi`` with threads): a stream holds its thread while it is open.

Example::

    app = server.wsgi_app(stateless=True)          # then: gunicorn -w 4 -k gthread 'app:app'
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .._endpoint import JSONRPCError
from .._era import META_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS
from .._exceptions import TransportError
from .._jsonrpc import ErrorCode, make_error, make_result
from .._mcpheaders import InvalidHeaderAnnotation, mirrored_headers, param_header_specs, param_headers
from .._workers import WorkerPool
from ._answers import AnswerWriter, json_answer
from ._httpguard import BearerAuth, OriginGuard
from ._httpsessions import Session, SessionStore
from ._router import RequestRouter, check_envelope
from ._sseout import parse_event_id
from ._stateless import StatelessHub

__all__ = ["MCPApplication"]

logger = logging.getLogger("syncmcp.server.http")

StartResponse = Callable[..., Any]
Headers = Sequence[Tuple[str, str]]

#: Revisions in which a POST may carry a JSON-RPC batch.
_BATCH_VERSIONS = frozenset({"2025-03-26"})
#: Revisions whose clients understand the empty priming event of a resumable stream.
_PRIMING_VERSIONS = frozenset({"2025-11-25"})
#: What a stateless legacy request's client is taken to support: its capabilities were declared
#: to another request, perhaps in another process, so a question to it goes as far as the peer,
#: which refuses it with the real reason (no stream could carry the answer back).
_UNKNOWN_CAPABILITIES: Dict[str, Any] = {"elicitation": {"form": {}, "url": {}}, "sampling": {}, "roots": {}}
_JSON = "application/json"
#: The request headers a browser page may send (the CORS preflight's answer).
_CORS_REQUEST_HEADERS = (
    "Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID"
)
_SSE = "text/event-stream"


def _accepts(accept: str, media_type: str) -> bool:
    """Whether an ``Accept`` header takes ``media_type`` (no header takes everything; ``q=0`` refuses)."""
    if not accept.strip():
        return True
    main = media_type.split("/", maxsplit=1)[0]
    for item in accept.split(","):
        kind, *parameters = (part.strip().lower() for part in item.split(";"))
        if kind in (media_type, f"{main}/*", "*/*"):
            refused = any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in parameters)
            return not refused
    return False


def _decoded(value: str) -> str:
    if value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return value
    return value


class Caller(NamedTuple):
    """Who sent a request: the verified token's claims and subject (both ``None`` without authentication)."""

    claims: Optional[Mapping[str, Any]]
    subject: Optional[str]


class MCPApplication:
    """A WSGI application serving one :class:`~syncmcp.server.Server` over Streamable HTTP.

    Made by :meth:`Server.wsgi_app`, whose docs list the options. Call :meth:`close` when the
    process stops serving (``Server.close`` does it for the applications it made).

    Example::

        app = server.wsgi_app(allowed_origins=["https://app.example.com"])
        # waitress.serve(app, listen="127.0.0.1:8000")
    """

    def __init__(
        self,
        server: Any,
        *,
        path: str = "/mcp",
        stateless: bool = False,
        json_response: bool = True,
        allowed_hosts: Optional[Sequence[str]] = None,
        allowed_origins: Optional[Sequence[str]] = None,
        auth: Optional[BearerAuth] = None,
        max_body_size: int = 4 * 1024 * 1024,
        request_timeout: Optional[float] = 300.0,
        keepalive_interval: float = 15.0,
        session_idle_timeout: Optional[float] = 3600.0,
        max_sessions: int = 1000,
        retry_ms: Optional[int] = 1000,
        max_workers: int = 64,
        max_listen_streams: int = 1000,
        fallback: Optional[Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]] = None,
        on_close: Optional[Callable[[MCPApplication], None]] = None,
    ) -> None:
        if max_body_size < 1:
            raise ValueError("max_body_size must be positive")
        if keepalive_interval <= 0:
            raise ValueError("keepalive_interval must be positive")
        self.server = server
        self.path = "/" + path.strip("/") if path.strip("/") else ""
        self.stateless = stateless
        self.json_response = json_response
        self.guard = OriginGuard(allowed_hosts, allowed_origins)
        self.auth = auth
        self.max_body_size = max_body_size
        self.request_timeout = request_timeout
        self.keepalive_interval = keepalive_interval
        self.retry_ms = retry_ms
        self.fallback = fallback
        self._on_close = on_close
        self._answers = AnswerWriter(
            keepalive_interval=keepalive_interval, json_response=json_response, retry_ms=retry_ms, request_timeout=request_timeout
        )
        self._router = RequestRouter(server)
        self._pool = WorkerPool("syncmcp-http-handler", max_workers, idle_timeout=60.0)
        self._hub = StatelessHub(
            server, self._router, self._pool, default_log_level=server.default_log_level, max_listens=max_listen_streams
        )
        self._sessions = SessionStore(server, idle_timeout=session_idle_timeout, max_sessions=max_sessions)
        self._closed = False
        self._lock = threading.Lock()
        self._specs: Dict[int, Tuple[Any, List[Any]]] = {}

    def __repr__(self) -> str:
        mode = "stateless" if self.stateless else "sessions"
        return f"<MCPApplication {self.server.name!r} at {self.path or '/'} ({mode})>"

    # ------------------------------------------------------------------------- lifecycle

    @property
    def hub(self) -> StatelessHub:
        """The stateless requests' hub (it receives the server's change notifications)."""
        return self._hub

    @property
    def session_count(self) -> int:
        """How many legacy sessions are open."""
        return len(self._sessions)

    def close(self) -> None:
        """End every session and stream, and stop the handler threads; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._hub.close()
        self._sessions.close()
        self._pool.shutdown(time.monotonic() + 5.0)
        if self._on_close is not None:
            self._on_close(self)

    # ------------------------------------------------------------------------- WSGI

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one HTTP request (the WSGI entry point)."""
        path = str(environ.get("PATH_INFO") or "")
        full = str(environ.get("SCRIPT_NAME") or "") + path
        endpoint = self.path
        metadata = self.auth is not None and self._is_metadata_path(path)
        if path.rstrip("/") != endpoint and full.rstrip("/") != endpoint and not metadata:
            if self.fallback is not None:
                return self.fallback(environ, start_response)
            return self._refuse(start_response, "404 Not Found", -32600, f"Not Found: the MCP endpoint is {endpoint or '/'}")
        refusal = self.guard.refusal(environ)
        if refusal is not None:
            logger.warning("refused an HTTP request: %s", refusal)
            return self._refuse(start_response, "403 Forbidden", -32600, refusal)
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        origin = environ.get("HTTP_ORIGIN")
        if origin:  # a browser page the guard allowed: let it read the answer (CORS)
            wanted = str(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or "")
            start_response = _with_cors(start_response, str(origin), self._allowed(), wanted)
            if method == "OPTIONS":
                start_response("204 No Content", [("Access-Control-Max-Age", "600")])
                return []
        if metadata:
            return self._metadata(environ, start_response)
        caller = Caller(None, None)
        if self.auth is not None:
            outcome = self.auth.check(environ, self._resource_url(environ))
            if outcome.claims is None:
                return self._refuse(start_response, outcome.status, -32600, outcome.message, outcome.headers)
            caller = Caller(outcome.claims, outcome.subject)
        if self._closed:
            return self._refuse(start_response, "503 Service Unavailable", -32600, "the server is shutting down")
        try:
            if method == "POST":
                return self._post(environ, start_response, caller)
            if method == "GET":
                return self._get(environ, start_response, caller)
            if method == "DELETE":
                return self._delete(environ, start_response, caller)
        except Exception as exc:  # a bug must not take the worker down, nor leak a traceback
            logger.exception("HTTP %s failed", method)
            return self._refuse(
                start_response, "500 Internal Server Error", ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"
            )
        return self._refuse(
            start_response, "405 Method Not Allowed", -32600, f"Method Not Allowed: {method}", [("Allow", self._allowed())]
        )

    def _allowed(self) -> str:
        return "POST" if self.stateless else "GET, POST, DELETE"

    # ------------------------------------------------------------------------- responses

    @staticmethod
    def _json(start_response: StartResponse, status: str, body: Any, headers: Headers = ()) -> List[bytes]:
        return json_answer(start_response, status, body, headers)

    def _refuse(
        self,
        start_response: StartResponse,
        status: str,
        code: int,
        message: str,
        headers: Headers = (),
        request_id: Any = None,
    ) -> List[bytes]:
        return self._json(start_response, status, make_error(request_id, code, message), headers)

    @staticmethod
    def _accepted(start_response: StartResponse, headers: Headers = ()) -> List[bytes]:
        start_response("202 Accepted", [("Content-Length", "0"), *headers])
        return []

    # ------------------------------------------------------------------------- OAuth metadata

    def _is_metadata_path(self, path: str) -> bool:
        return path.rstrip("/") in ("/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource" + self.path)

    def _resource_url(self, environ: Mapping[str, Any]) -> str:
        scheme = str(environ.get("wsgi.url_scheme") or "http")
        host = str(environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}")
        script = str(environ.get("SCRIPT_NAME") or "").rstrip("/")
        path = self.path if not script.endswith(self.path) or not self.path else ""
        return f"{scheme}://{host}{script}{path}"

    def _metadata(self, environ: Dict[str, Any], start_response: StartResponse) -> List[bytes]:
        assert self.auth is not None
        if str(environ.get("REQUEST_METHOD") or "GET").upper() not in ("GET", "HEAD"):
            return self._refuse(start_response, "405 Method Not Allowed", -32600, "Method Not Allowed", [("Allow", "GET")])
        return self._json(
            start_response, "200 OK", self.auth.metadata(self._resource_url(environ)), [("Cache-Control", "max-age=3600")]
        )

    # ------------------------------------------------------------------------- POST

    def _read_body(self, environ: Mapping[str, Any]) -> Tuple[Optional[bytes], Optional[Tuple[str, str]]]:
        stream = environ.get("wsgi.input")
        length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
        limit = self.max_body_size
        too_large = ("413 Content Too Large", f"Content Too Large: the body exceeds {limit} bytes (max_body_size)")
        if length_text:
            try:
                length = int(length_text)
            except ValueError:
                return None, ("400 Bad Request", f"Bad Request: Content-Length {length_text!r} is not a number")
            if length > limit:
                return None, too_large
            body = stream.read(length) if stream is not None and length > 0 else b""
        elif environ.get("wsgi.input_terminated") and stream is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                return None, too_large
        else:
            return None, ("411 Length Required", "Length Required: send a Content-Length")
        return body, None

    def _post(self, environ: Dict[str, Any], start_response: StartResponse, caller: Caller) -> Iterable[bytes]:
        content_type = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if content_type != _JSON:
            return self._refuse(
                start_response,
                "415 Unsupported Media Type",
                -32600,
                f"Unsupported Media Type: send {_JSON}, not {content_type or 'no Content-Type'}",
            )
        accept = str(environ.get("HTTP_ACCEPT") or "")
        wants_json, wants_sse = _accepts(accept, _JSON), _accepts(accept, _SSE)
        if not (wants_json or wants_sse):
            return self._refuse(
                start_response, "406 Not Acceptable", -32600, f"Not Acceptable: the client must accept {_JSON} and {_SSE}"
            )
        body, problem = self._read_body(environ)
        if problem is not None or body is None:
            status, text = problem or ("400 Bad Request", "Bad Request")
            return self._refuse(start_response, status, -32600, text)
        try:
            message = json.loads(body)
        except RecursionError:
            return self._refuse(start_response, "400 Bad Request", ErrorCode.PARSE_ERROR, "Parse error: nested too deeply")
        except (ValueError, UnicodeDecodeError) as exc:
            return self._refuse(start_response, "400 Bad Request", ErrorCode.PARSE_ERROR, f"Parse error: {exc}")
        if isinstance(message, list):
            return self._post_batch(environ, start_response, message, caller, wants_json, wants_sse)
        kind = _kind_of(message)
        if kind is None:
            rid = message.get("id") if isinstance(message, dict) else None
            request_id = rid if type(rid) in (int, str) else None  # not a bool: never a valid id
            return self._refuse(
                start_response,
                "400 Bad Request",
                ErrorCode.INVALID_REQUEST,
                "Invalid Request: not a JSON-RPC 2.0 message",
                request_id=request_id,
            )
        header_version = environ.get("HTTP_MCP_PROTOCOL_VERSION")
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        modern = header_version == MODERN_PROTOCOL_VERSION or (
            kind == "request"
            and (message["method"] == "server/discover" or (isinstance(meta, dict) and META_PROTOCOL_VERSION in meta))
        )
        if modern:
            return self._post_modern(environ, start_response, message, kind, caller, wants_json, wants_sse)
        if header_version is not None and header_version not in SUPPORTED_PROTOCOL_VERSIONS:
            return self._refuse(
                start_response, "400 Bad Request", -32600, f"Bad Request: unsupported MCP-Protocol-Version {header_version!r}"
            )
        if self.stateless:
            return self._post_stateless(environ, start_response, message, kind, header_version, caller, wants_json, wants_sse)
        return self._post_session(environ, start_response, message, kind, caller, wants_json, wants_sse)

    def _post_batch(
        self,
        environ: Mapping[str, Any],
        start_response: StartResponse,
        batch: List[Any],
        caller: Caller,
        wants_json: bool,
        wants_sse: bool,
    ) -> Iterable[bytes]:
        """A JSON-RPC batch: accepted in a 2025-03-26 session only (later revisions removed batches)."""
        kinds = [_kind_of(item) for item in batch]
        if self.stateless or not batch or None in kinds or not environ.get("HTTP_MCP_SESSION_ID"):
            return self._refuse(
                start_response,
                "400 Bad Request",
                ErrorCode.INVALID_REQUEST,
                "Invalid Request: a batch must be a non-empty array of messages, sent in a 2025-03-26 session",
            )
        if any(kind == "request" and item["method"] == "initialize" for kind, item in zip(kinds, batch)):
            return self._refuse(
                start_response, "400 Bad Request", ErrorCode.INVALID_REQUEST, "Invalid Request: initialize cannot be batched"
            )
        kind = "request" if "request" in kinds else "notification"
        return self._post_session(environ, start_response, batch, kind, caller, wants_json, wants_sse)  # type: ignore[arg-type]

    def _post_modern(
        self,
        environ: Mapping[str, Any],
        start_response: StartResponse,
        message: Dict[str, Any],
        kind: str,
        caller: Caller,
        wants_json: bool,
        wants_sse: bool,
    ) -> Iterable[bytes]:
        if kind != "request":
            return self._accepted(start_response)  # notifications/cancelled of a stream already closed, or stray
        request_id = message["id"]
        try:
            params = message.get("params")
            version, capabilities, client_info = check_envelope(params if isinstance(params, dict) else {})
        except JSONRPCError as exc:
            return self._json(start_response, "400 Bad Request", make_error(request_id, exc.code, exc.message, exc.data))
        mismatch = self._header_mismatch(environ, message, version)
        if mismatch is not None:
            return self._refuse(start_response, "400 Bad Request", ErrorCode.HEADER_MISMATCH, mismatch, request_id=request_id)
        outbox, cancelled = self._hub.start(
            message, modern=True, version=version, capabilities=capabilities, client_info=client_info, auth=caller.claims
        )
        listen = message["method"] == "subscriptions/listen"
        return self._answers.respond(
            start_response,
            outbox,
            [request_id],
            environ=environ,
            wants_json=wants_json and not listen,
            wants_sse=wants_sse,
            on_timeout=cancelled.set,
            on_leave=(lambda: self._hub.end_listen(outbox)) if listen else cancelled.set,
            deadline=None if listen else self.request_timeout,
        )

    def _header_specs(self, tool: Any) -> List[Any]:
        """A tool's ``x-mcp-header`` parameters, worked out once per tool definition."""
        cached = self._specs.get(id(tool))
        if cached is not None and cached[0] is tool:
            return cached[1]
        try:
            specs = param_header_specs(tool.to_dict().get("inputSchema"))
        except InvalidHeaderAnnotation:
            specs = []
        if len(self._specs) > 4096:  # tools replaced over and over: start again
            self._specs.clear()
        self._specs[id(tool)] = (tool, specs)
        return specs

    def _header_mismatch(self, environ: Mapping[str, Any], message: Dict[str, Any], version: str) -> Optional[str]:
        expected = mirrored_headers(message, version)
        if message["method"] == "tools/call":
            params = message.get("params") or {}
            tool = self.server.registry.tool(params.get("name")) if isinstance(params.get("name"), str) else None
            specs = self._header_specs(tool) if tool is not None else None
            if specs:
                try:
                    expected += param_headers(specs, params.get("arguments"))
                except InvalidHeaderAnnotation:
                    pass
        for name, value in expected:
            got = environ.get("HTTP_" + name.upper().replace("-", "_"))
            if got is None:
                return f"Header mismatch: the {name} header is required (the body says {_decoded(value)!r})"
            if _decoded(str(got)) != _decoded(value):
                return f"Header mismatch: {name} is {_decoded(str(got))!r} but the body says {_decoded(value)!r}"
        return None

    def _post_stateless(
        self,
        environ: Mapping[str, Any],
        start_response: StartResponse,
        message: Dict[str, Any],
        kind: str,
        header_version: Optional[str],
        caller: Caller,
        wants_json: bool,
        wants_sse: bool,
    ) -> Iterable[bytes]:
        if kind != "request":
            return self._accepted(start_response)
        request_id = message["id"]
        if message["method"] == "initialize":
            params = message.get("params")
            requested = params.get("protocolVersion") if isinstance(params, dict) else None
            version = requested if requested in SUPPORTED_PROTOCOL_VERSIONS else SUPPORTED_PROTOCOL_VERSIONS[0]
            result = self._router.initialize_result(version, _stateless_capabilities(self.server.capabilities()))
            return self._json(start_response, "200 OK", make_result(request_id, result))
        version = header_version or "2025-03-26"
        outbox, cancelled = self._hub.start(
            message, modern=False, version=version, capabilities=_UNKNOWN_CAPABILITIES, client_info={}, auth=caller.claims
        )
        return self._answers.respond(
            start_response,
            outbox,
            [request_id],
            environ=environ,
            wants_json=wants_json,
            wants_sse=wants_sse,
            on_timeout=cancelled.set,
            on_leave=cancelled.set,
            deadline=self.request_timeout,
        )

    def _post_session(
        self,
        environ: Mapping[str, Any],
        start_response: StartResponse,
        message: Dict[str, Any],
        kind: str,
        caller: Caller,
        wants_json: bool,
        wants_sse: bool,
    ) -> Iterable[bytes]:
        session_id = environ.get("HTTP_MCP_SESSION_ID")
        batch = isinstance(message, list)
        items: List[Dict[str, Any]] = message if batch else [message]  # type: ignore[assignment]
        request_ids = [item["id"] for item in items if _kind_of(item) == "request"]
        request_id = request_ids[0] if request_ids and not batch else None
        headers: List[Tuple[str, str]] = []
        opening = not batch and kind == "request" and message["method"] == "initialize" and not session_id
        if opening:
            session = self._sessions.create(caller.claims, caller.subject)
            if session is None:
                return self._refuse(start_response, "503 Service Unavailable", -32600, "Service Unavailable: too many sessions")
            headers.append(("Mcp-Session-Id", session.id))
        else:
            if not session_id:
                return self._refuse(
                    start_response,
                    "400 Bad Request",
                    -32600,
                    "Bad Request: the Mcp-Session-Id header is required (send initialize first)",
                    request_id=request_id,
                )
            session = self._session(str(session_id), caller)
            if session is None:
                return self._refuse(start_response, "404 Not Found", -32600, "Session not found", request_id=request_id)
            if batch and session.connection.protocol_version not in _BATCH_VERSIONS:
                return self._refuse(
                    start_response,
                    "400 Bad Request",
                    ErrorCode.INVALID_REQUEST,
                    f"Invalid Request: batches are part of protocol 2025-03-26 only, not {session.connection.protocol_version}",
                )
        try:
            outbox = session.transport.deliver(message, request_ids)
        except ValueError as exc:
            return self._refuse(
                start_response, "400 Bad Request", ErrorCode.INVALID_REQUEST, f"Invalid Request: {exc}", request_id=request_id
            )
        except TransportError:
            return self._refuse(start_response, "404 Not Found", -32600, "Session not found", request_id=request_id)
        if outbox is None:
            return self._accepted(start_response)
        transport = session.transport
        version = session.connection.protocol_version or ""
        if opening:
            # A failed initialize leaves no session behind.
            outbox.wait_finished(self.request_timeout)
            final = outbox.final_message()
            if final is None or "error" in final:
                self._sessions.end(session.id)
                headers = []
            version = session.connection.protocol_version or ""
        return self._answers.respond(
            start_response,
            outbox,
            request_ids,
            environ=environ,
            wants_json=wants_json,
            wants_sse=wants_sse,
            headers=headers,
            on_timeout=lambda: transport.abandon(*request_ids),
            on_leave=None,
            batch=batch,
            deadline=self.request_timeout,
            resumable=True,
            priming=version in _PRIMING_VERSIONS,
        )

    def _session(self, session_id: str, caller: Caller) -> Optional[Session]:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.subject is not None and caller.subject != session.subject:
            logger.warning("refused a request for session %s from another subject", session_id[:8])
            return None
        session.touch(caller.claims)
        return session

    # ------------------------------------------------------------------------- GET and DELETE

    def _get(self, environ: Dict[str, Any], start_response: StartResponse, caller: Caller) -> Iterable[bytes]:
        if self.stateless or environ.get("HTTP_MCP_PROTOCOL_VERSION") == MODERN_PROTOCOL_VERSION:
            return self._refuse(
                start_response,
                "405 Method Not Allowed",
                -32600,
                "Method Not Allowed: this endpoint has no GET stream",
                [("Allow", "POST")],
            )
        if not _accepts(str(environ.get("HTTP_ACCEPT") or ""), _SSE) or not environ.get("HTTP_ACCEPT"):
            return self._refuse(start_response, "406 Not Acceptable", -32600, f"Not Acceptable: the GET stream is {_SSE}")
        session_id = environ.get("HTTP_MCP_SESSION_ID")
        if not session_id:
            return self._refuse(start_response, "400 Bad Request", -32600, "Bad Request: the Mcp-Session-Id header is required")
        session = self._session(str(session_id), caller)
        if session is None:
            return self._refuse(start_response, "404 Not Found", -32600, "Session not found")
        last_event = environ.get("HTTP_LAST_EVENT_ID")
        version = session.connection.protocol_version or ""
        if last_event:
            parsed = parse_event_id(str(last_event))
            outbox = session.transport.stream(parsed[0]) if parsed else None
            if outbox is None or parsed is None:
                return self._refuse(
                    start_response, "404 Not Found", -32600, f"Not Found: no stream to resume from event {last_event!r}"
                )
            return self._answers.stream(start_response, environ, outbox, parsed[1], priming=False)
        # One GET stream per session: a new one takes over (the old reader, perhaps a client
        # that vanished without the server noticing, stops at once).
        outbox = session.transport.standalone
        return self._answers.stream(start_response, environ, outbox, outbox.delivered, priming=version in _PRIMING_VERSIONS)

    def _delete(self, environ: Dict[str, Any], start_response: StartResponse, caller: Caller) -> Iterable[bytes]:
        if self.stateless or environ.get("HTTP_MCP_PROTOCOL_VERSION") == MODERN_PROTOCOL_VERSION:
            return self._refuse(
                start_response,
                "405 Method Not Allowed",
                -32600,
                "Method Not Allowed: this endpoint has no sessions",
                [("Allow", "POST")],
            )
        session_id = environ.get("HTTP_MCP_SESSION_ID")
        if not session_id:
            return self._refuse(start_response, "400 Bad Request", -32600, "Bad Request: the Mcp-Session-Id header is required")
        if self._session(str(session_id), caller) is None or not self._sessions.end(str(session_id)):
            return self._refuse(start_response, "404 Not Found", -32600, "Session not found")
        start_response("200 OK", [("Content-Length", "0")])
        return []

    # ------------------------------------------------------------------------- answering a request


def _with_cors(start_response: StartResponse, origin: str, methods: str, wanted: str) -> StartResponse:
    """``start_response`` adding the CORS headers that let an allowed browser origin use the endpoint.

    The allowed request headers are MCP's, plus the ``Mcp-Param-*`` ones a preflight asks for.
    """
    extra = [name.strip() for name in wanted.split(",") if name.strip().lower().startswith("mcp-param-")]
    extra = [name for name in extra if name.replace("-", "").isalnum()]
    cors = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", f"{methods}, OPTIONS"),
        ("Access-Control-Allow-Headers", ", ".join([_CORS_REQUEST_HEADERS, *extra])),
        ("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate"),
        ("Vary", "Origin"),
    ]

    def start(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, *cors], exc_info) if exc_info else start_response(status, [*headers, *cors])

    return start


def _stateless_capabilities(declared: Dict[str, Any]) -> Dict[str, Any]:
    """The capabilities a stateless legacy endpoint can honour.

    Subscriptions and change notifications need a stream that outlives a request: left out.
    """
    honest: Dict[str, Any] = {}
    for key, value in declared.items():
        if key in ("tools", "prompts", "resources") and isinstance(value, dict):
            honest[key] = {name: setting for name, setting in value.items() if name not in ("subscribe", "listChanged")}
        else:
            honest[key] = value
    return honest


def _kind_of(message: Any) -> Optional[str]:
    """``request``, ``notification`` or ``response``; ``None`` for what is not a JSON-RPC message."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return None
    method = message.get("method")
    if method is not None:
        if not isinstance(method, str):
            return None
        if "id" not in message:
            return "notification"
        request_id = message["id"]
        return "request" if isinstance(request_id, (int, str)) and not isinstance(request_id, bool) else None
    if "id" in message and ("result" in message or "error" in message):
        return "response"
    return None

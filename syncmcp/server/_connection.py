r"""One client connection of a server: the MCP meaning of each request, in both protocol eras.

The connection owns an :class:`~syncmcp.Endpoint` (its reader thread, handler pool and
notification worker) and answers every request on the handler pool, so a slow tool never holds
up ``ping``, cancellation or other calls.

Eras (decided by the client's first request and then fixed for the connection):

* **legacy** (2024-11-05 … 2025-11-25): ``initialize`` negotiates the version (the client's if
  supported, else 2025-11-25; a second ``initialize`` is an error), capabilities are declared
  once, ``logging/setLevel`` and ``resources/subscribe`` apply to the connection, the server
  sends ``list_changed`` notifications (for what it declared) and asks the client things with
  real requests.
* **modern** (2026-07-28): ``server/discover`` or any request carrying the ``_meta`` envelope.
  Each request is checked (-32602 for a missing envelope key, -32022 with ``data {supported,
  requested}`` for an unknown version), every result carries ``resultType`` and the server's
  identity, list results carry cache hints, questions to the client become
  ``InputRequiredResult``\ s, and change notifications travel on ``subscriptions/listen``
  streams. ``initialize`` is then answered -32022.

Before either, only ``ping`` is answered; other requests get -32600.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

from .._endpoint import Endpoint, InboundRequest, JSONRPCError, PendingRequest
from .._era import (
    LATEST_PROTOCOL_VERSION,
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_LOG_LEVEL,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    META_SUBSCRIPTION_ID,
    MODERN_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
)
from .._exceptions import ConnectionClosed, TransportError
from .._jsonrpc import ErrorCode, RequestId, make_result
from .._transport import Transport
from ._context import LOG_LEVELS, Context, InputRequired
from ._errors import ClientCapabilityError, ResourceNotFound
from ._features import ResourceDef, complete_values
from ._pagination import CursorCodec
from ._registry import Registry

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "ConnectionHost",
    "ServerConnection",
]

logger = logging.getLogger("syncmcp.server")

#: Revisions served with the per-request envelope (no handshake).
MODERN_PROTOCOL_VERSIONS: Tuple[str, ...] = (MODERN_PROTOCOL_VERSION,)

#: Most values one ``completion/complete`` answer carries (spec limit).
MAX_COMPLETIONS = 100
#: How long ``close()`` lets open listen streams send their final result.
_LISTEN_DRAIN = 1.0
#: How often a listen stream checks whether the client cancelled it.
_LISTEN_POLL = 0.1

_LEGACY_ONLY = frozenset({"logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
_MODERN_ONLY = frozenset({"server/discover", "subscriptions/listen"})
_LIST_KINDS = {"tools": "tools", "resources": "resources", "prompts": "prompts"}


class ConnectionHost(Protocol):
    """What a connection needs from its server (``Server`` implements it)."""

    name: str
    registry: Registry
    cursors: CursorCodec
    page_size: int
    default_log_level: Optional[str]
    max_listen_streams: int

    def server_info(self) -> Dict[str, Any]:
        """``serverInfo``."""

    def instructions_text(self) -> Optional[str]:
        """``instructions``, if any."""

    def capabilities(self) -> Dict[str, Any]:
        """The capabilities to declare, from what is registered now."""

    def custom_request_handler(self, method: str) -> Optional[Callable[[Context, Dict[str, Any]], Any]]:
        """A handler registered for a method MCP does not define."""

    def custom_notification_handler(self, method: str) -> Optional[Callable[[Dict[str, Any]], None]]:
        """A handler registered for a notification."""

    def sign(self, payload: bytes) -> bytes:
        """An HMAC of ``payload`` with a key only this process knows."""

    def connection_closed(self, connection: ServerConnection) -> None:
        """Forget a connection that ended."""


@dataclass
class _Call:
    """One request as the dispatch functions see it."""

    request: InboundRequest
    modern: bool
    version: str
    capabilities: Dict[str, Any]
    client_info: Dict[str, Any]

    @property
    def params(self) -> Dict[str, Any]:
        return self.request.params


class _Listen:
    """One ``subscriptions/listen`` stream: what it honours, and events held until its ack is out."""

    def __init__(self, request_id: RequestId, honored: Dict[str, Any]) -> None:
        self.request_id = request_id
        self.honored = honored
        self.uris = frozenset(honored.get("resourceSubscriptions") or ())
        self.lock = threading.Lock()
        self.ready = False
        self.backlog: List[Tuple[str, Dict[str, Any]]] = []
        self.stop = threading.Event()

    def wants(self, method: str, params: Mapping[str, Any]) -> bool:
        if method == "notifications/resources/updated":
            return params.get("uri") in self.uris
        key = {
            "notifications/tools/list_changed": "toolsListChanged",
            "notifications/prompts/list_changed": "promptsListChanged",
            "notifications/resources/list_changed": "resourcesListChanged",
        }.get(method)
        return key is not None and self.honored.get(key) is True


class ServerConnection:
    """A server's end of one client connection (created by ``Server.connect``).

    Args:
        host: the server.
        transport: the connection to the client.
        name: the client's name in logs and thread names.
        max_workers: most requests handled at once.

    Example:
        from syncmcp.testing import memory_pair
        client_end, server_end = memory_pair()
        connection = server.connect(server_end)
    """

    def __init__(
        self,
        host: ConnectionHost,
        transport: Transport,
        *,
        name: str = "client",
        max_workers: int = 32,
        on_closed: Optional[Callable[[], None]] = None,
    ) -> None:
        self._host = host
        self._on_closed = on_closed
        self.server_name = host.name
        self._lock = threading.Condition()
        self._era: Optional[str] = None
        self._protocol_version = LATEST_PROTOCOL_VERSION
        self._client_info: Dict[str, Any] = {}
        self._client_capabilities: Dict[str, Any] = {}
        self._declared: Dict[str, Any] = {}
        self._initialized = False
        self._log_level = host.default_log_level
        self._subscriptions: frozenset[str] = frozenset()
        self._listens: Dict[RequestId, _Listen] = {}
        self._closed = threading.Event()
        self._transport = transport
        self._endpoint = Endpoint(
            transport,
            name=name,
            request_handler=self._on_request,
            notification_handler=self._on_notification,
            on_lost=self._on_lost,
            max_workers=max_workers,
        )
        self._routes: Dict[str, Callable[[_Call], Any]] = {
            "server/discover": self._discover,
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
            "resources/list": self._list_resources,
            "resources/templates/list": self._list_templates,
            "resources/read": self._read_resource,
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": self._unsubscribe,
            "prompts/list": self._list_prompts,
            "prompts/get": self._get_prompt,
            "completion/complete": self._complete,
            "logging/setLevel": self._set_level,
            "subscriptions/listen": self._listen,
        }

    def __repr__(self) -> str:
        era = self._era or "new"
        return f"<ServerConnection {self._endpoint.name} {era} {self._protocol_version}>"

    # ------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start reading the client's messages."""
        self._endpoint.start()

    def close(self, timeout: float = 5.0) -> None:
        """End the connection: listen streams end gracefully, running handlers see ``cancelled``."""
        with self._lock:
            listens = list(self._listens.values())
        for listen in listens:
            listen.stop.set()
        if listens:
            with self._lock:
                self._lock.wait_for(lambda: not self._listens, timeout=_LISTEN_DRAIN)
        self._endpoint.close(timeout)
        self._mark_closed()

    def wait_closed(self, timeout: Optional[float] = None) -> bool:
        """Block until the connection ends (the client left or ``close()``); ``False`` on timeout."""
        return self._closed.wait(timeout)

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._closed.is_set()

    @property
    def protocol_version(self) -> Optional[str]:
        """The negotiated revision (legacy), ``"2026-07-28"`` (modern) or ``None`` before either."""
        if self._era == "modern":
            return MODERN_PROTOCOL_VERSIONS[0]
        return self._protocol_version if self._era == "legacy" else None

    @property
    def client_info(self) -> Dict[str, Any]:
        """The client's ``clientInfo`` from ``initialize`` (``{}`` in the modern era)."""
        return dict(self._client_info)

    def _on_lost(self, error: ConnectionClosed) -> None:
        logger.debug("connection %s ended: %s", self._endpoint.name, error.reason)
        with self._lock:
            listens = list(self._listens.values())
        for listen in listens:
            listen.stop.set()
        self._mark_closed()

    def _mark_closed(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._host.connection_closed(self)
        if self._on_closed is not None:
            self._on_closed()

    # ------------------------------------------------------------------------- outbound (ContextPeer)

    def send_notification(self, method: str, params: Dict[str, Any]) -> None:
        """Send a notification to the client.

        Raises:
            ConnectionClosed: the connection has ended.
        """
        self._endpoint.send_notification(method, params)

    def send_request(self, method: str, params: Dict[str, Any]) -> PendingRequest:
        """Send a request to the client (legacy era)."""
        return self._endpoint.send_request(method, params)

    def log_threshold(self, request_meta: Mapping[str, Any]) -> Optional[str]:
        """The lowest level to send for a request (modern: its ``_meta`` opt-in; legacy: setLevel)."""
        if self._era == "modern":
            level = request_meta.get(META_LOG_LEVEL)
            return level if level in LOG_LEVELS else None
        return self._log_level

    def notify_list_changed(self, kind: str) -> None:
        """Tell the client a list changed, if this connection may be told (see the module docs)."""
        method = f"notifications/{kind}/list_changed"
        if self._era == "modern":
            self._deliver(method, {})
            return
        if self._era != "legacy" or not self._initialized:
            return
        declared = self._declared.get(_LIST_KINDS.get(kind, kind))
        if isinstance(declared, dict) and declared.get("listChanged"):
            self._quietly(method, {})

    def notify_resource_updated(self, uri: str) -> None:
        """Send ``notifications/resources/updated`` if the client subscribed to ``uri``."""
        params = {"uri": uri}
        if self._era == "modern":
            self._deliver("notifications/resources/updated", params)
        elif self._era == "legacy" and uri in self._subscriptions:
            self._quietly("notifications/resources/updated", params)

    def send_log(self, level: str, data: Any, logger_name: Optional[str] = None) -> bool:
        """A log message not tied to a request (legacy connections at or above their level)."""
        threshold = self._log_level
        if self._era != "legacy" or threshold is None or LOG_LEVELS.index(level) < LOG_LEVELS.index(threshold):
            return False
        self._quietly("notifications/message", {"level": level, "logger": logger_name or self.server_name, "data": data})
        return True

    def _quietly(self, method: str, params: Dict[str, Any]) -> None:
        try:
            self._endpoint.send_notification(method, params)
        except (TransportError, ValueError) as exc:
            logger.debug("could not send %s to %s: %s", method, self._endpoint.name, exc)

    def _deliver(self, method: str, params: Dict[str, Any]) -> None:
        """Send a change notification on every listen stream that opted in to it."""
        with self._lock:
            listens = list(self._listens.values())
        for listen in listens:
            if not listen.wants(method, params):
                continue
            stamped = {**params, "_meta": {META_SUBSCRIPTION_ID: listen.request_id}}
            with listen.lock:
                if not listen.ready:
                    if (method, stamped) not in listen.backlog:
                        listen.backlog.append((method, stamped))
                    continue
            self._quietly(method, stamped)

    # ------------------------------------------------------------------------- inbound

    def _on_notification(self, method: str, params: Dict[str, Any]) -> None:
        if method == "notifications/initialized":
            self._initialized = True
            return
        if method == "notifications/cancelled":  # for a request already answered (the endpoint stops running ones)
            logger.debug("'%s': cancellation of a finished request %r", self._endpoint.name, params.get("requestId"))
            return
        handler = self._host.custom_notification_handler(method)
        if handler is not None:
            handler(params)
        elif method != "notifications/roots/list_changed":
            logger.debug("'%s': unhandled notification %s", self._endpoint.name, method)

    def _on_request(self, request: InboundRequest) -> Any:
        method = request.method
        if method == "initialize":
            return self._initialize(request.params)
        era = self._era
        if era == "legacy":
            # A client sends requests only after `initialized`; a request proves it was sent.
            self._initialized = True
            return self._dispatch(_Call(request, False, self._protocol_version, self._client_capabilities, self._client_info))
        meta = request.params.get("_meta")
        if era == "modern" or method == "server/discover" or (isinstance(meta, dict) and META_PROTOCOL_VERSION in meta):
            version, capabilities, client_info = _check_envelope(request.params)
            with self._lock:
                if self._era is None:
                    self._era = "modern"
                locked = self._era
            if locked == "legacy":  # an initialize won the race
                return self._dispatch(_Call(request, False, self._protocol_version, self._client_capabilities, self._client_info))
            result = self._dispatch(_Call(request, True, version, capabilities, client_info))
            return self._stamp(result)
        raise JSONRPCError(
            ErrorCode.INVALID_REQUEST,
            f"{method} before initialize: send initialize first (or a 2026-07-28 request with the _meta envelope)",
        )

    def _stamp(self, result: Any) -> Any:
        if not isinstance(result, dict):
            return result
        stamped = dict(result)
        stamped.setdefault("resultType", "complete")
        meta = dict(stamped.get("_meta") or {})
        meta.setdefault(META_SERVER_INFO, self._host.server_info())
        stamped["_meta"] = meta
        return stamped

    def _dispatch(self, call: _Call) -> Any:
        method = call.request.method
        route = self._routes.get(method)
        if route is not None and ((call.modern and method in _LEGACY_ONLY) or (not call.modern and method in _MODERN_ONLY)):
            era = f"protocol {call.version}"
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method} is not part of {era}")
        if route is None:
            custom = self._host.custom_request_handler(method)
            if custom is None:
                raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method}")
            return self._custom(custom, call)
        return route(call)

    def _context(self, call: _Call, answers: Optional[Dict[str, Any]] = None) -> Context:
        return Context(
            self,
            request_id=call.request.id,
            method=call.request.method,
            params=call.params,
            cancelled=call.request.cancelled,
            protocol_version=call.version,
            modern=call.modern,
            client_info=call.client_info,
            client_capabilities=call.capabilities,
            answers=answers,
        )

    def _custom(self, handler: Callable[[Context, Dict[str, Any]], Any], call: _Call) -> Any:
        try:
            result = handler(self._context(call), call.params)
        except (ValueError, TypeError) as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Invalid params for {call.request.method}: {exc}") from exc
        return {} if result is None else result

    # ------------------------------------------------------------------------- lifecycle methods

    def _initialize(self, params: Dict[str, Any]) -> Dict[str, Any]:
        requested = params.get("protocolVersion")
        if not isinstance(requested, str):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "initialize needs a string protocolVersion")
        capabilities = params.get("capabilities")
        client_info = params.get("clientInfo")
        declared = self._host.capabilities()
        with self._lock:
            if self._era == "legacy":
                raise JSONRPCError(ErrorCode.INVALID_REQUEST, "initialize was already called on this connection")
            if self._era == "modern":
                raise JSONRPCError(
                    ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
                    "Unsupported protocol version",
                    {"supported": list(MODERN_PROTOCOL_VERSIONS), "requested": requested},
                )
            version = requested if requested in SUPPORTED_PROTOCOL_VERSIONS else LATEST_PROTOCOL_VERSION
            self._era = "legacy"
            self._protocol_version = version
            self._client_capabilities = capabilities if isinstance(capabilities, dict) else {}
            self._client_info = client_info if isinstance(client_info, dict) else {}
            self._declared = declared
        result: Dict[str, Any] = {"protocolVersion": version, "capabilities": declared, "serverInfo": self._host.server_info()}
        instructions = self._host.instructions_text()
        if instructions:
            result["instructions"] = instructions
        logger.info(
            "client %s %s initialized with protocol %s",
            self._client_info.get("name", "?"),
            self._client_info.get("version", ""),
            version,
        )
        return result

    def _discover(self, call: _Call) -> Dict[str, Any]:
        result: Dict[str, Any] = {
            "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
            "capabilities": self._host.capabilities(),
            "ttlMs": 0,
            "cacheScope": "private",
        }
        instructions = self._host.instructions_text()
        if instructions:
            result["instructions"] = instructions
        return result

    def _set_level(self, call: _Call) -> Dict[str, Any]:
        level = call.params.get("level")
        if level not in LOG_LEVELS:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        self._log_level = level
        return {}

    # ------------------------------------------------------------------------- listings

    def _capable(self, call: _Call, capability: str) -> None:
        declared = self._host.capabilities() if call.modern else self._declared
        if capability not in declared:
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: this server offers no {capability}")

    def _page(self, call: _Call, kind: str, key: str, items: Any) -> Dict[str, Any]:
        try:
            page, next_cursor = self._host.cursors.page(kind, items, call.params.get("cursor"), self._host.page_size)
        except ValueError as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, str(exc)) from exc
        result: Dict[str, Any] = {key: page}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        if call.modern:
            result.update(ttlMs=0, cacheScope="private")
        return result

    def _list_tools(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "tools")
        return self._page(call, "tools", "tools", (tool.to_dict() for tool in self._host.registry.tools()))

    def _list_prompts(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "prompts")
        return self._page(call, "prompts", "prompts", (prompt.to_dict() for prompt in self._host.registry.prompts()))

    def _list_resources(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "resources")
        return self._page(call, "resources", "resources", self._host.registry.listed_resources())

    def _list_templates(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "resources")
        templates = (template.to_dict() for template in self._host.registry.templates())
        return self._page(call, "templates", "resourceTemplates", templates)

    # ------------------------------------------------------------------------- tools, prompts, resources

    def _call_tool(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "tools")
        name = call.params.get("name")
        if not isinstance(name, str):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "tools/call needs a string 'name'")
        tool = self._host.registry.tool(name)
        if tool is None:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Unknown tool: '{name}'")
        arguments = call.params.get("arguments")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"the arguments of tool '{name}' must be a JSON object")
        answers = self._answers(call, ("tools/call", name, arguments))
        try:
            return tool.invoke(arguments, self._context(call, answers))
        except InputRequired as need:
            return self._input_required(call, need, answers, ("tools/call", name, arguments))
        except ClientCapabilityError as exc:
            if call.modern:
                raise _missing_capability(exc) from exc
            return {"content": [{"type": "text", "text": f"Tool {name} needs a client capability: {exc}"}], "isError": True}

    def _get_prompt(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "prompts")
        name = call.params.get("name")
        if not isinstance(name, str):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "prompts/get needs a string 'name'")
        prompt = self._host.registry.prompt(name)
        if prompt is None:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Unknown prompt: '{name}'")
        arguments = call.params.get("arguments") or {}
        if not isinstance(arguments, dict):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "prompt arguments must be an object of strings")
        answers = self._answers(call, ("prompts/get", name, arguments))
        try:
            return prompt.render(arguments, self._context(call, answers))
        except InputRequired as need:
            return self._input_required(call, need, answers, ("prompts/get", name, arguments))
        except ClientCapabilityError as exc:
            raise (_missing_capability(exc) if call.modern else JSONRPCError(ErrorCode.INTERNAL_ERROR, str(exc))) from exc
        except JSONRPCError:
            raise
        except Exception as exc:
            logger.warning("prompt %s failed", name, exc_info=True)
            raise JSONRPCError(ErrorCode.INTERNAL_ERROR, f"Error rendering prompt {name}: {type(exc).__name__}: {exc}") from exc

    def _not_found(self, call: _Call, uri: str, message: Optional[str] = None) -> JSONRPCError:
        text = message or f"Resource not found: {uri}"
        if call.modern:
            return JSONRPCError(ErrorCode.INVALID_PARAMS, text, {"uri": uri})
        return JSONRPCError(ErrorCode.RESOURCE_NOT_FOUND, text, {"uri": uri})

    def _resource_uri(self, call: _Call) -> str:
        uri = call.params.get("uri")
        if not isinstance(uri, str) or not uri:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"{call.request.method} needs a string 'uri'")
        return uri

    def _read_resource(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "resources")
        uri = self._resource_uri(call)
        found = self._host.registry.find_resource(uri)
        if found is None:
            raise self._not_found(call, uri)
        definition, variables = found
        answers = self._answers(call, ("resources/read", uri, {}))
        ctx = self._context(call, answers)
        try:
            # A template gets the URI's variables as its arguments.
            contents = definition.read(ctx) if isinstance(definition, ResourceDef) else definition.read(uri, variables, ctx)
        except InputRequired as need:
            return self._input_required(call, need, answers, ("resources/read", uri, {}))
        except ResourceNotFound as exc:
            raise self._not_found(call, uri, str(exc)) from exc
        except FileNotFoundError as exc:
            raise self._not_found(call, uri) from exc
        except ClientCapabilityError as exc:
            raise (_missing_capability(exc) if call.modern else JSONRPCError(ErrorCode.INTERNAL_ERROR, str(exc))) from exc
        except JSONRPCError:
            raise
        except Exception as exc:
            logger.warning("reading resource %s failed", uri, exc_info=True)
            raise JSONRPCError(ErrorCode.INTERNAL_ERROR, f"Error reading resource {uri}: {type(exc).__name__}: {exc}") from exc
        result: Dict[str, Any] = {"contents": contents}
        if call.modern:
            result.update(ttlMs=0, cacheScope="private")
        return result

    def _subscribe(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "resources")
        uri = self._resource_uri(call)
        if self._host.registry.find_resource(uri) is None:
            raise self._not_found(call, uri)
        with self._lock:
            self._subscriptions = self._subscriptions | {uri}
        return {}

    def _unsubscribe(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "resources")
        uri = self._resource_uri(call)
        with self._lock:
            self._subscriptions = self._subscriptions - {uri}
        return {}

    def _complete(self, call: _Call) -> Dict[str, Any]:
        self._capable(call, "completions")
        ref = call.params.get("ref")
        argument = call.params.get("argument")
        if not isinstance(ref, dict) or not isinstance(argument, dict):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "completion/complete needs 'ref' and 'argument' objects")
        name, value = argument.get("name"), argument.get("value", "")
        if not isinstance(name, str) or not isinstance(value, str):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "argument needs a string 'name' and 'value'")
        context = call.params.get("context")
        arguments = context.get("arguments") if isinstance(context, dict) else None
        given = {str(k): str(v) for k, v in arguments.items()} if isinstance(arguments, dict) else {}
        registry = self._host.registry
        source = None
        if ref.get("type") == "ref/prompt":
            prompt = registry.prompt(str(ref.get("name")))
            if prompt is None:
                raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Unknown prompt: '{ref.get('name')}'")
            source = prompt.completions.get(name)
        elif ref.get("type") == "ref/resource":
            uri = str(ref.get("uri"))
            template = registry.template(uri)
            if template is not None:
                source = template.completions.get(name)
            elif registry.resource(uri) is None:
                raise self._not_found(call, uri)
        else:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"unknown completion reference type {ref.get('type')!r}")
        values: List[str] = []
        if source is not None:
            try:
                values = complete_values(source, value, given)
            except Exception as exc:
                logger.warning("completion of %s failed", name, exc_info=True)
                raise JSONRPCError(ErrorCode.INTERNAL_ERROR, f"completion failed: {type(exc).__name__}: {exc}") from exc
        return {
            "completion": {"values": values[:MAX_COMPLETIONS], "total": len(values), "hasMore": len(values) > MAX_COMPLETIONS}
        }

    # ------------------------------------------------------------------------- 2026-07-28 input requests

    def _binding(self, what: Tuple[str, str, Any]) -> str:
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:32]

    def _answers(self, call: _Call, what: Tuple[str, str, Any]) -> Dict[str, Any]:
        """The client's answers so far: the signed ``requestState`` plus the new ``inputResponses``."""
        if not call.modern:
            return {}
        state = call.params.get("requestState")
        responses = call.params.get("inputResponses")
        if state is None:
            return {}
        decoded = self._decode_state(state)
        if decoded.get("b") != self._binding(what):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "Invalid requestState: it belongs to another request")
        answers = dict(decoded.get("a") or {})
        if isinstance(responses, dict):
            for key in decoded.get("p") or ():
                if key in responses:
                    answers[key] = responses[key]
        return answers

    def _decode_state(self, state: Any) -> Dict[str, Any]:
        try:
            if not isinstance(state, str):
                raise ValueError("not a string")
            body, _, signature = state.rpartition(".")
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            expected = base64.urlsafe_b64encode(self._host.sign(payload)).decode().rstrip("=")
            if not hmac.compare_digest(signature, expected):
                raise ValueError("bad signature")
            decoded = json.loads(payload)
            if not isinstance(decoded, dict):
                raise ValueError("not an object")
            return decoded
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "Invalid requestState: not one this server issued") from exc

    def _input_required(
        self, call: _Call, need: InputRequired, answers: Dict[str, Any], what: Tuple[str, str, Any]
    ) -> Dict[str, Any]:
        payload = json.dumps({"a": answers, "p": [need.key], "b": self._binding(what)}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        signature = base64.urlsafe_b64encode(self._host.sign(payload)).decode().rstrip("=")
        return {
            "resultType": "input_required",
            "inputRequests": {need.key: need.request},
            "requestState": f"{body}.{signature}",
        }

    # ------------------------------------------------------------------------- 2026-07-28 listen streams

    def _listen(self, call: _Call) -> Dict[str, Any]:
        wanted = call.params.get("notifications")
        if not isinstance(wanted, dict):
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "subscriptions/listen needs a 'notifications' object")
        declared = self._host.capabilities()
        honored: Dict[str, Any] = {}
        for key, capability in (
            ("toolsListChanged", "tools"),
            ("promptsListChanged", "prompts"),
            ("resourcesListChanged", "resources"),
        ):
            if wanted.get(key) is True and capability in declared:
                honored[key] = True
        uris = wanted.get("resourceSubscriptions")
        if isinstance(uris, list) and "resources" in declared:
            kept = [uri for uri in uris if isinstance(uri, str)]
            if kept:
                honored["resourceSubscriptions"] = kept
        request_id = call.request.id
        listen = _Listen(request_id, honored)
        with self._lock:
            if len(self._listens) >= self._host.max_listen_streams:
                raise JSONRPCError(ErrorCode.INTERNAL_ERROR, "Subscription limit reached")
            self._listens[request_id] = listen
        meta = {META_SUBSCRIPTION_ID: request_id}
        try:
            self._quietly("notifications/subscriptions/acknowledged", {"notifications": honored, "_meta": meta})
            with listen.lock:
                backlog, listen.backlog = listen.backlog, []
                listen.ready = True
            for method, params in backlog:
                self._quietly(method, params)
            # Two events can end the stream: the server closing it (waited on) and the client
            # cancelling it (the endpoint's event, checked between waits).
            cancelled = call.request.cancelled
            while not listen.stop.wait(_LISTEN_POLL) and not cancelled.is_set():
                pass
            result: Dict[str, Any] = self._stamp({"_meta": meta})
            if not cancelled.is_set():
                # The server is closing the stream: its final result must be on the wire before
                # close() goes on to close the endpoint (which would drop a response still to be
                # sent). The endpoint has no deferred-response API, so the result is written
                # here and the request marked answered, which stops the endpoint answering twice.
                try:
                    self._transport.send(make_result(request_id, result))
                except (TransportError, ValueError) as exc:
                    logger.debug("could not end listen stream %r: %s", request_id, exc)
                cancelled.set()
        finally:
            with self._lock:
                self._listens.pop(request_id, None)
                self._lock.notify_all()
        return result


def _check_envelope(params: Dict[str, Any]) -> Tuple[str, Dict[str, Any], Dict[str, Any]]:
    """Validate a 2026-07-28 request's ``_meta`` envelope; ``(version, capabilities, client info)``."""
    meta = params.get("_meta")
    if not isinstance(meta, dict):
        raise JSONRPCError(
            ErrorCode.INVALID_PARAMS,
            f"params._meta must be an object carrying the required {META_PROTOCOL_VERSION!r} and "
            f"{META_CLIENT_CAPABILITIES!r} envelope keys",
        )
    missing = [key for key in (META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES) if key not in meta]
    if missing:
        raise JSONRPCError(
            ErrorCode.INVALID_PARAMS, f"params._meta is missing the required envelope key(s): {', '.join(missing)}"
        )
    version = meta[META_PROTOCOL_VERSION]
    if not isinstance(version, str):
        raise JSONRPCError(ErrorCode.INVALID_PARAMS, "the protocol-version envelope value must be a string")
    if version not in MODERN_PROTOCOL_VERSIONS:
        raise JSONRPCError(
            ErrorCode.UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            {"supported": list(MODERN_PROTOCOL_VERSIONS), "requested": version},
        )
    capabilities = meta[META_CLIENT_CAPABILITIES]
    if not isinstance(capabilities, dict):
        raise JSONRPCError(ErrorCode.INVALID_PARAMS, "the client-capabilities envelope value must be an object")
    info = meta.get(META_CLIENT_INFO)
    return version, capabilities, info if isinstance(info, dict) else {}


def _missing_capability(exc: ClientCapabilityError) -> JSONRPCError:
    required: Dict[str, Any] = {}
    node = required
    parts = exc.capability.split(".")
    for part in parts[:-1]:
        node[part] = {}
        node = node[part]
    node[parts[-1]] = {}
    return JSONRPCError(ErrorCode.MISSING_REQUIRED_CLIENT_CAPABILITY, str(exc), {"requiredCapabilities": required})

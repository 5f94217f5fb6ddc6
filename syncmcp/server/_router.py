r"""The MCP meaning of each request that needs no connection state, in both protocol eras.

A :class:`RequestRouter` answers ``server/discover``, the listings, ``tools/call``,
``prompts/get``, ``resources/read``, ``completion/complete`` and custom methods. What it needs
to know about the request's connection travels in the :class:`Call`: the era, the version, the
client's capabilities and the peer that carries notifications and questions to the client. It
serves the stdio connection (which adds the stateful methods: ``logging/setLevel``,
``resources/subscribe``, ``subscriptions/listen``) and the stateless HTTP paths alike.

In the 2026-07-28 era, a question to the client ends the handler with an
``InputRequiredResult`` whose ``requestState`` is signed by the server, so any process holding
the same signing key can take the retry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

from .._endpoint import InboundRequest, JSONRPCError
from .._era import (
    META_CLIENT_CAPABILITIES,
    META_CLIENT_INFO,
    META_PROTOCOL_VERSION,
    META_SERVER_INFO,
    MODERN_PROTOCOL_VERSION,
)
from .._jsonrpc import ErrorCode
from ._context import Context, ContextPeer, InputRequired
from ._errors import ClientCapabilityError, ResourceNotFound
from ._features import ResourceDef, complete_values
from ._pagination import CursorCodec
from ._registry import Registry

__all__ = [
    "MODERN_PROTOCOL_VERSIONS",
    "Call",
    "RequestRouter",
    "RouterHost",
    "check_envelope",
]

logger = logging.getLogger("syncmcp.server")

#: Revisions served with the per-request envelope (no handshake).
MODERN_PROTOCOL_VERSIONS: Tuple[str, ...] = (MODERN_PROTOCOL_VERSION,)
#: Most values one ``completion/complete`` answer carries (spec limit).
MAX_COMPLETIONS = 100

_LEGACY_ONLY = frozenset({"logging/setLevel", "resources/subscribe", "resources/unsubscribe"})
_MODERN_ONLY = frozenset({"server/discover", "subscriptions/listen"})


class RouterHost(Protocol):
    """What the router needs from its server (``Server`` implements it)."""

    name: str
    registry: Registry
    cursors: CursorCodec
    page_size: int

    def server_info(self) -> Dict[str, Any]:
        """``serverInfo``."""

    def instructions_text(self) -> Optional[str]:
        """``instructions``, if any."""

    def capabilities(self) -> Dict[str, Any]:
        """The capabilities to declare, from what is registered now."""

    def custom_request_handler(self, method: str) -> Optional[Callable[[Context, Dict[str, Any]], Any]]:
        """A handler registered for a method MCP does not define."""

    def sign(self, payload: bytes) -> bytes:
        """An HMAC of ``payload`` with the server's signing key."""


@dataclass
class Call:
    """One request as the router sees it.

    Attributes:
        request: the request (id, method, params, cancellation event).
        modern: whether it is a 2026-07-28 request.
        version: the protocol revision it is served under.
        capabilities: the client's capabilities (declared at ``initialize``, or in this request).
        client_info: the client's ``Implementation``.
        peer: what carries this request's notifications and questions to the client.
        declared: the server capabilities declared to a legacy client at ``initialize``.
        auth: the verified access token's claims, when the transport authenticates requests.
    """

    request: InboundRequest
    modern: bool
    version: str
    capabilities: Dict[str, Any]
    client_info: Dict[str, Any]
    peer: ContextPeer
    declared: Dict[str, Any] = field(default_factory=dict)
    auth: Optional[Mapping[str, Any]] = None

    @property
    def params(self) -> Dict[str, Any]:
        """The request's params."""
        return self.request.params


class RequestRouter:
    """The stateless part of a server's request handling (see the module docs).

    Args:
        host: the server.

    Example::

        router = RequestRouter(server)
        result = router.dispatch(call)
    """

    def __init__(self, host: RouterHost) -> None:
        self._host = host
        self._routes: Dict[str, Callable[[Call], Any]] = {
            "server/discover": self._discover,
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
            "resources/list": self._list_resources,
            "resources/templates/list": self._list_templates,
            "resources/read": self._read_resource,
            "prompts/list": self._list_prompts,
            "prompts/get": self._get_prompt,
            "completion/complete": self._complete,
        }

    def dispatch(self, call: Call, stateful: Optional[Mapping[str, Callable[[Call], Any]]] = None) -> Any:
        """The result of one request; ``stateful`` adds the caller's own methods.

        Raises:
            JSONRPCError: the error to answer with.
        """
        method = call.request.method
        route = self._routes.get(method)
        if route is None and stateful is not None:
            route = stateful.get(method)
        era_bound = method in _LEGACY_ONLY or method in _MODERN_ONLY
        if era_bound and ((call.modern and method in _LEGACY_ONLY) or (not call.modern and method in _MODERN_ONLY)):
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method} is not part of protocol {call.version}")
        if route is None:
            if era_bound:
                raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method} is not served here")
            custom = self._host.custom_request_handler(method)
            if custom is None:
                raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: {method}")
            return self._custom(custom, call)
        return route(call)

    def stamp(self, result: Any) -> Any:
        """A 2026-07-28 result: ``resultType`` and the server's identity added."""
        if not isinstance(result, dict):
            return result
        stamped = dict(result)
        stamped.setdefault("resultType", "complete")
        meta = dict(stamped.get("_meta") or {})
        meta.setdefault(META_SERVER_INFO, self._host.server_info())
        stamped["_meta"] = meta
        return stamped

    def initialize_result(self, version: str, declared: Dict[str, Any]) -> Dict[str, Any]:
        """The ``initialize`` result for a negotiated ``version``."""
        result: Dict[str, Any] = {"protocolVersion": version, "capabilities": declared, "serverInfo": self._host.server_info()}
        instructions = self._host.instructions_text()
        if instructions:
            result["instructions"] = instructions
        return result

    def context(self, call: Call, answers: Optional[Dict[str, Any]] = None) -> Context:
        """The handler's :class:`Context` for ``call``."""
        return Context(
            call.peer,
            request_id=call.request.id,
            method=call.request.method,
            params=call.params,
            cancelled=call.request.cancelled,
            protocol_version=call.version,
            modern=call.modern,
            client_info=call.client_info,
            client_capabilities=call.capabilities,
            answers=answers,
            auth=call.auth,
        )

    def _custom(self, handler: Callable[[Context, Dict[str, Any]], Any], call: Call) -> Any:
        try:
            result = handler(self.context(call), call.params)
        except (ValueError, TypeError) as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"Invalid params for {call.request.method}: {exc}") from exc
        return {} if result is None else result

    def _discover(self, call: Call) -> Dict[str, Any]:
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

    # ------------------------------------------------------------------------- listings

    def require_capability(self, call: Call, capability: str) -> None:
        """Raise -32601 unless the server declared ``capability`` to this client."""
        declared = self._host.capabilities() if call.modern else call.declared
        if capability not in declared:
            raise JSONRPCError(ErrorCode.METHOD_NOT_FOUND, f"Method not found: this server offers no {capability}")

    def _page(self, call: Call, kind: str, key: str, items: Any) -> Dict[str, Any]:
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

    def _list_tools(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "tools")
        return self._page(call, "tools", "tools", (tool.to_dict() for tool in self._host.registry.tools()))

    def _list_prompts(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "prompts")
        return self._page(call, "prompts", "prompts", (prompt.to_dict() for prompt in self._host.registry.prompts()))

    def _list_resources(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "resources")
        return self._page(call, "resources", "resources", self._host.registry.listed_resources())

    def _list_templates(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "resources")
        templates = (template.to_dict() for template in self._host.registry.templates())
        return self._page(call, "templates", "resourceTemplates", templates)

    # ------------------------------------------------------------------------- tools, prompts, resources

    def _call_tool(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "tools")
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
            return tool.invoke(arguments, self.context(call, answers))
        except InputRequired as need:
            return self._input_required(call, need, answers, ("tools/call", name, arguments))
        except ClientCapabilityError as exc:
            if call.modern:
                raise _missing_capability(exc) from exc
            return {"content": [{"type": "text", "text": f"Tool {name} needs a client capability: {exc}"}], "isError": True}

    def _get_prompt(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "prompts")
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
            return prompt.render(arguments, self.context(call, answers))
        except InputRequired as need:
            return self._input_required(call, need, answers, ("prompts/get", name, arguments))
        except ClientCapabilityError as exc:
            raise (_missing_capability(exc) if call.modern else JSONRPCError(ErrorCode.INTERNAL_ERROR, str(exc))) from exc
        except JSONRPCError:
            raise
        except Exception as exc:
            logger.warning("prompt %s failed", name, exc_info=True)
            raise JSONRPCError(ErrorCode.INTERNAL_ERROR, f"Error rendering prompt {name}: {type(exc).__name__}: {exc}") from exc

    def not_found(self, call: Call, uri: str, message: Optional[str] = None) -> JSONRPCError:
        """The era's error for a resource that does not exist."""
        text = message or f"Resource not found: {uri}"
        if call.modern:
            return JSONRPCError(ErrorCode.INVALID_PARAMS, text, {"uri": uri})
        return JSONRPCError(ErrorCode.RESOURCE_NOT_FOUND, text, {"uri": uri})

    def resource_uri(self, call: Call) -> str:
        """The request's ``uri`` param (-32602 when it is missing)."""
        uri = call.params.get("uri")
        if not isinstance(uri, str) or not uri:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"{call.request.method} needs a string 'uri'")
        return uri

    def _read_resource(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "resources")
        uri = self.resource_uri(call)
        found = self._host.registry.find_resource(uri)
        if found is None:
            raise self.not_found(call, uri)
        definition, variables = found
        answers = self._answers(call, ("resources/read", uri, {}))
        ctx = self.context(call, answers)
        try:
            # A template gets the URI's variables as its arguments.
            contents = definition.read(ctx) if isinstance(definition, ResourceDef) else definition.read(uri, variables, ctx)
        except InputRequired as need:
            return self._input_required(call, need, answers, ("resources/read", uri, {}))
        except ResourceNotFound as exc:
            raise self.not_found(call, uri, str(exc)) from exc
        except FileNotFoundError as exc:
            raise self.not_found(call, uri) from exc
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

    def _complete(self, call: Call) -> Dict[str, Any]:
        self.require_capability(call, "completions")
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
                raise self.not_found(call, uri)
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

    def _answers(self, call: Call, what: Tuple[str, str, Any]) -> Dict[str, Any]:
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
            if not hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii")):
                raise ValueError("bad signature")
            decoded = json.loads(payload)
            if not isinstance(decoded, dict):
                raise ValueError("not an object")
            return decoded
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, "Invalid requestState: not one this server issued") from exc

    def _input_required(
        self, call: Call, need: InputRequired, answers: Dict[str, Any], what: Tuple[str, str, Any]
    ) -> Dict[str, Any]:
        payload = json.dumps({"a": answers, "p": [need.key], "b": self._binding(what)}, separators=(",", ":")).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        signature = base64.urlsafe_b64encode(self._host.sign(payload)).decode().rstrip("=")
        return {
            "resultType": "input_required",
            "inputRequests": {need.key: need.request},
            "requestState": f"{body}.{signature}",
        }


def check_envelope(params: Dict[str, Any]) -> Tuple[str, Dict[str, Any], Dict[str, Any]]:
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

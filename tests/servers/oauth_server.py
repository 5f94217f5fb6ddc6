"""A scripted OAuth authorization server and MCP protected resource, for the OAuth client tests.

Runs in the test process: ``http.server.ThreadingHTTPServer`` on 127.0.0.1, a free port, served by
a background thread. :func:`deployment` starts an authorization server and a protected resource
on two origins (or on one, for the 2025-03-26 scenarios), sharing one token registry; every
request each receives is recorded for the tests to inspect.

The authorization server is strict where the client must be correct: PKCE S256 verified, codes
single use, the redirect URI and client checked, the client authentication method compared to
the registered one, refresh tokens rotated and single use. The protected resource answers
``POST /mcp`` with 401 (``WWW-Authenticate: Bearer resource_metadata=..., scope=...``) until it
gets a valid token, and 403 ``insufficient_scope`` while the token lacks a required scope.

With ``deployment(..., idp=IdpOptions())`` an enterprise identity provider runs on a third origin
(SEP-990, Enterprise-Managed Authorization): it issues ID tokens to the tests, exchanges them at
``/token`` for ID-JAGs (RFC 8693, every parameter checked), and the authorization server redeems
those with the jwt-bearer grant (RFC 7523), checking audience, resource, expiry, single use and
that the ID-JAG names the authenticated client.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

Reply = Tuple[int, Dict[str, str], bytes]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"


def json_reply(status: int, data: Any, headers: Optional[Dict[str, str]] = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()


def oauth_error(status: int, error: str, description: str = "") -> Reply:
    return json_reply(status, {"error": error, "error_description": description or error})


class TokenRegistry:
    """Access tokens the authorization server issued, for the protected resource to check."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: Dict[str, Tuple[Tuple[str, ...], Optional[float]]] = {}

    def issue(self, scopes: Tuple[str, ...], expires_in: Optional[int]) -> str:
        token = "at-" + secrets.token_urlsafe(12)
        with self._lock:
            self._tokens[token] = (scopes, None if expires_in is None else time.monotonic() + expires_in)
        return token

    def scopes_of(self, token: str) -> Optional[Tuple[str, ...]]:
        with self._lock:
            found = self._tokens.get(token)
        if found is None or (found[1] is not None and found[1] < time.monotonic()):
            return None
        return found[0]

    def revoke_all(self) -> None:
        with self._lock:
            self._tokens.clear()


@dataclass
class AuthOptions:
    """How the scripted authorization server behaves."""

    issuer_path: str = ""  # the issuer's path ("/tenant1"); endpoints live under it
    metadata_path: Optional[str] = "default"  # "default": RFC 8414 path for the issuer; None: no metadata
    openid: bool = False  # add OpenID Connect fields to the metadata
    issuer_override: Optional[str] = None  # metadata names another issuer
    code_challenge_methods: Optional[List[str]] = field(default_factory=lambda: ["S256"])
    registration: bool = True
    auth_methods: Optional[List[str]] = field(default_factory=lambda: ["none"])
    registration_auth_method: Optional[str] = None  # forced answer to a registration
    omit_registered_method: bool = False  # answer a registration without token_endpoint_auth_method
    cimd: Optional[bool] = None  # client_id_metadata_document_supported
    scopes_supported: Optional[List[str]] = None
    grant_types: List[str] = field(default_factory=lambda: ["authorization_code", "refresh_token"])
    refresh_tokens: bool = True
    expires_in: Optional[int] = 3600
    advertise_iss: bool = False  # authorization_response_iss_parameter_supported
    iss_in_callback: Optional[str] = "none"  # "none": omit; "issuer": the issuer; else that value
    state_override: Optional[str] = None
    authorization_error: Optional[str] = None
    refresh_error: Optional[str] = None
    jwt_bearer_refresh: bool = False  # a refresh token with the jwt-bearer grant's access token
    clients: Dict[str, Optional[str]] = field(default_factory=dict)  # pre-registered: id -> secret
    client_methods: Dict[str, str] = field(default_factory=dict)  # pre-registered: id -> auth method
    on_authorize: Optional[Callable[[Dict[str, str]], None]] = None  # runs before the redirect
    metadata_overrides: Dict[str, Any] = field(default_factory=dict)  # replace metadata fields (other endpoints)


class AuthServer:
    """The authorization server's routes; ``base`` is its origin, set once listening."""

    def __init__(self, options: AuthOptions, tokens: TokenRegistry) -> None:
        self.options = options
        self.tokens = tokens
        self.base = ""
        self.lock = threading.Lock()
        self.requests: List[Tuple[str, str]] = []  # (method, path) of every request
        self.metadata_requests: List[str] = []
        self.authorization_requests: List[Dict[str, str]] = []
        self.token_requests: List[Dict[str, Any]] = []
        self.registrations: List[Dict[str, Any]] = []
        self.registered: Dict[str, Tuple[Optional[str], str, List[str]]] = {}  # id -> (secret, method, redirect URIs)
        self._codes: Dict[str, Dict[str, str]] = {}
        self._refresh: Dict[str, Tuple[str, Tuple[str, ...]]] = {}  # refresh token -> (client id, scopes)
        self._ids = itertools.count(1)
        self.idp: Optional[IdentityProvider] = None  # whose ID-JAGs the jwt-bearer grant accepts

    @property
    def issuer(self) -> str:
        return self.base + self.options.issuer_path

    @property
    def metadata_path(self) -> Optional[str]:
        path = self.options.metadata_path
        if path == "default":
            return "/.well-known/oauth-authorization-server" + self.options.issuer_path
        return path

    def metadata(self) -> Dict[str, Any]:
        o = self.options
        prefix = self.issuer
        data: Dict[str, Any] = {
            "issuer": o.issuer_override or self.issuer,
            "authorization_endpoint": f"{prefix}/authorize",
            "token_endpoint": f"{prefix}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": o.grant_types,
        }
        if o.registration:
            data["registration_endpoint"] = f"{prefix}/register"
        if o.code_challenge_methods is not None:
            data["code_challenge_methods_supported"] = o.code_challenge_methods
        if o.auth_methods is not None:
            data["token_endpoint_auth_methods_supported"] = o.auth_methods
        if o.scopes_supported is not None:
            data["scopes_supported"] = o.scopes_supported
        if o.cimd is not None:
            data["client_id_metadata_document_supported"] = o.cimd
        if o.advertise_iss:
            data["authorization_response_iss_parameter_supported"] = True
        if o.openid:
            data.update(jwks_uri=f"{self.base}/jwks.json", subject_types_supported=["public"])
        data.update(o.metadata_overrides)
        return data

    def handle(self, method: str, path: str, query: Dict[str, str], headers: Any, body: bytes) -> Optional[Reply]:
        with self.lock:
            self.requests.append((method, path))
        prefix = self.options.issuer_path
        if method == "GET" and ("oauth-authorization-server" in path or "openid-configuration" in path):
            with self.lock:
                self.metadata_requests.append(path)
            if path == self.metadata_path:
                return json_reply(200, self.metadata())
            return None
        if method == "GET" and path == f"{prefix}/authorize":
            return self.authorize(query)
        if method == "POST" and path == f"{prefix}/token":
            form = dict(urllib.parse.parse_qsl(body.decode()))
            return self.token(form, headers.get("Authorization"))
        if method == "POST" and path == f"{prefix}/register" and self.options.registration:
            return self.register(json.loads(body or b"{}"))
        return None

    # -- registration

    def register(self, body: Dict[str, Any]) -> Reply:
        with self.lock:
            self.registrations.append(body)
        method = self.options.registration_auth_method or body.get("token_endpoint_auth_method") or "client_secret_basic"
        client_id = f"client-{next(self._ids)}"
        secret = None if method == "none" else "secret-" + secrets.token_urlsafe(8)
        with self.lock:
            self.registered[client_id] = (secret, method, list(body.get("redirect_uris") or []))
        answer: Dict[str, Any] = {"client_id": client_id, "client_name": body.get("client_name")}
        if secret:
            answer["client_secret"] = secret
        if not self.options.omit_registered_method:
            answer["token_endpoint_auth_method"] = method
        return json_reply(201, answer)

    def known_client(self, client_id: str) -> Optional[Tuple[Optional[str], str]]:
        """(secret, auth method) of a client this server accepts."""
        o = self.options
        with self.lock:
            if client_id in self.registered:
                secret, method, _uris = self.registered[client_id]
                return secret, method
        if client_id in o.clients:
            secret = o.clients[client_id]
            return secret, o.client_methods.get(client_id, "client_secret_basic" if secret else "none")
        if o.cimd and client_id.startswith("https://"):
            return None, "none"
        return None

    # -- authorization endpoint

    def authorize(self, query: Dict[str, str]) -> Reply:
        o = self.options
        with self.lock:
            self.authorization_requests.append(dict(query))
        if o.on_authorize is not None:
            o.on_authorize(query)
        redirect = query.get("redirect_uri", "")
        if self.known_client(query.get("client_id", "")) is None or not redirect:
            return oauth_error(400, "invalid_request", "unknown client or no redirect_uri")
        params: Dict[str, str] = {}
        if o.authorization_error:
            params["error"] = o.authorization_error
            params["error_description"] = "the user said no"
        else:
            code = "code-" + secrets.token_urlsafe(8)
            with self.lock:
                self._codes[code] = dict(query)
            params["code"] = code
        params["state"] = o.state_override or query.get("state", "")
        if o.iss_in_callback == "issuer":
            params["iss"] = self.issuer
        elif o.iss_in_callback not in (None, "none"):
            params["iss"] = str(o.iss_in_callback)
        return 302, {"Location": f"{redirect}?{urllib.parse.urlencode(params)}"}, b""

    # -- token endpoint

    @staticmethod
    def client_auth(form: Dict[str, str], header: Optional[str]) -> Tuple[str, str, Optional[str]]:
        """(method used, client id, secret presented)."""
        if "client_assertion" in form:  # verified by the test: the server only records it
            return "private_key_jwt", form.get("client_id", ""), None
        if header and header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return "client_secret_basic", urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
        if "client_secret" in form:
            return "client_secret_post", form.get("client_id", ""), form["client_secret"]
        return "none", form.get("client_id", ""), None

    def token(self, form: Dict[str, str], header: Optional[str]) -> Reply:
        method, client_id, secret = self.client_auth(form, header)
        with self.lock:
            self.token_requests.append({"form": dict(form), "auth_method": method, "client_id": client_id})
        known = self.known_client(client_id)
        if known is None:
            return oauth_error(401, "invalid_client", "unknown client")
        expected_secret, expected_method = known
        if method != expected_method or (expected_secret is not None and secret != expected_secret):
            return oauth_error(401, "invalid_client", f"expected {expected_method}, got {method}")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self.exchange_code(form, client_id)
        if grant == "refresh_token":
            return self.refresh(form, client_id)
        if grant == "client_credentials" and (expected_secret is not None or method == "private_key_jwt"):
            return self.issue(client_id, tuple(form.get("scope", "").split()), refresh=False)
        if grant == JWT_BEARER and grant in self.options.grant_types and self.idp is not None:
            return self.jwt_bearer(form, client_id)
        return oauth_error(400, "unsupported_grant_type")

    def jwt_bearer(self, form: Dict[str, str], client_id: str) -> Reply:
        """RFC 7523 with an ID-JAG: issued by the trusted IdP, for this issuer, naming this client."""
        assert self.idp is not None
        claims = self.idp.redeem(form.get("assertion", ""))
        if claims is None:
            return oauth_error(400, "invalid_grant", "unknown, used or expired ID-JAG")
        if claims["aud"] != self.issuer:
            return oauth_error(400, "invalid_grant", "the ID-JAG is for another audience")
        if claims["client_id"] != client_id:
            return oauth_error(400, "invalid_grant", "ID-JAG client_id does not match the authenticated client")
        if "resource" in form and form["resource"] != claims["resource"]:
            return oauth_error(400, "invalid_target", "the resource differs from the ID-JAG's")
        return self.issue(client_id, tuple(claims["scope"].split()), refresh=self.options.jwt_bearer_refresh)

    def exchange_code(self, form: Dict[str, str], client_id: str) -> Reply:
        with self.lock:
            request = self._codes.pop(form.get("code", ""), None)
        if request is None or request.get("client_id") != client_id:
            return oauth_error(400, "invalid_grant", "unknown or used code")
        if request.get("redirect_uri") != form.get("redirect_uri"):
            return oauth_error(400, "invalid_grant", "redirect_uri mismatch")
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if request.get("code_challenge_method") != "S256" or request.get("code_challenge") != challenge:
            return oauth_error(400, "invalid_grant", "PKCE verification failed")
        return self.issue(client_id, tuple(request.get("scope", "").split()), refresh=self.options.refresh_tokens)

    def refresh(self, form: Dict[str, str], client_id: str) -> Reply:
        if self.options.refresh_error:
            return oauth_error(400, self.options.refresh_error, "the refresh token is no longer valid")
        with self.lock:
            found = self._refresh.pop(form.get("refresh_token", ""), None)
        if found is None or found[0] != client_id:
            return oauth_error(400, "invalid_grant", "unknown or used refresh token")
        return self.issue(client_id, found[1], refresh=True)

    def issue(self, client_id: str, scopes: Tuple[str, ...], refresh: bool) -> Reply:
        answer: Dict[str, Any] = {"access_token": self.tokens.issue(scopes, self.options.expires_in), "token_type": "Bearer"}
        if self.options.expires_in is not None:
            answer["expires_in"] = self.options.expires_in
        if scopes:
            answer["scope"] = " ".join(scopes)
        if refresh:
            refresh_token = "rt-" + secrets.token_urlsafe(12)
            with self.lock:
                self._refresh[refresh_token] = (client_id, scopes)
            answer["refresh_token"] = refresh_token
        return json_reply(200, answer)


@dataclass
class IdpOptions:
    """How the scripted enterprise identity provider behaves."""

    clients: Dict[str, Optional[str]] = field(default_factory=lambda: {"idp-client": None})  # id -> secret
    client_methods: Dict[str, str] = field(default_factory=dict)  # id -> auth method (default by secret)
    mcp_client_id: str = "mcp-client"  # the client_id claim of the ID-JAGs it issues
    exchange_error: Optional[str] = None  # refuse every exchange with this error
    issued_token_type: str = ID_JAG
    id_jag_lifetime: int = 300


class IdentityProvider:
    """An enterprise IdP: issues ID tokens (to the tests) and exchanges them for ID-JAGs (RFC 8693).

    Every ``/token`` request is recorded as ``{"form", "auth_method", "client_id"}``.
    """

    def __init__(self, options: IdpOptions) -> None:
        self.options = options
        self.base = ""
        self.lock = threading.Lock()
        self.exchanges: List[Dict[str, Any]] = []
        self.id_tokens: Dict[str, str] = {}  # ID token -> audience (the IdP client id)
        self.issued: List[str] = []  # ID-JAGs, in order
        self._grants: Dict[str, Dict[str, Any]] = {}  # unredeemed ID-JAG -> claims

    def issue_id_token(self, audience: str = "idp-client") -> str:
        """A new ID token for the IdP client ``audience``, shaped like a JWT."""
        parts = [base64.urlsafe_b64encode(secrets.token_bytes(24)).rstrip(b"=").decode() for _ in range(3)]
        token = "eyJ" + ".".join(parts)
        with self.lock:
            self.id_tokens[token] = audience
        return token

    def redeem(self, assertion: str) -> Optional[Dict[str, Any]]:
        """The claims of an unused, unexpired ID-JAG (used up by this call), else ``None``."""
        with self.lock:
            claims = self._grants.pop(assertion, None)
        if claims is None or claims["exp"] < time.time():
            return None
        return claims

    def handle(self, method: str, path: str, query: Dict[str, str], headers: Any, body: bytes) -> Optional[Reply]:
        if method == "POST" and path == "/token":
            return self.token(dict(urllib.parse.parse_qsl(body.decode())), headers.get("Authorization"))
        return None

    def token(self, form: Dict[str, str], header: Optional[str]) -> Reply:
        o = self.options
        method, client_id, secret = AuthServer.client_auth(form, header)
        with self.lock:
            self.exchanges.append({"form": dict(form), "auth_method": method, "client_id": client_id})
        if client_id not in o.clients:
            return oauth_error(401, "invalid_client", "unknown client")
        expected_secret = o.clients[client_id]
        expected_method = o.client_methods.get(client_id, "client_secret_basic" if expected_secret else "none")
        if method != expected_method or secret != expected_secret:
            return oauth_error(401, "invalid_client", f"expected {expected_method}, got {method}")
        if form.get("grant_type") != TOKEN_EXCHANGE:
            return oauth_error(400, "unsupported_grant_type", "only token exchange")
        if o.exchange_error:
            return oauth_error(400, o.exchange_error, "the IdP policy refuses this client for this audience")
        missing = [name for name in ("audience", "resource", "subject_token") if not form.get(name)]
        if form.get("requested_token_type") != ID_JAG:
            missing.append("requested_token_type")
        if form.get("subject_token_type") != ID_TOKEN:
            missing.append("subject_token_type")
        if missing:
            return oauth_error(400, "invalid_request", "missing or invalid: " + ", ".join(missing))
        with self.lock:
            audience = self.id_tokens.get(form["subject_token"])
        if audience != client_id:
            return oauth_error(400, "invalid_grant", "Invalid ID token")
        grant = "eyJ" + base64.urlsafe_b64encode(secrets.token_bytes(24)).rstrip(b"=").decode() + ".jag"
        claims = {
            "aud": form["audience"],
            "resource": form["resource"],
            "client_id": o.mcp_client_id,
            "scope": form.get("scope", ""),
            "exp": time.time() + o.id_jag_lifetime,
        }
        with self.lock:
            self._grants[grant] = claims
            self.issued.append(grant)
        answer: Dict[str, Any] = {"access_token": grant, "issued_token_type": o.issued_token_type, "token_type": "N_A"}
        answer["expires_in"] = o.id_jag_lifetime
        if form.get("scope"):
            answer["scope"] = form["scope"]
        return json_reply(200, answer)


@dataclass
class ResourceOptions:
    """How the scripted MCP server (the protected resource) behaves."""

    prm: Optional[str] = "path"  # "path", "root", "custom" or None (no protected resource metadata)
    prm_in_header: bool = True
    resource_override: Optional[str] = None
    scopes_supported: Optional[List[str]] = None
    challenge_scope: Optional[str] = None  # scope= of the 401 challenge
    required_scopes: Tuple[str, ...] = ()  # a valid token without them gets 403 insufficient_scope
    always_403: bool = False  # insufficient_scope whatever the token (the retry-limit scenario)
    authorization_servers: Optional[List[str]] = None  # the PRM names these instead of the issuer


class ResourceServer:
    """The MCP endpoint ``/mcp`` and its protected resource metadata."""

    PRM_PATHS = {
        "path": "/.well-known/oauth-protected-resource/mcp",
        "root": "/.well-known/oauth-protected-resource",
        "custom": "/custom/metadata/location.json",
    }

    def __init__(self, options: ResourceOptions, tokens: TokenRegistry) -> None:
        self.options = options
        self.tokens = tokens
        self.base = ""
        self.issuer = ""
        self.lock = threading.Condition()
        self.requests: List[Tuple[str, str]] = []
        self.prm_requests: List[str] = []
        self.mcp_requests: List[Optional[str]] = []  # the bearer token of each /mcp request
        self.statuses: List[int] = []

    @property
    def prm_url(self) -> Optional[str]:
        return None if self.options.prm is None else self.base + self.PRM_PATHS[self.options.prm]

    def count(self, status: int) -> int:
        with self.lock:
            return self.statuses.count(status)

    def wait_for(self, status: int, n: int, timeout: float = 5.0) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.statuses.count(status) >= n, timeout)

    def handle(self, method: str, path: str, query: Dict[str, str], headers: Any, body: bytes) -> Optional[Reply]:
        with self.lock:
            self.requests.append((method, path))
        if method == "GET" and (path.startswith("/.well-known/oauth-protected-resource") or path == self.PRM_PATHS["custom"]):
            with self.lock:
                self.prm_requests.append(path)
            if self.options.prm is not None and path == self.PRM_PATHS[self.options.prm]:
                return json_reply(200, self.metadata())
            return None
        if path == "/mcp" and method == "POST":
            reply = self.mcp(headers.get("Authorization"), body)
            with self.lock:
                self.statuses.append(reply[0])
                self.lock.notify_all()
            return reply
        return None

    def metadata(self) -> Dict[str, Any]:
        resource = self.options.resource_override or (self.base if self.options.prm == "root" else self.base + "/mcp")
        servers = self.options.authorization_servers or [self.issuer]
        data: Dict[str, Any] = {"resource": resource, "authorization_servers": servers}
        if self.options.scopes_supported is not None:
            data["scopes_supported"] = self.options.scopes_supported
        return data

    def challenge(self, error: Optional[str], scope: Optional[str]) -> str:
        parts = []
        if error:
            parts.append(f'error="{error}"')
        if scope:
            parts.append(f'scope="{scope}"')
        if self.options.prm_in_header and self.prm_url:
            parts.append(f'resource_metadata="{self.prm_url}"')
        return "Bearer " + ", ".join(parts) if parts else "Bearer"

    def mcp(self, authorization: Optional[str], body: bytes = b"") -> Reply:
        token = authorization[7:] if authorization and authorization.startswith("Bearer ") else None
        with self.lock:
            self.mcp_requests.append(token)
        scopes = self.tokens.scopes_of(token) if token else None
        if scopes is None:
            header = self.challenge("invalid_token" if token else None, self.options.challenge_scope)
            return json_reply(401, {"error": "invalid_token"}, {"WWW-Authenticate": header})
        missing = [s for s in self.options.required_scopes if s not in scopes]
        if missing or self.options.always_403:
            wanted = " ".join(self.options.required_scopes)
            header = self.challenge("insufficient_scope", wanted)
            return json_reply(403, {"error": "insufficient_scope"}, {"WWW-Authenticate": header})
        return mcp_answer(body, scopes)


def mcp_answer(body: bytes, scopes: Tuple[str, ...]) -> Reply:
    """A minimal MCP server behind the authorization check: enough for sessions and managers.

    ``initialize`` (2025-11-25), ``tools/list`` (one tool, ``whoami``), ``tools/call`` (answers
    the token's scopes), notifications (202); ``server/discover`` is refused with 400 like the
    TypeScript SDK does; anything else gets an empty tool list.
    """
    try:
        message = json.loads(body) if body else {}
    except ValueError:
        return json_reply(400, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}})
    if not isinstance(message, dict):
        message = {}
    if "id" not in message and "method" in message:
        return 202, {}, b""
    request_id = message.get("id", 1)
    method = message.get("method")
    result: Any
    if method == "initialize":
        result = {
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "protected", "version": "1.0"},
        }
    elif method == "server/discover":
        error = {"code": -32000, "message": "Bad Request: Server not initialized"}
        return json_reply(400, {"jsonrpc": "2.0", "id": None, "error": error})
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": "scopes: " + (" ".join(scopes) or "-")}]}
    elif method == "tools/list":
        result = {"tools": [{"name": "whoami", "description": "The token's scopes.", "inputSchema": {"type": "object"}}]}
    else:
        result = {"tools": []}
    return json_reply(200, {"jsonrpc": "2.0", "id": request_id, "result": result})


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _dispatch(self, method: str) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply: Optional[Reply] = None
        for app in self.server.apps:
            reply = app.handle(method, parts.path, query, self.headers, body)
            if reply is not None:
                break
        status, headers, data = reply or json_reply(404, {"error": "not_found"})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, apps: List[Any]) -> None:
        self.apps = apps
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@dataclass
class Deployment:
    """A running authorization server and protected resource."""

    auth: AuthServer
    resource: ResourceServer
    tokens: TokenRegistry
    idp: Optional[IdentityProvider] = None

    @property
    def mcp_url(self) -> str:
        return self.resource.base + "/mcp"


@contextlib.contextmanager
def _serving(apps: List[Any]) -> Iterator[_Server]:
    server = _Server(apps)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="oauth-test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def deployment(
    auth: Optional[AuthOptions] = None,
    resource: Optional[ResourceOptions] = None,
    *,
    same_origin: bool = False,
    idp: Optional[IdpOptions] = None,
) -> Iterator[Deployment]:
    """Start an authorization server and a protected resource (one origin with ``same_origin``).

    With ``idp``, also an identity provider on its own origin, whose ID-JAGs the authorization
    server redeems with the jwt-bearer grant.
    """
    tokens = TokenRegistry()
    auth_server = AuthServer(auth or AuthOptions(), tokens)
    resource_server = ResourceServer(resource or ResourceOptions(), tokens)
    with contextlib.ExitStack() as stack:
        if same_origin:
            both = stack.enter_context(_serving([resource_server, auth_server]))
            auth_server.base = resource_server.base = both.base
        else:
            auth_server.base = stack.enter_context(_serving([auth_server])).base
            resource_server.base = stack.enter_context(_serving([resource_server])).base
        resource_server.issuer = auth_server.issuer
        identity_provider = None
        if idp is not None:
            identity_provider = IdentityProvider(idp)
            identity_provider.base = stack.enter_context(_serving([identity_provider])).base
            auth_server.idp = identity_provider
        yield Deployment(auth_server, resource_server, tokens, identity_provider)


__all__ = [
    "AuthOptions",
    "AuthServer",
    "Deployment",
    "IdentityProvider",
    "IdpOptions",
    "ResourceOptions",
    "ResourceServer",
    "TokenRegistry",
    "deployment",
]

"""OAuth 2.1 for remote MCP servers: the client side of the MCP authorization specification.

:class:`OAuth` is an :class:`~syncmcp.Auth` flow. It adds ``Authorization: Bearer <token>`` to
every request for the MCP server, refreshes the token shortly before it expires, and answers the
server's challenges:

- **401**: another thread's new token is tried first; else the refresh token (once); else a new
  authorization (browser, scripted, ``client_credentials`` or ``jwt_bearer``) and one retry;
- **403** ``insufficient_scope``: step-up authorization for the union of the scopes held and
  those challenged, at most ``max_step_ups`` times per request.

Grants: ``authorization_code`` (a user logs in), ``client_credentials`` (machine to machine), and
``jwt_bearer``: Enterprise-Managed Authorization (SEP-990, cross-app access), where an ID token from
the enterprise identity provider is exchanged there for an ID-JAG (RFC 8693 token exchange), which
the MCP authorization server redeems for an access token (RFC 7523 jwt-bearer grant). A
``client_credentials`` or ``jwt_bearer`` token about to expire, with no refresh token, is replaced
by a new grant ahead of the request.

Concurrent requests share one refresh or login (a single-flight "renewal" keyed by a token
generation); tokens live in memory and in a :class:`~syncmcp.CredentialStore`, and a refresh
re-reads the stored entry under the store's file lock, so two processes never redeem one refresh
token.

Discovery follows MCP 2025-11-25 with the 2026-07-28 issuer checks, and falls back to 2025-03-26:

1. Protected Resource Metadata (RFC 9728) from the challenge's ``resource_metadata``, else
   ``/.well-known/oauth-protected-resource/<path>``, else ``/.well-known/oauth-protected-resource``.
   Its ``resource`` must cover the server URL (same origin, path prefix), or the login is refused.
2. Authorization server metadata (RFC 8414, then OpenID Connect Discovery) for
   ``authorization_servers[0]``; its ``issuer`` must be the one asked for; S256 PKCE required.
3. Without protected resource metadata (2025-03-26): metadata at the server's origin, else
   ``/authorize``, ``/token`` and ``/register`` there.

The client is, in order: the configured ``client_id``; a registration stored for this issuer; the
Client ID Metadata Document URL (when the server supports it); Dynamic Client Registration
(RFC 7591). Tokens, secrets, codes and verifiers never appear in log messages, exception messages
or reprs.

Example::

    pool = ConnectionPool()
    with LoopbackAuthorizer() as authorizer:
        oauth = OAuth(server_url="https://mcp.example.com/mcp", server_name="example", authorizer=authorizer)
        response = drive_auth_flow(oauth, HttpRequest("POST", "https://mcp.example.com/mcp", body=b"..."), pool.send)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Generator, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

from ._auth import Auth, AuthFlow
from ._credentials import CredentialStore, CredentialTransaction, StoredCredentials
from ._exceptions import AuthenticationRequired, ConfigError, HTTPError, MessageTooLarge
from ._httpwire import Headers, HttpRequest, HttpResponse, redact_url
from ._login import DEFAULT_LOGIN_TIMEOUT, Authorizer, OAuthError

__all__ = [
    "DEFAULT_MAX_STEP_UPS",
    "DEFAULT_REFRESH_SKEW",
    "OAuth",
    "OAuthError",
    "canonical_resource",
    "parse_www_authenticate",
]

logger = logging.getLogger("syncmcp.oauth")

_T = TypeVar("_T")
#: A step of the flow: yields requests, is sent their responses, returns a value.
_Flow = Generator[HttpRequest, HttpResponse, _T]

#: Seconds before expiry at which an access token is refreshed ahead of a request.
DEFAULT_REFRESH_SKEW = 30.0
#: Step-up authorizations per request (the conformance suite allows three authorizations in all).
DEFAULT_MAX_STEP_UPS = 2
#: Seconds a request waits for a renewal another request is running (a login may take minutes).
DEFAULT_RENEWAL_WAIT = DEFAULT_LOGIN_TIMEOUT + 60.0
#: Largest metadata, registration or token response read.
MAX_METADATA_BYTES = 1024 * 1024
#: Requests one auth flow may send to the MCP server (retries after renewals and step-ups).
_MAX_ROUNDS = 8
#: Seconds a private_key_jwt client assertion is valid.
_ASSERTION_LIFETIME = 300
#: Token endpoint errors after which the stored tokens are useless.
_DROP_TOKENS_ON = frozenset({"invalid_grant"})
#: ... and after which the client registration is useless too.
_DROP_CLIENT_ON = frozenset({"invalid_client", "unauthorized_client"})
_GRANT_TYPES = ("authorization_code", "client_credentials", "jwt_bearer")
#: Grants that need no user: an expiring token without a refresh token is replaced ahead of time.
_MACHINE_GRANTS = ("client_credentials", "jwt_bearer")
_AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")
#: Client authentication at the identity provider's token endpoint.
_IDP_AUTH_METHODS = ("none", *_SECRET_METHODS)
_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: RFC 7523 §2.1: an assertion (here the ID-JAG) as an authorization grant.
_JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: RFC 8693 token exchange, and the token types of SEP-990's exchange at the identity provider.
_TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
_ID_JAG_TYPE = "urn:ietf:params:oauth:token-type:id-jag"
_ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"


# ----------------------------------------------------------------------------- challenges

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_RE = re.compile(_TOKEN)
_PARAM_RE = re.compile(rf'({_TOKEN})[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^\s,"=][^\s,]*)')
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))")
_ESCAPE_RE = re.compile(r"\\(.)")


def _challenges(header: str) -> List[Tuple[str, Dict[str, str]]]:
    """``(scheme, params)`` for each challenge of one ``WWW-Authenticate`` value (RFC 9110 §11.6.1)."""
    found: List[Tuple[str, Dict[str, str]]] = []
    params: Optional[Dict[str, str]] = None
    pos = 0
    while pos < len(header):
        if header[pos] in " \t,":
            pos += 1
            continue
        match = _PARAM_RE.match(header, pos) if params is not None else None
        if match is not None and params is not None:
            value = match.group(2)
            if value.startswith('"'):
                value = _ESCAPE_RE.sub(r"\1", value[1:-1])
            params.setdefault(match.group(1).lower(), value)
            pos = match.end()
            continue
        if params is not None and not params:
            token68 = _TOKEN68_RE.match(header, pos)
            if token68 is not None and "=" not in header[pos : token68.end()].rstrip("="):
                pos = token68.end()
                params["token68"] = token68.group(0)
                continue
        scheme = _TOKEN_RE.match(header, pos)
        if scheme is None:
            pos += 1  # not HTTP syntax: skip the character rather than give up on the header
            continue
        params = {}
        found.append((scheme.group(0).lower(), params))
        pos = scheme.end()
    return found


def parse_www_authenticate(values: Union[str, Iterable[str]], scheme: str = "Bearer") -> Optional[Dict[str, str]]:
    """The parameters of the first ``scheme`` challenge in ``WWW-Authenticate`` header values.

    Parameter names are lowercased; quoted values are unquoted. ``None`` when no challenge of
    that scheme is present.

    Example:
        >>> parse_www_authenticate('Bearer error="insufficient_scope", scope="files:read files:write"')
        {'error': 'insufficient_scope', 'scope': 'files:read files:write'}
        >>> parse_www_authenticate(['Basic realm="x"', 'Bearer resource_metadata="https://a.test/prm"'])
        {'resource_metadata': 'https://a.test/prm'}
        >>> parse_www_authenticate('Basic realm="x"') is None
        True
    """
    wanted = scheme.lower()
    for value in [values] if isinstance(values, str) else values:
        for name, params in _challenges(value):
            if name == wanted:
                return dict(params)
    return None


@dataclass(frozen=True)
class _Challenge:
    """What a 401 or 403 response asked for."""

    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, response: HttpResponse) -> _Challenge:
        return cls(parse_www_authenticate(response.headers.get_all("www-authenticate")) or {})

    @property
    def resource_metadata(self) -> Optional[str]:
        value = self.params.get("resource_metadata")
        return value if value and _is_http_url(value) else None

    @property
    def scopes(self) -> Tuple[str, ...]:
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> Optional[str]:
        return self.params.get("error")


# ----------------------------------------------------------------------------- URLs


def _is_http_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def _origin_parts(url: str) -> Tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def _origin(url: str) -> str:
    scheme, host, port = _origin_parts(url)
    netloc = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def _same_origin(a: str, b: str) -> bool:
    try:
        return _origin_parts(a) == _origin_parts(b)
    except ValueError:
        return False


def canonical_resource(url: str) -> str:
    """The canonical URI of an MCP server, its RFC 8707 ``resource``.

    Lowercase scheme and host, no default port, no fragment, no lone trailing slash.

    Example:
        >>> canonical_resource("HTTPS://MCP.Example.com:443/mcp#top")
        'https://mcp.example.com/mcp'
        >>> canonical_resource("http://127.0.0.1:8000/")
        'http://127.0.0.1:8000'
    """
    parts = urllib.parse.urlsplit(url)
    path = "" if parts.path == "/" else parts.path
    return _origin(url) + path + (f"?{parts.query}" if parts.query else "")


def _resource_covers(resource: str, server_url: str) -> bool:
    """Whether PRM ``resource`` identifies ``server_url``: same origin, and a path prefix of it."""
    if not _is_http_url(resource) or not _same_origin(resource, server_url):
        return False
    prefix = urllib.parse.urlsplit(resource).path.rstrip("/")
    path = urllib.parse.urlsplit(server_url).path.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def _well_known_prm_urls(server_url: str) -> List[str]:
    origin = _origin(server_url)
    path = urllib.parse.urlsplit(server_url).path.rstrip("/")
    root = f"{origin}/.well-known/oauth-protected-resource"
    return [root + path, root] if path else [root]


def _metadata_urls(issuer: str) -> List[str]:
    """Where RFC 8414 and OpenID Connect Discovery metadata of ``issuer`` may be, in MCP's order."""
    origin = _origin(issuer)
    path = urllib.parse.urlsplit(issuer).path.rstrip("/")
    if not path:
        return [f"{origin}/.well-known/oauth-authorization-server", f"{origin}/.well-known/openid-configuration"]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


def _same_issuer(found: object, expected: str) -> bool:
    """RFC 8414 §3.3: identical; ``https://as.test/`` and ``https://as.test`` are one URL."""
    if not isinstance(found, str):
        return False
    if found == expected:
        return True
    return urllib.parse.urlsplit(expected).path in ("", "/") and found.rstrip("/") == expected.rstrip("/")


def _with_query(url: str, params: Sequence[Tuple[str, str]]) -> str:
    query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return f"{url}{'&' if urllib.parse.urlsplit(url).query else '?'}{query}"


def _application_type(redirect_uri: str) -> str:
    host = (urllib.parse.urlsplit(redirect_uri).hostname or "").lower()
    scheme = urllib.parse.urlsplit(redirect_uri).scheme.lower()
    return "native" if host in ("localhost", "127.0.0.1", "::1") or scheme not in ("http", "https") else "web"


# ----------------------------------------------------------------------------- small values


def _strings(value: object) -> Tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, (list, tuple)):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _union(*groups: Iterable[str]) -> Tuple[str, ...]:
    seen: Dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _read_json(response: HttpResponse) -> Any:
    """The body as JSON, or ``None`` when it is not JSON or too large.

    Never an error message quoting the body: it may hold tokens.
    """
    try:
        return response.json(MAX_METADATA_BYTES)
    except (HTTPError, MessageTooLarge):
        return None


def _server_error(what: str, url: str, status: int, data: object) -> OAuthError:
    """An :class:`OAuthError` from an authorization server's error response (RFC 6749 §5.2)."""
    error = data.get("error") if isinstance(data, dict) else None
    description = data.get("error_description") if isinstance(data, dict) else None
    code = error if isinstance(error, str) else None
    text = description[:300] if isinstance(description, str) else None
    detail = f": {code}" if code else ""
    detail += f": {text}" if text else ""
    return OAuthError(
        f"{what} at {redact_url(url)} failed (HTTP {status}){detail}", error=code, error_description=text, status=status, url=url
    )


# ----------------------------------------------------------------------------- discovery results


@dataclass(frozen=True)
class _AuthServer:
    """The authorization server's endpoints and metadata (``{}`` in the 2025-03-26 fallback)."""

    issuer: str
    metadata: Mapping[str, Any]
    authorization_endpoint: Optional[str]
    token_endpoint: str
    registration_endpoint: Optional[str]

    @property
    def has_metadata(self) -> bool:
        return bool(self.metadata)

    @property
    def auth_methods(self) -> Optional[Tuple[str, ...]]:
        value = self.metadata.get("token_endpoint_auth_methods_supported")
        return _strings(value) if isinstance(value, list) else None


@dataclass(frozen=True)
class _Discovery:
    resource: str
    scopes_supported: Tuple[str, ...]
    server: _AuthServer


@dataclass(frozen=True)
class _Client:
    client_id: str
    client_secret: Optional[str] = field(default=None, repr=False)
    auth_method: str = "none"
    redirect_uri: Optional[str] = None
    registered: bool = False  # by dynamic registration here: its secret is kept in the store


@dataclass(frozen=True)
class _StepUp:
    """Why a step-up login is needed, and the scopes it asks for (for the login hint)."""

    reason: str
    scopes: Tuple[str, ...]


@dataclass
class _Budget:
    """What one request may still do to get a token the server accepts."""

    may_refresh: bool = True
    may_login: bool = True
    step_ups: int = 0


class _Flight:
    """One renewal (refresh or login) that concurrent requests wait for instead of repeating."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Optional[BaseException] = None


def _choose_auth_method(configured: Optional[str], supported: Optional[Tuple[str, ...]], has_secret: bool) -> str:
    """Token endpoint authentication: configured, else what the server supports for this client."""
    if configured:
        return configured
    if not has_secret:
        return "none"
    if supported is None:
        return "client_secret_basic"  # RFC 8414's default
    for method in (*_SECRET_METHODS, "none"):
        if method in supported:
            return method
    return "client_secret_basic"


def _registration_auth_method(supported: Optional[Tuple[str, ...]]) -> str:
    """Ask for a public client unless the server supports only secret-based methods."""
    if supported is None or "none" in supported:
        return "none"
    return next((method for method in _SECRET_METHODS if method in supported), "none")


def _idp_client(
    grant_type: str,
    client_id: Optional[str],
    endpoint: Optional[str],
    idp_client_id: Optional[str],
    secret: Optional[str],
    method: Optional[str],
    id_token: Union[str, Callable[[], str], None],
) -> Optional[_Client]:
    """The client's identity at the identity provider (``jwt_bearer``), after checking the arguments.

    Raises:
        ValueError: an argument missing or unusable for ``jwt_bearer``, or given to another grant.
    """
    given = [
        name
        for name, value in (
            ("idp_token_endpoint", endpoint),
            ("idp_client_id", idp_client_id),
            ("idp_client_secret", secret),
            ("idp_token_endpoint_auth_method", method),
            ("id_token", id_token),
        )
        if value is not None
    ]
    if grant_type != "jwt_bearer":
        if given:
            raise ValueError(f"{', '.join(given)}: only for grant_type='jwt_bearer'")
        return None
    if not client_id:
        raise ValueError("grant_type='jwt_bearer' needs client_id: the client the identity provider names in the ID-JAG")
    if not _is_http_url(endpoint):
        raise ValueError(
            "grant_type='jwt_bearer' needs idp_token_endpoint, the identity provider's token endpoint (an http(s) URL)"
        )
    if not idp_client_id:
        raise ValueError("grant_type='jwt_bearer' needs idp_client_id, this client's id at the identity provider")
    if not (callable(id_token) or (isinstance(id_token, str) and id_token.strip())):
        raise ValueError("grant_type='jwt_bearer' needs id_token: an ID token, or a callable returning one")
    if method is not None and method not in _IDP_AUTH_METHODS:
        raise ValueError(f"idp_token_endpoint_auth_method must be one of {', '.join(_IDP_AUTH_METHODS)}")
    if method in _SECRET_METHODS and not secret:
        raise ValueError(f"idp_token_endpoint_auth_method={method!r} needs idp_client_secret")
    return _Client(idp_client_id, secret, method or ("client_secret_basic" if secret else "none"))


# ----------------------------------------------------------------------------- the auth flow


class OAuth(Auth):
    """OAuth 2.1 authorization for one remote MCP server, inside requests and for explicit logins.

    Args:
        server_url: the MCP endpoint (tokens are sent to this origin only).
        server_name: the server's configured name, for messages and listings.
        store: where tokens and registrations persist; default: the user's credential file.
            ``CredentialStore.memory()`` keeps them in this process only.
        scopes: scopes to request when the server's challenge names none.
        resource: the RFC 8707 ``resource`` to send instead of the discovered one.
        client_id: a pre-registered client (skips registration).
        client_secret: its secret, for a confidential client.
        token_endpoint_auth_method: ``none``, ``client_secret_basic``, ``client_secret_post`` or
            ``private_key_jwt``; default: what the registration or the server's metadata says.
        client_metadata_url: an HTTPS URL serving this client's metadata document, used as the
            ``client_id`` where the authorization server supports Client ID Metadata Documents.
        client_name: the name registered by Dynamic Client Registration.
        grant_type: ``"authorization_code"`` (a user logs in), ``"client_credentials"``
            (machine to machine: needs ``client_id`` and a secret or a private key), or
            ``"jwt_bearer"``: Enterprise-Managed Authorization (SEP-990). ``id_token`` is exchanged
            at ``idp_token_endpoint`` for an ID-JAG (Identity Assertion JWT Authorization Grant,
            RFC 8693 token exchange) whose audience is the discovered authorization server's
            issuer and whose resource is the MCP server's; the authorization server redeems it
            for an access token (RFC 7523 jwt-bearer grant), with ``client_id`` authenticated as
            for any token request. Needs ``client_id`` (the client the identity provider names in
            the ID-JAG), ``idp_token_endpoint``, ``idp_client_id`` and ``id_token``. With no
            refresh token from the authorization server, a 401 or an expiring token means a new
            exchange.
        authorizer: how a user approves a login; ``None``: requests never start one and raise
            :class:`~syncmcp.AuthenticationRequired` instead (log in with :meth:`login`).
        login_timeout: seconds a request waits for a refresh or login another request runs.
        max_step_ups: step-up authorizations (403 ``insufficient_scope``) per request.
        refresh_skew: refresh a token this many seconds before it expires.
        private_key_pem: a P-256 private key (PKCS#8 or SEC 1 PEM) for ``private_key_jwt``
            client authentication with ES256.
        signing_algorithm: the client assertion's algorithm; only ``"ES256"``.
        idp_token_endpoint: ``jwt_bearer`` only: the enterprise identity provider's token
            endpoint, where the ID token is exchanged for an ID-JAG.
        idp_client_id: ``jwt_bearer`` only: this client's id at the identity provider (the ID
            token's audience).
        idp_client_secret: ``jwt_bearer`` only: its secret there, for a confidential client.
        idp_token_endpoint_auth_method: ``jwt_bearer`` only: ``none``, ``client_secret_basic``
            or ``client_secret_post`` at the identity provider; default: ``client_secret_basic``
            with ``idp_client_secret``, else ``none`` (``client_id`` in the form).
        id_token: ``jwt_bearer`` only: the user's OpenID Connect ID token from the identity
            provider, or a callable returning a current one, called for every exchange (ID
            tokens expire: a callable lets each renewal use a fresh one). It may raise
            :class:`~syncmcp.OAuthError` or :class:`~syncmcp.AuthenticationRequired`, which
            reach the request unchanged; any other exception becomes an ``OAuthError``.

    Raises:
        ValueError: an unusable argument (not an http(s) URL, unknown grant type or method,
            client_credentials without client credentials, an unreadable private key,
            jwt_bearer without its identity provider arguments, or those arguments with
            another grant).

    Example::

        oauth = syncmcp.OAuth(
            server_url="https://mcp.example.com/mcp",
            server_name="example",
            authorizer=syncmcp.LoopbackAuthorizer(),
        )
        oauth.login(pool.send)              # opens the browser; stores the tokens
        print(oauth.status())               # "oauth"

    Enterprise-Managed Authorization (SEP-990), with an ID token the application's single
    sign-on obtained::

        oauth = syncmcp.OAuth(
            server_url="https://mcp.example.com/mcp",
            grant_type="jwt_bearer",
            client_id="acme-agent",                       # registered with the MCP authorization server
            client_secret=os.environ["ACME_AGENT_SECRET"],
            idp_token_endpoint="https://acme.idp.example/oauth2/token",
            idp_client_id="acme-agent-sso",               # registered with the identity provider
            id_token=sso.current_id_token,                # a callable: a fresh ID token per exchange
        )
        with syncmcp.connect_http("https://mcp.example.com/mcp", auth=oauth) as session:
            session.list_tools()
    """

    def __init__(
        self,
        *,
        server_url: str,
        server_name: Optional[str] = None,
        store: Optional[CredentialStore] = None,
        scopes: Union[str, Sequence[str]] = (),
        resource: Optional[str] = None,
        client_id: Optional[str] = None,
        client_secret: Optional[str] = None,
        token_endpoint_auth_method: Optional[str] = None,
        client_metadata_url: Optional[str] = None,
        client_name: str = "syncmcp",
        grant_type: str = "authorization_code",
        authorizer: Optional[Authorizer] = None,
        login_timeout: float = DEFAULT_RENEWAL_WAIT,
        max_step_ups: int = DEFAULT_MAX_STEP_UPS,
        refresh_skew: float = DEFAULT_REFRESH_SKEW,
        private_key_pem: Optional[str] = None,
        signing_algorithm: str = "ES256",
        idp_token_endpoint: Optional[str] = None,
        idp_client_id: Optional[str] = None,
        idp_client_secret: Optional[str] = None,
        idp_token_endpoint_auth_method: Optional[str] = None,
        id_token: Union[str, Callable[[], str], None] = None,
    ) -> None:
        if not _is_http_url(server_url):
            raise ValueError(f"server_url must be an http(s) URL, not {redact_url(server_url)!r}")
        if grant_type not in _GRANT_TYPES:
            raise ValueError(f"grant_type must be one of {', '.join(_GRANT_TYPES)}")
        if token_endpoint_auth_method is not None and token_endpoint_auth_method not in _AUTH_METHODS:
            raise ValueError(f"token_endpoint_auth_method must be one of {', '.join(_AUTH_METHODS)}")
        if client_metadata_url is not None and not client_metadata_url.lower().startswith("https://"):
            raise ValueError("client_metadata_url must be an https URL")
        if signing_algorithm != "ES256":
            raise ValueError("only ES256 client assertions are supported")
        self._signing_key = _load_p256_private_key(private_key_pem) if private_key_pem is not None else None
        if self._signing_key is not None:
            token_endpoint_auth_method = token_endpoint_auth_method or "private_key_jwt"
        if grant_type == "client_credentials" and not (client_id and (client_secret or self._signing_key)):
            raise ValueError("grant_type='client_credentials' needs client_id and client_secret (or private_key_pem)")
        if token_endpoint_auth_method == "private_key_jwt" and self._signing_key is None:
            raise ValueError("token_endpoint_auth_method='private_key_jwt' needs private_key_pem")
        self._idp_client = _idp_client(
            grant_type, client_id, idp_token_endpoint, idp_client_id, idp_client_secret, idp_token_endpoint_auth_method, id_token
        )
        self.server_url = server_url
        self.server_name = server_name
        self.store = store if store is not None else CredentialStore()
        self.scopes = _strings(scopes)
        self.resource = resource
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_endpoint_auth_method = token_endpoint_auth_method
        self.client_metadata_url = client_metadata_url
        self.client_name = client_name
        self.grant_type = grant_type
        self.authorizer = authorizer
        self.login_timeout = login_timeout
        self.max_step_ups = max_step_ups
        self.refresh_skew = refresh_skew
        self.idp_token_endpoint = idp_token_endpoint
        self.idp_client_id = idp_client_id
        self._id_token = id_token
        self._key = canonical_resource(server_url)
        self._lock = threading.Lock()
        self._creds: Optional[StoredCredentials] = None
        self._generation = 0
        self._loaded = False
        self._flight: Optional[_Flight] = None

    # ------------------------------------------------------------------ public helpers

    def status(self) -> str:
        """``"oauth"`` when tokens are held or stored for this server, else ``"not_logged_in"``."""
        return "oauth" if self.has_credentials() else "not_logged_in"

    def has_credentials(self) -> bool:
        """Whether an access or refresh token is held or stored for this server."""
        creds = self.credentials()
        return creds is not None and creds.has_tokens

    def credentials(self) -> Optional[StoredCredentials]:
        """The credentials in use (loaded from the store on first use); their repr hides secrets."""
        self._ensure_loaded()
        with self._lock:
            return self._creds

    def logout(self) -> bool:
        """Forget this server's tokens and registrations, here and in the store; whether any existed.

        Raises:
            ConfigError: the credential file cannot be changed.
        """
        with self._lock:
            had = self._creds is not None and self._creds.has_tokens
            self._creds = None
            self._generation += 1
            self._loaded = True
        removed = self.store.delete(self._key)
        return had or removed

    def login(
        self,
        send: Callable[[HttpRequest], HttpResponse],
        scopes: Optional[Sequence[str]] = None,
        *,
        authorizer: Optional[Authorizer] = None,
        challenge: Optional[str] = None,
    ) -> StoredCredentials:
        """Log in now, even if tokens exist: discovery, authorization, token; the result is stored.

        Args:
            send: sends one request, like ``ConnectionPool().send``.
            scopes: the scopes to ask for (default: the server's challenge, then the configured
                scopes, then those the server supports).
            authorizer: overrides the constructor's for this login.
            challenge: a ``WWW-Authenticate`` value already received; without it the server is
                sent one unauthenticated request to obtain its challenge.

        Returns:
            The stored credentials (their repr hides the tokens).

        Raises:
            AuthenticationRequired: no authorizer for an ``authorization_code`` login.
            OAuthError: the authorization server refused, or did something unsafe.
            HTTPError: a server could not be reached.
            ConfigError: the credentials could not be written to the store.
        """
        flight = self._lead_flight()
        try:
            creds = _drive(self._explicit_login(scopes, authorizer, challenge), send)
        except BaseException as exc:
            self._land(flight, exc)
            raise
        self._land(flight, None)
        return creds

    def __repr__(self) -> str:
        name = f" {self.server_name!r}" if self.server_name else ""
        return f"<OAuth{name} {redact_url(self.server_url)}>"

    # ------------------------------------------------------------------ the flow

    def auth_flow(self, request: HttpRequest) -> AuthFlow:
        """Send ``request`` with the current token; refresh, log in or step up as the server asks.

        Raises:
            AuthenticationRequired: a login is needed and cannot happen here, or the server
                still refuses after the allowed renewals and step-ups.
            OAuthError: the authorization server refused or misbehaved.
        """
        if not _same_origin(request.url, self.server_url):
            yield request  # never send this server's token elsewhere
            return
        budget = _Budget()
        creds, generation = self._snapshot()
        if creds is not None and creds.refresh_token and (not creds.access_token or creds.expires_within(self.refresh_skew)):
            budget.may_refresh = False
            yield from self._refresh_ahead(creds, generation)
            creds, generation = self._snapshot()
        elif creds is not None and self._machine_token_expiring(creds):
            yield from self._regrant_ahead(creds, generation)
            creds, generation = self._snapshot()
        attached = False
        for _ in range(_MAX_ROUNDS):
            attached = _attach(request, creds, attached)
            response = yield request
            if response.status == 401:
                yield from self._renew(_Challenge.of(response), generation, budget)
            elif response.status == 403 and _Challenge.of(response).error == "insufficient_scope":
                yield from self._step_up(_Challenge.of(response), generation, budget, request.url)
            else:
                return
            creds, generation = self._snapshot()
        raise AuthenticationRequired(f"{self._describe()} kept refusing the request's credentials", status=401, url=request.url)

    def _refresh_ahead(self, creds: StoredCredentials, generation: int) -> _Flow[None]:
        """Refresh a token about to expire; a failure only means the request goes without it."""
        try:
            yield from self._in_flight(generation, lambda: self._refresh(creds))
        except HTTPError as exc:  # OAuthError and AuthenticationRequired included
            logger.info("could not refresh the access token for %s ahead of its expiry: %s", self._describe(), exc)

    def _machine_token_expiring(self, creds: StoredCredentials) -> bool:
        """Whether a machine grant's access token, without a refresh token, is about to expire."""
        return self.grant_type in _MACHINE_GRANTS and bool(creds.access_token) and creds.expires_within(self.refresh_skew)

    def _regrant_ahead(self, creds: StoredCredentials, generation: int) -> _Flow[None]:
        """A machine grant's token about to expire, and no refresh token: a new grant now.

        For the scopes held. A failure only means the request goes with the old token (a 401
        then tries once more, with the server's challenge).
        """
        try:
            yield from self._in_flight(generation, lambda: self._login(_Challenge(), scopes=creds.scopes or None))
        except HTTPError as exc:  # OAuthError and AuthenticationRequired included
            logger.info("could not renew the access token for %s ahead of its expiry: %s", self._describe(), exc)

    def _renew(self, challenge: _Challenge, generation: int, budget: _Budget) -> _Flow[None]:
        """After a 401: use another request's new token, else refresh (once), else log in (once)."""

        def renew() -> _Flow[None]:
            creds = self._current()
            if self._adopt_stored(creds):
                return
            if budget.may_refresh and creds is not None and creds.refresh_token:
                budget.may_refresh = False
                try:
                    yield from self._refresh(creds)
                    return
                except OAuthError as exc:
                    logger.info("refreshing the token for %s failed (%s); logging in again", self._describe(), exc.error)
            if not budget.may_login:
                raise AuthenticationRequired(f"{self._describe()} refused the new access token (HTTP 401)", status=401)
            budget.may_login = budget.may_refresh = False
            yield from self._login(challenge)

        yield from self._in_flight(generation, renew)

    def _step_up(self, challenge: _Challenge, generation: int, budget: _Budget, url: str) -> _Flow[None]:
        """After a 403 ``insufficient_scope``: authorize again for the union of the scopes."""
        wanted = " ".join(challenge.scopes) or "more scopes"
        if budget.step_ups >= self.max_step_ups:
            raise AuthenticationRequired(
                f"{self._describe()} still requires {wanted} after {budget.step_ups} step-up authorization(s) (HTTP 403)",
                status=403,
                url=url,
            )
        budget.step_ups += 1
        creds = self._current()
        held = creds.scopes if creds is not None else ()
        step_up = _StepUp(f"requires {wanted}", _union(held, challenge.scopes))
        yield from self._in_flight(generation, lambda: self._login(challenge, extra_scopes=held, step_up=step_up))

    # ------------------------------------------------------------------ state

    def _ensure_loaded(self) -> None:
        with self._lock:
            if self._loaded:
                return
        try:
            creds = self.store.load(self._key)
        except ConfigError as exc:
            logger.warning("ignoring stored OAuth credentials for %s: %s", self._describe(), exc)
            creds = None
        with self._lock:
            if not self._loaded:
                self._creds, self._loaded = creds, True

    def _snapshot(self) -> Tuple[Optional[StoredCredentials], int]:
        self._ensure_loaded()
        with self._lock:
            return self._creds, self._generation

    def _current(self) -> Optional[StoredCredentials]:
        with self._lock:
            return self._creds

    def _install(self, creds: Optional[StoredCredentials]) -> None:
        with self._lock:
            self._creds = creds
            self._generation += 1
            self._loaded = True

    def _adopt_stored(self, used: Optional[StoredCredentials]) -> bool:
        """Take up a token another process stored meanwhile (``syncmcp login`` in a terminal)."""
        try:
            stored = self.store.load(self._key, used.issuer if used is not None else None)
        except ConfigError:
            return False
        if stored is None or not stored.access_token or stored.expires_within(0):
            return False
        if used is not None and stored.access_token == used.access_token:
            return False
        self._install(stored)
        return True

    def _persist(self, creds: StoredCredentials, *, strict: bool) -> None:
        try:
            self.store.save(creds)
        except ConfigError as exc:
            if strict:
                raise
            logger.warning("the OAuth tokens for %s are kept in memory only: %s", self._describe(), exc)

    def _describe(self) -> str:
        return f"MCP server {self.server_name!r}" if self.server_name else f"the MCP server at {redact_url(self.server_url)}"

    # ------------------------------------------------------------------ single flight

    def _join_flight(self, generation: Optional[int]) -> Tuple[Optional[_Flight], bool]:
        """The renewal to join, and whether this caller leads it.

        ``(None, False)`` when the token changed since ``generation``: retry with the new one.
        """
        with self._lock:
            if generation is not None and generation != self._generation:
                return None, False
            if self._flight is not None:
                return self._flight, False
            flight = self._flight = _Flight()
            return flight, True

    def _lead_flight(self) -> _Flight:
        """Wait for any running renewal, then lead one (explicit logins)."""
        deadline = time.monotonic() + self.login_timeout
        while True:
            flight, leader = self._join_flight(None)
            assert flight is not None
            if leader:
                return flight
            if not flight.done.wait(max(0.0, deadline - time.monotonic())):
                raise AuthenticationRequired(f"gave up waiting {self.login_timeout:g} s for another login to {self._describe()}")

    def _await_flight(self, flight: _Flight) -> None:
        if not flight.done.wait(self.login_timeout):
            raise AuthenticationRequired(
                f"gave up waiting {self.login_timeout:g} s for another request's login to {self._describe()}"
            )
        error = flight.error
        if isinstance(error, OAuthError):
            description = error.error_description
            raise OAuthError(str(error), error=error.error, error_description=description, status=error.status) from error
        if isinstance(error, AuthenticationRequired):
            raise AuthenticationRequired(str(error), status=error.status, url=error.url) from error
        if error is not None:
            raise AuthenticationRequired(f"logging in to {self._describe()} failed: {error}") from error

    def _land(self, flight: _Flight, error: Optional[BaseException]) -> None:
        with self._lock:
            if self._flight is flight:
                self._flight = None
        flight.error = error
        flight.done.set()

    def _in_flight(self, generation: int, operation: Callable[[], _Flow[Any]]) -> _Flow[None]:
        """Run ``operation`` as the one renewal for ``generation``, or wait for the one running."""
        flight, leader = self._join_flight(generation)
        if flight is None:
            return
        if not leader:
            self._await_flight(flight)
            return
        try:
            yield from operation()
        except BaseException as exc:
            self._land(flight, exc)
            raise
        self._land(flight, None)

    # ------------------------------------------------------------------ refresh

    def _refresh(self, used: StoredCredentials) -> _Flow[None]:
        """Redeem the refresh token under the store's lock, unless another process already did.

        Raises:
            OAuthError: the token endpoint refused (``invalid_grant`` drops the stored tokens).
        """
        error: Optional[OAuthError] = None
        result: Optional[StoredCredentials] = None
        try:
            with self.store.transaction() as txn:
                current = txn.get(self._key, used.issuer)
                newer = current is not None and current.access_token not in (None, used.access_token)
                if newer and current is not None and not current.expires_within(self.refresh_skew):
                    result = current  # refreshed by another process meanwhile
                if result is None:
                    base = current if current is not None and current.refresh_token else used
                    try:
                        data = yield from self._redeem_refresh_token(base)
                    except OAuthError as exc:
                        error = exc
                        result = self._after_refusal(txn, base, exc)
                    else:
                        result = _refreshed(base, data)
                        txn.put(result)
        except ConfigError as exc:
            raise AuthenticationRequired(f"cannot refresh the token for {self._describe()}: {exc}") from exc
        if result != used:
            self._install(result)
        if error is not None:
            raise error

    def _redeem_refresh_token(self, creds: StoredCredentials) -> _Flow[Dict[str, Any]]:
        if not creds.refresh_token or not creds.token_endpoint:
            raise OAuthError(f"no refresh token is stored for {self._describe()}")
        form = {"grant_type": "refresh_token", "refresh_token": creds.refresh_token}
        if creds.resource:
            form["resource"] = creds.resource
        data = yield from self._token_request(creds.token_endpoint, self._client_of(creds), creds.issuer, form)
        return data

    def _after_refusal(self, txn: CredentialTransaction, base: StoredCredentials, exc: OAuthError) -> Optional[StoredCredentials]:
        """What remains after the token endpoint refused a refresh."""
        if exc.error in _DROP_CLIENT_ON:
            txn.remove(self._key, base.issuer)
            return None
        if exc.error in _DROP_TOKENS_ON:
            dropped = base.without_tokens()
            txn.put(dropped)
            return dropped
        return base

    def _client_of(self, creds: StoredCredentials) -> _Client:
        """The client that obtained ``creds`` (configured secrets are not copied to the store)."""
        configured = creds.client_id == self.client_id
        secret = creds.client_secret or (self._client_secret if configured else None)
        method = creds.token_endpoint_auth_method or ("client_secret_basic" if secret else "none")
        return _Client(creds.client_id or "", secret, method, creds.redirect_uri)

    # ------------------------------------------------------------------ login

    def _explicit_login(
        self, scopes: Optional[Sequence[str]], authorizer: Optional[Authorizer], challenge: Optional[str]
    ) -> _Flow[StoredCredentials]:
        if challenge is not None:
            found = _Challenge(parse_www_authenticate(challenge) or {})
        else:
            found = yield from self._probe()
        creds = yield from self._login(found, scopes=scopes, authorizer=authorizer, strict=True)
        return creds

    def _probe(self) -> _Flow[_Challenge]:
        """One unauthenticated request, for the server's ``WWW-Authenticate`` challenge."""
        body = json.dumps({"jsonrpc": "2.0", "id": "syncmcp-login", "method": "ping"}).encode()
        headers = Headers({"Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
        response = yield HttpRequest("POST", self.server_url, headers, body)
        return _Challenge.of(response) if response.status in (401, 403) else _Challenge()

    def _login(
        self,
        challenge: _Challenge,
        *,
        extra_scopes: Sequence[str] = (),
        scopes: Optional[Sequence[str]] = None,
        authorizer: Optional[Authorizer] = None,
        strict: bool = False,
        step_up: Optional[_StepUp] = None,
    ) -> _Flow[StoredCredentials]:
        """Discover, identify the client, obtain tokens, store and install them."""
        authorizer = authorizer or self.authorizer
        if self.grant_type == "authorization_code" and authorizer is None:
            raise AuthenticationRequired(self._login_hint(step_up), status=401 if step_up is None else 403, url=self.server_url)
        discovery = yield from self._discover(challenge)
        wanted = self._select_scopes(challenge, discovery, extra_scopes, scopes)
        if self.grant_type == "client_credentials":
            client = self._configured_client(discovery.server, None)
            form = {"grant_type": "client_credentials", "resource": discovery.resource}
            if wanted:
                form["scope"] = " ".join(wanted)
            data = yield from self._token_request(discovery.server.token_endpoint, client, discovery.server.issuer, form)
        elif self.grant_type == "jwt_bearer":
            client = self._configured_client(discovery.server, None)
            data = yield from self._jwt_bearer(discovery, client, wanted)
        else:
            assert authorizer is not None
            try:
                client = yield from self._client_for(discovery, authorizer.redirect_uri)
                data = yield from self._authorization_code(discovery, client, wanted, authorizer)
            finally:
                authorizer.end_login()
        creds = self._new_credentials(data, discovery, client, wanted)
        self._persist(creds, strict=strict)
        self._install(creds)
        logger.info("logged in to %s (issuer %s)", self._describe(), redact_url(discovery.server.issuer))
        return creds

    def _login_hint(self, step_up: Optional[_StepUp]) -> str:
        reason = "requires OAuth login" if step_up is None else step_up.reason
        if not self.server_name:
            return f"the MCP server at {redact_url(self.server_url)} {reason}; log in with OAuth.login() and an authorizer"
        option = f" --scopes {','.join(step_up.scopes)}" if step_up is not None and step_up.scopes else ""
        return f"MCP server {self.server_name!r} {reason}; run `syncmcp login {self.server_name}{option}`"

    def _select_scopes(
        self, challenge: _Challenge, discovery: _Discovery, extra: Sequence[str], override: Optional[Sequence[str]]
    ) -> Tuple[str, ...]:
        """The scopes to request.

        The challenge's, else the configured ones, else the PRM's ``scopes_supported``, else none;
        plus ``offline_access`` when the authorization server lists it (SEP-2207).
        """
        base = _strings(list(override)) if override is not None else challenge.scopes or self.scopes or discovery.scopes_supported
        wanted = _union(extra, base)
        offered = _strings(discovery.server.metadata.get("scopes_supported"))
        if wanted and self.grant_type == "authorization_code" and "offline_access" in offered:
            wanted = _union(wanted, ("offline_access",))
        return wanted

    def _new_credentials(
        self, data: Mapping[str, Any], discovery: _Discovery, client: _Client, requested: Tuple[str, ...]
    ) -> StoredCredentials:
        granted = _strings(data.get("scope")) if isinstance(data.get("scope"), str) else requested
        return StoredCredentials(
            server_url=self._key,
            issuer=discovery.server.issuer,
            server_name=self.server_name,
            client_id=client.client_id,
            client_secret=client.client_secret if client.registered else None,
            token_endpoint_auth_method=client.auth_method,
            redirect_uri=client.redirect_uri,
            token_endpoint=discovery.server.token_endpoint,
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None,
            expires_at=_expires_at(data),
            scopes=granted,
            resource=discovery.resource,
        )

    # ------------------------------------------------------------------ discovery

    def _discover(self, challenge: _Challenge) -> _Flow[_Discovery]:
        prm, prm_url = yield from self._fetch_resource_metadata(challenge)
        if prm is None:
            logger.debug("%s publishes no protected resource metadata: 2025-03-26 discovery", self._describe())
            server = yield from self._fetch_legacy_server()
            return _Discovery(self.resource or self._key, (), server)
        resource = self._check_resource(prm, prm_url)
        servers = prm.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not _is_http_url(servers[0]):
            raise OAuthError(f"the protected resource metadata at {redact_url(prm_url)} names no authorization server")
        server = yield from self._fetch_server(servers[0])
        return _Discovery(self.resource or resource, _strings(prm.get("scopes_supported")), server)

    def _fetch_resource_metadata(self, challenge: _Challenge) -> _Flow[Tuple[Optional[Dict[str, Any]], str]]:
        """RFC 9728 metadata: the challenge's URL, then the path-based and root well-known URLs."""
        header_url = challenge.resource_metadata
        candidates = _union([header_url] if header_url else [], _well_known_prm_urls(self.server_url))
        for url in candidates:
            status, data = yield from self._get_json(url)
            if status == 200 and data is not None:
                if not isinstance(data, dict):
                    raise OAuthError(f"the protected resource metadata at {redact_url(url)} is not a JSON object")
                return data, url
        return None, ""

    def _check_resource(self, prm: Mapping[str, Any], url: str) -> str:
        resource = prm.get("resource")
        if not isinstance(resource, str) or not resource:
            raise OAuthError(f"the protected resource metadata at {redact_url(url)} has no resource")
        if not _resource_covers(resource, self.server_url):
            raise OAuthError(
                f"the protected resource metadata at {redact_url(url)} is for {redact_url(resource)}, "
                f"not {redact_url(self.server_url)}: refusing to authorize"
            )
        return resource

    def _fetch_server(self, issuer: str) -> _Flow[_AuthServer]:
        """RFC 8414 / OpenID metadata of ``issuer``, whose ``issuer`` must match (RFC 8414 §3.3)."""
        for url in _metadata_urls(issuer):
            status, data = yield from self._get_json(url)
            if status == 200 and isinstance(data, dict):
                if not _same_issuer(data.get("issuer"), issuer):
                    raise OAuthError(
                        f"the authorization server metadata at {redact_url(url)} names another issuer "
                        f"({redact_url(str(data.get('issuer')))}, expected {redact_url(issuer)}): refusing to use it"
                    )
                return self._server_from(issuer, data, url)
        raise OAuthError(f"the authorization server {redact_url(issuer)} publishes no metadata")

    def _fetch_legacy_server(self) -> _Flow[_AuthServer]:
        """2025-03-26: metadata at the MCP server's origin, else the default endpoints there."""
        base = _origin(self.server_url)
        for url in _metadata_urls(base):
            status, data = yield from self._get_json(url)
            if status == 200 and isinstance(data, dict):
                # Found from the server's own origin, not from an issuer: nothing to compare.
                issuer = data.get("issuer")
                return self._server_from(issuer if isinstance(issuer, str) and _is_http_url(issuer) else base, data, url)
        return _AuthServer(base, {}, f"{base}/authorize", f"{base}/token", f"{base}/register")

    def _server_from(self, issuer: str, data: Mapping[str, Any], url: str) -> _AuthServer:
        def endpoint(name: str) -> Optional[str]:
            value = data.get(name)
            return value if _is_http_url(value) else None

        token_endpoint = endpoint("token_endpoint")
        authorization_endpoint = endpoint("authorization_endpoint")
        where = redact_url(url)
        if token_endpoint is None:
            raise OAuthError(f"the authorization server metadata at {where} has no token_endpoint")
        if self.grant_type == "authorization_code":
            if authorization_endpoint is None:
                raise OAuthError(f"the authorization server metadata at {where} has no authorization_endpoint")
            if "S256" not in _strings(data.get("code_challenge_methods_supported")):
                raise OAuthError(
                    f"the authorization server at {redact_url(issuer)} does not advertise PKCE with S256 "
                    "(code_challenge_methods_supported): refusing to log in without it"
                )
        grants = data.get("grant_types_supported")
        if self.grant_type == "jwt_bearer" and isinstance(grants, list) and _JWT_BEARER_GRANT not in grants:
            raise OAuthError(
                f"the authorization server at {redact_url(issuer)} does not list the jwt-bearer grant "
                f"({_JWT_BEARER_GRANT}) in its grant_types_supported: it cannot redeem an ID-JAG"
            )
        return _AuthServer(issuer, dict(data), authorization_endpoint, token_endpoint, endpoint("registration_endpoint"))

    def _get_json(self, url: str) -> _Flow[Tuple[int, Any]]:
        response = yield HttpRequest("GET", url, Headers({"Accept": "application/json"}), replayable=True)
        if response.status != 200:
            return response.status, None
        return 200, _read_json(response)

    # ------------------------------------------------------------------ clients

    def _client_for(self, discovery: _Discovery, redirect_uri: str) -> _Flow[_Client]:
        """Configured client, else a stored registration, else CIMD, else dynamic registration."""
        server = discovery.server
        if self.client_id:
            return self._configured_client(server, redirect_uri)
        stored = self._stored_client(server, redirect_uri)
        if stored is not None:
            return stored
        if self.client_metadata_url and server.metadata.get("client_id_metadata_document_supported") is True:
            return _Client(self.client_metadata_url, None, "none", redirect_uri)
        if server.registration_endpoint:
            client = yield from self._register(server, server.registration_endpoint, redirect_uri)
            return client
        raise OAuthError(
            f"the authorization server {redact_url(server.issuer)} supports neither client registration nor client ID "
            "metadata documents: register a client with it and configure its client_id (and client_secret)"
        )

    def _configured_client(self, server: _AuthServer, redirect_uri: Optional[str]) -> _Client:
        assert self.client_id is not None
        method = _choose_auth_method(self.token_endpoint_auth_method, server.auth_methods, bool(self._client_secret))
        return _Client(self.client_id, self._client_secret, method, redirect_uri)

    def _stored_client(self, server: _AuthServer, redirect_uri: str) -> Optional[_Client]:
        """A registration stored for this issuer, if it fits this redirect URI."""
        creds = self._current()
        if creds is None or creds.issuer != server.issuer:
            try:
                creds = self.store.load(self._key, server.issuer)
            except ConfigError as exc:
                logger.warning("ignoring stored OAuth registrations for %s: %s", self._describe(), exc)
                return None
        if creds is None or not creds.client_id or creds.client_id == self.client_metadata_url:
            return None
        method = creds.token_endpoint_auth_method or "none"
        if method in _SECRET_METHODS and not creds.client_secret:
            return None  # a pre-registered client whose secret lives in configuration only
        if creds.redirect_uri not in (None, redirect_uri) and server.registration_endpoint:
            return None  # registered for another redirect URI: register again
        return _Client(creds.client_id, creds.client_secret, method, redirect_uri, registered=True)

    def _register(self, server: _AuthServer, endpoint: str, redirect_uri: str) -> _Flow[_Client]:
        """Dynamic Client Registration (RFC 7591); the registration is stored at once."""
        supported = server.auth_methods
        body = {
            "client_name": self.client_name,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": _registration_auth_method(supported),
            "application_type": _application_type(redirect_uri),
        }
        headers = Headers({"Content-Type": "application/json", "Accept": "application/json"})
        response = yield HttpRequest("POST", endpoint, headers, json.dumps(body).encode("utf-8"))
        data = _read_json(response)
        if response.status not in (200, 201) or not isinstance(data, dict) or not isinstance(data.get("client_id"), str):
            raise _server_error("client registration", endpoint, response.status, data)
        secret = data.get("client_secret") if isinstance(data.get("client_secret"), str) else None
        method = data.get("token_endpoint_auth_method")
        if method not in _AUTH_METHODS or method == "private_key_jwt":
            method = _choose_auth_method(None, supported, secret is not None)
        client = _Client(data["client_id"], secret, str(method), redirect_uri, registered=True)
        self._remember_registration(server, client)
        logger.debug("registered client for %s (token endpoint auth: %s)", self._describe(), client.auth_method)
        return client

    def _remember_registration(self, server: _AuthServer, client: _Client) -> None:
        registration = StoredCredentials(
            server_url=self._key,
            issuer=server.issuer,
            server_name=self.server_name,
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_endpoint_auth_method=client.auth_method,
            redirect_uri=client.redirect_uri,
            token_endpoint=server.token_endpoint,
        )
        try:
            self.store.update(self._key, server.issuer, lambda _old: registration)
        except ConfigError as exc:
            logger.warning("could not store the client registration for %s: %s", self._describe(), exc)

    # ------------------------------------------------------------------ grants

    def _authorization_code(
        self, discovery: _Discovery, client: _Client, scopes: Tuple[str, ...], authorizer: Authorizer
    ) -> _Flow[Dict[str, Any]]:
        """Authorization request with PKCE (S256), the user's approval, and the code exchange."""
        server = discovery.server
        assert server.authorization_endpoint is not None and client.redirect_uri is not None
        verifier = secrets.token_urlsafe(64)
        state = secrets.token_urlsafe(24)
        params = [
            ("response_type", "code"),
            ("client_id", client.client_id),
            ("redirect_uri", client.redirect_uri),
            ("code_challenge", _s256(verifier)),
            ("code_challenge_method", "S256"),
            ("state", state),
        ]
        if scopes:
            params.append(("scope", " ".join(scopes)))
        params.append(("resource", discovery.resource))
        answer = authorizer.authorize(_with_query(server.authorization_endpoint, params), state)
        code = _check_callback(answer, state, server)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client.redirect_uri,
            "code_verifier": verifier,
            "resource": discovery.resource,
        }
        data = yield from self._token_request(server.token_endpoint, client, server.issuer, form)
        return data

    def _jwt_bearer(self, discovery: _Discovery, client: _Client, scopes: Tuple[str, ...]) -> _Flow[Dict[str, Any]]:
        """SEP-990: the ID token for an ID-JAG at the identity provider, the ID-JAG for tokens here.

        Raises:
            OAuthError: either token endpoint refused, or the authorization server's issuer
                (the ID-JAG's audience) is unknown.
        """
        server = discovery.server
        if not server.has_metadata:
            raise OAuthError(
                f"the authorization server of {self._describe()} publishes no metadata: without its issuer, "
                "the audience of an ID-JAG, Enterprise-Managed Authorization (grant_type='jwt_bearer') cannot proceed"
            )
        assertion = yield from self._exchange_id_token(server.issuer, discovery.resource, scopes)
        form = {"grant_type": _JWT_BEARER_GRANT, "assertion": assertion, "resource": discovery.resource}
        what = "the jwt-bearer token request with the ID-JAG"
        data = yield from self._token_request(server.token_endpoint, client, server.issuer, form, what=what)
        return data

    def _exchange_id_token(self, audience: str, resource: str, scopes: Tuple[str, ...]) -> _Flow[str]:
        """RFC 8693 token exchange at the identity provider: a fresh ID token for an ID-JAG.

        Raises:
            OAuthError: no ID token, an error response, or a token that is not an ID-JAG.
        """
        assert self.idp_token_endpoint is not None and self._idp_client is not None
        endpoint = self.idp_token_endpoint
        fields = {
            "grant_type": _TOKEN_EXCHANGE_GRANT,
            "requested_token_type": _ID_JAG_TYPE,
            "audience": audience,
            "resource": resource,
            "subject_token": self._current_id_token(),
            "subject_token_type": _ID_TOKEN_TYPE,
        }
        if scopes:
            fields["scope"] = " ".join(scopes)
        headers = Headers({"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        self._authenticate(self._idp_client, endpoint, fields, headers)
        logger.debug("exchanging an ID token for an ID-JAG at %s (audience %s)", redact_url(endpoint), redact_url(audience))
        response = yield HttpRequest("POST", endpoint, headers, urllib.parse.urlencode(fields).encode("ascii"))
        data = _read_json(response)
        grant = data.get("access_token") if isinstance(data, dict) else None
        if response.status != 200 or not isinstance(data, dict) or not isinstance(grant, str) or not grant:
            raise _server_error("the identity provider's token exchange (ID token for ID-JAG)", endpoint, response.status, data)
        issued = data.get("issued_token_type")
        if issued != _ID_JAG_TYPE:
            raise OAuthError(
                f"the identity provider at {redact_url(endpoint)} issued a token of type {str(issued)[:100]!r}, "
                f"not an ID-JAG ({_ID_JAG_TYPE})",
                url=endpoint,
            )
        return grant

    def _current_id_token(self) -> str:
        """The configured ID token, or the callable's current one.

        Raises:
            OAuthError: the callable failed or returned no token (``OAuthError`` and
                ``AuthenticationRequired`` it raises pass unchanged).
        """
        source = self._id_token
        if callable(source):
            try:
                token: object = source()
            except AuthenticationRequired:
                raise
            except Exception as exc:
                raise OAuthError(f"the id_token callable for {self._describe()} failed: {type(exc).__name__}: {exc}") from exc
        else:
            token = source
        if not isinstance(token, str) or not token.strip():
            raise OAuthError(f"the id_token callable for {self._describe()} returned no ID token")
        return token

    def _token_request(
        self, endpoint: str, client: _Client, issuer: str, form: Mapping[str, str], *, what: str = "the token request"
    ) -> _Flow[Dict[str, Any]]:
        """POST to the token endpoint with the client's authentication; the token response.

        Raises:
            OAuthError: an error response, or a response without a usable bearer token.
        """
        fields = dict(form)
        headers = Headers({"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
        self._authenticate(client, issuer, fields, headers)
        response = yield HttpRequest("POST", endpoint, headers, urllib.parse.urlencode(fields).encode("ascii"))
        data = _read_json(response)
        token = data.get("access_token") if isinstance(data, dict) else None
        if response.status != 200 or not isinstance(data, dict) or not isinstance(token, str) or not token:
            raise _server_error(what, endpoint, response.status, data)
        token_type = data.get("token_type")
        if token_type is not None and str(token_type).lower() != "bearer":
            raise OAuthError(f"the token endpoint {redact_url(endpoint)} issued a {token_type!r} token; only Bearer is supported")
        return data

    def _authenticate(self, client: _Client, issuer: str, fields: Dict[str, str], headers: Headers) -> None:
        """Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523)."""
        method = client.auth_method
        if method == "client_secret_basic" and client.client_secret:
            pair = f"{urllib.parse.quote_plus(client.client_id)}:{urllib.parse.quote_plus(client.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
            return
        fields["client_id"] = client.client_id
        if method == "client_secret_post" and client.client_secret:
            fields["client_secret"] = client.client_secret
        elif method == "private_key_jwt" and self._signing_key is not None:
            fields["client_assertion_type"] = _JWT_BEARER
            fields["client_assertion"] = _client_assertion(client.client_id, issuer, self._signing_key)


def _attach(request: HttpRequest, creds: Optional[StoredCredentials], attached: bool) -> bool:
    """Put the access token on ``request`` (or take off one this flow put there); whether it is on."""
    if creds is not None and creds.access_token:
        request.headers["Authorization"] = f"Bearer {creds.access_token}"
        return True
    if attached:
        request.headers.pop("Authorization")
    return False


def _check_callback(answer: Mapping[str, str], state: str, server: _AuthServer) -> str:
    """The authorization code, after checking ``error``, ``state`` and ``iss`` (RFC 9207)."""
    if answer.get("error"):
        description = answer.get("error_description")
        detail = f": {description[:300]}" if description else ""
        raise OAuthError(
            f"the authorization server refused the login: {answer['error']}{detail}",
            error=answer["error"],
            error_description=description,
        )
    if answer.get("state") != state:
        raise OAuthError("the login callback carried an unexpected state parameter; the login was refused")
    iss = answer.get("iss")
    if server.has_metadata:
        if iss is not None and iss != server.issuer:
            raise OAuthError(
                f"the login callback came from issuer {redact_url(iss)}, not {redact_url(server.issuer)}: refused (RFC 9207)"
            )
        if iss is None and server.metadata.get("authorization_response_iss_parameter_supported") is True:
            raise OAuthError("the login callback lacks the iss parameter its authorization server promises (RFC 9207)")
    code = answer.get("code")
    if not code:
        raise OAuthError("the login callback carried no authorization code")
    return code


def _expires_at(data: Mapping[str, Any]) -> Optional[float]:
    expires_in = data.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
        return None
    return time.time() + float(expires_in)


def _refreshed(base: StoredCredentials, data: Mapping[str, Any]) -> StoredCredentials:
    """``base`` with a refresh's tokens; a refresh token not rotated is kept."""
    rotated = data.get("refresh_token")
    scope = data.get("scope")
    return replace(
        base,
        access_token=str(data["access_token"]),
        refresh_token=rotated if isinstance(rotated, str) and rotated else base.refresh_token,
        expires_at=_expires_at(data),
        scopes=_strings(scope) if isinstance(scope, str) else base.scopes,
    )


def _drive(flow: _Flow[_T], send: Callable[[HttpRequest], HttpResponse]) -> _T:
    """Run a flow step to its result, closing every response once the flow has read it."""
    try:
        request = next(flow)
        while True:
            response = send(request)
            try:
                request = flow.send(response)
            finally:
                response.close()
    except StopIteration as stop:
        result: _T = stop.value
        return result
    finally:
        flow.close()


# ----------------------------------------------------------------------------- private_key_jwt (ES256)
#
# RFC 7523 client assertions signed with ECDSA P-256 / SHA-256 (RFC 7518 §3.4), in plain Python:
# affine point arithmetic, RFC 6979 deterministic nonces (no random-number weakness can leak the
# key). Not constant-time: fine for a client signing an assertion per token request, not for a
# signing service.

_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
_OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")
_OID_P256 = bytes.fromhex("2a8648ce3d030107")

_Point = Optional[Tuple[int, int]]


def _point_add(p: _Point, q: _Point) -> _Point:
    if p is None:
        return q
    if q is None:
        return p
    (x1, y1), (x2, y2) = p, q
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            return None
        slope = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _scalar_mult(k: int, point: _Point) -> _Point:
    result: _Point = None
    addend = point
    while k:
        if k & 1:
            result = _point_add(result, addend)
        addend = _point_add(addend, addend)
        k >>= 1
    return result


def _rfc6979_nonces(key: int, digest: bytes) -> Iterable[int]:
    """Deterministic ECDSA nonces for P-256 with HMAC-SHA256 (RFC 6979 §3.2)."""
    x = key.to_bytes(32, "big")
    h = (int.from_bytes(digest, "big") % _N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        candidate = int.from_bytes(v, "big")
        if 1 <= candidate < _N:
            yield candidate
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def _es256_sign(key: int, message: bytes) -> bytes:
    """The JWS ES256 signature of ``message``: ``r || s``, 32 bytes each."""
    digest = hashlib.sha256(message).digest()
    e = int.from_bytes(digest, "big")
    for nonce in _rfc6979_nonces(key, digest):
        point = _scalar_mult(nonce, _G)
        assert point is not None
        r = point[0] % _N
        s = pow(nonce, -1, _N) * (e + r * key) % _N
        if r and s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    raise AssertionError("unreachable")  # pragma: no cover


def _der(data: bytes, pos: int) -> Tuple[int, bytes, int]:
    """``(tag, contents, next position)`` of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[pos : pos + length], pos + length


def _der_children(data: bytes) -> List[Tuple[int, bytes]]:
    children = []
    pos = 0
    while pos < len(data):
        tag, contents, pos = _der(data, pos)
        children.append((tag, contents))
    return children


def _ec_private_key(der: bytes) -> int:
    """The scalar of a SEC 1 ``ECPrivateKey`` on P-256."""
    tag, body, _ = _der(der, 0)
    items = _der_children(body) if tag == 0x30 else []
    if len(items) < 2 or items[0] != (0x02, b"\x01") or items[1][0] != 0x04:
        raise ValueError("not an EC private key")
    for item_tag, contents in items[2:]:
        if item_tag == 0xA0 and _der(contents, 0)[1] != _OID_P256:
            raise ValueError("the key is not on the P-256 curve")
    key = int.from_bytes(items[1][1], "big")
    if not 1 <= key < _N:
        raise ValueError("the private key is out of range")
    return key


def _load_p256_private_key(pem: str) -> int:
    """The private scalar of a PKCS#8 (``PRIVATE KEY``) or SEC 1 (``EC PRIVATE KEY``) P-256 PEM key.

    Raises:
        ValueError: not such a key (the message never quotes the key).
    """
    match = re.search(r"-----BEGIN (EC )?PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END \1?PRIVATE KEY-----", pem)
    if match is None:
        raise ValueError("private_key_pem is not a PEM 'PRIVATE KEY' or 'EC PRIVATE KEY'")
    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
        if match.group(1):
            return _ec_private_key(der)
        tag, body, _ = _der(der, 0)
        items = _der_children(body) if tag == 0x30 else []
        if len(items) < 3 or items[1][0] != 0x30 or items[2][0] != 0x04:
            raise ValueError("not a PKCS#8 private key")
        algorithm = [contents for _tag, contents in _der_children(items[1][1])]
        if algorithm[:2] != [_OID_EC_PUBLIC_KEY, _OID_P256]:
            raise ValueError("not a P-256 EC key")
        return _ec_private_key(items[2][1])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"private_key_pem: {exc}") from None


def _client_assertion(client_id: str, audience: str, key: int) -> str:
    """A signed RFC 7523 client assertion JWT for the token endpoint of ``audience``."""
    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT"}
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + _ASSERTION_LIFETIME}
    claims["jti"] = secrets.token_urlsafe(16)
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    return f"{signing_input}.{_b64url(_es256_sign(key, signing_input.encode('ascii')))}"

"""OAuth discovery for a remote MCP server: its challenge, its resource, its authorization server.

Follows MCP 2025-11-25 with the 2026-07-28 issuer checks, and falls back to 2025-03-26:

1. Protected Resource Metadata (RFC 9728) from the challenge's ``resource_metadata``, else
   ``/.well-known/oauth-protected-resource/<path>``, else ``/.well-known/oauth-protected-resource``.
   Its ``resource`` must cover the server URL (same origin, path prefix), or the login is refused.
2. Authorization server metadata (RFC 8414, then OpenID Connect Discovery) for
   ``authorization_servers[0]``; its ``issuer`` must be the one asked for; S256 PKCE required
   for ``authorization_code``, the jwt-bearer grant (when grants are listed) for ``jwt_bearer``.
3. Without protected resource metadata (2025-03-26): metadata at the server's origin, else
   ``/authorize``, ``/token`` and ``/register`` there.

Codes, verifiers, secrets and tokens travel to the authorization server, so its issuer and its
authorization, token and registration endpoints must be HTTPS URLs (OAuth 2.1 §1.5), except on
this machine (``localhost``, ``127.0.0.0/8``, ``::1``: test servers, conformance suites):
:func:`require_https` refuses the others before any request goes there.

Also here: ``WWW-Authenticate`` parsing (RFC 9110 §11.6.1), the URL rules discovery applies
(origins, the canonical resource, the well-known URL orders, issuer comparison), and what every
exchange with an authorization server shares: the :data:`Flow` generator type whose requests the
HTTP transport sends, bounded JSON reading, and error responses as :class:`OAuthError`. Nothing
here keeps state: :func:`discover` answers with a :class:`Discovery`.

Example::

    def login(response: HttpResponse, url: str) -> Flow[str]:
        discovery = yield from discover(
            Challenge.of(response), url, "authorization_code",
            resource=None, fallback_resource=canonical_resource(url), describe="example",
        )
        return discovery.server.token_endpoint
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Generator, Iterable, List, Mapping, Optional, Tuple, TypeVar, Union

from ._exceptions import HTTPError, MessageTooLarge
from ._httpwire import Headers, HttpRequest, HttpResponse, redact_url
from ._login import OAuthError
from ._urls import is_loopback, origin, same_origin

__all__ = [
    "JWT_BEARER_GRANT",
    "MAX_METADATA_BYTES",
    "AuthServer",
    "Challenge",
    "Discovery",
    "Flow",
    "canonical_resource",
    "discover",
    "is_http_url",
    "parse_www_authenticate",
    "read_json",
    "require_https",
    "resource_covers",
    "same_origin",
    "server_error",
    "strings",
    "union",
]

logger = logging.getLogger("syncmcp.oauth")

_T = TypeVar("_T")
#: A step of the flow: yields requests, is sent their responses, returns a value.
Flow = Generator[HttpRequest, HttpResponse, _T]

#: Largest metadata, registration or token response read.
MAX_METADATA_BYTES = 1024 * 1024
#: RFC 7523 §2.1: an assertion (here the ID-JAG) as an authorization grant.
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


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
class Challenge:
    """What a 401 or 403 response asked for."""

    params: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, response: HttpResponse) -> Challenge:
        """The Bearer challenge of ``response`` (empty when it has none)."""
        return cls(parse_www_authenticate(response.headers.get_all("www-authenticate")) or {})

    @property
    def resource_metadata(self) -> Optional[str]:
        """The protected resource metadata URL the challenge names, when it is an http(s) URL."""
        value = self.params.get("resource_metadata")
        return value if value and is_http_url(value) else None

    @property
    def scopes(self) -> Tuple[str, ...]:
        """The scopes the challenge asks for."""
        return tuple(self.params.get("scope", "").split())

    @property
    def error(self) -> Optional[str]:
        """The challenge's ``error`` (``invalid_token``, ``insufficient_scope``...)."""
        return self.params.get("error")


# ----------------------------------------------------------------------------- URLs


def is_http_url(url: object) -> bool:
    """Whether ``url`` is a string naming an http(s) URL with a host."""
    if not isinstance(url, str):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def require_https(url: str, what: str) -> str:
    """``url``, if it is an HTTPS URL, or an ``http`` URL of this machine (:func:`~syncmcp._urls.is_loopback`).

    Args:
        url: where credentials would be sent.
        what: what the URL is, for the message (``"the token endpoint"``).

    Raises:
        OAuthError: a plain ``http`` (or any other) URL of another host; the message names it,
            redacted.

    Example:
        >>> require_https("http://localhost:9000/token", "the token endpoint")
        'http://localhost:9000/token'
        >>> require_https("http://as.example.com/token?k=v", "the token endpoint")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        syncmcp._login.OAuthError: the token endpoint is http://as.example.com/token?k=***, not an HTTPS URL: ...
    """
    try:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme == "https" or (scheme == "http" and is_loopback(url)):
        return url
    raise OAuthError(f"{what} is {redact_url(url)}, not an HTTPS URL: refusing to send credentials there in clear text", url=url)


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lowercased, the default port left out."""
    scheme, host, port = origin(url)
    host = host or ""
    netloc = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


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


def resource_covers(resource: str, server_url: str) -> bool:
    """Whether PRM ``resource`` identifies ``server_url``: same origin, and a path prefix of it."""
    if not is_http_url(resource) or not same_origin(resource, server_url):
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


# ----------------------------------------------------------------------------- small values


def strings(value: object) -> Tuple[str, ...]:
    """The strings of a space-separated string or a JSON list (other items and values: none)."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, (list, tuple)):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def union(*groups: Iterable[str]) -> Tuple[str, ...]:
    """The items of ``groups`` without repeats, in first-seen order."""
    seen: Dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


def read_json(response: HttpResponse) -> Any:
    """The body as JSON, or ``None`` when it is not JSON or too large.

    Never an error message quoting the body: it may hold tokens.
    """
    try:
        return response.json(MAX_METADATA_BYTES)
    except (HTTPError, MessageTooLarge):
        return None


def server_error(what: str, url: str, status: int, data: object) -> OAuthError:
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
class AuthServer:
    """The authorization server's endpoints and metadata (``{}`` in the 2025-03-26 fallback)."""

    issuer: str
    metadata: Mapping[str, Any]
    authorization_endpoint: Optional[str]
    token_endpoint: str
    registration_endpoint: Optional[str]

    @property
    def has_metadata(self) -> bool:
        """Whether the server published metadata (not the 2025-03-26 default endpoints)."""
        return bool(self.metadata)

    @property
    def auth_methods(self) -> Optional[Tuple[str, ...]]:
        """Its ``token_endpoint_auth_methods_supported``; ``None`` when it lists none."""
        value = self.metadata.get("token_endpoint_auth_methods_supported")
        return strings(value) if isinstance(value, list) else None


@dataclass(frozen=True)
class Discovery:
    """What discovery found: the resource to ask tokens for, the scopes it lists, its authorization server."""

    resource: str
    scopes_supported: Tuple[str, ...]
    server: AuthServer


# ----------------------------------------------------------------------------- discovery


def discover(
    challenge: Challenge, server_url: str, grant_type: str, *, resource: Optional[str], fallback_resource: str, describe: str
) -> Flow[Discovery]:
    """Discovery for the MCP server at ``server_url``, in the order of the module docstring.

    Args:
        challenge: the server's challenge (its ``resource_metadata`` URL is tried first).
        server_url: the MCP endpoint.
        grant_type: the grant the tokens will come from (what the authorization server must offer).
        resource: a configured RFC 8707 ``resource``, sent instead of the discovered one.
        fallback_resource: the ``resource`` without protected resource metadata (2025-03-26):
            the server's canonical URL.
        describe: the server, for log messages.

    Raises:
        OAuthError: metadata that names another resource or issuer, lacks an endpoint, names
            an authorization server or endpoint that is not HTTPS (off this machine), or misses
            PKCE S256 or the jwt-bearer grant the login needs.
    """
    prm, prm_url = yield from _fetch_resource_metadata(challenge, server_url)
    if prm is None:
        logger.debug("%s publishes no protected resource metadata: 2025-03-26 discovery", describe)
        server = yield from _fetch_legacy_server(server_url, grant_type)
        return Discovery(resource or fallback_resource, (), server)
    found = _check_resource(prm, prm_url, server_url)
    servers = prm.get("authorization_servers")
    if not isinstance(servers, list) or not servers or not is_http_url(servers[0]):
        raise OAuthError(f"the protected resource metadata at {redact_url(prm_url)} names no authorization server")
    require_https(servers[0], f"the authorization server named by the protected resource metadata at {redact_url(prm_url)}")
    server = yield from _fetch_server(servers[0], grant_type)
    return Discovery(resource or found, strings(prm.get("scopes_supported")), server)


def _fetch_resource_metadata(challenge: Challenge, server_url: str) -> Flow[Tuple[Optional[Dict[str, Any]], str]]:
    """RFC 9728 metadata: the challenge's URL, then the path-based and root well-known URLs."""
    header_url = challenge.resource_metadata
    candidates = union([header_url] if header_url else [], _well_known_prm_urls(server_url))
    for url in candidates:
        status, data = yield from _get_json(url)
        if status == 200 and data is not None:
            if not isinstance(data, dict):
                raise OAuthError(f"the protected resource metadata at {redact_url(url)} is not a JSON object")
            return data, url
    return None, ""


def _check_resource(prm: Mapping[str, Any], url: str, server_url: str) -> str:
    resource = prm.get("resource")
    if not isinstance(resource, str) or not resource:
        raise OAuthError(f"the protected resource metadata at {redact_url(url)} has no resource")
    if not resource_covers(resource, server_url):
        raise OAuthError(
            f"the protected resource metadata at {redact_url(url)} is for {redact_url(resource)}, "
            f"not {redact_url(server_url)}: refusing to authorize"
        )
    return resource


def _fetch_server(issuer: str, grant_type: str) -> Flow[AuthServer]:
    """RFC 8414 / OpenID metadata of ``issuer``, whose ``issuer`` must match (RFC 8414 §3.3)."""
    for url in _metadata_urls(issuer):
        status, data = yield from _get_json(url)
        if status == 200 and isinstance(data, dict):
            if not _same_issuer(data.get("issuer"), issuer):
                raise OAuthError(
                    f"the authorization server metadata at {redact_url(url)} names another issuer "
                    f"({redact_url(str(data.get('issuer')))}, expected {redact_url(issuer)}): refusing to use it"
                )
            return _server_from(issuer, data, url, grant_type)
    raise OAuthError(f"the authorization server {redact_url(issuer)} publishes no metadata")


def _fetch_legacy_server(server_url: str, grant_type: str) -> Flow[AuthServer]:
    """2025-03-26: metadata at the MCP server's origin, else the default endpoints there."""
    base = _origin(server_url)
    for url in _metadata_urls(base):
        status, data = yield from _get_json(url)
        if status == 200 and isinstance(data, dict):
            # Found from the server's own origin, not from an issuer: nothing to compare.
            issuer = data.get("issuer")
            return _server_from(issuer if isinstance(issuer, str) and is_http_url(issuer) else base, data, url, grant_type)
    require_https(base, "the authorization server at the MCP server's origin (2025-03-26 default endpoints)")
    return AuthServer(base, {}, f"{base}/authorize", f"{base}/token", f"{base}/register")


def _server_from(issuer: str, data: Mapping[str, Any], url: str, grant_type: str) -> AuthServer:
    def endpoint(name: str) -> Optional[str]:
        value = data.get(name)
        return value if is_http_url(value) else None

    token_endpoint = endpoint("token_endpoint")
    authorization_endpoint = endpoint("authorization_endpoint")
    registration_endpoint = endpoint("registration_endpoint")
    where = redact_url(url)
    if token_endpoint is None:
        raise OAuthError(f"the authorization server metadata at {where} has no token_endpoint")
    require_https(issuer, f"the issuer in the authorization server metadata at {where}")
    for name, value in (
        ("token_endpoint", token_endpoint),
        ("authorization_endpoint", authorization_endpoint),
        ("registration_endpoint", registration_endpoint),
    ):
        if value is not None:
            require_https(value, f"the {name} in the authorization server metadata at {where}")
    if grant_type == "authorization_code":
        if authorization_endpoint is None:
            raise OAuthError(f"the authorization server metadata at {where} has no authorization_endpoint")
        if "S256" not in strings(data.get("code_challenge_methods_supported")):
            raise OAuthError(
                f"the authorization server at {redact_url(issuer)} does not advertise PKCE with S256 "
                "(code_challenge_methods_supported): refusing to log in without it"
            )
    grants = data.get("grant_types_supported")
    if grant_type == "jwt_bearer" and isinstance(grants, list) and JWT_BEARER_GRANT not in grants:
        raise OAuthError(
            f"the authorization server at {redact_url(issuer)} does not list the jwt-bearer grant "
            f"({JWT_BEARER_GRANT}) in its grant_types_supported: it cannot redeem an ID-JAG"
        )
    return AuthServer(issuer, dict(data), authorization_endpoint, token_endpoint, registration_endpoint)


def _get_json(url: str) -> Flow[Tuple[int, Any]]:
    response = yield HttpRequest("GET", url, Headers({"Accept": "application/json"}), replayable=True)
    if response.status != 200:
        return response.status, None
    return 200, read_json(response)

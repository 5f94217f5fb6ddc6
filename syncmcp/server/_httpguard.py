"""Who may use the HTTP endpoint: Host and Origin checks, and bearer tokens (an OAuth resource server).

* :class:`OriginGuard` defends against DNS rebinding: a web page on a hostile site whose name
  resolves to 127.0.0.1 makes the browser send requests with that site's ``Host`` and
  ``Origin``. Requests whose ``Host`` is not an allowed one, or whose ``Origin`` (when present)
  is neither allowed nor the server's own loopback origin, are refused with 403.
* :class:`BearerAuth` makes the endpoint an OAuth 2.1 resource server (MCP 2025-06-18 and
  later): every request needs ``Authorization: Bearer <token>``; the token is checked by the
  application's ``verify_token(token) -> claims`` callable; a missing or refused token gets 401
  with ``WWW-Authenticate: Bearer resource_metadata="…"``, a token without a required scope 403
  ``insufficient_scope``. The Protected Resource Metadata document (RFC 9728) names the
  authorization servers.

Example:
    >>> guard = OriginGuard(allowed_hosts=["localhost:*", "127.0.0.1:*"])
    >>> guard.refusal({"HTTP_HOST": "127.0.0.1:8000"}) is None
    True
    >>> guard.refusal({"HTTP_HOST": "evil.example:8000", "HTTP_ORIGIN": "http://evil.example:8000"})
    "Forbidden: Host 'evil.example:8000' is not allowed (allowed_hosts)"
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from ._errors import InvalidToken

__all__ = ["AuthOutcome", "BearerAuth", "OriginGuard", "loopback_hosts"]

logger = logging.getLogger("syncmcp.server.http")

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def loopback_hosts() -> List[str]:
    """The ``Host`` patterns of a loopback bind: each loopback name, any port."""
    return [f"{name}:*" for name in _LOOPBACK_NAMES] + list(_LOOPBACK_NAMES)


def _split_host(value: str) -> Tuple[str, Optional[str]]:
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        host, rest = value[: end + 1], value[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else None
    host, sep, port = value.partition(":")
    return host, port if sep else None


def _is_loopback_name(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_matches(value: str, pattern: str) -> bool:
    host, port = _split_host(value)
    want_host, want_port = _split_host(pattern)
    if host != want_host:
        return False
    return (want_port is None and port is None) or want_port in ("*", port)


class OriginGuard:
    """``Host`` and ``Origin`` checks against DNS rebinding (see the module docs).

    Args:
        allowed_hosts: ``Host`` values accepted (``"example.com"``, ``"example.com:8443"``,
            ``"localhost:*"`` for any port); ``None`` accepts any ``Host``.
        allowed_origins: ``Origin`` values accepted besides the server's own
            (``"https://app.example.com"``; ``"*"`` accepts any); a request without an
            ``Origin`` (not from a browser) is always accepted.

    Example:
        >>> OriginGuard(allowed_origins=["https://app.example.com"]).refusal(
        ...     {"HTTP_HOST": "mcp.example.com", "HTTP_ORIGIN": "https://evil.example"})
        "Forbidden: Origin 'https://evil.example' is not allowed (allowed_origins)"
    """

    def __init__(self, allowed_hosts: Optional[Sequence[str]] = None, allowed_origins: Optional[Sequence[str]] = None) -> None:
        self.allowed_hosts = list(allowed_hosts) if allowed_hosts is not None else None
        self.allowed_origins = [origin.rstrip("/").lower() for origin in allowed_origins or ()]

    def refusal(self, environ: Mapping[str, Any]) -> Optional[str]:
        """Why the request is refused (403), or ``None`` when it may proceed."""
        host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "")
        if self.allowed_hosts is not None and not any(_host_matches(host, pattern) for pattern in self.allowed_hosts):
            return f"Forbidden: Host {host!r} is not allowed (allowed_hosts)"
        origin = environ.get("HTTP_ORIGIN")
        if origin is None or "*" in self.allowed_origins:
            return None
        normalized = str(origin).rstrip("/").lower()
        if normalized in self.allowed_origins:
            return None
        parts = urlsplit(normalized)
        scheme = str(environ.get("wsgi.url_scheme") or "http")
        # The server's own origin (a page it served) is safe when the Host is checked, or is a
        # loopback name that a hostile page cannot put in its own Origin.
        own = parts.scheme == scheme and parts.netloc == host.lower()
        if own and (self.allowed_hosts is not None or _is_loopback_name(_split_host(host)[0])):
            return None
        return f"Forbidden: Origin {origin!r} is not allowed (allowed_origins)"


@dataclass
class AuthOutcome:
    """The result of checking a request's bearer token.

    Attributes:
        claims: the verified claims (``None`` when refused).
        subject: who the token speaks for: its ``sub``, else its ``client_id``, else a digest of
            the token itself (a session opened with it accepts only the same subject).
        status: ``"200 OK"`` when accepted, else the refusal's status line.
        headers: the response headers of a refusal (``WWW-Authenticate``).
        message: what the refusal says.
    """

    claims: Optional[Mapping[str, Any]]
    subject: Optional[str] = None
    status: str = "200 OK"
    headers: List[Tuple[str, str]] = field(default_factory=list)
    message: str = ""


class BearerAuth:
    """The resource-server side of MCP authorization (see the module docs).

    Args:
        verify_token: ``verify_token(token) -> claims``: a mapping for a valid token, ``None``
            (or :class:`~syncmcp.server.InvalidToken`) for one to refuse. Claims may carry
            ``scope`` (space-separated) or ``scopes`` (a list), and ``exp`` (seconds since the
            epoch; an expired token is refused).
        authorization_servers: the issuer URLs listed in the metadata document.
        required_scopes: scopes every request's token must carry (403 otherwise).
        resource: the canonical URL of the MCP endpoint (default: from each request).
        resource_name: a human-readable name for the metadata document.

    Example:
        >>> auth = BearerAuth(lambda token: {"sub": "ann", "scope": "mcp"} if token == "t0k" else None,
        ...                   authorization_servers=["https://auth.example.com"], required_scopes=["mcp"])
        >>> auth.check({"HTTP_AUTHORIZATION": "Bearer t0k"}, "https://mcp.example.com/mcp").claims
        {'sub': 'ann', 'scope': 'mcp'}
        >>> auth.check({}, "https://mcp.example.com/mcp").status
        '401 Unauthorized'
    """

    def __init__(
        self,
        verify_token: Callable[[str], Optional[Mapping[str, Any]]],
        *,
        authorization_servers: Sequence[str] = (),
        required_scopes: Sequence[str] = (),
        resource: Optional[str] = None,
        resource_name: Optional[str] = None,
    ) -> None:
        self.verify_token = verify_token
        self.authorization_servers = list(authorization_servers)
        self.required_scopes = list(required_scopes)
        self.resource = resource
        self.resource_name = resource_name

    def metadata_url(self, resource: str) -> str:
        """Where the Protected Resource Metadata of ``resource`` is served (RFC 9728 §3.1)."""
        parts = urlsplit(resource)
        path = parts.path.rstrip("/")
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{path}"

    def metadata(self, resource: str) -> Dict[str, Any]:
        """The Protected Resource Metadata document."""
        document: Dict[str, Any] = {
            "resource": self.resource or resource,
            "authorization_servers": list(self.authorization_servers),
            "bearer_methods_supported": ["header"],
        }
        if self.required_scopes:
            document["scopes_supported"] = list(self.required_scopes)
        if self.resource_name:
            document["resource_name"] = self.resource_name
        return document

    def check(self, environ: Mapping[str, Any], resource: str) -> AuthOutcome:
        """Accept the request's token (its claims), or say how to refuse it."""
        header = str(environ.get("HTTP_AUTHORIZATION") or "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return self._refuse("401 Unauthorized", None, "Unauthorized: this server needs an OAuth bearer token", resource)
        try:
            claims = self.verify_token(token)
        except InvalidToken as exc:
            return self._refuse("401 Unauthorized", "invalid_token", f"Unauthorized: {exc}", resource)
        except Exception as exc:  # the verifier failed, not the token: say so, do not send the client to log in
            logger.exception("verify_token failed")
            return AuthOutcome(
                None, None, "503 Service Unavailable", [], f"Service Unavailable: the token could not be checked: {exc}"
            )
        if claims is None:
            return self._refuse("401 Unauthorized", "invalid_token", "Unauthorized: the access token is not valid", resource)
        expires = claims.get("exp")
        if isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires < time.time():
            return self._refuse("401 Unauthorized", "invalid_token", "Unauthorized: the access token expired", resource)
        granted = _scopes_of(claims)
        missing = [scope for scope in self.required_scopes if scope not in granted]
        if missing:
            return self._refuse(
                "403 Forbidden", "insufficient_scope", f"Forbidden: the token lacks the scope(s) {' '.join(missing)}", resource
            )
        subject = claims.get("sub") or claims.get("client_id")
        if not isinstance(subject, str) or not subject:
            subject = "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
        return AuthOutcome(claims, subject)

    def _refuse(self, status: str, error: Optional[str], message: str, resource: str) -> AuthOutcome:
        params = [f'resource_metadata="{self.metadata_url(self.resource or resource)}"']
        if error is not None:
            params.insert(0, f'error="{error}"')
            params.append(f'error_description="{message.split(": ", 1)[-1]}"')
        if self.required_scopes:
            params.append(f'scope="{" ".join(self.required_scopes)}"')
        return AuthOutcome(None, None, status, [("WWW-Authenticate", "Bearer " + ", ".join(params))], message)


def _scopes_of(claims: Mapping[str, Any]) -> List[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scopes = claims.get("scopes")
    if isinstance(scopes, (list, tuple)):
        return [str(item) for item in scopes]
    return []

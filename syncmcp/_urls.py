"""Small URL rules shared by the HTTP transport, OAuth and the configuration: origins, redaction.

Example:
    >>> redact_url("https://user:pw@api.test/mcp?token=abc")
    'https://api.test/mcp?token=***'
    >>> same_origin("https://api.test/mcp", "https://API.test:443/other")
    True
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import Optional, Tuple

__all__ = ["is_loopback", "origin", "redact_url", "same_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def redact_url(url: str) -> str:
    """``url`` with credentials and query values hidden, for logs, messages and listings.

    Example:
        >>> redact_url("https://user:pw@api.test/mcp?token=abc&x=1")
        'https://api.test/mcp?token=***&x=***'
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if port is not None:
        netloc += f":{port}"
    query = "&".join(f"{name}=***" for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def origin(url: str) -> Tuple[str, Optional[str], Optional[int]]:
    """``(scheme, host, port)`` of ``url``, lowercased, default ports filled in; ``None`` parts when unreadable.

    Example:
        >>> origin("HTTPS://Api.Test/mcp")
        ('https', 'api.test', 443)
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return scheme, None, None
    host = parts.hostname.lower() if parts.hostname else None
    return scheme, host, port or _DEFAULT_PORTS.get(scheme)


def same_origin(a: str, b: str) -> bool:
    """Whether two URLs share scheme, host and port (the same-origin rule).

    Example:
        >>> same_origin("http://127.0.0.1:8000/mcp", "http://127.0.0.1:8001/mcp")
        False
    """
    first = origin(a)
    return first[1] is not None and first == origin(b)


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine: ``localhost``, an address in ``127.0.0.0/8``, or ``::1``.

    A name that merely starts like an address (``127.0.0.1.example.com``) is not.

    Example:
        >>> is_loopback("http://127.0.0.1:8080/token"), is_loopback("http://[::1]/"), is_loopback("http://localhost/")
        (True, True, True)
        >>> is_loopback("http://127.0.0.1.example.com/"), is_loopback("http://10.0.0.1/")
        (False, False)
    """
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

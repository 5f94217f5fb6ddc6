"""A session's start-up: finding the server's protocol era, and the legacy handshake.

With ``protocol_era="auto"`` the client first sends ``server/discover``: an answer (or a
modern-only error) means the stateless 2026-07-28 era; any other error, or no answer within the
discovery timeout, means a legacy server, which then gets the ``initialize`` +
``notifications/initialized`` handshake. ``"modern"`` and ``"legacy"`` skip the guess. Neither
request is ever cancelled (a legacy server must see nothing but its handshake), and every step
shares the one start-up deadline, which covers spawning the server too. Nothing here keeps state
between calls: :func:`negotiate` answers with the server's description and its era.

Example::

    limit = 10.0
    startup = Startup(endpoint, transport, "fs", capabilities, client_info, "auto", 3.0, limit,
                      time.monotonic() + limit)
    endpoint.start()
    result, modern = negotiate(startup)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from ._endpoint import Endpoint
from ._era import (
    LATEST_PROTOCOL_VERSION,
    MODERN_ERROR_CODES,
    MODERN_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    discover_result,
    envelope,
)
from ._exceptions import AuthenticationRequired, HTTPError, ProtocolVersionError, RemoteError, RemoteProtocolError, RequestTimeout
from ._jsonrpc import ErrorCode
from ._timeout import remaining
from ._transport import Transport
from ._types import InitializeResult

__all__ = ["Startup", "negotiate"]

logger = logging.getLogger("syncmcp.session")


@dataclass(frozen=True)
class Startup:
    """What one session's start-up needs: where to send, what to offer, and until when.

    Attributes:
        endpoint: the session's started endpoint.
        transport: its transport (for the server's stderr in a timeout's message).
        name: the server's name, for logs and errors.
        capabilities: the client capabilities to declare.
        client_info: ``clientInfo`` to send.
        era: ``"auto"``, ``"legacy"`` or ``"modern"``.
        discovery_timeout: seconds the ``auto`` probe waits for ``server/discover``.
        limit: the start-up's timeout in seconds (``None``: no limit), for messages.
        deadline: the ``time.monotonic()`` value ``limit`` ends at (``None``: none).
    """

    endpoint: Endpoint
    transport: Transport
    name: str
    capabilities: Mapping[str, Any]
    client_info: Mapping[str, Any]
    era: str
    discovery_timeout: float
    limit: Optional[float]
    deadline: Optional[float]


def negotiate(startup: Startup) -> Tuple[InitializeResult, bool]:
    """Find the server's era and open the session: ``(its answer, whether it speaks 2026-07-28)``.

    Raises:
        RequestTimeout: no answer in time (the message quotes the server's stderr).
        ProtocolVersionError: the server speaks no revision this client does.
        RemoteError, ConnectionClosed, AuthenticationRequired, HTTPError: the server refused or
            went away.
    """
    if startup.era != "legacy":
        found = _discover(startup, probe=startup.era == "auto")
        if found is not None:
            return found, True
    return _handshake(startup)


def _timed_out(startup: Startup, exc: RequestTimeout) -> RequestTimeout:
    """The start-up's timeout, quoting the last lines the server wrote to stderr."""
    tail = startup.transport.exit_details(0.0)[1]
    message = f"timed out handshaking with MCP server '{startup.name}' after {startup.limit:g} s"
    if tail:
        message += "\n--- server stderr (last lines) ---\n" + tail.rstrip("\n")
    return RequestTimeout(message, timeout=startup.limit, method=exc.method, server=startup.name)


def _discover(startup: Startup, *, probe: bool) -> Optional[InitializeResult]:
    """``server/discover``; ``None`` means "a legacy server" (probing only)."""
    name, deadline = startup.name, startup.deadline
    params = {"_meta": envelope(startup.capabilities, startup.client_info)}
    # Never cancelled: a legacy server must not see anything but its handshake afterwards.
    pending = startup.endpoint.send_request("server/discover", params, cancellable=False)
    wait = remaining(deadline)
    if probe:
        wait = startup.discovery_timeout if wait is None else min(wait, startup.discovery_timeout)
    try:
        raw = pending.result(wait)
    except RequestTimeout as exc:
        if probe and (deadline is None or time.monotonic() < deadline):
            logger.debug("'%s' did not answer server/discover in %s s: legacy era", name, wait)
            return None
        raise _timed_out(startup, exc) from exc
    except AuthenticationRequired:
        raise
    except HTTPError as exc:
        if probe:  # an HTTP server refusing the request (e.g. 400, 404, 405): not the modern era
            logger.debug("'%s' refused server/discover (%s): legacy era", name, exc.status)
            return None
        raise
    except RemoteError as exc:
        if exc.code == ErrorCode.MISSING_REQUIRED_CLIENT_CAPABILITY:
            needed = exc.data.get("requiredCapabilities") if isinstance(exc.data, Mapping) else None
            raise ProtocolVersionError(
                f"MCP server '{name}' (2026-07-28) requires client capabilities this session does not declare "
                f"({needed!r}): {exc.message}"
            ) from exc
        if exc.code in MODERN_ERROR_CODES:
            supported = exc.data.get("supported") if isinstance(exc.data, Mapping) else None
            raise ProtocolVersionError(
                f"MCP server '{name}' speaks the stateless era but not {MODERN_PROTOCOL_VERSION} "
                f"(it supports {supported!r}): {exc.message}"
            ) from exc
        if probe:
            logger.debug("'%s' answered server/discover with %s: legacy era", name, exc.code)
            return None
        raise
    if not isinstance(raw, Mapping):
        raise RemoteProtocolError(f"server/discover result from '{name}' is not an object")
    versions = raw.get("supportedVersions")
    if not isinstance(versions, list) and probe:
        logger.debug("'%s' answered server/discover without supportedVersions: legacy era", name)
        return None
    if not isinstance(versions, list) or MODERN_PROTOCOL_VERSION not in versions:
        raise ProtocolVersionError(
            f"MCP server '{name}' supports {versions!r}; this client speaks {MODERN_PROTOCOL_VERSION} "
            f"and {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}"
        )
    return discover_result(raw)


def _handshake(startup: Startup) -> Tuple[InitializeResult, bool]:
    """The legacy ``initialize`` handshake, switching to the modern era if the server says so."""
    name = startup.name
    params = {"protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": startup.capabilities, "clientInfo": startup.client_info}
    pending = startup.endpoint.send_request("initialize", params, cancellable=False)
    try:
        raw = pending.result(remaining(startup.deadline))
    except RequestTimeout as exc:
        raise _timed_out(startup, exc) from exc
    except RemoteError as exc:
        if exc.code == ErrorCode.UNSUPPORTED_PROTOCOL_VERSION and startup.era == "auto":
            # The server locked the connection to the stateless era (a late discover answer).
            logger.debug("'%s' refused initialize with -32022: switching to the modern era", name)
            result = _discover(startup, probe=False)
            assert result is not None
            return result, True
        raise
    result = InitializeResult.from_dict(raw)
    if result.protocol_version not in SUPPORTED_PROTOCOL_VERSIONS:
        raise ProtocolVersionError(
            f"MCP server '{name}' answered protocol version {result.protocol_version!r}; "
            f"this client offered {LATEST_PROTOCOL_VERSION!r} and supports {', '.join(SUPPORTED_PROTOCOL_VERSIONS)}"
        )
    startup.endpoint.send_notification("notifications/initialized")
    return result, False

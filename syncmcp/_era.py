"""The two protocol eras: the ``initialize`` handshake (legacy) and 2026-07-28 (modern).

Modern requests carry an envelope in ``params._meta`` (protocol version, client capabilities,
client info, optionally a log level); results carry ``resultType`` (absent means ``complete``)
and caching hints (``ttlMs``, ``cacheScope``). A dual-era client finds out which era a server
speaks by sending ``server/discover`` first (see ``ClientSession.initialize``).

Example:
    >>> envelope({}, {"name": "c", "version": "1"})["io.modelcontextprotocol/protocolVersion"]
    '2026-07-28'
    >>> result_kind({"content": []})
    'complete'
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

from ._types import InitializeResult

__all__ = [
    "ERAS",
    "LATEST_PROTOCOL_VERSION",
    "LOG_LEVELS",
    "META_CLIENT_CAPABILITIES",
    "META_CLIENT_INFO",
    "META_LOG_LEVEL",
    "META_PROTOCOL_VERSION",
    "META_SERVER_INFO",
    "META_SUBSCRIPTION_ID",
    "MODERN_ERROR_CODES",
    "MODERN_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "discover_result",
    "envelope",
    "result_kind",
    "ttl_seconds",
]

#: The handshake-based revisions syncmcp speaks, newest first (the first is the one offered).
SUPPORTED_PROTOCOL_VERSIONS: Tuple[str, ...] = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
#: The revision a client offers in ``initialize`` and a server answers when it knows no better.
LATEST_PROTOCOL_VERSION = SUPPORTED_PROTOCOL_VERSIONS[0]
#: The stateless revision syncmcp speaks besides the legacy ones.
MODERN_PROTOCOL_VERSION = "2026-07-28"
#: MCP log levels (RFC 5424), ascending.
LOG_LEVELS: Tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
#: Session option values: detect, or force one era.
ERAS = ("auto", "legacy", "modern")

META_PROTOCOL_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CLIENT_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_LOG_LEVEL = "io.modelcontextprotocol/logLevel"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"

#: Error codes only a modern server sends: header mismatch, missing client capability,
#: unsupported protocol version. Receiving one in answer to ``server/discover`` means "modern".
MODERN_ERROR_CODES = (-32020, -32021, -32022)


def envelope(capabilities: Mapping[str, Any], client_info: Mapping[str, Any], log_level: Optional[str] = None) -> Dict[str, Any]:
    """The ``_meta`` keys every modern request carries."""
    meta: Dict[str, Any] = {
        META_PROTOCOL_VERSION: MODERN_PROTOCOL_VERSION,
        META_CLIENT_CAPABILITIES: dict(capabilities),
        META_CLIENT_INFO: dict(client_info),
    }
    if log_level is not None:
        meta[META_LOG_LEVEL] = log_level
    return meta


def result_kind(result: Any) -> str:
    """``resultType`` of a result: ``complete`` when absent (legacy servers never send it)."""
    if isinstance(result, Mapping):
        kind = result.get("resultType", "complete")
        return kind if isinstance(kind, str) else "invalid"
    return "complete"


def ttl_seconds(result: Any, absent: Optional[float] = None) -> Optional[float]:
    """The ``ttlMs`` caching hint in seconds.

    Negative values count as 0 (immediately stale), as the spec says. ``absent`` is what a
    result without the hint means: ``None`` (cache until invalidated) for a legacy server, ``0``
    for a 2026-07-28 one (its results must carry the hint; absent means 0).

    Example:
        >>> ttl_seconds({"ttlMs": 1500}), ttl_seconds({}), ttl_seconds({}, absent=0.0)
        (1.5, None, 0.0)
    """
    if not isinstance(result, Mapping) or "ttlMs" not in result:
        return absent
    value = result.get("ttlMs")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        return 0.0
    return value / 1000.0


def discover_result(result: Mapping[str, Any]) -> InitializeResult:
    """Present a ``DiscoverResult`` as an :class:`~syncmcp.InitializeResult`."""
    meta = result.get("_meta")
    server_info = meta.get(META_SERVER_INFO) if isinstance(meta, Mapping) else None
    shaped = {
        "protocolVersion": MODERN_PROTOCOL_VERSION,
        "capabilities": result.get("capabilities") or {},
        "serverInfo": server_info if isinstance(server_info, Mapping) else {},
    }
    if isinstance(result.get("instructions"), str):
        shaped["instructions"] = result["instructions"]
    parsed = InitializeResult.from_dict(shaped)
    return InitializeResult(parsed.protocol_version, parsed.capabilities, parsed.server_info, parsed.instructions, dict(result))

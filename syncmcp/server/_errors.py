"""Exceptions a server handler raises on purpose, and how the framework answers each.

::

    MCPError
    ├── ToolError                    a tool failed: the call returns an ``isError`` result with the message
    ├── ResourceNotFound(LookupError) no such resource: -32002 (legacy) or -32602 (2026-07-28)
    └── ClientCapabilityError        the client did not declare what a context call needs

Any other exception in a tool also becomes an ``isError`` result (its type and message); in a
resource, prompt or completion handler it becomes a -32603 error. Raise
:class:`~syncmcp.JSONRPCError` for full control of the error response.

Example:
    >>> try:
    ...     raise ToolError("the file is locked")
    ... except MCPError as exc:
    ...     print(exc)
    the file is locked
"""

from __future__ import annotations

from typing import Optional

from .._exceptions import MCPError

__all__ = ["ClientCapabilityError", "InvalidToken", "ResourceNotFound", "ToolError"]


class ToolError(MCPError):
    """Raise in a tool to fail the call with this message (an ``isError`` result, not a protocol error).

    Example:
        >>> ToolError("no such branch: 'main'").args[0]
        "no such branch: 'main'"
    """


class ResourceNotFound(MCPError, LookupError):
    """Raise in a resource handler when the URI names nothing.

    Answered with -32002 ("Resource not found", ``data: {"uri": ...}``) on legacy connections and
    -32602 on 2026-07-28 ones, as each revision requires.

    Example:
        >>> ResourceNotFound("notes://42").uri
        'notes://42'
    """

    def __init__(self, uri: str, message: Optional[str] = None) -> None:
        super().__init__(message or f"Resource not found: {uri}")
        self.uri = uri


class ClientCapabilityError(MCPError):
    """The client did not declare the capability a :class:`~syncmcp.server.Context` call needs.

    Raised by ``ctx.elicit``, ``ctx.sample`` and ``ctx.list_roots``. Left uncaught in a tool it
    becomes an ``isError`` result on legacy connections and error -32021 on 2026-07-28 ones.

    Attributes:
        capability: the missing client capability, e.g. ``"elicitation"`` or ``"sampling.tools"``.

    Example:
        >>> ClientCapabilityError("sampling").capability
        'sampling'
    """

    def __init__(self, capability: str, message: Optional[str] = None) -> None:
        super().__init__(message or f"the client did not declare the '{capability}' capability")
        self.capability = capability


class InvalidToken(MCPError):
    """Raise in a ``verify_token`` callable to refuse an access token (HTTP 401 ``invalid_token``).

    Example:
        >>> InvalidToken("the token expired").args[0]
        'the token expired'
    """

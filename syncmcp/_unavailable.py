"""The error a caller gets for a managed server that is not ready, by its state."""

from __future__ import annotations

from typing import Optional

from ._exceptions import ServerUnavailableError, SessionClosedError
from ._status import ServerState

__all__ = ["unavailable_error"]


def unavailable_error(name: str, state: ServerState, error_text: Optional[str], cause: Optional[BaseException]) -> Exception:
    """The error for server ``name`` in ``state``; ``error_text`` and ``cause`` are of its last failure.

    Example:
        >>> unavailable_error("fs", ServerState.DISABLED, None, None)
        ServerUnavailableError("MCP server 'fs' is disabled (enabled = false)")
    """
    if state is ServerState.CLOSED:
        return SessionClosedError(f"MCP server '{name}' was removed or its manager closed")
    if state is ServerState.DISABLED:
        return ServerUnavailableError(f"MCP server '{name}' is disabled (enabled = false)", server=name)
    if state is ServerState.PENDING:
        return ServerUnavailableError(f"MCP server '{name}' is not started yet", server=name)
    if state is ServerState.CANCELLED:
        error = ServerUnavailableError(f"failed to get client: MCP server '{name}': MCP startup cancelled", server=name)
    else:
        error = ServerUnavailableError(f"failed to get client: {error_text}", server=name)
    error.__cause__ = cause
    return error

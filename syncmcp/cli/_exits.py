"""Exit statuses of the ``syncmcp`` command line, and how an exception maps to one.

The numbers are part of the command line's interface: scripts may rely on them.

====  =====================================================================================
code  meaning
====  =====================================================================================
0     success
1     the tool ran and reported an error (``isError`` in its result)
2     usage or configuration error: bad arguments, invalid configuration, unknown server or
      tool, arguments that do not match the tool's input schema, or that the server refused as
      invalid (JSON-RPC error -32602, or -32002 "resource not found")
3     server failure: it could not be started, crashed, broke the protocol or answered with a
      JSON-RPC error; ``doctor`` found an unhealthy server
4     timeout: a request (or a server's start-up) took longer than allowed
70    internal error in syncmcp (a bug: the message asks for ``--verbose`` and a report)
130   interrupted (Ctrl-C); the running request was cancelled on the server
143   terminated (SIGTERM), cleaned up the same way
141   standard output was closed early (``syncmcp tools | head -1``)
====  =====================================================================================

Example:
    >>> exit_status(TimeoutError("slow")), exit_status(CLIError("bad usage"))
    (4, 2)
"""

from __future__ import annotations

from typing import List, Optional

from .._exceptions import (
    ConfigError,
    MCPError,
    RemoteError,
    SchemaValidationError,
    ToolDisabledError,
    UnknownServerError,
    UnknownToolError,
)

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SERVER",
    "EXIT_TERMINATED",
    "EXIT_TIMEOUT",
    "EXIT_TOOL_ERROR",
    "EXIT_USAGE",
    "CLIError",
    "Terminated",
    "exit_status",
]

#: Success.
EXIT_OK = 0
#: The tool ran and returned a result with ``isError: true``.
EXIT_TOOL_ERROR = 1
#: Bad arguments or configuration, an unknown server or tool, arguments the schema refuses.
EXIT_USAGE = 2
#: A server could not be started, died, broke the protocol or answered with an error; doctor found a problem.
EXIT_SERVER = 3
#: A request or a start-up timed out.
EXIT_TIMEOUT = 4
#: A bug in syncmcp (sysexits' EX_SOFTWARE).
EXIT_INTERNAL = 70
#: Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: JSON-RPC errors that mean "your request was wrong": invalid params, resource not found.
_USAGE_ERROR_CODES = (-32602, -32002)
#: Stopped by SIGTERM, after the same clean-up as an interrupt (128 + SIGTERM).
EXIT_TERMINATED = 143
#: Standard output was closed before everything was written (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that blocked requests are cancelled and servers stopped.

    Example:
        >>> isinstance(Terminated(), KeyboardInterrupt)
        True
    """


class CLIError(Exception):
    """An error the command line reports as ``syncmcp: error: <message>`` with an exit status.

    Example:
        >>> CLIError("No MCP server named 'x' found.", EXIT_USAGE).status
        2
    """

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def _chain(error: BaseException) -> List[BaseException]:
    """The exception and its causes / contexts, without looping on a cycle."""
    seen: List[BaseException] = []
    current: Optional[BaseException] = error
    while current is not None and all(current is not item for item in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def exit_status(error: BaseException) -> int:
    """The exit status for an exception that ended a command.

    A timeout anywhere in the chain (a start-up that timed out is the cause of the "server
    unavailable" error a call gets) makes it a timeout.

    Example:
        >>> exit_status(UnknownToolError("unknown tool 'x'"))
        2
    """
    if isinstance(error, CLIError):
        return error.status
    if isinstance(error, Terminated):
        return EXIT_TERMINATED
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, BrokenPipeError):
        return EXIT_BROKEN_PIPE
    if any(isinstance(item, TimeoutError) for item in _chain(error)):
        return EXIT_TIMEOUT
    if isinstance(error, SchemaValidationError):
        # Input validation fails before anything is sent (the user's arguments); output
        # validation keeps the server's result (the server's fault).
        return EXIT_SERVER if error.result is not None else EXIT_USAGE
    if isinstance(error, (ConfigError, UnknownServerError, UnknownToolError, ToolDisabledError)):
        return EXIT_USAGE
    if isinstance(error, RemoteError) and error.code in _USAGE_ERROR_CODES:
        return EXIT_USAGE
    from .._session import CapabilityError

    if isinstance(error, CapabilityError):  # the server has no such feature: a usage problem
        return EXIT_USAGE
    if isinstance(error, MCPError):
        return EXIT_SERVER
    return EXIT_INTERNAL

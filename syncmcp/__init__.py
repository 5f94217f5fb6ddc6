"""syncmcp: a synchronous, thread-based Model Context Protocol SDK.

Blocking, thread-safe MCP for plain scripts, notebooks and sync codebases: no event loop.

Example:
    >>> import sys, syncmcp
    >>> with syncmcp.connect(sys.executable, ["tools/example_server.py"]) as session:
    ...     print([tool.name for tool in session.list_tools()])
    ...     print(session.call_tool("add", {"a": 2, "b": 3}).text)
    ['echo', 'add', 'blob']
    5
"""

import logging as _logging

from ._client_features import check_elicitation_answer
from ._endpoint import Endpoint, InboundRequest, PendingRequest
from ._exceptions import (
    ConfigError,
    ConnectionClosed,
    JSONRPCError,
    MCPError,
    MessageTooLarge,
    ProtocolVersionError,
    RemoteError,
    RemoteProtocolError,
    RequestCancelled,
    RequestError,
    RequestTimeout,
    SchemaValidationError,
    ServerStartError,
    SessionClosedError,
    StartupError,
    ToolDisabledError,
    TransportError,
    UnknownServerError,
    UnknownToolError,
    URLElicitationRequired,
)
from ._jsonrpc import ErrorCode
from ._sandbox import SandboxState
from ._session import (
    DEFAULT,
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_TIMEOUT,
    LATEST_PROTOCOL_VERSION,
    MODERN_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    CapabilityError,
    ClientSession,
    RequestContext,
    connect,
)
from ._stdio import StdioTransport
from ._tasks import ToolTask
from ._transport import StreamTransport, Transport
from ._types import (
    AudioContent,
    CallToolResult,
    Completion,
    Content,
    EmbeddedResource,
    GetPromptResult,
    ImageContent,
    Implementation,
    InitializeResult,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceResult,
    Resource,
    ResourceContents,
    ResourceLink,
    ResourceTemplate,
    TextContent,
    Tool,
    ToolList,
    ToolResultContent,
    ToolUseContent,
    UnknownContent,
)
from ._version import __version__

__all__ = [
    "DEFAULT",
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "LATEST_PROTOCOL_VERSION",
    "MODERN_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "AudioContent",
    "CallToolResult",
    "CapabilityError",
    "ClientSession",
    "Completion",
    "ConfigError",
    "ConnectionClosed",
    "Content",
    "EmbeddedResource",
    "Endpoint",
    "ErrorCode",
    "GetPromptResult",
    "ImageContent",
    "Implementation",
    "InboundRequest",
    "InitializeResult",
    "JSONRPCError",
    "MCPError",
    "MessageTooLarge",
    "PendingRequest",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ProtocolVersionError",
    "ReadResourceResult",
    "RemoteError",
    "RemoteProtocolError",
    "RequestCancelled",
    "RequestContext",
    "RequestError",
    "RequestTimeout",
    "Resource",
    "ResourceContents",
    "ResourceLink",
    "ResourceTemplate",
    "SandboxState",
    "SchemaValidationError",
    "ServerStartError",
    "SessionClosedError",
    "StartupError",
    "StdioTransport",
    "StreamTransport",
    "TextContent",
    "Tool",
    "ToolDisabledError",
    "ToolList",
    "ToolResultContent",
    "ToolTask",
    "ToolUseContent",
    "Transport",
    "TransportError",
    "URLElicitationRequired",
    "UnknownContent",
    "UnknownServerError",
    "UnknownToolError",
    "__version__",
    "check_elicitation_answer",
    "connect",
]

# A library never configures logging: without a handler of the application's, nothing is printed.
_logging.getLogger("syncmcp").addHandler(_logging.NullHandler())

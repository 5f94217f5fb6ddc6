"""syncmcp: a synchronous, thread-based Model Context Protocol SDK.

Blocking, thread-safe MCP for plain scripts, notebooks and sync codebases: no event loop.

Example:
    >>> import syncmcp
    >>> with syncmcp.connect("python", ["tools/example_server.py"]) as session:   # doctest: +SKIP
    ...     for tool in session.list_tools():
    ...         print(tool.name)
    ...     print(session.call_tool("add", {"a": 2, "b": 3}).text)
"""

from ._config import ServerConfig, load_config
from ._endpoint import Endpoint, InboundRequest, JSONRPCError, PendingRequest
from ._events import (
    ElicitationCancelled,
    ElicitationRequest,
    ListChanged,
    ServerExited,
    StartupComplete,
    StartupFailure,
    StartupUpdate,
    ToolCallBegin,
    ToolCallEnd,
)
from ._exceptions import (
    AuthenticationRequired,
    ConfigError,
    ConnectionClosed,
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
    ServerUnavailableError,
    SessionClosedError,
    StartupError,
    ToolDisabledError,
    TransportError,
    UnknownElicitationError,
    UnknownServerError,
    UnknownToolError,
    URLElicitationRequired,
)
from ._jsonrpc import ErrorCode
from ._managed import RestartPolicy
from ._manager import MCPManager
from ._sandbox import SandboxState
from ._session import (
    DEFAULT,
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_TIMEOUT,
    LATEST_PROTOCOL_VERSION,
    SUPPORTED_PROTOCOL_VERSIONS,
    CapabilityError,
    ClientSession,
    RequestContext,
    connect,
)
from ._status import HealthStatus, Page, ReloadResult, ServerMetrics, ServerState, ServerStatus
from ._stdio import StdioTransport
from ._toolcache import ToolCache
from ._toolnames import ToolFilter, ToolInfo, qualify_tool_names
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
    UnknownContent,
)
from ._version import __version__

__all__ = [
    "DEFAULT",
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "LATEST_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "AudioContent",
    "AuthenticationRequired",
    "CallToolResult",
    "CapabilityError",
    "ClientSession",
    "Completion",
    "ConfigError",
    "ConnectionClosed",
    "Content",
    "ElicitationCancelled",
    "ElicitationRequest",
    "EmbeddedResource",
    "Endpoint",
    "ErrorCode",
    "GetPromptResult",
    "HealthStatus",
    "ImageContent",
    "Implementation",
    "InboundRequest",
    "InitializeResult",
    "JSONRPCError",
    "ListChanged",
    "MCPError",
    "MCPManager",
    "MessageTooLarge",
    "Page",
    "PendingRequest",
    "Prompt",
    "PromptArgument",
    "PromptMessage",
    "ProtocolVersionError",
    "ReadResourceResult",
    "ReloadResult",
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
    "RestartPolicy",
    "SandboxState",
    "SchemaValidationError",
    "ServerConfig",
    "ServerExited",
    "ServerMetrics",
    "ServerStartError",
    "ServerState",
    "ServerStatus",
    "ServerUnavailableError",
    "SessionClosedError",
    "StartupComplete",
    "StartupError",
    "StartupFailure",
    "StartupUpdate",
    "StdioTransport",
    "StreamTransport",
    "TextContent",
    "Tool",
    "ToolCache",
    "ToolCallBegin",
    "ToolCallEnd",
    "ToolDisabledError",
    "ToolFilter",
    "ToolInfo",
    "Transport",
    "TransportError",
    "URLElicitationRequired",
    "UnknownContent",
    "UnknownElicitationError",
    "UnknownServerError",
    "UnknownToolError",
    "__version__",
    "connect",
    "load_config",
    "qualify_tool_names",
]

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
from typing import TYPE_CHECKING, Any, List

from ._client_features import check_elicitation_answer
from ._connect import connect, connect_http
from ._endpoint import Endpoint, InboundRequest, PendingRequest
from ._exceptions import (
    AuthenticationRequired,
    ConfigError,
    ConnectionClosed,
    ForkedProcessError,
    HTTPError,
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
)
from ._stdio import StdioTransport, stop_servers_on_sigterm
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

if TYPE_CHECKING:
    from ._auth import Auth, BearerAuth
    from ._config import ServerConfig, embedded_default_servers, load_config
    from ._credentials import CredentialStore, StoredCredentials
    from ._events import (
        CircuitClosed,
        CircuitOpened,
        ElicitationCancelled,
        ElicitationRequest,
        FallbackUsed,
        ListChanged,
        ServerExited,
        StartupComplete,
        StartupFailure,
        StartupUpdate,
        ToolCallBegin,
        ToolCallEnd,
    )
    from ._http import HttpTransport
    from ._login import Authorizer, HeadlessAuthorizer, LoopbackAuthorizer, OAuthError
    from ._managed import RestartPolicy
    from ._manager import MCPManager
    from ._oauth import OAuth
    from ._status import HealthStatus, Page, ReloadResult, ServerMetrics, ServerState, ServerStatus
    from ._toolcache import ToolCache
    from ._toolnames import ToolFilter, ToolInfo, ToolMap, qualify_tool_names

# The many-servers layer loads on first use (PEP 562): ``import syncmcp`` stays as light as the
# single-session client, whose users do not pay for the manager's modules.
_LAZY = {
    "Auth": "_auth",
    "BearerAuth": "_auth",
    "CredentialStore": "_credentials",
    "StoredCredentials": "_credentials",
    "Authorizer": "_login",
    "OAuthError": "_login",
    "HttpTransport": "_http",
    "HeadlessAuthorizer": "_login",
    "LoopbackAuthorizer": "_login",
    "OAuth": "_oauth",
    "ServerConfig": "_config",
    "embedded_default_servers": "_config",
    "load_config": "_config",
    "CircuitClosed": "_events",
    "CircuitOpened": "_events",
    "FallbackUsed": "_events",
    "ElicitationCancelled": "_events",
    "ElicitationRequest": "_events",
    "ListChanged": "_events",
    "ServerExited": "_events",
    "StartupComplete": "_events",
    "StartupFailure": "_events",
    "StartupUpdate": "_events",
    "ToolCallBegin": "_events",
    "ToolCallEnd": "_events",
    "RestartPolicy": "_managed",
    "MCPManager": "_manager",
    "HealthStatus": "_status",
    "Page": "_status",
    "ReloadResult": "_status",
    "ServerMetrics": "_status",
    "ServerState": "_status",
    "ServerStatus": "_status",
    "ToolCache": "_toolcache",
    "ToolFilter": "_toolnames",
    "ToolInfo": "_toolnames",
    "ToolMap": "_toolnames",
    "qualify_tool_names": "_toolnames",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'syncmcp' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"syncmcp.{module}"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DEFAULT",
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "LATEST_PROTOCOL_VERSION",
    "MODERN_PROTOCOL_VERSION",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "AudioContent",
    "Auth",
    "AuthenticationRequired",
    "Authorizer",
    "BearerAuth",
    "CallToolResult",
    "CapabilityError",
    "CircuitClosed",
    "CircuitOpened",
    "ClientSession",
    "Completion",
    "ConfigError",
    "ConnectionClosed",
    "Content",
    "CredentialStore",
    "ElicitationCancelled",
    "ElicitationRequest",
    "EmbeddedResource",
    "Endpoint",
    "ErrorCode",
    "FallbackUsed",
    "ForkedProcessError",
    "GetPromptResult",
    "HTTPError",
    "HeadlessAuthorizer",
    "HealthStatus",
    "HttpTransport",
    "ImageContent",
    "Implementation",
    "InboundRequest",
    "InitializeResult",
    "JSONRPCError",
    "ListChanged",
    "LoopbackAuthorizer",
    "MCPError",
    "MCPManager",
    "MessageTooLarge",
    "OAuth",
    "OAuthError",
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
    "StoredCredentials",
    "StreamTransport",
    "TextContent",
    "Tool",
    "ToolCache",
    "ToolCallBegin",
    "ToolCallEnd",
    "ToolDisabledError",
    "ToolFilter",
    "ToolInfo",
    "ToolList",
    "ToolMap",
    "ToolResultContent",
    "ToolTask",
    "ToolUseContent",
    "Transport",
    "TransportError",
    "URLElicitationRequired",
    "UnknownContent",
    "UnknownElicitationError",
    "UnknownServerError",
    "UnknownToolError",
    "__version__",
    "check_elicitation_answer",
    "connect",
    "connect_http",
    "embedded_default_servers",
    "load_config",
    "qualify_tool_names",
    "stop_servers_on_sigterm",
]

# A library never configures logging: without a handler of the application's, nothing is printed.
_logging.getLogger("syncmcp").addHandler(_logging.NullHandler())

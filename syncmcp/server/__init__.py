"""syncmcp.server: write MCP servers as plain functions, served by threads (no event loop).

Decorate functions to register tools, resources, resource templates and prompts; their type
hints and docstrings become the schemas and descriptions. Each request runs on a thread pool,
so a slow tool never blocks ``ping``, cancellation or other calls. Both protocol eras are
served: the ``initialize`` handshake (2024-11-05 … 2025-11-25) and the stateless 2026-07-28
revision (``server/discover``).

Example::

    from syncmcp.server import Context, Server

    server = Server("demo", version="1.0")

    @server.tool()
    def count(n: int, ctx: Context) -> str:
        '''Count to n, reporting progress; its hints and docstring make the schema.'''
        for i in range(n):
            ctx.report_progress(i + 1, n)
        return f"counted to {n}"

    if __name__ == "__main__":
        server.run_stdio()                  # or server.run_http(port=8000): http://127.0.0.1:8000/mcp

Over HTTP, ``server.wsgi_app()`` is a WSGI application for gunicorn, waitress or ``mod_wsgi``,
alone or beside a Flask or Django application.

The built-in workspace server (``syncmcp serve``) lives in :mod:`syncmcp.server.workspace`.
"""

from .._endpoint import JSONRPCError
from ._connection import LATEST_PROTOCOL_VERSION, MODERN_PROTOCOL_VERSIONS, SUPPORTED_PROTOCOL_VERSIONS, ServerConnection
from ._content import Audio, ElicitResult, EmbeddedResource, Image, ResourceLink, SamplingResult, ToolResult
from ._context import LOG_LEVELS, Context
from ._errors import ClientCapabilityError, InvalidToken, ResourceNotFound, ToolError
from ._io import ServerStreamTransport
from ._server import Server
from ._uritemplate import URITemplate
from ._wsgi import MCPApplication

__all__ = [
    "LATEST_PROTOCOL_VERSION",
    "LOG_LEVELS",
    "MODERN_PROTOCOL_VERSIONS",
    "SUPPORTED_PROTOCOL_VERSIONS",
    "Audio",
    "ClientCapabilityError",
    "Context",
    "ElicitResult",
    "EmbeddedResource",
    "Image",
    "InvalidToken",
    "JSONRPCError",
    "MCPApplication",
    "ResourceLink",
    "ResourceNotFound",
    "SamplingResult",
    "Server",
    "ServerConnection",
    "ServerStreamTransport",
    "ToolError",
    "ToolResult",
    "URITemplate",
]

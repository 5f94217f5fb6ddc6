"""A FastMCP-style server written with the official ``mcp`` package (run with the peers' Python).

Used as a real third-party peer: its framework code is not ours. Works with ``mcp`` 2.x
(``MCPServer``) and falls back to the 1.x name (``FastMCP``).
"""

from __future__ import annotations

try:
    from mcp.server.mcpserver import Context, MCPServer
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context  # type: ignore[no-redef]
    from mcp.server.fastmcp import FastMCP as MCPServer

server = MCPServer("fixture", instructions="A fixture server for syncmcp's tests.")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
async def slow(steps: int, ctx: Context) -> str:
    """Report progress ``steps`` times, then answer."""
    for i in range(steps):
        await ctx.report_progress(i + 1, steps)
    return "done"


@server.tool()
def boom() -> str:
    """Always fails."""
    raise RuntimeError("kaboom")


@server.resource("fixture://hello")
def hello() -> str:
    """A static text resource."""
    return "hello"


@server.prompt()
def greet(name: str) -> str:
    """A prompt with one argument."""
    return f"Say hello to {name}."


if __name__ == "__main__":
    server.run()

"""A FastMCP-style server written with the official ``mcp`` 2.x package (run with the peers' Python).

Used as a real third-party peer: its framework code is not ours, and it speaks both protocol
eras (it answers ``server/discover``). The ``greet_person``, ``summarize`` and ``count_roots``
tools need input from the client (elicitation, sampling, roots): the SDK asks with standalone
server→client requests on a legacy connection and with ``InputRequiredResult`` rounds on a
2026-07-28 one.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, Elicit, ListRoots, MCPServer, Resolve, Sample
from mcp_types import CreateMessageResult, ListRootsResult, SamplingMessage, TextContent
from pydantic import BaseModel

server = MCPServer("fixture", instructions="A fixture server for syncmcp's tests.")


class Person(BaseModel):
    """The form ``greet_person`` asks the user to fill."""

    name: str
    age: int = 30


def ask_person() -> Elicit[Person]:
    return Elicit("Who are you?", Person)


def ask_model() -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text="Say something"))], max_tokens=20)


def ask_roots() -> ListRoots:
    return ListRoots()


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


@server.tool()
def greet_person(person: Annotated[Person, Resolve(ask_person)]) -> str:
    """Greet whoever the user says they are (elicitation)."""
    return f"Hello {person.name} ({person.age})"


@server.tool()
def summarize(reply: Annotated[CreateMessageResult, Resolve(ask_model)]) -> str:
    """Repeat what the client's model said (sampling)."""
    return f"model {reply.model} said: {getattr(reply.content, 'text', reply.content)}"


@server.tool()
def count_roots(roots: Annotated[ListRootsResult, Resolve(ask_roots)]) -> str:
    """List the client's roots (roots/list)."""
    return " ".join(str(root.uri) for root in roots.roots)


@server.tool()
async def touch(uri: str, ctx: Context) -> str:
    """Report that a resource changed, to 2026-07-28 listeners and to legacy subscribers."""
    await ctx.notify_resource_updated(uri)
    if ctx.protocol_version != "2026-07-28":
        await ctx.session.send_resource_updated(uri)
    return f"touched {uri}"


@server.resource("fixture://hello")
def hello() -> str:
    """A static text resource."""
    return "hello"


@server.prompt()
def greet(name: str) -> str:
    """A prompt with one argument."""
    return f"Say hello to {name}."


def main(argv: list) -> None:
    """``fixture_server.py`` serves stdio; ``http PORT [--json] [--stateless]`` or ``sse PORT`` serve HTTP."""
    if not argv or argv[0] == "stdio":
        server.run()
    elif argv[0] == "http":
        server.run(
            "streamable-http",
            port=int(argv[1]),
            json_response="--json" in argv,
            stateless_http="--stateless" in argv,
        )
    elif argv[0] == "sse":
        server.run("sse", port=int(argv[1]))
    else:
        raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

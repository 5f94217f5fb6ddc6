"""A server built with syncmcp.server, run as a stdio process by the tests (syncmcp's own Python).

Every feature of the framework is reachable from a tool, so real clients (the official ``mcp``
SDK, syncmcp's ClientSession) can drive all of it over a real pipe. ``--page-size N`` sets the
list page size (the tests use a small one to force pagination).

``--http PORT`` serves Streamable HTTP at ``http://127.0.0.1:PORT/mcp`` instead (``Server.run_http``,
until SIGTERM; port 0 picks a free one) and prints the bound port as the first line of stdout;
``--stateless``, ``--sse`` and ``--keepalive SECONDS`` set the WSGI application's options.
``GET /status`` beside the endpoint answers ``{"connections": N}`` (open legacy sessions).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Optional

from syncmcp.server import Context, Image, ResourceNotFound, Server, ToolError


@dataclass
class Weather:
    """Weather at a place.

    Attributes:
        city: where.
        temperature: degrees Celsius.
        conditions: a short description.
    """

    city: str
    temperature: float
    conditions: str


def build(page_size: int) -> Server:
    server = Server("framework-fixture", "2.0.0", instructions="A fixture built with syncmcp.server.", page_size=page_size)
    cancelled: List[Any] = []
    items = {"apple": "red fruit", "apricot": "orange fruit", "banana": "yellow fruit"}

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers.

        Args:
            a: the first addend.
            b: the second addend.
        """
        return a + b

    @server.tool(annotations={"readOnlyHint": True})
    def weather(city: Literal["Paris", "Oslo"]) -> Weather:
        """The weather in a city (structured output)."""
        return Weather(city, 21.5 if city == "Paris" else -3.0, "sunny" if city == "Paris" else "snow")

    @server.tool()
    def slow(steps: int, ctx: Context) -> str:
        """Report progress `steps` times, logging each step."""
        for step in range(1, steps + 1):
            ctx.report_progress(step, steps, f"step {step}")
            ctx.log("info", f"step {step} of {steps}")
        return f"done after {steps} steps"

    @server.tool()
    def wait_for_cancel(ctx: Context, seconds: float = 30.0) -> str:
        """Park until the client cancels this call (or `seconds` pass); record the cancellation."""
        ctx.report_progress(0.5, 1.0, "parked")
        if ctx.cancelled.wait(seconds):
            cancelled.append(ctx.request_id)
            return "cancelled"
        return "not cancelled"

    @server.tool()
    def cancellations() -> List[Any]:
        """The request ids of calls that saw their cancellation."""
        return list(cancelled)

    @server.tool()
    def ask_name(ctx: Context) -> str:
        """Ask the user's name (elicitation), then greet."""
        answer = ctx.elicit(
            "What is your name?",
            {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        )
        if not answer.accepted or answer.content is None:
            return f"no name ({answer.action})"
        return f"Hello, {answer.content['name']}!"

    @server.tool()
    def summarize(text: str, ctx: Context) -> str:
        """Ask the client's model for a summary (sampling)."""
        result = ctx.sample(f"Summarize: {text}", max_tokens=50)
        return f"{result.model}: {result.text}"

    @server.tool()
    def client_roots(ctx: Context) -> List[str]:
        """The client's roots (roots/list)."""
        return [root["uri"] for root in ctx.list_roots()]

    @server.tool()
    def boom() -> str:
        """Always fails."""
        raise ToolError("kaboom")

    @server.tool()
    def noisy(text: str) -> str:
        """Write to sys.stdout, to fd 1 directly and from a child process; none of it may reach the protocol stream."""
        print(f"print: {text}")
        sys.stdout.flush()
        os.write(1, f"fd1: {text}\n".encode())
        import subprocess

        subprocess.run([sys.executable, "-c", f"print('child: {text}')"], check=True)
        return f"echo: {text}"

    @server.tool()
    def pixel() -> List[Any]:
        """A text block and an image block."""
        return ["one red pixel", Image(bytes.fromhex("47494638396101000100"), "image/gif")]

    @server.tool()
    def add_tool(name: str) -> str:
        """Register a new tool at run time (clients get tools/list_changed)."""
        server.add_tool(lambda: f"I am {name}", name=name, description=f"added at run time: {name}")
        return f"added {name}"

    @server.tool()
    def touch(item_id: str) -> str:
        """Change an item: subscribers of its resource get resources/updated."""
        items[item_id] = items.get(item_id, "") + "!"
        server.notify_resource_updated(f"fixture://items/{item_id}")
        return f"touched {item_id}"

    @server.resource("fixture://hello", mime_type="text/plain")
    def hello() -> str:
        """A static text resource."""
        return "hello"

    @server.resource_template(
        "fixture://items/{item_id}",
        mime_type="text/plain",
        completions={"item_id": lambda value: [name for name in items if name.startswith(value)]},
        list_resources=lambda: ({"uri": f"fixture://items/{name}", "name": name} for name in sorted(items)),
    )
    def item(item_id: str) -> str:
        """One item, by id."""
        if item_id not in items:
            raise ResourceNotFound(f"fixture://items/{item_id}")
        return items[item_id]

    @server.prompt(completions={"name": ["Ada", "Alan", "Grace"]})
    def greet(name: str, style: Literal["formal", "casual"] = "casual") -> str:
        """Greet someone.

        Args:
            name: who to greet.
            style: how.
        """
        return f"Say hello to {name}." if style == "casual" else f"Address a formal greeting to {name}."

    @server.prompt()
    def conversation(topic: str, turns: int = 2) -> List[Any]:
        """A short conversation about a topic."""
        messages: List[Any] = [f"Let us talk about {topic}."]
        for turn in range(turns):
            messages.append(("assistant", f"Point {turn + 1} about {topic}."))
        return messages

    @server.request_handler("fixture/threads")
    def thread_names(ctx: Context, params: Dict[str, Any]) -> Dict[str, Any]:
        return {"threads": sorted(t.name for t in threading.enumerate())}

    return server


def status_app(server: Server) -> Any:
    """A WSGI application beside the MCP endpoint: ``GET /status`` tells how many connections
    (legacy HTTP sessions) the server has open, so tests can see a session end."""

    def app(environ: Dict[str, Any], start_response: Any) -> List[bytes]:
        if environ.get("PATH_INFO") != "/status":
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return []
        body = json.dumps({"connections": len(server.connections)}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--http", type=int, metavar="PORT", default=None, help="serve Streamable HTTP (0: a free port)")
    parser.add_argument("--stateless", action="store_true", help="with --http: legacy clients get no sessions")
    parser.add_argument("--sse", action="store_true", help="with --http: answer with SSE streams, never plain JSON")
    parser.add_argument("--keepalive", type=float, default=15.0, help="with --http: seconds between SSE keep-alives")
    options = parser.parse_args(argv)
    server = build(options.page_size)
    if options.http is None:
        server.run_stdio()
        return

    def ready(host: str, port: int) -> None:
        print(port, flush=True)  # the first line of stdout: the bound port

    server.run_http(
        port=options.http,
        on_ready=ready,
        stateless=options.stateless,
        json_response=not options.sse,
        keepalive_interval=options.keepalive,
        fallback=status_app(server),
    )


if __name__ == "__main__":
    main()

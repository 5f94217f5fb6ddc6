"""Several MCP servers behind one blocking API: start them in parallel, call tools by qualified name.

Uses only what ships with syncmcp (its own workspace server and the bundled example server), so
it runs offline. Run: ``python examples/multi_server.py``.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import syncmcp

EXAMPLE_SERVER = Path(__file__).resolve().parent.parent / "tools" / "example_server.py"


def main() -> None:
    servers = {
        "workspace": syncmcp.ServerConfig(command=sys.executable, args=("-m", "syncmcp", "serve")),
        "math": syncmcp.ServerConfig(command=sys.executable, args=(str(EXAMPLE_SERVER),)),
        "broken": syncmcp.ServerConfig(command="no-such-mcp-server"),  # fails alone; the others work
    }

    printing = threading.Lock()

    def say(*parts: object) -> None:  # on_event runs on the manager's event thread: one line at a time
        with printing:
            print(*parts)

    def show(event: object) -> None:  # start-up progress; tool-call events are left out here
        if type(event).__name__.startswith("Startup"):
            say("event:", event)

    with syncmcp.MCPManager(servers, on_event=show) as manager:  # returns at once; servers start in parallel
        manager.wait_for_startup(timeout=30)
        for name, status in manager.startup_status().items():
            say(f"{name}: {status.state.value}" + (f" ({status.error.splitlines()[0]})" if status.error else ""))
        tools = manager.list_all_tools()
        say("tools:", ", ".join(tools))

        results = {}

        def call(name: str, arguments: dict) -> None:
            results[name] = manager.call_tool(name, arguments).text

        calls = [("math__add", {"a": 2, "b": 40}), ("workspace__list_directory", {"path": "."})]
        threads = [threading.Thread(target=call, args=item) for item in calls]  # concurrent calls
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        say("math__add ->", results["math__add"])
        say("workspace__list_directory ->", results["workspace__list_directory"].splitlines()[:3])


if __name__ == "__main__":
    main()

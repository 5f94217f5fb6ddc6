#!/usr/bin/env python3
"""The main job: list every tool of every configured MCP server and call one.

With no configuration file (a fresh install), the one server is syncmcp's built-in workspace
server, so this works with nothing else installed.
"""

from __future__ import annotations

import sys
import textwrap

import syncmcp


def main() -> int:
    with syncmcp.MCPManager.from_config() as manager:
        manager.wait_for_startup(timeout=30)
        for name, status in manager.startup_status().items():
            print(f"{name}: {status.state.value}" + (f" - {status.error}" if status.error else ""))
        tools = manager.list_all_tools()
        for name, info in tools.items():
            print(f"  {name:32} {textwrap.shorten(info.description or '', 70)}")
        if "workspace__list_directory" in tools:
            result = manager.call_tool("workspace__list_directory", {"path": "."})
            print("workspace__list_directory ->")
            print(result.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

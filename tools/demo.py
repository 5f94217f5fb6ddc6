#!/usr/bin/env python3
"""The main job before the built-in server exists: start the bundled example server, list its
tools and call one, with nothing but syncmcp installed."""

from __future__ import annotations

import sys
from pathlib import Path

import syncmcp

SERVER = Path(__file__).resolve().parent / "example_server.py"


def main() -> int:
    with syncmcp.connect(sys.executable, [str(SERVER)], name="example") as session:
        info = session.server_info
        print(f"connected to {info.name} {info.version} (protocol {session.protocol_version})")
        for tool in session.list_tools():
            print(f"  {tool.name:8} {tool.description}")
        result = session.call_tool("add", {"a": 2, "b": 40})
        print(f"add(2, 40) -> {result.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A minimal MCP server in the standard library only: the demo's peer and the benchmarks' floor.

One thread, one line in, one line out. Tools: ``echo {text}``, ``add {a, b}``, ``blob {size}``
(a text result of ``size`` bytes). ``--tools N`` adds N generated tools to ``tools/list``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tools", type=int, default=0, help="extra generated tools in tools/list")
    parser.add_argument("--init-delay", type=float, default=0.0, help="seconds to wait before answering initialize")
    options = parser.parse_args()
    tools = [
        {"name": "echo", "description": "Return the text unchanged.",
         "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
        {"name": "add", "description": "Add two numbers.",
         "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                         "required": ["a", "b"]}},
        {"name": "blob", "description": "Return a text of `size` bytes.",
         "inputSchema": {"type": "object", "properties": {"size": {"type": "integer"}}, "required": ["size"]}},
    ]
    for index in range(options.tools):
        tools.append({"name": f"generated_{index:04d}", "description": f"Generated tool number {index}.",
                      "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}}})
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    for line in stdin:
        message = json.loads(line)
        request_id = message.get("id")
        if request_id is None:
            continue  # notifications need no answer
        method = message.get("method")
        params = message.get("params") or {}
        if method == "initialize":
            if options.init_delay:
                time.sleep(options.init_delay)  # a slow server: a network lookup, a package download
            result = {"protocolVersion": params.get("protocolVersion", "2025-11-25"),
                      "capabilities": {"tools": {}},
                      "serverInfo": {"name": "example", "version": "1.0"}}
        elif method == "tools/list":
            result = {"tools": tools}
        elif method == "tools/call":
            args = params.get("arguments") or {}
            name = params.get("name")
            if name == "echo":
                text = str(args.get("text", ""))
            elif name == "add":
                text = str(args["a"] + args["b"])
            elif name == "blob":
                text = "x" * int(args["size"])
            else:
                text = f"unknown tool {name}"
            result = {"content": [{"type": "text", "text": text}], "isError": name not in ("echo", "add", "blob")}
        elif method == "ping":
            result = {}
        else:
            stdout.write(dumps({"jsonrpc": "2.0", "id": request_id,
                                "error": {"code": -32601, "message": f"Method not found: {method}"}}).encode() + b"\n")
            stdout.flush()
            continue
        stdout.write(dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode() + b"\n")
        stdout.flush()


if __name__ == "__main__":
    main()

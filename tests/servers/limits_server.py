"""A stdlib MCP server (legacy era) whose tools run into resource limits, for tests/test_limits.py.

Run with ``sys.executable -u tests/servers/limits_server.py``. Requests are handled one at a time
on the main thread; a tool that exceeds a limit is not guarded, so the server dies the way a
real one would: ``burn`` by SIGXCPU, ``allocate`` with an uncaught ``MemoryError``,
``open_files`` with an uncaught ``OSError`` (EMFILE).
"""

from __future__ import annotations

import json
import os
import resource
import sys

NAMES = ("pid", "echo", "burn", "allocate", "open_files", "limits")


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def call(name: str, arguments: dict) -> str:
    if name == "pid":
        return str(os.getpid())
    if name == "echo":
        return str(arguments.get("text", ""))
    if name == "burn":
        while True:
            pass
    if name == "allocate":
        blocks = [bytearray(1024 * 1024) for _ in range(int(arguments["mb"]))]
        return f"allocated {len(blocks)} MiB"
    if name == "open_files":
        handles = [open(os.devnull, "rb") for _ in range(int(arguments["count"]))]  # noqa: SIM115
        return f"opened {len(handles)}"
    if name == "limits":
        names = ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE")
        return json.dumps({limit: list(resource.getrlimit(getattr(resource, limit))) for limit in names})
    raise ValueError(name)


def main() -> None:
    for line in sys.stdin:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            continue
        if method == "initialize":
            result: dict = {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "limits", "version": "1"},
            }
        elif method == "tools/list":
            result = {"tools": [{"name": name, "inputSchema": {"type": "object"}} for name in NAMES]}
        elif method == "tools/call":
            text = call(message["params"]["name"], message["params"].get("arguments") or {})
            result = {"content": [{"type": "text", "text": text}]}
        elif method == "ping":
            result = {}
        else:
            send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": f"no {method}"}})
            continue
        send({"jsonrpc": "2.0", "id": request_id, "result": result})


if __name__ == "__main__":
    main()

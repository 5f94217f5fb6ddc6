"""A plain script blocked in a call when Ctrl-C arrives; run by tests/test_interrupts.py.

``python interrupt_driver.py session|manager SERVER_ARGV_JSON``: prints the server's pid, then
``calling``, then blocks in a 30-second tool call until the test sends SIGINT. The script never
catches ``KeyboardInterrupt`` and never closes anything: the interpreter's exit must.
"""

import json
import sys

import syncmcp

kind, server = sys.argv[1], json.loads(sys.argv[2])
if kind == "session":
    session = syncmcp.connect(server[0], server[1:], name="slow")
    print(session._transport.pid, flush=True)  # type: ignore[attr-defined]
    print("calling", flush=True)
    session.call_tool("sleep", {"seconds": 30}, timeout=60)
else:
    manager = syncmcp.MCPManager({"slow": {"command": server[0], "args": server[1:]}})
    manager.wait_for_server_ready("slow", 30)
    print(manager.metrics()["slow"].pid, flush=True)
    print("calling", flush=True)
    manager.call_tool("slow__sleep", {"seconds": 30}, timeout=60)

"""syncmcp's core flows with gevent's monkey-patching applied; run by tests/test_gevent.py.

``python gevent_driver.py SCRIPTED_ARGV_JSON REAL_ARGV_JSON`` prints one JSON object (the
findings) as its last line, then leaves a manager unclosed on purpose: the interpreter's exit
must still reap its server.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402 - after patching, as gevent requires
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any, Dict, List  # noqa: E402

import gevent  # noqa: E402
from _serving import workspace_over_http  # noqa: E402 - this folder: the drivers run as scripts

import syncmcp  # noqa: E402


def stdio_session(server: List[str]) -> Dict[str, Any]:
    found: Dict[str, Any] = {}
    with syncmcp.connect(server[0], server[1:], name="scripted") as session:
        found["echo"] = session.call_tool("echo", {"text": "hi"}).text
        jobs = [gevent.spawn(session.call_tool, "echo", {"text": f"g{number}"}) for number in range(20)]
        gevent.joinall(jobs, timeout=20)
        found["greenlets_right"] = sum(job.value is not None and job.value.text == f"g{n}" for n, job in enumerate(jobs))
        steps: List[float] = []
        session.call_tool("progress", {"steps": 3}, on_progress=lambda progress, total, message: steps.append(progress))
        found["progress"] = steps
        started = time.monotonic()
        try:
            session.call_tool("sleep", {"seconds": 5}, timeout=0.3)
        except syncmcp.RequestTimeout:
            found["timeout_seconds"] = round(time.monotonic() - started, 2)
        found["ping_after_timeout"] = session.ping() is None
    with syncmcp.connect(server[0], server[1:], name="crashing") as session:
        try:
            session.call_tool("crash", {})
        except syncmcp.ConnectionClosed as exc:
            found["crash"] = str(exc)
    return found


def manager(real: List[str]) -> Dict[str, Any]:
    with syncmcp.MCPManager({"a": {"command": real[0], "args": real[1:]}, "b": {"command": real[0], "args": real[1:]}}) as m:
        tools = m.list_all_tools()
        jobs = [gevent.spawn(m.call_tool, f"{'ab'[n % 2]}__echo", {"message": f"m{n}"}) for n in range(20)]
        gevent.joinall(jobs, timeout=30)
        return {
            "tools": "a__echo" in tools and "b__echo" in tools,
            "manager_right": sum(job.value is not None and job.value.text.endswith(f"m{n}") for n, job in enumerate(jobs)),
        }


def http() -> Dict[str, Any]:
    with workspace_over_http() as url, syncmcp.connect(url) as session:
        names = [tool.name for tool in session.list_tools()]
        jobs = [gevent.spawn(session.list_tools) for _ in range(10)]
        gevent.joinall(jobs, timeout=20)
        return {
            "http_tools": "read_file" in names,
            "http_greenlets_right": sum(len(job.value or []) == len(names) for job in jobs),
        }


if __name__ == "__main__":
    scripted, real = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    found = {"patched": monkey.is_module_patched("threading") and monkey.is_module_patched("subprocess")}
    found.update(stdio_session(scripted))
    found.update(manager(real))
    found.update(http())
    left_open = syncmcp.MCPManager({"left": {"command": scripted[0], "args": scripted[1:]}})
    left_open.wait_for_server_ready("left", 30)
    found["unclosed_pid"] = left_open.metrics()["left"].pid
    print(json.dumps(found), flush=True)

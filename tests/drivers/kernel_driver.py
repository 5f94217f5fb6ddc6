"""Drive Jupyter kernels for tests/test_examples.py, in a process of its own.

jupyter_client leaves sockets and event loops for the garbage collector; running it here keeps
those out of the test process. Prints one JSON document with what it observed.

    kernel_driver.py notebook NOTEBOOK WORKDIR
    kernel_driver.py stop-button SCRIPTED_SERVER MARKER
    kernel_driver.py shutdown SCRIPTED_SERVER
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, Dict, List


def outputs_of(cell: Any) -> str:
    parts: List[str] = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append(output["text"])
        for key in ("text/html", "text/plain", "text/markdown"):
            if key in output.get("data", {}):
                parts.append(output["data"][key])
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "\n".join(parts)


def run_notebook(path: str, workdir: str) -> Dict[str, Any]:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": workdir}}).execute()
    return {"outputs": [outputs_of(cell) for cell in notebook.cells if cell.cell_type == "code"]}


def execute(client: Any, code: str, timeout: float = 60) -> Dict[str, Any]:
    msg_id = client.execute(code)
    out: Dict[str, Any] = {"stdout": "", "error": None}
    while True:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind = message["msg_type"]
        if kind == "stream":
            out["stdout"] += message["content"]["text"]
        elif kind == "error":
            out["error"] = message["content"]["ename"]
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            return out


def wait_for(path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def stop_button(server: str, marker: str) -> Dict[str, Any]:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        setup = execute(client, f"import sys, syncmcp\nsession = syncmcp.connect(sys.executable, ['-u', {server!r}])")
        presser = threading.Thread(target=lambda: wait_for(marker, 30) and manager.interrupt_kernel())
        presser.start()
        interrupted = execute(client, f"session.call_tool('park', {{'seconds': 60, 'marker': {marker!r}}}, timeout=120)")
        presser.join(40)
        cancelled = execute(client, "print(session.call_tool('cancelled_ids').text)")
        usable = execute(client, "print(session.call_tool('echo', {'text': 'still usable'}).text)\nsession.close()")
        return {
            "setup": setup,
            "interrupted": interrupted["error"],
            "cancelled": json.loads(cancelled["stdout"]),
            "usable": usable["stdout"].strip(),
        }
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def shutdown(server: str) -> Dict[str, Any]:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    code = (
        f"import sys, syncmcp\n"
        f"cmd = [sys.executable, '-u', {server!r}, '--ignore-eof']\n"
        f"m = syncmcp.MCPManager({{'a': syncmcp.ServerConfig(command=cmd[0], args=tuple(cmd[1:]))}})\n"
        f"s = syncmcp.connect(cmd[0], cmd[1:])\n"
        f"m.wait_for_startup(30)\n"
        f"print(m.metrics()['a'].pid, s.transport.pid)"
    )
    out = execute(client, code)
    client.stop_channels()
    manager.shutdown_kernel(now=False)  # a normal shutdown, as Jupyter does it: the manager is left open
    return {"pids": [int(pid) for pid in out["stdout"].split()], "error": out["error"]}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    handlers = {"notebook": run_notebook, "stop-button": stop_button, "shutdown": shutdown}
    print(json.dumps(handlers[command](*args)))

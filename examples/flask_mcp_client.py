"""A Flask app whose request threads all share one MCPManager: MCP tools behind a web API.

``GET /tools`` lists every tool (qualified names); ``POST /call/<tool>`` with a JSON object body
calls one and answers ``{"text", "is_error", "structured_content", "pid"}``. The servers come
from ``MCP_SERVER_COMMAND`` (a shell-quoted command line, served under the name
``MCP_SERVER_NAME``, default ``main``), or else from syncmcp's configuration (``SYNCMCP_CONFIG``,
the user's ``config.toml``, or the built-in workspace server)::

    pip install flask gunicorn
    export MCP_SERVER_COMMAND='npx -y @modelcontextprotocol/server-everything stdio'
    gunicorn -w 2 -k gthread --threads 8 --preload -b 127.0.0.1:8000 'examples.flask_mcp_client:app'
    curl http://127.0.0.1:8000/tools
    curl -X POST -H 'Content-Type: application/json' -d '{"message": "hi"}' http://127.0.0.1:8000/call/main__echo

    waitress-serve --listen=127.0.0.1:8000 --threads=16 examples.flask_mcp_client:app   # or one process

How it fits a WSGI server:

* **One manager per process, made on first use.** :func:`get_manager` creates it under a lock
  (double-checked, so request threads never wait for each other once it exists); every request
  thread then shares it: ``MCPManager`` is thread-safe and multiplexes calls over each server.
* **Forking servers.** ``after_fork="reconnect"``: a manager that existed when the process forked
  (gunicorn ``--preload`` with ``MCP_WARM_UP=1``, which starts the servers in the master so a
  broken configuration stops gunicorn before any worker forks) gives each worker servers of its
  own on first use, never the master's pipes. With the default, ``after_fork="error"``, a worker
  would get :class:`syncmcp.ForkedProcessError` instead.
* **Shutdown.** The manager is closed at interpreter exit (``atexit``), which is how gunicorn
  workers and master end on SIGTERM. Where nobody handles SIGTERM (waitress, ``python
  examples/flask_mcp_client.py``), :func:`syncmcp.stop_servers_on_sigterm` turns it into a
  normal exit (``SystemExit``; waitress takes it as a graceful shutdown and exits 0), so the
  servers are stopped too instead of being orphaned.
"""

from __future__ import annotations

import atexit
import os
import shlex
import threading
from typing import Any, Dict, Optional, Tuple

from flask import Flask, jsonify, request

import syncmcp

_manager: Optional[syncmcp.MCPManager] = None
_manager_lock = threading.Lock()


def _new_manager() -> syncmcp.MCPManager:
    """The manager for the configured servers (see the module docs)."""
    command = os.environ.get("MCP_SERVER_COMMAND")
    if not command:
        return syncmcp.MCPManager.from_config(after_fork="reconnect")
    program, *args = shlex.split(command)
    name = os.environ.get("MCP_SERVER_NAME", "main")
    return syncmcp.MCPManager({name: syncmcp.ServerConfig(command=program, args=tuple(args))}, after_fork="reconnect")


def get_manager() -> syncmcp.MCPManager:
    """This process's manager, made on first use; safe to call from any number of threads."""
    global _manager
    manager = _manager
    if manager is None:
        with _manager_lock:
            if _manager is None:
                _manager = _new_manager()
                atexit.register(close_manager)
            manager = _manager
    return manager


def close_manager() -> None:
    """Stop this process's servers (idempotent; in a forked worker, only the worker's own)."""
    global _manager
    with _manager_lock:
        manager, _manager = _manager, None
    if manager is not None:
        manager.close()


# SIGTERM becomes a normal exit (SystemExit) where nobody else handles it (waitress, a script),
# so the exit handlers run; gunicorn installs its own handlers, in master and workers, after
# importing this, and keeps them.
syncmcp.stop_servers_on_sigterm()


def warm_up() -> None:
    """Start the servers now and fail if one does not start (under gunicorn ``--preload``: in the
    master, so a broken configuration stops gunicorn before it forks any worker)."""
    manager = get_manager()
    if not manager.wait_for_startup(timeout=60) or any(status.error for status in manager.startup_status().values()):
        raise RuntimeError(f"MCP servers failed to start: {manager.startup_status()}")


if os.environ.get("MCP_WARM_UP") == "1":
    warm_up()


# ----------------------------------------------------------------------------- the Flask application

app = Flask(__name__)


@app.get("/tools")
def tools() -> Dict[str, Any]:
    """Every tool of every server, by qualified name, with its description."""
    return {"tools": {name: info.description for name, info in get_manager().list_all_tools().items()}, "pid": os.getpid()}


@app.post("/call/<tool>")
def call(tool: str) -> Tuple[Any, int]:
    """Call ``tool`` with the request's JSON object as its arguments."""
    arguments = request.get_json(silent=True)
    if not isinstance(arguments, dict):
        return jsonify(error="the body must be a JSON object of arguments"), 400
    try:
        result = get_manager().call_tool(tool, arguments, timeout=30)
    except LookupError as exc:  # UnknownToolError (with a did-you-mean), ToolDisabledError
        return jsonify(error=str(exc)), 404
    except syncmcp.MCPError as exc:  # the server is down, timed out, ...
        return jsonify(error=f"{type(exc).__name__}: {exc}"), 502
    body = {"text": result.text, "is_error": result.is_error, "structured_content": result.structured_content}
    return jsonify(**body, pid=os.getpid()), 200


if __name__ == "__main__":
    app.run("127.0.0.1", 8000, threaded=True)

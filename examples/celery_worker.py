"""MCP tools in Celery tasks: one MCPManager per worker process, made after the fork, closed at exit.

A prefork worker forks its pool processes from the main worker process. Each pool process makes
its own manager on its first task (:func:`get_manager`), so the main process starts no MCP
server and no pool process shares a connection with another; ``worker_process_shutdown`` (sent
in each pool process as it exits: warm shutdown on SIGTERM, ``--max-tasks-per-child``
recycling) closes it, so no server outlives its worker. Stop the worker by signalling its main
process (``kill -TERM <pid>``, ``celery multi stop``): a pool process that gets SIGTERM itself
dies at once, without that signal (a stdio server then only sees its input close)::

    pip install celery
    export MCP_SERVER_COMMAND='npx -y @modelcontextprotocol/server-everything stdio'
    export CELERY_DATA_DIR=/tmp/celery-mcp      # broker and results in files: no service needed
    celery -A examples.celery_worker worker --pool=prefork -c 2

    python -c 'from examples.celery_worker import call_tool
    print(call_tool.delay("main__echo", {"message": "hi"}).get(timeout=30))'

The broker here is kombu's ``filesystem://`` transport and the result backend ``file://``, both
in ``CELERY_DATA_DIR``, so the example runs on one machine without RabbitMQ or Redis; with a
real broker, set ``CELERY_BROKER_URL`` and ``CELERY_RESULT_BACKEND`` and nothing else changes.
The servers come from ``MCP_SERVER_COMMAND`` (a shell-quoted command line, served under the
name ``MCP_SERVER_NAME``, default ``main``), or else from syncmcp's configuration
(``SYNCMCP_CONFIG``, the user's ``config.toml``, or the built-in workspace server).
"""

from __future__ import annotations

import logging
import os
import shlex
import tempfile
import threading
from pathlib import Path
from typing import Any, Dict, Optional

from celery import Celery
from celery.signals import worker_process_shutdown

import syncmcp

DATA = Path(os.environ.get("CELERY_DATA_DIR") or Path(tempfile.gettempdir()) / "celery-mcp")
for folder in ("queue", "processed", "results"):
    (DATA / folder).mkdir(parents=True, exist_ok=True)

app = Celery("celery_worker")
app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL", "filesystem://"),
    broker_transport_options={
        "data_folder_in": str(DATA / "queue"),
        "data_folder_out": str(DATA / "queue"),
        "processed_folder": str(DATA / "processed"),
    },
    result_backend=os.environ.get("CELERY_RESULT_BACKEND", f"file://{DATA / 'results'}"),
    broker_connection_retry_on_startup=True,
    worker_enable_remote_control=False,  # the file transport has no broadcast for control commands
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
)

log = logging.getLogger(__name__)
_manager: Optional[syncmcp.MCPManager] = None
_manager_lock = threading.Lock()


def get_manager() -> syncmcp.MCPManager:
    """This pool process's manager, made on its first task (after the fork, never before)."""
    global _manager
    with _manager_lock:
        if _manager is None:
            command = os.environ.get("MCP_SERVER_COMMAND")
            if command:
                program, *args = shlex.split(command)
                name = os.environ.get("MCP_SERVER_NAME", "main")
                _manager = syncmcp.MCPManager({name: syncmcp.ServerConfig(command=program, args=tuple(args))})
            else:
                _manager = syncmcp.MCPManager.from_config()
        return _manager


@worker_process_shutdown.connect
def close_manager(**_: Any) -> None:
    """Stop this pool process's servers as it exits."""
    global _manager
    with _manager_lock:
        manager, _manager = _manager, None
    if manager is not None:
        manager.close()
        log.info("closed the MCP servers of process %d", os.getpid())


@app.task(name="mcp.call_tool")
def call_tool(tool: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
    """Call an MCP tool by qualified name; the result as JSON (a tool error is a result, not a failure)."""
    result = get_manager().call_tool(tool, arguments, timeout=30)
    return {"text": result.text, "is_error": result.is_error, "structured_content": result.structured_content, "pid": os.getpid()}

"""syncmcp's workspace server over HTTP in a child process, for the drivers in this folder."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from typing import Iterator


@contextlib.contextmanager
def workspace_over_http() -> Iterator[str]:
    """``syncmcp serve --http`` on a free loopback port; yields its MCP URL once it accepts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "syncmcp", "serve", "--http", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(10)

"""Tell sandbox-aware servers what they may do: the manager's sandbox-state notification.

syncmcp's workspace server (``syncmcp serve``) follows the policy it receives: read-only refuses
writes, workspace-write allows them under the writable roots. Run:
``python examples/sandbox_state.py`` (it works in a temporary folder).
"""

from __future__ import annotations

import os
import sys
import tempfile

import syncmcp


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = syncmcp.ServerConfig(command=sys.executable, args=("-m", "syncmcp", "serve", "--root", folder), cwd=folder)
        with syncmcp.MCPManager({"ws": workspace}) as manager:
            write = {"path": "hello.txt", "content": "hello"}
            print("default policy:", manager.call_tool("ws__write_file", write).text)

            manager.notify_sandbox_state_change(syncmcp.SandboxState("read-only", folder))
            refused = manager.call_tool("ws__write_file", {"path": "again.txt", "content": "x"})
            print("read-only:", "refused" if refused.is_error else "allowed", "-", refused.text.splitlines()[0])

            manager.notify_sandbox_state_change(syncmcp.SandboxState("workspace-write", folder, writable_roots=[folder]))
            print("workspace-write:", manager.call_tool("ws__write_file", {"path": "again.txt", "content": "x"}).text)
            print("files:", sorted(os.listdir(folder)))


if __name__ == "__main__":
    main()

"""The built-in workspace server (``syncmcp serve``): files, patches and commands under a sandbox.

Example:
    import tempfile
    from syncmcp.server.workspace import WorkspaceServer
    app = WorkspaceServer([tempfile.mkdtemp()], sandbox="workspace-write")
    app.server.name
    # -> 'syncmcp-workspace'
    app.run_stdio()
"""

from ._app import DEFAULT_SERVER_NAME, CommandOutput, WorkspaceServer
from ._patch import PatchError, parse_patch
from ._paths import SandboxCeilingError, SandboxViolation, Workspace

__all__ = [
    "DEFAULT_SERVER_NAME",
    "CommandOutput",
    "PatchError",
    "SandboxCeilingError",
    "SandboxViolation",
    "Workspace",
    "WorkspaceServer",
    "parse_patch",
]

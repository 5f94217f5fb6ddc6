"""The workspace server behind ``syncmcp serve``: files, patches and commands under a sandbox policy.

Tools: ``execute_command``, ``apply_patch``, ``read_file``, ``write_file``, ``list_directory``.
Resources: every workspace file as ``file://`` (listed page by page, read through the
``file://{+path}`` template), ``workspace://git`` (when a root was in a Git repository at start;
a repository that does not belong to the workspace is reported as refused),
``workspace://environment`` and ``workspace://config``. Prompts: ``code_review``, ``refactor``,
``generate_tests`` and ``generate_docs``. The server declares syncmcp's and Codex's
sandbox-state capabilities and follows the latest policy a client sends, up to the operator's
ceiling (``max_sandbox``, ``--max-sandbox``): an update above it is answered with an error and
changes nothing. When a client lifts the policy to ``danger-full-access`` on its own, the log
says so.

Commands get syncmcp's environment allow-list plus the configured ``env``, never the server's
whole environment. Under ``workspace-write`` without a working OS sandbox (bubblewrap) they run
unconfined: the instructions and every ``execute_command`` result say so, and
``require_os_sandbox`` refuses them instead.

Example:
    import tempfile
    app = WorkspaceServer([tempfile.mkdtemp()], sandbox="read-only")
    sorted(tool.name for tool in app.server.registry.tools())
    # -> ['apply_patch', 'execute_command', 'list_directory', 'read_file', 'write_file']
    app.run_stdio()
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ..._endpoint import JSONRPCError
from ..._jsonrpc import ErrorCode
from ..._sandbox import (
    CODEX_SANDBOX_CAPABILITY,
    CODEX_SANDBOX_METHOD,
    SYNCMCP_SANDBOX_CAPABILITY,
    SYNCMCP_SANDBOX_METHOD,
    SandboxState,
)
from ..._stdio import ENV_ALLOWLIST, child_environment
from ..._version import __version__
from .._content import ToolResult
from .._context import Context
from .._errors import ToolError
from .._server import Server
from ._catalog import MAX_FILE_BYTES, FileIndex, WorkspaceCatalog
from ._commands import DEFAULT_MAX_OUTPUT, ProcessTracker, bubblewrap_argv, find_bubblewrap, run_command
from ._files import (
    FileTooLarge,
    NotARegularFile,
    PathChanged,
    commit,
    describe_mode,
    guess_mime_type,
    read_lines,
    read_text_file,
)
from ._ignore import walk
from ._info import GitRepositories, ProgramOutput, git_available, redact
from ._patch import DeleteFile, Operation, PatchError, UpdateFile, parse_patch, plan
from ._paths import SandboxCeilingError, SandboxViolation, Workspace

__all__ = ["DEFAULT_SERVER_NAME", "CommandOutput", "WorkspaceServer"]

logger = logging.getLogger("syncmcp.server.workspace")

#: ``serverInfo.name`` of ``syncmcp serve``.
DEFAULT_SERVER_NAME = "syncmcp-workspace"
#: Deepest ``list_directory`` walk.
MAX_LIST_DEPTH = 10
#: Bytes of a probe's output kept (``git status`` of a huge tree is cut there, and says so).
_PROBE_OUTPUT = 4 * 1024 * 1024

_INSTRUCTIONS = """\
Tools to work on the files of this workspace: read_file, list_directory, write_file, apply_patch \
(Codex '*** Begin Patch' format or unified diffs; all hunks apply or nothing changes) and \
execute_command (an argv array, no shell). Paths are relative to the workspace root unless \
absolute. The sandbox policy ({policy}) decides what may be written: paths outside the roots, \
'..' escapes and symbolic links leaving the roots are refused."""
#: Said in the instructions and in each result when commands run without an OS sandbox.
_UNCONFINED_NOTE = (
    "No OS sandbox (bubblewrap) is available here, so execute_command runs commands unconfined: the "
    "workspace-write policy limits the file tools only, and a command can read and write anything this "
    "server's user can."
)
_COMMANDS_NOTES = {
    "read-only": "execute_command runs commands inside an OS sandbox (bubblewrap) that shows the roots read-only.",
    "workspace-write": "execute_command runs commands inside an OS sandbox (bubblewrap): only the writable roots are writable.",
}
_NO_COMMANDS = {
    "read-only": "execute_command is unavailable: the policy is read-only and no OS sandbox (bubblewrap) is available.",
    "workspace-write": (
        "execute_command is unavailable: this server requires an OS sandbox (--require-os-sandbox) and none "
        "(bubblewrap) is available here."
    ),
}


@dataclass(frozen=True)
class CommandOutput:
    """The result of ``execute_command``.

    Attributes:
        exit_code: the exit status (negative: killed by that signal; null: never ended).
        stdout: standard output (UTF-8, capped; a marker shows where bytes were dropped).
        stderr: standard error (same).
        timed_out: the command was killed because it exceeded its timeout.
        stdout_truncated: bytes of stdout were dropped.
        stderr_truncated: bytes of stderr were dropped.
        duration_seconds: wall-clock duration.
        sandbox: "bubblewrap" when it ran inside the OS sandbox, else "none".
        note: a warning about how the command ran (it ran unconfined), if any.

    Example:
        >>> CommandOutput(0, "hi", "", False, False, False, 0.01, "none").exit_code
        0
    """

    exit_code: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool
    stdout_truncated: bool
    stderr_truncated: bool
    duration_seconds: float
    sandbox: str
    note: Optional[str] = None


def _readable_folders(folders: Sequence[Union[str, Path]]) -> Tuple[str, ...]:
    """The real paths of ``folders``, each checked to be an existing folder.

    Raises:
        ValueError: one is empty, missing or not a folder (the message names it).
    """
    real: List[str] = []
    for folder in folders:
        given = os.fspath(folder)
        if not given:
            raise ValueError("a readable folder must be a non-empty path")
        path = os.path.realpath(given)
        if not os.path.exists(path):
            raise ValueError(f"readable folder {given!r} does not exist")
        if not os.path.isdir(path):
            raise ValueError(f"readable folder {given!r} is not a folder")
        if path not in real:
            real.append(path)
    return tuple(real)


class WorkspaceServer:
    """The workspace server: a :class:`~syncmcp.server.Server` over some folders, sandboxed.

    Args:
        roots: the workspace folders (default: the current folder).
        sandbox: the policy until a client sends one: ``read-only``, ``workspace-write`` or
            ``danger-full-access``.
        max_sandbox: the most permissive policy a client's update may set (the operator's
            ceiling; default ``danger-full-access``: a client may lift every limit). Below
            ``danger-full-access`` it also keeps the network off unless ``network_access``.
        network_access: allow the network to commands run inside the OS sandbox.
        command_timeout: default seconds for ``execute_command``.
        max_command_timeout: the largest timeout a call may ask for.
        max_output: bytes of each output stream a command result keeps.
        env: environment variables for commands, added to syncmcp's allow-list (``PATH``,
            ``HOME``, locale...); the configuration shows their names only.
        use_os_sandbox: run commands inside bubblewrap when it works here.
        require_os_sandbox: refuse ``execute_command`` rather than run a command unconfined
            when no OS sandbox is available (under ``danger-full-access`` nothing is confined).
        sandbox_readable: folders besides the system ones and the roots that commands inside
            the OS sandbox may read (tools installed under a home folder, say); each must exist.
        max_resource_files: most files ``resources/list`` offers.
        name: ``serverInfo.name``.

    Attributes:
        server: the MCP server; ``server.run_stdio()`` serves it.
        workspace: the roots and the sandbox state in force.

    Raises:
        ValueError: a root or a ``sandbox_readable`` folder is not an existing folder, an
            unknown policy, or ``sandbox`` above ``max_sandbox``.

    Example:
        >>> import tempfile
        >>> WorkspaceServer([tempfile.mkdtemp()], use_os_sandbox=False).workspace.state.policy
        'workspace-write'
    """

    def __init__(
        self,
        roots: Optional[Sequence[Union[str, Path]]] = None,
        *,
        sandbox: str = "workspace-write",
        max_sandbox: str = "danger-full-access",
        network_access: bool = False,
        command_timeout: float = 60.0,
        max_command_timeout: float = 600.0,
        max_output: int = DEFAULT_MAX_OUTPUT,
        env: Optional[Mapping[str, str]] = None,
        use_os_sandbox: bool = True,
        require_os_sandbox: bool = False,
        sandbox_readable: Sequence[Union[str, Path]] = (),
        max_resource_files: int = 10_000,
        name: str = DEFAULT_SERVER_NAME,
    ) -> None:
        if command_timeout <= 0 or max_command_timeout < command_timeout:
            raise ValueError("command_timeout must be positive and at most max_command_timeout")
        if max_output < 64:
            raise ValueError("max_output must be at least 64 bytes")
        readable = _readable_folders(sandbox_readable)
        self.workspace = Workspace(
            list(roots) if roots else [os.getcwd()], sandbox, network_access=network_access, max_policy=max_sandbox
        )
        self.command_timeout = command_timeout
        self.max_command_timeout = max_command_timeout
        self.max_output = max_output
        self.env: Dict[str, str] = dict(env or {})
        self.use_os_sandbox = use_os_sandbox
        self.require_os_sandbox = require_os_sandbox
        self.sandbox_readable: Tuple[str, ...] = readable
        self.tracker = ProcessTracker()
        self._git = GitRepositories(self.workspace.roots, self._run_probe) if git_available() else None
        self._files = FileIndex(self.workspace, max_resource_files)
        self.server = Server(
            name,
            __version__,
            title="syncmcp workspace",
        )
        self.server.instructions = self.instructions()
        self.server.experimental[SYNCMCP_SANDBOX_CAPABILITY] = {}
        self.server.experimental[CODEX_SANDBOX_CAPABILITY] = {}
        self.server.on_shutdown(self._shutdown)
        self._register_tools()
        WorkspaceCatalog(
            self.workspace, self._files, self.list_directory, self._git, self._run_probe, self.configuration
        ).register(self.server)
        self.server.request_handler(SYNCMCP_SANDBOX_METHOD)(self._sandbox_update)
        self.server.request_handler(CODEX_SANDBOX_METHOD)(self._sandbox_update)

    def __repr__(self) -> str:
        return f"<WorkspaceServer {self.workspace!r}>"

    def run_stdio(self) -> None:
        """Serve one client on stdin/stdout (see :meth:`Server.run_stdio`)."""
        self._log_start()
        self.server.run_stdio()

    def run_http(self, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> None:
        """Serve over HTTP until SIGTERM or Ctrl-C (see :meth:`Server.run_http`)."""
        self._log_start()
        self.server.run_http(host, port, **options)

    def _log_start(self) -> None:
        logger.info(
            "serving %s with the %s sandbox policy", ", ".join(str(r) for r in self.workspace.roots), self.workspace.state.policy
        )

    def _run_probe(
        self, argv: Sequence[str], cwd: Path, environment: Mapping[str, str], timeout: float, visible: Optional[Sequence[Path]]
    ) -> ProgramOutput:
        """Run a probe (git, a tool's ``--version``) for a resource; confined when asked and the OS sandbox works."""
        prefix: Optional[List[str]] = None
        if visible is not None:
            bwrap = self.os_sandbox()
            if bwrap is not None:
                folders = [*(str(folder) for folder in visible), *self.sandbox_readable]
                prefix = bubblewrap_argv(bwrap, str(cwd), readable=folders, writable=(), network=False)
        try:
            result = run_command(
                argv,
                cwd=str(cwd),
                timeout=timeout,
                env=environment,
                max_output=_PROBE_OUTPUT,
                keep_tail=False,
                tracker=self.tracker,
                sandbox_argv=prefix,
            )
        except OSError as exc:
            return ProgramOutput(None, "", f"cannot run {argv[0]}: {exc.strerror or exc}")
        return ProgramOutput(result.exit_code, result.stdout, result.stderr, result.timed_out, result.stdout_truncated)

    def _shutdown(self) -> None:
        killed = self.tracker.kill_all()
        if killed:
            logger.info("ended %d running command(s)", killed)

    # ------------------------------------------------------------------------- sandbox

    def _sandbox_update(self, ctx: Context, params: Dict[str, Any]) -> Dict[str, Any]:
        state = SandboxState.from_params(params)  # ValueError: answered -32602 by the connection
        client = ctx.client_info.get("name") or "the client"
        try:
            self.workspace.update(state)
        except SandboxCeilingError as exc:
            logger.warning("refused a sandbox update from %s: %s", client, exc)
            raise JSONRPCError(
                ErrorCode.INVALID_PARAMS,
                str(exc),
                {"maxSandbox": exc.ceiling, "policy": self.workspace.state.policy, "requested": state.policy},
            ) from exc
        if state.policy == "danger-full-access" and self.workspace.initial_policy != "danger-full-access":
            logger.warning(
                "%s lifted the sandbox policy to danger-full-access (the operator started this server with %s): "
                "paths are no longer limited to the roots and commands run without an OS sandbox; "
                "start the server with --max-sandbox to refuse such updates",
                client,
                self.workspace.initial_policy,
            )
        else:
            logger.info("sandbox policy is now %s (cwd %s, writable %s)", state.policy, state.cwd, list(state.writable_roots))
        self.server.instructions = self.instructions()
        self.server.notify_resource_updated("workspace://config")
        return {}

    def os_sandbox(self) -> Optional[str]:
        """The bubblewrap executable commands run in, or ``None`` (disabled or not working)."""
        return find_bubblewrap() if self.use_os_sandbox else None

    def instructions(self) -> str:
        """The server's instructions for the policy in force, saying how commands run.

        Example:
            >>> import tempfile
            >>> app = WorkspaceServer([tempfile.mkdtemp()], use_os_sandbox=False)
            >>> "unconfined" in app.instructions()
            True
        """
        policy = self.workspace.state.policy
        text = _INSTRUCTIONS.format(policy=policy)
        if policy == "danger-full-access":
            return text + " Commands run without any sandbox."
        if self.os_sandbox() is not None:
            return f"{text} {_COMMANDS_NOTES[policy]}"
        if policy == "read-only" or self.require_os_sandbox:
            return f"{text} {_NO_COMMANDS[policy]}"
        return f"{text} {_UNCONFINED_NOTE}"

    def configuration(self) -> Dict[str, Any]:
        """The current configuration (the ``workspace://config`` resource), revealing no secret.

        Environment variables appear by name only; every other value goes through
        :func:`~._info.redact` (credential-like keys, and the user information of URLs).
        """
        workspace = self.workspace
        state = workspace.state
        bwrap = self.os_sandbox()
        config: Dict[str, Any] = redact(
            {
                "server": {"name": self.server.name, "version": self.server.version},
                "roots": [str(root) for root in workspace.roots],
                "sandbox": {
                    "policy": state.policy,
                    "operator_policy": workspace.initial_policy,
                    "max_policy": workspace.max_policy,
                    "lifted_by_client": workspace.lifted_by_client,
                    "cwd": state.cwd,
                    "writable_roots": [str(p) for p in workspace.writable_roots(state)],
                    "network_access": state.network_access,
                    "updates_received": workspace.updates,
                    "os_sandbox": "bubblewrap" if bwrap else None,
                    "require_os_sandbox": self.require_os_sandbox,
                    "sandbox_readable": list(self.sandbox_readable),
                },
                "commands": {
                    "default_timeout_seconds": self.command_timeout,
                    "max_timeout_seconds": self.max_command_timeout,
                    "max_output_bytes": self.max_output,
                    "inherited_variables": [name for name in ENV_ALLOWLIST if name in os.environ],
                },
                "limits": {"max_file_bytes": MAX_FILE_BYTES, "page_size": self.server.page_size},
            }
        )
        # Names only: a value can be a secret whatever its name (DATABASE_URL=postgres://u:p@h).
        config["commands"]["env"] = sorted(self.env)
        return config

    # ------------------------------------------------------------------------- tools

    def _register_tools(self) -> None:
        server = self.server
        server.tool(
            annotations={"title": "Run a command", "destructiveHint": True, "openWorldHint": True},
        )(self.execute_command)
        server.tool(annotations={"title": "Apply a patch", "destructiveHint": True})(self.apply_patch)
        server.tool(annotations={"title": "Read a file", "readOnlyHint": True})(self.read_file)
        server.tool(annotations={"title": "Write a file", "destructiveHint": True, "idempotentHint": True})(self.write_file)
        server.tool(annotations={"title": "List a folder", "readOnlyHint": True})(self.list_directory)

    def execute_command(
        self,
        command: List[str],
        ctx: Context,
        cwd: Optional[str] = None,
        timeout: Optional[float] = None,
        stdin: Optional[str] = None,
        env: Optional[Dict[str, str]] = None,
    ) -> CommandOutput:
        """Run a program (no shell) and return its exit code, stdout and stderr.

        The command runs in its own process group; on timeout the whole group is killed.
        Output is capped per stream (the start and the end are kept). Under the read-only
        policy commands run only inside an OS sandbox (bubblewrap), with nothing writable; under
        workspace-write they run inside it when it is available (the result's "sandbox" and
        "note" say how the command ran).

        Args:
            command: the program and its arguments, e.g. ["git", "status"]. Use ["sh", "-c", "..."] for shell syntax.
            cwd: the working folder (default: the workspace root); must be inside the workspace.
            timeout: seconds before the command is killed (default 60).
            stdin: text sent to the command's standard input.
            env: extra environment variables.
            ctx: the request context (supplied by the server, not an argument).
        """
        if not command or not all(isinstance(part, str) and part for part in command):
            raise ToolError('command must be a non-empty array of non-empty strings, e.g. ["ls", "-la"]')
        limit = self.command_timeout if timeout is None else timeout
        if not 0 < limit <= self.max_command_timeout:
            raise ToolError(f"timeout must be between 0 and {self.max_command_timeout:g} seconds")
        folder = self.workspace.resolve(cwd or ".")
        if not folder.is_dir():
            raise ToolError(f"cwd {cwd!r} is not a folder")
        state = self.workspace.state
        bwrap = self.os_sandbox() if state.policy != "danger-full-access" else None
        prefix: Optional[List[str]] = None
        note: Optional[str] = None
        if bwrap is not None:
            readable = [*(str(root) for root in self.workspace.roots), *self.sandbox_readable]
            writable = [str(p) for p in self.workspace.writable_roots(state)]
            network = state.policy == "workspace-write" and state.network_access
            prefix = bubblewrap_argv(bwrap, str(folder), readable=readable, writable=writable, network=network)
        elif state.policy == "read-only":
            raise SandboxViolation(
                "execute_command is refused: the sandbox policy is read-only and no OS sandbox (bubblewrap) "
                "is available to run commands without write access"
            )
        elif state.policy == "workspace-write":
            if self.require_os_sandbox:
                raise SandboxViolation(
                    "execute_command is refused: this server requires an OS sandbox (--require-os-sandbox) and "
                    "no OS sandbox (bubblewrap) is available here"
                )
            note = _UNCONFINED_NOTE
        environment, _ = child_environment({**self.env, **(env or {})})
        try:
            result = run_command(
                command,
                cwd=str(folder),
                timeout=limit,
                stdin=stdin,
                env=environment,
                max_output=self.max_output,
                cancelled=ctx.cancelled,
                tracker=self.tracker,
                sandbox_argv=prefix,
            )
        except FileNotFoundError as exc:
            detail = f" ({exc.strerror})" if prefix is not None and exc.strerror else ""
            raise ToolError(f"command not found: {command[0]}{detail}") from exc
        except PermissionError as exc:
            raise ToolError(f"cannot execute {command[0]}: permission denied") from exc
        except OSError as exc:
            raise ToolError(f"cannot start {command[0]}: {exc}") from exc
        self._files.invalidate()
        return CommandOutput(**asdict(result), note=note)

    def apply_patch(self, patch: str) -> str:
        """Apply a patch to workspace files: all of it, or nothing if any hunk fails.

        Accepts Codex's format (*** Begin Patch, *** Add File: / *** Update File: / *** Delete File:,
        *** Move to:, @@ hunks with ' ', '-' and '+' lines, *** End Patch) and standard unified
        diffs (--- a/file, +++ b/file, @@ -l,s +l,s @@). A failure names the file and hunk.

        Args:
            patch: the patch text.
        """
        try:
            operations = parse_patch(patch)
        except PatchError as exc:
            raise ToolError(f"invalid patch: {exc}") from exc
        # Every path is resolved (and checked) first, and the patch is planned on the real
        # paths, so two spellings of one file ("a.txt", "./a.txt") are one file.
        shown: Dict[str, str] = {}

        def real(path: str, *, entry: bool = False) -> str:
            # A deletion removes the entry itself: a symbolic link, not the file it points to.
            resolve = self.workspace.resolve_entry if entry else self.workspace.resolve
            key = str(resolve(path, write=True))
            shown.setdefault(key, path)
            return key

        canonical: List[Operation] = []
        for op in operations:
            if isinstance(op, UpdateFile):
                canonical.append(replace(op, path=real(op.path), move_to=real(op.move_to) if op.move_to else None))
            else:
                canonical.append(replace(op, path=real(op.path, entry=isinstance(op, DeleteFile))))

        def read(key: str) -> Optional[str]:
            target = Path(key)
            if target.is_symlink():
                return ""  # only a deletion names a link itself; its target is never read
            if not target.exists():
                return None
            if target.is_dir():
                raise PatchError(f"{shown[key]} is a folder")
            try:
                text = read_text_file(target, MAX_FILE_BYTES, exact=True)
            except FileTooLarge as exc:
                raise PatchError(str(exc)) from exc
            except PathChanged as exc:
                raise PatchError(f"{shown[key]} was replaced (by a link?) while the patch was read") from exc
            except NotARegularFile as exc:
                raise PatchError(f"{shown[key]} is {exc.kind}; patches apply to regular files only") from exc
            if text is None:
                raise PatchError(f"{shown[key]} is a binary file; patches apply to text files only")
            return text

        try:
            changes = plan(canonical, read)
        except PatchError as exc:
            message = str(exc)
            for key, path in shown.items():  # name files as the patch did
                message = message.replace(key, path)
            raise ToolError(f"patch not applied, no file changed: {message}") from exc
        writes: List[Tuple[Path, Optional[bytes]]] = []
        for change in changes:
            if change.action == "D":
                writes.append((Path(change.path), None))
            elif change.new_path is not None:
                writes.append((Path(change.new_path), (change.new_text or "").encode("utf-8")))
                writes.append((Path(change.path), None))
            else:
                writes.append((Path(change.path), (change.new_text or "").encode("utf-8")))
        try:
            commit(writes, exact=True)
        except OSError as exc:
            raise ToolError(f"patch not applied, no file changed: {exc}") from exc
        self._changed(writes, structural=any(c.action != "M" or c.new_path for c in changes))
        lines = ["Success. Updated the following files:"]
        for change in changes:
            if change.new_path is not None:
                lines.append(f"M {shown[change.new_path]} (moved from {shown[change.path]})")
            else:
                lines.append(f"{change.action} {shown[change.path]}")
        return "\n".join(lines)

    def read_file(self, path: str, offset: int = 1, limit: Optional[int] = None) -> ToolResult:
        """Read a text file's lines (binary files are detected and described instead).

        Args:
            path: the file, relative to the workspace root or absolute.
            offset: the first line to return, counting from 1.
            limit: how many lines to return (default and maximum 2000).
        """
        if offset < 1:
            raise ToolError("offset counts lines from 1")
        count = 2000 if limit is None else limit
        if not 1 <= count <= 2000:
            raise ToolError("limit must be between 1 and 2000 lines")
        target = self.workspace.resolve(path)
        if not target.exists():
            raise ToolError(f"{path} does not exist")
        if target.is_dir():
            raise ToolError(f"{path} is a folder; use list_directory")
        try:
            window = read_lines(target, offset=offset, limit=count, max_line_length=2000, exact=True)
        except NotARegularFile as exc:
            raise ToolError(f"{path} is {exc.kind}; read_file reads regular files only") from exc
        except ValueError:
            size = os.lstat(target).st_size
            return ToolResult(
                f"{path} is a binary file ({size} bytes, {guess_mime_type(target, True)}); its content is not shown"
            )
        except OSError as exc:
            raise ToolError(f"cannot read {path}: {exc.strerror or exc}") from exc
        blocks: List[Any] = [window.text]
        last = offset + len(window.lines) - 1
        if window.total == 0:
            blocks = [f"{path} is empty"]
        elif offset > window.total:
            raise ToolError(f"offset {offset} is past the end of {path} ({window.total} lines)")
        elif last < window.total or window.truncated_lines:
            notes = []
            if last < window.total:
                notes.append(f"lines {offset}-{last} of {window.total}; continue with offset={last + 1}")
            if window.truncated_lines:
                notes.append(f"{window.truncated_lines} long line(s) were cut at 2000 characters")
            blocks.append(f"[{'; '.join(notes)}]")
        return ToolResult(blocks)

    def write_file(self, path: str, content: str, create_directories: bool = True) -> str:
        """Create or overwrite a text file with the given content (written atomically).

        Args:
            path: the file, relative to the workspace root or absolute.
            content: the complete new content.
            create_directories: create missing parent folders.
        """
        target = self.workspace.resolve(path, write=True)
        try:
            mode: Optional[int] = target.stat().st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise ToolError(f"cannot write {path}: {exc.strerror or exc}") from exc
        if mode is not None and stat.S_ISDIR(mode):
            raise ToolError(f"{path} is a folder")
        if mode is not None and not stat.S_ISREG(mode):
            raise ToolError(f"{path} is {describe_mode(mode)}; write_file replaces regular files only")
        if not create_directories and not target.parent.is_dir():
            raise ToolError(f"the folder of {path} does not exist (pass create_directories=true to create it)")
        existed = mode is not None
        data = content.encode("utf-8")
        try:
            commit([(target, data)], exact=True)
        except NotARegularFile as exc:
            raise ToolError(f"{path} is {exc.kind}; write_file replaces regular files only") from exc
        except OSError as exc:
            raise ToolError(f"cannot write {path}: {exc.strerror or exc}") from exc
        self._changed([(target, data)], structural=not existed)
        return f"{'Overwrote' if existed else 'Created'} {path} ({len(data)} bytes)"

    def list_directory(self, path: str = ".", depth: int = 1, include_hidden: bool = True, max_entries: int = 1000) -> str:
        """List a folder's entries, folders marked with a trailing '/', skipping VCS folders and .gitignore'd files.

        Args:
            path: the folder, relative to the workspace root or absolute.
            depth: how many levels to descend (1 = only the folder's own entries, at most 10).
            include_hidden: include entries whose names start with '.'.
            max_entries: stop after this many entries.
        """
        if not 1 <= depth <= MAX_LIST_DEPTH:
            raise ToolError(f"depth must be between 1 and {MAX_LIST_DEPTH}")
        if max_entries < 1:
            raise ToolError("max_entries must be positive")
        folder = self.workspace.resolve(path)
        if not folder.is_dir():
            raise ToolError(f"{path} is not a folder")
        root = self.workspace.root_of(folder) or folder
        lines: List[str] = []
        for entry in walk(root, folder, depth, include_hidden=include_hidden):
            if len(lines) >= max_entries:
                lines.append(f"[stopped after {max_entries} entries]")
                break
            relative = entry.path.relative_to(folder).as_posix()
            if entry.is_symlink:
                try:
                    lines.append(f"{relative} -> {os.readlink(entry.path)}")
                except OSError:
                    lines.append(f"{relative} -> ?")
            elif entry.is_dir:
                lines.append(relative + "/")
            else:
                lines.append(relative)
        return "\n".join(lines) if lines else f"{path} is empty"

    def _changed(self, writes: List[Tuple[Path, Optional[bytes]]], *, structural: bool) -> None:
        self._files.invalidate()
        for target, _ in writes:
            self.server.notify_resource_updated(target.as_uri())
        if structural:
            self.server.notify_resources_changed()

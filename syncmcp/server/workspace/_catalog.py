"""The workspace server's resources and prompts.

Resources: every workspace file (``file://{+path}``, listed from an index rebuilt every few
seconds), git information, the environment and the server's configuration. Prompts: code review,
refactoring, tests and documentation, each bringing the file (or folder listing) it is about.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from ..._endpoint import JSONRPCError
from ..._jsonrpc import ErrorCode
from .._content import EmbeddedResource
from .._errors import ResourceNotFound
from .._server import Server
from ._files import FileTooLarge, NotARegularFile, PathChanged, guess_mime_type, is_binary, read_bytes, read_text_file
from ._ignore import walk
from ._info import GitRepositories, ProgramOutput, environment_info
from ._paths import SandboxViolation, Workspace
from ._prompts import DOC_STYLES, FOCUS_AREAS, REFACTOR_GOALS, TEST_FRAMEWORKS, instructions_for

__all__ = ["MAX_FILE_BYTES", "FileIndex", "WorkspaceCatalog"]

logger = logging.getLogger("syncmcp.server.workspace")

#: Largest file ``read_file`` reads whole, a resource serves, or a patch edits.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: Seconds the file index behind ``resources/list`` is reused (pages of one listing agree).
_INDEX_TTL = 5.0


class FileIndex:
    """The workspace's files for ``resources/list``, rebuilt when older than a few seconds."""

    def __init__(self, workspace: Workspace, limit: int) -> None:
        self._workspace = workspace
        self._limit = limit
        self._lock = threading.Lock()
        self._built = 0.0
        self._items: List[Dict[str, Any]] = []

    def invalidate(self) -> None:
        """Rebuild on the next listing (files were written)."""
        with self._lock:
            self._built = 0.0

    def items(self) -> List[Dict[str, Any]]:
        """``resources/list`` entries of the workspace's files (at most the limit)."""
        with self._lock:
            if self._items and time.monotonic() - self._built < _INDEX_TTL:
                return self._items
        items: List[Dict[str, Any]] = []
        for root in self._workspace.roots:
            for entry in walk(root, root, 64):
                if entry.is_dir or entry.is_symlink:
                    continue
                try:
                    info = os.lstat(entry.path)  # a link put there meanwhile is not followed
                except OSError:
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                size = info.st_size
                items.append(
                    {
                        "uri": entry.path.as_uri(),
                        "name": self._workspace.display(entry.path),
                        "mimeType": guess_mime_type(entry.path, False),
                        "size": size,
                    }
                )
                if len(items) >= self._limit:
                    break
            if len(items) >= self._limit:
                logger.info("resources/list stops at %d workspace files", self._limit)
                break
        with self._lock:
            self._items, self._built = items, time.monotonic()
        return items


class WorkspaceCatalog:
    """Registers the workspace's resources and prompts on a server, and serves them.

    Args:
        workspace: the roots and sandbox policy paths are resolved against.
        files: the file index behind ``resources/list`` and path completions.
        list_directory: the server's ``list_directory`` tool (folder listings).
        git: the roots' repositories, or ``None`` without git.
        run_probe: runs a short program for the environment report.
        configuration: the server's configuration report.
    """

    def __init__(
        self,
        workspace: Workspace,
        files: FileIndex,
        list_directory: Callable[..., str],
        git: Optional[GitRepositories],
        run_probe: Callable[..., ProgramOutput],
        configuration: Callable[[], Dict[str, Any]],
    ) -> None:
        self.workspace = workspace
        self._files = files
        self.list_directory = list_directory
        self._git = git
        self._run_probe = run_probe
        self.configuration = configuration

    def register(self, server: Server) -> None:
        """Add every resource, template and prompt to ``server``."""
        self._register_resources(server)
        self._register_prompts(server)

    # ------------------------------------------------------------------------- resources

    def _register_resources(self, server: Server) -> None:
        server.resource_template(
            "file://{+path}",
            name="workspace-file",
            title="Workspace file",
            description="A file of the workspace, by absolute path (file:///...).",
            completions={"path": self._complete_path},
            list_resources=self._files.items,
        )(self._read_file_resource)
        if self._git is not None and self._git.found:
            server.resource(
                "workspace://git",
                name="git",
                title="Git information",
                description="Branch, HEAD, status (of the root's files) and the last 20 commits of each root's repository.",
                mime_type="application/json",
            )(self._git.report)
        server.resource(
            "workspace://environment",
            name="environment",
            title="Environment",
            description="Operating system, Python and developer tool versions (no environment secrets).",
            mime_type="application/json",
        )(self._environment_resource)
        server.resource(
            "workspace://config",
            name="config",
            title="Server configuration",
            description="Roots, sandbox policy and limits of this server (secrets redacted).",
            mime_type="application/json",
        )(self.configuration)

    def _read_file_resource(self, path: str) -> Any:
        try:
            target = self.workspace.resolve(path)
        except SandboxViolation as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, str(exc)) from exc
        uri = target.as_uri()
        if target.is_dir():
            listing = self.list_directory(str(target))
            return EmbeddedResource(uri, text=listing, mime_type="text/plain")
        try:
            data = read_bytes(target, MAX_FILE_BYTES, exact=True)
        except FileNotFoundError as exc:
            raise ResourceNotFound(f"file://{path}") from exc
        except (FileTooLarge, NotARegularFile, PathChanged) as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, str(exc)) from exc
        if is_binary(data[:8192]):
            return EmbeddedResource(uri, blob=data, mime_type=guess_mime_type(target, True))
        try:
            return EmbeddedResource(uri, text=data.decode("utf-8"), mime_type=guess_mime_type(target, False))
        except UnicodeDecodeError:
            return EmbeddedResource(uri, blob=data, mime_type=guess_mime_type(target, True))

    def _complete_path(self, value: str) -> List[str]:
        """Absolute paths of workspace files starting with ``value`` (or whose workspace-relative path does)."""
        results: List[str] = []
        for item in self._files.items():
            absolute = item["uri"][len("file://") :]
            if absolute.startswith(value) or item["name"].startswith(value):
                results.append(absolute)
        return results

    def _environment_resource(self) -> Dict[str, Any]:
        return environment_info(self._run_probe)

    # ------------------------------------------------------------------------- prompts

    def _prompt_messages(self, prompt: str, path: str, option: str) -> List[Dict[str, Any]]:
        try:
            target = self.workspace.resolve(path)
        except SandboxViolation as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, str(exc)) from exc
        messages: List[Dict[str, Any]] = [
            {"role": "user", "content": {"type": "text", "text": instructions_for(prompt, path, option)}}
        ]
        if target.is_dir():
            listing = self.list_directory(str(target), depth=3)
            messages.append(
                {"role": "user", "content": EmbeddedResource(target.as_uri(), text=listing, mime_type="text/plain").to_dict()}
            )
            return messages
        if not target.exists():
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"{path} does not exist in the workspace")
        try:
            text = read_text_file(target, MAX_FILE_BYTES, exact=True)
        except (FileTooLarge, NotARegularFile, PathChanged) as exc:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, str(exc)) from exc
        if text is None:
            raise JSONRPCError(ErrorCode.INVALID_PARAMS, f"{path} is a binary file")
        resource = EmbeddedResource(target.as_uri(), text=text, mime_type=guess_mime_type(target, False))
        messages.append({"role": "user", "content": resource.to_dict()})
        return messages

    def _workspace_paths(self, value: str) -> List[str]:
        return [item["name"] for item in self._files.items() if item["name"].startswith(value)]

    def _register_prompts(self, server: Server) -> None:
        messages = self._prompt_messages

        def code_review(path: str, focus: str = "correctness") -> List[Dict[str, Any]]:
            """Review a file for bugs, risks and unclear code.

            Args:
                path: the file (or folder) to review, relative to the workspace root.
                focus: what to look at most (correctness, security, performance, ...).
            """
            return messages("code_review", path, focus)

        def refactor(path: str, goal: str) -> List[Dict[str, Any]]:
            """Refactor a file towards a goal, keeping its behaviour.

            Args:
                path: the file to refactor, relative to the workspace root.
                goal: what the refactoring should achieve (simplify, extract functions, ...).
            """
            return messages("refactor", path, goal)

        def generate_tests(path: str, framework: str = "pytest") -> List[Dict[str, Any]]:
            """Write tests for a file's code.

            Args:
                path: the file to test, relative to the workspace root.
                framework: the test framework (pytest, unittest, jest, ...).
            """
            return messages("generate_tests", path, framework)

        def generate_docs(path: str, style: str = "google") -> List[Dict[str, Any]]:
            """Write documentation for a file's code.

            Args:
                path: the file to document, relative to the workspace root.
                style: the documentation style (google, numpy, sphinx, markdown, ...).
            """
            return messages("generate_docs", path, style)

        paths = self._workspace_paths
        server.prompt(title="Code review", completions={"path": paths, "focus": FOCUS_AREAS})(code_review)
        server.prompt(title="Refactor", completions={"path": paths, "goal": REFACTOR_GOALS})(refactor)
        server.prompt(title="Generate tests", completions={"path": paths, "framework": TEST_FRAMEWORKS})(generate_tests)
        server.prompt(title="Generate documentation", completions={"path": paths, "style": DOC_STYLES})(generate_docs)

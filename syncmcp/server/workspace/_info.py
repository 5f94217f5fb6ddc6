"""Facts the workspace server publishes as resources: Git state, the environment, its configuration.

Nothing here reveals a secret: the environment report names tools and versions but copies no
environment variable except a few harmless ones (shell, locale, terminal), and
:func:`redact` masks every value whose key looks like a credential and the user information
(``user:password@``) of every URL.

Git runs with a minimal environment and with every repository setting that could start a
program switched off (``core.fsmonitor``, filter drivers, hooks, signature checks): a client
allowed to write ``.git/config`` must not get a command run, outside any sandbox, by reading
``workspace://git``.

Nor may a client read, through ``workspace://git``, a repository outside the roots: under
``workspace-write`` it can write ``<root>/.git`` as a file saying ``gitdir: /elsewhere/.git``.
So git first says where the repository is (``rev-parse --absolute-git-dir --git-common-dir
--show-toplevel``), and a root's repository is described only when

* its git folder and common folder both lie inside a root (the usual ``<root>/.git``), or
* the root lies inside a checkout whose ``.git`` is outside every root (a root that is a
  subfolder of a checkout: nothing the client can write chose it), or
* the ``.git`` file in the root names a repository that lists this very work tree as its own
  (a linked work tree, ``git worktree add``, or a submodule; the back link is outside the roots).

Otherwise the report says why nothing is shown. Git then runs pinned to what was checked
(``GIT_DIR``, ``GIT_COMMON_DIR``, ``GIT_WORK_TREE``), so a ``.git`` swapped afterwards changes
nothing, and the runner confines it to the roots and those folders when an OS sandbox is
available (links planted inside a ``.git`` folder then lead nowhere). Looking for the repository
never climbs above the checkout each root was in when the server started
(``GIT_CEILING_DIRECTORIES``), and the status lists the changes under the root only.

Example:
    >>> redact({"token": "abc", "nested": {"api_key": "x", "path": "/w"}, "items": [{"password": "p"}]})
    {'token': '***', 'nested': {'api_key': '***', 'path': '/w'}, 'items': [{'password': '***'}]}
    >>> redact({"database": "postgres://app:hunter2@db:5432/app"})
    {'database': 'postgres://***@db:5432/app'}
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ..._stdio import child_environment
from ..._version import __version__
from ._files import read_bytes

__all__ = [
    "GIT_TIMEOUT",
    "REDACTED",
    "GitLayout",
    "GitRepositories",
    "ProgramOutput",
    "Runner",
    "environment_info",
    "git_available",
    "git_info",
    "redact",
    "redact_urls",
]

logger = logging.getLogger("syncmcp.server.workspace")

#: What a secret value is replaced with.
REDACTED = "***"
_SECRET_KEY = re.compile(
    r"(token|secret|passw(or)?d|passphrase|api[_-]?key|private[_-]?key|credential|auth|cookie|session)", re.I
)
#: ``scheme://userinfo@`` in a URL (the user information may hold a password or a token).
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@")
#: Settings that make ``git status`` / ``git log`` start programs, switched off on every run;
#: and no bare repository found by looking around (only the one named by ``GIT_DIR``).
_GIT_SAFETY: Tuple[str, ...] = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "log.showSignature=false",
    "-c", "diff.external=",
    "-c", "safe.bareRepository=explicit",
    "--no-pager",
)  # fmt: skip
#: Where the repository of the working folder is: four lines (``true``, git folder, common folder, top).
_GIT_LOCATE: Tuple[str, ...] = (
    "git", *_GIT_SAFETY, "rev-parse", "--is-inside-work-tree", "--absolute-git-dir", "--git-common-dir", "--show-toplevel",
)  # fmt: skip
#: Repository settings naming a program to run, found with ``git config --get-regexp``.
_GIT_PROGRAM_KEYS = r"^(filter|diff)\..*\.(clean|smudge|process|textconv|command)$"
#: Seconds all the git commands describing one root may take together.
GIT_TIMEOUT = 10.0
#: Characters of git's error message a report keeps.
_GIT_ERROR_CHARS = 400
#: Bytes a back link of a linked work tree (``<git dir>/gitdir``) may have.
_MAX_LINK_FILE = 4096
#: Seconds the tool-version probes may take together.
_PROBE_TIMEOUT = 5.0
#: Seconds the tool-version report is cached.
_TOOLS_TTL = 60.0
#: Tools whose versions the environment report includes, with the flag that prints it.
_TOOLS: Tuple[Tuple[str, str], ...] = (
    ("git", "--version"),
    ("python3", "--version"),
    ("node", "--version"),
    ("npm", "--version"),
    ("make", "--version"),
    ("gcc", "--version"),
    ("cargo", "--version"),
    ("rustc", "--version"),
    ("go", "version"),
    ("java", "-version"),
    ("docker", "--version"),
    ("bwrap", "--version"),
)
#: Environment variables safe to show (no user secrets can hide in them).
_SAFE_VARIABLES = ("SHELL", "LANG", "LC_ALL", "TERM", "TZ")


@dataclass(frozen=True)
class ProgramOutput:
    """What a probe program did (the answer of a :data:`Runner`).

    Attributes:
        exit_code: its exit status; ``None`` if it could not start or never ended.
        stdout: its standard output (decoded as UTF-8; cut at the runner's limit).
        stderr: its standard error (same), or why it could not start.
        timed_out: it was stopped because its time ran out.
        truncated: the end of stdout was dropped.

    Example:
        >>> ProgramOutput(0, "git version 2.39.5", "").ok, ProgramOutput(None, "", "", timed_out=True).ok
        (True, False)
    """

    exit_code: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """It ran to the end and exited with status 0."""
        return self.exit_code == 0 and not self.timed_out


#: Runs one program to completion, ``run(argv, cwd, environment, timeout, visible)``, and never
#: raises for the program's failure. ``visible`` ``None`` runs it as it is; folders ask the
#: runner to confine it, when it has an OS sandbox, to those folders (read-only) and the system
#: ones. The workspace server's runner kills the program's whole process group when it ends.
Runner = Callable[[Sequence[str], Path, Mapping[str, str], float, Optional[Sequence[Path]]], ProgramOutput]


def redact_urls(text: str) -> str:
    """``text`` with the user information of every URL in it replaced by ``***``.

    Example:
        >>> redact_urls("clone https://bot:ghp_x@example.com/repo.git")
        'clone https://***@example.com/repo.git'
    """
    return _URL_USERINFO.sub(lambda match: f"{match.group(1)}{REDACTED}@", text)


def redact(value: Any) -> Any:
    """A copy of ``value``: credential-like keys' values replaced by ``***``, URLs' user information too.

    Example:
        >>> redact({"env": {"GITHUB_TOKEN": "ghp_x", "PAGER": "cat"}})
        {'env': {'GITHUB_TOKEN': '***', 'PAGER': 'cat'}}
    """
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, dict):
        return {
            key: (
                REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) and item not in (None, "", [], {}) else redact(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value


def git_available() -> bool:
    """Whether a ``git`` executable is on the ``PATH``.

    Example:
        >>> git_available() == (shutil.which("git") is not None)
        True
    """
    return shutil.which("git") is not None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _git_environment(extra: Mapping[str, str]) -> Dict[str, str]:
    environment, _ = child_environment({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **extra})
    return environment


def _failure(output: ProgramOutput, timeout: float) -> str:
    """Why a program failed, for a report: its error message, URL credentials masked and bounded."""
    if output.timed_out:
        return f"git did not finish within {timeout:g} seconds"
    message = redact_urls(output.stderr.strip())
    if len(message) > _GIT_ERROR_CHARS:
        message = message[:_GIT_ERROR_CHARS] + " …"
    if message:
        return message
    return f"git exited with status {output.exit_code}" if output.exit_code is not None else "git did not run"


@dataclass(frozen=True)
class GitLayout:
    """Where git found the repository a folder belongs to (real paths).

    Attributes:
        git_dir: its git folder (``--absolute-git-dir``; a linked work tree's own one).
        common_dir: the folder of its objects and refs (``--git-common-dir``).
        work_tree: the top of the work tree (``--show-toplevel``).

    Example:
        >>> GitLayout(Path("/w/.git"), Path("/w/.git"), Path("/w")).work_tree
        PosixPath('/w')
    """

    git_dir: Path
    common_dir: Path
    work_tree: Path


def _locate(root: Path, run: Runner, ceiling: Optional[Path], timeout: float) -> Tuple[Optional[GitLayout], Optional[str]]:
    """The repository git finds from ``root`` (``None`` if none), or why git could not say."""
    extra = {"GIT_CEILING_DIRECTORIES": str(ceiling)} if ceiling is not None else {}
    output = run([*_GIT_LOCATE], root, _git_environment(extra), timeout, None)
    if output.timed_out or output.exit_code is None:
        return None, _failure(output, timeout)
    if output.exit_code != 0:  # not in a work tree (or a repository git refuses, such as another user's)
        return None, None
    lines = output.stdout.split("\n")
    if len(lines) != 5 or lines[0] != "true" or lines[4] != "" or not all(lines[1:4]):
        return None, None  # a path with a newline in it: nothing is shown
    # --git-common-dir may be relative to the working folder.
    git_dir, common_dir, work_tree = (Path(os.path.realpath(os.path.join(root, line))) for line in lines[1:4])
    return GitLayout(git_dir, common_dir, work_tree), None


def _names_work_tree(layout: GitLayout, run: Runner, timeout: float) -> bool:
    """Whether the repository itself records ``layout.work_tree`` as one of its work trees.

    A linked work tree's git folder holds ``gitdir``, the path of the work tree's ``.git``
    file; a submodule's (or a separated git folder's) ``core.worktree`` names its work tree.
    Both live in the git folder: they prove something only when it lies outside the roots.
    """
    dot_git = os.path.realpath(layout.work_tree / ".git")
    try:
        back = read_bytes(layout.git_dir / "gitdir", _MAX_LINK_FILE).decode("utf-8", "replace").strip()
    except (OSError, ValueError):
        back = ""
    if back and os.path.realpath(os.path.join(layout.git_dir, back)) == dot_git:
        return True
    argv = ["git", *_GIT_SAFETY, "config", "--file", str(layout.git_dir / "config"), "--get", "core.worktree"]
    output = run(argv, layout.git_dir, _git_environment({}), timeout, None)
    value = output.stdout.strip()
    return output.ok and bool(value) and Path(os.path.realpath(os.path.join(layout.git_dir, value))) == layout.work_tree


def _check(
    root: Path, layout: GitLayout, roots: Sequence[Path], run: Runner, timeout: float
) -> Tuple[Optional[str], Tuple[Path, ...]]:
    """May ``layout`` be described for ``root``? ``(why not, or None; its folders outside the roots)``."""

    def in_roots(path: Path) -> bool:
        return any(_inside(path, folder) for folder in roots)

    git_dir, common_dir, work_tree = layout.git_dir, layout.common_dir, layout.work_tree
    if in_roots(git_dir) and in_roots(common_dir):
        return None, ()
    where = f"{git_dir}" if git_dir == common_dir else f"{git_dir} (objects in {common_dir})"
    if not _inside(root, work_tree):
        return f"git places the work tree of {root} at {work_tree} and its repository at {where}, outside the roots", ()
    # The .git git went through: the first one from the root up to the top of the work tree.
    folder = root
    while not os.path.lexists(folder / ".git") and folder not in (work_tree, folder.parent):
        folder = folder.parent
    entry = folder / ".git"
    if folder != work_tree or not os.path.lexists(entry):
        return (
            f"the repository of {root} is {where}, outside the roots, and is not the one named by the .git of "
            f"its work tree {work_tree}",
            (),
        )
    outside = tuple(dict.fromkeys(path for path in (work_tree, git_dir, common_dir) if not in_roots(path)))
    if not in_roots(entry):
        return None, outside  # the root is part of a checkout whose .git no client can write
    # A back link only counts where no client can write it: in a git folder outside the roots.
    if not in_roots(git_dir) and _names_work_tree(layout, run, timeout):
        return None, outside
    return (
        f"{entry} points to the repository {where}, outside the roots, which does not list {work_tree} as one of its work trees",
        (),
    )


def _parse_status(text: str) -> List[Dict[str, str]]:
    changes = []
    entries = text.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code_text, path = entry[:2], entry[3:]
        item = {"status": code_text, "path": path}
        if code_text[0] in "RC":
            if index >= len(entries):
                break
            item["from"] = entries[index]
            index += 1
        changes.append(item)
    return changes


def git_info(
    root: Path,
    *,
    roots: Sequence[Path],
    run: Runner,
    ceiling: Optional[Path] = None,
    timeout: float = GIT_TIMEOUT,
    log_count: int = 20,
) -> Optional[Dict[str, Any]]:
    """Branch, HEAD, status and recent commits of the repository of ``root`` (``None`` if none).

    A repository that does not belong to the workspace (see the module's documentation) is
    reported as ``{"root": ..., "refused": why}``. A status git could not produce is reported
    as ``"clean": None`` with ``"status_error"``, never as a clean tree.

    Args:
        root: a workspace root (a real path).
        roots: every root of the workspace.
        run: runs git (confining it when asked and able).
        ceiling: a folder git must not look into or above for the repository.
        timeout: seconds all of git's runs for this root may take together.
        log_count: commits listed.

    Example:
        info = git_info(root, roots=[root], run=runner)
        info["branch"], info["clean"]
        # -> ('main', True)
    """
    deadline = time.monotonic() + timeout
    report: Dict[str, Any] = {"root": str(root)}
    layout, error = _locate(root, run, ceiling, timeout)
    if error is not None:
        report["error"] = error
        return report
    if layout is None:
        return None
    refusal, outside = _check(root, layout, roots, run, max(0.0, deadline - time.monotonic()))
    if refusal is not None:
        logger.info("workspace://git shows nothing of %s: %s", root, refusal)
        report["refused"] = f"{refusal}; no git information is shown for it"
        return report
    # Pinned: git no longer looks for the repository, so a .git changed after the check is not used.
    pinned = _git_environment(
        {"GIT_DIR": str(layout.git_dir), "GIT_COMMON_DIR": str(layout.common_dir), "GIT_WORK_TREE": str(layout.work_tree)}
    )
    visible = (*roots, *outside)

    def git(arguments: Sequence[str]) -> ProgramOutput:
        left = deadline - time.monotonic()
        if left <= 0:
            return ProgramOutput(None, "", "", timed_out=True)
        return run([*command, *arguments], root, pinned, left, visible)

    command = ["git", *_GIT_SAFETY]
    # Reading the configuration runs nothing; each program-valued key found is then emptied,
    # which git takes as "no such program".
    keys = git(["config", "-z", "--includes", "--name-only", "--get-regexp", _GIT_PROGRAM_KEYS])
    if keys.ok:
        for name in dict.fromkeys(keys.stdout.split("\0")):
            if name:
                command += ["-c", f"{name}="]
    branch = git(["symbolic-ref", "--short", "-q", "HEAD"])
    head = git(["rev-parse", "-q", "--verify", "HEAD"])
    head_commit = head.stdout.strip() if head.ok else ""
    # Submodules are not entered: each would be another repository with its own settings.
    # Only the root's part of the work tree: the rest of a larger checkout is not the workspace's.
    status = git(["status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignore-submodules=all", "--", "."])
    report.update(
        {
            "toplevel": str(layout.work_tree),
            "branch": branch.stdout.strip() if branch.ok and branch.stdout.strip() else None,
            "head": head_commit or None,
            "detached": branch.exit_code == 1 and bool(head_commit),
        }
    )
    if status.ok:
        changes = _parse_status(status.stdout)
        if status.truncated:  # the last entry may be cut
            changes = changes[:-1]
            report["status_truncated"] = True
        report["clean"] = not changes and not status.truncated
        report["status"] = changes
    else:
        report["clean"] = None
        report["status"] = []
        report["status_error"] = _failure(status, timeout)
    log: List[Dict[str, str]] = []
    if head_commit:
        out = git(["log", f"-n{log_count}", "--date=iso-strict", "--pretty=format:%H%x1f%an%x1f%ad%x1f%s"])
        if out.ok:
            for line in out.stdout.splitlines():
                parts = line.split("\x1f")
                if len(parts) == 4:
                    log.append({"commit": parts[0], "author": parts[1], "date": parts[2], "subject": parts[3]})
        else:
            report["log_error"] = _failure(out, timeout)
    report["log"] = log
    return report


class GitRepositories:
    """The Git repositories of a workspace's roots, behind the ``workspace://git`` resource.

    Made when the server starts, before any client could write anything: each root's repository
    is looked for once, as far up as git goes, and that fixes how far up later looks may go
    (``GIT_CEILING_DIRECTORIES``): the top of the checkout the root was in, or the root itself.

    Args:
        roots: the workspace roots (real paths).
        run: runs git (see :data:`Runner`).
        timeout: seconds the look at start may take for all roots, and each root's report.

    Attributes:
        found: whether some root was in a repository at start (the resource is offered then).

    Example:
        repositories = GitRepositories(workspace.roots, runner)
        repositories.found, [info["root"] for info in repositories.report()["repositories"]]
        # -> (True, ['/work/project'])
    """

    def __init__(self, roots: Sequence[Path], run: Runner, *, timeout: float = GIT_TIMEOUT) -> None:
        self.roots: Tuple[Path, ...] = tuple(roots)
        self._run = run
        self._timeout = timeout
        self._ceilings: Dict[Path, Optional[Path]] = {}
        self.found = False
        deadline = time.monotonic() + timeout
        for root in self.roots:
            left = deadline - time.monotonic()
            layout, _ = _locate(root, run, None, left) if left > 0 else (None, None)
            top = root
            if layout is not None:
                self.found = True
                if _inside(root, layout.work_tree):
                    top = layout.work_tree
                refusal, _ = _check(root, layout, self.roots, run, max(0.0, deadline - time.monotonic()))
                if refusal is not None:
                    logger.warning("workspace://git will show nothing of %s: %s", root, refusal)
            self._ceilings[root] = top.parent if top.parent != top else None

    def report(self) -> Dict[str, Any]:
        """``{"repositories": [...]}``: :func:`git_info` of each root in a repository."""
        infos = (
            git_info(root, roots=self.roots, run=self._run, ceiling=self._ceilings.get(root), timeout=self._timeout)
            for root in self.roots
        )
        return {"repositories": [info for info in infos if info is not None]}


_tools_lock = threading.Lock()
_tools_cache: Tuple[float, Dict[str, Optional[str]]] = (0.0, {})


def _tool_versions(run: Runner) -> Dict[str, Optional[str]]:
    global _tools_cache
    with _tools_lock:
        stamp, cached = _tools_cache
        if cached and time.monotonic() - stamp < _TOOLS_TTL:
            return dict(cached)
    deadline = time.monotonic() + _PROBE_TIMEOUT
    environment = _git_environment({})

    def probe(tool: Tuple[str, str]) -> Tuple[str, Optional[str]]:
        name, flag = tool
        path = shutil.which(name)
        left = deadline - time.monotonic()
        if path is None or left <= 0:
            return name, None
        output = run([path, flag], Path("/"), environment, left, None)
        text = (output.stdout or output.stderr).strip().splitlines()
        return name, (text[0] if text else "") if output.ok else None

    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="syncmcp-probe") as pool:
        versions = dict(pool.map(probe, _TOOLS))
    with _tools_lock:
        _tools_cache = (time.monotonic(), versions)
    return dict(versions)


def environment_info(run: Runner) -> Dict[str, Any]:
    """The operating system, Python, and the versions of common developer tools.

    Args:
        run: runs each tool's version probe.

    Example:
        sorted(environment_info(runner))
        # -> ['cpu_count', 'os', 'python', 'shell', 'syncmcp', 'tools']
    """
    return {
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "syncmcp": __version__,
        "cpu_count": os.cpu_count(),
        "shell": {name: os.environ[name] for name in _SAFE_VARIABLES if name in os.environ},
        "tools": _tool_versions(run),
    }

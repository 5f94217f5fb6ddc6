"""Facts the workspace server publishes as resources: Git state, the environment, its configuration.

Nothing here reveals a secret: the environment report names tools and versions but copies no
environment variable except a few harmless ones (shell, locale, terminal), and
:func:`redact` masks every value whose key looks like a credential and the user information
(``user:password@``) of every URL.

Git runs with a minimal environment and with every repository setting that could start a
program switched off (``core.fsmonitor``, filter drivers, hooks, signature checks): a client
allowed to write ``.git/config`` must not get a command run, outside any sandbox, by reading
``workspace://git``.

Example:
    >>> redact({"token": "abc", "nested": {"api_key": "x", "path": "/w"}, "items": [{"password": "p"}]})
    {'token': '***', 'nested': {'api_key': '***', 'path': '/w'}, 'items': [{'password': '***'}]}
    >>> redact({"database": "postgres://app:hunter2@db:5432/app"})
    {'database': 'postgres://***@db:5432/app'}
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..._stdio import child_environment
from ..._version import __version__

__all__ = ["REDACTED", "environment_info", "git_available", "git_info", "is_git_repository", "redact", "redact_urls"]

#: What a secret value is replaced with.
REDACTED = "***"
_SECRET_KEY = re.compile(
    r"(token|secret|passw(or)?d|passphrase|api[_-]?key|private[_-]?key|credential|auth|cookie|session)", re.I
)
#: ``scheme://userinfo@`` in a URL (the user information may hold a password or a token).
_URL_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@")
#: Settings that make ``git status`` / ``git log`` start programs, switched off on every run.
_GIT_SAFETY: Tuple[str, ...] = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "log.showSignature=false",
    "-c", "diff.external=",
    "--no-pager",
)  # fmt: skip
#: Repository settings naming a program to run, found with ``git config --get-regexp``.
_GIT_PROGRAM_KEYS = r"^(filter|diff)\..*\.(clean|smudge|process|textconv|command)$"
#: Seconds any one git or ``--version`` probe may take.
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


def _run(argv: List[str], cwd: Optional[Path] = None) -> Tuple[int, str, str]:
    environment, _ = child_environment({"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    try:
        done = subprocess.run(
            argv,
            cwd=str(cwd) if cwd else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_PROBE_TIMEOUT,
            check=False,
            start_new_session=True,
            env=environment,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return -1, "", str(exc)
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def _git(root: Path) -> List[str]:
    """``git`` with every setting of the repository at ``root`` that would start a program turned off."""
    command = ["git", *_GIT_SAFETY]
    # Reading the configuration runs nothing; each program-valued key found is then emptied,
    # which git takes as "no such program".
    code, out, _ = _run([*command, "config", "-z", "--includes", "--name-only", "--get-regexp", _GIT_PROGRAM_KEYS], root)
    if code == 0:
        for name in dict.fromkeys(out.split("\0")):
            if name:
                command += ["-c", f"{name}="]
    return command


def git_available() -> bool:
    """Whether a ``git`` executable is on the ``PATH``."""
    return shutil.which("git") is not None


def is_git_repository(root: Path) -> bool:
    """Whether ``root`` lies inside a Git work tree.

    Example:
        >>> is_git_repository(Path("/"))
        False
    """
    if not git_available():
        return False
    code, out, _ = _run(["git", *_GIT_SAFETY, "rev-parse", "--is-inside-work-tree"], root)
    return code == 0 and out.strip() == "true"


def git_info(root: Path, *, log_count: int = 20) -> Optional[Dict[str, Any]]:
    """Branch, HEAD, status and recent commits of the repository at ``root`` (``None`` if none).

    Example:
        >>> git_info(Path("/")) is None
        True
    """
    if not is_git_repository(root):
        return None
    git = _git(root)
    _, toplevel, _ = _run([*git, "rev-parse", "--show-toplevel"], root)
    code, branch, _ = _run([*git, "symbolic-ref", "--short", "-q", "HEAD"], root)
    _, head, _ = _run([*git, "rev-parse", "-q", "--verify", "HEAD"], root)
    # Submodules are not entered: each would be another repository with its own settings.
    _, status, _ = _run([*git, "status", "--porcelain=v1", "-z", "--untracked-files=normal", "--ignore-submodules=all"], root)
    changes = []
    entries = status.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code_text, path = entry[:2], entry[3:]
        item = {"status": code_text, "path": path}
        if code_text[0] in "RC" and index < len(entries):
            item["from"] = entries[index]
            index += 1
        changes.append(item)
    log: List[Dict[str, str]] = []
    if head.strip():
        _, out, _ = _run([*git, "log", f"-n{log_count}", "--date=iso-strict", "--pretty=format:%H%x1f%an%x1f%ad%x1f%s"], root)
        for line in out.splitlines():
            parts = line.split("\x1f")
            if len(parts) == 4:
                log.append({"commit": parts[0], "author": parts[1], "date": parts[2], "subject": parts[3]})
    return {
        "root": str(root),
        "toplevel": toplevel.strip(),
        "branch": branch.strip() if code == 0 and branch.strip() else None,
        "head": head.strip() or None,
        "detached": code != 0 and bool(head.strip()),
        "clean": not changes,
        "status": changes,
        "log": log,
    }


_tools_lock = threading.Lock()
_tools_cache: Tuple[float, Dict[str, Optional[str]]] = (0.0, {})


def _tool_versions() -> Dict[str, Optional[str]]:
    global _tools_cache
    with _tools_lock:
        stamp, cached = _tools_cache
        if cached and time.monotonic() - stamp < _TOOLS_TTL:
            return dict(cached)

    def probe(tool: Tuple[str, str]) -> Tuple[str, Optional[str]]:
        name, flag = tool
        path = shutil.which(name)
        if path is None:
            return name, None
        code, out, err = _run([path, flag])
        text = (out or err).strip().splitlines()
        return name, (text[0] if text else "") if code == 0 else None

    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="syncmcp-probe") as pool:
        versions = dict(pool.map(probe, _TOOLS))
    with _tools_lock:
        _tools_cache = (time.monotonic(), versions)
    return dict(versions)


def environment_info() -> Dict[str, Any]:
    """The operating system, Python, and the versions of common developer tools.

    Example:
        >>> sorted(environment_info())
        ['cpu_count', 'os', 'python', 'shell', 'syncmcp', 'tools']
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
        "tools": _tool_versions(),
    }

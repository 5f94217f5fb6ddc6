"""The workspace: its roots, the sandbox policy in force, and the check every path goes through.

Every path a tool or resource receives is resolved first (relative to the workspace's working
folder, ``..`` collapsed, every symbolic link followed), and only the resolved path is checked:

* ``read-only``: reads inside the roots; every write is refused.
* ``workspace-write``: reads inside the roots; writes only inside the writable roots (the
  policy's ``writable_roots`` and ``cwd``, as far as they lie inside the server's roots).
* ``danger-full-access``: no path limits.

The policy starts as the server was told on its command line and follows every sandbox-state
update the client sends (the latest wins), up to the operator's ceiling (``max_policy``, the
``--max-sandbox`` option): an update above it is refused and changes nothing.

Example:
    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> workspace = Workspace([root], "read-only")
    >>> workspace.resolve("notes.txt") == Path(root).resolve() / "notes.txt"
    True
    >>> workspace.resolve("notes.txt", write=True)
    Traceback (most recent call last):
    ...
    syncmcp.server.workspace._paths.SandboxViolation: writing 'notes.txt' is refused: the sandbox policy is read-only
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

from ..._sandbox import SANDBOX_POLICIES, SandboxState
from .._errors import ToolError

__all__ = ["SandboxCeilingError", "SandboxViolation", "Workspace"]


class SandboxViolation(ToolError):
    """A path or an action the sandbox policy refuses (a tool answers it as an ``isError`` result).

    Example:
        >>> str(SandboxViolation("writing is refused"))
        'writing is refused'
    """


class SandboxCeilingError(ValueError):
    """A sandbox-state update asks for more than the operator allows; the policy is unchanged.

    Example:
        >>> import tempfile
        >>> workspace = Workspace([tempfile.mkdtemp()], "read-only", max_policy="read-only")
        >>> try:
        ...     workspace.update(SandboxState("danger-full-access", "/"))
        ... except SandboxCeilingError as exc:
        ...     print(exc.ceiling, workspace.state.policy)
        read-only read-only
    """

    def __init__(self, message: str, ceiling: str) -> None:
        super().__init__(message)
        self.ceiling = ceiling


def _rank(policy: str) -> int:
    return SANDBOX_POLICIES.index(policy)


def _real(path: Union[str, Path]) -> Path:
    return Path(os.path.realpath(path))


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


class Workspace:
    """Roots plus the current sandbox state; thread-safe.

    Args:
        roots: the folders the server works on (they must exist).
        policy: the policy before any update: ``read-only``, ``workspace-write`` or
            ``danger-full-access``.
        network_access: whether commands may use the network under ``workspace-write`` (only
            enforceable with an OS sandbox).
        max_policy: the most permissive policy an update may set (the operator's ceiling).
            Below ``danger-full-access`` it also keeps the network off unless
            ``network_access`` allowed it.

    Attributes:
        roots: the resolved roots.
        initial_policy: the policy the operator started with.
        max_policy: the ceiling.

    Raises:
        ValueError: no roots, a root that is not a folder, an unknown policy, or a starting
            policy above the ceiling.

    Example:
        >>> import tempfile
        >>> workspace = Workspace([tempfile.mkdtemp()])
        >>> workspace.update(SandboxState("read-only", str(workspace.roots[0])))
        >>> workspace.state.policy
        'read-only'
    """

    def __init__(
        self,
        roots: Sequence[Union[str, Path]],
        policy: str = "workspace-write",
        *,
        network_access: bool = False,
        max_policy: str = "danger-full-access",
    ) -> None:
        if not roots:
            raise ValueError("a workspace needs at least one root folder")
        resolved: List[Path] = []
        for root in roots:
            real = _real(root)
            if not real.is_dir():
                raise ValueError(f"workspace root {str(root)!r} is not a folder")
            if real not in resolved:
                resolved.append(real)
        for given in (policy, max_policy):
            if given not in SANDBOX_POLICIES:
                raise ValueError(f"sandbox policy must be one of {', '.join(SANDBOX_POLICIES)}, got {given!r}")
        if _rank(policy) > _rank(max_policy):
            raise ValueError(f"the sandbox policy {policy!r} is above the ceiling {max_policy!r}")
        self.roots: Tuple[Path, ...] = tuple(resolved)
        self.initial_policy = policy
        self.max_policy = max_policy
        self._network_allowed = network_access or max_policy == "danger-full-access"
        self._lock = threading.Lock()
        self._state = SandboxState(
            policy,
            str(self.roots[0]),
            writable_roots=tuple(str(root) for root in self.roots),
            network_access=network_access,
        )
        self._updates = 0

    def __repr__(self) -> str:
        return f"<Workspace {[str(r) for r in self.roots]} {self.state.policy}>"

    # ------------------------------------------------------------------------- policy

    @property
    def state(self) -> SandboxState:
        """The sandbox state in force."""
        return self._state

    @property
    def updates(self) -> int:
        """How many sandbox-state updates were received."""
        return self._updates

    @property
    def lifted_by_client(self) -> bool:
        """Whether the policy in force is more permissive than the operator's starting policy."""
        return _rank(self._state.policy) > _rank(self.initial_policy)

    def update(self, state: SandboxState) -> None:
        """Adopt a new sandbox state (from the client's update request), within the ceiling.

        Raises:
            SandboxCeilingError: the state asks for a policy above :attr:`max_policy`, or for
                network access the operator did not allow under a ceiling; nothing changes.
        """
        current = self._state.policy
        if _rank(state.policy) > _rank(self.max_policy):
            raise SandboxCeilingError(
                f"sandbox policy {state.policy!r} refused: this server's ceiling is {self.max_policy!r} "
                f"(set by its operator with --max-sandbox); the policy stays {current!r}",
                self.max_policy,
            )
        if state.policy == "workspace-write" and state.network_access and not self._network_allowed:
            raise SandboxCeilingError(
                f"network access refused: this server's ceiling is {self.max_policy!r} (--max-sandbox) and its "
                f"operator did not allow the network (--network); the policy stays {current!r}",
                self.max_policy,
            )
        with self._lock:
            self._state = state
            self._updates += 1

    def writable_roots(self, state: Optional[SandboxState] = None) -> Tuple[Path, ...]:
        """Where writes are allowed under ``workspace-write``.

        The policy's writable roots (``cwd`` included), narrowed to the server's roots.
        """
        state = state or self._state
        if state.policy == "read-only":
            return ()
        if state.policy == "danger-full-access":
            return (Path("/"),)
        allowed: List[Path] = []
        for candidate in (*state.writable_roots, state.cwd):
            if not candidate:
                continue
            writable = _real(candidate)
            for root in self.roots:
                narrowed = writable if _inside(writable, root) else root if _inside(root, writable) else None
                if narrowed is not None and narrowed not in allowed:
                    allowed.append(narrowed)
        return tuple(allowed)

    def cwd(self) -> Path:
        """The folder relative paths start from: the policy's ``cwd`` if readable, else the first root."""
        state = self._state
        cwd = _real(state.cwd) if state.cwd else self.roots[0]
        if state.policy == "danger-full-access" and cwd.is_dir():
            return cwd
        if self.root_of(cwd) is not None and cwd.is_dir():
            return cwd
        return self.roots[0]

    def root_of(self, path: Path) -> Optional[Path]:
        """The root containing ``path`` (resolved), or ``None``."""
        for root in self.roots:
            if _inside(path, root):
                return root
        return None

    # ------------------------------------------------------------------------- checks

    def resolve(self, path: str, *, write: bool = False, base: Optional[Path] = None) -> Path:
        """Resolve ``path`` and check it against the policy; the real path to use.

        Args:
            path: absolute, or relative to ``base`` (default :meth:`cwd`).
            write: the caller will create, change or delete it.
            base: the folder relative paths start from.

        Raises:
            SandboxViolation: the policy refuses it; the message says why (``..``, an
                absolute path, or a symbolic link leaving the roots; a write outside the
                writable roots; the read-only policy).

        Example:
            workspace.resolve("src/../README.md")
            # -> PosixPath('/work/project/README.md')
            workspace.resolve("../elsewhere")
            # -> Traceback (most recent call last):
            # -> SandboxViolation: path '../elsewhere' leaves the workspace with '..': ...
        """
        state, candidate = self._candidate(path, write, base)
        return self._check(path, candidate, _real(candidate), state, write)

    def resolve_entry(self, path: str, *, write: bool = False, base: Optional[Path] = None) -> Path:
        """Like :meth:`resolve`, but a final symbolic link is not followed: the entry itself.

        The folder holding the entry is resolved and the entry's own location is checked, so
        deleting a link inside the roots removes the link, wherever it points.

        Raises:
            SandboxViolation: the policy refuses the entry's location.

        Example:
            workspace.resolve_entry("link-to-elsewhere", write=True)
            # -> PosixPath('/work/project/link-to-elsewhere')
        """
        state, candidate = self._candidate(path, write, base)
        if candidate.name in ("", ".", ".."):
            return self._check(path, candidate, _real(candidate), state, write)
        return self._check(path, candidate, _real(candidate.parent) / candidate.name, state, write)

    def _candidate(self, path: str, write: bool, base: Optional[Path]) -> Tuple[SandboxState, Path]:
        if not isinstance(path, str) or not path.strip():
            raise SandboxViolation("a path must be a non-empty string")
        if "\x00" in path:
            raise SandboxViolation("a path must not contain NUL characters")
        state = self._state
        if write and state.policy == "read-only":
            raise SandboxViolation(f"writing {path!r} is refused: the sandbox policy is read-only")
        start = base if base is not None else self.cwd()
        return state, Path(path) if os.path.isabs(path) else start / path

    def _check(self, path: str, candidate: Path, real: Path, state: SandboxState, write: bool) -> Path:
        if state.policy == "danger-full-access":
            return real
        if self.root_of(real) is None:
            raise SandboxViolation(self._escape_reason(path, candidate, real, state))
        if write:
            writable = self.writable_roots(state)
            if not any(_inside(real, root) for root in writable):
                places = ", ".join(str(root) for root in writable) or "none"
                raise SandboxViolation(
                    f"writing {path!r} is refused: it resolves to {real}, outside the writable roots ({places}) "
                    f"of the {state.policy} sandbox policy"
                )
        return real

    def check_inside(self, real: Path, what: str) -> None:
        """Refuse an already-resolved path that is outside the roots (unless full access).

        Raises:
            SandboxViolation: it is outside.
        """
        if self._state.policy != "danger-full-access" and self.root_of(_real(real)) is None:
            raise SandboxViolation(f"{what} {real} is outside the workspace roots ({self._roots_text()})")

    def _roots_text(self) -> str:
        return ", ".join(str(root) for root in self.roots)

    def _escape_reason(self, path: str, candidate: Path, real: Path, state: SandboxState) -> str:
        lexical = Path(os.path.normpath(candidate))
        roots = self._roots_text()
        suffix = f"; refused by the {state.policy} sandbox policy"
        if self.root_of(lexical) is not None:
            return (
                f"path {path!r} escapes the workspace through a symbolic link: it resolves to {real}, "
                f"outside the roots ({roots}){suffix}"
            )
        if ".." in Path(path).parts:
            return f"path {path!r} leaves the workspace with '..': it resolves to {real}, outside the roots ({roots}){suffix}"
        if os.path.isabs(path):
            return f"absolute path {path!r} is outside the workspace roots ({roots}){suffix}"
        return f"path {path!r} resolves to {real}, outside the workspace roots ({roots}){suffix}"

    def display(self, real: Path) -> str:
        """``real`` relative to its root when inside one (for messages and listings)."""
        root = self.root_of(real)
        if root is None:
            return str(real)
        relative = real.relative_to(root)
        if len(self.roots) > 1:
            return str(root / relative)
        return str(relative) if str(relative) != "." else "."

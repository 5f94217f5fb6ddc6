"""Which files a workspace listing skips: version-control folders and ``.gitignore`` patterns.

The patterns follow git's rules for the common cases: ``#`` comments, ``!`` negation, a
trailing ``/`` for directories only, a ``/`` inside a pattern anchors it to the ``.gitignore``'s
folder (otherwise it matches at any depth), ``*``, ``?``, ``[...]`` and ``**``. The last match
wins, and a folder that is ignored is not entered. ``.gitignore`` files are read from the root
down to every folder walked, plus the repository's ``.git/info/exclude``.

Example:
    >>> rules = IgnoreRules.from_lines(Path("/w"), ["*.pyc", "build/", "!keep.pyc"])
    >>> rules.ignored(Path("/w/src/a.pyc"), False), rules.ignored(Path("/w/keep.pyc"), False)
    (True, False)
    >>> rules.ignored(Path("/w/build"), True), rules.ignored(Path("/w/build"), False)
    (True, False)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Pattern, Tuple

from ._files import opened_path, read_bytes

__all__ = ["VCS_DIRECTORIES", "Entry", "IgnoreRules", "rules_for", "walk"]

#: Folders of version-control systems: never listed.
VCS_DIRECTORIES = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".jj", ".pijul", ".fslckout"})
#: Largest ``.gitignore`` read (bigger ones are ignored as a precaution).
_MAX_IGNORE_FILE = 256 * 1024
#: Flags of a folder opened to list it.
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
#: Whether a folder can be listed through a descriptor (so the folder listed is the one checked).
_SCAN_BY_DESCRIPTOR = hasattr(os, "O_DIRECTORY") and os.scandir in os.supports_fd


@dataclass(frozen=True)
class _Rule:
    base: str  # the folder of the .gitignore, as a string with no trailing slash
    regex: Pattern[str]
    negate: bool
    directory_only: bool


def _translate(pattern: str) -> str:
    """A gitignore glob (without anchoring slashes) as a regular expression body."""
    out: List[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                before_ok = i == 0 or pattern[i - 1] == "/"
                after = pattern[i + 2 : i + 3]
                if before_ok and after == "/":
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                if before_ok and i + 2 == n:
                    out.append(".*")
                    i += 2
                    continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _compile(line: str, base: str) -> Optional[_Rule]:
    line = line.rstrip("\n").rstrip("\r")
    if not line.strip() or line.startswith("#"):
        return None
    # Trailing spaces are ignored unless escaped with a backslash.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped
    negate = line.startswith("!")
    if negate or line.startswith(("\\!", "\\#")):
        line = line[1:]
    directory_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    body = _translate(line)
    regex = "^" + body + "$" if anchored else "^(?:.*/)?" + body + "$"
    return _Rule(base, re.compile(regex, re.DOTALL), negate, directory_only)


class IgnoreRules:
    """An ordered set of ignore rules, each relative to the folder of the file it came from."""

    def __init__(self, rules: Tuple[_Rule, ...] = ()) -> None:
        self._rules = rules

    @classmethod
    def from_lines(cls, base: Path, lines: Iterable[str], parent: Optional[IgnoreRules] = None) -> IgnoreRules:
        """Rules from ``.gitignore`` lines located in ``base``, after ``parent``'s rules.

        Example:
            >>> IgnoreRules.from_lines(Path("/w"), ["/dist"]).ignored(Path("/w/src/dist"), True)
            False
        """
        compiled = tuple(rule for rule in (_compile(line, str(base)) for line in lines) if rule is not None)
        inherited = parent._rules if parent is not None else ()
        return cls(inherited + compiled)

    def extended(self, directory: Path) -> IgnoreRules:
        """These rules plus ``directory/.gitignore`` (if any)."""
        lines = _read_lines(directory / ".gitignore")
        return IgnoreRules.from_lines(directory, lines, self) if lines else self

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Whether ``path`` (absolute) is ignored by these rules.

        Example:
            >>> IgnoreRules.from_lines(Path("/w"), ["logs/**"]).ignored(Path("/w/logs/a/b.txt"), False)
            True
        """
        text = str(path)
        result = False
        for rule in self._rules:
            if rule.directory_only and not is_dir:
                continue
            if text == rule.base or not text.startswith(rule.base.rstrip("/") + "/"):
                continue
            relative = text[len(rule.base.rstrip("/")) + 1 :]
            if rule.regex.match(relative):
                result = not rule.negate
        return result


def _read_lines(path: Path) -> List[str]:
    # A .gitignore (or .git/info/exclude) that is a FIFO must not block the listing: only
    # regular files are read, without ever blocking in open(). Nor is one that is a link (as
    # git does), or reached through one: its lines would tell what a file elsewhere says.
    try:
        return read_bytes(path, _MAX_IGNORE_FILE, exact=True).decode("utf-8", "replace").splitlines()
    except (OSError, ValueError):  # missing, not a regular file, or too large
        return []


def rules_for(root: Path, directory: Path) -> IgnoreRules:
    """The rules in force in ``directory``: ``.git/info/exclude`` and every ``.gitignore`` from ``root`` down.

    Example:
        >>> rules_for(Path("/nonexistent"), Path("/nonexistent/a")).ignored(Path("/nonexistent/a/x"), False)
        False
    """
    rules = IgnoreRules.from_lines(root, _read_lines(root / ".git" / "info" / "exclude"))
    rules = rules.extended(root)
    try:
        relative = directory.relative_to(root)
    except ValueError:
        return rules
    current = root
    for part in relative.parts:
        current = current / part
        rules = rules.extended(current)
    return rules


@dataclass(frozen=True)
class Entry:
    """One item of a walk: its path, kind and depth (1 = directly in the start folder)."""

    path: Path
    is_dir: bool
    is_symlink: bool
    depth: int


def walk(root: Path, start: Path, max_depth: int, *, include_hidden: bool = True) -> Iterator[Entry]:
    """Entries under ``start`` (itself under ``root``, both real paths), depth first, sorted by name.

    Skips version-control folders and what the ignore rules exclude, never follows symbolic
    links to folders, and stops ``max_depth`` levels down. Unreadable folders are skipped, and
    so is a folder replaced by a link after it was seen (where ``/proc`` tells).

    Example:
        >>> list(walk(Path("/nonexistent"), Path("/nonexistent"), 2))
        []
    """
    yield from _walk(start, rules_for(root, start), 1, max_depth, include_hidden)


def _scan(directory: Path) -> List[Tuple[str, bool, bool]]:
    """``(name, is_dir, is_symlink)`` of the entries of ``directory``, sorted by name; links not followed.

    The folder is opened and the kernel asked where it is: one replaced by a link meanwhile
    is not listed.
    """
    found: List[Tuple[str, bool, bool]] = []
    if _SCAN_BY_DESCRIPTOR:
        descriptor = os.open(directory, _DIR_FLAGS)
        try:
            if opened_path(descriptor) not in (None, str(directory)):
                return []
            # Every question about an entry is asked while the descriptor is open.
            with os.scandir(descriptor) as scanner:
                for item in scanner:
                    try:
                        found.append((item.name, item.is_dir(follow_symlinks=False), item.is_symlink()))
                    except OSError:
                        continue
        finally:
            os.close(descriptor)
    else:  # pragma: no cover - platforms without scandir on a descriptor
        with os.scandir(directory) as scanner:
            for item in scanner:
                try:
                    found.append((item.name, item.is_dir(follow_symlinks=False), item.is_symlink()))
                except OSError:
                    continue
    return sorted(found)


def _walk(directory: Path, rules: IgnoreRules, depth: int, max_depth: int, include_hidden: bool) -> Iterator[Entry]:
    try:
        items = _scan(directory)
    except OSError:
        return
    for name, is_dir, is_symlink in items:
        if not include_hidden and name.startswith("."):
            continue
        if is_dir and name in VCS_DIRECTORIES:
            continue
        path = directory / name
        if rules.ignored(path, is_dir or (is_symlink and _is_dir(path))):
            continue
        yield Entry(path, is_dir, is_symlink, depth)
        if is_dir and depth < max_depth:
            yield from _walk(path, rules.extended(path), depth + 1, max_depth, include_hidden)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False

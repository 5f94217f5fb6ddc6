r"""Patches in two formats, parsed and applied in memory: nothing touches a disk here.

**Codex's envelope** (what Codex's models write)::

    *** Begin Patch
    *** Add File: docs/new.md
    +first line
    *** Update File: src/app.py
    *** Move to: src/main.py
    @@ def main():
    -    print("hi")
    +    print("hello")
    *** End of File
    *** Delete File: old.txt
    *** End Patch

An ``@@`` line may name a line to find first (a function header); the first hunk of a file may
omit it; ``*** End of File`` anchors a hunk at the end. Context is found by searching forward,
exactly, then ignoring trailing whitespace, then ignoring surrounding whitespace, then with
typographic quotes and dashes folded to ASCII. A heredoc wrapper (``<<'EOF'`` … ``EOF``) is
tolerated.

**Unified diffs** (``diff -u``, ``git diff``): ``---``/``+++`` headers (``a/``/``b/`` prefixes
stripped, ``/dev/null`` for added and deleted files), ``@@ -l,s +l,s @@`` hunks placed at their
line numbers or, if the file moved on, at the nearest place the context matches; git's
``rename from``/``rename to`` and ``\ No newline at end of file`` are understood.

:func:`plan` computes every file's new text before anything is written, so a patch applies
completely or not at all; a failure names the file and the hunk.

Example:
    >>> ops = parse_patch("*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+uno\n*** End Patch")
    >>> [(c.action, c.path, c.new_text) for c in plan(ops, {"a.txt": "one\ntwo\n"}.get)]
    [('M', 'a.txt', 'uno\ntwo\n')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

__all__ = [
    "AddFile",
    "Change",
    "Chunk",
    "DeleteFile",
    "Operation",
    "PatchError",
    "UnifiedHunk",
    "UpdateFile",
    "parse_codex_patch",
    "parse_patch",
    "parse_unified_diff",
    "plan",
]


class PatchError(ValueError):
    """The patch is malformed or does not apply; the message names the file and hunk.

    Example:
        >>> try:
        ...     parse_patch("not a patch")
        ... except PatchError as exc:
        ...     print(str(exc).split(":")[0])
        not a patch
    """


@dataclass(frozen=True)
class AddFile:
    """Create ``path`` with ``text``."""

    path: str
    text: str


@dataclass(frozen=True)
class DeleteFile:
    """Delete ``path``."""

    path: str


HunkLine = Tuple[str, str]  # (" " context | "-" removed | "+" added, text)


def _old(lines: Tuple[HunkLine, ...]) -> Tuple[str, ...]:
    return tuple(text for kind, text in lines if kind in (" ", "-"))


def _new(lines: Tuple[HunkLine, ...]) -> Tuple[str, ...]:
    return tuple(text for kind, text in lines if kind in (" ", "+"))


def _replacement(lines: Tuple[HunkLine, ...], matched: List[str]) -> List[str]:
    """The new lines of a hunk, with context lines taken from the file as it is.

    Context matched loosely (other trailing spaces, typographic quotes) keeps the file's text.
    """
    result: List[str] = []
    position = 0
    for kind, text in lines:
        if kind == " ":
            result.append(matched[position] if position < len(matched) else text)
            position += 1
        elif kind == "-":
            position += 1
        else:
            result.append(text)
    return result


@dataclass(frozen=True)
class Chunk:
    """One hunk of a Codex ``Update File``: an optional ``@@`` line to find first, then its lines."""

    context: Optional[str]
    lines: Tuple[HunkLine, ...]
    end_of_file: bool = False

    @property
    def old(self) -> Tuple[str, ...]:
        """The lines to find (context and removed)."""
        return _old(self.lines)

    @property
    def new(self) -> Tuple[str, ...]:
        """What they become (context and added)."""
        return _new(self.lines)


@dataclass(frozen=True)
class UnifiedHunk:
    """One ``@@ -old_start,old_count +new_start,new_count @@`` hunk of a unified diff."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: Tuple[HunkLine, ...]
    old_eof_newline: bool = True
    new_eof_newline: bool = True

    @property
    def header(self) -> str:
        return f"@@ -{self.old_start},{self.old_count} +{self.new_start},{self.new_count} @@"


@dataclass(frozen=True)
class UpdateFile:
    """Change ``path`` (and maybe move it to ``move_to``) with Codex chunks or unified hunks."""

    path: str
    move_to: Optional[str] = None
    chunks: Tuple[Chunk, ...] = ()
    hunks: Tuple[UnifiedHunk, ...] = ()


Operation = Union[AddFile, DeleteFile, UpdateFile]


@dataclass
class Change:
    """The outcome for one file: ``A`` (added), ``M`` (modified, maybe moved) or ``D`` (deleted).

    ``new_path`` is set when a modification moves the file; ``new_text`` is ``None`` for a
    deletion.
    """

    action: str
    path: str
    new_text: Optional[str]
    new_path: Optional[str] = None
    old_text: Optional[str] = field(default=None, repr=False)


# ----------------------------------------------------------------------------------- parsing


def parse_patch(text: str) -> List[Operation]:
    r"""Parse either format (detected from the text).

    Raises:
        PatchError: the text is neither format, or is malformed.

    Example:
        >>> parse_patch("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")[0].path
        'x'
    """
    if not isinstance(text, str) or not text.strip():
        raise PatchError("the patch is empty")
    body = _strip_heredoc(text)
    if body.lstrip().startswith("*** Begin Patch"):
        return parse_codex_patch(body)
    if re.search(r"^(--- |diff --git )", body, re.MULTILINE):
        return parse_unified_diff(body)
    raise PatchError(
        "not a patch: expected '*** Begin Patch' (Codex format) or a unified diff ('--- a/file', '+++ b/file', '@@')"
    )


def _strip_heredoc(text: str) -> str:
    lines = text.strip("\n").split("\n")
    if len(lines) >= 2 and re.match(r"^\s*(?:\S+\s+)?<<-?\s*['\"]?EOF['\"]?\s*$", lines[0]) and lines[-1].strip() == "EOF":
        return "\n".join(lines[1:-1])
    return text


_ADD = "*** Add File: "
_DELETE = "*** Delete File: "
_UPDATE = "*** Update File: "
_MOVE = "*** Move to: "
_EOF_MARK = "*** End of File"


def parse_codex_patch(text: str) -> List[Operation]:
    """Parse Codex's ``*** Begin Patch`` envelope.

    Raises:
        PatchError: malformed; the message gives the line number.
    """
    lines = text.strip().split("\n")
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if lines[0].strip() != "*** Begin Patch":
        raise PatchError("line 1: the patch must start with '*** Begin Patch'")
    if lines[-1].strip() != "*** End Patch":
        raise PatchError(f"line {len(lines)}: the patch must end with '*** End Patch'")
    ops: List[Operation] = []
    index = 1
    end = len(lines) - 1
    while index < end:
        line = lines[index]
        if line.startswith(_ADD):
            path = _path(line[len(_ADD) :], index)
            index += 1
            content: List[str] = []
            while index < end and lines[index].startswith("+"):
                content.append(lines[index][1:])
                index += 1
            ops.append(AddFile(path, "\n".join(content) + "\n" if content else ""))
        elif line.startswith(_DELETE):
            ops.append(DeleteFile(_path(line[len(_DELETE) :], index)))
            index += 1
        elif line.startswith(_UPDATE):
            path = _path(line[len(_UPDATE) :], index)
            index += 1
            move_to = None
            if index < end and lines[index].startswith(_MOVE):
                move_to = _path(lines[index][len(_MOVE) :], index)
                index += 1
            chunks, index = _parse_chunks(lines, index, end, path)
            if not chunks and move_to is None:
                raise PatchError(f"line {index}: Update File {path} has no hunks")
            ops.append(UpdateFile(path, move_to, tuple(chunks)))
        elif not line.strip():
            index += 1
        else:
            raise PatchError(
                f"line {index + 1}: expected '*** Add File:', '*** Delete File:' or '*** Update File:', got {line!r}"
            )
    if not ops:
        raise PatchError("the patch changes no file")
    return ops


def _path(raw: str, index: int) -> str:
    path = raw.strip()
    if not path:
        raise PatchError(f"line {index + 1}: a file operation needs a path")
    return path


def _parse_chunks(lines: List[str], index: int, end: int, path: str) -> Tuple[List[Chunk], int]:
    chunks: List[Chunk] = []
    first = True
    while index < end and (not lines[index].startswith("*** ") or lines[index] == _EOF_MARK):
        line = lines[index]
        context: Optional[str] = None
        if line.startswith("@@"):
            context = line[2:].strip() or None
            index += 1
        elif not first:
            raise PatchError(f"line {index + 1}: expected '@@' to start the next hunk of {path}, got {line!r}")
        first = False
        body: List[HunkLine] = []
        eof = False
        start = index
        while index < end:
            line = lines[index]
            if line == _EOF_MARK:
                eof = True
                index += 1
                break
            if line.startswith("@@") or line.startswith("*** "):
                break
            marker, rest = (line[:1], line[1:]) if line else (" ", "")
            if marker in (" ", "-", "+"):
                body.append((marker, rest))
            else:
                raise PatchError(
                    f"line {index + 1}: in hunk {len(chunks) + 1} of {path}, a line must start with ' ', '-' or '+', got {line!r}"
                )
            index += 1
        if index == start and context is None and not eof:
            break
        if not body and context is None:
            raise PatchError(f"line {start}: hunk {len(chunks) + 1} of {path} is empty")
        chunks.append(Chunk(context, tuple(body), eof))
    return chunks, index


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def parse_unified_diff(text: str) -> List[Operation]:
    """Parse a unified diff of one or more files.

    Raises:
        PatchError: malformed (bad hunk header, counts that do not add up, binary patch).
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    ops: List[Operation] = []
    index = 0
    rename_from: Optional[str] = None
    rename_to: Optional[str] = None

    def flush_rename() -> None:
        nonlocal rename_from, rename_to
        if rename_from and rename_to:
            ops.append(UpdateFile(rename_from, rename_to))
        rename_from = rename_to = None

    while index < len(lines):
        line = lines[index]
        if line.startswith("diff --git "):
            flush_rename()
            index += 1
            continue
        if line.startswith("rename from "):
            rename_from = line[len("rename from ") :].strip()
            index += 1
            continue
        if line.startswith("rename to "):
            rename_to = line[len("rename to ") :].strip()
            index += 1
            continue
        if line.startswith("Binary files ") or line.startswith("GIT binary patch"):
            raise PatchError(f"line {index + 1}: binary patches are not supported")
        if line.startswith("--- ") and index + 1 < len(lines) and lines[index + 1].startswith("+++ "):
            old_path = _diff_path(line[4:])
            new_path = _diff_path(lines[index + 1][4:])
            index += 2
            hunks: List[UnifiedHunk] = []
            while index < len(lines) and lines[index].startswith("@@"):
                hunk, index = _parse_hunk(lines, index, new_path if new_path != "/dev/null" else old_path, len(hunks) + 1)
                hunks.append(hunk)
            if not hunks:
                raise PatchError(f"line {index}: the diff of {new_path} has no hunks")
            old_path, new_path = _strip_prefixes(old_path, new_path)
            if old_path == "/dev/null":
                added = [text for kind, text in hunks[0].lines if kind == "+"]
                body = "\n".join(added)
                ops.append(AddFile(new_path, body + ("\n" if added and hunks[-1].new_eof_newline else "")))
            elif new_path == "/dev/null":
                ops.append(DeleteFile(old_path))
            else:
                source = rename_from or old_path
                target = rename_to or new_path
                ops.append(UpdateFile(source, target if target != source else None, hunks=tuple(hunks)))
            rename_from = rename_to = None
            continue
        index += 1
    flush_rename()
    if not ops:
        raise PatchError("the diff changes no file (no '---'/'+++' headers with hunks)")
    return ops


def _diff_path(raw: str) -> str:
    path = raw.split("\t", 1)[0].strip()
    if len(path) >= 2 and path[0] == path[-1] == '"':
        path = path[1:-1]
    return path


def _strip_prefixes(old: str, new: str) -> Tuple[str, str]:
    """Drop git's ``a/`` and ``b/`` prefixes (``-p1``) when the headers use them."""
    old_prefixed = old == "/dev/null" or old.startswith("a/")
    new_prefixed = new == "/dev/null" or new.startswith("b/")
    if old_prefixed and new_prefixed and not (old == new == "/dev/null"):
        old = old if old == "/dev/null" else old[2:]
        new = new if new == "/dev/null" else new[2:]
    return old, new


def _parse_hunk(lines: List[str], index: int, path: str, number: int) -> Tuple[UnifiedHunk, int]:
    header = _HUNK.match(lines[index])
    if header is None:
        raise PatchError(f"line {index + 1}: malformed hunk header {lines[index]!r} in the diff of {path}")
    old_start, new_start = int(header.group(1)), int(header.group(3))
    old_count = int(header.group(2)) if header.group(2) is not None else 1
    new_count = int(header.group(4)) if header.group(4) is not None else 1
    index += 1
    body: List[Tuple[str, str]] = []
    old_seen = new_seen = 0
    old_newline = new_newline = True
    while index < len(lines) and (old_seen < old_count or new_seen < new_count):
        line = lines[index]
        if line.startswith("\\"):
            index += 1
            continue
        marker, text = (line[:1], line[1:]) if line else (" ", "")
        if marker == " ":
            old_seen += 1
            new_seen += 1
        elif marker == "-":
            old_seen += 1
        elif marker == "+":
            new_seen += 1
        else:
            break
        body.append((marker, text))
        index += 1
        if index < len(lines) and lines[index].startswith("\\"):  # "\ No newline at end of file"
            if marker in (" ", "-"):
                old_newline = False
            if marker in (" ", "+"):
                new_newline = False
            index += 1
    if old_seen != old_count or new_seen != new_count:
        raise PatchError(
            f"hunk {number} of {path} ({lines[index - len(body) - 1] if body else ''}) is malformed: "
            f"its header announces {old_count} old and {new_count} new lines, the body has {old_seen} and {new_seen}"
        )
    hunk = UnifiedHunk(old_start, old_count, new_start, new_count, tuple(body), old_newline, new_newline)
    return hunk, index


# ----------------------------------------------------------------------------------- applying

_PUNCTUATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u202f": " ",
    }
)

_COMPARISONS: Tuple[Callable[[str], str], ...] = (
    lambda s: s,
    lambda s: s.rstrip(),
    lambda s: s.strip(),
    lambda s: s.strip().translate(_PUNCTUATION),
)


def _seek(lines: List[str], pattern: Tuple[str, ...], start: int, end_of_file: bool) -> Optional[int]:
    """Where ``pattern`` occurs in ``lines`` at or after ``start``, by ever looser comparisons."""
    if not pattern:
        return start
    if len(pattern) > len(lines):
        return None
    last = len(lines) - len(pattern)
    for norm in _COMPARISONS:
        wanted = [norm(p) for p in pattern]
        if end_of_file and last >= start and [norm(x) for x in lines[last:]] == wanted:
            return last
        for position in range(start, last + 1):
            if all(norm(lines[position + k]) == wanted[k] for k in range(len(wanted))):
                return position
    return None


def _split(text: str) -> Tuple[List[str], bool, str]:
    """``(lines, ends with a newline, newline sequence)``; CRLF files are kept CRLF."""
    eol = "\r\n" if "\r\n" in text else "\n"
    body = text.replace("\r\n", "\n")
    final = body.endswith("\n")
    if final:
        body = body[:-1]
    return (body.split("\n") if body or not final else [""]) if text else [], final, eol


def _join(lines: List[str], final_newline: bool, eol: str) -> str:
    if not lines:
        return ""
    return eol.join(lines) + (eol if final_newline else "")


def _apply_chunks(path: str, text: str, chunks: Tuple[Chunk, ...]) -> str:
    lines, _final, eol = _split(text)
    replacements: List[Tuple[int, int, List[str]]] = []
    position = 0
    for number, chunk in enumerate(chunks, 1):
        if chunk.context is not None:
            found = _seek(lines, (chunk.context,), position, False)
            if found is None:
                raise PatchError(f"hunk {number} of {path} does not apply: the line {chunk.context!r} after '@@' was not found")
            position = found + 1
        if not chunk.old:
            at = position if chunk.context is not None else len(lines)
            replacements.append((at, 0, list(chunk.new)))
            continue
        body = chunk.lines
        old = _old(body)
        found = _seek(lines, old, position, chunk.end_of_file)
        if found is None and body[-1] == (" ", ""):
            # A trailing blank context line often stands for the file's final newline.
            body = body[:-1]
            old = _old(body)
            found = _seek(lines, old, position, chunk.end_of_file)
        if found is None:
            where = " at the end of the file" if chunk.end_of_file else ""
            expected = "\n".join(f"  {line}" for line in chunk.old[:8])
            raise PatchError(f"hunk {number} of {path} does not apply: these lines were not found{where}:\n{expected}")
        replacements.append((found, len(old), _replacement(body, lines[found : found + len(old)])))
        position = found + len(old)
    for start, length, new in sorted(replacements, key=lambda r: r[0], reverse=True):
        lines[start : start + length] = new
    return _join(lines, True, eol)


def _apply_hunks(path: str, text: str, hunks: Tuple[UnifiedHunk, ...]) -> str:
    lines, final, eol = _split(text)
    offset = 0
    floor = 0
    for number, hunk in enumerate(hunks, 1):
        old = _old(hunk.lines)
        expected = (hunk.old_start if hunk.old_count == 0 else hunk.old_start - 1) + offset
        found = _find_near(lines, old, max(expected, floor), floor)
        if found is None:
            raise PatchError(
                f"hunk {number} of {path} ({hunk.header}) does not apply: "
                f"the lines it changes were not found near line {hunk.old_start}"
            )
        new = _replacement(hunk.lines, lines[found : found + len(old)])
        lines[found : found + len(old)] = new
        offset += len(new) - len(old)
        floor = found + len(new)
        if found + len(new) == len(lines):
            final = hunk.new_eof_newline
    return _join(lines, final, eol)


def _find_near(lines: List[str], pattern: Tuple[str, ...], expected: int, floor: int) -> Optional[int]:
    """The position of ``pattern`` closest to ``expected`` (never before ``floor``)."""
    if not pattern:
        return min(expected, len(lines))
    last = len(lines) - len(pattern)
    for norm in _COMPARISONS[:2]:
        wanted = [norm(p) for p in pattern]
        for distance in range(0, max(last, 0) + len(lines) + 1):
            candidates = (expected - distance, expected + distance) if distance else (expected,)
            hit = False
            for position in candidates:
                if floor <= position <= last:
                    hit = True
                    if all(norm(lines[position + k]) == wanted[k] for k in range(len(wanted))):
                        return position
            if not hit and expected - distance < floor and expected + distance > last:
                break
    return None


def plan(operations: List[Operation], read: Callable[[str], Optional[str]]) -> List[Change]:
    """Compute every file's new text; nothing is written.

    Args:
        operations: from :func:`parse_patch`.
        read: ``read(path)`` -> the file's current text, or ``None`` if it does not exist.

    Returns:
        One :class:`Change` per affected file, in patch order (several operations on one path
        are applied in sequence).

    Raises:
        PatchError: a file to add exists, a file to change or delete does not, or a hunk does
            not apply; the message names the file and hunk.
    """
    view: Dict[str, Optional[str]] = {}
    original: Dict[str, Optional[str]] = {}

    def current(path: str) -> Optional[str]:
        if path not in view:
            text = read(path)
            view[path] = text
            original[path] = text
        return view[path]

    for op in operations:
        if isinstance(op, AddFile):
            if current(op.path) is not None:
                raise PatchError(f"cannot add {op.path}: it already exists (use '*** Update File:' to change it)")
            view[op.path] = op.text
        elif isinstance(op, DeleteFile):
            if current(op.path) is None:
                raise PatchError(f"cannot delete {op.path}: it does not exist")
            view[op.path] = None
        else:
            text = current(op.path)
            if text is None:
                raise PatchError(f"cannot update {op.path}: it does not exist")
            if op.chunks:
                text = _apply_chunks(op.path, text, op.chunks)
            elif op.hunks:
                text = _apply_hunks(op.path, text, op.hunks)
            if op.move_to is not None and op.move_to != op.path:
                if current(op.move_to) is not None:
                    raise PatchError(f"cannot move {op.path} to {op.move_to}: the destination exists")
                view[op.path] = None
                view[op.move_to] = text
            else:
                view[op.path] = text
    changes: List[Change] = []
    moved: Dict[str, str] = {}
    for op in operations:
        if isinstance(op, UpdateFile) and op.move_to and op.move_to != op.path:
            moved[op.path] = op.move_to
    seen = set()
    for path, after in view.items():
        if path in seen:
            continue
        before = original.get(path)
        if path in moved and after is None and original.get(path) is not None:
            target = moved[path]
            seen.update({path, target})
            changes.append(Change("M", path, view[target], target, before))
        elif before is None and after is not None:
            changes.append(Change("A", path, after, None, None))
        elif before is not None and after is None:
            changes.append(Change("D", path, None, None, before))
        elif before != after:
            changes.append(Change("M", path, after, None, before))
        seen.add(path)
    return changes

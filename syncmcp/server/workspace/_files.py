r"""File operations of the workspace tools: reading with limits, atomic writes, all-or-nothing commits.

Paths arrive already resolved and checked by :class:`~._paths.Workspace`. Writes go to a
temporary file in the same folder, then replace the target (``os.replace`` is atomic), keeping
the old file's permission bits. :func:`commit` applies several writes and deletions together
and restores everything it changed if any step fails.

Example:
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> commit([(target, b"hello\n")])
    >>> target.read_text()
    'hello\n'
"""

from __future__ import annotations

import mimetypes
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

__all__ = ["FileText", "FileTooLarge", "commit", "guess_mime_type", "is_binary", "read_lines", "read_text_file"]

#: Bytes inspected to decide whether a file is binary.
_SNIFF = 8192


class FileTooLarge(ValueError):
    """The file exceeds the size the operation accepts."""


def is_binary(sample: bytes) -> bool:
    r"""Whether the leading bytes of a file look binary: a NUL byte, or not UTF-8.

    Example:
        >>> is_binary(b"plain text\n"), is_binary(b"\x89PNG\r\n\x1a\n\x00")
        (False, True)
    """
    if b"\x00" in sample:
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is not evidence of binary data.
        return exc.start < len(sample) - 3
    return False


def guess_mime_type(path: Path, binary: bool) -> str:
    """A MIME type from the file name, defaulting to text or octet-stream.

    Example:
        >>> guess_mime_type(Path("a.py"), False), guess_mime_type(Path("a.unknown"), True)
        ('text/x-python', 'application/octet-stream')
    """
    guessed, _ = mimetypes.guess_type(path.name)
    if guessed:
        return guessed
    return "application/octet-stream" if binary else "text/plain"


@dataclass(frozen=True)
class FileText:
    """A window of a text file's lines."""

    lines: List[str]
    start: int  # 1-based number of the first line returned
    total: int  # lines in the file
    truncated_lines: int  # how many returned lines were cut at the length limit
    final_newline: bool = True  # whether the last returned line ended with a newline

    @property
    def text(self) -> str:
        """The returned lines as text, newlines as in the file."""
        if not self.lines:
            return ""
        return "\n".join(self.lines) + ("\n" if self.final_newline else "")


def read_lines(path: Path, *, offset: int, limit: int, max_line_length: int) -> FileText:
    """Lines ``offset`` … ``offset + limit - 1`` (1-based) of a UTF-8 text file, and the line count.

    Raises:
        IsADirectoryError: ``path`` is a folder.
        ValueError: the file is binary (the message says so).
    """
    with open(path, "rb") as handle:
        if is_binary(handle.read(_SNIFF)):
            raise ValueError("binary")
        handle.seek(0)
        wanted: List[str] = []
        cut = 0
        total = 0
        final = True
        for raw in handle:
            total += 1
            if offset <= total < offset + limit:
                final = raw.endswith(b"\n")
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if len(line) > max_line_length:
                    line = line[:max_line_length] + " … [line truncated]"
                    cut += 1
                wanted.append(line)
    return FileText(wanted, offset, total, cut, final)


def read_text_file(path: Path, max_bytes: int) -> Optional[str]:
    """The whole text of a file, or ``None`` if it is binary.

    Raises:
        FileTooLarge: it exceeds ``max_bytes``.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise FileTooLarge(f"{path} is {size} bytes, more than the {max_bytes}-byte limit")
    data = path.read_bytes()
    if is_binary(data[:_SNIFF]):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _temporary_copy(target: Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file next to ``target``, with ``target``'s permissions."""
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".syncmcp-tmp", dir=str(target.parent))
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(name, mode)
    except BaseException:
        try:
            os.unlink(name)
        except OSError:
            pass
        raise
    return Path(name)


def commit(changes: Sequence[Tuple[Path, Optional[bytes]]]) -> None:
    """Apply writes (``(path, data)``) and deletions (``(path, None)``) all together, or none.

    Missing parent folders are created. If any step fails, every file already replaced or
    deleted is restored, created files and folders are removed, and the error is raised.

    Raises:
        OSError: a write, replacement or deletion failed (nothing is left changed).
        IsADirectoryError: a target is a folder.
    """
    created_dirs: List[Path] = []
    temporaries: List[Tuple[Path, Path]] = []
    backups: List[Tuple[Path, Optional[bytes], Optional[int]]] = []  # path, old bytes (None: did not exist), mode
    try:
        for target, data in changes:
            if target.is_dir():
                raise IsADirectoryError(f"{target} is a folder")
            if data is None:
                continue
            missing = []
            parent = target.parent
            while not parent.exists():
                missing.append(parent)
                parent = parent.parent
            for folder in reversed(missing):
                folder.mkdir()
                created_dirs.append(folder)
            temporaries.append((target, _temporary_copy(target, data)))
        for target, _data in changes:
            old = target.read_bytes() if target.exists() else None
            mode = stat.S_IMODE(target.stat().st_mode) if old is not None else None
            backups.append((target, old, mode))
        staged = dict(temporaries)
        for target, data in changes:
            if data is None:
                os.unlink(target)
            else:
                os.replace(staged.pop(target), target)
    except BaseException:
        _rollback(backups, changes)
        for _target, temporary in temporaries:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        for folder in reversed(created_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


def _rollback(
    backups: List[Tuple[Path, Optional[bytes], Optional[int]]], changes: Sequence[Tuple[Path, Optional[bytes]]]
) -> None:
    for target, old, mode in backups:
        try:
            current = target.read_bytes() if target.exists() else None
        except OSError:
            current = None
        if current == old:
            continue
        try:
            if old is None:
                target.unlink()
            else:
                target.write_bytes(old)
                if mode is not None:
                    os.chmod(target, mode)
        except OSError:
            pass

r"""File operations of the workspace tools: reading with limits, atomic writes, all-or-nothing commits.

Paths arrive already resolved and checked by :class:`~._paths.Workspace`. Only regular files are
read or replaced: a named pipe, a socket or a device is refused (opening a FIFO for reading
blocks until a writer appears, which would park a handler thread for good), and the check is
made again on the open descriptor (``O_NONBLOCK``, then ``fstat``) so swapping the file for a
FIFO between the check and the open changes nothing.

Writes go to a temporary file in the same folder, then replace the target (``os.replace`` is
atomic), keeping the old file's permission bits. :func:`commit` applies several writes and
deletions together; the previous version of each file is kept as a hard link (a copy where
links are refused) until every step succeeded, so a failure restores everything without ever
holding a file's content in memory.

Example:
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "a.txt"
    >>> commit([(target, b"hello\n")])
    >>> read_text_file(target, 100)
    'hello\n'
"""

from __future__ import annotations

import errno
import mimetypes
import os
import secrets
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, List, Optional, Sequence, Tuple

__all__ = [
    "FileText",
    "FileTooLarge",
    "NotARegularFile",
    "commit",
    "guess_mime_type",
    "is_binary",
    "open_regular",
    "read_bytes",
    "read_lines",
    "read_text_file",
]

#: Bytes inspected to decide whether a file is binary.
_SNIFF = 8192
#: Flags of every read: never block on a FIFO, never adopt a terminal, never leak into children.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
#: Suffix of the previous versions :func:`commit` keeps until it has succeeded.
_BACKUP_SUFFIX = ".syncmcp-backup"


class FileTooLarge(ValueError):
    """The file exceeds the size the operation accepts."""


class NotARegularFile(OSError):
    """The path is a folder, a named pipe, a socket or a device: only regular files are read or written.

    Example:
        >>> str(NotARegularFile("/w/pipe", "a named pipe (FIFO)"))
        '/w/pipe is a named pipe (FIFO), not a regular file'
    """

    def __init__(self, path: object, kind: str) -> None:
        super().__init__(errno.EINVAL, f"{path} is {kind}, not a regular file")
        self.path = str(path)
        self.kind = kind

    def __str__(self) -> str:
        return str(self.strerror)


def describe_mode(mode: int) -> str:
    """What kind of file ``mode`` (an ``st_mode``) is, in words.

    Example:
        >>> describe_mode(stat.S_IFIFO), describe_mode(stat.S_IFDIR)
        ('a named pipe (FIFO)', 'a folder')
    """
    for test, kind in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return kind
    return "a special file"


def check_regular(path: Path) -> os.stat_result:
    """``os.stat(path)``, refusing anything that is not a regular file.

    Raises:
        FileNotFoundError: it does not exist.
        NotARegularFile: it is something else (the message says what).
    """
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile(path, describe_mode(info.st_mode))
    return info


def open_regular(path: Path) -> BinaryIO:
    r"""Open a regular file for reading without ever blocking on a FIFO.

    The path is checked first (so a device is not even opened), opened with ``O_NONBLOCK``
    and checked again on the descriptor: a FIFO put in its place meanwhile is refused too.

    Raises:
        FileNotFoundError: it does not exist.
        NotARegularFile: it is not a regular file.
        OSError: it cannot be opened.

    Example:
        >>> import tempfile
        >>> pipe = Path(tempfile.mkdtemp()) / "pipe"
        >>> os.mkfifo(pipe)
        >>> try:
        ...     open_regular(pipe)
        ... except NotARegularFile as exc:
        ...     print(exc.kind)
        a named pipe (FIFO)
    """
    check_regular(path)
    descriptor = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(path, describe_mode(info.st_mode))
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


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
        NotARegularFile: ``path`` is a folder, a FIFO, a socket or a device.
        ValueError: the file is binary (the message says so).
    """
    with open_regular(path) as handle:
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


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes.

    Raises:
        FileTooLarge: it exceeds ``max_bytes`` (checked on the open file, and while reading).
        NotARegularFile: it is not a regular file.
    """
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise FileTooLarge(f"{path} is {size} bytes, more than the {max_bytes}-byte limit")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read
        raise FileTooLarge(f"{path} is more than the {max_bytes}-byte limit")
    return data


def read_text_file(path: Path, max_bytes: int) -> Optional[str]:
    """The whole text of a file, or ``None`` if it is binary.

    Raises:
        FileTooLarge: it exceeds ``max_bytes``.
        NotARegularFile: it is not a regular file.
    """
    data = read_bytes(path, max_bytes)
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
        _unlink_quietly(Path(name))
        raise
    return Path(name)


def _backup_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{_BACKUP_SUFFIX}")


def _keep_previous(target: Path) -> Path:
    """Keep the current ``target`` under a new name, leaving ``target`` in place; that name.

    A hard link costs nothing and keeps the very inode (owner, mode, times); where links are
    refused (some file systems, ``protected_hardlinks`` on another user's file) the file is
    copied, streamed, never read into memory.
    """
    for _attempt in range(8):
        backup = _backup_name(target)
        try:
            os.link(target, backup, follow_symlinks=False)
            return backup
        except FileExistsError:
            continue
        except OSError:
            break
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_BACKUP_SUFFIX, dir=str(target.parent))
    try:
        with open_regular(target) as source, os.fdopen(descriptor, "wb") as copy:
            shutil.copyfileobj(source, copy)
        shutil.copymode(target, name)
    except BaseException:
        _unlink_quietly(Path(name))
        raise
    return Path(name)


def _move_aside(target: Path) -> Path:
    """Rename ``target`` (a file or a symbolic link itself) to a new name; that name."""
    descriptor, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=_BACKUP_SUFFIX, dir=str(target.parent))
    os.close(descriptor)
    try:
        os.replace(target, name)  # replaces our own empty placeholder, atomically
    except BaseException:
        _unlink_quietly(Path(name))
        raise
    return Path(name)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _existing_kind(target: Path, deleting: bool) -> Optional[int]:
    """``st_mode`` of what is at ``target`` (not following a final link), ``None`` if nothing.

    Raises:
        IsADirectoryError: it is a folder.
        NotARegularFile: it is a FIFO, socket or device, or (for a write) a symbolic link.
    """
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, f"{target} is a folder")
    if stat.S_ISREG(mode) or (deleting and stat.S_ISLNK(mode)):
        return mode
    raise NotARegularFile(target, describe_mode(mode))


def commit(changes: Sequence[Tuple[Path, Optional[bytes]]]) -> None:
    """Apply writes (``(path, data)``) and deletions (``(path, None)``) all together, or none.

    Missing parent folders are created. A deletion of a symbolic link removes the link itself.
    If any step fails, every file already replaced or deleted is restored, created files and
    folders are removed, and the error is raised.

    Raises:
        OSError: a write, replacement or deletion failed (nothing is left changed).
        IsADirectoryError: a target is a folder.
        NotARegularFile: a target is a FIFO, a socket or a device (nothing was touched).
    """
    created_dirs: List[Path] = []
    staged: List[Tuple[Path, Path]] = []  # target, temporary file holding its new content
    previous: List[Tuple[Path, Path]] = []  # target, where its old version is kept
    created: List[Path] = []  # targets that did not exist
    try:
        existing = {target: _existing_kind(target, data is None) for target, data in changes}
        for target, data in changes:
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
            staged.append((target, _temporary_copy(target, data)))
        temporaries = dict(staged)
        for target, data in changes:
            if data is None:
                if existing[target] is not None:
                    previous.append((target, _move_aside(target)))
                continue
            if existing[target] is not None:
                previous.append((target, _keep_previous(target)))
            else:
                created.append(target)
            os.replace(temporaries.pop(target), target)
    except BaseException:
        for target, kept in reversed(previous):
            try:
                os.replace(kept, target)
            except OSError:
                continue  # leave it: it is the only copy of the old version now
            # Renaming a hard link onto its own inode (the target was never replaced) is a
            # no-op that leaves both names: drop the spare one.
            if os.path.lexists(kept):
                _unlink_quietly(kept)
        for target in created:
            _unlink_quietly(target)
        for _target, temporary in staged:
            _unlink_quietly(temporary)
        for folder in reversed(created_dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    for _target, kept in previous:
        _unlink_quietly(kept)

r"""File operations of the workspace tools: reading with limits, atomic writes, all-or-nothing commits.

Paths arrive already resolved and checked by :class:`~._paths.Workspace`. Only regular files are
read or replaced: a named pipe, a socket or a device is refused (opening a FIFO for reading
blocks until a writer appears, which would park a handler thread for good), and the check is
made again on the open descriptor (``O_NONBLOCK``, then ``fstat``) so swapping the file for a
FIFO between the check and the open changes nothing.

The workspace checks a path and then uses it; a command running meanwhile (in a writable
root) could replace a folder on the way by a link to somewhere else. So what was checked is
what is used: a read with ``exact`` refuses a file the kernel reports elsewhere than the checked
path (``/proc/self/fd``), and :func:`commit` opens each folder once, checks it the same way, and
does every step inside that open folder (through ``/proc/self/fd``), never following a link.

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
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "FileText",
    "FileTooLarge",
    "NotARegularFile",
    "PathChanged",
    "commit",
    "guess_mime_type",
    "is_binary",
    "open_regular",
    "opened_path",
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
#: Flags of a folder opened to work inside it.
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: Whether a commit can reach a folder it opened through its descriptor (``/proc/self/fd``).
_BY_DESCRIPTOR = hasattr(os, "O_DIRECTORY") and os.path.isdir("/proc/self/fd")


class FileTooLarge(ValueError):
    """The file exceeds the size the operation accepts."""


class PathChanged(OSError):
    """A checked path led elsewhere when it was used: it, or a folder on the way, was replaced by a link.

    Example:
        >>> str(PathChanged(Path("/w/a.txt"), "read"))
        '/w/a.txt was replaced (by a link?) after it was checked; nothing was read'
    """

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(errno.ELOOP, f"{path} was replaced (by a link?) after it was checked; nothing was {what}")
        self.path = str(path)

    def __str__(self) -> str:
        return str(self.strerror)


def opened_path(descriptor: int) -> Optional[str]:
    """Where the kernel says an open descriptor is (Linux ``/proc/self/fd``), or ``None`` where it cannot say.

    Example:
        >>> import tempfile
        >>> folder = os.path.realpath(tempfile.mkdtemp())
        >>> descriptor = os.open(folder, os.O_RDONLY)
        >>> opened_path(descriptor) in (folder, None)
        True
        >>> os.close(descriptor)
    """
    try:
        return os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return None


def _check_opened(descriptor: int, path: Path, what: str) -> None:
    """Refuse a descriptor that is not at ``path``: what was checked is what is used, links swapped in or not."""
    actual = opened_path(descriptor)
    if actual is not None and actual != str(path):
        raise PathChanged(path, what)


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


def open_regular(path: Path, *, exact: bool = False) -> BinaryIO:
    r"""Open a regular file for reading without ever blocking on a FIFO.

    The path is checked first (so a device is not even opened), opened with ``O_NONBLOCK``
    and checked again on the descriptor: a FIFO put in its place meanwhile is refused too.

    Args:
        path: the file.
        exact: ``path`` is a real path already checked: refuse the file opened unless it is at
            that very path (it, or a folder on the way, was replaced by a link meanwhile).
            Where the system cannot tell (no ``/proc``), this is not checked.

    Raises:
        FileNotFoundError: it does not exist.
        NotARegularFile: it is not a regular file.
        PathChanged: with ``exact``, the file opened is elsewhere.
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
        if exact:
            _check_opened(descriptor, path, "read")
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


def read_lines(path: Path, *, offset: int, limit: int, max_line_length: int, exact: bool = False) -> FileText:
    """Lines ``offset`` … ``offset + limit - 1`` (1-based) of a UTF-8 text file, and the line count.

    ``exact`` as for :func:`open_regular`.

    Raises:
        NotARegularFile: ``path`` is a folder, a FIFO, a socket or a device.
        PathChanged: with ``exact``, the file opened is elsewhere.
        ValueError: the file is binary (the message says so).
    """
    with open_regular(path, exact=exact) as handle:
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


def read_bytes(path: Path, max_bytes: int, *, exact: bool = False) -> bytes:
    """The whole content of a regular file of at most ``max_bytes`` bytes.

    ``exact`` as for :func:`open_regular`.

    Raises:
        FileTooLarge: it exceeds ``max_bytes`` (checked on the open file, and while reading).
        NotARegularFile: it is not a regular file.
        PathChanged: with ``exact``, the file opened is elsewhere.
    """
    with open_regular(path, exact=exact) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise FileTooLarge(f"{path} is {size} bytes, more than the {max_bytes}-byte limit")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we read
        raise FileTooLarge(f"{path} is more than the {max_bytes}-byte limit")
    return data


def read_text_file(path: Path, max_bytes: int, *, exact: bool = False) -> Optional[str]:
    """The whole text of a file, or ``None`` if it is binary.

    ``exact`` as for :func:`open_regular`.

    Raises:
        FileTooLarge: it exceeds ``max_bytes``.
        NotARegularFile: it is not a regular file.
        PathChanged: with ``exact``, the file opened is elsewhere.
    """
    data = read_bytes(path, max_bytes, exact=exact)
    if is_binary(data[:_SNIFF]):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Folder:
    """A folder a commit works in: once opened, reached through its descriptor where the system allows.

    ``/proc/self/fd/N/name`` names ``name`` inside the very folder descriptor ``N`` holds (the
    kernel jumps to the open folder, it does not look the old path up again): the folder that
    was opened and checked is the folder changed, even if its path is made to lead elsewhere
    meanwhile (a folder replaced by a symbolic link). Without ``/proc``, the folder's path is used.
    """

    def __init__(self, path: Path, descriptor: Optional[int]) -> None:
        self.path = path
        self.fd = descriptor
        self._base = f"/proc/self/fd/{descriptor}" if descriptor is not None else str(path)

    def entry(self, name: str) -> str:
        """How to name ``name`` inside this folder."""
        return os.path.join(self._base, name)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def child(self, name: str) -> _Folder:
        """The subfolder ``name``, never through a symbolic link."""
        if self.fd is None:
            return _Folder(self.path / name, None)
        return _Folder(self.path / name, os.open(self.entry(name), _DIR_FLAGS | _NOFOLLOW))

    def lstat(self, name: str) -> os.stat_result:
        return os.lstat(self.entry(name))

    def lexists(self, name: str) -> bool:
        return os.path.lexists(self.entry(name))

    def create(self, name: str, mode: int) -> int:
        """A new file ``name`` opened for writing (``FileExistsError`` if there is one)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        return os.open(self.entry(name), flags, mode)

    def create_unique(self, name: str, suffix: str, mode: int = 0o600) -> Tuple[str, int]:
        """A new file named after ``name`` (hidden, random part, ``suffix``): its name and descriptor."""
        for _attempt in range(100):
            candidate = f".{name}.{secrets.token_hex(6)}{suffix}"
            try:
                return candidate, self.create(candidate, mode)
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, f"no free temporary name next to {self.path / name}")

    def open_regular(self, name: str) -> BinaryIO:
        """``name`` opened for reading, refused unless it is a regular file (a link is not followed)."""
        descriptor = os.open(self.entry(name), _READ_FLAGS | _NOFOLLOW)
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise NotARegularFile(self.path / name, describe_mode(info.st_mode))
            return os.fdopen(descriptor, "rb")
        except BaseException:
            os.close(descriptor)
            raise

    def replace(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target`` in this folder, replacing it atomically."""
        os.replace(self.entry(source), self.entry(target))

    def link(self, source: str, target: str) -> None:
        os.link(self.entry(source), self.entry(target), follow_symlinks=False)

    def unlink_quietly(self, name: str) -> None:
        try:
            os.unlink(self.entry(name))
        except OSError:
            pass

    def mkdir(self, name: str) -> None:
        os.mkdir(self.entry(name))

    def rmdir_quietly(self, name: str) -> None:
        try:
            os.rmdir(self.entry(name))
        except OSError:
            pass


def _open_folder(path: Path, *, create: bool, exact: bool, opened: List[_Folder], created: List[Tuple[_Folder, str]]) -> _Folder:
    """The folder ``path``, opened (missing folders made if ``create``).

    Raises:
        FileNotFoundError: it is missing (and not ``create``).
        PathChanged: with ``exact``, the folder opened is not at ``path`` (a link on the way).
    """
    missing: List[str] = []
    base = path
    while True:
        try:
            descriptor = os.open(base, _DIR_FLAGS) if _BY_DESCRIPTOR else None
            if descriptor is None and not base.is_dir():
                raise FileNotFoundError(errno.ENOENT, f"{base} does not exist")
            break
        except FileNotFoundError:
            if not create or base.parent == base:
                raise
            missing.append(base.name)
            base = base.parent
    folder = _Folder(base, descriptor)
    opened.append(folder)
    if exact and descriptor is not None:
        _check_opened(descriptor, base, "written")
    for name in reversed(missing):
        try:
            folder.mkdir(name)
            created.append((folder, name))
        except FileExistsError:  # made meanwhile: opened like any other (a link is refused)
            pass
        folder = folder.child(name)
        opened.append(folder)
    return folder


def _existing_kind(folder: _Folder, target: Path, deleting: bool) -> Optional[int]:
    """``st_mode`` of what is at ``target`` (not following a final link), ``None`` if nothing.

    Raises:
        IsADirectoryError: it is a folder.
        NotARegularFile: it is a FIFO, socket or device, or (for a write) a symbolic link.
    """
    try:
        info = folder.lstat(target.name)
    except FileNotFoundError:
        return None
    mode = info.st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, f"{target} is a folder")
    if stat.S_ISREG(mode) or (deleting and stat.S_ISLNK(mode)):
        return mode
    raise NotARegularFile(target, describe_mode(mode))


def _temporary_copy(folder: _Folder, name: str, data: bytes, mode: Optional[int]) -> str:
    """Write ``data`` to a new temporary file next to ``name``; ``mode``: the permissions to give it.

    A new file (``mode`` ``None``) is created with ``0o666`` less the umask, as ``open`` would.
    """
    temporary, descriptor = folder.create_unique(name, ".syncmcp-tmp", 0o600 if mode is not None else 0o666)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            if mode is not None and hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if mode is not None and not hasattr(os, "fchmod"):  # pragma: no cover - Windows
            os.chmod(folder.path / temporary, mode)
    except BaseException:
        folder.unlink_quietly(temporary)
        raise
    return temporary


def _keep_previous(folder: _Folder, name: str) -> str:
    """Keep the current ``name`` under a new name, leaving ``name`` in place; that name.

    A hard link costs nothing and keeps the very inode (owner, mode, times); where links are
    refused (some file systems, ``protected_hardlinks`` on another user's file) the file is
    copied, streamed, never read into memory.
    """
    for _attempt in range(8):
        backup = f".{name}.{secrets.token_hex(6)}{_BACKUP_SUFFIX}"
        try:
            folder.link(name, backup)
            return backup
        except FileExistsError:
            continue
        except (OSError, NotImplementedError):
            break
    backup, descriptor = folder.create_unique(name, _BACKUP_SUFFIX)
    try:
        with folder.open_regular(name) as source, os.fdopen(descriptor, "wb") as copy:
            shutil.copyfileobj(source, copy)
            if hasattr(os, "fchmod"):
                os.fchmod(copy.fileno(), stat.S_IMODE(os.fstat(source.fileno()).st_mode))
    except BaseException:
        folder.unlink_quietly(backup)
        raise
    return backup


def _move_aside(folder: _Folder, name: str) -> str:
    """Rename ``name`` (a file or a symbolic link itself) to a new name; that name."""
    aside, descriptor = folder.create_unique(name, _BACKUP_SUFFIX)
    os.close(descriptor)
    try:
        folder.replace(name, aside)  # replaces our own empty placeholder, atomically
    except BaseException:
        folder.unlink_quietly(aside)
        raise
    return aside


def commit(changes: Sequence[Tuple[Path, Optional[bytes]]], *, exact: bool = False) -> None:
    """Apply writes (``(path, data)``) and deletions (``(path, None)``) all together, or none.

    Missing parent folders are created. A deletion of a symbolic link removes the link itself.
    If any step fails, every file already replaced or deleted is restored, created files and
    folders are removed, and the error is raised. Each folder is opened once and every step
    works inside that open folder, never looking its path up again.

    Args:
        changes: the writes and deletions.
        exact: the paths are real paths already checked: refuse (before changing anything) a
            folder that is no longer at its path when opened (one on the way was replaced by a
            link). Where the system cannot tell (no ``/proc``), this is not checked.

    Raises:
        OSError: a write, replacement or deletion failed (nothing is left changed).
        IsADirectoryError: a target is a folder.
        NotARegularFile: a target is a FIFO, a socket or a device (nothing was touched).
        PathChanged: with ``exact``, a folder was replaced by a link after the check.
    """
    opened: List[_Folder] = []
    folders: Dict[Path, _Folder] = {}
    created_dirs: List[Tuple[_Folder, str]] = []
    staged: Dict[Path, Tuple[_Folder, str]] = {}  # target -> its folder, the temporary holding its new content
    previous: List[Tuple[_Folder, str, str]] = []  # folder, name, where its old version is kept
    created: List[Tuple[_Folder, str]] = []  # targets that did not exist

    def folder_of(target: Path, create: bool) -> Optional[_Folder]:
        folder = folders.get(target.parent)
        if folder is None:
            try:
                folder = _open_folder(target.parent, create=create, exact=exact, opened=opened, created=created_dirs)
            except FileNotFoundError:
                if create:
                    raise
                return None
            folders[target.parent] = folder
        return folder

    try:
        try:
            existing: Dict[Path, Optional[int]] = {}
            for target, data in changes:
                folder = folder_of(target, False)
                existing[target] = _existing_kind(folder, target, data is None) if folder is not None else None
            for target, data in changes:
                if data is None:
                    continue
                folder = folder_of(target, True)
                assert folder is not None
                mode = existing[target]
                staged[target] = (folder, _temporary_copy(folder, target.name, data, stat.S_IMODE(mode) if mode else None))
            for target, data in changes:
                folder = folders.get(target.parent)
                if data is None:
                    if folder is not None and existing[target] is not None:
                        previous.append((folder, target.name, _move_aside(folder, target.name)))
                    continue
                folder, temporary = staged[target]
                if existing[target] is not None:
                    previous.append((folder, target.name, _keep_previous(folder, target.name)))
                else:
                    created.append((folder, target.name))
                folder.replace(temporary, target.name)
                del staged[target]
        except BaseException:
            for folder, name, kept in reversed(previous):
                try:
                    folder.replace(kept, name)
                except OSError:
                    continue  # leave it: it is the only copy of the old version now
                # Renaming a hard link onto its own inode (the target was never replaced) is a
                # no-op that leaves both names: drop the spare one.
                if folder.lexists(kept):
                    folder.unlink_quietly(kept)
            for folder, name in created:
                folder.unlink_quietly(name)
            for folder, temporary in staged.values():
                folder.unlink_quietly(temporary)
            for folder, name in reversed(created_dirs):
                folder.rmdir_quietly(name)
            raise
        for folder, _name, kept in previous:
            folder.unlink_quietly(kept)
    finally:
        for folder in reversed(opened):
            folder.close()

"""Who may change syncmcp's files: the checks ssh applies to its own, for configuration and credentials.

A configuration file names commands syncmcp runs, so anyone who can write it (or replace it in
its folder) can run programs as the user: such a file is refused, with the fix in the message.
A credential file holds tokens: it must be readable by its owner alone. POSIX only; elsewhere
the checks pass (Windows keeps permissions in ACLs, which these bits do not describe).

Example:
    >>> import os, stat, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "config.toml")
    >>> open(path, "w").close(); os.chmod(path, 0o644)
    >>> check_not_writable_by_others(path, os.stat(path)) is None
    True
    >>> os.chmod(path, 0o666)
    >>> print(check_not_writable_by_others(path, os.stat(path)))  # doctest: +ELLIPSIS
    it is writable by other users (mode 0666), so anyone could make syncmcp run their commands; fix: chmod go-w ...
"""

from __future__ import annotations

import os
import stat
from typing import Optional

__all__ = ["check_not_writable_by_others", "check_private"]

_POSIX = os.name == "posix"


def _trusted_owner(uid: int) -> bool:
    return uid in (os.getuid(), 0)


def check_not_writable_by_others(path: str, status: os.stat_result) -> Optional[str]:
    """Why a configuration file (and its folder) cannot be trusted, or ``None``.

    Refused, as ssh refuses its configuration: a file or folder owned by another user (root
    excepted), a file writable by its group or others, a folder writable by them unless it is
    sticky (``/tmp``: others cannot replace a file they do not own).
    """
    if not _POSIX:
        return None
    mode = stat.S_IMODE(status.st_mode)
    if not _trusted_owner(status.st_uid):
        return f"it belongs to another user (uid {status.st_uid}); fix: chown $USER {path}"
    if mode & 0o022:
        return (
            f"it is writable by other users (mode {mode:04o}), so anyone could make syncmcp run their commands; "
            f"fix: chmod go-w {path}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    try:
        folder_status = os.stat(folder)
    except OSError:
        return None
    folder_mode = stat.S_IMODE(folder_status.st_mode)
    if not _trusted_owner(folder_status.st_uid):
        return f"its folder {folder} belongs to another user (uid {folder_status.st_uid}), who could replace it"
    if folder_mode & 0o022 and not folder_mode & stat.S_ISVTX:
        return (
            f"its folder {folder} is writable by other users (mode {folder_mode:04o}), who could replace it; "
            f"fix: chmod go-w {folder}, or move the file"
        )
    return None


def check_private(path: str, status: os.stat_result) -> Optional[str]:
    """Why a credential file is not private to its owner, or ``None``."""
    if not _POSIX:
        return None
    mode = stat.S_IMODE(status.st_mode)
    if not _trusted_owner(status.st_uid):
        return f"it belongs to another user (uid {status.st_uid}); fix: delete it and log in again"
    if mode & 0o077:
        return f"other users may read or change it (mode {mode:04o}); fix: chmod 600 {path}"
    return None

"""The OAuth credential file: client registrations and tokens for remote MCP servers.

One JSON file, by default ``<user data dir>/syncmcp/credentials.json`` (``SYNCMCP_CREDENTIALS``
names another), readable by its owner only (mode 0600). Entries are keyed by the MCP server's URL
*and* the authorization server's issuer, so credentials issued by one authorization server are
never presented to another (MCP 2026-07-28).

Every change is a read-modify-write under an exclusive lock file (``credentials.json.lock``), and
the new content replaces the file atomically (temporary file in the same folder, ``fsync``,
``os.replace``): a notebook and a script logging in at the same time never lose each other's
entries, and a crash never leaves half a file. Readers do not lock: they see the old file or the
new one. The file lock is never taken while an in-memory lock is held.

Most changes hold the lock for a moment. One holds it across a network request, on purpose: an
OAuth refresh reads the entry, redeems its refresh token at the token endpoint, and stores the
new tokens in one transaction, so that two processes never redeem one (rotating, single-use)
refresh token. That request is bounded by its sender's read timeout (30 s in the HTTP
transport); meanwhile, other writers wait for the lock (up to ``lock_timeout``).

Tokens and client secrets never appear in a ``repr`` or an error message.

Example:
    >>> store = CredentialStore.memory()
    >>> store.save(StoredCredentials("https://api.test/mcp", "https://auth.test", access_token="t0k3n"))
    >>> store.load("https://api.test/mcp")
    StoredCredentials(server_url='https://api.test/mcp', issuer='https://auth.test', access_token=***)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

from ._exceptions import ConfigError
from ._filemodes import check_private

__all__ = [
    "CREDENTIALS_ENV_VAR",
    "DEFAULT_LOCK_TIMEOUT",
    "CredentialStore",
    "CredentialTransaction",
    "StoredCredentials",
    "default_credentials_path",
]

logger = logging.getLogger("syncmcp.oauth")

#: Environment variable naming the credential file (tests and unusual set-ups).
CREDENTIALS_ENV_VAR = "SYNCMCP_CREDENTIALS"
#: Seconds to wait for another process's read-modify-write of the file to finish.
DEFAULT_LOCK_TIMEOUT = 30.0
#: Version of the file format; a file of a later version is refused rather than rewritten.
_FORMAT_VERSION = 1
#: Largest credential file read: a bound on memory if the path points somewhere odd.
_MAX_FILE_BYTES = 16 * 1024 * 1024

_SECRET_FIELDS = ("client_secret", "access_token", "refresh_token")


def default_credentials_path() -> Path:
    """``$SYNCMCP_CREDENTIALS``, else ``credentials.json`` in the user's data folder for syncmcp.

    Example::

        path = default_credentials_path()   # e.g. ~/.local/share/syncmcp/credentials.json on Linux
    """
    override = os.environ.get(CREDENTIALS_ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return platformdirs.user_data_path("syncmcp", appauthor=False) / "credentials.json"


@dataclass(frozen=True, repr=False)
class StoredCredentials:
    """What is kept for one (MCP server URL, authorization server issuer) pair.

    Its ``repr`` shows which secrets are set, never their values.

    Attributes:
        server_url: the MCP endpoint these credentials are for.
        issuer: the authorization server's issuer identifier.
        server_name: the configured name of the server, for listings.
        client_id: the OAuth client id (pre-registered, registered, or a metadata document URL).
        client_secret: the client secret of a confidential client.
        token_endpoint_auth_method: ``none``, ``client_secret_basic``, ``client_secret_post``...
        redirect_uri: the redirect URI the client was registered with.
        token_endpoint: where tokens are refreshed.
        access_token: the current access token.
        token_type: its type (``Bearer``).
        refresh_token: the refresh token, when the authorization server issued one.
        expires_at: when the access token expires (seconds since the epoch), if known.
        scopes: the scopes granted (or requested, when the server did not say).
        resource: the RFC 8707 resource the tokens were requested for.

    Example:
        >>> creds = StoredCredentials("https://api.test/mcp", "https://auth.test", access_token="t", expires_at=100.0)
        >>> creds.expires_within(30, now=80.0), creds.has_tokens
        (True, True)
    """

    server_url: str
    issuer: str
    server_name: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[str] = None
    token_endpoint_auth_method: Optional[str] = None
    redirect_uri: Optional[str] = None
    token_endpoint: Optional[str] = None
    access_token: Optional[str] = None
    token_type: str = "Bearer"
    refresh_token: Optional[str] = None
    expires_at: Optional[float] = None
    scopes: Tuple[str, ...] = ()
    resource: Optional[str] = None

    @property
    def has_tokens(self) -> bool:
        """Whether an access token or a refresh token is present."""
        return bool(self.access_token or self.refresh_token)

    def expires_within(self, seconds: float, now: Optional[float] = None) -> bool:
        """Whether the access token expires within ``seconds`` (``False`` when the expiry is unknown)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) <= seconds

    def without_tokens(self) -> StoredCredentials:
        """A copy that keeps the client registration and drops the tokens.

        Example:
            >>> StoredCredentials("https://a.test/mcp", "https://a.test", access_token="x").without_tokens().has_tokens
            False
        """
        return dataclasses.replace(self, access_token=None, refresh_token=None, expires_at=None)

    def to_json(self) -> Dict[str, Any]:
        """The entry as a JSON object (secrets included: for the file only)."""
        data = dataclasses.asdict(self)
        data["scopes"] = list(self.scopes)
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredCredentials:
        """Parse an entry of the file.

        Raises:
            ValueError: a required field is missing, or a field has the wrong type.
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: Dict[str, Any] = {}
        for name, value in data.items():
            if name not in known or value is None:
                continue  # a field of a later version, kept out rather than refused
            if name == "scopes":
                if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                    raise ValueError("scopes: expected a list of strings")
                values[name] = tuple(value)
            elif name == "expires_at":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError("expires_at: expected a number")
                values[name] = float(value)
            elif not isinstance(value, str):
                raise ValueError(f"{name}: expected a string")
            else:
                values[name] = value
        for required in ("server_url", "issuer"):
            if required not in values:
                raise ValueError(f"{required} is missing")
        return cls(**values)

    def __repr__(self) -> str:
        shown = [f"server_url={self.server_url!r}", f"issuer={self.issuer!r}"]
        for name in ("server_name", "client_id", "token_endpoint_auth_method"):
            value = getattr(self, name)
            if value is not None:
                shown.append(f"{name}={value!r}")
        shown.extend(f"{name}=***" for name in _SECRET_FIELDS if getattr(self, name))
        if self.expires_at is not None:
            shown.append(f"expires_at={self.expires_at!r}")
        if self.scopes:
            shown.append(f"scopes={self.scopes!r}")
        return f"StoredCredentials({', '.join(shown)})"


def _same_key(entry: StoredCredentials, server_url: str, issuer: Optional[str]) -> bool:
    return entry.server_url == server_url and (issuer is None or entry.issuer == issuer)


class CredentialTransaction:
    """The entries of the store while its lock is held; changes are written when the block ends.

    Obtained from :meth:`CredentialStore.transaction`. Nothing is written if the block raises.

    Example:
        >>> store = CredentialStore.memory()
        >>> with store.transaction() as txn:
        ...     txn.put(StoredCredentials("https://api.test/mcp", "https://auth.test", client_id="c1"))
        >>> store.load("https://api.test/mcp").client_id
        'c1'
    """

    def __init__(self, entries: List[StoredCredentials]) -> None:
        self._entries = entries
        self.changed = False

    def get(self, server_url: str, issuer: Optional[str] = None) -> Optional[StoredCredentials]:
        """The entry for ``server_url`` and ``issuer`` (``None``: the most recently saved for the URL)."""
        for entry in reversed(self._entries):
            if _same_key(entry, server_url, issuer):
                return entry
        return None

    def put(self, creds: StoredCredentials) -> None:
        """Add or replace the entry for ``(creds.server_url, creds.issuer)``; it becomes the most recent."""
        self._entries = [e for e in self._entries if not _same_key(e, creds.server_url, creds.issuer)]
        self._entries.append(creds)
        self.changed = True

    def remove(self, server_url: str, issuer: Optional[str] = None) -> bool:
        """Remove the entries for ``server_url`` (and ``issuer``, if given); whether any existed."""
        kept = [e for e in self._entries if not _same_key(e, server_url, issuer)]
        removed = len(kept) != len(self._entries)
        if removed:
            self._entries = kept
            self.changed = True
        return removed

    def entries(self) -> List[StoredCredentials]:
        """Every entry, oldest first."""
        return list(self._entries)


class _MemoryBackend:
    """Entries in this process only (tests, notebooks that must not write to disk)."""

    def __init__(self) -> None:
        self._entries: List[StoredCredentials] = []
        self._lock = threading.Lock()

    def read(self, *, strict: bool) -> List[StoredCredentials]:
        return list(self._entries)

    def write(self, entries: List[StoredCredentials]) -> None:
        self._entries = list(entries)

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        if not self._lock.acquire(timeout=timeout):
            raise ConfigError(f"the in-memory credential store stayed locked for {timeout:g} s")
        try:
            yield
        finally:
            self._lock.release()


class _FileBackend:
    """Entries in a JSON file, replaced atomically, changed under a lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, *, strict: bool) -> List[StoredCredentials]:
        """The entries; a missing file has none.

        With ``strict``, an unreadable or corrupt file raises :class:`ConfigError`; otherwise a
        corrupt file (not an unreadable one) is moved aside with a warning, so a new login can
        still be saved.
        """
        try:
            with open(self.path, "rb") as handle:
                refusal = check_private(str(self.path), os.fstat(handle.fileno()))
                raw = handle.read(_MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigError(f"cannot read the credential file: {exc.strerror or exc}", path=str(self.path)) from exc
        if refusal is not None:
            raise ConfigError(f"refusing the credential file: {refusal}", path=str(self.path))
        try:
            return self._parse(raw)
        except ValueError as exc:
            if strict:
                raise ConfigError(
                    f"the credential file is corrupt ({exc}); delete it and log in again", path=str(self.path)
                ) from None
            self._move_aside(str(exc))
            return []

    def _parse(self, raw: bytes) -> List[StoredCredentials]:
        if len(raw) > _MAX_FILE_BYTES:
            raise ValueError(f"larger than {_MAX_FILE_BYTES} bytes")
        if not raw.strip():
            return []
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("credentials"), list):
            raise ValueError("expected an object with a 'credentials' list")
        version = data.get("version")
        if isinstance(version, int) and version > _FORMAT_VERSION:
            raise ValueError(f"written by a newer syncmcp (format version {version})")
        entries = []
        for index, item in enumerate(data["credentials"]):
            if not isinstance(item, dict):
                raise ValueError(f"credentials[{index}] is not an object")
            try:
                entries.append(StoredCredentials.from_json(item))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"credentials[{index}]: {exc}") from None
        return entries

    def _move_aside(self, reason: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            raise ConfigError(
                f"the credential file is corrupt ({reason}) and cannot be moved aside: {exc}", path=str(self.path)
            ) from exc
        logger.warning("the credential file %s was corrupt (%s); moved it to %s", self.path, reason, aside.name)

    def write(self, entries: List[StoredCredentials]) -> None:
        """Replace the file atomically (mode 0600); delete it when no entry is left."""
        if not entries:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            return
        data = json.dumps({"version": _FORMAT_VERSION, "credentials": [e.to_json() for e in entries]}, indent=2)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data.encode("utf-8") + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _fsync_directory(self.path.parent)

    @contextlib.contextmanager
    def locked(self, timeout: float) -> Iterator[None]:
        import filelock

        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A new lock object each time: flock() on separate descriptors also excludes the other
        # threads of this process, which a shared, re-entrant lock object would not.
        lock = filelock.FileLock(f"{self.path}.lock", timeout=timeout)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise ConfigError(
                f"another process held the credential file's lock for more than {timeout:g} s", path=str(self.path)
            ) from None
        try:
            yield
        finally:
            lock.release()


def _fsync_directory(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class CredentialStore:
    """OAuth client registrations and tokens, in one file shared by every syncmcp process.

    Args:
        path: the JSON file; default: :func:`default_credentials_path` (``$SYNCMCP_CREDENTIALS``,
            else the user data folder). :meth:`memory` makes a store that never touches disk.
        lock_timeout: seconds to wait for another process's change to the file.

    Raises:
        ConfigError: (from the methods) the file cannot be read or written, is corrupt (for the
            reads a caller asked for), or stayed locked for ``lock_timeout`` seconds.

    Example:
        >>> store = CredentialStore.memory()
        >>> creds = StoredCredentials("https://api.test/mcp", "https://auth.test", access_token="a")
        >>> store.save(creds)
        >>> [e.issuer for e in store.entries()], store.delete("https://api.test/mcp"), store.entries()
        (['https://auth.test'], True, [])
    """

    def __init__(self, path: Union[str, os.PathLike[str], None] = None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self._backend: Union[_FileBackend, _MemoryBackend] = _FileBackend(
            Path(path).expanduser() if path is not None else default_credentials_path()
        )
        self.lock_timeout = lock_timeout

    @classmethod
    def memory(cls) -> CredentialStore:
        """A store kept in this process's memory only.

        Example:
            >>> CredentialStore.memory()
            <CredentialStore in memory>
        """
        store = cls.__new__(cls)
        store._backend = _MemoryBackend()
        store.lock_timeout = DEFAULT_LOCK_TIMEOUT
        return store

    @property
    def path(self) -> Optional[Path]:
        """The credential file, or ``None`` for an in-memory store."""
        return self._backend.path if isinstance(self._backend, _FileBackend) else None

    def load(self, server_url: str, issuer: Optional[str] = None) -> Optional[StoredCredentials]:
        """The entry for ``server_url`` and ``issuer``; ``issuer=None``: the most recently saved one.

        Raises:
            ConfigError: the file is unreadable or corrupt (the message names it).
        """
        return CredentialTransaction(self._backend.read(strict=True)).get(server_url, issuer)

    def entries(self) -> List[StoredCredentials]:
        """Every entry, oldest first.

        Raises:
            ConfigError: the file is unreadable or corrupt (the message names it).
        """
        return self._backend.read(strict=True)

    def save(self, creds: StoredCredentials) -> None:
        """Add or replace the entry for ``(creds.server_url, creds.issuer)``."""
        with self.transaction() as txn:
            txn.put(creds)

    def update(
        self,
        server_url: str,
        issuer: str,
        fn: Callable[[Optional[StoredCredentials]], Optional[StoredCredentials]],
    ) -> Optional[StoredCredentials]:
        """Atomically replace one entry with ``fn(current)``; ``fn`` returning ``None`` deletes it.

        ``fn`` runs with the file locked, and every other process and thread writing the file
        waits for it: keep it quick, a computation. (A change that needs a network request
        inside the lock, like an OAuth refresh, uses :meth:`transaction` and bounds the request.)

        Example:
            >>> store = CredentialStore.memory()
            >>> store.update("https://a.test/mcp", "https://a.test", lambda old: StoredCredentials("https://a.test/mcp", "https://a.test"))
            StoredCredentials(server_url='https://a.test/mcp', issuer='https://a.test')
        """
        with self.transaction() as txn:
            new = fn(txn.get(server_url, issuer))
            if new is None:
                txn.remove(server_url, issuer)
            else:
                if (new.server_url, new.issuer) != (server_url, issuer):
                    raise ValueError("update() must keep the entry's server_url and issuer")
                txn.put(new)
        return new

    def delete(self, server_url: str) -> bool:
        """Remove every entry for ``server_url``; whether there was one."""
        with self.transaction() as txn:
            return txn.remove(server_url)

    @contextlib.contextmanager
    def transaction(self, timeout: Optional[float] = None) -> Iterator[CredentialTransaction]:
        """Lock the store, read it, and write it back when the block ends (unless it raised).

        The lock excludes every other process and thread writing the same file while the block
        runs; each of them waits for it at most its own ``lock_timeout``, then fails with
        :class:`~syncmcp.ConfigError`. ``timeout`` (default ``lock_timeout``) is how long this
        call waits to take the lock. Keep the block short: a read-modify-write, or, where a
        network exchange must happen under the lock (an OAuth refresh redeeming a single-use
        refresh token, then storing its successor), one request with a bounded read timeout.
        Readers (:meth:`load`, :meth:`entries`) never wait for the lock.
        """
        backend = self._backend
        with backend.locked(self.lock_timeout if timeout is None else timeout):
            txn = CredentialTransaction(backend.read(strict=False))
            yield txn
            if txn.changed:
                backend.write(txn.entries())

    def __repr__(self) -> str:
        path = self.path
        return "<CredentialStore in memory>" if path is None else f"<CredentialStore {str(path)!r}>"

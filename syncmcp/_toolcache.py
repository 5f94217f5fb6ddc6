"""The on-disk tool-list cache: a manager can list a server's tools before the server is ready.

One JSON file per server configuration in the user cache directory (platformdirs), named by the
sha1 of what decides which server runs: command, args, env, env_vars names, cwd and url. Values
of ``env`` are hashed, never written. A file is written to a temporary name and renamed over the
old one (readers never see half a file) while holding a ``filelock``, so several processes may
share the cache. Entries older than the TTL, from another format version, for another key, or
unreadable are ignored: the cache is an optimisation and never an error.

Example:
    >>> cache = ToolCache("/tmp/syncmcp-doc-cache")
    >>> cache.store("k" * 40, [{"name": "echo", "inputSchema": {"type": "object"}}])
    True
    >>> [tool["name"] for tool in cache.load("k" * 40)]
    ['echo']
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._config import ServerConfig

__all__ = ["CACHE_FORMAT", "DEFAULT_CACHE_TTL", "ToolCache", "tool_cache_key", "tool_cache_option"]

logger = logging.getLogger("syncmcp.cache")

#: Seconds a cached tool list stays valid (Codex's Apps tool cache TTL).
DEFAULT_CACHE_TTL = 3600.0
#: Version of the file layout; files of another version are ignored.
CACHE_FORMAT = 1
#: A timestamp this far in the future means a wrong clock or a foreign file: ignored.
_CLOCK_SKEW = 300.0


def tool_cache_key(config: ServerConfig) -> str:
    """The sha1 naming a configuration's cache file: command, args, env, env_vars, cwd, url.

    Example:
        >>> a = tool_cache_key(ServerConfig(command="npx", args=["-y", "pkg"]))
        >>> a == tool_cache_key(ServerConfig(command="npx", args=["-y", "pkg"], tool_timeout_sec=5))
        True
    """
    identity = {
        "command": config.command,
        "args": list(config.args),
        "env": sorted(config.env.items()),
        "env_vars": list(config.env_vars),
        "cwd": config.cwd,
        "url": config.url,
    }
    import hashlib

    encoded = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(encoded.encode("utf-8")).hexdigest()


class ToolCache:
    """Tool lists on disk, one file per server configuration, shared safely between processes.

    Args:
        directory: where the files go (default: ``tools`` in syncmcp's user cache directory).
        ttl: seconds an entry stays valid.
        lock_timeout: seconds to wait for another process's write before skipping ours.

    Example:
        cache = ToolCache(ttl=600)
        cache.directory
        # -> PosixPath('/home/me/.cache/syncmcp/tools')
    """

    def __init__(
        self,
        directory: Union[str, os.PathLike[str], None] = None,
        *,
        ttl: float = DEFAULT_CACHE_TTL,
        lock_timeout: float = 5.0,
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        self._directory = None if directory is None else Path(directory).expanduser()
        self.ttl = float(ttl)
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"ToolCache({str(self._directory) if self._directory else 'default'!r}, ttl={self.ttl:g})"

    @property
    def directory(self) -> Path:
        """The directory holding the cache files."""
        if self._directory is None:
            import platformdirs

            self._directory = platformdirs.user_cache_path("syncmcp", appauthor=False) / "tools"
        return self._directory

    def path_for(self, key: str) -> Path:
        """The file of one cache key."""
        return self.directory / f"tools-{key}.json"

    def load(self, key: str) -> Optional[List[Dict[str, Any]]]:
        """The cached tool list (raw ``Tool`` objects) for ``key``, or ``None`` if absent or unusable."""
        path = self.path_for(key)
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.debug("ignoring unreadable tool cache %s: %s", path, exc)
            return None
        reason = _invalid(data, key, self.ttl)
        if reason:
            logger.debug("ignoring tool cache %s: %s", path, reason)
            return None
        return [dict(tool) for tool in data["tools"]]

    def store(self, key: str, tools: Sequence[Mapping[str, Any]], *, server: str = "") -> bool:
        """Write a tool list atomically; returns whether it was written (failures are only logged).

        Args:
            key: from :func:`tool_cache_key`.
            tools: raw ``Tool`` objects as the server listed them.
            server: the server's name, recorded for people reading the file.
        """
        from filelock import FileLock, Timeout

        path = self.path_for(key)
        document = {
            "format": CACHE_FORMAT,
            "key": key,
            "server": server,
            "written_at": time.time(),
            "tools": [dict(tool) for tool in tools],
        }
        try:
            payload = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            logger.warning("tool list of MCP server '%s' is not JSON-serialisable; not cached: %s", server, exc)
            return False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(str(path) + ".lock", timeout=self.lock_timeout):
                _atomic_write(path, payload)
        except Timeout:
            logger.debug("tool cache %s is locked by another process; not updated", path)
            return False
        except OSError as exc:
            logger.debug("could not write tool cache %s: %s", path, exc)
            return False
        return True

    def clear(self) -> int:
        """Delete every cache file (lock files included); returns how many tool lists were removed."""
        removed = 0
        try:
            entries = list(self.directory.iterdir())
        except OSError:
            return 0
        for entry in entries:
            if entry.name.startswith("tools-"):
                try:
                    entry.unlink()
                except OSError:
                    continue
                removed += entry.suffix == ".json"
        return removed


def _invalid(data: Any, key: str, ttl: float) -> str:
    """Why a parsed cache document cannot be used ("" if it can)."""
    if not isinstance(data, dict):
        return "not an object"
    if data.get("format") != CACHE_FORMAT:
        return f"format {data.get('format')!r}"
    if data.get("key") != key:
        return "written for another key"
    written = data.get("written_at")
    if isinstance(written, bool) or not isinstance(written, (int, float)):
        return "no timestamp"
    age = time.time() - written
    if age > ttl:
        return f"stale ({age:.0f} s old)"
    if age < -_CLOCK_SKEW:
        return "timestamp in the future"
    tools = data.get("tools")
    if not isinstance(tools, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools):
        return "malformed tool list"
    return ""


def _atomic_write(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same directory, flush it to disk, rename it over ``path``."""
    import tempfile

    handle = tempfile.NamedTemporaryFile(dir=str(path.parent), prefix=".tools-", suffix=".tmp", delete=False)  # noqa: SIM115
    try:
        with handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        raise


def tool_cache_option(value: Union[bool, ToolCache, str, os.PathLike[str], None]) -> Optional[ToolCache]:
    """The tool cache a manager's ``tool_cache`` argument asks for (``None``: none).

    Example:
        >>> tool_cache_option(False) is None, isinstance(tool_cache_option(True), ToolCache)
        (True, True)
    """
    if isinstance(value, ToolCache):
        return value
    if value is True:
        return ToolCache()
    if value is False or value is None:
        return None
    return ToolCache(value)

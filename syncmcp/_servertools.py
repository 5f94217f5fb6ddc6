"""The tools of one managed server: its last listing (live, or from the disk cache) and their names.

A :class:`ServerTools` holds the tools a server listed, whether they came from the on-disk
:class:`~syncmcp._toolcache.ToolCache` (before the server ran), whether the server said they
changed since, and the :class:`~syncmcp._toolnames.ToolGroup` prepared from them. Its fields are
written under the owning server's lock and read without it (a snapshot of one reference).
"""

from __future__ import annotations

import threading
from typing import Optional, Tuple

from ._config import ServerConfig
from ._status import ServerState
from ._toolcache import ToolCache, tool_cache_key
from ._toolnames import ToolFilter, ToolGroup
from ._types import Tool

__all__ = ["ServerTools"]


class ServerTools:
    """The tools of server ``name``, loaded from ``cache`` when it is enabled and has them.

    Args:
        name: the server's name.
        config: its configuration.
        cache: the on-disk tool cache, if enabled.
        prefix: the prefix of qualified tool names, if any.
    """

    def __init__(self, name: str, config: ServerConfig, cache: Optional[ToolCache], prefix: Optional[str]) -> None:
        self._name = name
        self._prefix = prefix
        self._cache = cache
        self.tools: Optional[Tuple[Tool, ...]] = None
        self._write_lock = threading.Lock()  # taken alone, never with the server's lock
        self.cached = False
        self.stale = False
        self._group: Optional[Tuple[Tuple[Tool, ...], ToolGroup]] = None
        self._cache_key: Optional[str] = None
        if cache is not None and config.enabled:
            self._cache_key = tool_cache_key(config)
            cached = cache.load(self._cache_key)
            if cached is not None:
                self.tools = tuple(Tool.from_dict(tool) for tool in cached)
                self.cached = True

    def set_live(self, tools: Tuple[Tool, ...], stale: bool) -> None:
        """The tools a running instance listed (under the server's lock)."""
        self.tools = tools
        self.cached = False
        self.stale = stale

    def snapshot(self, state: ServerState) -> Optional[Tuple[Tool, ...]]:
        """The tools to list in ``state``: live ones when ready (or exited), cached ones while starting."""
        if state is ServerState.READY or state is ServerState.EXITED:
            return self.tools
        if (state is ServerState.STARTING or state is ServerState.PENDING) and self.cached:
            return self.tools
        return None

    def group(self, state: ServerState, tool_filter: ToolFilter) -> Optional[ToolGroup]:
        """The listed tools prepared for naming (``tool_filter`` applied), rebuilt only when the list changed."""
        snapshot = self.snapshot(state)
        if snapshot is None:
            return None
        cached = self._group
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        allowed = snapshot if tool_filter.allows_all else tuple(tool for tool in snapshot if tool_filter.allows(tool.name))
        group = ToolGroup(self._name, allowed, self._prefix)
        self._group = (snapshot, group)
        return group

    def find(self, tool_name: str) -> Optional[Tool]:
        """The definition of one of its tools, if known."""
        for tool in self.tools or ():
            if tool.name == tool_name:
                return tool
        return None

    def write_cache(self) -> None:
        """Store the live listing in the disk cache, if enabled.

        The list is read when the write starts, one write at a time: writes racing each other (a
        start-up's and a refresh's) leave the newest list on disk, whatever order they run in.
        """
        cache = self._cache
        if cache is None or self._cache_key is None:
            return
        with self._write_lock:
            tools = self.tools
            if tools is not None:
                cache.store(self._cache_key, [tool.raw or {"name": tool.name} for tool in tools], server=self._name)

"""A managed server's tools as its manager lists them: a base class of :class:`~syncmcp._managed.ManagedServer`.

What the manager names and routes by: the tools to list in the server's current state (live
ones, or the disk cache's while it starts), prepared for naming with the server's filters, and
a fresh listing once the server said they changed. The list itself and its disk cache are
:class:`~syncmcp._servertools.ServerTools`; the server's state machine stays in
:mod:`syncmcp._managed`. Every change of the list is reported through ``tools_changed``, so the
manager rebuilds its name map only then.
"""

from __future__ import annotations

import logging
import threading
from typing import Optional, Tuple

from ._config import ServerConfig
from ._events import ListChanged
from ._instance import Instance
from ._servertools import ServerTools
from ._services import Services
from ._status import ServerState
from ._toolnames import ToolFilter, ToolGroup
from ._types import Tool

__all__ = ["ManagedTools"]

logger = logging.getLogger("syncmcp.manager")


class ManagedTools:
    """The listed tools of one managed server (thread-safe).

    What it uses of the server is declared here and provided by
    :class:`~syncmcp._managed.ManagedServer`.
    """

    name: str
    config: ServerConfig
    filter: ToolFilter
    _svc: Services
    _lock: threading.Lock
    _state: ServerState
    _instance: Optional[Instance]
    _toolset: ServerTools

    def release(self, instance: Instance) -> None:
        """Undo one ``acquire`` (provided by the server)."""
        raise NotImplementedError

    def tool_snapshot(self) -> Optional[Tuple[Tool, ...]]:
        """The tools to list now: live ones when ready (or exited: it restarts on use), cached ones while starting."""
        return self._toolset.snapshot(self._state)

    def tool_group(self) -> Optional[ToolGroup]:
        """The listed tools prepared for naming (filter applied), rebuilt only when the list changed."""
        return self._toolset.group(self._state, self.filter)

    def known_tools(self) -> Tuple[Tool, ...]:
        """The last tools it listed (live or cached), whatever its state."""
        return self._toolset.tools or ()

    def find_tool(self, tool_name: str) -> Optional[Tool]:
        """The definition of one of its tools, if known."""
        return self._toolset.find(tool_name)

    @property
    def tools_stale(self) -> bool:
        """Whether the server said its tools changed since they were last listed."""
        return self._toolset.stale and self._state is ServerState.READY

    @property
    def has_cached_tools(self) -> bool:
        """Whether its tools are known from the disk cache while it is not running yet."""
        return self._toolset.cached

    def _list_changed(self, instance: Instance, kind: str) -> None:
        if kind == "tools":
            with self._lock:
                instance.tools_stale = True
                if self._instance is instance:
                    self._toolset.stale = True
        self._svc.emit(ListChanged(self.name, kind))

    def refresh_tools(self) -> None:
        """Re-list the tools if the server said they changed (a failure keeps the previous list)."""
        with self._lock:
            instance = self._instance
            if self._state is not ServerState.READY or instance is None or not self._toolset.stale:
                return
            self._toolset.stale = False
            instance.tools_stale = False
            instance.inflight += 1
        try:
            tools = instance.live_session.list_tools(timeout=self.config.tool_timeout_sec)
        except Exception as exc:
            logger.warning("Failed to refresh tools for MCP server '%s', using the previous list: %s", self.name, exc)
            return
        finally:
            self.release(instance)
        with self._lock:
            current = self._instance is instance
            if current:
                self._toolset.tools = tuple(tools)
                self._svc.tools_changed()
        if current:
            self.tool_group()
            self._toolset.write_cache()

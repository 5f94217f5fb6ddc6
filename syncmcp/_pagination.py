"""A session's listings: the table of the four kinds, pagination, and the cache of each.

``tools``, ``resources``, ``resource_templates`` and ``prompts`` are listed by following
``nextCursor`` to the last page (a repeated cursor, or more than :data:`MAX_PAGES` pages, is a
runaway server) and kept in a :class:`~syncmcp._listcache.ListCache` until the server says the
list changed (:data:`LIST_CHANGED`) or, in the 2026-07-28 era, the shortest ``ttlMs`` hint of its
pages expires. :meth:`Listings.page` fetches one page, uncached. Whether a listing may be asked
for (the session is open, the server declared the capability) is the session's decision.

Example::

    listings = Listings(session)
    tools = listings.get("tools", timeout=30.0, refresh=False)      # typed Tool objects
    items, cursor = listings.page("resources", None, timeout=30.0)
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Protocol, Set, Tuple

from ._era import ttl_seconds
from ._exceptions import RemoteProtocolError
from ._listcache import ListCache
from ._timeout import DEFAULT, Timeout, remaining
from ._types import Prompt, Resource, ResourceTemplate, Tool

__all__ = ["LISTINGS", "LIST_CHANGED", "MAX_PAGES", "Listing", "ListingOwner", "Listings"]

#: Most pages one listing follows before it is considered a runaway server.
MAX_PAGES = 1000


class Listing(NamedTuple):
    """How one kind of item is listed."""

    method: str  # the list method, e.g. "tools/list"
    key: str  # the key of the result's item list
    capability: str  # the server capability it needs
    convert: Callable[[Any], Any]  # wire dict -> typed item


#: kind -> how it is listed
LISTINGS: Dict[str, Listing] = {
    "tools": Listing("tools/list", "tools", "tools", Tool.from_dict),
    "resources": Listing("resources/list", "resources", "resources", Resource.from_dict),
    "resource_templates": Listing("resources/templates/list", "resourceTemplates", "resources", ResourceTemplate.from_dict),
    "prompts": Listing("prompts/list", "prompts", "prompts", Prompt.from_dict),
}

#: list_changed notification -> the kinds it invalidates (the first is the one reported)
LIST_CHANGED: Dict[str, Tuple[str, ...]] = {
    "notifications/tools/list_changed": ("tools",),
    "notifications/prompts/list_changed": ("prompts",),
    "notifications/resources/list_changed": ("resources", "resource_templates"),
}


class ListingOwner(Protocol):
    """What listings need from their session."""

    name: str

    @property
    def era(self) -> Optional[str]:
        """``"legacy"`` or ``"modern"`` once initialized."""

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *, timeout: Timeout = DEFAULT) -> Any:
        """Send a request and wait for its result."""


class Listings:
    """The four listings of one session, each cached (thread-safe: see :class:`ListCache`)."""

    def __init__(self, session: ListingOwner) -> None:
        self._session = session
        self._caches = {kind: ListCache() for kind in LISTINGS}

    def cache(self, kind: str) -> ListCache:
        """The cache of one kind of listing."""
        return self._caches[kind]

    def get(self, kind: str, timeout: Optional[float], refresh: bool) -> List[Any]:
        """The cache's own list of typed items for one kind, fetched (all pages) when stale.

        Raises:
            RequestTimeout: the listing (every page, or another thread's fetch) took too long.
            RemoteProtocolError: the server repeated a cursor or sent a malformed page.
        """
        listing = LISTINGS[kind]

        def fetch() -> Tuple[List[Any], Optional[float]]:
            raw, lifetime = self._paginate(listing.method, listing.key, timeout)
            convert = listing.convert
            return [convert(item) for item in raw], lifetime

        return self._caches[kind].get(fetch, timeout, refresh)

    def changed(self, method: str) -> str:
        """Invalidate what a ``list_changed`` notification is about; the kind to report."""
        kinds = LIST_CHANGED[method]
        for kind in kinds:
            self._caches[kind].invalidate()
        return kinds[0]

    def _paginate(self, method: str, key: str, timeout: Optional[float]) -> Tuple[List[Any], Optional[float]]:
        """Every item of a listing and the shortest ``ttlMs`` lifetime of its pages."""
        session = self._session
        deadline = None if timeout is None else time.monotonic() + timeout
        items: List[Any] = []
        seen: Set[str] = set()
        lifetime: Optional[float] = None
        cursor: Optional[str] = None
        for _ in range(MAX_PAGES):
            result = session.request(method, {"cursor": cursor} if cursor is not None else None, timeout=remaining(deadline))
            page, next_cursor = self._checked(method, key, result)
            items.extend(page)
            ttl = ttl_seconds(result, absent=0.0 if session.era == "modern" else None)
            if ttl is not None:
                lifetime = ttl if lifetime is None else min(lifetime, ttl)
            if next_cursor is None:
                return items, lifetime
            if next_cursor in seen or next_cursor == cursor:
                raise RemoteProtocolError(f"{method} returned duplicate cursor")
            seen.add(next_cursor)
            cursor = next_cursor
        raise RemoteProtocolError(f"{method} from '{session.name}' returned more than {MAX_PAGES} pages")

    def page(self, kind: str, cursor: Optional[str], timeout: Timeout) -> Tuple[List[Any], Optional[str]]:
        """One page of a listing, uncached: ``(typed items, next cursor or None)``.

        Raises:
            RemoteProtocolError: the page is malformed.
        """
        method, key, _, convert = LISTINGS[kind]
        result = self._session.request(method, {"cursor": cursor} if cursor is not None else None, timeout=timeout)
        page, next_cursor = self._checked(method, key, result)
        return [convert(item) for item in page], next_cursor

    def _checked(self, method: str, key: str, result: Any) -> Tuple[List[Any], Optional[str]]:
        """A page's raw items and its next cursor (``None`` for the last page, ``""`` included).

        Raises:
            RemoteProtocolError: no item list, or a cursor that is not a string.
        """
        name = self._session.name
        page = result.get(key) if isinstance(result, dict) else None
        if not isinstance(page, list):
            raise RemoteProtocolError(f"{method} result from '{name}' has no '{key}' list")
        next_cursor = result.get("nextCursor")
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise RemoteProtocolError(f"{method} from '{name}' returned a non-string cursor {next_cursor!r}")
        return page, next_cursor or None

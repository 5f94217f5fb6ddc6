"""A listing cache: fully paginated, invalidated by ``list_changed``, bounded by ``ttlMs``.

``invalidate`` bumps a generation; a fetch stores its result tagged with the generation it
started at, so a listing that raced with a change is already stale when stored. Concurrent
readers of a stale cache share one fetch: a burst of ``list_changed`` notifications costs one
request, not one per notification. A fetch may also return a lifetime (the 2026-07-28
``ttlMs`` hint); the entry is stale once it expires.

Example:
    >>> cache = ListCache()
    >>> cache.get(lambda: ([1, 2], None), timeout=1.0, refresh=False)
    [1, 2]
    >>> cache.peek()
    [1, 2]
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

from ._exceptions import RequestTimeout

__all__ = ["ListCache"]

Fetch = Callable[[], Tuple[List[Any], Optional[float]]]


class ListCache:
    """One cached listing; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        # (generation it was fetched at, items, monotonic expiry or None for "until invalidated")
        self._value: Optional[Tuple[int, List[Any], Optional[float]]] = None
        self._inflight: Optional[concurrent.futures.Future[List[Any]]] = None

    def invalidate(self) -> None:
        """Mark the cached listing stale (the next ``get`` fetches)."""
        with self._lock:
            self._generation += 1

    def fresh(self) -> bool:
        """Whether a listing is cached and neither invalidated nor expired."""
        with self._lock:
            value = self._value
            return value is not None and value[0] == self._generation and (value[2] is None or time.monotonic() < value[2])

    def peek(self) -> Optional[List[Any]]:
        """The last listing fetched, stale or not; ``None`` if never fetched."""
        value = self._value
        return value[1] if value is not None else None

    def get(self, fetch: Fetch, timeout: Optional[float], refresh: bool) -> List[Any]:
        """The listing, fetched with ``fetch() -> (items, lifetime seconds or None)`` if stale.

        Raises:
            RequestTimeout: waiting for another thread's fetch took longer than ``timeout``.
        """
        with self._lock:
            if refresh:
                self._generation += 1
            value = self._value
            if value is not None and value[0] == self._generation and (value[2] is None or time.monotonic() < value[2]):
                return value[1]
            future = self._inflight
            owner = future is None
            if owner:
                future = self._inflight = concurrent.futures.Future()
            generation = self._generation
        assert future is not None
        if not owner:
            try:
                return future.result(timeout)
            except concurrent.futures.TimeoutError:
                raise RequestTimeout(
                    f"listing timed out after {timeout} s waiting for a concurrent fetch", timeout=timeout
                ) from None
        try:
            items, lifetime = fetch()
        except BaseException as exc:
            with self._lock:
                self._inflight = None
            future.set_exception(exc)
            raise
        expires = None if lifetime is None else time.monotonic() + lifetime
        with self._lock:
            self._inflight = None
            self._value = (generation, items, expires)
        future.set_result(items)
        return items

"""A listing cache: fully paginated, invalidated by ``list_changed``, bounded by ``ttlMs``.

``invalidate`` bumps a generation; a fetch stores its result tagged with the generation it
started at, so a listing that raced with a change is already stale when stored. Concurrent
readers of a stale cache share one fetch: a burst of ``list_changed`` notifications costs one
request, not one per notification; a reader never shares a fetch that started before the
latest change. A fetch may also return a lifetime (the 2026-07-28
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
        # (generation the newest fetch started at, its future)
        self._inflight: Optional[Tuple[int, concurrent.futures.Future[List[Any]]]] = None

    def invalidate(self) -> None:
        """Mark the cached listing stale (the next ``get`` fetches)."""
        with self._lock:
            self._generation += 1

    def fresh(self) -> bool:
        """Whether a listing is cached and neither invalidated nor expired."""
        with self._lock:
            return self._fresh_value() is not None

    def _fresh_value(self) -> Optional[List[Any]]:
        value = self._value  # the caller holds the lock
        if value is not None and value[0] == self._generation and (value[2] is None or time.monotonic() < value[2]):
            return value[1]
        return None

    def peek(self) -> Optional[List[Any]]:
        """The last listing fetched, stale or not; ``None`` if never fetched."""
        value = self._value
        return value[1] if value is not None else None

    def get(self, fetch: Fetch, timeout: Optional[float], refresh: bool) -> List[Any]:
        """The listing, fetched with ``fetch() -> (items, lifetime seconds or None)`` if stale.

        A caller joins a fetch in flight only if it started after the last invalidation (or
        ``refresh``); if that fetch fails because its owner's time ran out (or the owner was
        interrupted), a caller with time left fetches again with its own budget.

        Raises:
            RequestTimeout: waiting for another thread's fetch took longer than ``timeout``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if refresh:
            self.invalidate()
        while True:
            with self._lock:
                cached = self._fresh_value()
                if cached is not None:
                    return cached
                inflight = self._inflight
                if inflight is None or inflight[0] != self._generation:
                    generation = self._generation
                    future: concurrent.futures.Future[List[Any]] = concurrent.futures.Future()
                    self._inflight = (generation, future)
                    owner = True
                else:
                    generation, future = inflight
                    owner = False
            if owner:
                return self._fetch(fetch, future, generation)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not concurrent.futures.wait([future], remaining).done:
                raise RequestTimeout(f"listing timed out after {timeout} s waiting for a concurrent fetch", timeout=timeout)
            error = future.exception()
            if error is None:
                return future.result()
            owners_own = isinstance(error, RequestTimeout) or not isinstance(error, Exception)
            if not (owners_own and (deadline is None or time.monotonic() < deadline)):
                raise error

    def _fetch(self, fetch: Fetch, future: concurrent.futures.Future[List[Any]], generation: int) -> List[Any]:
        """Run ``fetch`` as the owner of ``future``; store the result unless a newer one is stored."""
        try:
            items, lifetime = fetch()
        except BaseException as exc:
            with self._lock:
                if self._inflight is not None and self._inflight[1] is future:
                    self._inflight = None
            future.set_exception(exc)
            raise
        expires = None if lifetime is None else time.monotonic() + lifetime
        with self._lock:
            if self._inflight is not None and self._inflight[1] is future:
                self._inflight = None
            if self._value is None or self._value[0] <= generation:
                self._value = (generation, items, expires)
        future.set_result(items)
        return items

"""The threads of the HTTP transport, and the requests it must be able to abort on close.

:func:`request_workers` is the pool that carries the transport's requests
(``syncmcp-http[<name>]_N``): threads start when every one is busy, end after ``WORKER_IDLE``
idle seconds, and are joined by ``close``. :class:`Unanswered` keeps the means to abort the
transport's own requests (answers, notifications, re-initialization, re-listing) while they wait
for their response head, so that ``close`` does not wait for a silent server. Neither knows MCP
or HTTP.

Example::

    workers = request_workers("remote")
    workers.submit(print, "on a worker")
    workers.shutdown(time.monotonic() + 5.0)
"""

from __future__ import annotations

import itertools
import threading
from typing import Callable, Dict, Optional

from ._workers import WorkerPool

__all__ = ["WORKER_IDLE", "Unanswered", "request_workers"]

#: Idle seconds after which a request worker ends.
WORKER_IDLE = 30.0


def request_workers(name: str) -> WorkerPool:
    """The pool that carries one HTTP transport's requests: unbounded, idle threads end."""
    return WorkerPool(f"syncmcp-http[{name}]", idle_timeout=WORKER_IDLE)


class Unanswered:
    """The transport's own requests still waiting for their response head: ``close`` aborts them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aborts: Dict[int, Callable[[], None]] = {}
        self._keys = itertools.count()
        self._closed = False

    def hook(self) -> Callable[[Optional[Callable[[], None]]], None]:
        """An ``on_pending`` (see :meth:`ConnectionPool.send`) for one request."""
        key = next(self._keys)

        def pending(abort: Optional[Callable[[], None]]) -> None:
            with self._lock:
                if abort is None:
                    self._aborts.pop(key, None)
                    return
                if not self._closed:
                    self._aborts[key] = abort
                    return
            abort()  # closed already: at once (an abort is harmless once its attempt is over)

        return pending

    def abort_all(self) -> None:
        """Abort every request still waiting, and every later one at once."""
        with self._lock:
            self._closed = True
            aborts, self._aborts = list(self._aborts.values()), {}
        for abort in aborts:
            abort()

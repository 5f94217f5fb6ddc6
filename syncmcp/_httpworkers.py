"""The threads of the HTTP transport, and the requests it must be able to abort on close.

:class:`Workers` is a small pool that carries the transport's requests (``syncmcp-http[<name>]_N``):
threads are started when every one is busy, end after ``_WORKER_IDLE`` idle seconds, and are
joined by ``close``. :class:`Unanswered` keeps the means to abort the transport's own requests
(answers, notifications, re-initialization, re-listing) while they wait for their response head,
so that ``close`` does not wait for a silent server. Neither knows MCP or HTTP.

Example::

    workers = Workers("syncmcp-http[remote]")
    workers.submit(print, "on a worker")
    workers.close(time.monotonic() + 5.0)
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["Unanswered", "Workers"]

logger = logging.getLogger("syncmcp.http")

#: Idle seconds after which a worker thread ends.
_WORKER_IDLE = 30.0


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
                elif self._closed:
                    abort()
                else:
                    self._aborts[key] = abort

        return pending

    def abort_all(self) -> None:
        """Abort every request still waiting, and every later one at once."""
        with self._lock:
            self._closed = True
            aborts, self._aborts = list(self._aborts.values()), {}
            for abort in aborts:
                abort()


class Workers:
    """Threads that carry requests: grown on demand, ended when idle, joined on close."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._queue: queue.SimpleQueue[Optional[Tuple[Callable[..., None], Tuple[Any, ...]]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._ids = itertools.count()

    def submit(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run ``fn(*args)`` on a worker; ``False`` (and not run) once closed."""
        with self._lock:
            if self._closed:
                return False
            self._queue.put((fn, args))
            if self._idle:
                self._idle -= 1
                return True
            thread = threading.Thread(target=self._work, name=f"{self._name}_{next(self._ids)}", daemon=True)
            self._threads.append(thread)
        thread.start()
        return True

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                item = self._queue.get(timeout=_WORKER_IDLE)
            except queue.Empty:
                with self._lock:
                    if self._idle and self._queue.empty():
                        self._idle -= 1
                        self._threads.remove(me)
                        return
                continue
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                logger.exception("unhandled error in an HTTP worker")
            with self._lock:
                self._idle += 1

    def close(self, deadline: float) -> None:
        """Refuse new work, end the threads, and join them until ``deadline`` (``time.monotonic()``)."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))

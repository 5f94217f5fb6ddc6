"""A small pool of named daemon threads whose shutdown has a deadline.

``concurrent.futures.ThreadPoolExecutor`` cannot join its threads with a timeout, so a task stuck
waiting for a user (an elicitation handler) or a silent server would make ``close()`` hang. This
pool grows on demand up to ``max_workers`` (or without bound), may let idle threads end, runs
*essential* queued work even when it shuts down, and joins its threads until a deadline. The
endpoint uses it for its handlers, notifications and control messages; the HTTP transport for
its requests. It knows nothing of MCP.

Example:
    >>> import time
    >>> pool = WorkerPool("syncmcp-doc", max_workers=2)
    >>> done = []
    >>> pool.submit(done.append, "ran")
    True
    >>> pool.shutdown(time.monotonic() + 5.0)
    >>> done
    ['ran']
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["WorkerPool"]

logger = logging.getLogger("syncmcp.workers")

_Item = Tuple[Callable[..., Any], Tuple[Any, ...], bool]


class WorkerPool:
    """Named daemon threads, started when every one is busy, joined with a deadline.

    Args:
        name: thread names are ``<name>_<n>``.
        max_workers: most threads at once (``None``: one per task waiting, without bound).
        idle_timeout: seconds after which an idle thread ends (``None``: threads stay until
            shutdown).

    Example::

        pool = WorkerPool("syncmcp-handler[fs]", max_workers=8)
        pool.submit(print, "hello")
        pool.shutdown(time.monotonic() + 5)
    """

    def __init__(self, name: str, max_workers: Optional[int] = None, idle_timeout: Optional[float] = None) -> None:
        self._name = name
        self._max = max_workers
        self._idle_timeout = idle_timeout
        self._queue: queue.SimpleQueue[Optional[_Item]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: List[threading.Thread] = []
        self._idle = 0
        self._closed = False
        self._ids = itertools.count()

    def submit(self, fn: Callable[..., Any], *args: Any, essential: bool = False) -> bool:
        """Queue ``fn(*args)``; ``False`` (and not run) once the pool shuts down.

        ``essential`` work also runs when the pool shuts down before a thread took it.
        """
        with self._lock:
            if self._closed:
                return False
            self._queue.put((fn, args, essential))
            if self._idle:
                self._idle -= 1
                return True
            if self._max is not None and len(self._threads) >= self._max:
                return True
            thread = threading.Thread(target=self._work, name=f"{self._name}_{next(self._ids)}", daemon=True)
            self._threads.append(thread)
        thread.start()
        return True

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                item = self._queue.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    if self._idle and self._queue.empty():  # still idle: this thread ends
                        self._idle -= 1
                        self._threads.remove(me)
                        return
                continue
            if item is None:
                return
            _run_quietly(item[0], item[1])
            with self._lock:
                self._idle += 1

    def owns(self, thread: threading.Thread) -> bool:
        """Whether ``thread`` is one of this pool's workers."""
        with self._lock:
            return thread in self._threads

    def shutdown(self, deadline: float) -> None:
        """Run what is essential, drop the rest, stop the threads, join them until ``deadline``.

        ``deadline`` is a ``time.monotonic()`` value. Callable from one of the pool's own threads
        (that one is not joined).
        """
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None and item[2]:
                _run_quietly(item[0], item[1])
        for _ in threads:
            self._queue.put(None)
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))


def _run_quietly(fn: Callable[..., Any], args: Tuple[Any, ...]) -> None:
    try:
        fn(*args)
    except Exception:
        logger.exception("unhandled error in %r", fn)

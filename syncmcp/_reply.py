"""The one-shot slot a sent request's outcome lands in: a lock the settling thread releases.

A blocking call needs one hand-off from the reader thread to the caller, so a reply is a
``threading.Lock`` taken when the reply is made and released, once, when it is settled; a
waiter acquires it with its deadline and lets it go again for the next waiter. That is one
lock per request, where a ``concurrent.futures.Future`` takes a condition variable, its
re-entrant lock and a waiter lock per wait. Done-callbacks (rare: progress bookkeeping, the
public ``add_done_callback``) need no second lock: each is taken off the list with one atomic
``list.pop`` by whichever of the settling and the registering thread gets to it, so it runs
exactly once, and nothing process-wide is ever held (nothing a ``fork()`` could leave locked).

Example:
    >>> reply = Reply()
    >>> reply.wait(0.0)
    False
    >>> reply.set_result({"ok": True})
    >>> reply.wait(None), reply.outcome()
    (True, {'ok': True})
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

__all__ = ["Reply"]


class Reply:
    """The outcome of one request: settled once (``set_result`` or ``set_exception``), waited on by any number."""

    __slots__ = ("_callbacks", "_done", "_error", "_gate", "_value")

    def __init__(self) -> None:
        gate = threading.Lock()
        gate.acquire()  # released when settled
        self._gate = gate
        self._done = False
        self._value: Any = None
        self._error: Optional[BaseException] = None
        self._callbacks: List[Callable[[], Any]] = []

    def done(self) -> bool:
        """Whether the outcome is in."""
        return self._done

    def set_result(self, value: Any) -> None:
        """Settle with a value (the caller must be the one thread entitled to settle)."""
        if self._done:  # _settle, written out: every response goes through here
            raise RuntimeError("a reply is settled only once")
        self._value = value
        self._done = True
        self._gate.release()
        if self._callbacks:
            self._run_callbacks()

    def set_exception(self, error: BaseException) -> None:
        """Settle with an error that :meth:`outcome` raises."""
        self._settle(None, error)

    def _settle(self, value: Any, error: Optional[BaseException]) -> None:
        if self._done:
            raise RuntimeError("a reply is settled only once")
        self._value = value
        self._error = error
        self._done = True  # after the outcome: whoever sees it done may read it
        self._gate.release()
        if self._callbacks:
            self._run_callbacks()

    def wait(self, timeout: Optional[float]) -> bool:
        """Wait up to ``timeout`` seconds (``None``: no limit); whether the outcome is in."""
        if self._done:
            return True
        gate = self._gate
        if not gate.acquire(True, -1 if timeout is None else timeout):
            return False
        gate.release()  # for the next waiter
        return True

    def take(self, timeout: Optional[float]) -> bool:
        """:meth:`wait` for the one waiter there will ever be: the gate is not reopened behind it.

        Whether the outcome is in. Only for a reply nobody else waits on (a blocking call's own);
        after ``False`` it may still be waited on with :meth:`wait`.
        """
        return self._done or self._gate.acquire(True, -1 if timeout is None else timeout)

    def outcome(self) -> Any:
        """The value, or raise the error, of a settled reply."""
        error = self._error
        if error is not None:
            raise error
        return self._value

    def on_done(self, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` once settled, on the settling thread; here, at once, if already settled."""
        self._callbacks.append(fn)
        if self._done:  # settled meanwhile or before: the settler may have missed it
            self._run_callbacks()

    def _run_callbacks(self) -> None:
        # syncmcp's own callbacks, which hand any user code to another thread
        callbacks = self._callbacks
        while True:
            try:
                fn = callbacks.pop(0)  # atomic: each callback is taken, and run, exactly once
            except IndexError:
                return
            fn()

"""fork() awareness: which objects a process inherited from its parent.

``os.fork()`` copies every object into the child but none of the threads behind them: an
inherited session's reader thread, its server process and whatever locks those threads held
all stay with the parent, which goes on using them. Objects note the process *generation* they
were made in; a child's generation differs from its parent's, so an inherited object can tell,
with one comparison, that it must not write, read, wait or kill anything.

Work that cannot wait until the object is next used (letting go of inherited pipe ends, so that
a server sees the end of its input when the parent closes it) registers a hook that runs in the
child right after the fork.

Example:
    >>> born = generation()
    >>> inherited(born)
    False
"""

from __future__ import annotations

import os
from typing import Callable, List

from ._exceptions import ForkedProcessError

__all__ = ["ForkedProcessError", "after_fork_in_child", "forked_error", "generation", "inherited"]

_generation = 0
_pid = os.getpid()
_parents: List[int] = []  # the pid of each process in the chain of forks, the oldest first
_child_hooks: List[Callable[[], None]] = []


def generation() -> int:
    """The current process generation: 0 in the process that imported syncmcp, +1 per fork."""
    return _generation


def inherited(born: int) -> bool:
    """Whether an object made in generation ``born`` came from a parent process by ``fork()``."""
    return born != _generation


def forked_error(what: str, born: int, advice: str = "") -> ForkedProcessError:
    """The error for using ``what`` (e.g. ``"session 'fs'"``) in a process that inherited it."""
    maker = _parents[born] if born < len(_parents) else _pid
    return ForkedProcessError(
        f"{what} was made in process {maker} before fork(); it cannot be used in process {os.getpid()}, "
        f"which inherited a copy (its server connections and threads stay with process {maker}). "
        + (advice or "Make a new one in this process.")
    )


def after_fork_in_child(hook: Callable[[], None]) -> None:
    """Run ``hook`` in every child right after ``os.fork()``, once the generation was advanced.

    Hooks must not take locks another thread may have held at the fork, nor do I/O that can block.
    """
    _child_hooks.append(hook)


def _in_child() -> None:
    global _generation, _pid
    _parents.append(_pid)
    _generation += 1
    _pid = os.getpid()
    for hook in _child_hooks:
        try:
            hook()
        except Exception:  # pragma: no cover - a hook must never break the child
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_child)

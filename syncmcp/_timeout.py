"""Timeouts: the :data:`DEFAULT` sentinel, how a timeout argument is resolved, what a deadline leaves.

Every blocking call takes ``timeout`` in float seconds. ``DEFAULT`` means "the default of the
object you are calling" (a session's ``timeout``, say); ``None`` means "no limit" and is only
ever used when a caller passes it explicitly. A wait covering several steps computes one
``time.monotonic()`` deadline and gives each step what :func:`remaining` says is left of it.

Example:
    >>> resolve_timeout(DEFAULT, 60.0), resolve_timeout(2.5, 60.0), resolve_timeout(None, 60.0)
    (60.0, 2.5, None)
"""

from __future__ import annotations

import enum
import math
import threading
import time
from typing import Optional, Union

__all__ = ["DEFAULT", "Timeout", "remaining", "resolve_timeout"]


class _Default(enum.Enum):
    """Type of :data:`DEFAULT`."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: Longest wait the platform's locks accept, less a margin for the deadline arithmetic on top.
_LONGEST_WAIT = threading.TIMEOUT_MAX / 2

#: "Use the default timeout". It exists because ``None`` already means "no timeout".
DEFAULT = _Default.DEFAULT

Timeout = Union[float, None, _Default]


def resolve_timeout(timeout: Timeout, default: Optional[float]) -> Optional[float]:
    """The number of seconds ``timeout`` stands for (``None``: no limit).

    Infinity means no limit; values beyond what the platform can wait for are capped there.

    Raises:
        ValueError: a negative or NaN timeout.

    Example:
        >>> resolve_timeout(float("inf"), 60.0) is None
        True
    """
    value = default if timeout is DEFAULT else timeout
    if value is None:
        return None
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"timeout must be a non-negative number of seconds or None, got {value!r}")
    if value == math.inf:
        return None
    return min(float(value), _LONGEST_WAIT)


def remaining(deadline: Optional[float]) -> Optional[float]:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value), never negative.

    ``None`` means no deadline, and stays ``None`` (no limit).

    Example:
        >>> remaining(None) is None, remaining(time.monotonic() - 5.0)
        (True, 0.0)
    """
    return None if deadline is None else max(0.0, deadline - time.monotonic())

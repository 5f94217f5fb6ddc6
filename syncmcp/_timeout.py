"""Timeouts: the :data:`DEFAULT` sentinel and how a timeout argument is resolved.

Every blocking call takes ``timeout`` in float seconds. ``DEFAULT`` means "the default of the
object you are calling" (a session's ``timeout``, say); ``None`` means "no limit" and is only
ever used when a caller passes it explicitly.

Example:
    >>> resolve_timeout(DEFAULT, 60.0), resolve_timeout(2.5, 60.0), resolve_timeout(None, 60.0)
    (60.0, 2.5, None)
"""

from __future__ import annotations

import enum
from typing import Optional, Union

__all__ = ["DEFAULT", "Timeout", "resolve_timeout"]


class _Default(enum.Enum):
    """Type of :data:`DEFAULT`."""

    DEFAULT = "DEFAULT"

    def __repr__(self) -> str:
        return "DEFAULT"


#: "Use the default timeout". It exists because ``None`` already means "no timeout".
DEFAULT = _Default.DEFAULT

Timeout = Union[float, None, _Default]


def resolve_timeout(timeout: Timeout, default: Optional[float]) -> Optional[float]:
    """The number of seconds ``timeout`` stands for (``None``: no limit).

    Raises:
        ValueError: a negative or NaN timeout.
    """
    value = default if timeout is DEFAULT else timeout
    if value is not None and not value >= 0:  # also rejects NaN
        raise ValueError(f"timeout must be a non-negative number of seconds or None, got {value!r}")
    return value

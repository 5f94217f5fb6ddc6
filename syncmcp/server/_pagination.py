"""Opaque, tamper-evident cursors for the paginated list methods.

A cursor names the list it belongs to and the position of the next item, signed with a key
that exists only in this server process. Clients must treat cursors as opaque; one that was
altered, belongs to another list or another process is refused (the caller answers -32602).

Example:
    >>> codec = CursorCodec()
    >>> items, cursor = codec.page("tools", range(5), None, 2)
    >>> items
    [0, 1]
    >>> codec.page("tools", range(5), cursor, 2)[0]
    [2, 3]
    >>> codec.page("prompts", range(5), cursor, 2)
    Traceback (most recent call last):
    ...
    ValueError: Invalid cursor: it belongs to another list
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import os
from typing import Iterable, List, Optional, Tuple, TypeVar

__all__ = ["DEFAULT_PAGE_SIZE", "CursorCodec"]

#: Items per page of ``tools/list``, ``prompts/list``, ``resources/list`` and ``resources/templates/list``.
DEFAULT_PAGE_SIZE = 100
#: Longest cursor accepted (a real one is under 60 characters).
_MAX_CURSOR = 256
#: Bytes of HMAC in a cursor.
_SIGNATURE = 12

T = TypeVar("T")


class CursorCodec:
    """Makes and checks cursors; one per server (the key lives only in this process).

    Example:
        >>> CursorCodec().decode("tools", "garbage")
        Traceback (most recent call last):
        ...
        ValueError: Invalid cursor: not one this server issued
    """

    def __init__(self, key: Optional[bytes] = None) -> None:
        self._key = key if key is not None else os.urandom(16)

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_SIGNATURE]

    def encode(self, kind: str, offset: int) -> str:
        """The cursor for position ``offset`` of list ``kind``."""
        payload = f"{kind}:{offset}".encode()
        return base64.urlsafe_b64encode(payload + b"|" + self._sign(payload)).decode("ascii").rstrip("=")

    def decode(self, kind: str, cursor: object) -> int:
        """The position a cursor stands for.

        Raises:
            ValueError: the cursor is not a string this server issued for ``kind``.
        """
        if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR:
            raise ValueError("Invalid cursor: not one this server issued")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ValueError("Invalid cursor: not one this server issued") from exc
        # The signature has a fixed length and may contain any byte, the separator included.
        payload, separator, signature = raw[: -_SIGNATURE - 1], raw[-_SIGNATURE - 1 : -_SIGNATURE], raw[-_SIGNATURE:]
        if not payload or separator != b"|" or not hmac.compare_digest(signature, self._sign(payload)):
            raise ValueError("Invalid cursor: not one this server issued")
        found_kind, _, offset = payload.decode("utf-8", "replace").rpartition(":")
        if found_kind != kind:
            raise ValueError("Invalid cursor: it belongs to another list")
        return int(offset)

    def page(self, kind: str, items: Iterable[T], cursor: Optional[object], page_size: int) -> Tuple[List[T], Optional[str]]:
        """One page of ``items`` starting at ``cursor`` (``None``: the start), and the next cursor.

        ``items`` may be a generator: only as many items as the page needs (plus one) are
        consumed.

        Raises:
            ValueError: an invalid cursor.
        """
        offset = 0 if cursor is None else self.decode(kind, cursor)
        window = list(itertools.islice(items, offset, offset + page_size + 1))
        if len(window) > page_size:
            return window[:page_size], self.encode(kind, offset + page_size)
        return window, None

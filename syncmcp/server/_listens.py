"""2026-07-28 ``subscriptions/listen`` streams: what a stream honours and which notifications it wants.

Shared by the stdio connection and the HTTP application: a listen request names the
notifications it wants; the server honours the subset it can send (what it declared), confirms
it with ``notifications/subscriptions/acknowledged`` and then sends only matching
notifications, each tagged with the listen request's id.

Example:
    >>> honored = honored_subscriptions({"toolsListChanged": True, "promptsListChanged": True}, {"tools": {}})
    >>> honored
    {'toolsListChanged': True}
    >>> ListenStream(7, honored).wants("notifications/tools/list_changed", {})
    True
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Mapping, Tuple

from .._jsonrpc import RequestId

__all__ = ["ListenStream", "honored_subscriptions"]

_LIST_CHANGED_KEYS = {
    "notifications/tools/list_changed": "toolsListChanged",
    "notifications/prompts/list_changed": "promptsListChanged",
    "notifications/resources/list_changed": "resourcesListChanged",
}


def honored_subscriptions(wanted: Mapping[str, Any], declared: Mapping[str, Any]) -> Dict[str, Any]:
    """The part of a listen request's ``notifications`` the server can send, given its capabilities."""
    honored: Dict[str, Any] = {}
    for key, capability in (
        ("toolsListChanged", "tools"),
        ("promptsListChanged", "prompts"),
        ("resourcesListChanged", "resources"),
    ):
        if wanted.get(key) is True and capability in declared:
            honored[key] = True
    uris = wanted.get("resourceSubscriptions")
    if isinstance(uris, list) and "resources" in declared:
        kept = [uri for uri in uris if isinstance(uri, str)]
        if kept:
            honored["resourceSubscriptions"] = kept
    return honored


class ListenStream:
    """One ``subscriptions/listen`` stream: what it honours, and events held until its ack is out.

    Args:
        request_id: the listen request's id (tags every notification sent on it).
        honored: the honoured subset (see :func:`honored_subscriptions`).

    Example:
        >>> stream = ListenStream("s1", {"resourceSubscriptions": ["file:///a"]})
        >>> stream.wants("notifications/resources/updated", {"uri": "file:///a"})
        True
    """

    def __init__(self, request_id: RequestId, honored: Dict[str, Any]) -> None:
        self.request_id = request_id
        self.honored = honored
        self.uris = frozenset(honored.get("resourceSubscriptions") or ())
        self.lock = threading.Lock()
        self.ready = False
        self.backlog: List[Tuple[str, Dict[str, Any]]] = []
        self.stop = threading.Event()

    def wants(self, method: str, params: Mapping[str, Any]) -> bool:
        """Whether a notification belongs on this stream."""
        if method == "notifications/resources/updated":
            return params.get("uri") in self.uris
        key = _LIST_CHANGED_KEYS.get(method)
        return key is not None and self.honored.get(key) is True

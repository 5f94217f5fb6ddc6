"""A session's subscriptions: resource subscribers, and the 2026-07-28 ``subscriptions/listen`` stream.

Legacy servers get ``resources/subscribe`` and ``resources/unsubscribe``. A 2026-07-28 server
has one long-lived ``subscriptions/listen`` request per session instead, naming everything the
client wants to hear about (list changes the server offers, subscribed resource URIs); each
change of the subscriptions replaces it with a new stream, and the caller waits until the server
acknowledges the new one. While two streams overlap, notifications from the retired one are
dropped (each would otherwise arrive twice). Callbacks run on the session's notification worker,
in arrival order, never on the reader thread, and never under a lock. Whether a subscription
may be made at all (the session is open, the server offers subscriptions) is the session's
decision.

Example::

    subscriptions = Subscriptions(session, endpoint.on_notification_thread)
    subscriptions.subscribe("file:///notes.txt", print, timeout=30.0)
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Set

from ._endpoint import PendingRequest, ProgressCallback
from ._era import META_SUBSCRIPTION_ID
from ._exceptions import ConnectionClosed, MCPError, RequestCancelled, RequestTimeout
from ._timeout import DEFAULT, Timeout, resolve_timeout

__all__ = ["SubscriptionOwner", "Subscriptions"]

logger = logging.getLogger("syncmcp.session")

#: (list capability of the server, the ``subscriptions/listen`` flag asking for its changes)
_LIST_FLAGS = (("tools", "toolsListChanged"), ("prompts", "promptsListChanged"), ("resources", "resourcesListChanged"))


class SubscriptionOwner(Protocol):
    """What subscriptions need from their session."""

    name: str

    @property
    def era(self) -> Optional[str]:
        """``"legacy"`` or ``"modern"`` once initialized."""

    @property
    def timeout(self) -> Optional[float]:
        """The session's default timeout."""

    @property
    def server_capabilities(self) -> Dict[str, Any]:
        """The capabilities the server declared."""

    def submit(
        self, method: str, params: Optional[Mapping[str, Any]] = None, *, on_progress: Optional[ProgressCallback] = None
    ) -> PendingRequest:
        """Send a request and return at once with its handle."""

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *, timeout: Timeout = DEFAULT) -> Any:
        """Send a request and wait for its result."""


class Subscriptions:
    """The resource subscribers of one session and, in the 2026-07-28 era, its listen stream.

    Thread-safe. Locks (never nested, never held across I/O or a callback): one for the
    subscribers, one for the stream's bookkeeping, and a condition for acknowledgements.

    Attributes:
        stream: the current ``subscriptions/listen`` request (``None``: none open).
        generation: how many restarts of the stream began (the newest one wins).
    """

    def __init__(self, session: SubscriptionOwner, on_notification_thread: Callable[[], bool]) -> None:
        self._session = session
        self._on_notification_thread = on_notification_thread
        self._subscribers: Dict[str, List[Callable[[str], None]]] = {}
        self._subscribers_lock = threading.Lock()
        self.stream: Optional[PendingRequest] = None
        self._stream_lock = threading.Lock()
        self.generation = 0
        self._retired: Set[int] = set()  # ids of replaced streams that may still deliver
        self._acknowledged = threading.Condition()
        self._acknowledged_ids: Set[Any] = set()

    def subscribed(self) -> Dict[str, List[Callable[[str], None]]]:
        """A copy of ``{uri: callbacks}`` of every subscribed resource."""
        with self._subscribers_lock:
            return {uri: list(callbacks) for uri, callbacks in self._subscribers.items()}

    def subscribe(self, uri: str, on_updated: Optional[Callable[[str], None]], timeout: Timeout) -> None:
        """Subscribe to a resource; see ``ClientSession.subscribe_resource``.

        Raises:
            RemoteError: the server refused (nothing of this call stays subscribed).
            RequestTimeout: no answer in time (nothing of this call stays subscribed).
        """
        with self._subscribers_lock:
            known = uri in self._subscribers
            self._subscribers.setdefault(uri, [])
            if on_updated is not None:
                self._subscribers[uri].append(on_updated)
        try:
            if self._session.era == "modern":
                self.restart(wait=resolve_timeout(timeout, self._session.timeout))
            else:
                self._session.request("resources/subscribe", {"uri": uri}, timeout=timeout)
        except BaseException:
            with self._subscribers_lock:  # undo this call only: earlier subscribers of the URI stay
                if not known:
                    self._subscribers.pop(uri, None)
                elif on_updated is not None and on_updated in self._subscribers.get(uri, ()):
                    self._subscribers[uri].remove(on_updated)
            raise

    def unsubscribe(self, uri: str, timeout: Timeout) -> None:
        """Stop receiving updates for a resource (its callbacks are dropped)."""
        with self._subscribers_lock:
            self._subscribers.pop(uri, None)
        if self._session.era == "modern":
            self.restart(wait=resolve_timeout(timeout, self._session.timeout))
        else:
            self._session.request("resources/unsubscribe", {"uri": uri}, timeout=timeout)

    def restart(self, wait: Optional[float] = 0.0) -> None:
        """(Re)open the 2026-07-28 ``subscriptions/listen`` stream for what the server offers.

        With ``wait``, block (that many seconds at most; ``None``: no limit) until the server
        acknowledges the new stream, so that an update sent right after a subscription arrives.

        Raises:
            RequestTimeout: no acknowledgement within ``wait`` seconds.
            RemoteError, ConnectionClosed: the server refused the stream, or the connection ended,
                before acknowledging it.
        """
        session = self._session
        # Every subscription change happens before its restart takes a generation, and each
        # restart reads the subscriptions after taking one: the newest generation's stream covers
        # every change, so an older restart that finishes last must not replace it.
        with self._stream_lock:
            self.generation += 1
            generation = self.generation
        caps = session.server_capabilities
        wanted: Dict[str, Any] = {}
        for capability, flag in _LIST_FLAGS:
            section = caps.get(capability)
            if isinstance(section, Mapping) and section.get("listChanged"):
                wanted[flag] = True
        with self._subscribers_lock:
            uris = sorted(self._subscribers)
        if uris:
            wanted["resourceSubscriptions"] = uris
        new = session.submit("subscriptions/listen", {"notifications": wanted}) if wanted else None
        with self._stream_lock:
            newest = generation == self.generation
            if newest:
                old, self.stream = self.stream, new
            else:
                old = new  # a newer restart covers this one: withdraw our stream
            if old is not None:
                # Until the server sees the cancellation, a retired stream may still deliver.
                current = self.stream.id if self.stream is not None else 0
                self._retired = {sid for sid in self._retired if sid > current} | {old.id}
        if new is not None:
            new._on_done(self._ended)
        if old is not None:
            old.cancel("subscription replaced")
        if not newest:
            return
        if wait != 0.0 and self._on_notification_thread():
            wait = 0.0  # the acknowledgement would be delivered by this very thread
        if new is not None and wait != 0.0:
            with self._acknowledged:
                self._acknowledged.wait_for(lambda: new.id in self._acknowledged_ids or new.done(), wait)
                acknowledged = new.id in self._acknowledged_ids
            if acknowledged:
                return
            if not new.done():  # the stream stays open: a late acknowledgement still serves the others
                raise RequestTimeout(
                    f"MCP server '{session.name}' did not acknowledge subscriptions/listen within {wait:g} s", timeout=wait
                )
            try:
                new.result(0.0)  # ended before any acknowledgement: its error, if it has one
            except RequestCancelled:
                if self.stream is not new:
                    return  # a newer stream replaced it; that restart waits for its own acknowledgement
                raise

    def superseded(self, params: Mapping[str, Any]) -> bool:
        """Whether a 2026-07-28 notification came on a listen stream already replaced.

        While two streams overlap, each update would otherwise arrive twice.
        """
        meta = params.get("_meta")
        stream = meta.get(META_SUBSCRIPTION_ID) if isinstance(meta, Mapping) else None
        if not isinstance(stream, int):
            return False
        current = self.stream
        return stream in self._retired or (current is not None and stream < current.id)

    def updated(self, params: Mapping[str, Any]) -> None:
        """Run the callbacks of a ``notifications/resources/updated`` (on the notification worker)."""
        if self.superseded(params):
            return
        uri = str(params.get("uri", ""))
        with self._subscribers_lock:
            callbacks = list(self._subscribers.get(uri, ()))
        for on_updated in callbacks:
            on_updated(uri)

    def acknowledged(self, params: Mapping[str, Any]) -> None:
        """Record a ``notifications/subscriptions/acknowledged`` and wake the restarts waiting for it."""
        logger.debug("'%s' acknowledged subscriptions: %s", self._session.name, params.get("notifications"))
        meta = params.get("_meta")
        stream = meta.get(META_SUBSCRIPTION_ID) if isinstance(meta, Mapping) else None
        with self._acknowledged:
            self._acknowledged_ids.add(stream)
            self._acknowledged.notify_all()

    def closed_by_server(self, request_id: Any) -> None:
        """A 2026-07-28 server's ``notifications/cancelled`` for our listen request ends that stream."""
        current = self.stream
        if current is not None and request_id == current.id:
            current._abandon("was ended by the server", RequestCancelled, tell_peer=False)

    def _ended(self, pending: PendingRequest) -> None:
        """Bookkeeping when a listen request settles (inline on the settling thread)."""
        name = self._session.name
        with self._stream_lock:
            current = self.stream is pending
            if current:
                self.stream = None
        with self._acknowledged:
            self._acknowledged.notify_all()  # a subscriber waiting for its acknowledgement learns it ended
        if not current:
            logger.debug("'%s': subscriptions/listen %s ended", name, pending.id)
            return
        try:
            pending.result(0.0)
            why = "it completed the stream"
        except ConnectionClosed:
            logger.debug("'%s': subscriptions/listen %s ended with the connection", name, pending.id)
            return
        except MCPError as exc:
            why = str(exc)
        logger.warning(
            "MCP server '%s' ended its subscriptions/listen stream (%s); no list changes or resource updates "
            "arrive until the subscriptions change",
            name,
            why,
        )

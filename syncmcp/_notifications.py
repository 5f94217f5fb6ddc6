"""A session's inbound notifications: each goes to the part of the session that owns its subject.

Progress to the requests, ``notifications/message`` to the ``logging`` logger
``syncmcp.servers.<name>`` and ``on_log``, ``list_changed`` to the list caches and
``on_list_changed``, resource updates and the listen stream to the subscriptions, elicitation
completions to the client features, task status to the tool calls; anything else to the
session's ``notification_handler``. All of it runs on the session's notification worker, in
arrival order.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional

from ._client_features import ClientFeatures
from ._era import LOG_LEVELS
from ._pagination import LIST_CHANGED, Listings
from ._requests import Requests
from ._subscriptions import Subscriptions
from ._toolcalls import ToolCalls

__all__ = ["LOGGING_LEVELS", "LogCallback", "Notifications"]

logger = logging.getLogger("syncmcp.session")

#: MCP log levels (RFC 5424), ascending, and the ``logging`` level each maps to.
LOGGING_LEVELS: Dict[str, int] = dict(
    zip(LOG_LEVELS, (logging.DEBUG, logging.INFO, logging.INFO, logging.WARNING, logging.ERROR) + (logging.CRITICAL,) * 3)
)

LogCallback = Callable[[str, str, Any], None]


class Notifications:
    """Routes the notifications of session ``name`` to its parts and to the session's callbacks.

    The callbacks (``on_log``, ``on_list_changed``, ``notification_handler``) are attributes,
    read at each notification.
    """

    def __init__(
        self,
        name: str,
        requests: Requests,
        listings: Listings,
        subscriptions: Subscriptions,
        features: ClientFeatures,
        tools: ToolCalls,
        on_log: Optional[LogCallback],
        on_list_changed: Optional[Callable[[str], None]],
        notification_handler: Optional[Callable[[str, Dict[str, Any]], None]],
    ) -> None:
        self._name = name
        self._requests = requests
        self._listings = listings
        self._subscriptions = subscriptions
        self._features = features
        self._tools = tools
        self._server_log = logging.getLogger(f"syncmcp.servers.{name}")
        self.on_log = on_log
        self.on_list_changed = on_list_changed
        self.notification_handler = notification_handler

    def route(self, method: str, params: Dict[str, Any]) -> None:
        """Route a notification (runs on the notification worker, in arrival order)."""
        if method == "notifications/progress":
            self._requests.progress(params)
        elif method == "notifications/message":
            level = str(params.get("level", "info"))
            source = params.get("logger")
            data = params.get("data")
            self._server_log.log(LOGGING_LEVELS.get(level, logging.INFO), "%s%s", f"[{source}] " if source else "", data)
            if self.on_log is not None:
                self.on_log(level, str(source) if source is not None else "", data)
        elif method in LIST_CHANGED:
            if self._subscriptions.superseded(params):
                return
            kind = self._listings.changed(method)
            if self.on_list_changed is not None:
                self.on_list_changed(kind)
        elif method == "notifications/resources/updated":
            self._subscriptions.updated(params)
        elif method == "notifications/elicitation/complete":
            self._features.elicitation_completed(params.get("elicitationId"))
        elif method == "notifications/tasks/status":
            self._tools.task_status(params)
            if self.notification_handler is not None:
                self.notification_handler(method, params)
        elif method == "notifications/cancelled":
            self._subscriptions.closed_by_server(params.get("requestId"))
        elif method == "notifications/subscriptions/acknowledged":
            self._subscriptions.acknowledged(params)
        elif self.notification_handler is not None:
            self.notification_handler(method, params)
        else:
            logger.debug("'%s': unhandled notification %s", self._name, method)

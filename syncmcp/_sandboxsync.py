"""Sandbox state sent to a managed server's instance: at its start-up, and when the state changes.

A server that declared one of the sandbox-state capabilities (``experimental``) gets the
manager's current :class:`~syncmcp._sandbox.SandboxState` in the form it asked for; an instance
remembers the version it was sent, so a state is sent to it once.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Dict, Mapping, Optional, Tuple

from ._instance import Instance
from ._sandbox import (
    CODEX_SANDBOX_CAPABILITY,
    CODEX_SANDBOX_METHOD,
    SYNCMCP_SANDBOX_CAPABILITY,
    SYNCMCP_SANDBOX_METHOD,
    SandboxState,
)
from ._services import Services
from ._session import ClientSession

__all__ = ["SandboxSync", "sandbox_form", "sandbox_method"]

logger = logging.getLogger("syncmcp.manager")


class SandboxSync:
    """Sends the current sandbox state to the instances of server ``name``.

    Args:
        name: the server's name (for logs).
        services: its manager's services (``services.sandbox`` gives the current state).
    """

    def __init__(self, name: str, services: Services) -> None:
        self._name = name
        self._svc = services

    def sync(self, instance: Instance, deadline: float) -> None:
        """Send the newest sandbox state before ``ready``, within what is left of the start-up deadline.

        The state may change while it is being sent: then the newer one is sent too, while time
        remains. A failed or unanswered update only costs a warning (Codex's rule), so a server
        that never answers it is announced ready at its deadline, not later; a state there was
        no time left for is sent once the server is ready (see ``ManagedServer._start_succeeded``).
        """
        while self._svc.sandbox()[0] != instance.sandbox_version:
            remaining = _remaining(deadline)
            if remaining <= 0 and sandbox_method(instance.live_session) is not None:
                logger.warning("MCP server '%s': no time left in its start-up deadline to send the sandbox state", self._name)
                return
            self.push(instance, remaining, on_start=True)  # without a form, only notes the version

    def push(self, instance: Instance, timeout: float, *, on_start: bool) -> Optional[BaseException]:
        """Send the current sandbox state if the server takes it; returns the failure, if any."""
        version, state = self._svc.sandbox()
        session = instance.live_session
        form = sandbox_form(session, state) if state is not None else None
        error: Optional[BaseException] = None
        if form is not None:
            method, params = form
            try:
                session.request(method, params, timeout=timeout)
            except Exception as exc:
                error = exc
                if on_start:
                    logger.warning("Failed to notify sandbox state to MCP server %s: %s", self._name, exc)
                else:
                    logger.warning("Failed to notify sandbox state change to MCP server: %s", exc)
        instance.sandbox_version = version
        return error


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def sandbox_method(session: ClientSession) -> Optional[str]:
    """The method the server takes sandbox-state updates by (from its capabilities), or ``None``."""
    experimental = session.server_capabilities.get("experimental")
    if not isinstance(experimental, Mapping):
        return None
    if SYNCMCP_SANDBOX_CAPABILITY in experimental:
        return SYNCMCP_SANDBOX_METHOD
    if CODEX_SANDBOX_CAPABILITY in experimental:
        return CODEX_SANDBOX_METHOD
    return None


def sandbox_form(session: ClientSession, state: SandboxState) -> Optional[Tuple[str, Dict[str, Any]]]:
    """``(method, params)`` of the update in the form the server asked for, or ``None``."""
    method = sandbox_method(session)
    if method is None:
        return None
    return method, state.to_syncmcp() if method == SYNCMCP_SANDBOX_METHOD else state.to_codex()

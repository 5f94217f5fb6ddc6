"""One session's resources, prompts and completions: a base class of :class:`~syncmcp.ClientSession`.

Each method checks the session is open and the server declared the capability, then sends one
request (or reads the session's cached listing). The session's own module keeps its lifecycle,
requests and tools.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional

from ._exceptions import MCPError
from ._subscriptions import Subscriptions
from ._timeout import DEFAULT, Timeout
from ._types import Completion, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate

__all__ = ["CapabilityError", "SessionCatalog"]


class CapabilityError(MCPError):
    """The server did not declare the capability this call needs.

    Pass ``check_capabilities=False`` to the session for servers that under-declare.

    Example::

        try:
            session.read_resource("file:///x")
        except syncmcp.CapabilityError:          # the server declared no resources
            pass
    """


class SessionCatalog:
    """:class:`~syncmcp.ClientSession`'s resources, prompts and completions.

    What it uses of the session is declared here and provided by the session.
    """

    name: str
    check_capabilities: bool
    _subscriptions: Subscriptions

    @property
    def server_capabilities(self) -> Dict[str, Any]:
        """The capabilities the server declared (provided by the session)."""
        raise NotImplementedError

    @property
    def protocol_version(self) -> str:
        """The negotiated protocol version (provided by the session)."""
        raise NotImplementedError

    def request(self, method: str, params: Optional[Mapping[str, Any]] = None, *, timeout: Timeout = DEFAULT) -> Any:
        """Send a request and wait for its result (provided by the session)."""
        raise NotImplementedError

    def _listing(self, kind: str, timeout: Timeout, refresh: bool) -> List[Any]:
        raise NotImplementedError

    def _require_open(self) -> None:
        raise NotImplementedError

    def _require_capability(self, name: str, method: str) -> None:
        raise NotImplementedError

    def list_resources(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[Resource]:
        """Every resource of the server (all pages, cached); ``[]`` if it has no resources."""
        return list(self._listing("resources", timeout, refresh))

    def list_resource_templates(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[ResourceTemplate]:
        """Every resource template of the server (all pages, cached)."""
        return list(self._listing("resource_templates", timeout, refresh))

    def read_resource(self, uri: str, *, timeout: Timeout = DEFAULT) -> ReadResourceResult:
        """Read one resource.

        Raises:
            RemoteError: e.g. code -32002 (or -32602) when the resource does not exist.
        """
        self._require_open()
        self._require_capability("resources", "resources/read")
        return ReadResourceResult.from_dict(self.request("resources/read", {"uri": uri}, timeout=timeout))

    def subscribe_resource(
        self, uri: str, on_updated: Optional[Callable[[str], None]] = None, *, timeout: Timeout = DEFAULT
    ) -> None:
        """Subscribe to changes of a resource; ``on_updated(uri)`` runs on each update.

        Legacy era: ``resources/subscribe``. 2026-07-28: the URI joins the session's
        ``subscriptions/listen`` stream, and the call returns once the server acknowledged it. If
        the server later ends that stream, a warning is logged and updates stop until the next
        subscription change opens a new one.

        Raises:
            CapabilityError: the server does not offer subscriptions.
            RemoteError: the server refused the subscription (nothing is subscribed then).
            RequestTimeout: no answer in time (nothing is subscribed then).
        """
        self._require_open()
        resources = self.server_capabilities.get("resources")
        if self.check_capabilities and not (isinstance(resources, Mapping) and resources.get("subscribe")):
            raise CapabilityError(f"MCP server '{self.name}' does not support resource subscriptions")
        self._subscriptions.subscribe(uri, on_updated, timeout)

    def unsubscribe_resource(self, uri: str, *, timeout: Timeout = DEFAULT) -> None:
        """Stop receiving updates for a resource (its callbacks are dropped)."""
        self._require_open()
        self._subscriptions.unsubscribe(uri, timeout)

    def list_prompts(self, *, timeout: Timeout = DEFAULT, refresh: bool = False) -> List[Prompt]:
        """Every prompt of the server (all pages, cached); ``[]`` if it has no prompts."""
        return list(self._listing("prompts", timeout, refresh))

    def get_prompt(
        self, name: str, arguments: Optional[Mapping[str, str]] = None, *, timeout: Timeout = DEFAULT
    ) -> GetPromptResult:
        """Render a prompt with its (string) arguments."""
        self._require_open()
        self._require_capability("prompts", "prompts/get")
        params: Dict[str, Any] = {"name": name}
        if arguments is not None:
            params["arguments"] = {str(k): str(v) for k, v in arguments.items()}
        return GetPromptResult.from_dict(self.request("prompts/get", params, timeout=timeout))

    def complete(
        self,
        ref: Mapping[str, Any],
        argument: str,
        value: str,
        *,
        context: Optional[Mapping[str, str]] = None,
        timeout: Timeout = DEFAULT,
    ) -> Completion:
        """Ask for completions of a prompt or resource-template argument.

        Args:
            ref: ``{"type": "ref/prompt", "name": ...}`` or ``{"type": "ref/resource", "uri": ...}``.
            argument: the argument's name.
            value: what the user typed so far.
            context: values of the other arguments already chosen.
            timeout: seconds (see the class docs).

        Example::

            session.complete({"type": "ref/prompt", "name": "team"}, "department", "E").values
            # ['Engineering']
        """
        self._require_open()
        if self.protocol_version >= "2025-03-26":  # 2024-11-05 servers had no capability flag
            self._require_capability("completions", "completion/complete")
        params: Dict[str, Any] = {"ref": dict(ref), "argument": {"name": argument, "value": value}}
        if context:
            params["context"] = {"arguments": dict(context)}
        return Completion.from_dict(self.request("completion/complete", params, timeout=timeout))

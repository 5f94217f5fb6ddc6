"""The manager's resources, prompts and instructions: across every server, or of one server.

``list_all_*`` ask every server that can answer (ready, or exited and so restarted on use, and
declaring the capability), in parallel on the runtime's fan-out pool, after starting the ones
still pending; a server that fails is logged and left out. One server's page, resource or prompt
is asked for through :class:`~syncmcp._runtime.Use`, with :data:`~syncmcp.DEFAULT` meaning that
server's ``tool_timeout_sec`` and failures prefixed with Codex's context
(``resources/read failed for `<server>` ...``). Nothing here keeps state: these are functions
of the manager's :class:`~syncmcp._runtime.Runtime`.

Example::

    resources = everything(runtime, "resources", errors=None)   # {server: [Resource, ...]}
    first = page(runtime, "everything", "resources", "resources/list", None, DEFAULT)
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

from ._managed import ManagedServer
from ._runtime import FANOUT_GRACE, Runtime, Use
from ._session import ClientSession
from ._status import Page, ServerState
from ._timeout import DEFAULT, Timeout
from ._types import GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate

__all__ = [
    "CatalogMethods",
    "everything",
    "gather",
    "get_prompt",
    "instructions",
    "page",
    "read_resource",
]

logger = logging.getLogger("syncmcp.manager")

T = TypeVar("T")
Errors = Optional[Dict[str, BaseException]]


def gather(
    runtime: Runtime, kind: str, fetch: Callable[[ManagedServer], List[T]], capability: str, errors: Errors = None
) -> Dict[str, List[T]]:
    """Run ``fetch`` on every server that can answer, in parallel.

    Failures are logged and left out (and recorded in ``errors`` when given).
    """
    runtime.check_open()
    slots = [slot for slot in runtime.ordered() if slot.state is not ServerState.DISABLED]
    runtime.prepare(slots, need_live=True)
    usable = [slot for slot in slots if slot.state in (ServerState.READY, ServerState.EXITED) and _declares(slot, capability)]
    if not usable:
        return {}
    bound = max(slot.config.tool_timeout_sec for slot in usable) + FANOUT_GRACE
    results: Dict[str, List[T]] = {}
    for slot, value, error in runtime.fan_out(usable, fetch, bound):
        if error is not None:
            logger.warning(
                "Failed to list %s for MCP server '%s': %s",
                kind,
                slot.name,
                error,
                extra={"syncmcp_event": "listing_failed", "mcp_server": slot.name},
            )
            if errors is not None:
                errors[slot.name] = error
        elif value is not None:
            results[slot.name] = value
    return results


def _declares(slot: ManagedServer, capability: str) -> bool:
    session = slot.session()
    return session is None or capability in session.server_capabilities  # exited: try, it restarts


#: kind -> (its name in messages, the session's listing of it, the server capability it needs)
_KINDS: Dict[str, Tuple[str, Callable[..., List[Any]], str]] = {
    "resources": ("resources", ClientSession.list_resources, "resources"),
    "resource_templates": ("resource templates", ClientSession.list_resource_templates, "resources"),
    "prompts": ("prompts", ClientSession.list_prompts, "prompts"),
}


def everything(runtime: Runtime, kind: str, errors: Errors) -> Dict[str, List[Any]]:
    """Every item of one kind of every server that has it; see ``MCPManager.list_all_resources``.

    ``kind`` is ``resources``, ``resource_templates`` or ``prompts``.
    """
    label, listing, capability = _KINDS[kind]

    def fetch(slot: ManagedServer) -> List[Any]:
        with Use(runtime, slot) as session:
            return listing(session, timeout=slot.config.tool_timeout_sec)

    return gather(runtime, label, fetch, capability, errors)


def page(runtime: Runtime, server: str, kind: str, method: str, cursor: Optional[str], timeout: Timeout) -> Page[Any]:
    """One page of a listing (``ClientSession.list_page``), failures prefixed with Codex's context.

    A server without the capability has an empty listing; a malformed page is a
    :class:`~syncmcp.RemoteProtocolError` (``resources/list failed for `<s>`: ...``).
    """
    use = runtime.use(server, f"{method} failed for `{server}`")
    with use as session:
        items, next_cursor = session.list_page(kind, cursor, timeout=use.limit(timeout))
    return Page(tuple(items), next_cursor)


def read_resource(runtime: Runtime, server: str, uri: str, timeout: Timeout) -> ReadResourceResult:
    """Read one resource of one server; see ``MCPManager.read_resource``."""
    use = runtime.use(server, f"resources/read failed for `{server}` ({uri})")
    with use as session:
        return session.read_resource(uri, timeout=use.limit(timeout))


def get_prompt(
    runtime: Runtime, server: str, name: str, arguments: Optional[Mapping[str, str]], timeout: Timeout
) -> GetPromptResult:
    """Render one prompt of one server; see ``MCPManager.get_prompt``."""
    use = runtime.use(server, f"prompts/get failed for `{server}` ({name})")
    with use as session:
        return session.get_prompt(name, arguments, timeout=use.limit(timeout))


def instructions(runtime: Runtime, wait: bool) -> Dict[str, str]:
    """The non-empty ``instructions`` of ready servers, sorted by server name."""
    runtime.check_open()
    slots = [slot for slot in runtime.ordered() if slot.state is not ServerState.DISABLED]
    if wait:
        runtime.prepare(slots, need_live=True)
    found = {}
    for slot in slots:
        session = slot.session()
        text = session.instructions if session is not None else None
        if text and text.strip():
            found[slot.name] = text
    return dict(sorted(found.items()))


class CatalogMethods:
    """:class:`~syncmcp.MCPManager`'s resources, prompts and instructions, over its runtime's servers.

    A base class of the manager (it only needs ``_rt``), so the manager's module stays about its
    own lifecycle, tools and set of servers.
    """

    _rt: Runtime

    def list_all_resources(self, *, errors: Optional[Dict[str, BaseException]] = None) -> Dict[str, List[Resource]]:
        """Every resource of every server that has resources, all pages, queried in parallel.

        A server that fails is logged (``Failed to list resources for MCP server '<s>': <err>``)
        and left out; pass a dict as ``errors`` to receive ``{server: error}`` for those.

        Example:
            {server: len(items) for server, items in manager.list_all_resources().items()}
            # -> {'everything': 7}
        """
        return everything(self._rt, "resources", errors)

    def list_all_resource_templates(
        self, *, errors: Optional[Dict[str, BaseException]] = None
    ) -> Dict[str, List[ResourceTemplate]]:
        """Every resource template of every server that has resources (see :meth:`list_all_resources`).

        Example:
            manager.list_all_resource_templates()["everything"][0].uri_template
            # -> 'demo://resource/dynamic/text/{resourceId}'
        """
        return everything(self._rt, "resource_templates", errors)

    def list_all_prompts(self, *, errors: Optional[Dict[str, BaseException]] = None) -> Dict[str, List[Prompt]]:
        """Every prompt of every server that has prompts (see :meth:`list_all_resources`).

        Example:
            [prompt.name for prompt in manager.list_all_prompts()["everything"]][:1]
            # -> ['simple-prompt']
        """
        return everything(self._rt, "prompts", errors)

    def list_resources(self, server: str, cursor: Optional[str] = None, *, timeout: Timeout = DEFAULT) -> Page[Resource]:
        """One page of one server's resources; pass ``page.next_cursor`` back for the next.

        Raises:
            UnknownServerError: no such server.
            ServerUnavailableError: it failed to start.
            RemoteError: the server answered with an error (``resources/list failed for `<s>`: ...``).
            RemoteProtocolError: the server's page is malformed.

        Example:
            page = manager.list_resources("everything")
            page.items[0].uri, page.next_cursor
            # -> ('demo://resource/static/document/architecture.md', None)
        """
        return page(self._rt, server, "resources", "resources/list", cursor, timeout)

    def list_resource_templates(
        self, server: str, cursor: Optional[str] = None, *, timeout: Timeout = DEFAULT
    ) -> Page[ResourceTemplate]:
        """One page of one server's resource templates (see :meth:`list_resources`).

        Example:
            manager.list_resource_templates("everything").items[0].name
            # -> 'Dynamic Text Resource'
        """
        return page(self._rt, server, "resource_templates", "resources/templates/list", cursor, timeout)

    def list_prompts(self, server: str, cursor: Optional[str] = None, *, timeout: Timeout = DEFAULT) -> Page[Prompt]:
        """One page of one server's prompts (see :meth:`list_resources`).

        Example:
            manager.list_prompts("everything").items[0].name
            # -> 'simple-prompt'
        """
        return page(self._rt, server, "prompts", "prompts/list", cursor, timeout)

    def read_resource(self, server: str, uri: str, *, timeout: Timeout = DEFAULT) -> ReadResourceResult:
        """Read one resource of one server.

        Raises:
            RemoteError: e.g. the resource does not exist.

        Example:
            manager.read_resource("everything", "demo://resource/dynamic/text/1").text
            # -> 'Resource 1: This is a plaintext resource'
        """
        return read_resource(self._rt, server, uri, timeout)

    def get_prompt(
        self, server: str, name: str, arguments: Optional[Mapping[str, str]] = None, *, timeout: Timeout = DEFAULT
    ) -> GetPromptResult:
        """Render one prompt of one server.

        Example:
            manager.get_prompt("everything", "args-prompt", {"city": "Paris"}).text
            # -> "What's weather in Paris?"
        """
        return get_prompt(self._rt, server, name, arguments, timeout)

    def server_instructions(self, *, wait: bool = True) -> Dict[str, str]:
        """The non-empty ``instructions`` of ready servers, sorted by server name.

        Args:
            wait: first wait for start-ups (starting pending servers in lazy mode).

        Example:
            list(manager.server_instructions())
            # -> ['everything']
        """
        return instructions(self._rt, wait)

"""The registry: every tool, resource, template and prompt a server offers, safe to change live.

Writers replace whole dicts under a lock (copy on write); readers take the current dict
without locking, so a listing in progress is never disturbed by a registration. After each
change the registry tells its listeners which list changed (``"tools"``, ``"resources"`` or
``"prompts"``), outside the lock; the server forwards that as ``list_changed`` notifications.

Example:
    >>> from syncmcp.server._features import ToolDef
    >>> registry = Registry()
    >>> changes = []
    >>> registry.add_listener(changes.append)
    >>> def echo(text: str) -> str:
    ...     return text
    >>> registry.add_tool(ToolDef.from_function(echo))
    >>> [tool.name for tool in registry.tools()], changes
    (['echo'], ['tools'])
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from ._features import PromptDef, ResourceDef, TemplateDef, ToolDef

__all__ = ["Registry"]

logger = logging.getLogger("syncmcp.server")

Listener = Callable[[str], None]


class Registry:
    """Tools, resources, resource templates and prompts, keyed by name, URI or URI template.

    Registration order is listing order. Registering an existing key raises ``ValueError``
    unless ``replace=True``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tools: Dict[str, ToolDef] = {}
        self._resources: Dict[str, ResourceDef] = {}
        self._templates: Dict[str, TemplateDef] = {}
        self._prompts: Dict[str, PromptDef] = {}
        self._listeners: Tuple[Listener, ...] = ()

    # ------------------------------------------------------------------------- listeners

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(kind)`` after every change."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def _changed(self, kind: str) -> None:
        for listener in self._listeners:
            try:
                listener(kind)
            except Exception:
                logger.exception("list-changed listener %r failed", listener)

    # ------------------------------------------------------------------------- changes

    def add_tool(self, tool: ToolDef, *, replace: bool = False) -> None:
        """Register a tool (``ValueError`` if the name is taken and not ``replace``)."""
        with self._lock:
            if tool.name in self._tools and not replace:
                raise ValueError(f"a tool named {tool.name!r} is already registered")
            self._tools = {**self._tools, tool.name: tool}
        self._changed("tools")

    def remove_tool(self, name: str) -> bool:
        """Unregister a tool; ``False`` if there was none by that name."""
        with self._lock:
            if name not in self._tools:
                return False
            self._tools = {key: value for key, value in self._tools.items() if key != name}
        self._changed("tools")
        return True

    def add_resource(self, resource: ResourceDef, *, replace: bool = False) -> None:
        """Register a fixed resource by URI."""
        with self._lock:
            if resource.uri in self._resources and not replace:
                raise ValueError(f"a resource with URI {resource.uri!r} is already registered")
            self._resources = {**self._resources, resource.uri: resource}
        self._changed("resources")

    def remove_resource(self, uri: str) -> bool:
        """Unregister a fixed resource; ``False`` if there was none."""
        with self._lock:
            if uri not in self._resources:
                return False
            self._resources = {key: value for key, value in self._resources.items() if key != uri}
        self._changed("resources")
        return True

    def add_template(self, template: TemplateDef, *, replace: bool = False) -> None:
        """Register a resource template by its URI template."""
        with self._lock:
            if template.uri_template in self._templates and not replace:
                raise ValueError(f"a resource template {template.uri_template!r} is already registered")
            self._templates = {**self._templates, template.uri_template: template}
        self._changed("resources")

    def remove_template(self, uri_template: str) -> bool:
        """Unregister a resource template; ``False`` if there was none."""
        with self._lock:
            if uri_template not in self._templates:
                return False
            self._templates = {key: value for key, value in self._templates.items() if key != uri_template}
        self._changed("resources")
        return True

    def add_prompt(self, prompt: PromptDef, *, replace: bool = False) -> None:
        """Register a prompt by name."""
        with self._lock:
            if prompt.name in self._prompts and not replace:
                raise ValueError(f"a prompt named {prompt.name!r} is already registered")
            self._prompts = {**self._prompts, prompt.name: prompt}
        self._changed("prompts")

    def remove_prompt(self, name: str) -> bool:
        """Unregister a prompt; ``False`` if there was none."""
        with self._lock:
            if name not in self._prompts:
                return False
            self._prompts = {key: value for key, value in self._prompts.items() if key != name}
        self._changed("prompts")
        return True

    def resources_changed(self) -> None:
        """Tell listeners the resource list changed (e.g. a template's listing grew)."""
        self._changed("resources")

    # ------------------------------------------------------------------------- reading

    def tools(self) -> List[ToolDef]:
        """The tools, in registration order."""
        return list(self._tools.values())

    def tool(self, name: str) -> Optional[ToolDef]:
        """The tool named ``name``, or ``None``."""
        return self._tools.get(name)

    def prompts(self) -> List[PromptDef]:
        """The prompts, in registration order."""
        return list(self._prompts.values())

    def prompt(self, name: str) -> Optional[PromptDef]:
        """The prompt named ``name``, or ``None``."""
        return self._prompts.get(name)

    def templates(self) -> List[TemplateDef]:
        """The resource templates, in registration order."""
        return list(self._templates.values())

    def template(self, uri_template: str) -> Optional[TemplateDef]:
        """The template registered as ``uri_template``, or ``None``."""
        return self._templates.get(uri_template)

    def resource(self, uri: str) -> Optional[ResourceDef]:
        """The fixed resource at ``uri``, or ``None``."""
        return self._resources.get(uri)

    def listed_resources(self) -> Iterator[Dict[str, Any]]:
        """Every resource of ``resources/list``: fixed ones, then what each template lists.

        A generator, so a page consumes only what it shows.
        """
        for resource in list(self._resources.values()):
            yield resource.to_dict()
        for template in list(self._templates.values()):
            yield from template.listed()

    def find_resource(self, uri: str) -> Optional[Tuple[Union[ResourceDef, TemplateDef], Dict[str, Any]]]:
        """What reads ``uri``: a fixed resource, else the first template that matches it."""
        resource = self._resources.get(uri)
        if resource is not None:
            return resource, {}
        for template in list(self._templates.values()):
            variables = template.match(uri)
            if variables is not None:
                return template, variables
        return None

    @property
    def has_tools(self) -> bool:
        """Whether any tool is registered."""
        return bool(self._tools)

    @property
    def has_resources(self) -> bool:
        """Whether any resource or template is registered."""
        return bool(self._resources or self._templates)

    @property
    def has_prompts(self) -> bool:
        """Whether any prompt is registered."""
        return bool(self._prompts)

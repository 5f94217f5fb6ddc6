"""Changing a manager's set of servers: add, remove, and reload a configuration by difference.

Servers are built outside the runtime's lock (building one reads the on-disk tool cache) and the
new set is swapped in whole under it; a reload whose snapshot another thread changed meanwhile
takes the difference again, reusing what it built. Servers that leave the set (removed, or
reconfigured and so restarted) get ``drain`` seconds for the calls in flight, then are stopped,
each on a thread of its own. A running server whose configuration changed is replaced
seamlessly: the new one is started beside it first and swapped in once ready (see
:mod:`syncmcp._replace`); if it fails to start, the running one stays. Unchanged servers keep
running, in the era they were found to speak. Nothing here keeps state: these are functions of
the manager's :class:`~syncmcp._runtime.Runtime` and its :class:`~syncmcp._managed.Services`.

Example::

    add_server(runtime, services, "memory", {"command": "npx", "args": [...]}, lazy=False)
    result = reload(runtime, services, "~/.codex/config.toml", None, lazy=False, drain=5.0)
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from ._config import (
    CONFIG_ENV_VAR,
    ServerConfig,
    check_fallbacks,
    embedded_default_servers,
    load_config,
    resolve_config_path,
    validate_server_name,
)
from ._exceptions import ConfigError, SessionClosedError, UnknownServerError
from ._managed import ManagedServer, Services
from ._replace import prestart
from ._runtime import Runtime, stop_servers
from ._status import ReloadResult

__all__ = ["ServersArg", "add_server", "load_servers", "reload", "remove_server", "to_configs"]

#: ``{name: ServerConfig or dict}``, in the order that decides tool naming.
ServersArg = Optional[Mapping[str, Union[ServerConfig, Mapping[str, Any]]]]


def to_configs(servers: ServersArg) -> Dict[str, ServerConfig]:
    """Validate ``{name: ServerConfig or dict}`` into ``{name: ServerConfig}``.

    Raises:
        ConfigError: an invalid name or configuration.

    Example:
        >>> to_configs({"time": {"command": "uvx", "args": ["mcp-server-time"]}})["time"].command
        'uvx'
    """
    configs: Dict[str, ServerConfig] = {}
    for name, value in (servers or {}).items():
        validate_server_name(name, key=f"mcp_servers.{name}")
        configs[name] = value if isinstance(value, ServerConfig) else ServerConfig.from_dict(value, name=name)
    check_fallbacks(configs)
    return configs


def load_servers(path: Union[str, os.PathLike[str], None]) -> Dict[str, ServerConfig]:
    """The servers of a configuration file, or the embedded default when none is found (see ``from_config``)."""
    if path is None and not os.environ.get(CONFIG_ENV_VAR) and not resolve_config_path().expanduser().exists():
        return embedded_default_servers()
    return load_config(path)


def add_server(
    runtime: Runtime, services: Services, name: str, config: Union[ServerConfig, Mapping[str, Any]], *, lazy: bool
) -> None:
    """Add a server, started now unless ``lazy`` (``required`` ones still start); see ``MCPManager.add_server``."""
    runtime.check_open()
    validate_server_name(name, key=f"mcp_servers.{name}")
    config = config if isinstance(config, ServerConfig) else ServerConfig.from_dict(config, name=name)
    check_fallbacks({**{n: s.config for n, s in runtime.slots.items() if n != name}, name: config})
    slot = ManagedServer(name, config, services)
    with runtime.lock:
        if runtime.closing:  # close() may have taken its list of servers already
            raise SessionClosedError("the MCP manager is closed")
        if name in runtime.slots:
            raise ConfigError(
                f"MCP server '{name}' already exists; use reload() or remove_server() first", key=f"mcp_servers.{name}"
            )
        runtime.slots = {**runtime.slots, name: slot}
    if not lazy or config.required:
        runtime.start([slot])


def remove_server(runtime: Runtime, name: str, *, drain: float) -> None:
    """Remove a server, closing it after ``drain`` seconds at most; see ``MCPManager.remove_server``."""
    runtime.check_open()
    with runtime.lock:
        slots = dict(runtime.slots)
        slot = slots.pop(name, None)
        if slot is not None:
            runtime.slots = slots
    if slot is None:
        raise UnknownServerError(f"unknown MCP server '{name}'")
    runtime.availability.forget(name)
    if runtime.router is not None:
        runtime.router.drop_server(name)
    slot.close(drain)


def reload(
    runtime: Runtime,
    services: Services,
    servers: Union[ServersArg, str, os.PathLike[str]],
    reloader: Optional[Callable[[], Dict[str, ServerConfig]]],
    *,
    lazy: bool,
    drain: float,
) -> ReloadResult:
    """Apply a new configuration by difference; see ``MCPManager.reload``.

    Args:
        runtime: the manager's servers.
        services: what new servers get from the manager.
        servers: the new ``{name: config}``, a file to load, or ``None`` for ``reloader()``.
        reloader: loads the configuration the manager was created from, if it was.
        lazy: start new servers on first use only (``required`` ones still start now).
        drain: seconds calls in flight on a retired server get before it is stopped.

    Raises:
        ConfigError: the new configuration is invalid (nothing is changed then).
    """
    runtime.check_open()
    if servers is None:
        if reloader is None:
            raise ValueError("this manager was not created from a configuration file; pass the servers to reload()")
        configs = reloader()
    elif isinstance(servers, (str, os.PathLike)):
        configs = load_config(servers)
    else:
        configs = to_configs(servers)
    # New servers are built outside the lock (a constructor reads the disk tool cache), against
    # a snapshot of the current set; if another thread changed the set meanwhile, the diff is
    # taken again, reusing what was built. Nothing was started yet, so discarding is free.
    built: Dict[str, ManagedServer] = {}
    kept = prestart(runtime, services, configs, built)
    while True:
        old = runtime.slots
        for name, config in configs.items():
            current = old.get(name)
            unchanged_here = current is not None and (current.config == config or kept.get(name, (None,))[0] is current)
            if not unchanged_here and (name not in built or built[name].config != config):
                built[name] = ManagedServer(name, config, services)
        with runtime.lock:
            if runtime.closing:
                raise SessionClosedError("the MCP manager is closed")
            if runtime.slots is not old:
                continue
            new: Dict[str, ManagedServer] = {}
            added: List[str] = []
            restarted: List[str] = []
            unchanged: List[str] = []
            failed: List[str] = []
            for name, config in configs.items():
                current = old.get(name)
                if current is not None and kept.get(name, (None,))[0] is current:
                    new[name] = current
                    failed.append(name)
                elif current is not None and current.config == config:
                    new[name] = current
                    unchanged.append(name)
                else:
                    new[name] = built[name]
                    (restarted if current is not None else added).append(name)
            removed = [name for name in old if name not in configs]
            retired = [old[name] for name in (*removed, *restarted)]
            runtime.slots = new
            break
    for slot in built.values():
        if new.get(slot.name) is not slot:
            slot.close()  # built or started for a diff another thread's change made stale
    for slot in retired:
        runtime.availability.forget(slot.name)
        if runtime.router is not None:
            runtime.router.drop_server(slot.name)
    if retired:
        stop_servers(retired, drain, runtime.stop_bound(drain))
    fresh = [new[name] for name in (*added, *restarted)]
    runtime.start([slot for slot in fresh if not lazy or slot.config.required])
    return ReloadResult(tuple(added), tuple(removed), tuple(restarted), tuple(unchanged), tuple(failed))

"""Seamless replacement of a running server: the new one starts beside the old, then takes over.

:func:`replace_server` (``MCPManager.replace_server``) and :func:`prestart` (``reload()`` for a
running server whose configuration changed) build the new server outside the manager's set,
start it, and wait until it is ready, while every call still goes to the old one. Only then is
it swapped in under the runtime's lock, in the old one's place in configuration order: a call
that had picked the old server but not yet sent anything is redirected to the new one (see
``Runtime.acquire_current``), calls in flight on the old one get ``drain`` seconds to finish, and
the old one is stopped. If the new one fails to start it is closed and the old one keeps
serving; the error is raised (``replace_server``) or reported (``reload``). The qualified tool
names stay the same when the tools do: they are derived from the name, which does not change.

Example::

    replace_server(runtime, services, "search", {"url": "https://search.example/mcp"}, drain=5.0)
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Mapping, Tuple, Union

from ._config import ServerConfig, check_fallbacks
from ._exceptions import ConfigError, SessionClosedError, StartupError
from ._managed import ManagedServer, Services
from ._runtime import FANOUT_GRACE, Runtime, stop_servers
from ._status import ServerState

__all__ = ["prestart", "replace_server"]

logger = logging.getLogger("syncmcp.manager")


def replace_server(
    runtime: Runtime, services: Services, name: str, config: Union[ServerConfig, Mapping[str, Any]], *, drain: float
) -> None:
    """Start ``config`` beside the running server ``name``, switch to it when ready, stop the old one.

    Raises:
        UnknownServerError: no such server.
        ConfigError: an invalid configuration (nothing is changed then), or the server was
            removed or replaced by another thread meanwhile.
        StartupError: the new server failed to start; the old one keeps serving.
    """
    old = runtime.slot(name)
    if not isinstance(config, ServerConfig):
        config = ServerConfig.from_dict(config, name=name)
    check_fallbacks({**{other: slot.config for other, slot in runtime.slots.items()}, name: config})
    new = ManagedServer(name, config, services)
    if config.enabled:
        runtime.start([new])
        try:
            ready = new.wait_ready(config.startup_timeout_sec + FANOUT_GRACE)
        except BaseException:  # interrupted (Ctrl-C): the new server must not outlive the call
            new.close()
            raise
        if not ready:
            error = new.unavailable_error()
            new.close()
            raise StartupError({name: error})
    with runtime.lock:
        swapped = not runtime.closing and runtime.slots.get(name) is old
        if swapped:
            runtime.slots = {other: (new if other == name else slot) for other, slot in runtime.slots.items()}
    if not swapped:
        new.close()
        if runtime.closing:
            raise SessionClosedError("the MCP manager is closed")
        raise ConfigError(
            f"MCP server '{name}' was removed or replaced meanwhile; nothing was changed", key=f"mcp_servers.{name}"
        )
    runtime.availability.forget(name)
    logger.info("MCP server '%s' replaced; stopping the old one after its calls in flight (at most %g s)", name, drain)
    stop_servers([old], drain, runtime.stop_bound(drain))


def prestart(
    runtime: Runtime, services: Services, configs: Mapping[str, ServerConfig], built: Dict[str, ManagedServer]
) -> Dict[str, Tuple[ManagedServer, BaseException]]:
    """Start, beside them, the replacements of running servers whose configuration changed.

    Each replacement is put in ``built`` (for ``reload`` to swap in); they start in parallel and
    are waited for. Returns ``{name: (the running server, error)}`` for those that failed to
    start: they are closed, and ``reload`` leaves the running one in place.
    """
    waiting = []
    for name, config in configs.items():
        current = runtime.slots.get(name)
        if current is None or current.state is not ServerState.READY or current.config == config or not config.enabled:
            continue
        fresh = built[name] = ManagedServer(name, config, services)
        waiting.append((current, fresh))
    runtime.start([fresh for _, fresh in waiting])
    failed: Dict[str, Tuple[ManagedServer, BaseException]] = {}
    try:
        ready = [fresh.wait_ready(fresh.config.startup_timeout_sec + FANOUT_GRACE) for _, fresh in waiting]
    except BaseException:  # interrupted (Ctrl-C): no replacement outlives the reload
        for _, fresh in waiting:
            fresh.close()
            built.pop(fresh.name, None)
        raise
    for (current, fresh), started in zip(waiting, ready):
        if not started:
            error = fresh.unavailable_error()
            logger.warning(
                "MCP server '%s': the new configuration failed to start; keeping the running one: %s", fresh.name, error
            )
            fresh.close()
            del built[fresh.name]
            failed[fresh.name] = (current, error)
    return failed

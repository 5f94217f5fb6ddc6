"""One instance of a managed server: a spawned process (or a remote connection) and its session.

:func:`make_transport` and :func:`make_session` build what an :class:`Instance` runs on from the
server's configuration and its manager's :class:`~syncmcp._services.Services`;
:func:`annotate_limit` names the resource limit that ended an instance in a connection error;
:func:`startup_error_text` says why a start-up failed; :func:`start_lifetime` starts the timer
that enforces ``max_lifetime_sec``.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional, Sequence, Tuple

from ._config import ServerConfig
from ._exceptions import ConnectionClosed
from ._remote import http_transport
from ._services import Services
from ._session import ClientSession
from ._startup import startup_error_display
from ._stdio import StdioTransport
from ._transport import Transport

__all__ = ["Instance", "annotate_limit", "make_session", "make_transport", "start_lifetime", "startup_error_text"]

logger = logging.getLogger("syncmcp.manager")


class Instance:
    """One spawned process and its session. ``inflight`` is guarded by the owning server's lock."""

    __slots__ = (
        "inflight", "lifetime_timer", "remembered_era", "retired", "sandbox_version", "session", "started_at",
        "stopped_by", "tools_stale", "transport"
    )  # fmt: skip

    def __init__(self, transport: Transport, remembered_era: bool = False) -> None:
        self.transport = transport
        self.remembered_era = remembered_era  # started with an era learned earlier, not configured
        self.session: Optional[ClientSession] = None
        self.started_at = 0.0
        self.inflight = 0
        self.retired = False  # closed on purpose: losing its connection is not a crash
        self.tools_stale = False
        self.sandbox_version = -1
        self.lifetime_timer: Optional[threading.Timer] = None
        self.stopped_by: Optional[str] = None  # why the manager stopped it (a limit), if it did

    @property
    def live_session(self) -> ClientSession:
        assert self.session is not None
        return self.session

    @property
    def pid(self) -> Optional[int]:
        """The child's pid; ``None`` for a remote server."""
        return self.transport.pid if isinstance(self.transport, StdioTransport) else None

    def diagnostics(self) -> Tuple[str, Sequence[str]]:
        """``(stderr tail, missing env_vars)`` of a child; a remote server's last HTTP failure."""
        transport = self.transport
        if isinstance(transport, StdioTransport):
            return transport.stderr_tail(), transport.missing_env_vars
        return "", ()

    def limit_note(self, error: BaseException) -> Optional[str]:
        """Which resource limit ended this instance, judging by how it ended (``error``), or ``None``."""
        if self.stopped_by is not None:
            return self.stopped_by
        transport = self.transport
        if not isinstance(transport, StdioTransport) or not transport.limits:
            return None
        if isinstance(error, ConnectionClosed):
            return transport.explain_exit(error.returncode, error.stderr_tail or None)
        return transport.explain_exit()

    def explain(self, error: BaseException) -> None:
        """Name the resource limit that ended this instance in ``error``'s message (in place), if one did."""
        note = self.limit_note(error)
        if note is not None:
            annotate_limit(error, note)

    def arm_lifetime(self, seconds: float, server: str, expire: Callable[[Instance], None]) -> threading.Timer:
        """The timer (not started yet) that calls ``expire(self)`` after ``seconds``; under the server's lock."""
        timer = threading.Timer(seconds, expire, args=(self,))
        timer.name = f"syncmcp-lifetime[{server}]"
        timer.daemon = True
        self.lifetime_timer = timer
        return timer

    def cancel_lifetime(self) -> Optional[threading.Timer]:
        """Stop the lifetime timer (under the server's lock); the timer, to join outside it."""
        timer, self.lifetime_timer = self.lifetime_timer, None
        if timer is not None:
            timer.cancel()
        return timer


def annotate_limit(error: BaseException, note: str) -> None:
    """Put ``note`` (which limit ended the server) into a connection error's message, once, in place.

    After the reason and exit code, before the quoted stderr, so ``add_context`` can still prefix it.
    """
    if not isinstance(error, ConnectionClosed) or len(error.args) != 1 or not isinstance(error.args[0], str):
        return
    message = error.args[0]
    if note in message:
        return
    head, sep, tail = message.partition("\n")
    error.args = (f"{head}: {note}{sep}{tail}",)
    error.reason = f"{error.reason}: {note}"


def start_lifetime(timer: threading.Timer, server: str) -> None:
    """Start a lifetime timer (outside the lock); without threads (the interpreter exiting), only warn."""
    try:
        timer.start()
    except RuntimeError:  # no new threads: the interpreter is exiting
        logger.warning("MCP server '%s': cannot keep its max_lifetime_sec (no thread)", server)


def startup_error_text(name: str, config: ServerConfig, instance: Optional[Instance], error: BaseException) -> str:
    """What a failed start-up of server ``name`` says: the error (naming a limit that ended it) and diagnostics."""
    if instance is not None:
        instance.explain(error)
    tail, missing = instance.diagnostics() if instance is not None else ("", ())
    return startup_error_display(name, config, error, stderr_tail=tail, missing_env_vars=missing)


def make_transport(name: str, config: ServerConfig, svc: Services) -> Transport:
    """The transport of a new instance of server ``name``: HTTP for a URL, else a child process."""
    if config.url is not None:
        return http_transport(name, config)
    assert config.command is not None
    return StdioTransport(
        config.command,
        config.args,
        env=dict(config.env),
        env_vars=config.env_vars,
        cwd=config.cwd,
        name=name,
        shutdown_grace=svc.shutdown_grace,
        terminate_grace=svc.terminate_grace,
        memory_limit_mb=config.memory_limit_mb,
        cpu_time_limit_sec=config.cpu_time_limit_sec,
        open_files_limit=config.open_files_limit,
    )


def make_session(
    name: str,
    config: ServerConfig,
    svc: Services,
    instance: Instance,
    era: str,
    list_changed: Callable[[Instance, str], None],
    connection_lost: Callable[[Instance, ConnectionClosed], None],
) -> ClientSession:
    """The session of ``instance`` in ``era``; its list-changed and lost-connection callbacks get the instance."""
    router = svc.router
    sampling = svc.sampling_handler
    return ClientSession(
        instance.transport,
        name=name,
        timeout=config.tool_timeout_sec,
        client_info=svc.client_info,
        roots=svc.roots,
        sampling_handler=(lambda ctx, params: sampling(name, ctx.request_id, params)) if sampling is not None else None,
        elicitation_handler=(
            (lambda ctx, params: router.handle(name, ctx.request_id, params, ctx.cancelled)) if router is not None else None
        ),
        # Every elicitation reaches the user (Codex declined URL ones unasked, openai/codex#45776).
        elicitation_modes=("form", "url"),
        on_list_changed=lambda kind: list_changed(instance, kind),
        on_connection_lost=lambda error: connection_lost(instance, error),
        protocol_era=era,
    )

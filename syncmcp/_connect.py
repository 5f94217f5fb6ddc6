"""One call from nothing to an open session: a child process (:func:`connect`) or a URL (:func:`connect_http`).

Example:
    >>> import sys, syncmcp
    >>> with syncmcp.connect(sys.executable, ["tools/example_server.py"]) as session:
    ...     print(session.call_tool("add", {"a": 2, "b": 3}).text)
    5
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional

from ._session import DEFAULT_STARTUP_TIMEOUT, DEFAULT_TIMEOUT, ClientSession
from ._stdio import StdioTransport
from ._transport import Transport

if TYPE_CHECKING:
    from ._auth import Auth

__all__ = ["connect", "connect_http"]


def connect(
    command: str,
    args: Iterable[str] = (),
    *,
    env: Optional[Mapping[str, str]] = None,
    env_vars: Iterable[str] = (),
    cwd: Optional[str] = None,
    name: Optional[str] = None,
    timeout: Optional[float] = DEFAULT_STARTUP_TIMEOUT,
    request_timeout: Optional[float] = DEFAULT_TIMEOUT,
    **session_options: Any,
) -> ClientSession:
    """Start an MCP server (or reach one at a URL), open a session with it, and return the session.

    A ``command`` that is an ``http://`` or ``https://`` URL (and no ``args``) connects to a remote
    server: the same as :func:`connect_http` with default settings.

    Args:
        command: the server program (looked up on ``PATH``), or a URL.
        args: its arguments.
        env: extra environment variables for the server (on top of the safe allow-list).
        env_vars: names of variables to pass through from this process's environment.
        cwd: the server's working directory.
        name: the server's name in logs and errors (default: the command's base name).
        timeout: seconds for spawning plus era detection and the handshake.
        request_timeout: the session's default timeout for later requests.
        **session_options: passed to :class:`ClientSession` (handlers, callbacks...).

    Raises:
        ServerStartError: the command could not be started.
        RequestTimeout: no handshake within ``timeout``.
        ConnectionClosed: the server exited during start-up (exit code and stderr quoted).

    Example::

        with connect("npx", ["-y", "@modelcontextprotocol/server-everything"]) as session:
            print(session.call_tool("echo", {"message": "hi"}).text)   # Echo: hi
        with connect("https://mcp.example.com/mcp") as session:
            print(session.server_info.name)
    """
    arguments = list(args)
    if command.startswith(("http://", "https://")) and not arguments and env is None and not env_vars and cwd is None:
        return connect_http(command, name=name, timeout=timeout, request_timeout=request_timeout, **session_options)
    transport = StdioTransport(command, arguments, env=env, env_vars=env_vars, cwd=cwd, name=name)
    return _open(transport, timeout, request_timeout, session_options)


def connect_http(
    url: str,
    *,
    headers: Optional[Mapping[str, str]] = None,
    bearer_token: Optional[str] = None,
    auth: Optional[Auth] = None,
    oauth: bool = False,
    mode: str = "auto",
    name: Optional[str] = None,
    timeout: Optional[float] = DEFAULT_STARTUP_TIMEOUT,
    request_timeout: Optional[float] = DEFAULT_TIMEOUT,
    connect_timeout: float = 10.0,
    **session_options: Any,
) -> ClientSession:
    """Open a session with a remote MCP server over Streamable HTTP (or HTTP+SSE).

    Args:
        url: the server's MCP endpoint.
        headers: headers sent with every request.
        bearer_token: sent as ``Authorization: Bearer <token>``.
        auth: any :class:`~syncmcp.Auth` (e.g. an :class:`~syncmcp.OAuth` you configured).
        oauth: log in with OAuth when the server asks: the browser opens (in a notebook, a link
            is shown), and the tokens are stored for next time.
        mode: ``"auto"``, ``"streamable_http"`` or ``"sse"`` (see :class:`~syncmcp.HttpTransport`).
        name: the server's name in logs and errors (default: the host name).
        timeout: seconds for the era detection and the handshake (with ``oauth``, plus the time
            the login may take).
        request_timeout: the session's default timeout for later requests.
        connect_timeout: seconds to establish each connection.
        **session_options: passed to :class:`ClientSession`.

    Raises:
        HTTPError: the server could not be reached or answered with an error.
        AuthenticationRequired: the server needs credentials (and ``oauth`` is off).
        RequestTimeout: no handshake within ``timeout``.

    Example::

        with syncmcp.connect_http("https://mcp.example.com/mcp", bearer_token=os.environ["TOKEN"]) as session:
            print([tool.name for tool in session.list_tools()])
    """
    from ._auth import BearerAuth
    from ._http import DEFAULT_ACK_TIMEOUT, HttpTransport

    given = [option for option, value in (("bearer_token", bearer_token), ("auth", auth), ("oauth", oauth)) if value]
    if len(given) > 1:
        raise ValueError(f"give one of bearer_token, auth and oauth, not {' and '.join(given)}")
    if bearer_token is not None:
        auth = BearerAuth(bearer_token)
    elif oauth:
        from ._login import LoopbackAuthorizer
        from ._oauth import OAuth

        authorizer = LoopbackAuthorizer()
        auth = OAuth(server_url=url, server_name=name, authorizer=authorizer)
        if timeout is not None:
            timeout += authorizer.timeout  # the handshake may wait for the user to log in
    ack = DEFAULT_ACK_TIMEOUT if timeout is None else min(DEFAULT_ACK_TIMEOUT, timeout)  # notifications: within the handshake
    transport = HttpTransport(
        url, name=name, headers=headers, auth=auth, mode=mode, connect_timeout=connect_timeout, ack_timeout=ack
    )
    return _open(transport, timeout, request_timeout, session_options)


def _open(transport: Transport, timeout: Optional[float], request_timeout: Optional[float], options: Any) -> ClientSession:
    session = ClientSession(transport, name=transport.name, timeout=request_timeout, **options)
    try:
        session.initialize(timeout=timeout)
    except BaseException:
        session.close()
        raise
    return session
